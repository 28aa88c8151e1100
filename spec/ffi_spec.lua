-- LuaJIT's FFI path (lua/lsock/ffi.lua): on LuaJIT the hot stream
-- methods are Lua functions over csrc/ffi.c unless LSOCK_FFI=0; the whole
-- suite runs both ways in make test. Here: that the switch does what it
-- says, and that the fast and the slow path give the same results on
-- the same byte stream.
local lsock = require "lsock"
local util = require "helpers.util"

local JIT = package.loaded.jit ~= nil
local want_ffi = JIT and os.getenv("LSOCK_FFI") ~= "0"
local it_jit = JIT and it or function(name)
  pending(name .. " (skipped: the FFI path exists on LuaJIT only, this is " .. _VERSION .. ")")
end

describe("the FFI path", function()
  it("reports a reset met by send as the C method does: ECONNRESET once, then EPIPE", function()
    local server, port = util.listen("127.0.0.1")
    local a = assert(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT }))
    local b = util.accept(server)
    server:close()
    b:setoption("linger", 0)
    b:close() -- a reset, not a FIN
    lsock.sleep(0.05)
    assert.same({ nil, "closed", lsock.errno.ECONNRESET, 0 }, { a:send("x") })
    assert.same({ nil, "closed", lsock.errno.EPIPE, 0 }, { a:send("x") })
    a:close()
  end)

  it("reports a refusal met by a datagram's send or recv once, as the C methods do", function()
    local probe = lsock.udp()
    assert(probe:bind("127.0.0.1", 0))
    local _, closed = probe:getsockname()
    probe:close()
    local u = lsock.udp()
    assert(u:connect("127.0.0.1", closed))
    u:settimeout(0.05)
    -- a first read makes the receive block, so the next one may take the
    -- FFI path on LuaJIT
    assert.same({ nil, "timeout" }, { u:recv() })
    u:settimeout(1)
    assert.equal(1, u:send("x"))
    lsock.sleep(0.05) -- the ICMP port unreachable comes back
    local r = { u:recv() }
    assert.same({ nil, "recv: connection refused", lsock.errno.ECONNREFUSED }, r)
    u:settimeout(0.05)
    assert.same({ nil, "timeout" }, { u:recv() }) -- once
    u:close()
  end)

  it("moves datagrams through recv, recvfrom and send with the C methods' results", function()
    local a = lsock.udp()
    assert(a:bind("127.0.0.1", 0))
    local _, pa = a:getsockname()
    local b = lsock.udp()
    assert(b:bind("127.0.0.1", 0))
    local _, pb = b:getsockname()
    assert(b:connect("127.0.0.1", pa))
    a:settimeout(1)
    local got = {}
    for i = 1, 5 do
      assert.equal(i, b:send(("d"):rep(i)))
      got[#got + 1] = { a:recvfrom() }
    end
    assert.equal(0, b:send(""))
    got[#got + 1] = { a:recv() }
    assert.equal(10, b:send("0123456789"))
    got[#got + 1] = { a:recvfrom(3) }
    assert.equal(10, b:send("0123456789"))
    got[#got + 1] = { a:recv(4) }
    assert.same({
      { "d", "127.0.0.1", pb }, { "dd", "127.0.0.1", pb }, { "ddd", "127.0.0.1", pb },
      { "dddd", "127.0.0.1", pb }, { "ddddd", "127.0.0.1", pb }, { "" },
      { "012", "127.0.0.1", pb, true }, { "0123", true },
    }, got)
    a:close()
    b:close()
  end)

  it_jit("is on by default on LuaJIT and off with LSOCK_FFI=0", function()
    assert.equal(want_ffi, lsock.ffi_enabled)
    local a, b = util.socketpair()
    local kind = want_ffi and "Lua" or "C"
    for _, name in ipairs({ "receive", "recv", "send", "recvfrom" }) do
      assert.equal(kind, debug.getinfo(a[name], "S").what, name)
    end
    a:close()
    b:close()
  end)

  it_jit("gives what the C methods give, line by line, count by count and recv by recv", function()
    local a, b = util.socketpair()
    local core_methods = {}
    -- The C methods under the FFI ones: the slow path's results.
    for _, name in ipairs({ "receive", "recv" }) do
      local up = 1
      local fn = b[name]
      while debug.getupvalue(fn, up) do
        local uname, v = debug.getupvalue(fn, up)
        if uname == "c_" .. name then core_methods[name] = v end
        up = up + 1
      end
      core_methods[name] = core_methods[name] or fn
    end
    local stream = "one\r\ntwo\n\nthree\rx\nABCDEFGHIJ" .. ("z"):rep(1000) .. "\n"
    local function script(recv, receive)
      local out = {}
      out[#out + 1] = { receive(b) }
      out[#out + 1] = { receive(b, "L") }
      out[#out + 1] = { receive(b, "*l") }
      out[#out + 1] = { receive(b, "l") }
      out[#out + 1] = { receive(b, 3) }
      out[#out + 1] = { recv(b, 4) }
      out[#out + 1] = { receive(b, "l", nil, 10) } -- too long: the C method says it
      out[#out + 1] = { recv(b) }
      return out
    end
    assert(a:send(stream) == #stream)
    local fast = script(b.recv, b.receive)
    assert(a:send(stream) == #stream)
    local slow = script(core_methods.recv, core_methods.receive)
    assert.same(slow, fast)
    assert.same({ "one" }, fast[1])
    a:close()
    b:close()
  end)
end)
