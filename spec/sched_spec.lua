-- spec/sched_spec.lua: how lsock.loop's scheduler parks coroutines. A call
-- that would wait parks its coroutine in C and the scheduler makes the call
-- again itself: input that does not complete a receive neither resumes the
-- coroutine nor makes the loop spin; several coroutines waiting on one
-- socket each get what they wait for, once; a parked coroutine holds no
-- more than a coroutine parked in sleep; the loop drops its registrations
-- once nobody waits. Unix socketpairs and 127.0.0.1 only; every wait is
-- bounded by loop.run(LIMIT), a socket timeout or a counted loop.

local lsock = require "lsock"
local loop = require "lsock.loop"
local util = require "helpers.util"

local LOCAL4 = "127.0.0.1"
local WAIT = 5
local LIMIT = 10

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must

after_each(function()
  if loop.count() > 0 then loop.run(WAIT) end
end)

local function pair(kind)
  local a, b = util.socketpair(kind)
  return track(a), track(b)
end

local function run_all()
  local ok, err = loop.run(LIMIT)
  assert.is_true(ok, "loop.run: " .. tostring(err))
  assert.equal(0, loop.count())
end

describe("lsock.loop's scheduler", function()
  it("neither resumes a receive nor spins on input that does not complete it", function()
    local a, b = pair()
    local got, resumed = nil, 0
    loop.spawn(function()
      got = b:receive("l")
      resumed = resumed + 1
    end)
    loop.step(0)          -- the coroutine parks in receive
    must(a:send("par"))
    local t0 = lsock.monotime()
    for _ = 1, 4 do loop.step(0.05) end
    local waited = lsock.monotime() - t0
    assert.equal(0, resumed)
    assert.is_nil(got)
    -- Four steps that found nothing to do each waited their 0.05 s: a
    -- loop reporting the buffered "par" as news would have returned at once.
    assert.is_true(waited >= 0.15, ("4 steps of 0.05 s took %.3f s: the loop spun"):format(waited))
    must(a:send("tial\n"))
    run_all()
    assert.equal("partial", got)
    assert.equal(1, resumed)
  end)

  it("gives each of several coroutines accepting on one listener one connection", function()
    local l = track(must(lsock.tcp()))
    must(l:bind(LOCAL4, 0))
    must(l:listen(16))
    l:settimeout(WAIT)
    local _, port = l:getsockname()
    local accepted = {}
    for i = 1, 3 do
      loop.spawn(function()
        local c = l:accept()
        if c then
          track(c)
          accepted[#accepted + 1] = i
        end
      end)
    end
    loop.step(0)
    for k = 1, 3 do
      local c = track(must(lsock.tcp()))
      c:settimeout(WAIT)
      must(c:connect(LOCAL4, port))
      -- One connection at a time: all three accepters wake, one gets it
      -- and the other two park again without being resumed.
      for _ = 1, 50 do
        if #accepted == k then break end
        loop.step(0.05)
      end
      assert.equal(k, #accepted)
    end
    run_all()
    table.sort(accepted)
    assert.same({ 1, 2, 3 }, accepted)
  end)

  it("wakes a reader and a writer parked on one socket each for its own event", function()
    local a, b = pair()
    must(a:setoption("sndbuf", 4096))
    local big = ("x"):rep(1024 * 1024)
    local sent, line
    loop.spawn(function() sent = a:send(big) end)
    loop.spawn(function() line = a:receive("l") end)
    loop.spawn(function()
      loop.sleep(0.05)
      must(b:send("hello\n"))
      local n = 0
      while n < #big do
        local s = b:receive(math.min(65536, #big - n))
        if not s then break end
        n = n + #s
      end
    end)
    run_all()
    assert.equal(#big, sent)
    assert.equal("hello", line)
  end)

  it("drops its registration once nobody waits on a socket", function()
    local a, b = pair()
    loop.spawn(function()
      for _ = 1, 3 do
        local m = b:receive(1)
        if not m then break end
      end
    end)
    loop.step(0)
    assert.equal(1, loop._watched())
    for _ = 1, 3 do
      must(a:send("z"))
      loop.step(0.05)
    end
    run_all()
    assert.equal(0, loop._watched())
  end)

  it("keeps a coroutine parked in receive as small as a bare suspended coroutine", function()
    -- A suspended coroutine is most of what an idle connection costs; the
    -- loop adds no Lua frame to it (a wrapper yielding in Lua would add
    -- two, and on Lua 5.4 double the coroutine's stack).
    local N = 200
    local socks = {}
    for i = 1, N do socks[i] = { pair() } end
    for _ = 1, 2 * N do loop.spawn(function() end) end -- the loop's tables grow first
    loop.step(0)
    local function settle()
      collectgarbage("collect")
      collectgarbage("collect")
      return collectgarbage("count")
    end
    local keep = {}
    local function bare_coroutines()
      local before = settle()
      for _ = 1, N do
        local co = coroutine.create(function() coroutine.yield() end)
        coroutine.resume(co)
        keep[#keep + 1] = co
      end
      return (settle() - before) * 1024 / N
    end
    bare_coroutines() -- the first count after the loop ran is not settled on every Lua
    local before = settle()
    for i = 1, N do loop.spawn(function(s) s:receive("l") end, socks[i][2]) end
    loop.step(0)
    local receiving = (settle() - before) * 1024 / N
    local bare = bare_coroutines()
    assert.equal(N, loop.count())
    for i = 1, N do socks[i][1]:close() end -- the receivers end with "closed"
    run_all()
    assert.is_true(receiving <= bare * 1.15,
      ("a coroutine parked in receive holds %.0f bytes, a bare one %.0f"):format(receiving, bare))
    assert.equal(2 * N, #keep)
  end)

  it("refuses to be stepped from inside one of its coroutines", function()
    local ok, err
    loop.spawn(function() ok, err = pcall(loop.step, 0) end)
    run_all()
    assert.is_false(ok)
    assert.matches("cannot be stepped from inside", err)
  end)

  it("lets a call wait inside pcall where the Lua version can yield across it", function()
    local a, b = pair()
    local r
    loop.spawn(function() r = { pcall(b.receive, b, "l") } end)
    loop.spawn(function()
      loop.sleep(0.02)
      must(a:send("hi\n"))
    end)
    run_all()
    if _VERSION == "Lua 5.1" and not rawget(_G, "jit") then
      -- PUC Lua 5.1 cannot yield across pcall: the call raises, pcall
      -- catches it, and the line stays for the next receive.
      assert.is_false(r[1])
      assert.matches("yield across", r[2])
      assert.equal("hi", b:receive("l"))
    else
      assert.same({ true, "hi" }, r)
    end
  end)
end)

describe("lsock.loop's scheduler, every way a coroutine waits", function()
  -- With the specs above these reach every path of csrc/sched.c, which
  -- make test runs under valgrind.
  it("parks a recvfrom until a datagram comes, or the socket's limit ends it", function()
    local u = track(must(lsock.udp()))
    must(u:bind(LOCAL4, 0))
    local _, port = u:getsockname()
    local v = track(must(lsock.udp()))
    u:settimeout(0.05)
    local first, second
    loop.spawn(function()
      first = { u:recvfrom() }
      u:settimeout(WAIT)
      second = { u:recvfrom() }
    end)
    loop.spawn(function()
      loop.sleep(0.2)
      must(v:sendto("ping", LOCAL4, port))
    end)
    run_all()
    assert.same({ nil, "timeout" }, first)
    assert.equal("ping", second[1])
  end)

  it("answers nil, 'closed' to a call parked on a socket another coroutine closes", function()
    local u = track(must(lsock.udp()))
    must(u:bind(LOCAL4, 0))
    u:settimeout(WAIT)
    local a, b = pair()
    local got_u, got_b
    loop.spawn(function() got_u = { u:recvfrom() } end)
    loop.spawn(function() got_b = { b:receive("l") } end)
    loop.spawn(function()
      loop.sleep(0.02)
      u:close()
      b:close()
    end)
    run_all()
    assert.same({ nil, "closed" }, got_u)
    assert.same({ nil, "closed" }, got_b)
    assert.is_true(a:getfd() >= 0)
  end)

  it("lets sendmany wait for room and send the rest", function()
    local a, b = pair("dgram")
    must(a:setoption("sndbuf", 4096))
    local list = {}
    for i = 1, 200 do list[i] = ("%04d"):format(i) .. ("x"):rep(200) end
    local sent, got = nil, 0
    loop.spawn(function() sent = a:sendmany(list) end)
    loop.spawn(function()
      while got < #list do
        local batch = b:recvmany(64)
        if not batch then break end
        got = got + #batch
      end
    end)
    run_all()
    assert.equal(200, sent)
    assert.equal(200, got)
  end)

  it("writes an error of one coroutine with its traceback and runs the others", function()
    local written = {}
    -- The loop writes to io.stderr when the error comes: catch it there.
    local stdio = io
    local real = stdio.stderr
    local catcher = {}
    function catcher.write(_, ...)
      for _, v in ipairs({ ... }) do written[#written + 1] = v end
    end
    rawset(stdio, "stderr", catcher)
    local other
    loop.spawn(function() error("boom") end)
    loop.spawn(function() loop.sleep(0.01); other = true end)
    local ok = loop.run(LIMIT)
    rawset(stdio, "stderr", real)
    assert.is_true(ok)
    assert.is_true(other)
    local text = table.concat(written)
    assert.matches("lsock.loop: .*boom", text)
    assert.matches("stack traceback", text)
  end)
end)

describe("lsock.loop and coroutine.yield", function()
  it("runs a coroutine that yields nothing again at the next step, after the others", function()
    local order = {}
    loop.spawn(function()
      for i = 1, 3 do
        order[#order + 1] = "a" .. i
        coroutine.yield()
      end
    end)
    loop.spawn(function()
      for i = 1, 3 do
        order[#order + 1] = "b" .. i
        coroutine.yield()
      end
    end)
    run_all()
    assert.same({ "a1", "b1", "a2", "b2", "a3", "b3" }, order)
  end)
end)
