-- lsock.loop: a coroutine scheduler over one lsock poller.
--
-- C never yields (PUC Lua 5.1 cannot yield across a C function): inside a
-- spawned coroutine a socket is put in nowait mode, so a call that would
-- wait answers "timeout" at once with what it waits for in events(); the
-- method wrappers below then yield until the poller says the socket is
-- ready (or the socket's own timeout runs out) and call again, carrying
-- the partial result on. Outside a coroutine the same methods block as
-- before. Timers live in a binary heap, and a wait that ends early takes
-- its timer out.
local core = require "lsock.core"

local loop = {}

local running, resume, create, status = coroutine.running, coroutine.resume,
  coroutine.create, coroutine.status
local yield = coroutine.yield
local monotime = core.monotime
local unpack = rawget(table, "unpack") or rawget(_G, "unpack") -- 5.2+, or 5.1

-- The results as they came, with their number (trailing nils count).
local function pack(...) return { n = select("#", ...), ... } end

local poller = assert(core.poller())
local tasks = {}      -- coroutine -> task
local alive = 0
local ready = {}      -- tasks to resume, with ready_value
local heap = {}       -- timers: {at, seq, task, pos}
local seq = 0
local waits = {}      -- socket -> { r = {task...}, w = {task...}, reg = events registered }
local touched = {}    -- sockets whose waiters left during this step
local nowaiting = setmetatable({}, { __mode = "k" }) -- sockets in nowait mode

-- ---- timers ---------------------------------------------------------------
-- A timer is {at, seq, task, pos}: pos is its place in the heap, kept up
-- to date by every move, so a wait that ends early takes its timer out at
-- once and the heap holds only the waits still running.

local function earlier(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2])
end

local function place(i, t)
  heap[i] = t
  t[4] = i
end

local function sift_up(i)
  local t = heap[i]
  while i > 1 do
    local p = (i - i % 2) / 2
    if not earlier(t, heap[p]) then break end
    place(i, heap[p])
    i = p
  end
  place(i, t)
end

local function sift_down(i)
  local n, t = #heap, heap[i]
  while true do
    local l, r, m = 2 * i, 2 * i + 1, nil
    if l <= n and earlier(heap[l], t) then m = l end
    if r <= n and earlier(heap[r], m and heap[m] or t) then m = r end
    if not m then break end
    place(i, heap[m])
    i = m
  end
  place(i, t)
end

