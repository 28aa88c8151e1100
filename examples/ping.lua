-- examples/ping.lua: a small ping built on lsock.ping.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' lua examples/ping.lua [-c COUNT]
--     [-W TIMEOUT] [-i INTERVAL] [-6] HOST
--
-- Sends COUNT (default 3) echo requests, one every INTERVAL seconds
-- (default 1), each waiting at most TIMEOUT seconds (default 1) for its
-- reply; -6 pings over IPv6. Exits 0 when any reply came, 1 when none did,
-- 2 on a usage error. As root it uses a raw socket, otherwise the
-- unprivileged ICMP datagram socket where net.ipv4.ping_group_range allows.
local lsock = require "lsock"

local USAGE = "usage: ping.lua [-c COUNT] [-W TIMEOUT] [-i INTERVAL] [-6] HOST"

local function usage(msg)
  io.stderr:write("ping.lua: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

local function parse(args)
  local o = { count = 3, timeout = 1, interval = 1 }
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-6" then
      o.family = "inet6"
    elseif a == "-c" or a == "-W" or a == "-i" then
      local v = tonumber(args[i + 1])
      if not v or v < 0 or (a == "-c" and (v < 1 or v ~= math.floor(v))) then
        usage("bad value for " .. a .. ": " .. tostring(args[i + 1]))
      end
      if a == "-c" then o.count = v elseif a == "-W" then o.timeout = v else o.interval = v end
      i = i + 1
    elseif a:sub(1, 1) == "-" then
      usage("unknown option " .. a)
    elseif o.host then
      usage("one host only")
    else
      o.host = a
    end
    i = i + 1
  end
  if not o.host then usage("no host given") end
  return o
end

local o = parse(arg)
local times, asked = {}, 0
for seq = 1, o.count do
  if seq > 1 then lsock.sleep(o.interval) end
  asked = seq
  local rtt, err, errno = lsock.ping(o.host, { family = o.family, timeout = o.timeout, seq = seq })
  if rtt then
    times[#times + 1] = rtt
    print(("reply from %s: seq=%d time=%.3f ms"):format(o.host, seq, rtt * 1000))
  elseif err == "timeout" then
    print(("no reply from %s: seq=%d (timeout after %g s)"):format(o.host, seq, o.timeout))
  else
    -- Not a lost packet (no permission, no route, unknown name): trying
    -- again would only repeat it.
    io.stderr:write("ping.lua: ", err, errno and (" (errno " .. errno .. ")") or "", "\n")
    break
  end
end

local got = #times
local min, max, sum = math.huge, 0, 0
for _, t in ipairs(times) do
  min, max, sum = math.min(min, t), math.max(max, t), sum + t
end
print(("--- %s: %d sent, %d received"):format(o.host, asked, got))
if got > 0 then
  print(("rtt min/avg/max = %.3f/%.3f/%.3f ms"):format(min * 1000, sum / got * 1000, max * 1000))
end
os.exit(got > 0 and 0 or 1)
