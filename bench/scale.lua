-- bench/scale.lua: the Lua sides of the many-connection workloads, one
-- library each. The peers are the C program bench/scale.c (the same for
-- every library); keep the protocol in step with it.
--
--   lua scale.lua LIB client poll_scale N PATH
--       N idle unix stream connections to PATH (scale.c holds the other
--       ends) registered for reading, with both ends of one active pair;
--       round trips of 64 bytes through the library's waiting (write on A,
--       wait, read B, write B, wait, read A, compare) in batches of 20,000
--       until 2 s have passed. Prints "ok SECONDS ROUND_TRIPS". An event
--       on an idle connection fails the run.
--   lua scale.lua LIB server echo N
--       a single-threaded line echo server on 127.0.0.1 port 0 (prints the
--       port); "MEASURE" is answered "RSS BEFORE AFTER", the VmRSS in kB
--       before the first connection and now, each after two full garbage
--       collections. Prints "ok LINES" once N connections came and closed.
--
-- LIB  luasocket  socket.select over every socket (FD_SETSIZE: 1024)
--      lsock      poll_scale: lsock.poller; echo: lsock.loop, one coroutine
--                 per connection blocked in receive
--      cqueues    a controller, one coroutine per socket
--      luv        read_start callbacks on every handle
--
-- Every wait is bounded: 30 s without progress fails the run.

local libname, role, workload, n_s, addr = ...

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
-- common.lua by path: bench/ on package.path would make bench/luv.lua "luv"
package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
local common = dofile(here .. "/common.lua")
local fail, check = common.reporter(string.format("scale.lua %s %s %s", tostring(libname),
  tostring(role), tostring(workload)))

local TIMEOUT = 30
local BATCH = 20000
local MIN_SECS = 2
local MSG_LEN = 64
local PAT64 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
local PING_B = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"

local n = tonumber(n_s)
if not (({ luasocket = true, lsock = true, cqueues = true, luv = true })[libname]
    and ((role == "client" and workload == "poll_scale" and addr) or (role == "server" and workload == "echo"))
    and n and n >= 1 and n % 1 == 0) then
  io.stderr:write("usage: scale.lua luasocket|lsock|cqueues|luv client poll_scale N PATH\n",
    "       scale.lua luasocket|lsock|cqueues|luv server echo N\n")
  os.exit(2)
end

-- VmRSS in kB after two full collections
local function rss()
  collectgarbage("collect")
  collectgarbage("collect")
  local f = check(io.open("/proc/self/status", "r"), "/proc/self/status")
  local s = f:read("*a")
  f:close()
  return tonumber((check(s:match("VmRSS:%s*(%d+)"), "VmRSS", "not in /proc/self/status")))
end

local function report(secs, rts)
  io.stdout:write(string.format("ok %.6f %d\n", secs, rts))
  io.stdout:flush()
end

-- The message of round trip i (0-based): two alternate.
local function message(i)
  return i % 2 == 0 and PAT64 or PING_B
end

-- ---- LuaSocket ------------------------------------------------------------

local luasocket = {}

function luasocket.poll_scale()
  local socket = require "socket"
  local unix = require "socket.unix"
  local select = socket.select
  local readers = {}
  for i = 1, n do
    local s = unix.stream()
    check(s:connect(addr), "connect " .. i)
    s:settimeout(TIMEOUT)
    readers[i] = s
  end
  -- LuaSocket has no socketpair: a listener of our own makes the pair.
  local lpath = addr .. ".pair"
  local l = unix.stream()
  check(l:bind(lpath), "bind " .. lpath)
  check(l:listen(1), "listen")
  local a = unix.stream()
  check(a:connect(lpath), "connect " .. lpath)
  local b = check(l:accept(), "accept")
  l:close()
  os.remove(lpath)
  a:settimeout(TIMEOUT)
  b:settimeout(TIMEOUT)
  readers[n + 1], readers[n + 2] = a, b
  local function await(want)
    local r, _, err = select(readers, nil, TIMEOUT)
    if #r ~= 1 or r[1] ~= want then fail("select: expected the active socket alone, got %d (%s)", #r, tostring(err)) end
  end
  local rts = 0
  local t0 = socket.gettime()
  local t1
  repeat
    for i = rts, rts + BATCH - 1 do
      local msg = message(i)
      a:send(msg)
      await(b)
      local m = check(b:receive(MSG_LEN), "receive")
      b:send(m)
      await(a)
      if a:receive(MSG_LEN) ~= msg then fail("round trip %d: wrong echo", i + 1) end
    end
    rts = rts + BATCH
    t1 = socket.gettime()
  until t1 - t0 >= MIN_SECS
  report(t1 - t0, rts)
