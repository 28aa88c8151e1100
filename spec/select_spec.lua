-- spec/select_spec.lua: lsock.select, LuaSocket's socket.select over poll(2).
-- The shapes of the results (arrays that are sets too), timeouts, readers and
-- writers together, nil lists, objects with getfd()/dirty() methods, integer
-- descriptors, closed sockets, buffered input, and descriptors above 1024 (in
-- a child process under a raised `ulimit -n`). Real unix socketpairs and
-- sockets on 127.0.0.1 only; every wait here has a timeout of at most 5 s
-- (the ones that wait forever run in a child process under `timeout`).

local lsock = require "lsock"
local util = require "helpers.util"

local WAIT = 5 -- seconds: the longest any wait here may take

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must
local assert_raises = checks.assert_raises

-- The hard open-file limit: `ulimit -n 4096` must be allowed.
local function hard_limit()
  local text = util.output("ulimit -Hn")
  if text == "unlimited" then return math.huge end
  return tonumber(text) or 0
end
local it_high = checks.it_if(hard_limit() >= 4096,
  "needs `ulimit -n 4096`, the hard limit is " .. tostring(hard_limit()))

local function pair()
  local a, b = util.socketpair()
  return track(a), track(b)
end

local function readable_pair()
  local a, b = pair()
  must(b:send("x"))
  return a, b
end

-- a holds "b\n" in its buffer after reading "a"; the kernel queue is empty.
local function dirty_pair()
  local a, b = pair()
  must(b:send("a\nb\n"))
  assert.equal("a", a:receive())
  assert.is_true(a:dirty(), "setup: the socket is dirty")
  return a, b
end

-- t holds nothing at all: no array part, no set part.
local function assert_empty(t, what)
  assert.is_table(t, what)
  assert.is_nil(next(t), what .. " is empty")
end

