--- A child for spec/raw_spec.lua, run as an unprivileged user:
-- `raw_open.lua FAMILY:TYPE[:PROTOCOL] ...` opens each socket and prints one
-- line per argument: `FAMILY:TYPE[:PROTOCOL] ok`, or the failure as
-- `FAMILY:TYPE[:PROTOCOL] fail ERRNO ERR`.
local lsock = require "lsock"

for i = 1, #arg do
  local family, stype, proto = arg[i]:match("^(%w+):(%w+):?(%w*)$")
  local s, err, errno = lsock.socket(family, stype, proto ~= "" and proto or nil)
  if s then
    s:close()
    print(arg[i] .. " ok")
  else
    print(("%s fail %s %s"):format(arg[i], tostring(errno), tostring(err)))
  end
end
