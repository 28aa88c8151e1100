---@meta lsock
-- LuaLS annotations for `require "lsock"`: the pure-Lua layer, which
-- re-exports every public function of lsock.core and adds connecting and
-- listening by name or unix path, and ping. Definitions only (nothing here
-- runs); docs/reference.md is the full contract. spec/types_spec.lua checks
-- that every function here exists and every public one is here.
--
-- To use these annotations, add the types/ directory to the language server's
-- `Lua.workspace.library`.
--
-- Conventions of every annotation under types/: a runtime failure returns
-- `nil, err, errno` (`err` is "timeout", "closed" or the system's text with
-- context; `errno` a number of lsock.errno, or nil where there is none);
-- programmer errors (bad arguments, unknown names) raise.

---@alias lsock.family
---| "inet"   # IPv4
---| "inet6"  # IPv6
---| "unix"   # unix domain sockets (paths, "@name" for the Linux abstract namespace)
---| "packet" # Linux link-layer sockets

---@alias lsock.inetfamily "inet"|"inet6"

---@alias lsock.socktype "stream"|"dgram"|"seqpacket"|"raw"

---@alias lsock.unixtype "stream"|"dgram"|"seqpacket"

---A protocol number (0..255), or a name; for a "packet" socket an
---ethertype in host order (0x0800) or "all" (the default).
---@alias lsock.protocol integer|"tcp"|"udp"|"icmp"|"icmpv6"|"all"

---What lsock.select and pollers take: a socket, a TLS stream, an integer
---descriptor, or (select only) any object with a `getfd()` method (and
---`dirty()`), as LuaSocket's objects have.
---@alias lsock.selectable lsock.socket|lsock.tls|integer|table|userdata

---@class lsock.connectopts
---@field timeout? number          bounds the whole call (every attempt), then stays the socket's timeout
---@field family? lsock.inetfamily restricts the resolver's answers
---@field bind? table              `{addr, port}` (or `{addr=, port=}`): bind to this first
---@field nodelay? boolean         set TCP_NODELAY

---@class lsock.listenopts
---@field family? lsock.inetfamily the family of the wildcard "*" (default "inet") and of the answers
---@field backlog? integer         default SOMAXCONN
---@field reuseaddr? boolean       on unless false
---@field reuseport? boolean
---@field v6only? boolean          inet6 only

---@class lsock.unixlistenopts
---@field type? lsock.unixtype     "stream" (default), "dgram" (bound, not listening) or "seqpacket"
---@field backlog? integer
---@field mode? integer|string     the socket file's permissions (`"600"`), set before listen

---@class lsock.hints
---@field family? lsock.inetfamily
---@field type? "stream"|"dgram"|"raw"
---@field passive? boolean         answers for bind (a nil host is the wildcard)
---@field numeric? boolean         no DNS: numeric host and port only
---@field canonname? boolean       ask for the canonical name (on the first answer)

---@class lsock.addrinfo
---@field family lsock.inetfamily
---@field type lsock.socktype
---@field protocol integer
---@field addr string              numeric address
---@field port integer
---@field canonname? string        first entry only, when asked for and the resolver gives one

---@class lsock.nameinfoflags
---@field numerichost? boolean
---@field numericserv? boolean
---@field namereqd? boolean
---@field nofqdn? boolean
---@field dgram? boolean

local lsock = {}

---On LuaJIT: whether the hot stream methods (receive, recv, send) go
---through the FFI (the default; `LSOCK_FFI=0` in the environment turns it
---off). Always false on PUC Lua.
---@type boolean
lsock.ffi_enabled = false

---Error names to numbers: `lsock.errno.ECONNREFUSED`.
---@type lsock.errno
lsock.errno = {}

---TLS (lsock/tls.lua), loaded on first use: the same table as
---`require "lsock.tls"`.
lsock.tls = require "lsock.tls"

---A socket of any family and type. A combination the kernel refuses, or
---one the process may not open (a raw socket without root or
---CAP_NET_RAW: EPERM), is a failure: `nil, "socket: ...", errno`.
---@param family lsock.family
---@param type lsock.socktype
---@param protocol? lsock.protocol
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.socket(family, type, protocol) end

---`lsock.socket(family or "inet", "stream", "tcp")`.
---@param family? lsock.inetfamily
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.tcp(family) end

---`lsock.socket(family or "inet", "dgram", "udp")`.
---@param family? lsock.inetfamily
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.udp(family) end

---Two connected unix sockets of `type` ("stream" by default).
---@param type? lsock.unixtype
---@return lsock.socket? a
---@return lsock.socket|string|nil b the second socket, or the error message
---@return integer? errno
function lsock.socketpair(type) end