end

-- select over the listener and every connection; the lines as they come
function luasocket.echo()
  local socket = require "socket"
  local select = socket.select
  local l = socket.tcp()
  check(l:bind("127.0.0.1", 0), "bind")
  check(l:listen(1024), "listen")
  local before = rss()
  local _, port = l:getsockname()
  io.stdout:write(port, "\n")
  io.stdout:flush()
  local readers, index = { l }, { [l] = 1 }
  local accepted, lines = 0, 0
  local function drop(c)
    local i, last = index[c], readers[#readers]
    readers[i], index[last] = last, i
    readers[#readers], index[c] = nil, nil
    c:close()
  end
  while #readers > 1 or accepted < n do
    local r, _, err = select(readers, nil, TIMEOUT)
    if err then fail("select: %s", err) end
    for _, c in ipairs(r) do
      if c == l then
        local s = check(l:accept(), "accept")
        s:settimeout(TIMEOUT)
        s:setoption("tcp-nodelay", true)
        accepted = accepted + 1
        readers[#readers + 1], index[s] = s, #readers + 1
        if accepted == n then drop(l) end
      else
        local line, rerr = c:receive("*l")
        if line == "MEASURE" then
          c:send(string.format("RSS %d %d\n", before, rss()))
        elseif line then
          c:send(line .. "\n")
          lines = lines + 1
        elseif rerr == "closed" then
          drop(c)
        else
          fail("receive: %s", tostring(rerr))
        end
      end
    end
  end
  io.stdout:write("ok ", lines, "\n")
end

-- ---- lsock ----------------------------------------------------------------

local lsock = {}

function lsock.poll_scale()
  local core = common.lsock_core()
  local p = check(core.poller())
  local idle = {}
  for i = 1, n do
    local s = check(core.socket("unix", "stream"), "socket")
    s:settimeout(TIMEOUT)
    check(s:connect(addr), "connect " .. i)
    check(p:add(s, "r"), "poller add")
    idle[i] = s
  end
  local a, b = core.socketpair()
  check(a, "socketpair", b)
  a:settimeout(TIMEOUT)
  b:settimeout(TIMEOUT)
  check(p:add(a, "r"), "poller add")
  check(p:add(b, "r"), "poller add")
  local wait = p.wait
  local function await(want)
    local got = 0
    for s in wait(p, TIMEOUT) do
      if s ~= want then fail("poller: an event on another socket") end
      got = got + 1
    end
    if got ~= 1 then fail("poller: %d events, expected 1", got) end
  end
  local send, receive = a.send, a.receive
  local rts = 0
  local t0 = core.monotime()
  local t1
  repeat
    for i = rts, rts + BATCH - 1 do
      local msg = message(i)
      send(a, msg)
      await(b)
      local m = check(receive(b, MSG_LEN), "receive")
      send(b, m)
      await(a)
      if receive(a, MSG_LEN) ~= msg then fail("round trip %d: wrong echo", i + 1) end
    end
    rts = rts + BATCH
    t1 = core.monotime()
  until t1 - t0 >= MIN_SECS
  if p:count() ~= #idle + 2 then fail("poller: %d registered, expected %d", p:count(), #idle + 2) end
  report(t1 - t0, rts)
end

-- lsock.loop: one coroutine per connection, blocked in receive("L")
function lsock.echo()
  common.lsock_core()
  local core = require "lsock.core"
  local loop = require "lsock.loop"
  local l = check(core.tcp(), "tcp")
  check(l:bind("127.0.0.1", 0), "bind")
  check(l:listen(4096), "listen")
  local before = rss()
  local _, port = l:getsockname()
  io.stdout:write(port, "\n")
  io.stdout:flush()
  local lines = 0
  local function serve(c)
    while true do
      local line, err = c:receive("L")
      if not line then
        if err ~= "closed" then fail("receive: %s", tostring(err)) end
        break
      end
      if line == "MEASURE\n" then
        c:send(string.format("RSS %d %d\n", before, rss()))
      else
        c:send(line)
        lines = lines + 1
      end
    end
    c:close()
  end
  loop.spawn(function()
    l:settimeout(TIMEOUT)
    for _ = 1, n do
      local c = check(l:accept(), "accept")
      c:settimeout(TIMEOUT)
      c:setoption("nodelay", true)
      loop.spawn(serve, c)
    end
    l:close()
  end)
  check(loop.run(100), "loop.run")
  io.stdout:write("ok ", lines, "\n")
end

-- ---- cqueues --------------------------------------------------------------

local cq_lib = {}

-- step the controller until done() is true; no progress for 30 s fails
local function cq_run(cq, done)
  local cqueues = require "cqueues"
  local last = cqueues.monotime()
  while not done() do
    local ok, err = cq:step(TIMEOUT)
    if not ok then fail("controller: %s", tostring(err)) end
    local now = cqueues.monotime()
    if now - last > TIMEOUT then fail("timeout") end
    last = now
  end
end

function cq_lib.poll_scale()
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local cq = cqueues.new()
  local connected, woke = 0, nil
  for i = 1, n do
    cq:wrap(function()
      local s = socket.connect({ path = addr })
      s:settimeout(TIMEOUT)
      s:setmode("b", "bn")
      check(s:connect(), "connect " .. i)
      connected = connected + 1
      s:settimeout(nil) -- idle from now on: waits without a limit
      local data, err = s:read(1)
      woke = woke or string.format("idle connection %d woke: %s", i, tostring(data or err))
    end)
  end
  cq_run(cq, function() return woke or connected == n end)
  if woke then fail("%s", woke) end
  local a, b = socket.pair()
  for _, s in ipairs({ a, b }) do
    s:settimeout(TIMEOUT)
    s:setmode("b", "bn")
  end
  local finished = false
  cq:wrap(function()
    while true do
      local m = b:read(MSG_LEN)
      if not m then break end
      check(b:write(m), "write")
    end
  end)
  cq:wrap(function()
    local rts = 0
    local t0 = cqueues.monotime()
    local t1
    repeat
      for i = rts, rts + BATCH - 1 do
        local msg = message(i)
        check(a:write(msg), "write")
        if a:read(MSG_LEN) ~= msg then fail("round trip %d: wrong echo", i + 1) end
      end
      rts = rts + BATCH
      t1 = cqueues.monotime()
    until t1 - t0 >= MIN_SECS
    report(t1 - t0, rts)
    finished = true
  end)
  cq_run(cq, function() return woke or finished end)
  if woke then fail("%s", woke) end
  os.exit(0) -- the idle coroutines still wait
end

function cq_lib.echo()
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local cq = cqueues.new()
  local l = socket.listen({ host = "127.0.0.1", port = 0, backlog = 4096 })
  check(l:listen(), "listen")
  local before = rss()
  local _, _, port = l:localname()
  io.stdout:write(port, "\n")
  io.stdout:flush()
  local lines, open, accepted = 0, 0, 0
  local function serve(c)
    c:settimeout(TIMEOUT)
    c:setmode("b", "bn")
    while true do
      local line, err = c:read("*L")
      if not line then
        if err then fail("read: %s", tostring(err)) end
        break
      end
      if line == "MEASURE\n" then
        check(c:write(string.format("RSS %d %d\n", before, rss())), "write")
      else
        check(c:write(line), "write")
        lines = lines + 1
      end
    end
    c:close()
    open = open - 1
  end
  cq:wrap(function()
    l:settimeout(TIMEOUT)
    for _ = 1, n do
      local c = check(l:accept(), "accept")
      accepted, open = accepted + 1, open + 1
      cq:wrap(serve, c)
    end
    l:close()
  end)
  cq_run(cq, function() return accepted == n and open == 0 end)
  io.stdout:write("ok ", lines, "\n")
end

-- ---- luv ------------------------------------------------------------------

local luv_lib = {}

-- a watchdog: 30 s without progress (progress() unchanged) fails the run
local function luv_watchdog(uv, progress)
  local t = uv.new_timer()
  local last = progress()
  t:start(TIMEOUT * 1000, TIMEOUT * 1000, function()
    local now = progress()
    if now == last then fail("timeout: no progress for %d s", TIMEOUT) end
    last = now
  end)
  t:unref()
end

function luv_lib.poll_scale()
  local uv = require "luv"
  local connected, rts, total = 0, 0, 0
  local function idle_read(err, data)
    fail("an idle connection woke: %s", tostring(err or data or "end of stream"))
  end
  luv_watchdog(uv, function() return connected + total end)
  local start
  for i = 1, n do
    local p = uv.new_pipe(false)
    p:connect(addr, function(err)
      if err then fail("connect %d: %s", i, err) end
      check(p:read_start(idle_read), "read_start")
      connected = connected + 1
      if connected == n then start() end
    end)
  end
  function start()
    local fds, perr = uv.socketpair("stream")
    check(fds, "socketpair", perr)
    local fa, fb = fds[1], fds[2]
    local a, b = uv.new_pipe(false), uv.new_pipe(false)
    check(a:open(fa), "open")
    check(b:open(fb), "open")
    local msg = message(0)
    local bbuf, abuf = "", ""
    local t0 = uv.hrtime()
    check(b:read_start(function(err, data)
      if err or not data then fail("read: %s", tostring(err or "end of stream")) end
      bbuf = bbuf .. data
      while #bbuf >= MSG_LEN do
        b:write(bbuf:sub(1, MSG_LEN))
        bbuf = bbuf:sub(MSG_LEN + 1)
      end
    end), "read_start")
    check(a:read_start(function(err, data)
      if err or not data then fail("read: %s", tostring(err or "end of stream")) end
      abuf = abuf .. data
      if #abuf < MSG_LEN then return end
      if abuf ~= msg then fail("round trip %d: wrong echo", total + rts + 1) end
      abuf = ""
      rts = rts + 1
      if rts == BATCH then
        total, rts = total + BATCH, 0
        local secs = (uv.hrtime() - t0) / 1e9
        if secs >= MIN_SECS then
          report(secs, total)
          os.exit(0)
        end
      end
      msg = message(total + rts)
      a:write(msg)
    end), "read_start")
    a:write(msg)
  end
  uv.run()
  fail("the loop ended early")
end

function luv_lib.echo()
  local uv = require "luv"
  local l = uv.new_tcp()
  check(l:bind("127.0.0.1", 0), "bind")
  local before
  local lines, open, accepted = 0, 0, 0
  local find, sub = string.find, string.sub
  check(l:listen(4096, function(err)
    if err then fail("listen: %s", err) end
    local c = uv.new_tcp()
    check(l:accept(c), "accept")
    c:nodelay(true)
    accepted, open = accepted + 1, open + 1
    if accepted == n then l:close() end
    local rest = ""
    check(c:read_start(function(rerr, data)
      if rerr then fail("read: %s", rerr) end
      if not data then
        if rest ~= "" then fail("the stream ended inside a line") end
        c:close()
        open = open - 1
        return
      end
      if rest ~= "" then data, rest = rest .. data, "" end
      -- whole lines at once; what follows the last LF waits
      local last, pos = nil, 1
      while true do
        local nl = find(data, "\n", pos, true)
        if not nl then break end
        if nl - pos == 7 and sub(data, pos, nl) == "MEASURE\n" then
          c:write(string.format("RSS %d %d\n", before, rss()))
        else
          c:write(sub(data, pos, nl))
          lines = lines + 1
        end
        last, pos = nl, nl + 1
      end
      if not last then rest = data elseif pos <= #data then rest = sub(data, pos) end
    end), "read_start")
  end), "listen")
  before = rss()
  local name = check(l:getsockname(), "getsockname")
  io.stdout:write(name.port, "\n")
  io.stdout:flush()
  luv_watchdog(uv, function() return lines + accepted end)
  uv.run()
  if open ~= 0 or accepted ~= n then fail("the loop ended early") end
  io.stdout:write("ok ", lines, "\n")
end

local impl = ({ luasocket = luasocket, lsock = lsock, cqueues = cq_lib, luv = luv_lib })[libname]
impl[workload]()
