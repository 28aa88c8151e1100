---@meta lsock.compat
-- LuaLS annotations for `require "lsock.compat"`: LuaSocket 3.1's `socket`
-- module on lsock. After `require("lsock.compat").install()` the same
-- table is `require "socket"` (and `socket.core`; its `unix` table is
-- `socket.unix`). Its objects are Lua tables with one metatable per
-- LuaSocket class; they are annotated as one class per kind,
-- lsock.compat.tcp, lsock.compat.udp, lsock.compat.unixstream and
-- lsock.compat.unixdgram, each saying which method needs which class.
-- Definitions only: LuaSocket 3.1's manual describes each call, and the
-- README's "LuaSocket and LuaSec compatibility" lists where the face
-- differs on purpose. spec/types_spec.lua checks these annotations
-- against the real table and objects. (`_VERSION`, "LuaSocket 3.1.0
-- (lsock ...)", and `_SETSIZE` are there as in LuaSocket; names with a
-- leading underscore are not annotated.)
--
-- LuaSocket's conventions, which the face keeps (and not lsock's): success
-- is the number `1` where LuaSocket returns 1; a failure is `nil, err`
-- with `err` in LuaSocket's words ("timeout", "closed", "connection
-- refused", "address already in use", "permission denied", "already
-- connected", else the C library's text) and no errno; a stream receive
-- or send that fails adds a third result, the partial data or the count
-- sent. A method called in a class that lacks it raises
-- `bad argument #1 to 'accept' (tcp{server} expected)`. Every object
-- also answers `lsock()`, the lsock socket inside; lsock.select takes the
-- objects as they are, and inside an lsock.loop coroutine a call that
-- would wait parks the coroutine.

---LuaSocket's receive patterns (the face takes these forms only).
---@alias lsock.compat.pattern
---| "*l"    # one line, its LF dropped and every CR in it too (the default)
---| "*a"    # everything until the peer closes; no byte at all: `nil, "closed", ""`
---| integer # exactly that many bytes (a numeric string too)

---@alias lsock.compat.timeoutmode
---| "b" # the block timeout (the default; "r" is the same); alone it limits the whole call
---| "r"
---| "t" # the total timeout of a call; with it, the block timeout limits each wait

---@alias lsock.compat.shutdownmode "both"|"send"|"receive"

---@alias lsock.compat.tcpoption
---| "keepalive"        # boolean
---| "linger"           # lsock.compat.linger
---| "reuseaddr"        # boolean
---| "reuseport"        # boolean
---| "tcp-nodelay"      # boolean
---| "tcp-keepidle"     # integer seconds
---| "tcp-keepcnt"      # integer
---| "tcp-keepintvl"    # integer seconds
---| "ipv6-v6only"      # boolean, set only
---| "send-buffer-size" # integer
---| "recv-buffer-size" # integer
---| "error"            # read only: the pending error's text, nil for none (reading clears it)

---@alias lsock.compat.udpoption
---| "broadcast"            # boolean
---| "dontroute"            # boolean
---| "reuseaddr"            # boolean
---| "reuseport"            # boolean
---| "ip-multicast-if"      # an interface address ("*": any)
---| "ip-multicast-ttl"     # integer, set only
---| "ip-multicast-loop"    # boolean
---| "ip-add-membership"    # lsock.compat.membership, set only
---| "ip-drop-membership"   # lsock.compat.membership, set only
---| "ipv6-unicast-hops"    # integer
---| "ipv6-multicast-hops"  # integer: the multicast hop limit (LuaSocket sets the unicast one)
---| "ipv6-multicast-loop"  # boolean
---| "ipv6-add-membership"  # lsock.compat.membership (interface: an index), set only
---| "ipv6-drop-membership" # lsock.compat.membership, set only
---| "ipv6-v6only"          # boolean
---| "send-buffer-size"     # integer
---| "recv-buffer-size"     # integer
---| "error"                # read only: the pending error's text, nil for none

---@alias lsock.compat.unixoption
---| "keepalive"        # boolean
---| "reuseaddr"        # boolean
---| "linger"           # lsock.compat.linger
---| "send-buffer-size" # integer
---| "recv-buffer-size" # integer
---| "error"            # read only: the pending error's text, nil for none

