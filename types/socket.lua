---@meta _
-- LuaLS annotations for lsock.socket: the one socket object of every family
-- and type (its `__name` is "lsock.socket"), made by lsock.socket, tcp,
-- udp, socketpair, fromfd, connect, listen, unix_connect, unix_listen and
-- accept. Definitions only; docs/reference.md is the full contract.
--
-- Every socket has every method below, but some are for some types only
-- and raise on the others (`bad argument #1 to 'receive' (stream socket
-- expected, got inet dgram socket)`): `receive` is for stream sockets;
-- `listen` and `accept` for stream and seqpacket; `sendto`, `recvfrom`,
-- `sendmany` and `recvmany` for every type but stream; `sendmsg`,
-- `recvmsg` and `peercred` for unix sockets. `send` and `recv` work on
-- every type: bytes on a stream, one message each on the others.
--
-- `close`, `settimeout`, `family`, `type`, `getstats`, `dirty` and
-- `tostring` work on a closed socket; every other method answers
-- `nil, "closed"`. Inside a coroutine of lsock.loop the methods that wait
-- park the coroutine instead of blocking; the results are the same.
-- A socket that belongs to a TLS stream (tls.wrap) raises on its own
-- send, receive, recv, sendmsg and recvmsg.

---@alias lsock.pattern
---| "l"  # one line, its end of line (LF, and a CR before it) dropped (the default)
---| "*l"
---| "L"  # one line with its end of line
---| "*L"
---| "a"  # everything until the peer closes
---| "*a"
---| integer # exactly that many bytes

---@alias lsock.timeoutmode
---| "b" # each wait for readiness lasts at most the timeout (the default)
---| "t" # the whole call lasts at most the timeout

---@alias lsock.shutdownmode "send"|"receive"|"both"

---@alias lsock.events "r"|"w"|"rw"

---@alias lsock.option
---| "reuseaddr"       # boolean
---| "reuseport"       # boolean
---| "keepalive"       # boolean
---| "keepidle"        # integer
---| "keepintvl"       # integer
---| "keepcnt"         # integer
---| "nodelay"         # boolean
---| "linger"          # integer seconds, or false for off
---| "rcvbuf"          # integer
---| "sndbuf"          # integer
---| "broadcast"       # boolean
---| "dontroute"       # boolean: only to hosts on a directly connected network (SO_DONTROUTE)
---| "v6only"          # boolean, inet6
---| "ttl"             # integer (inet6: the unicast hop limit)
---| "tos"             # integer (inet6: the traffic class)
---| "hdrincl"         # boolean
---| "multicast_ttl"   # integer (inet6: the multicast hop limit)
---| "unicast_hops"    # integer, inet6 only
---| "multicast_hops"  # integer, inet6 only
---| "multicast_loop"  # boolean
---| "multicast_if"    # inet: an interface address; inet6: a name or index (reads as the index)
---| "add_membership"  # { group=, interface= }, write only
---| "drop_membership" # { group=, interface= }, write only
---| "udp_gro"         # boolean, UDP (Linux): receive offload, split back into datagrams
---| "error"           # read only: the pending errno (0 for none); reading clears it
---| "type"            # read only: the socket type's name
---| "acceptconn"      # read only: boolean, whether the socket listens

---@class lsock.membership
---@field group string            the multicast group address
---@field interface? string|integer an address (inet) or an interface name or index (inet6)

---An entry of sendmany: a string goes to the call's address (or the
---connected peer); a table carries its own.
---@alias lsock.outmessage string|lsock.message

---A datagram as recvmany returns it (and sendmany takes it).
---@class lsock.message
---@field data string
---@field addr? string            inet, inet6 (packet: the interface name)
---@field port? integer           inet, inet6 (packet: the ethertype)
---@field path? string            unix ("" for an unnamed sender)
---@field truncated? true         it was longer than `max`

---@class lsock.sendmsgopts
---@field fds? (lsock.socket|integer)[] descriptors to pass (at most 253); the sender's stay open
---@field path? string            the destination of an unconnected dgram socket

---@class lsock.socket
local socket = {}

