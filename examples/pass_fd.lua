-- Passing a descriptor: an acceptor hands a TCP connection to a worker over
-- a unix socket pair (sendmsg/recvmsg, SCM_RIGHTS), and the worker serves
-- it. Lua cannot fork, so both parts run in this one script, one after the
-- other; between two processes it works the same way (a worker process
-- connects to the acceptor with lsock.unix_connect).
local lsock = require "lsock"

local function say(fmt, ...) io.write((fmt):format(...), "\n") end

-- The acceptor's listener, and the channel from the acceptor to the worker.
local listener = assert(lsock.listen("127.0.0.1", 0))
local _, port = listener:getsockname()
listener:settimeout(5)
local to_worker, worker = assert(lsock.socketpair())
worker:settimeout(5)
say("listening:   %s", tostring(listener))
say("channel:     %s <-> %s", tostring(to_worker), tostring(worker))

-- A client connects and says something.
local client = assert(lsock.connect("127.0.0.1", port, { timeout = 5 }))
client:send("hello worker\n")

-- The acceptor accepts, passes the connection on and closes its own copy.
local conn, peer, peer_port = assert(listener:accept())
say("acceptor:    accepted %s:%d as fd %d", peer, peer_port, conn:getfd())
assert(to_worker:sendmsg("conn", { fds = { conn } }))
conn:close()
say("acceptor:    handed it to the worker and closed its copy")

-- The worker receives a new descriptor for the same connection.
local tag, fds = assert(worker:recvmsg())
say("worker got:  %q with %d descriptor(s), fd %d", tag, #fds, fds[1])
local served = assert(lsock.fromfd(fds[1]))
served:settimeout(5)
say("worker has:  %s", tostring(served))
local line = assert(served:receive("l"))
say("worker read: %q", line)
served:send(line:upper() .. "\n")
served:close()

say("client got:  %q", client:receive("l"))

-- The worker can ask who is at the other end of its channel.
local pid, uid, gid = worker:peercred()
say("peercred:    pid %d, uid %d, gid %d", pid, uid, gid)

client:close()
to_worker:close()
worker:close()
listener:close()
say("closed:      %s", tostring(listener))