---The value of "linger": `{on = false, timeout = 0}` when it is off.
---@class lsock.compat.linger
---@field on boolean
---@field timeout number seconds

---The value of the membership options.
---@class lsock.compat.membership
---@field multiaddr string             the group, a numeric address
---@field interface? string|integer    inet: an interface address; inet6: an index; "*" or nil: any

---What toip and tohostname give after the address or name.
---@class lsock.compat.hostinfo
---@field name string      the canonical name (toip: the name asked for when the resolver gives none)
---@field alias string[]   always empty
---@field ip string[]      the addresses (tohostname: the one asked about)

---An answer of dns.getaddrinfo.
---@class lsock.compat.addrinfo
---@field family "inet"|"inet6"
---@field addr string

---An LTN12 sink over a socket (a callable table that socket.select also
---takes): a chunk is sent (`send`'s results); nil ends it (1;
---"close-when-done" closes the socket first).
---@alias lsock.compat.sink fun(chunk?: string, err?: string): integer?, string?, integer?

---An LTN12 source over a socket (a callable table that socket.select
---also takes): the next chunk of at most BLOCKSIZE bytes, nil at the end,
---or `nil, err`.
---@alias lsock.compat.source fun(): string?, string?

---`socket.unix` (also `require "socket.unix"` once installed): calling it
---is `unix.stream()`.
---@class lsock.compat.unix
---@overload fun(): lsock.compat.unixstream?, string?
---A unixstream{master} (its descriptor made at once), or `nil, err`.
---@field stream fun(): lsock.compat.unixstream?, string?
---A unixdgram{unconnected} (its descriptor made at once), or `nil, err`.
---@field dgram fun(): lsock.compat.unixdgram?, string?
---LuaSocket's other name for `stream`.
---@field tcp fun(): lsock.compat.unixstream?, string?
---LuaSocket's other name for `dgram`.
---@field udp fun(): lsock.compat.unixdgram?, string?

---`socket.dns`. A bad argument type raises; a name the resolver does not
---know is `nil, "host not found"` (toip, tohostname) or `nil, err` in
---LuaSocket's words ("host or service not provided, or not known").
---@class lsock.compat.dns
---`toip(name)`: the first IPv4 address and a hostinfo.
---@field toip fun(name: string): string?, lsock.compat.hostinfo|string|nil
---`tohostname(addr_or_name)`: the name the resolver gives for the address
---(a name is resolved to its first IPv4 address first) and a hostinfo.
---@field tohostname fun(addr: string): string?, lsock.compat.hostinfo|string|nil
---`getaddrinfo(host)`: every address of `host`, `{family=, addr=}` each.
---@field getaddrinfo fun(host: string): lsock.compat.addrinfo[]?, string?
---`getnameinfo(host [, port])`: the names of every address of `host`, and
---the service name of `port` when one was given; a nil host: `{}` and the
---service name.
---@field getnameinfo fun(host?: string, port?: integer|string): string[]?, string?
---`gethostname()`: this host's name, or `nil, err`.
---@field gethostname fun(): string?, string?

local socket = {}

---Bytes a `socket.source` asks for at a time (2048).
---@type integer
socket.BLOCKSIZE = 2048

---Unix domain objects (`socket.unix`, `require "socket.unix"`).
---@type lsock.compat.unix
socket.unix = {}

---Name lookups.
---@type lsock.compat.dns
socket.dns = {}

---The sink makers by mode: "close-when-done", "keep-open" and "default"
---(keep-open). `socket.sink` picks from here.
---@type table<string, fun(sock: lsock.compat.tcp|lsock.compat.unixstream): lsock.compat.sink>
socket.sinkt = {}

---The source makers by mode: "by-length" (`length` bytes), "until-closed"
---and "default" (until-closed, which closes the socket at the end).
---`socket.source` picks from here.
---@type table<string, fun(sock: lsock.compat.tcp|lsock.compat.unixstream, length?: integer): lsock.compat.source>
socket.sourcet = {}

---A tcp{master} with no descriptor yet: the first bind or connect picks
---the family from the resolver's answers (setoption and settimeout are
---kept until then). Never fails.
---@return lsock.compat.tcp sock
function socket.tcp() end

---A tcp{master} of IPv4, its descriptor made at once; or `nil, err`.
---@return lsock.compat.tcp? sock
---@return string? err
function socket.tcp4() end

