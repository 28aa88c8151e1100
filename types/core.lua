---@meta lsock.core
-- LuaLS annotations for `require "lsock.core"`, the C module. `lsock`
-- re-exports every public function here unchanged (its getaddrinfo also
-- runs on a worker thread inside lsock.loop), so the definitions and their
-- documentation are those of types/lsock.lua. connect, listen,
-- unix_connect, unix_listen, ping and tls are lsock's own, not here.

local lsock = require "lsock"

local core = {}

core.errno = lsock.errno
core.socket = lsock.socket
core.tcp = lsock.tcp
core.udp = lsock.udp
core.socketpair = lsock.socketpair
core.fromfd = lsock.fromfd
core.poller = lsock.poller
core.select = lsock.select
core.getaddrinfo = lsock.getaddrinfo
core.getnameinfo = lsock.getnameinfo
core.gettime = lsock.gettime
core.gethostname = lsock.gethostname
core.monotime = lsock.monotime
core.sleep = lsock.sleep
core.tls_context = lsock.tls_context
core.tls_wrap = lsock.tls_wrap

return core
