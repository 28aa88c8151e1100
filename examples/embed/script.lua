-- Run by examples/embed/host.c: `...` is the host's socket, and
-- host_checkfd is a C function of the host that uses lsock_checkfd.
-- luacheck: globals host_checkfd
local sock = ...
assert(tostring(sock):match("^lsock%.socket: unix stream"), tostring(sock))
assert(host_checkfd(sock) == sock:getfd())
assert(not pcall(host_checkfd, 42), "lsock_checkfd accepts only sockets")
assert(sock:send("hello from lua\n") == 15)
sock:close()