---Binds to an inet/inet6 address and port ("*" the wildcard; a host name
---is resolved within the socket's family; port 0 an ephemeral one), a unix
---path ("@name": the abstract namespace), or an interface name for a
---packet socket (`"lo"`).
---@param addr string
---@param port integer
---@return true? ok
---@return string? err
---@return integer? errno
---@overload fun(self: lsock.socket, path_or_ifname: string): true?, string?, integer?
function socket:bind(addr, port) end

---Listens (backlog default SOMAXCONN). Stream and seqpacket sockets.
---@param backlog? integer
---@return true? ok
---@return string? err
---@return integer? errno
function socket:listen(backlog) end

---The next connection: `client, addr, port` (unix: `client, path`, ""
---for an unnamed peer). The client starts blocking, with no timeout.
---Stream and seqpacket sockets.
---@return lsock.socket? client
---@return string? addr_or_err the peer's address or path, or the error
---@return integer? port_or_errno
function socket:accept() end

---Connects, within the timeout. With timeout 0 (or when it expires):
---`nil, "timeout"`, and the connection goes on; the next call with the
---same arguments, or a poll for "w", completes it. Raw and ICMP sockets
---may leave the port out. A message socket called without an address
---forgets its peer.
---@param addr string
---@param port integer
---@return true? ok
---@return string? err
---@return integer? errno
---@overload fun(self: lsock.socket, path: string): true?, string?, integer?
---@overload fun(self: lsock.socket): true?, string?, integer?
function socket:connect(addr, port) end

---Sends `data:sub(i, j)`. Stream: the index of the last byte sent (`j`;
---`i - 1` when `i > j`); failure: `nil, err, errno, last_sent` (resume
---with `send(data, last_sent + 1)`). Message sockets: one message, `j`.
---@param data string
---@param i? integer
---@param j? integer
---@return integer? last
---@return string? err
---@return integer? errno
---@return integer? last_sent
function socket:send(data, i, j) end

---Reads by LuaSocket's patterns, `prefix` first (with a count it counts
---toward it, so `receive(n, partial)` resumes). Failure:
---`nil, err, partial`; with `max`, a longer line (or "a" read) fails with
---`nil, "too long", partial` (its first `max` bytes). Stream sockets.
---@param pattern? lsock.pattern
---@param prefix? string
---@param max? integer
---@return string? data
---@return string? err
---@return string? partial
function socket:receive(pattern, prefix, max) end

---Stream: what is there now, 1..`max` bytes (default 65536), waiting only
---when nothing is. Message sockets: one message (`max` default 65535),
---with a second result `true` when it was longer than `max`. End of
---stream: `nil, "closed"`.
---@param max? integer
---@return string? data
---@return string|true|nil err_or_truncated
---@return integer? errno
function socket:recv(max) end

---Stream sockets: `count` bytes (default: to the end) of a file from
---`offset`; `file` is a path, a Lua file handle (default offset: its
---position, moved on by what went) or a descriptor. sendfile(2) where the
---kernel has it. Returns the bytes sent; on a timeout `nil, "timeout",
---nil, sent`, resumed with `offset + sent`.
---@param file string|file*|integer
---@param offset? integer
---@param count? integer
---@return integer? sent
---@return string? err
---@return integer? errno
---@return integer? sent_so_far
function socket:sendfile(file, offset, count) end

---Stream sockets: the bytes before the next `delimiter` (not empty), which
---is consumed; `receive`'s rules for `prefix` (a delimiter may begin in it),
---`max` (content longer fails with "too long") and partial results.
---@param delimiter string
---@param prefix? string
---@param max? integer
---@return string? data
---@return string? err
---@return string? partial
function socket:receiveuntil(delimiter, prefix, max) end

---Stream sockets: like `recv`, but the bytes stay buffered for the next
---read (waits, within the timeout, only when nothing is buffered).
---@param max? integer
---@return string? data
---@return string? err
---@return integer? errno
function socket:peek(max) end

---Hands the descriptor to the caller and leaves the object closed without
---closing it (buffered input is dropped). Raises on a socket under TLS.
---@return integer? fd
---@return string? err
function socket:detach() end

---Sends one datagram to an address (`port` may be left out by raw and
---ICMP sockets), a unix path, or out of an interface (packet sockets).
---The number of bytes sent. Every type but stream.
---@param data string
---@param addr string
---@param port? integer
---@return integer? sent
---@return string? err
---@return integer? errno
---@overload fun(self: lsock.socket, data: string, path_or_ifname: string): integer?, string?, integer?
function socket:sendto(data, addr, port) end

---One datagram and its sender: `data, addr, port` (unix: `data, path`;
---packet: `data, ifname, ethertype`), and one more result `true` when it
---was longer than `max` (default 65535). Every type but stream.
---@param max? integer
---@return string? data
---@return string? addr_or_err
---@return integer|true|nil port_or_errno
---@return true? truncated
function socket:recvfrom(max) end