---A tcp{master} of IPv6 (v6only set), its descriptor made at once; or
---`nil, err` (the system's words where there is no IPv6).
---@return lsock.compat.tcp? sock
---@return string? err
function socket.tcp6() end

---A udp{unconnected} with no descriptor yet (the first setsockname,
---setpeername or sendto picks the family). Never fails.
---@return lsock.compat.udp sock
function socket.udp() end

---A udp{unconnected} of IPv4; or `nil, err`.
---@return lsock.compat.udp? sock
---@return string? err
function socket.udp4() end

---A udp{unconnected} of IPv6 (v6only set); or `nil, err`.
---@return lsock.compat.udp? sock
---@return string? err
function socket.udp6() end

---A tcp{client} connected to `address:port`, bound to `laddress:lport`
---first when given; `family` "inet" or "inet6" restricts the answers
---(else each is tried in turn). Failure: `nil, err`, the object closed.
---@param address string
---@param port integer|string
---@param laddress? string
---@param lport? integer|string
---@param family? "inet"|"inet6"
---@return lsock.compat.tcp? sock
---@return string? err
function socket.connect(address, port, laddress, lport, family) end

---`socket.connect` over IPv4 only.
---@param address string
---@param port integer|string
---@param laddress? string
---@param lport? integer|string
---@return lsock.compat.tcp? sock
---@return string? err
function socket.connect4(address, port, laddress, lport) end

---`socket.connect` over IPv6 only.
---@param address string
---@param port integer|string
---@param laddress? string
---@param lport? integer|string
---@return lsock.compat.tcp? sock
---@return string? err
function socket.connect6(address, port, laddress, lport) end

---A tcp{server} bound to `host:port` ("*": every IPv4 address) with
---reuseaddr on, listening (backlog default 32): the first of the
---resolver's answers that binds. Failure: `nil, err`.
---@param host string
---@param port integer|string
---@param backlog? integer
---@return lsock.compat.tcp? server
---@return string? err
function socket.bind(host, port, backlog) end

---The objects of `recvt` ready to read and of `sendt` ready to write,
---each an array and a set at once (`t[sock]` is its index). Nothing
---ready within `timeout` (seconds; nil or negative: forever):
---`{}, {}, "timeout"`. Objects with buffered input are readable at once;
---closed ones are ignored; there is no limit on descriptor numbers.
---@param recvt? table
---@param sendt? table
---@param timeout? number
---@return table readable
---@return table writable
---@return "timeout"? err
function socket.select(recvt, sendt, timeout) end

---Wall-clock seconds since the epoch, with a fraction.
---@return number seconds
function socket.gettime() end

---Blocks for `seconds` (nothing for zero, negative or not a number).
---@param seconds number
function socket.sleep(seconds) end

---Its arguments after the first `d`: `select(d + 1, ...)`.
---@param d integer
---@param ... any
---@return any ...
function socket.skip(d, ...) end

---A `try` function: it returns its arguments when the first is truthy;
---else it calls `finalizer` (if any, its errors ignored) and raises an
---exception that a `socket.protect`ed function returns as `nil, err`
---(`err` the second argument).
---@param finalizer? fun()
---@return fun(...: any): ... try
function socket.newtry(finalizer) end

---`f` such that an exception raised by a `try` inside it comes back as
---`nil, err`; any other error is raised on.
---@param f function
---@return function protected
function socket.protect(f) end

---`socket.newtry()`: no finalizer.
---@param ... any
---@return any ...
function socket.try(...) end

---A function `(name, opt1, opt2)` that calls `t[name](opt1, opt2)`; a
---first argument that is not a string picks `t.default` with the
---arguments shifted; an unknown name raises "unknown key (name)".
---@param t table<string, function>
---@return fun(name?: string|any, opt1?: any, opt2?: any): ... chooser
function socket.choose(t) end

---An LTN12 sink of mode `mode` (a `sinkt` key, "default" when left out)
---sending to `sock`.
---@param mode string
---@param sock lsock.compat.tcp|lsock.compat.unixstream
---@return lsock.compat.sink sink
---@overload fun(sock: lsock.compat.tcp|lsock.compat.unixstream): lsock.compat.sink
function socket.sink(mode, sock) end

---An LTN12 source of mode `mode` (a `sourcet` key, "default" when left
---out) reading from `sock` ("by-length" takes `length`).
---@param mode string
---@param sock lsock.compat.tcp|lsock.compat.unixstream
---@param length? integer
---@return lsock.compat.source source
---@overload fun(sock: lsock.compat.tcp|lsock.compat.unixstream): lsock.compat.source
function socket.source(mode, sock, length) end

---Makes `require "socket"`, "socket.core" and "socket.unix" answer with
---this face, and puts loaders for "mime.core" (lsock.compat.mime), "ssl"
---(lsock.compat.ssl) and "ssl.https" (lsock.compat.https) in
---package.preload, in place of anything loaded under those names. Call it
---before anything requires "socket". Returns this table.
---@return table socket
function socket.install() end

---A LuaSocket tcp object. One class for LuaSocket's three, which share
---every method and take turns as the object changes: tcp{master} (from
---`socket.tcp`, `tcp4`, `tcp6`; it may `bind`, `connect`, `listen`),
---tcp{server} (after `listen`, from `socket.bind`; it may `accept`) and
---tcp{client} (after `connect`, from `socket.connect` and `accept`; it
---may `receive`, `send` and `shutdown`). The other methods work in every
---class. `tostring(sock)` is "tcp{client}: 0x...".
---@class lsock.compat.tcp
---@field class "tcp{master}"|"tcp{client}"|"tcp{server}" the object's LuaSocket class now
local tcp = {}

---Server: the next connection, a tcp{client} (blocking, no timeout of
---its own), or `nil, err` ("timeout" within this object's timeout).
---@return lsock.compat.tcp? client
---@return string? err
function tcp:accept() end

---Master: binds to `host:port` ("*": the wildcard; a name is resolved
---and each answer tried; port 0: an ephemeral one). `1` or `nil, err`.
---@param host string
---@param port integer|string
---@return 1? ok
---@return string? err
function tcp:bind(host, port) end

---Master: connects to `host:port`, trying the resolver's answers in
---turn: `1` (now a tcp{client}) or `nil, err`. With timeout 0 (or when it
---runs out): `nil, "timeout"`, and the connection goes on (the same call
---again, or select for writing, completes it). A failed connect leaves a
---master that may connect again. Called on a client or server:
---`nil, "already connected"`.
---@param host string
---@param port integer|string
---@return 1? ok
---@return string? err
function tcp:connect(host, port) end

---Master: listens (`backlog` default 32), and is a tcp{server} from
---then on: `1` or `nil, err`.
---@param backlog? integer
---@return 1? ok
---@return string? err
function tcp:listen(backlog) end

---Client: reads by `pattern` ("*l" by default), `prefix` first (with a
---count it counts toward it, so `receive(n, partial)` resumes):
---`data`, or `nil, err, partial` with `err` "timeout", "closed" or the
---system's words and `partial` what was read ("" for none).
---@param pattern? lsock.compat.pattern
---@param prefix? string
---@return string? data
---@return string? err
---@return string? partial
function tcp:receive(pattern, prefix) end

---Client: sends `data:sub(i, j)`: the index of the last byte sent, or
---`nil, err, last_sent` ("timeout", "closed", ...; go on with
---`send(data, last_sent + 1, j)`).
---@param data string|number
---@param i? integer
---@param j? integer
---@return integer? last
---@return string? err
---@return integer? last_sent
function tcp:send(data, i, j) end

---Client: shuts the connection down `how` ("both" by default): `1`.
---@param how? lsock.compat.shutdownmode
---@return 1
function tcp:shutdown(how) end

---Closes (idempotent): `1`.
---@return 1
function tcp:close() end

---Whether received data waits inside the object, where select's poll
---would not see it.
---@return boolean
function tcp:dirty() end

---"inet4" or "inet6" ("inet4" too while socket.tcp() has no descriptor).
---@return "inet4"|"inet6"
function tcp:getfamily() end

---The descriptor, or -1 (none yet, or closed).
---@return integer fd
function tcp:getfd() end

---Takes descriptor `fd` (this object's kept timeouts and options are set
---on it); -1 lets the current descriptor go without closing it. Nothing,
---or `nil, err` when `fd` is not a socket.
---@param fd integer
---@return nil
---@return string? err
function tcp:setfd(fd) end

---An option's value ("linger": a lsock.compat.linger), or
---`nil, "getsockopt failed"` (also before socket.tcp() has a descriptor).
---An unknown or set-only option raises.
---@param name lsock.compat.tcpoption
---@return any value
---@return string? err
function tcp:getoption(name) end

---Sets an option: `1`, or `nil, "setsockopt failed"` (LuaSocket's words
---for every failure). An unknown or read-only option, or a value of the
---wrong type, raises. Before socket.tcp() has a descriptor the option is
---kept and set then.
---@param name lsock.compat.tcpoption
---@param value boolean|number|lsock.compat.linger
---@return 1? ok
---@return string? err
function tcp:setoption(name, value) end

---The peer's `address, port, family` (the port a number), or `nil, err`
---(the system's words on a master or server).
---@return string? address_or_err
---@return integer? port
---@return "inet"|"inet6"|nil family
function tcp:getpeername() end

---The local `address, port, family` (the port a string, as LuaSocket
---reads it back with getnameinfo), or `nil, err` ("Bad file descriptor"
---before a descriptor, or once closed).
---@return string? address_or_err
---@return string? port
---@return "inet"|"inet6"|nil family
function tcp:getsockname() end

---`received, sent, age`: bytes read and written and seconds since the
---object was made, counted from the last `setstats`.
---@return integer received
---@return integer sent
---@return number age
function tcp:getstats() end

---Makes getstats count from `received, sent, age` now (a layer above
---accounts for bytes it handled): `1`.
---@param received integer
---@param sent integer
---@param age number
---@return 1
function tcp:setstats(received, sent, age) end

---`block, total`: the two timeouts, -1 for none.
---@return number block
---@return number total
function tcp:gettimeout() end

---Sets the block timeout (mode "b", the default, or "r") or the total
---one ("t"), in seconds; nil or negative: none. `1`.
---@param value? number
---@param mode? lsock.compat.timeoutmode
---@return 1
function tcp:settimeout(value, mode) end

---LuaSocket's other name for `connect`.
---@param host string
---@param port integer|string
---@return 1? ok
---@return string? err
function tcp:setpeername(host, port) end

---LuaSocket's other name for `bind`.
---@param host string
---@param port integer|string
---@return 1? ok
---@return string? err
function tcp:setsockname(host, port) end

---The lsock socket inside (`false` while socket.tcp() has no descriptor
---yet, or after ssl.wrap took it).
---@return lsock.socket|false sock
function tcp:lsock() end

---A LuaSocket udp object. One class for LuaSocket's two, which share
---every method and take turns: udp{unconnected} (from `socket.udp`,
---`udp4`, `udp6`; it may `setsockname`, `sendto`, `receivefrom`) and
---udp{connected} (after `setpeername`; it may `send`, `getpeername`).
---`receive` and the other methods work in both. A closed object answers
---`nil, "closed"`. `tostring(sock)` is "udp{connected}: 0x...".
---@class lsock.compat.udp
---@field class "udp{connected}"|"udp{unconnected}" the object's LuaSocket class now
local udp = {}

---Closes (idempotent): `1`.
---@return 1
function udp:close() end

---Whether a received datagram waits inside the object.
---@return boolean
function udp:dirty() end

---"inet4" or "inet6" ("inet4" too while socket.udp() has no descriptor).
---@return "inet4"|"inet6"
function udp:getfamily() end

---The descriptor, or -1 (none yet, or closed).
---@return integer fd
function udp:getfd() end

---As tcp:setfd.
---@param fd integer
---@return nil
---@return string? err
function udp:setfd(fd) end

---An option's value, or `nil, "getsockopt failed"`. An unknown or
---set-only option raises.
---@param name lsock.compat.udpoption
---@return any value
---@return string? err
function udp:getoption(name) end

---Sets an option: `1`, or `nil, "setsockopt failed"`. An unknown or
---read-only option, or a value of the wrong type, raises.
---@param name lsock.compat.udpoption
---@param value boolean|number|string|lsock.compat.membership
---@return 1? ok
---@return string? err
function udp:setoption(name, value) end

---Connected: the peer's `address, port, family`, or `nil, err`.
---@return string? address_or_err
---@return integer? port
---@return "inet"|"inet6"|nil family
function udp:getpeername() end

---The local `address, port, family` (the port a string), or `nil, err`.
---@return string? address_or_err
---@return string? port
---@return "inet"|"inet6"|nil family
function udp:getsockname() end

---`block, total`: the two timeouts, -1 for none.
---@return number block
---@return number total
function udp:gettimeout() end

---As tcp:settimeout: `1`.
---@param value? number
---@param mode? lsock.compat.timeoutmode
---@return 1
function udp:settimeout(value, mode) end

---One datagram, cut to `size` bytes when given (whole, up to 65535, by
---default), or `nil, err` ("timeout", "closed", ...).
---@param size? integer
---@return string? data
---@return string? err
function udp:receive(size) end

---Unconnected: one datagram and its sender, `data, address, port`, or
---`nil, err`.
---@param size? integer
---@return string? data
---@return string? address_or_err
---@return integer? port
function udp:receivefrom(size) end

---Connected: sends one datagram: its length, or `nil, err`.
---@param data string
---@return integer? sent
---@return string? err
function udp:send(data) end

---Unconnected: sends one datagram to `ip:port` (a numeric address only):
---the bytes sent, or `nil, err`.
---@param data string
---@param ip string
---@param port integer|string
---@return integer? sent
---@return string? err
function udp:sendto(data, ip, port) end

---Unconnected: connects to `host:port` and is a udp{connected}; `"*"`
---(on either class) forgets the peer and is a udp{unconnected}. `1`, or
---`nil, err`. Another host on a connected object raises.
---@param host string
---@param port? integer|string
---@return 1? ok
---@return string? err
function udp:setpeername(host, port) end

---Unconnected: binds to `host:port` ("*": the wildcard; port 0: an
---ephemeral one). `1`, or `nil, err`.
---@param host string
---@param port integer|string
---@return 1? ok
---@return string? err
function udp:setsockname(host, port) end

---The lsock socket inside (`false` while socket.udp() has no descriptor).
---@return lsock.socket|false sock
function udp:lsock() end

---A LuaSocket unix stream object (`socket.unix()`, `unix.stream()`). One
---class for unixstream{master} (it may `bind`, `connect`, `listen`),
---unixstream{server} (after `listen`; it may `accept`) and
---unixstream{client} (after `connect`, from `accept`; it may `receive`,
---`send`, `shutdown`). The other methods work in every class. A path
---that starts with a zero byte is in the Linux abstract namespace; one
---too long for the address is `nil, "path too long"`.
---@class lsock.compat.unixstream
---@field class "unixstream{master}"|"unixstream{client}"|"unixstream{server}" the object's LuaSocket class now
local unixstream = {}

---Server: the next connection, a unixstream{client}, or `nil, err`.
---@return lsock.compat.unixstream? client
---@return string? err
function unixstream:accept() end

---Master: binds to `path`: `1` or `nil, err`.
---@param path string
---@return 1? ok
---@return string? err
function unixstream:bind(path) end

---Master: connects to `path` and is a unixstream{client}: `1` or
---`nil, err` (on a client or server: `nil, "already connected"`).
---@param path string
---@return 1? ok
---@return string? err
function unixstream:connect(path) end

---Master: listens (`backlog` default 32) and is a unixstream{server}:
---`1` or `nil, err`.
---@param backlog? integer
---@return 1? ok
---@return string? err
function unixstream:listen(backlog) end

---Client: as tcp:receive, `data` or `nil, err, partial`.
---@param pattern? lsock.compat.pattern
---@param prefix? string
---@return string? data
---@return string? err
---@return string? partial
function unixstream:receive(pattern, prefix) end

---Client: as tcp:send, `last` or `nil, err, last_sent`.
---@param data string|number
---@param i? integer
---@param j? integer
---@return integer? last
---@return string? err
---@return integer? last_sent
function unixstream:send(data, i, j) end

---Client: shuts the connection down `how` ("both" by default): `1`.
---@param how? lsock.compat.shutdownmode
---@return 1
function unixstream:shutdown(how) end

---Closes (idempotent): `1`.
---@return 1
function unixstream:close() end

---Whether received data waits inside the object.
---@return boolean
function unixstream:dirty() end

---The descriptor, or -1 once closed.
---@return integer fd
function unixstream:getfd() end

---As tcp:setfd.
---@param fd integer
---@return nil
---@return string? err
function unixstream:setfd(fd) end

---The path bound ("" when none; an abstract name starts with a zero
---byte), or `nil, err`.
---@return string? path_or_err
function unixstream:getsockname() end

---As tcp:getstats: `received, sent, age`.
---@return integer received
---@return integer sent
---@return number age
function unixstream:getstats() end

---As tcp:setstats: `1`.
---@param received integer
---@param sent integer
---@param age number
---@return 1
function unixstream:setstats(received, sent, age) end

---Sets an option: `1`, or `nil, "setsockopt failed"`; an unknown option
---or a value of the wrong type raises.
---@param name lsock.compat.unixoption
---@param value boolean|number|lsock.compat.linger
---@return 1? ok
---@return string? err
function unixstream:setoption(name, value) end

---As tcp:settimeout: `1`.
---@param value? number
---@param mode? lsock.compat.timeoutmode
---@return 1
function unixstream:settimeout(value, mode) end

---LuaSocket's other name for `connect`.
---@param path string
---@return 1? ok
---@return string? err
function unixstream:setpeername(path) end

---LuaSocket's other name for `bind`.
---@param path string
---@return 1? ok
---@return string? err
function unixstream:setsockname(path) end

---The lsock socket inside (`false` after ssl.wrap took it).
---@return lsock.socket|false sock
function unixstream:lsock() end

---A LuaSocket unix datagram object (`unix.dgram()`). One class for
---unixdgram{unconnected} (it may `bind`, `sendto`, `receivefrom`) and
---unixdgram{connected} (after `connect`; it may `send`); `connect`,
---`receive` and the other methods work in both. Paths as unixstream's.
---@class lsock.compat.unixdgram
---@field class "unixdgram{connected}"|"unixdgram{unconnected}" the object's LuaSocket class now
local unixdgram = {}

---Unconnected: binds to `path`: `1` or `nil, err`.
---@param path string
---@return 1? ok
---@return string? err
function unixdgram:bind(path) end

---Connects to `path` and is a unixdgram{connected}; `"*"` forgets the
---peer and is a unixdgram{unconnected}. `1` or `nil, err`.
---@param path string
---@return 1? ok
---@return string? err
function unixdgram:connect(path) end

---Closes (idempotent): `1`.
---@return 1
function unixdgram:close() end

---Whether a received datagram waits inside the object.
---@return boolean
function unixdgram:dirty() end

---The descriptor, or -1 once closed.
---@return integer fd
function unixdgram:getfd() end

---As tcp:setfd.
---@param fd integer
---@return nil
---@return string? err
function unixdgram:setfd(fd) end

---The path bound ("" when none), or `nil, err`.
---@return string? path_or_err
function unixdgram:getsockname() end

---`block, total`: the two timeouts, -1 for none.
---@return number block
---@return number total
function unixdgram:gettimeout() end

---As tcp:settimeout: `1`.
---@param value? number
---@param mode? lsock.compat.timeoutmode
---@return 1
function unixdgram:settimeout(value, mode) end

---One datagram, cut to `size` bytes when given (whole by default), or
---`nil, err`.
---@param size? integer
---@return string? data
---@return string? err
function unixdgram:receive(size) end

---Unconnected: one datagram and the sender's path ("" when unnamed), or
---`nil, err`.
---@param size? integer
---@return string? data
---@return string? path_or_err
function unixdgram:receivefrom(size) end

---Connected: sends one datagram: its length, or `nil, err`.
---@param data string
---@return integer? sent
---@return string? err
function unixdgram:send(data) end

---Unconnected: sends one datagram to `path`: the bytes sent, or
---`nil, err`.
---@param data string
---@param path string
---@return integer? sent
---@return string? err
function unixdgram:sendto(data, path) end

---Sets an option: `1`, or `nil, "setsockopt failed"`; an unknown option
---or a value of the wrong type raises.
---@param name lsock.compat.unixoption
---@param value boolean|number|lsock.compat.linger
---@return 1? ok
---@return string? err
function unixdgram:setoption(name, value) end

---LuaSocket's other name for `connect`.
---@param path string
---@return 1? ok
---@return string? err
function unixdgram:setpeername(path) end

---LuaSocket's other name for `bind`.
---@param path string
---@return 1? ok
---@return string? err
function unixdgram:setsockname(path) end

---The lsock socket inside.
---@return lsock.socket|false sock
function unixdgram:lsock() end

return socket
