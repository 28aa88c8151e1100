-- LuaSocket scripts inside lsock.loop: on the face, a call that would
-- wait parks its coroutine (LuaSocket's would block the whole thread), so
-- plain LuaSocket code serves several connections at once. Loopback only;
-- every socket has a timeout and the loop runs with one.
local compat = require "helpers.compat"
local loop = require "lsock.loop"

describe("lsock.compat in lsock.loop", function()
  local socket = compat.load("lsock")

  it("serves several LuaSocket clients at once from coroutines", function()
    local server = assert(socket.bind("127.0.0.1", 0))
    server:settimeout(5)
    local _, port = server:getsockname()
    local N, served, got = 5, 0, {}
    loop.spawn(function()
      for _ = 1, N do
        local c = assert(server:accept())
        c:settimeout(5)
        loop.spawn(function()
          -- each connection waits for its line while the others go on
          local line = assert(c:receive("*l"))
          assert(c:send(line:upper() .. "\n"))
          c:close()
          served = served + 1
        end)
      end
      server:close()
    end)
    for i = 1, N do
      loop.spawn(function()
        local c = assert(socket.connect("127.0.0.1", port))
        c:settimeout(5)
        -- the last client sends first: nobody may be served in order
        loop.sleep((N - i) * 0.02)
        assert(c:send("client " .. i .. "\n"))
        got[i] = c:receive("*l")
        c:close()
      end)
    end
    assert.is_true(loop.run(10))
    assert.equal(N, served)
    for i = 1, N do assert.equal("CLIENT " .. i, got[i]) end
  end)

  it("times out a parked receive with LuaSocket's result", function()
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    local r
    loop.spawn(function()
      local c = assert(socket.connect("127.0.0.1", port))
      c:settimeout(0.1)
      r = { c:receive("*l") }
      c:close()
    end)
    assert.is_true(loop.run(5))
    assert.same({ nil, "timeout", "" }, r)
    server:close()
  end)
end)