---Sends every entry of `list` (at most 1024) as one datagram each, with
---sendmmsg and UDP segmentation offload where there are. The number sent;
---a failure part way: `nil, err, errno, count` (`count` went; send the
---rest to resume). Every type but stream.
---@param list lsock.outmessage[]
---@param addr? string
---@param port? integer
---@return integer? count
---@return string? err
---@return integer? errno
---@return integer? count_sent
---@overload fun(self: lsock.socket, list: lsock.outmessage[], path: string): integer?, string?, integer?, integer?
function socket:sendmany(list, addr, port) end

---Waits (within the timeout) for one datagram, then takes what is queued,
---up to `n` (1..1024). `into`, an earlier result, is refilled and
---returned instead of a new array. Every type but stream.
---@param n integer
---@param max? integer
---@param into? lsock.message[]
---@return lsock.message[]? batch
---@return string? err
---@return integer? errno
function socket:recvmany(n, max, into) end

---Sends `data` with descriptors attached to its first byte: the index of
---the last byte sent, like `send` (`nil, err, errno, last` on failure).
---Unix sockets.
---@param data string
---@param opts? lsock.sendmsgopts
---@return integer? last
---@return string? err
---@return integer? errno
---@return integer? last_sent
function socket:sendmsg(data, opts) end

---`data, fds`: up to `max` bytes (default 65536; a whole message on dgram
---and seqpacket sockets, with a third result `true` when it was longer)
---and the descriptors that came with them (close-on-exec integers; wrap
---one with `lsock.fromfd`). Beyond `maxfds` (default 16, 0..253) they are
---closed. `fds.dropped` is `true` when the kernel dropped some because this
---process had no free descriptor (the bytes still arrive). Unix sockets.
---@param max? integer
---@param maxfds? integer
---@return string? data
---@return integer[]|string|nil fds_or_err
---@return true|integer|nil truncated_or_errno
function socket:recvmsg(max, maxfds) end

---`pid, uid, gid` of the peer as the kernel recorded them (`pid` is nil
---where only getpeereid exists). Unix sockets.
---@return integer? pid
---@return integer|string|nil uid_or_err
---@return integer? gid_or_errno
function socket:peercred() end

---`nil` or negative: no limit; 0: never wait. Mode "b" (default) limits
---each wait, "t" the whole call; both may be set, the tighter one wins.
---@param seconds? number
---@param mode? lsock.timeoutmode
---@return true
function socket:settimeout(seconds, mode) end

---@param how? lsock.shutdownmode "both" by default
---@return true? ok
---@return string? err
---@return integer? errno
function socket:shutdown(how) end

---Closes (idempotent); buffered input is dropped.
---@return true
function socket:close() end

---`addr, port, family` (unix: the path, "" when unnamed, "@name" for an
---abstract name; packet: `ifname, ethertype, "packet"`).
---@return string? addr_or_err
---@return integer? port_or_errno
---@return lsock.family? family
function socket:getsockname() end

---The peer's address, as getsockname.
---@return string? addr_or_err
---@return integer? port_or_errno
---@return lsock.family? family
function socket:getpeername() end

---The descriptor.
---@return integer? fd
---@return string? err
function socket:getfd() end

---The descriptor to poll (the polling protocol of cqueues-style loops).
---@return integer? fd
---@return string? err
function socket:pollfd() end

---@return lsock.family
function socket:family() end

---@return lsock.socktype
function socket:type() end

---Whether received data is buffered inside the socket, where a poller
---would not see it.
---@return boolean
function socket:dirty() end

---`received, sent, age, buffer`: bytes read and written, seconds since
---the socket was made, and the bytes its receive buffer holds now.
---@return integer received
---@return integer sent
---@return number age
---@return integer buffer
function socket:getstats() end

---Sets an option (an unknown name raises). One with no meaning for the
---family: `nil, "setoption NAME: protocol not available", ENOPROTOOPT`.
---@param name lsock.option
---@param value boolean|integer|string|lsock.membership
---@return true? ok
---@return string? err
---@return integer? errno
function socket:setoption(name, value) end

---An option's value.
---@param name lsock.option
---@return boolean|integer|string|nil value
---@return string? err
---@return integer? errno
function socket:getoption(name) end

---What the last operation that answered "timeout" waits for; nil when
---none is pending (`nil, "closed"` once closed).
---@return lsock.events? events
---@return string? err
function socket:events() end

---Seconds left until the deadline of the pending operation that answered
---"timeout"; nil when nothing waits with a deadline, 0 once it passed
---(`nil, "closed"` once closed).
---@return number? seconds
---@return string? err
function socket:timeout() end