---Wraps an existing socket descriptor, which the object owns (and closes)
---from then on; it is made non-blocking and close-on-exec. `family` and
---`type` are read from the descriptor when omitted. Not a socket:
---`nil, "fromfd N: socket operation on non-socket", ENOTSOCK`.
---@param fd integer
---@param family? lsock.family
---@param type? lsock.socktype
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.fromfd(fd, family, type) end

---A unix socket of `type` ("stream" by default) connected to `path`
---("@name": the Linux abstract namespace). Failure: the connect error.
---@param path string
---@param type? lsock.unixtype
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.unix_connect(path, type) end

---A unix socket bound to `path`, listening unless `opts.type` is "dgram".
---A stale socket file (its server died) is replaced; a live socket, or a
---file that is not a socket, is left alone:
---`nil, "unix_listen PATH: address already in use", EADDRINUSE`.
---@param path string
---@param opts? lsock.unixlistenopts
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.unix_listen(path, opts) end

---A poller over "epoll" (Linux default), "kqueue" (BSD, macOS) or "poll".
---A backend not built here: `nil, "poller: backend 'kqueue' is not available here"`.
---@param backend? lsock.backend
---@return lsock.poller? poller
---@return string? err
---@return integer? errno
function lsock.poller(backend) end

---LuaSocket's `socket.select` over poll(2), with no limit on descriptor
---numbers. Each result is an array and a set at once (`t[sock]` is its
---index). Nothing ready within `timeout` (seconds; nil or negative:
---forever): `{}, {}, "timeout"`. Sockets with buffered input in `readers`
---are readable at once; closed sockets are ignored. (poll(2) failing
---otherwise than with EINTR: `nil, err, errno`.)
---@param readers? lsock.selectable[]
---@param writers? lsock.selectable[]
---@param timeout? number
---@return lsock.selectable[] readable
---@return lsock.selectable[] writable
---@return "timeout"? timeout
function lsock.select(readers, writers, timeout) end

---One ICMP (IPv4) or ICMPv6 echo: the round-trip time in seconds
---(lsock.icmp, loaded on first use).
---@param host string
---@param opts? lsock.pingopts
---@return number? seconds
---@return string? err
---@return integer? errno
function lsock.ping(host, opts) end

---A connected TCP socket. The resolver's answers race as RFC 8305 (Happy
---Eyeballs) says; the first to connect wins, otherwise the last error is
---returned. `port` may be a service name ("http").
---@param host string
---@param port integer|string
---@param opts? lsock.connectopts
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.connect(host, port, opts) end

---A listening TCP socket. `host` "*" (or nil) is the wildcard of
---`opts.family`; reuseaddr is on unless `opts.reuseaddr == false`.
---@param host? string
---@param port integer|string
---@param opts? lsock.listenopts
---@return lsock.socket? sock
---@return string? err
---@return integer? errno
function lsock.listen(host, port, opts) end

---The resolver's answers (inet and inet6 only). `host` may be nil (with
---`passive`) or "*"; `service` is a port number or a service name. Inside
---a coroutine of lsock.loop the lookup runs on a worker thread. Failure:
---`nil, "getaddrinfo <host>: <resolver text>"`.
---@param host? string
---@param service? integer|string
---@param hints? lsock.hints
---@return lsock.addrinfo[]? answers
---@return string? err
---@return integer? errno
function lsock.getaddrinfo(host, service, hints) end

---`host, service` for a numeric address (anything else raises); `port`
---defaults to 0. Failure: `nil, "getnameinfo <addr>: <resolver text>"`.
---@param addr string
---@param port? integer
---@param flags? lsock.nameinfoflags
---@return string? host
---@return string? service_or_err
function lsock.getnameinfo(addr, port, flags) end

---Wall-clock seconds since the epoch.
---@return number seconds
function lsock.gettime() end

---The host's name (gethostname(2)).
---@return string? name
---@return string? err
---@return integer? errno
function lsock.gethostname() end

---Monotonic clock seconds; every timeout uses this clock.
---@return number seconds
function lsock.monotime() end

---Blocks the thread for `seconds`; EINTR does not cut it short; zero or
---negative returns at once. (In a loop coroutine use `loop.sleep`.)
---@param seconds number
function lsock.sleep(seconds) end

---The C function behind `tls.context`: a context from an option table,
---or `nil, err` when a file or text cannot be loaded. Prefer `lsock.tls`.
---@param opts lsock.tlsoptions
---@return lsock.tlscontext? ctx
---@return string? err
function lsock.tls_context(opts) end

---The C function behind `tls.wrap`: it takes a context only (no option
---table). Prefer `lsock.tls`.
---@param sock lsock.socket
---@param ctx lsock.tlscontext
---@param servername? string
---@return lsock.tls? stream
---@return string? err
function lsock.tls_wrap(sock, ctx, servername) end

return lsock