local function heap_push(t)
  place(#heap + 1, t)
  sift_up(#heap)
end

-- Take timer t out of the heap, wherever it is.
local function heap_remove(t)
  local i, n = t[4], #heap
  -- The last timer fills the hole (two statements: when i == n a multiple
  -- assignment to the same slot would leave either value).
  local last = heap[n]
  heap[n] = nil
  if i == n then return end
  place(i, last)
  sift_up(i)
  sift_down(last[4])
end

-- ---- tasks ----------------------------------------------------------------

local function wake(task, value)
  if task.waiting then
    task.waiting = nil
    if task.timer then
      heap_remove(task.timer)
      task.timer = nil
    end
    task.value = value
    ready[#ready + 1] = task
  end
end

-- Park the running task until wake(); `limit` seconds at most (nil: no
-- limit), after which it wakes with "timeout".
local function park(task, limit)
  task.waiting = true
  if limit then
    seq = seq + 1
    task.timer = { monotime() + limit, seq, task, 0 }
    heap_push(task.timer)
  end
  return yield()
end

local function current()
  local co = running()
  return co and tasks[co]
end

local function finish(task, ok, err)
  if not ok then
    io.stderr:write("lsock.loop: ", debug.traceback(task.co, tostring(err)), "\n")
  end
  if status(task.co) == "dead" then
    tasks[task.co] = nil
    alive = alive - 1
  end
end

function loop.spawn(fn, ...)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'spawn' (function expected, got %s)"):format(type(fn)), 2)
  end
  local co = create(fn)
  local task = { co = co, args = pack(...) }
  tasks[co] = task
  alive = alive + 1
  ready[#ready + 1] = task
  return co
end

-- ---- sockets waiting for the poller -----------------------------------------

local function interest(w)
  local r, wr = #w.r > 0, #w.w > 0
  return r and wr and "rw" or r and "r" or wr and "w" or nil
end

-- Make the poller watch sock for what its waiters want. A registration
-- outlives a wake-up: the coroutine that woke usually waits again within
-- the same step (an echo server reads, writes, reads), and then nothing
-- needs to change; settle() drops what nobody waits for any more.
local function update(sock, w)
  local now = interest(w)
  if now == w.reg then return end
  if not now then
    waits[sock] = nil
    poller:remove(sock)
  elseif not w.reg then
    poller:add(sock, now)
  else
    poller:modify(sock, now)
  end
  w.reg = now
end

local function settle()
  for sock in pairs(touched) do
    touched[sock] = nil
    local w = waits[sock]
    if w then update(sock, w) end
  end
end

local function drop(list, task)
  for i = #list, 1, -1 do
    if list[i] == task then table.remove(list, i) end
  end
end

-- Wait in the running task until sock is ready for `events` ("r", "w",
-- "rw"), for `limit` seconds at most. Returns "ready", "timeout" or
-- "closed".
local function wait_for(task, sock, events, limit)
  local w = waits[sock]
  if not w then
    w = { r = {}, w = {} }
    waits[sock] = w
  end
  if events:find("r", 1, true) then w.r[#w.r + 1] = task end
  if events:find("w", 1, true) then w.w[#w.w + 1] = task end
  if not (w.reg == "rw" or w.reg == interest(w)) then update(sock, w) end
  local why = park(task, limit)
  w = waits[sock]
  if w then
    drop(w.r, task)
    drop(w.w, task)
    -- A plain descriptor may be closed by its owner right after this
    -- (the loop never sees it): it leaves the poller at once. A socket's
    -- close goes through forget(), so its registration may wait.
    if type(sock) == "number" then update(sock, w) else touched[sock] = true end
  end
  return why
end

-- Every task waiting on sock wakes with "closed"; sock leaves the poller.
local function forget(sock)
  local w = waits[sock]
  if not w then return end
  waits[sock] = nil
  touched[sock] = nil
  if w.reg then poller:remove(sock) end
  for _, t in ipairs(w.r) do wake(t, "closed") end
  for _, t in ipairs(w.w) do wake(t, "closed") end
end

-- ---- the method wrappers ----------------------------------------------------

local mt = getmetatable(core.socket("inet", "dgram"))
local methods = mt.__index

-- The socket's own limits for a call starting now: block, total (-1:
-- none) and the call's deadline (false: none).
local function limits(self)
  local block, total = self:_gettimeouts()
  return block, total, total >= 0 and monotime() + total
end

-- Wait in task until self is ready for events, as long as its limits
-- allow: "ready", "timeout" (at once when no time is left) or "closed".
local function await(task, self, events, block, total, deadline)
  local limit = block >= 0 and block or nil
  if total >= 0 then
    local left = deadline - monotime()
    if left < 0 then left = 0 end
    if not limit or left < limit then limit = left end
  end
  if limit == 0 then return "timeout" end
  return wait_for(task, self, events, limit)
end

-- The loop task calling a method on self, or nil outside the loop. A
-- socket never waits in C while the loop uses it, and waits as usual
-- again once plain code does.
local function enter(self)
  local task = current()
  if task then
    if not nowaiting[self] then
      nowaiting[self] = true
      self:_setnowait(true)
    end
  elseif nowaiting[self] then
    nowaiting[self] = nil
    self:_setnowait(false)
  end
  return task
end

-- A method that can wait. `again(self, r, a, b, c)` makes the arguments
-- of the next try from the timed-out results r (nil: the same ones).
local function waiting(name, again)
  local cfn = methods[name]
  local function slow(task, self, a, b, c, ...)
    local block, total, deadline = limits(self)
    local r = pack(...)
    while r[1] == nil and r[2] == "timeout" do
      local why = await(task, self, self:events() or "r", block, total, deadline)
      if why == "closed" then return nil, "closed" end
      if why == "timeout" then break end
      if again then a, b, c = again(self, r, a, b, c) end
      r = pack(cfn(self, a, b, c))
    end
    return unpack(r, 1, r.n)
  end
  local function check(task, self, a, b, c, ...)
    local x, err = ...
    if x ~= nil or err ~= "timeout" then return ... end
    return slow(task, self, a, b, c, ...)
  end
  methods[name] = function(self, a, b, c)
    local task = enter(self)
    if not task then return cfn(self, a, b, c) end
    return check(task, self, a, b, c, cfn(self, a, b, c))
  end
end

-- receive: the partial result becomes the prefix of the next try.
waiting("receive", function(_, r, pattern, _, max) return pattern, r[3], max end)
-- send: go on after the last byte that went.
waiting("send", function(_, r, data, _, j) return data, r[4] + 1, j end)
for _, name in ipairs({ "accept", "connect", "recv", "sendto", "recvfrom", "recvmany", "recvmsg" }) do
  waiting(name)
end

-- sendmany: the rest of the list after the datagrams that went.
do
  local cfn = methods.sendmany
  local function rest(list, from)
    local t = {}
    for i = from, #list do t[#t + 1] = list[i] end
    return t
  end
  methods.sendmany = function(self, list, addr, port)
    local task = enter(self)
    if not task then return cfn(self, list, addr, port) end
    local block, total, deadline = limits(self)
    local done, todo = 0, list
    while true do
      local n, err, errno, count = cfn(self, todo, addr, port)
      if n then return done + n end
      done = done + (count or 0)
      if err ~= "timeout" then return nil, err, errno, done end
      local why = await(task, self, "w", block, total, deadline)
      if why == "closed" then return nil, "closed", nil, done end
      if why == "timeout" then return nil, "timeout", nil, done end
      if count and count > 0 then todo = rest(todo, count + 1) end
    end
  end
end

-- sendmsg: descriptors go with the first bytes; what is left after a
-- partial send goes on with send.
do
  local cfn, send = methods.sendmsg, methods.send
  methods.sendmsg = function(self, data, opts)
    local task = enter(self)
    if not task then return cfn(self, data, opts) end
    local block, total, deadline = limits(self)
    while true do
      local n, err, errno, sent = cfn(self, data, opts)
      if n then return n end
      if err ~= "timeout" then return n, err, errno, sent end
      if sent and sent > 0 then return send(self, data, sent + 1) end
      local why = await(task, self, "w", block, total, deadline)
      if why == "closed" then return nil, "closed", nil, 0 end
      if why == "timeout" then return nil, "timeout", nil, 0 end
    end
  end
end

-- close wakes whoever waits on the socket.
do
  local cfn = methods.close
  methods.close = function(self)
    forget(self)
    return cfn(self)
  end
  if mt.__close then
    mt.__close = function(self) forget(self); return cfn(self) end
  end
end

-- lsock.connect races its attempts on a poller of its own: inside a
-- coroutine it yields until that poller's descriptor is readable.
require("lsock")._set_waiter(function(fd, limit)
  local task = current()
  if not task then return core.select({ fd }, nil, limit) end
  wait_for(task, fd, "r", limit)
end, function() return current() ~= nil end)

-- ---- running ----------------------------------------------------------------

local function run_ready()
  local batch = ready
  ready = {}
  for i = 1, #batch do
    local task = batch[i]
    if task.args then
      local args = task.args
      task.args = nil
      finish(task, resume(task.co, unpack(args, 1, args.n)))
    else
      local v = task.value
      task.value = nil
      finish(task, resume(task.co, v))
    end
  end
end

local function wake_ready_sockets(ms)
  for sock, events in poller:wait(ms) do
    local w = waits[sock]
    if w then
      if events:find("r", 1, true) then
        for _, t in ipairs(w.r) do wake(t, "ready") end
      end
      if events:find("w", 1, true) then
        for _, t in ipairs(w.w) do wake(t, "ready") end
      end
    end
  end
end

local function fire_timers()
  local now = monotime()
  while heap[1] and heap[1][1] <= now do
    local t = heap[1]
    if t[3].waiting then
      wake(t[3], "timeout") -- takes its timer out of the heap
    else
      heap_remove(t)
    end
  end
end

--- Run what is ready, waiting at most `timeout` seconds (default 0) for
-- sockets or timers. Returns the number of coroutines alive.
function loop.step(timeout)
  local wait = timeout or 0
  if #ready > 0 then wait = 0 end
  if heap[1] then
    local left = heap[1][1] - monotime()
    if left < 0 then left = 0 end
    if wait < 0 or left < wait then wait = left end
  end
  wake_ready_sockets(wait)
  fire_timers()
  run_ready()
  settle()
  return alive
end

--- Run until no coroutine is left (true), or for `timeout` seconds at most
-- (nil, "timeout").
function loop.run(timeout)
  local deadline = timeout and monotime() + timeout
  while alive > 0 do
    local wait = -1
    if deadline then
      wait = deadline - monotime()
      if wait <= 0 then return nil, "timeout" end
    end
    loop.step(wait)
  end
  return true
end

function loop.sleep(s)
  local task = current()
  if not task then return core.sleep(s) end
  park(task, s > 0 and s or 0)
end

loop.now = monotime

function loop.count() return alive end

-- Timers in the heap: the waits still running with a limit (for specs).
function loop._timers() return #heap end

function loop.getfd() return poller:getfd() end

return loop
