-- Kernel waits: a stream socket lsock made itself, called outside the loop
-- with a block timeout (or none), waits for its peer inside recv/send on a
-- blocking descriptor (SO_RCVTIMEO/SO_SNDTIMEO hold the timeout) instead
-- of poll and a second call. These specs check what users see of it: the
-- same results and timeouts as before, calls that must not wait never
-- wait, and a descriptor that leaves lsock's hands is non-blocking and
-- stays so. core._kwait(obj) says the state ("never", "idle", "on") and
-- whether the descriptor is blocking. Loopback and socketpairs only;
-- every wait is bounded.
local lsock = require "lsock"
local core = require "lsock.core"
local loop = require "lsock.loop"
local util = require "helpers.util"

local STOP_CHILD = "spec/helpers/kwait_stop.lua"

local function state(s)
  local st, blocking = core._kwait(s)
  return st .. (blocking and " blocking" or " non-blocking")
end

-- A receive that has to wait and runs out: the socket is left "on".
local function put_on(s)
  s:settimeout(0.05)
  local data, err = s:receive(1)
  assert.is_nil(data)
  assert.equal("timeout", err)
  assert.equal("on blocking", state(s))
end

local kinds = {
  tcp = function() return util.pair() end,
  unix = function() return util.socketpair("stream") end,
}

