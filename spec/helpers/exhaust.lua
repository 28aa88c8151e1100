-- Child process for spec/descriptors_spec.lua, run under `ulimit -n 64`.
-- mode "drop": open 1,000 sockets keeping none, with the collector stopped,
--   so only lsock's collect-and-retry on EMFILE can free descriptors.
-- mode "hold": keep every socket; the error must come back as a value.
local lsock = require "lsock"
local mode = arg[1]

collectgarbage("stop")
local held = {}
for i = 1, 1000 do
  local s, err, errno = lsock.tcp()
  if not s then
    print(("failed at %d: %s (%s)"):format(i, tostring(err), tostring(errno)))
    os.exit(0)
  end
  if mode == "hold" then held[i] = s end
end
print("opened " .. (mode == "hold" and #held or 1000))
