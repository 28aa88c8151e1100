--- A child process for spec/unix_spec.lua, run by
-- `util.spawn_script("spec/helpers/unix_peer.lua", command, path)`. It does
-- one thing with the unix socket path, prints what happened and exits; every
-- wait is bounded by a 5 s socket timeout.
--
-- Commands:
--
--   bindexit PATH   bind a unix stream socket to PATH, listen, print
--                   "bound PATH" and exit without closing or unlinking it:
--                   the socket file stays behind, with nobody accepting on it
--   pid PATH        connect to PATH, print "pid N" (this process's pid, read
--                   from /proc/self/stat), wait for one line from the other
--                   side and print "bye" (or "no line: ERR")
local lsock = require "lsock"
local util = require "helpers.util"

local command, path = arg[1], arg[2]

local out = util.out

local function own_pid()
  local f = assert(io.open("/proc/self/stat"))
  local line = f:read("*l")
  f:close()
  return line:match("^(%d+)")
end

if command == "bindexit" then
  local s = assert(lsock.socket("unix", "stream"))
  local ok, err = s:bind(path)
  if not ok then
    out("bind failed:", tostring(err))
    os.exit(1)
  end
  assert(s:listen())
  out("bound", path)
  os.exit(0) -- the kernel closes the descriptor; the file stays

elseif command == "pid" then
  local s = assert(lsock.socket("unix", "stream"))
  s:settimeout(util.TIMEOUT)
  local ok, err = s:connect(path)
  if not ok then
    out("connect failed:", tostring(err))
    os.exit(1)
  end
  out("pid", own_pid())
  local line, rerr = s:receive("l")
  s:close()
  if line then out("bye") else out("no line:", tostring(rerr)) end

else
  out("unknown command", tostring(command))
  os.exit(2)
end
