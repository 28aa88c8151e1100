-- spec/poller_spec.lua: lsock.poller. Backends and their names, add, modify
-- and remove, what wait reports (r, w, rw, values, integer descriptors,
-- hang-ups, timeouts), buffered input (dirty), removing and closing while
-- iterating, descriptor reuse, a thousand registrations, the poller's own
-- descriptor, tostring, close and use after close. Every scenario runs
-- against each backend this system has ("epoll" and "poll" on Linux), so
-- both must give the same results. Real unix socketpairs and sockets on
-- 127.0.0.1 only; every wait has a timeout of at most 5 s (the ones that
-- wait forever run in a child process under `timeout`), every loop is
-- counted.

local lsock = require "lsock"
local util = require "helpers.util"

local WAIT = 5 -- seconds: the longest any wait here may take
local MAX_EVENTS = 10000 -- no wait loop here may run more often than this

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must
local assert_raises, assert_integer = checks.assert_raises, checks.assert_integer

local IS_LINUX = util.output("uname -s") == "Linux"
local it_linux = checks.it_if(IS_LINUX, "not Linux")

-- The open-file limit of this process (the shell's, which it inherits).
local function fd_limit()
  local text = util.output("ulimit -n")
  if text == "unlimited" then return math.huge end
  return tonumber(text) or 0
end
local it_many = checks.it_if(fd_limit() >= 2100, "needs 2,100 descriptors, the limit is " .. fd_limit())

local BACKENDS = { "epoll", "poll" }
if not IS_LINUX then BACKENDS = { "poll" } end

-- Two connected unix stream sockets, both with the spec timeout, both closed
-- after the spec.
local function pair()
  local a, b = util.socketpair()
  return track(a), track(b)
end

-- A pair whose first end has a byte to read.
local function readable_pair()
  local a, b = pair()
  must(b:send("x"))
  return a, b
end

-- Every event one wait(timeout) delivers, as an array of { obj, ev, val }
-- (val may be nil), and the seconds the whole loop took.
local function collect(p, timeout)
  local got, n = {}, 0
  local t0 = lsock.monotime()
  for obj, ev, val in p:wait(timeout) do
    n = n + 1
    got[n] = { obj = obj, ev = ev, val = val }
    if n > MAX_EVENTS then error("wait delivered more than " .. MAX_EVENTS .. " events") end
  end
  return got, lsock.monotime() - t0
end

-- Describe what collect() returned, for failure messages.
local function show(got)
  local words = {}
  for i, e in ipairs(got) do
    words[i] = ("%s %s %s"):format(tostring(e.obj), tostring(e.ev), tostring(e.val))
  end
  return "{" .. table.concat(words, "; ") .. "}"
end

-- The wait must deliver exactly one event: obj with the events ev. Returns
-- the event.
local function assert_one(got, obj, ev)
  assert.equal(1, #got, "events: " .. show(got))
  assert.equal(obj, got[1].obj)
  assert.equal(ev, got[1].ev)
  return got[1]
end

local function assert_none(got)
  assert.equal(0, #got, "events: " .. show(got))
end

-- Run the child script spec/helpers/poll_forever.lua with mode and its
-- arguments, killed after 20 s; returns what it printed.
local function run_forever(...)
  return util.spawn_script_within(20, util.HELPERS .. "poll_forever.lua", ...).wait()
end

describe("lsock.poller", function()
  it("is a function", function()
    assert.is_function(lsock.poller)
  end)

  it_linux("uses epoll by default on Linux", function()
    local p = track(must(lsock.poller()))
    assert.equal("epoll", p:backend())
  end)

  it("makes a poll backend with lsock.poller('poll')", function()
    local p = track(must(lsock.poller("poll")))
    assert.equal("poll", p:backend())
  end)

  it_linux("makes an epoll backend with lsock.poller('epoll')", function()
    local p = track(must(lsock.poller("epoll")))
    assert.equal("epoll", p:backend())
  end)

  it("raises naming the argument when the backend is unknown", function()
    assert_raises({ "backend", "#1" }, function() lsock.poller("bogus") end)
  end)

  it("raises naming the argument when the backend is not a string", function()
    assert_raises({ "backend", "#1" }, function() lsock.poller({}) end)
  end)

  it_linux("answers nil and a message for kqueue, which Linux has not", function()
    local p, err = lsock.poller("kqueue")
    assert.is_nil(p)
    assert.equal("poller: backend 'kqueue' is not available here", err)
  end)

  it("has __name 'lsock.poller'", function()
    local p = track(must(lsock.poller("poll")))
    assert.equal("lsock.poller", debug.getmetatable(p).__name)
  end)
end)

for _, backend in ipairs(BACKENDS) do
  local function poller()
    local p, err = lsock.poller(backend)
    if not p then error("setup failed: poller " .. backend .. ": " .. tostring(err), 2) end
    return track(p)
  end

  describe("poller (" .. backend .. ") registration", function()
    it("add, modify and remove return true", function()
      local p = poller()
      local a = pair()
      assert.is_true(p:add(a, "r"))
      assert.is_true(p:modify(a, "w"))
      assert.is_true(p:modify(a, "rw"))
      assert.is_true(p:remove(a))
    end)

    it("counts what is registered", function()
      local p = poller()
      local a, b = pair()
      assert.equal(0, p:count())
      p:add(a, "r")
      assert.equal(1, p:count())
      p:add(b, "w")
      assert.equal(2, p:count())
      p:modify(a, "rw")
      assert.equal(2, p:count())
      p:remove(a)
      assert.equal(1, p:count())
      p:remove(b)
      assert.equal(0, p:count())
    end)

    it("counts with an integer", function()
      assert_integer(poller():count(), "count")
    end)

    it("takes every events string: r, w and rw", function()
      local p = poller()
      for _, ev in ipairs({ "r", "w", "rw" }) do
        local a = pair()
        assert.is_true(p:add(a, ev))
        for _, ev2 in ipairs({ "r", "w", "rw" }) do
          assert.is_true(p:modify(a, ev2))
        end
      end
    end)

    for _, bad in ipairs({ "", "x", "rr", "rwx", "wr", "R", "read" }) do
      it(("raises naming the argument when add gets events %q"):format(bad), function()
        local p = poller()
        local a = pair()
        assert_raises({ "events", "#2" }, function() p:add(a, bad) end)
        assert.equal(0, p:count())
      end)

      it(("raises naming the argument when modify gets events %q"):format(bad), function()
        local p = poller()
        local a = pair()
        p:add(a, "r")
        assert_raises({ "events", "#2" }, function() p:modify(a, bad) end)
      end)
    end

    it("raises naming the argument when add gets no events", function()
      local p = poller()
      local a = pair()
      assert_raises({ "events", "#2" }, function() p:add(a) end)
    end)

    it("raises naming the argument when add gets events that are not a string", function()
      local p = poller()
      local a = pair()
      assert_raises({ "events", "#2" }, function() p:add(a, {}) end)
    end)

    it("raises naming the argument when add gets neither a socket nor a descriptor", function()
      local p = poller()
      assert_raises({ "#1" }, function() p:add({}, "r") end)
      assert_raises({ "#1" }, function() p:add("socket", "r") end)
      assert_raises({ "#1" }, function() p:add(nil, "r") end)
    end)

    it("raises naming the argument when add gets a negative descriptor", function()
      local p = poller()
      assert_raises({ "#1" }, function() p:add(-1, "r") end)
    end)

    it("raises when the same socket is added twice", function()
      local p = poller()
      local a = pair()
      p:add(a, "r")
      assert_raises({ "already registered" }, function() p:add(a, "w") end)
      assert.equal(1, p:count())
    end)

    it("raises when the same descriptor is added twice", function()
      local p = poller()
      local a = pair()
      p:add(a:getfd(), "r")
      assert_raises({ "already registered" }, function() p:add(a:getfd(), "r") end)
      assert.equal(1, p:count())
    end)

    it("lets one socket be in two pollers", function()
      local p, q = poller(), poller()
      local a = readable_pair()
      assert.is_true(p:add(a, "r", "p"))
      assert.is_true(q:add(a, "r", "q"))
      assert.equal("p", assert_one(collect(p, 0), a, "r").val)
      assert.equal("q", assert_one(collect(q, 0), a, "r").val)
    end)

    it("raises when modify gets a socket that is not registered", function()
      local p = poller()
      local a = pair()
      assert_raises({ "registered" }, function() p:modify(a, "r") end)
    end)

    it("raises when remove gets a socket that is not registered", function()
      local p = poller()
      local a = pair()
      assert_raises({ "registered" }, function() p:remove(a) end)
    end)

    it("raises when remove gets a socket a second time", function()
      local p = poller()
      local a = pair()
      p:add(a, "r")
      p:remove(a)
      assert_raises({ "registered" }, function() p:remove(a) end)
    end)

    it("raises when modify or remove gets a descriptor that is not registered", function()
      local p = poller()
      local a = pair()
      assert_raises({ "registered" }, function() p:modify(a:getfd(), "r") end)
      assert_raises({ "registered" }, function() p:remove(a:getfd()) end)
    end)

    it("raises when modify gets a socket registered in another poller only", function()
      local p, q = poller(), poller()
      local a = pair()
      q:add(a, "r")
      assert_raises({ "registered" }, function() p:modify(a, "w") end)
    end)

    it("answers nil, 'closed' when add gets a closed socket", function()
      local p = poller()
      local a = pair()
      a:close()
      local ok, err = p:add(a, "r")
      assert.is_nil(ok)
      assert.equal("closed", err)
      assert.equal(0, p:count())
    end)

    it("answers nil, a message and EBADF when add gets a descriptor that is not open", function()
      local p = poller()
      collectgarbage()
      collectgarbage()
      local a, b = lsock.socketpair()
      local fd = a:getfd()
      a:close()
      b:close()
      local ok, err, errno = p:add(fd, "r")
      assert.is_nil(ok)
      assert.equal("poller add: bad file descriptor", err)
      assert.equal(lsock.errno.EBADF, errno)
      assert.equal(0, p:count())
    end)
  end)

  describe("poller (" .. backend .. ") wait", function()
    it("reports nothing for a socket without input registered for r", function()
      local p = poller()
      local a = pair()
      p:add(a, "r")
      assert_none(collect(p, 0))
    end)

    it("reports r when data arrives", function()
      local p = poller()
      local a, b = pair()
      p:add(a, "r")
      assert_none(collect(p, 0))
      must(b:send("hello"))
      local got, took = collect(p, WAIT)
      assert_one(got, a, "r")
      assert.is_true(took < 2, "took " .. took .. " s")
      assert.equal("hello", a:receive(5))
    end)

    it("reports r when data arrives on a TCP connection on 127.0.0.1", function()
      local p = poller()
      local client, conn = util.pair()
      track(client)
      track(conn)
      p:add(conn, "r")
      assert_none(collect(p, 0))
      must(client:send("ping\n"))
      assert_one(collect(p, WAIT), conn, "r")
      assert.equal("ping", conn:receive())
      assert_none(collect(p, 0))
    end)

    it("reports r again on the next wait while the data is unread", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "r")
      assert_one(collect(p, 0), a, "r")
      assert_one(collect(p, 0), a, "r")
    end)

    it("stops reporting r once the data is read", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "r")
      assert_one(collect(p, 0), a, "r")
      assert.equal("x", a:receive(1))
      assert_none(collect(p, 0))
    end)

    it("reports w on a writable socket", function()
      local p = poller()
      local a = pair()
      p:add(a, "w")
      assert_one(collect(p, 0), a, "w")
    end)

    it("reports w only, not rw, for a socket with input registered for w", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "w")
      assert_one(collect(p, 0), a, "w")
    end)

    it("reports r only, not rw, for a writable socket registered for r", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "r")
      assert_one(collect(p, 0), a, "r")
    end)

    it("reports rw on a socket with input that is writable", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "rw")
      assert_one(collect(p, 0), a, "rw")
    end)

    it("reports w for a socket registered for rw without input", function()
      local p = poller()
      local a = pair()
      p:add(a, "rw")
      assert_one(collect(p, 0), a, "w")
    end)

    it("follows modify", function()
      local p = poller()
      local a = pair()
      p:add(a, "r")
      assert_none(collect(p, 0))
      p:modify(a, "w")
      assert_one(collect(p, 0), a, "w")
      p:modify(a, "r")
      assert_none(collect(p, 0))
    end)

    it("reports nothing for a removed socket", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "rw")
      p:remove(a)
      assert_none(collect(p, 0))
      assert.equal(0, p:count())
    end)

    it("reports a removed socket again once it is added again", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "r", 1)
      p:remove(a)
      assert.is_true(p:add(a, "r", 2))
      assert.equal(2, assert_one(collect(p, 0), a, "r").val)
    end)

    it("reports every ready socket once per wait, with its events", function()
      local p = poller()
      local a1 = readable_pair()
      local a2 = pair()
      local a3 = pair()
      p:add(a1, "r", "one")
      p:add(a2, "w", "two")
      p:add(a3, "r", "three")
      local got = collect(p, 0)
      assert.equal(2, #got, "events: " .. show(got))
      local seen = {}
      for _, e in ipairs(got) do
        assert.is_nil(seen[e.obj], "reported twice")
        seen[e.obj] = e
      end
      assert.equal("r", seen[a1].ev)
      assert.equal("one", seen[a1].val)
      assert.equal("w", seen[a2].ev)
      assert.equal("two", seen[a2].val)
      assert.is_nil(seen[a3])
    end)

    it("hands back the value given to add: a table", function()
      local p = poller()
      local a = readable_pair()
      local value = {}
      p:add(a, "r", value)
      assert.equal(value, assert_one(collect(p, 0), a, "r").val)
    end)

    it("hands back the value given to add: a string, a number, false", function()
      local p = poller()
      local a1, a2, a3 = readable_pair(), readable_pair(), readable_pair()
      p:add(a1, "r", "text")
      p:add(a2, "r", 42)
      p:add(a3, "r", false)
      local seen = {}
      for _, e in ipairs(collect(p, 0)) do seen[e.obj] = e end
      assert.equal("text", seen[a1].val)
      assert.equal(42, seen[a2].val)
      assert.is_false(seen[a3].val)
    end)

    it("hands back nil when add got no value", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "r")
      assert.is_nil(assert_one(collect(p, 0), a, "r").val)
    end)

    it("hands back nil when add got nil", function()
      local p = poller()
      local a = readable_pair()
      p:add(a, "r", nil)
      assert.is_nil(assert_one(collect(p, 0), a, "r").val)
    end)

    it("keeps the value across modify", function()
      local p = poller()
      local a = readable_pair()
      local value = {}
      p:add(a, "r", value)
      p:modify(a, "w")
      assert.equal(value, assert_one(collect(p, 0), a, "w").val)
    end)

    it("reports an integer descriptor as that integer", function()
      local p = poller()
      local a = readable_pair()
      local fd = a:getfd()
      assert.is_true(p:add(fd, "r", "v"))
      local e = assert_one(collect(p, 0), fd, "r")
      assert.is_number(e.obj)
      assert.equal("v", e.val)
    end)

    it("reports an integer descriptor as an integer", function()
      local p = poller()
      local a = pair()
      p:add(a:getfd(), "w")
      assert_integer(assert_one(collect(p, 0), a:getfd(), "w").obj, "descriptor")
    end)

    it("modifies and removes an integer descriptor", function()
      local p = poller()
      local a = pair()
      local fd = a:getfd()
      p:add(fd, "r")
      assert_none(collect(p, 0))
      assert.is_true(p:modify(fd, "w"))
      assert_one(collect(p, 0), fd, "w")
      assert.is_true(p:remove(fd))
      assert_none(collect(p, 0))
      assert.equal(0, p:count())
    end)

    it("reports a hang-up as readable for a socket registered for r", function()
      local p = poller()
      local a, b = pair()
      p:add(a, "r")
      b:close()
      assert_one(collect(p, WAIT), a, "r")
      local data, err = a:receive(1)
      assert.is_nil(data)
      assert.equal("closed", err)
    end)

    it("reports a hang-up as ready for w, only, for a socket registered for w", function()
      local p = poller()
      local a, b = pair()
      p:add(a, "w")
      b:close()
      assert_one(collect(p, WAIT), a, "w")
    end)

    it("reports a closed TCP peer as readable", function()
      local p = poller()
      local client, conn = util.pair()
      track(client)
      track(conn)
      p:add(conn, "r")
      client:close()
      assert_one(collect(p, WAIT), conn, "r")
    end)

    it("runs the loop body zero times when nothing happens within the timeout", function()
      local p = poller()
      local a = pair()
      p:add(a, "r")
      local got, took = collect(p, 0.05)
      assert_none(got)
      assert.is_true(took >= 0.04, "took " .. took .. " s")
      assert.is_true(took < 2, "took " .. took .. " s")
    end)

    it("waits the timeout with nothing registered", function()
      local p = poller()
      local got, took = collect(p, 0.05)
      assert_none(got)
      assert.is_true(took >= 0.04, "took " .. took .. " s")
      assert.is_true(took < 2, "took " .. took .. " s")
    end)

    it("returns at once from wait(0) with nothing ready", function()
      local p = poller()
      local a = pair()
      p:add(a, "r")
      local got, took = collect(p, 0)
      assert_none(got)
      assert.is_true(took < 1, "took " .. took .. " s")
    end)

    it("wakes up when data arrives during a wait", function()
      local p = poller()
      local server, port = util.listen()
      track(server)
      local child = util.spawn("later", "127.0.0.1", port, 0.2, util.tohex("late\n"))
      local conn = track(util.accept(server))
      p:add(conn, "r")
      local got, took = collect(p, WAIT)
      assert_one(got, conn, "r")
      assert.is_true(took < WAIT - 1, "took " .. took .. " s")
      assert.equal("late", conn:receive())
      assert.equal("sent 5", child.wait())
    end)

    it("raises naming the argument when the timeout is not a number", function()
      local p = poller()
      assert_raises({ "timeout", "#1" }, function() p:wait("soon") end)
    end)

    it("waits forever with nil or a negative timeout, until an event comes", function()
      assert.equal("nil: s w\n-1: s w", run_forever("poller-ready", backend))
    end)

    it("lets a loop stop early and the next wait report the rest", function()
      local p = poller()
      local a1, a2 = readable_pair(), readable_pair()
      p:add(a1, "r")
      p:add(a2, "r")
      local first, n = nil, 0
      for obj in p:wait(0) do
        n = n + 1
        first = first or obj
        if n >= 1 then break end
      end
      assert.is_truthy(first == a1 or first == a2)
      assert.equal(2, #collect(p, 0))
    end)
  end)

  describe("poller (" .. backend .. ") and buffered input", function()
    -- a holds "b\n" in its buffer after reading "a"; the kernel queue is empty.
    local function dirty_pair()
      local a, b = pair()
      must(b:send("a\nb\n"))
      assert.equal("a", a:receive())
      assert.is_true(a:dirty(), "setup: the socket is dirty")
      return a, b
    end

    it("reports a dirty socket registered for r readable with wait(0)", function()
      local p = poller()
      local a = dirty_pair()
      p:add(a, "r", "buffered")
      assert.equal("buffered", assert_one(collect(p, 0), a, "r").val)
    end)

    it("reports a dirty socket registered for r readable with wait(5) at once", function()
      local p = poller()
      local a = dirty_pair()
      p:add(a, "r")
      local got, took = collect(p, WAIT)
      assert_one(got, a, "r")
      assert.is_true(took < 2, "took " .. took .. " s")
    end)

    it("reports a dirty socket registered for rw as rw", function()
      local p = poller()
      local a = dirty_pair()
      p:add(a, "rw")
      assert_one(collect(p, 0), a, "rw")
    end)

    it("reports a dirty socket once per wait, also when the kernel has input too", function()
      local p = poller()
      local a, b = dirty_pair()
      must(b:send("c\n"))
      p:add(a, "r")
      assert_one(collect(p, WAIT), a, "r")
    end)

    it("reports a dirty socket registered by modify", function()
      local p = poller()
      local a = dirty_pair()
      p:add(a, "w")
      p:modify(a, "r")
      assert_one(collect(p, 0), a, "r")
    end)

    it("reports a dirty socket among others that are not ready", function()
      local p = poller()
      local quiet1, quiet2 = pair(), pair()
      local a = dirty_pair()
      p:add(quiet1, "r")
      p:add(a, "r")
      p:add(quiet2, "r")
      assert_one(collect(p, WAIT), a, "r")
    end)

    it("does not report a dirty socket registered for w as readable", function()
      local p = poller()
      local a = dirty_pair()
      p:add(a, "w")
      assert_one(collect(p, 0), a, "w")
    end)

    it("stops reporting once the buffered input is read", function()
      local p = poller()
      local a = dirty_pair()
      p:add(a, "r")
      assert_one(collect(p, 0), a, "r")
      assert.equal("b", a:receive())
      assert.is_false(a:dirty())
      assert_none(collect(p, 0))
    end)

    it("does not report a removed dirty socket", function()
      local p = poller()
      local a = dirty_pair()
      p:add(a, "r")
      p:remove(a)
      assert_none(collect(p, 0))
    end)

    it("reports a dirty socket with nil and a negative timeout at once", function()
      assert.equal("nil: s r\n-1: s r", run_forever("poller-dirty", backend))
    end)
  end)

  describe("poller (" .. backend .. ") removing and closing while iterating", function()
    -- Two readable sockets; on the first event, do(other) to the other one.
    local function during_first(action)
      local p = poller()
      local a1, a2 = readable_pair(), readable_pair()
      p:add(a1, "r", 1)
      p:add(a2, "r", 2)
      local got, n = {}, 0
      for obj, ev in p:wait(0) do
        n = n + 1
        got[n] = { obj = obj, ev = ev }
        if n == 1 then action(p, obj == a1 and a2 or a1) end
        if n > MAX_EVENTS then error("wait never ended") end
      end
      return got, p
    end

    it("does not deliver a socket closed during the loop", function()
      local got, p = during_first(function(_, other) other:close() end)
      assert.equal(1, #got, "events: " .. show(got))
      assert.equal(1, p:count())
    end)

    it("does not deliver a socket removed during the loop", function()
      local got, p = during_first(function(q, other) assert.is_true(q:remove(other)) end)
      assert.equal(1, #got, "events: " .. show(got))
      assert.equal(1, p:count())
    end)

    it("lets the loop close the socket it is given", function()
      local p = poller()
      local a1, a2 = readable_pair(), readable_pair()
      p:add(a1, "r")
      p:add(a2, "r")
      local n = 0
      for obj in p:wait(0) do
        n = n + 1
        obj:close()
        if n > MAX_EVENTS then error("wait never ended") end
      end
      assert.equal(2, n)
      assert.equal(0, p:count())
      assert_none(collect(p, 0))
    end)

    it("lets the loop remove the socket it is given", function()
      local p = poller()
      local a1, a2 = readable_pair(), readable_pair()
      p:add(a1, "r")
      p:add(a2, "r")
      local n = 0
      for obj in p:wait(0) do
        n = n + 1
        assert.is_true(p:remove(obj))
        if n > MAX_EVENTS then error("wait never ended") end
      end
      assert.equal(2, n)
      assert.equal(0, p:count())
    end)

    it("does not deliver a dirty socket closed during the loop", function()
      local p = poller()
      local a1, b1 = pair()
      local a2, b2 = pair()
      must(b1:send("1\n2\n"))
      must(b2:send("1\n2\n"))
      assert.equal("1", a1:receive())
      assert.equal("1", a2:receive())
      p:add(a1, "r")
      p:add(a2, "r")
      local n = 0
      for obj in p:wait(0) do
        n = n + 1
        if n == 1 then (obj == a1 and a2 or a1):close() end
        if n > MAX_EVENTS then error("wait never ended") end
      end
      assert.equal(1, n)
    end)

    it("does not deliver a descriptor removed during the loop", function()
      local p = poller()
      local a1, a2 = readable_pair(), readable_pair()
      local fd1, fd2 = a1:getfd(), a2:getfd()
      p:add(fd1, "r")
      p:add(fd2, "r")
      local n = 0
      for obj in p:wait(0) do
        n = n + 1
        if n == 1 then p:remove(obj == fd1 and fd2 or fd1) end
        if n > MAX_EVENTS then error("wait never ended") end
      end
      assert.equal(1, n)
    end)
  end)

  describe("poller (" .. backend .. ") and closed sockets", function()
    it("drops a socket from the count when it is closed", function()
      local p = poller()
      local a1, a2 = pair(), pair()
      p:add(a1, "r")
      p:add(a2, "r")
      assert.equal(2, p:count())
      a1:close()
      assert.equal(1, p:count())
      a2:close()
      assert.equal(0, p:count())
      assert_none(collect(p, 0))
    end)

    it("drops a closed socket from every poller it is in", function()
      local p, q = poller(), poller()
      local a = readable_pair()
      p:add(a, "r")
      q:add(a, "r")
      a:close()
      assert.equal(0, p:count())
      assert.equal(0, q:count())
      assert_none(collect(p, 0))
      assert_none(collect(q, 0))
    end)

    it("does not report a new socket that got the descriptor of a closed registered one", function()
      local p = poller()
      collectgarbage()
      collectgarbage()
      local a = readable_pair()
      local fd = a:getfd()
      p:add(a, "rw")
      a:close()
      assert.equal(0, p:count())
      -- the lowest free number is reused: one of the next pair's ends gets it
      local c, d = pair()
      local new = c:getfd() == fd and c or d:getfd() == fd and d or nil
      assert.is_truthy(new, ("setup: descriptor %d reused (got %d, %d)"):format(fd, c:getfd(), d:getfd()))
      local other = new == c and d or c
      must(other:send("y"))
      assert_none(collect(p, 0))
      assert_none(collect(p, 0.05))
      -- and once added itself it is reported, as itself
      assert.is_true(p:add(new, "r", "new"))
      assert.equal("new", assert_one(collect(p, 0), new, "r").val)
    end)

    it("leaves sockets alone when the poller is closed", function()
      local p = poller()
      local a, b = pair()
      p:add(a, "r")
      assert.is_true(p:close())
      must(b:send("still\n"))
      assert.equal("still", a:receive())
      assert.is_true(a:close())
    end)

    it("leaves sockets alone when the poller is collected", function()
      local a, b = pair()
      do
        local p = lsock.poller(backend)
        p:add(a, "r")
        p:add(b, "w")
      end
      collectgarbage()
      collectgarbage()
      must(b:send("still\n"))
      assert.equal("still", a:receive())
      local q = poller()
      assert.is_true(q:add(a, "r"))
      assert.is_true(a:close())
      assert.equal(0, q:count())
      assert.is_true(b:close())
    end)
  end)

  describe("poller (" .. backend .. ") with many sockets", function()
    it_many("reports exactly the one ready socket among 1,000", function()
      local p = poller()
      local ends, peers = {}, {}
      for i = 1, 1000 do
        ends[i], peers[i] = pair()
        assert.is_true(p:add(ends[i], "r", i))
      end
      assert.equal(1000, p:count())
      assert_none(collect(p, 0))
      must(peers[537]:send("x"))
      local got, took = collect(p, WAIT)
      local e = assert_one(got, ends[537], "r")
      assert.equal(537, e.val)
      assert.is_true(took < 2, "took " .. took .. " s")
      for i = 1, 1000 do
        assert.is_true(p:remove(ends[i]))
      end
      assert.equal(0, p:count())
      assert_none(collect(p, 0))
    end)
  end)

  describe("poller (" .. backend .. ") object", function()
    it("answers its backend", function()
      assert.equal(backend, poller():backend())
    end)

    it("describes itself with its backend and count", function()
      local p = poller()
      assert.equal("lsock.poller: " .. backend .. " (0 registered)", tostring(p))
      local a, b = pair()
      p:add(a, "r")
      p:add(b, "w")
      assert.equal("lsock.poller: " .. backend .. " (2 registered)", tostring(p))
    end)

    it("describes itself as closed after close", function()
      local p = poller()
      p:close()
      assert.equal("lsock.poller: closed", tostring(p))
    end)

    it("has __name 'lsock.poller'", function()
      assert.equal("lsock.poller", debug.getmetatable(poller()).__name)
    end)

    it("closes with true, twice", function()
      local p = poller()
      assert.is_true(p:close())
      assert.is_true(p:close())
    end)

    it("closes with sockets registered", function()
      local p = poller()
      local a, b = pair()
      p:add(a, "r")
      p:add(b:getfd(), "w")
      assert.is_true(p:close())
    end)

    local after_close = {
      { "add", "socket", "r" },
      { "modify", "socket", "r" },
      { "remove", "socket" },
      { "wait", 0 },
      { "backend" },
      { "getfd" },
      { "count" },
      { "pollfd" },
      { "events" },
      { "timeout" },
    }
    for _, case in ipairs(after_close) do
      it(case[1] .. " answers nil, 'closed' after close", function()
        local p = poller()
        local a = pair()
        p:add(a, "r")
        p:close()
        local args = {}
        for i = 2, #case do args[i - 1] = case[i] == "socket" and a or case[i] end
        local result, err = p[case[1]](p, (table.unpack or unpack)(args, 1, #case - 1))
        assert.is_nil(result)
        assert.equal("closed", err)
      end)
    end

    it("answers r for events and nil for timeout", function()
      local p = poller()
      assert.equal("r", p:events())
      assert.is_nil(p:timeout())
    end)
  end)
end

describe("poller descriptor", function()
  it_linux("is an integer on epoll, equal to pollfd", function()
    local p = track(must(lsock.poller("epoll")))
    local fd = p:getfd()
    assert_integer(fd, "getfd")
    assert.is_true(fd >= 0)
    assert.equal(fd, p:pollfd())
  end)

  it_linux("is readable in a second poller when the epoll poller has events", function()
    local p = track(must(lsock.poller("epoll")))
    local q = track(must(lsock.poller("poll")))
    local a, b = pair()
    p:add(a, "r")
    local fd = p:getfd()
    q:add(fd, "r", "inner")
    assert_none(collect(q, 0))
    must(b:send("x"))
    assert.equal("inner", assert_one(collect(q, WAIT), fd, "r").val)
    assert_one(collect(p, 0), a, "r")
    assert.equal("x", a:receive(1))
    assert_none(collect(q, 0))
  end)

  it_linux("is readable in a second epoll poller too", function()
    local p = track(must(lsock.poller("epoll")))
    local q = track(must(lsock.poller("epoll")))
    local a = readable_pair()
    p:add(a, "r")
    q:add(p:getfd(), "r")
    assert_one(collect(q, WAIT), p:getfd(), "r")
  end)

  it_linux("is readable for lsock.select when the epoll poller has events", function()
    local p = track(must(lsock.poller("epoll")))
    local a, b = pair()
    p:add(a, "r")
    local fd = p:getfd()
    local r, w, err = lsock.select({ fd }, nil, 0)
    assert.equal(0, #w)
    assert.equal("timeout", err)
    assert.is_nil(r[1])
    must(b:send("x"))
    r, w, err = lsock.select({ fd }, nil, WAIT)
    assert.equal(fd, r[1])
    assert.equal(1, r[fd])
    assert.is_nil(w[1])
    assert.is_nil(err)
  end)

  it("is missing on the poll backend: nil and a message", function()
    local p = track(must(lsock.poller("poll")))
    local fd, err = p:getfd()
    assert.is_nil(fd)
    assert.equal("poll backend has no descriptor", err)
    local pfd, perr = p:pollfd()
    assert.is_nil(pfd)
    assert.equal("poll backend has no descriptor", perr)
  end)
end)
