-- Child process for spec/descriptors_spec.lua, run under `ulimit -n 64`.
-- mode "drop": open 1,000 sockets keeping none, with the collector stopped,
--   so only lsock's collect-and-retry on EMFILE can free descriptors.
-- mode "hold": keep every socket; the error must come back as a value.
-- mode "others": drop sockets until none is left to open, then open 100
--   pollers and 100 loop name lookups (each takes descriptors too), with
--   the collector still stopped: they must collect and retry as well.
local lsock = require "lsock"
local mode = arg[1]

-- Open sockets until none is left, then drop them all: garbage that only
-- a collection frees. Returns how many.
local function fill()
  local held = {}
  while true do
    local s = lsock.tcp()
    if not s then return #held end
    held[#held + 1] = s
  end
end

if mode == "others" then
  local loop = require "lsock.loop"
  collectgarbage("stop")
  for i = 1, 100 do
    fill()
    local p, err = lsock.poller()
    if not p then
      print(("poller %d: %s"):format(i, tostring(err)))
      os.exit(0)
    end
    p:close()
  end
  local answers = 0
  loop.spawn(function()
    for i = 1, 100 do
      fill()
      local res, err = lsock.getaddrinfo("127.0.0.1", 80, { numeric = true })
      if not res then
        print(("getaddrinfo %d: %s"):format(i, tostring(err)))
        return
      end
      answers = answers + 1
    end
  end)
  loop.run(30)
  print("pollers 100, lookups " .. answers)
  os.exit(0)
end

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
