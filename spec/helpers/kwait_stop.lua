--- A child for spec/kwait_spec.lua: waits in the kernel with a total
-- timeout of 0.6 s while the parent stops and continues it (SIGSTOP,
-- SIGCONT), which interrupts the wait with EINTR. Prints its pid, then
-- "waiting" just before the call, then the seconds the call took and
-- its error. `arg[1]`: "receive" (an empty socket) or "send" (a full one).
local lsock = require "lsock"

local a, b = lsock.socketpair("stream")
print((a:peercred()))
local s = arg[1] == "send" and a or b
if s == a then
  -- fill a's buffer without waiting
  a:settimeout(0)
  local block = ("x"):rep(64 * 1024)
  for _ = 1, 1000 do
    if not a:send(block) then break end
  end
end
s:settimeout(nil)
s:settimeout(0.6, "t")
print("waiting")
io.stdout:flush()
local t0 = lsock.monotime()
local _, err
if s == a then
  _, err = a:send("y")
else
  _, err = b:receive(1)
end
print(string.format("%.3f %s", lsock.monotime() - t0, tostring(err)))
