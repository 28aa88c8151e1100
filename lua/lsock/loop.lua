-- lsock.loop: coroutines that wait for sockets, on one thread.
--
-- The scheduler is C (core._scheduler: the poller, the timers, resuming,
-- and the calls that had to wait). While it runs one of its coroutines,
-- a socket method that would wait parks the coroutine instead: the
-- scheduler waits for the socket (within the socket's own timeouts),
-- makes the call again itself when the socket is ready, and resumes the
-- coroutine with the results, which the method returns. C never yields
-- across a C call it made (PUC Lua 5.1 cannot): a method yields only
-- when it returns, as coroutine.yield does. Outside the loop's coroutines
-- the same methods block as before.
local core = require "lsock.core"

local loop = {}

local yield = coroutine.yield
local intask = core._intask
local monotime = core.monotime

local S = assert(core._scheduler())

S:onerror(function(co, err)
  io.stderr:write("lsock.loop: ", debug.traceback(co, tostring(err)), "\n")
end)

function loop.spawn(fn, ...)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'spawn' (function expected, got %s)"):format(type(fn)), 2)
  end
  return S:spawn(fn, ...)
end

-- ---- the method wrappers ----------------------------------------------------

local methods
do
  local probe = assert(core.socket("unix", "stream"))
  methods = getmetatable(probe).__index
  probe:close()
end

-- Every method that can wait parks in C: the scheduler tries it again
-- itself and resumes the coroutine with its results. Two keep partial
-- progress that C does not track, and wait here: they yield (socket,
-- first) and are resumed with "ready", "timeout", "closed" or a message.

-- sendmany: the rest of the list after the datagrams that went.
do
  local cfn = methods.sendmany
  local function rest(list, from)
    local t = {}
    for i = from, #list do t[#t + 1] = list[i] end
    return t
  end
  local function slow(self, list, addr, port, _, _, _, count)
    local done, todo, first = 0, list, true
    local n, err, errno
    while true do
      done = done + (count or 0)
      local why = yield(self, first)
      first = false
      if why ~= "ready" then return nil, why, nil, done end
      if count and count > 0 then todo = rest(todo, count + 1) end
      n, err, errno, count = cfn(self, todo, addr, port)
      if n then return done + n end
      if err ~= "timeout" then return nil, err, errno, done + (count or 0) end
    end
  end
  local function check(self, list, addr, port, ...)
    local n, err = ...
    if n or err ~= "timeout" or not intask(self) then return ... end
    return slow(self, list, addr, port, ...)
  end
  methods.sendmany = function(self, list, addr, port)
    return check(self, list, addr, port, cfn(self, list, addr, port))
  end
end

-- sendmsg: descriptors go with the first bytes; what is left after a
-- partial send goes on with send.
do
  local cfn, send = methods.sendmsg, methods.send
  local function slow(self, data, opts, _, _, _, sent)
    local first = true
    while true do
      if sent and sent > 0 then return send(self, data, sent + 1) end
      local why = yield(self, first)
      first = false
      if why ~= "ready" then return nil, why, nil, 0 end
      local n, err, errno
      n, err, errno, sent = cfn(self, data, opts)
      if n or err ~= "timeout" then return n, err, errno, sent end
    end
  end
  local function check(self, data, opts, ...)
    local n, err = ...
    if n or err ~= "timeout" or not intask(self) then return ... end
    return slow(self, data, opts, ...)
  end
  methods.sendmsg = function(self, data, opts)
    return check(self, data, opts, cfn(self, data, opts))
  end
end

-- sendfile (sockets and TLS streams): what went moves the file's offset,
-- so each try after a wait starts where the last one stopped.
for _, class in ipairs({ "lsock.socket", "lsock.tls" }) do
  local m = core._methods(class)
  local cfn = m.sendfile
  local function slow(self, file, offset, count, total)
    local first = true
    while true do
      local why = yield(self, first)
      first = false
      if why ~= "ready" then return nil, why, nil, total end
      -- A file handle's own position moved on; others start at offset.
      local from = offset
      if offset ~= nil or io.type(file) ~= "file" then from = (offset or 0) + total end
      local rest = count and count - total
      if rest == 0 then return total end
      local n, err, errno, sent = cfn(self, file, from, rest)
      if n then return total + n end
      total = total + (sent or 0)
      if err ~= "timeout" then return nil, err, errno, total end
    end
  end
  local function check(self, file, offset, count, ...)
    local n, err = ...
    if n or err ~= "timeout" or not intask(self) then return ... end
    return slow(self, file, offset, count, select(4, ...) or 0)
  end
  m.sendfile = function(self, file, offset, count)
    return check(self, file, offset, count, cfn(self, file, offset, count))
  end
end

-- lsock.connect races its attempts on a poller of its own, and name
-- lookups answer on a descriptor: inside a coroutine they yield until
-- that descriptor is readable.
-- Returns nil, or the reason the wait ended ("ready", "timeout", or
-- "wait: ..." when the loop could not take it).
require("lsock")._set_waiter(function(fd, limit)
  if not intask() then
    core.select({ fd }, nil, limit)
    return nil
  end
  return yield(fd, limit)
end, intask)

-- ---- running ----------------------------------------------------------------

--- Run what is ready, waiting at most `timeout` seconds (default 0;
-- negative: no limit) for sockets or timers. Returns the number of
-- coroutines alive.
function loop.step(timeout)
  return S:step(timeout or 0)
end

--- Run until no coroutine is left (true), or for `timeout` seconds at most
-- (nil, "timeout").
function loop.run(timeout)
  local deadline = timeout and monotime() + timeout
  while S:count() > 0 do
    local wait = -1
    if deadline then
      wait = deadline - monotime()
      if wait <= 0 then return nil, "timeout" end
    end
    S:step(wait)
  end
  return true
end

function loop.sleep(s)
  if type(s) ~= "number" then
    error(("bad argument #1 to 'sleep' (number expected, got %s)"):format(type(s)), 2)
  end
  if not intask() then return core.sleep(s) end
  yield(nil, s)
end

loop.now = monotime

function loop.count() return S:count() end

-- Timers running: the waits with a limit, and sleeps (for specs).
function loop._timers() return S:timers() end

-- Descriptors the loop has registered with the kernel (for specs).
function loop._watched() return S:watched() end

function loop.getfd() return S:getfd() end

-- Seconds until the loop has work even if no socket becomes ready: 0 when
-- coroutines wait to run, the time to the first timer, or nil (none). A
-- host waits on getfd() for at most this long, then calls step(0).
function loop.timeout() return S:timeout() end

return loop