for kind, make_pair in pairs(kinds) do
  describe("kernel waits over " .. kind, function()
    it("start idle on a new socket and turn on when a receive waits", function()
      local a, b = make_pair()
      assert.equal("idle non-blocking", state(a))
      assert.equal("idle non-blocking", state(b))
      a:send("x")
      assert.equal("x", b:receive(1)) -- there at once: no wait
      assert.equal("idle non-blocking", state(b))
      put_on(b)
      a:close()
      b:close()
    end)

    it("time out after the block timeout, keep the partial result and resume", function()
      local a, b = make_pair()
      assert(a:send("abc"))
      b:settimeout(0.2)
      local t0 = lsock.monotime()
      local data, err, partial = b:receive(5)
      local took = lsock.monotime() - t0
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.equal("abc", partial)
      assert.equal("on blocking", state(b))
      assert.is_true(took >= 0.15 and took < 2, "the wait took " .. took .. " s")
      assert(a:send("de!"))
      assert.equal("abcde", b:receive(5, partial))
      assert.equal("!", b:receive(1))
      a:close()
      b:close()
    end)

    it("answer at once on a blocking descriptor when the timeout is 0", function()
      local a, b = make_pair()
      put_on(b)
      b:settimeout(0)
      local t0 = lsock.monotime()
      for _ = 1, 100 do
        local data, err = b:receive(1)
        assert.is_nil(data)
        assert.equal("timeout", err)
        assert.same({ nil, "timeout" }, { b:recv(10) })
      end
      assert.is_true(lsock.monotime() - t0 < 1, "a call with timeout 0 waited")
      a:send("y")
      assert.equal("y", b:receive(1))
      a:close()
      b:close()
    end)

    it("wait in the kernel under a total timeout too, and time out on time", function()
      local a, b = make_pair()
      b:settimeout(nil) -- no block timeout: the total one alone
      b:settimeout(0.2, "t")
      local t0 = lsock.monotime()
      assert.same({ nil, "timeout", "" }, { b:receive(1) })
      local took = lsock.monotime() - t0
      assert.equal("on blocking", state(b))
      assert.is_true(took >= 0.15 and took < 2, "the wait took " .. took .. " s")
      a:close()
      b:close()
    end)

    it("wait with poll, not in the kernel, when both timeouts are set", function()
      local a, b = make_pair()
      b:settimeout(0.1, "b")
      b:settimeout(0.5, "t")
      assert.same({ nil, "timeout", "" }, { b:receive(1) })
      assert.equal("idle non-blocking", state(b))
      a:close()
      b:close()
    end)

    it("see the end of the stream while waiting", function()
      local a, b = make_pair()
      put_on(b)
      assert(a:send("last"))
      a:close()
      b:settimeout(2)
      assert.equal("last", b:receive("a"))
      assert.same({ nil, "closed", "" }, { b:receive(1) })
      b:close()
    end)

    it("send until the peer's buffer is full, then time out with the index; nothing is lost", function()
      local a, b = make_pair()
      local big = util.pattern(8 * 1024 * 1024)
      a:settimeout(0.2)
      b:settimeout(0.01)
      local got, rounds = {}, 0
      local n, err, _, last = a:send(big)
      assert.is_nil(n)
      assert.equal("timeout", err)
      assert.is_true(last > 0 and last < #big, "sent " .. tostring(last))
      assert.equal("on blocking", state(a))
      a:settimeout(0.02)
      local i = last
      -- read what came, send on from where it stopped, to the end
      while rounds < 10000 do
        rounds = rounds + 1
        repeat
          local d = b:recv(1024 * 1024)
          got[#got + 1] = d
        until not d
        if i == #big then break end
        n, err, _, last = a:send(big, i + 1)
        assert(n or err == "timeout", tostring(err))
        i = n or last
      end
      assert.equal(#big, i)
      -- the rest may still be on its way (the window opens as b reads)
      local have = #table.concat(got)
      b:settimeout(5)
      if have < #big then got[#got + 1] = assert(b:receive(#big - have)) end
      local data = table.concat(got)
      assert.equal(#big, #data)
      assert.is_true(data == big, "the bytes received differ from the bytes sent")
      b:settimeout(0.05)
      assert.same({ nil, "timeout" }, { b:recv(1) }) -- and nothing more
      a:close()
      b:close()
    end)

    it("never block the loop, even on a descriptor left blocking", function()
      local a, b = make_pair()
      put_on(b)
      b:settimeout(5)
      local got, sent
      loop.spawn(function() got = { b:receive("l") } end)
      loop.spawn(function()
        loop.sleep(0.05)
        sent = a:send("hello\n")
      end)
      local t0 = lsock.monotime()
      assert.is_true(loop.run(10))
      assert.is_true(lsock.monotime() - t0 < 2, "the loop was blocked")
      assert.equal(6, sent)
      assert.same({ "hello" }, got)
      a:close()
      b:close()
    end)

    it("hand the descriptor out non-blocking with getfd, and stop for good", function()
      local a, b = make_pair()
      put_on(b)
      assert.is_number(b:getfd())
      assert.equal("never non-blocking", state(b))
      b:settimeout(0.05)
      assert.same({ nil, "timeout", "" }, { b:receive(1) })
      assert.equal("never non-blocking", state(b))
      a:send("z")
      b:settimeout(1)
      assert.equal("z", b:receive(1))
      a:close()
      b:close()
    end)

    it("hand the descriptor out non-blocking with detach; adopted again, it never waits in the kernel", function()
      local a, b = make_pair()
      put_on(b)
      local fd = b:detach()
      local c = assert(core.fromfd(fd))
      assert.equal("never non-blocking", state(c))
      c:settimeout(0.05)
      assert.same({ nil, "timeout", "" }, { c:receive(1) })
      assert.equal("never non-blocking", state(c))
      a:close()
      c:close()
    end)

    it("sendfile after a kernel wait, in the loop", function()
      local a, b = make_pair()
      put_on(a)
      local path = os.tmpname()
      local data = util.pattern(3 * 1024 * 1024)
      local f = assert(io.open(path, "wb"))
      f:write(data)
      f:close()
      a:settimeout(5)
      b:settimeout(5)
      local sent, got
      loop.spawn(function() sent = a:sendfile(path) end)
      loop.spawn(function() got = b:receive(#data) end)
      assert.is_true(loop.run(20))
      os.remove(path)
      assert.equal(#data, sent)
      assert.is_true(got == data, "the bytes received differ from the file's")
      a:close()
      b:close()
    end)
  end)
end

describe("kernel waits", function()
  it("get data a peer process sends later, inside the wait", function()
    local server, port = util.listen()
    local child = util.spawn("later", "127.0.0.1", port, 0.3, util.tohex("hello\nworld"))
    local conn = util.accept(server)
    server:close()
    conn:settimeout(5)
    local t0 = lsock.monotime()
    assert.equal("hello", conn:receive("l"))
    assert.equal("on blocking", state(conn))
    assert.is_true(lsock.monotime() - t0 < 4)
    assert.same({ nil, "closed", "world" }, { conn:receive("l") })
    conn:close()
    assert.equal("sent 11", child.wait())
  end)

  it("end a call at its total timeout while bytes keep trickling in", function()
    local server, port = util.listen()
    local child = util.spawn("trickle", "127.0.0.1", port, 0.1, util.tohex(("x"):rep(30)))
    local conn = util.accept(server)
    server:close()
    conn:settimeout(nil)
    conn:settimeout(0.55, "t")
    local t0 = lsock.monotime()
    local data, err, partial = conn:receive(30)
    local took = lsock.monotime() - t0
    assert.is_nil(data)
    assert.equal("timeout", err)
    assert.is_true(#partial >= 2 and #partial < 30, #partial .. " bytes came")
    assert.is_true(took >= 0.5 and took < 2, "the call took " .. took .. " s")
    assert.equal("on blocking", state(conn))
    conn:close()
    local said = child.wait() -- it stops at its first send after our close
    assert.is_truthy(said:match("^stopped at %d+") or said:match("^trickled 30$"), said)
  end)

  it("give each wait the block timeout: a slow trickle is read whole", function()
    local server, port = util.listen()
    local child = util.spawn("trickle", "127.0.0.1", port, 0.05, util.tohex("abcdefghij"))
    local conn = util.accept(server)
    server:close()
    conn:settimeout(0.5)
    assert.equal("abcdefghij", conn:receive(10))
    assert.equal("on blocking", state(conn))
    assert.same({ nil, "closed", "" }, { conn:receive(1) })
    conn:close()
    assert.equal("trickled 10", child.wait())
  end)

  -- A stop and a continue interrupt a wait that has a timeout with EINTR
  -- (Linux); the kernel's timeout would start again with the next call.
  for _, what in ipairs({ "receive", "send" }) do
    it("keep a total timeout when a signal interrupts a " .. what .. " waiting in the kernel", function()
      local f = assert(io.popen(util.lua_command(STOP_CHILD, what) .. " 2>&1", "r"))
      local pid = f:read("*l")
      assert.equal("waiting", f:read("*l"), "the child did not start: " .. tostring(pid))
      assert.is_truthy(pid:match("^%d+$"), pid)
      lsock.sleep(0.15)
      os.execute("kill -STOP " .. pid .. "; sleep 0.2; kill -CONT " .. pid)
      local said = f:read("*a")
      f:close()
      local took, err = said:match("^(%S+) (%S+)")
      assert.equal("timeout", err, said)
      -- 0.6 s in all; a timeout that started again after the signal: 0.95 s
      assert.is_true(tonumber(took) >= 0.55 and tonumber(took) < 0.85, "the call took " .. took .. " s")
    end)
  end

  it("get a reset while waiting", function()
    local server, port = util.listen()
    local child = util.spawn("reset", "127.0.0.1", port, 0.3, util.tohex("ab"))
    local conn = util.accept(server)
    server:close()
    conn:settimeout(5)
    assert.equal("ab", conn:receive(2))
    local data, err = conn:receive(1)
    assert.is_nil(data)
    assert.equal("closed", err)
    conn:close()
    assert.equal("reset", child.wait())
  end)

  it("stop when a socket is passed in a message", function()
    local a, b = util.socketpair("stream")
    local x, y = util.socketpair("stream")
    put_on(x)
    assert.equal(1, a:sendmsg("m", { fds = { x } }))
    assert.equal("never non-blocking", state(x))
    local data, fds = b:recvmsg()
    assert.equal("m", data)
    for _, fd in ipairs(fds or {}) do assert(core.fromfd(fd)):close() end
    a:close()
    b:close()
    x:close()
    y:close()
  end)

  it("stop when a TLS stream takes the socket", function()
    local tls = require "lsock.tls"
    local a, b = util.socketpair("stream")
    put_on(a)
    local ctx = assert(tls.context({ mode = "client", verify = false }))
    local t = assert(tls.wrap(a, ctx))
    assert.equal("never non-blocking", state(a))
    assert.equal("never non-blocking", state(t))
    t:close()
    b:close()
  end)

  it("are not used for datagram sockets", function()
    local a, b = util.socketpair("dgram")
    b:settimeout(0.05)
    assert.same({ nil, "timeout" }, { b:recv() })
    assert.equal("idle non-blocking", state(b))
    a:close()
    b:close()
  end)
end)
