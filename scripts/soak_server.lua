-- The echo server of the soak test (scripts/soak.lua starts it; it is not
-- meant to be run by hand, though it can be):
--
--   lua scripts/soak_server.lua LIFETIME
--
-- A line echo server on lsock.loop, like examples/echo_server.lua, on
-- 127.0.0.1 with an ephemeral port. Every line comes back as it came, end
-- of line included. A line longer than MAX bytes is read and echoed in
-- pieces of MAX bytes (receive's max limit), so a client that sends
-- megabytes without a newline costs the server at most one piece and one
-- receive buffer, and a client that sends without reading stops the
-- server's reading on that connection (its send waits) instead of piling
-- up data.
--
-- It prints one line, "port P control C pid N", then serves. The soak's
-- clients process connects once to the control port and sends commands,
-- one per line:
--   stats  answered with one line of key=value pairs: open (connections
--          accepted and not yet closed), peak (the most open at once since
--          the last report), accepted (in all), fds (descriptors open) and
--          fdlist (them: "N>target,..."), lua (KB after a full
--          collection), rss and hwm (VmRSS and VmHWM, KB), timeouts and
--          errors (connections that ended other than by the client closing
--          or resetting) and first_error
--   quit   answered with the same line, then the server exits 0.
-- The end of the control connection also ends the server, and so does its
-- LIFETIME (seconds): then it exits 1. Every wait has a limit.
local lsock = require "lsock"
local loop = require "lsock.loop"

local LIFETIME = tonumber(arg and arg[1]) or 120
local MAX = 8192 -- the longest piece of a line read at once (receive's max)
-- A connection's waits: far longer than any client of the soak stays
-- silent (a staller sits at most a few seconds), so a timeout here means a
-- wait the loop failed to wake, and is reported.
local IDLE = 30

local server = assert(lsock.listen("127.0.0.1", 0, { backlog = 4096 }))
local control = assert(lsock.listen("127.0.0.1", 0))
local _, port = server:getsockname()
local _, cport = control:getsockname()

local stats = { open = 0, peak = 0, accepted = 0, timeouts = 0, errors = 0 }
local first_error -- the first unexpected failure, for the report

local function note(err)
  if err == "timeout" then
    stats.timeouts = stats.timeouts + 1
  else
    stats.errors = stats.errors + 1
  end
  first_error = first_error or err
end

-- One connection: echo until the client closes or resets ("closed").
-- It was counted open when accepted (before this coroutine first runs), so
-- a report made in between counts its descriptor as open too.
local function serve(conn)
  conn:settimeout(IDLE)
  while true do
    local line, err, partial = conn:receive("L", nil, MAX)
    local data = line or partial
    if data and data ~= "" then
      local sent, serr = conn:send(data)
      if not sent then
        if serr ~= "closed" then note("send: " .. tostring(serr)) end
        break
      end
    end
    if not line and err ~= "too long" then
      if err ~= "closed" then note(err == "timeout" and err or "receive: " .. tostring(err)) end
      break
    end
  end
  conn:close()
  stats.open = stats.open - 1
end

loop.spawn(function()
  while true do
    local conn, err = server:accept()
    if conn then
      stats.accepted = stats.accepted + 1
      stats.open = stats.open + 1
      if stats.open > stats.peak then stats.peak = stats.open end
      loop.spawn(serve, conn)
    else
      -- EMFILE or the like: say so and go on after a pause.
      note("accept: " .. tostring(err))
      loop.sleep(0.05)
    end
  end
end)

local function readfile(path)
  local f = io.open(path)
  if not f then return "" end
  local text = f:read("*a") or ""
  f:close()
  return text
end

-- This process's id, for listing /proc/PID/fd from a child `ls` (whose
-- /proc/self would be its own).
local pid = readfile("/proc/self/stat"):match("^(%d+)")

-- The descriptors open, counted in this process without starting one (a
-- child listing /proc/PID/fd may see the pipe it talks through, both ends
-- of it while popen has not yet closed the child's end). Each number up to
-- the limit is added to a poller of its own: EBADF means no descriptor;
-- any other answer (success, EPERM for /dev/null) means one.
local fd_limit = tonumber(readfile("/proc/self/limits"):match("Max open files%s+(%d+)")) or 65536
local function open_fds()
  local p = assert(lsock.poller("epoll"))
  local own, fds = p:getfd(), {}
  for fd = 0, fd_limit - 1 do
    if fd ~= own then
      local ok, _, errno = p:add(fd, "r")
      if ok then p:remove(fd) end
      if ok or errno ~= lsock.errno.EBADF then fds[#fds + 1] = fd end
    end
  end
  p:close()
  return fds
end

-- The count, and a list "N>target,..." (socket:[inode], pipe:[inode], a
-- path) for telling which one differs; the targets are those `ls` shows,
-- for the descriptors counted (not the ones of its own pipe).
local function list_fds()
  local fds, targets = open_fds(), {}
  local p = io.popen("ls -l /proc/" .. pid .. "/fd 2>/dev/null")
  for line in p:lines() do
    local fd, target = line:match("(%d+) %-> (.*)$")
    if fd then targets[tonumber(fd)] = target:gsub("[%s,]", "_") end
  end
  p:close()
  local list = {}
  for i, fd in ipairs(fds) do list[i] = fd .. ">" .. (targets[fd] or "?") end
  return #fds, table.concat(list, ",")
end

local function report()
  collectgarbage("collect")
  collectgarbage("collect") -- a second cycle runs the finalizers' leftovers
  local status = readfile("/proc/self/status")
  local nfds, fdlist = list_fds()
  return ("stats open=%d peak=%d accepted=%d fds=%d lua=%.1f rss=%s hwm=%s timeouts=%d errors=%d"
    .. " first_error=%s fdlist=%s")
    :format(stats.open, stats.peak, stats.accepted, nfds, collectgarbage("count"),
      status:match("VmRSS:%s*(%d+)") or "0", status:match("VmHWM:%s*(%d+)") or "0",
      stats.timeouts, stats.errors, (tostring(first_error or "none"):gsub("%s", "_")), fdlist)
end

loop.spawn(function()
  control:settimeout(LIFETIME)
  local ctl, err = control:accept()
  if not ctl then
    io.stderr:write("soak_server: control accept: ", tostring(err), "\n")
    os.exit(1)
  end
  ctl:settimeout(LIFETIME)
  while true do
    local cmd = ctl:receive("l", nil, 100)
    if cmd == "stats" or cmd == "quit" then
      ctl:send(report() .. "\n")
      stats.peak = stats.open -- each report tells the peak since the last
      if cmd == "quit" then
        ctl:close()
        os.exit(0)
      end
    else
      -- The controller went away (or said something else): stop.
      io.stderr:write("soak_server: control connection: ", tostring(cmd), "\n")
      os.exit(1)
    end
  end
end)

io.stdout:write(("port %d control %d pid %s\n"):format(port, cport, tostring(pid)))
io.stdout:flush()
loop.run(LIFETIME)
io.stderr:write("soak_server: lifetime of ", LIFETIME, " s over\n")
os.exit(1)
