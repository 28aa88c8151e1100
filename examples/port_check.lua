-- A port checker on lsock.loop: many connects to 127.0.0.1 at once, each
-- with a short timeout.
--
--   lua examples/port_check.lua [FIRST-LAST]     (default 20000-20999)
--
-- It starts a few listeners of its own first, inside the range where it
-- may bind there (ports below 1024 need root) and on ephemeral ports
-- otherwise, which are checked too, so some ports are surely open. Then
-- WORKERS coroutines take ports from the list one after the other: a
-- connect that does not succeed within TIMEOUT counts as closed. Prints
-- the open ports and a count, and ends by itself.
local lsock = require "lsock"
local loop = require "lsock.loop"

local WORKERS = 100 -- connects in flight at once
local TIMEOUT = 0.5 -- seconds per connect

local function say(fmt, ...) io.write((fmt):format(...), "\n") end

local first, last = 20000, 20999
if arg and arg[1] then
  first, last = arg[1]:match("^(%d+)%-(%d+)$")
  first, last = tonumber(first), tonumber(last)
  if not first or first < 1 or last > 65535 or first > last then
    io.stderr:write("usage: lua examples/port_check.lua FIRST-LAST (1..65535)\n")
    os.exit(2)
  end
end

-- Our own listeners: at three places in the range when we may bind there,
-- else on a port the system picks.
local listeners, ours, extra = {}, {}, {}
for _, want in ipairs({ first + math.floor((last - first) / 7), math.floor((first + last) / 2), last }) do
  local s = lsock.listen("127.0.0.1", want)
  if not s then s = assert(lsock.listen("127.0.0.1", 0)) end
  local _, port = s:getsockname()
  if not ours[port] then
    listeners[#listeners + 1] = s
    ours[port] = true
    if port < first or port > last then extra[#extra + 1] = port end
  else
    s:close()
  end
end

local ports = {}
for p = first, last do ports[#ports + 1] = p end
for _, p in ipairs(extra) do ports[#ports + 1] = p end
say("checking:    127.0.0.1 ports %d-%d%s, %d workers, %.1f s per connect",
  first, last, #extra > 0 and (" and our " .. table.concat(extra, ", ")) or "", WORKERS, TIMEOUT)

-- Our listeners accept what comes, so their queues never fill.
for _, s in ipairs(listeners) do
  s:settimeout(TIMEOUT * 4)
  loop.spawn(function()
    while true do
      local conn = s:accept()
      if not conn then break end -- closed at the end, or idle
      conn:close()
    end
  end)
end

local open, checked, timeouts, next_index = {}, 0, 0, 1
local workers = math.min(WORKERS, #ports)
local function worker()
  while next_index <= #ports do
    local port = ports[next_index]
    next_index = next_index + 1
    local c = assert(lsock.tcp())
    c:settimeout(TIMEOUT)
    local ok, err = c:connect("127.0.0.1", port)
    if ok then
      open[#open + 1] = port
    elseif err == "timeout" then
      timeouts = timeouts + 1
    end
    c:close()
    checked = checked + 1
  end
  -- The last worker closes our listeners, which wakes their acceptors.
  workers = workers - 1
  if workers == 0 then
    for _, s in ipairs(listeners) do s:close() end
  end
end

local t0 = loop.now()
for _ = 1, workers do loop.spawn(worker) end
local done, why = loop.run(60)

table.sort(open)
for _, port in ipairs(open) do
  say("open:        %d%s", port, ours[port] and " (ours)" or "")
end
say("checked:     %d ports in %.2f s, %d open, %d timed out", checked, loop.now() - t0, #open, timeouts)
say("loop:        %s", done and "every coroutine finished" or tostring(why))
