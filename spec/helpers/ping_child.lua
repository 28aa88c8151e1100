--- A child for spec/ping_spec.lua: `ping_child.lua HOST [KEY=VALUE ...]`
-- calls lsock.ping(HOST, opts) once (numeric values become numbers) and
-- prints what it returned and how long the call took, one `name=value`
-- per line: `rtt=` or `err=` and `errno=`, then `elapsed=`. It is run inside
-- private network namespaces and as an unprivileged user, where the spec
-- process itself cannot go.
local lsock = require "lsock"

local host = arg[1]
local opts = {}
for i = 2, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  opts[k] = tonumber(v) or v
end

local t0 = lsock.monotime()
local rtt, err, errno = lsock.ping(host, opts)
local elapsed = lsock.monotime() - t0
if rtt then
  print("rtt=" .. tostring(rtt))
else
  print("err=" .. tostring(err))
  print("errno=" .. tostring(errno))
end
print("elapsed=" .. tostring(elapsed))