-- t is exactly the array `items` and the set of them: t[i] = item and
-- t[item] = i, nothing else (objects only: not for integer descriptors).
local function assert_exactly(t, items, what)
  assert.is_table(t, what)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  assert.equal(2 * #items, n, what .. ": the array and the set, nothing else")
  for i, item in ipairs(items) do
    assert.equal(item, t[i], what .. "[" .. i .. "]")
    assert.equal(i, t[item], what .. "[object " .. i .. "]")
  end
end

local function timed_select(...)
  local t0 = lsock.monotime()
  local r, w, err = lsock.select(...)
  return r, w, err, lsock.monotime() - t0
end

local function run_forever(...)
  return util.spawn_script_within(20, util.HELPERS .. "poll_forever.lua", ...).wait()
end

describe("lsock.select", function()
  it("is a function", function()
    assert.is_function(lsock.select)
  end)

  it("returns a readable socket as an array and a set", function()
    local a = readable_pair()
    local r, w, err = lsock.select({ a }, nil, 0)
    assert_exactly(r, { a }, "readable")
    assert_empty(w, "writable")
    assert.is_nil(err)
  end)

  it("indexes the set by the position in the result, not in the argument", function()
    local quiet = pair()
    local a = readable_pair()
    local r = lsock.select({ quiet, a }, nil, 0)
    assert_exactly(r, { a }, "readable")
  end)

  it("returns several readable sockets in the order given", function()
    local a1, a2, a3 = readable_pair(), readable_pair(), readable_pair()
    local quiet = pair()
    local r, w, err = lsock.select({ a1, quiet, a2, a3 }, nil, 0)
    assert_exactly(r, { a1, a2, a3 }, "readable")
    assert_empty(w, "writable")
    assert.is_nil(err)
  end)

  it("returns a writable socket", function()
    local a = pair()
    local r, w, err = lsock.select(nil, { a }, 0)
    assert_empty(r, "readable")
    assert_exactly(w, { a }, "writable")
    assert.is_nil(err)
  end)

  it("waits for data to arrive within the timeout", function()
    local server, port = util.listen()
    track(server)
    local child = util.spawn("later", "127.0.0.1", port, 0.2, util.tohex("late\n"))
    local conn = track(util.accept(server))
    local r, w, err, took = timed_select({ conn }, nil, WAIT)
    assert_exactly(r, { conn }, "readable")
    assert_empty(w, "writable")
    assert.is_nil(err)
    assert.is_true(took < WAIT - 1, "took " .. took .. " s")
    assert.equal("late", conn:receive())
    assert.equal("sent 5", child.wait())
  end)

  it("answers {}, {}, 'timeout' when nothing is ready within the timeout", function()
    local a = pair()
    local r, w, err, took = timed_select({ a }, nil, 0.05)
    assert_empty(r, "readable")
    assert_empty(w, "writable")
    assert.equal("timeout", err)
    assert.is_true(took >= 0.04, "took " .. took .. " s")
    assert.is_true(took < 2, "took " .. took .. " s")
  end)

  it("answers {}, {}, 'timeout' at once with timeout 0", function()
    local a = pair()
    local r, w, err, took = timed_select({ a }, nil, 0)
    assert_empty(r, "readable")
    assert_empty(w, "writable")
    assert.equal("timeout", err)
    assert.is_true(took < 1, "took " .. took .. " s")
  end)

  it("returns readers and writers together", function()
    local a1 = readable_pair()
    local a2 = pair()
    local r, w, err = lsock.select({ a1 }, { a2 }, WAIT)
    assert_exactly(r, { a1 }, "readable")
    assert_exactly(w, { a2 }, "writable")
    assert.is_nil(err)
  end)

  it("puts one object given in both lists in both results", function()
    local a = readable_pair()
    local r, w, err = lsock.select({ a }, { a }, 0)
    assert_exactly(r, { a }, "readable")
    assert_exactly(w, { a }, "writable")
    assert.is_nil(err)
  end)

  it("returns writers while no reader is ready", function()
    local quiet = pair()
    local a = pair()
    local r, w, err = lsock.select({ quiet }, { a }, WAIT)
    assert_empty(r, "readable")
    assert_exactly(w, { a }, "writable")
    assert.is_nil(err)
  end)

  it("takes nil readers", function()
    local a = pair()
    local r, w = lsock.select(nil, { a }, 0)
    assert_empty(r, "readable")
    assert_exactly(w, { a }, "writable")
  end)

  it("takes nil writers", function()
    local a = readable_pair()
    local r, w = lsock.select({ a }, nil, 0)
    assert_exactly(r, { a }, "readable")
    assert_empty(w, "writable")
  end)

  it("waits the timeout with both lists nil", function()
    local r, w, err, took = timed_select(nil, nil, 0.05)
    assert_empty(r, "readable")
    assert_empty(w, "writable")
    assert.equal("timeout", err)
    assert.is_true(took >= 0.04, "took " .. took .. " s")
    assert.is_true(took < 2, "took " .. took .. " s")
  end)

  it("waits the timeout with both lists empty", function()
    local r, w, err = lsock.select({}, {}, 0.05)
    assert_empty(r, "readable")
    assert_empty(w, "writable")
    assert.equal("timeout", err)
  end)

  it("reports a hang-up as readable", function()
    local a, b = pair()
    b:close()
    local r = lsock.select({ a }, nil, WAIT)
    assert_exactly(r, { a }, "readable")
  end)

  it("works on a TCP connection on 127.0.0.1", function()
    local client, conn = util.pair()
    track(client)
    track(conn)
    local r, _, err = lsock.select({ conn }, nil, 0)
    assert.equal("timeout", err)
    assert_empty(r, "readable")
    must(client:send("hi\n"))
    r = lsock.select({ conn }, nil, WAIT)
    assert_exactly(r, { conn }, "readable")
    assert.equal("hi", conn:receive())
  end)

  it("raises naming the argument when the readers are not a table", function()
    assert_raises({ "#1", "readers" }, function() lsock.select("bogus", nil, 0) end)
  end)

  it("raises naming the argument when the writers are not a table", function()
    assert_raises({ "#2", "writers" }, function() lsock.select(nil, 42, 0) end)
  end)

  it("raises naming the argument when the timeout is not a number", function()
    assert_raises({ "#3", "timeout" }, function() lsock.select(nil, nil, "soon") end)
  end)
end)

describe("lsock.select objects", function()
  it("takes integer descriptors and returns them as integers", function()
    local a = readable_pair()
    local fd = a:getfd()
    local r, w, err = lsock.select({ fd }, nil, 0)
    assert.equal(fd, r[1])
    assert.equal(1, r[fd])
    assert.is_number(r[1])
    assert_empty(w, "writable")
    assert.is_nil(err)
  end)

  it("takes integer descriptors among writers", function()
    local a = pair()
    local fd = a:getfd()
    local r, w = lsock.select(nil, { fd }, 0)
    assert_empty(r, "readable")
    assert.equal(fd, w[1])
    assert.equal(1, w[fd])
  end)

  it("does not report a quiet integer descriptor", function()
    local a = pair()
    local r, _, err = lsock.select({ a:getfd() }, nil, 0)
    assert_empty(r, "readable")
    assert.equal("timeout", err)
  end)

  it("takes a table with a getfd method and returns that table", function()
    local a = readable_pair()
    local wrapper = { getfd = function() return a:getfd() end }
    local r, w, err = lsock.select({ wrapper }, { wrapper }, 0)
    assert_exactly(r, { wrapper }, "readable")
    assert_exactly(w, { wrapper }, "writable")
    assert.is_nil(err)
  end)

  it("calls getfd as a method", function()
    local a = readable_pair()
    local wrapper = { sock = a }
    function wrapper:getfd() return self.sock:getfd() end
    local r = lsock.select({ wrapper }, nil, 0)
    assert_exactly(r, { wrapper }, "readable")
  end)

  it("counts a table whose dirty() is true as readable without waiting", function()
    local a = pair() -- nothing to read in the kernel
    local wrapper = { sock = a }
    function wrapper:getfd() return self.sock:getfd() end
    wrapper.dirty = function() return true end
    local r, w, err, took = timed_select({ wrapper }, nil, WAIT)
    assert_exactly(r, { wrapper }, "readable")
    assert_empty(w, "writable")
    assert.is_nil(err)
    assert.is_true(took < 2, "took " .. took .. " s")
  end)

  it("does not count a table whose dirty() is false", function()
    local a = pair()
    local wrapper = { getfd = function() return a:getfd() end, dirty = function() return false end }
    local r, _, err = lsock.select({ wrapper }, nil, 0)
    assert_empty(r, "readable")
    assert.equal("timeout", err)
  end)

  it("mixes sockets, descriptors and tables in one call", function()
    local a1, a2, a3 = readable_pair(), readable_pair(), readable_pair()
    local fd = a2:getfd()
    local wrapper = { getfd = function() return a3:getfd() end }
    local r, _, err = lsock.select({ a1, fd, wrapper }, nil, 0)
    assert.is_nil(err)
    assert.equal(a1, r[1])
    assert.equal(fd, r[2])
    assert.equal(wrapper, r[3])
    assert.equal(1, r[a1])
    assert.equal(3, r[wrapper])
  end)

  it("ignores closed sockets", function()
    local closed = pair()
    closed:close()
    local a = readable_pair()
    local r, w, err = lsock.select({ closed, a }, { closed }, 0)
    assert_exactly(r, { a }, "readable")
    assert_empty(w, "writable")
    assert.is_nil(err)
  end)

  it("answers timeout when only closed sockets are given", function()
    local closed = pair()
    closed:close()
    local r, w, err = lsock.select({ closed }, { closed }, 0.05)
    assert_empty(r, "readable")
    assert_empty(w, "writable")
    assert.equal("timeout", err)
  end)

  it("counts a dirty socket readable with timeout 0", function()
    local a = dirty_pair()
    local r, w, err = lsock.select({ a }, nil, 0)
    assert_exactly(r, { a }, "readable")
    assert_empty(w, "writable")
    assert.is_nil(err)
  end)

  it("counts a dirty socket readable at once with a timeout of 5 s", function()
    local a = dirty_pair()
    local r, _, err, took = timed_select({ a }, nil, WAIT)
    assert_exactly(r, { a }, "readable")
    assert.is_nil(err)
    assert.is_true(took < 2, "took " .. took .. " s")
  end)

  it("counts a dirty socket readable and writable when given in both lists", function()
    local a = dirty_pair()
    local r, w = lsock.select({ a }, { a }, 0)
    assert_exactly(r, { a }, "readable")
    assert_exactly(w, { a }, "writable")
  end)

  it("counts a dirty socket among quiet ones, in its place", function()
    local quiet = pair()
    local a = dirty_pair()
    local r = lsock.select({ quiet, a }, nil, WAIT)
    assert_exactly(r, { a }, "readable")
  end)

  it("no longer counts the socket once the buffered input is read", function()
    local a = dirty_pair()
    assert.equal("b", a:receive())
    local r, _, err = lsock.select({ a }, nil, 0)
    assert_empty(r, "readable")
    assert.equal("timeout", err)
  end)

  it("counts a dirty socket readable with no timeout and a negative one, at once", function()
    assert.equal("nil: a 1 0 nil\n-1: a 1 0 nil", run_forever("select-dirty"))
  end)
end)

describe("lsock.select above descriptor 1024", function()
  it_high("waits on descriptors above 1024 (poll(2), not select(2))", function()
    local prefix = util.succeeds("timeout 1 true") and "timeout 60 " or ""
    local cmd = ("ulimit -n 4096 && %s%s 2>&1"):format(prefix,
      util.lua_command(util.HELPERS .. "poll_high.lua"))
    local f = assert(io.popen(cmd))
    local out = f:read("*a"):gsub("%s+$", "")
    f:close()
    local want = {
      "fds above 1024: yes",
      "select: readable 1 writable 1 err nil",
      "select quiet: readers 0 writers 0 err timeout",
      "poller poll: r",
    }
    if util.output("uname -s") == "Linux" then want[#want + 1] = "poller epoll: r" end
    assert.equal(table.concat(want, "\n"), out)
  end)
end)
