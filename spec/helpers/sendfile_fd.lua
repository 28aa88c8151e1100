-- Child for spec/sendfile_spec.lua: connects to 127.0.0.1 PORT and sends
-- COUNT bytes from OFFSET of descriptor FD, which the shell that started
-- it opened on a file. Prints "sent N" or "failed <why>".
--   sendfile_fd.lua PORT FD OFFSET COUNT
local lsock = require "lsock"
local port, fd, offset, count = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local c, err = lsock.connect("127.0.0.1", port, { timeout = 5 })
if not c then
  print("failed connect: " .. tostring(err))
  os.exit(1)
end
c:settimeout(5)
local n, serr = c:sendfile(fd, offset, count)
print(n and ("sent " .. n) or ("failed " .. tostring(serr)))
c:close()
