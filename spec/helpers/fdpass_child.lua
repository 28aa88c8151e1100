--- A child process for spec/ancillary_spec.lua, run by
-- `util.spawn_script("spec/helpers/fdpass_child.lua", command, path)`. It
-- connects to the unix stream socket at PATH (timeout 5 s), passes or
-- receives a descriptor, prints one line and exits.
--
-- Commands:
--
--   recv PATH   recvmsg one descriptor, wrap it with fromfd, write
--               "hello from child\n" on it; prints "wrote 17"
--   send PATH   make a TCP listener on 127.0.0.1 port 0 and send it with
--               sendmsg, the data being its port number; close the own copy;
--               prints "sent PORT"
--   pair PATH   make a socketpair, send one end ("end"), close it, read a
--               line on the other end and answer "pong from child\n";
--               prints "served LINE"
local lsock = require "lsock"
local util = require "helpers.util"

local command, path = arg[1], arg[2]

local out = util.out

local function fail(...)
  out(...)
  os.exit(1)
end

local sock = assert(lsock.socket("unix", "stream"))
sock:settimeout(util.TIMEOUT)
local ok, cerr = sock:connect(path)
if not ok then fail("connect failed:", tostring(cerr)) end

if command == "recv" then
  local data, fds = sock:recvmsg()
  if not data then fail("recvmsg failed:", tostring(fds)) end
  if #fds ~= 1 then fail("expected 1 descriptor, got", #fds) end
  local w, werr = lsock.fromfd(fds[1])
  if not w then fail("fromfd failed:", tostring(werr)) end
  w:settimeout(util.TIMEOUT)
  local last, serr = w:send("hello from child\n")
  w:close()
  if not last then fail("send failed:", tostring(serr)) end
  out("wrote", last)

elseif command == "send" then
  local l = assert(lsock.listen("127.0.0.1", 0))
  local _, port = l:getsockname()
  local last, serr = sock:sendmsg(tostring(port), { fds = { l } })
  l:close()
  if not last then fail("sendmsg failed:", tostring(serr)) end
  out("sent", port)

elseif command == "pair" then
  local mine, theirs = lsock.socketpair()
  if not mine then fail("socketpair failed:", tostring(theirs)) end
  mine:settimeout(util.TIMEOUT)
  local last, serr = sock:sendmsg("end", { fds = { theirs } })
  theirs:close()
  if not last then fail("sendmsg failed:", tostring(serr)) end
  local line, rerr = mine:receive("l")
  if not line then fail("receive failed:", tostring(rerr)) end
  mine:send("pong from child\n")
  mine:close()
  out("served", line)

else
  fail("unknown command", tostring(command))
end
sock:close()
