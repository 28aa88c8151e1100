---@meta lsock.tls
-- LuaLS annotations for `require "lsock.tls"` (also `lsock.tls`): TLS over
-- OpenSSL 3 on stream sockets, its contexts (class lsock.tlscontext) and
-- its streams (class lsock.tls, the `__name` of a stream object; not to be
-- confused with this module's table). A client verifies by default: the
-- chain against the system's store (or `ca`) and the server's name;
-- `verify = false` is the one way out. Definitions only;
-- docs/reference.md is the full contract.
--
-- TLS's own failures are `nil, message` with no errno ("tls handshake:
-- ...", "tls receive: ...", "tls send: ..."); a system failure under TLS
-- keeps its errno.

---@alias lsock.tlsversion "tls1.2"|"tls1.3"

---@class lsock.tlsoptions
---@field mode? "client"|"server"        "client" by default
---@field cert? string                   a path or PEM text, the chain may follow (a server needs cert and key)
---@field key? string                    a path or PEM text
---@field password? string               of an encrypted key (lsock never prompts)
---@field ca? string                     trusted: a file, a hashed directory or PEM text (default: the system's)
---Client: true (default) or false ("none"): no check at all. Server:
---"none" (default), "optional" (check a certificate if sent), "require".
---@field verify? boolean|"none"|"optional"|"require"
---@field min_version? lsock.tlsversion  default "tls1.2"
---@field max_version? lsock.tlsversion  default "tls1.3"
---@field ciphers? string                OpenSSL's cipher list for TLS 1.2
---@field ciphersuites? string           the TLS 1.3 suites
---@field alpn? string[]                 protocol names, in order of preference
---@field sessions? boolean              keep sessions and resume with them (default true)
---Server: the context for the name the client asks for (exact names, then
---"*.example.com"), or a function that picks it (nil keeps this one).
---@field sni? table<string, lsock.tlscontext>|fun(name: string): lsock.tlscontext?

---@class lsock.tlsconnectopts: lsock.tlsoptions
---@field timeout? number                bounds the connect; the stream keeps it (so each handshake wait too)
---@field family? lsock.inetfamily
---@field servername? string             the name to send and check (default: host)
---@field context? lsock.tlscontext      a context instead of context options (reusing one resumes its sessions)

---A certificate as a table.
---@class lsock.cert
---@field subject string     RFC 2253 order: "CN=localhost,O=lsock"
---@field issuer string
---@field san string[]       "DNS:localhost", "IP:127.0.0.1", "email:...", "URI:..."
---@field serial string      lower-case hex
---@field notbefore integer  seconds since the epoch
---@field notafter integer
---@field fingerprint string the SHA-256, lower-case hex
---@field pem string

local tls = {}

---A context. A file or text that cannot be loaded: `nil, err`
---("tls context: key: bad decrypt"); an unknown option, a value of the
---wrong type or an impossible combination raises, naming the option.
---@param opts lsock.tlsoptions
---@return lsock.tlscontext? ctx
---@return string? err
function tls.context(opts) end

---A TLS stream over the connected stream socket `sock`, which it owns
---from then on (closing either closes both; the socket leaves every
---poller and its own I/O raises). A client context that verifies needs
---`servername`, or it raises. The handshake runs on the first I/O or
---`handshake()`.
---@param sock lsock.socket
---@param ctx_or_opts lsock.tlscontext|lsock.tlsoptions
---@param servername? string
---@return lsock.tls? stream
---@return string? err
function tls.wrap(sock, ctx_or_opts, servername) end

---`lsock.connect` + `wrap` + `handshake`, with `servername = host`.
---Without context options every call shares one default client context,
---so reconnecting resumes.
---@param host string
---@param port integer|string
---@param opts? lsock.tlsconnectopts
---@return lsock.tls? stream
---@return string? err
---@return integer? errno
function tls.connect(host, port, opts) end

---A TLS context (`__name` "lsock.tlscontext"): certificates, trust,
---versions, ALPN and the client's kept sessions. It has no methods; pass
---it to `tls.wrap`, `tls.connect` (`context`) or an `sni` table.
---@class lsock.tlscontext

---A TLS stream (`__name` "lsock.tls"). It has a stream socket's contract
---(the same patterns, `prefix`, `max`, partial results, timeouts,
---"timeout"/"closed"). A peer that closes without close_notify ends it
---like a reset. Inside lsock.loop the handshake and all I/O just wait.
---@class lsock.tls
local stream = {}

---Runs the handshake: `true`, or `nil, err` ("tls handshake: certificate
---verify failed: hostname mismatch", ...; "closed" when the peer left).
---Every later call gives the same failure. With timeout 0,
---`nil, "timeout"` and `events()` says "r" or "w".
---@return true? ok
---@return string? err
---@return integer? errno
function stream:handshake() end

---As a stream socket's `send`. A timed-out send must go on with the same
---data from `last_sent + 1`.
---@param data string
---@param i? integer
---@param j? integer
---@return integer? last
---@return string? err
---@return integer? errno
---@return integer? last_sent
function stream:send(data, i, j) end

---As a stream socket's `receive`.
---@param pattern? lsock.pattern
---@param prefix? string
---@param max? integer
---@return string? data
---@return string? err
---@return string? partial
function stream:receive(pattern, prefix, max) end

---What is there now, 1..`max` bytes (default 65536).
---@param max? integer
---@return string? data
---@return string? err
---@return integer? errno
function stream:recv(max) end

---A file's bytes, encrypted: the socket method of that name (read and
---sent in the process, since OpenSSL encrypts them).
---@param file string|file*|integer
---@param offset? integer
---@param count? integer
---@return integer? sent
---@return string? err
---@return integer? errno
---@return integer? sent_so_far
function stream:sendfile(file, offset, count) end

---The bytes before the next `delimiter`, which is consumed; the rules of
---the socket method of that name.
---@param delimiter string
---@param prefix? string
---@param max? integer
---@return string? data
---@return string? err
---@return string? partial
function stream:receiveuntil(delimiter, prefix, max) end

---Like `recv`, but the decrypted bytes stay buffered for the next read.
---@param max? integer
---@return string? data
---@return string? err
---@return integer? errno
function stream:peek(max) end

---As a socket's `settimeout`. A stream starts with its socket's timeout.
---@param seconds? number
---@param mode? lsock.timeoutmode
---@return true
function stream:settimeout(seconds, mode) end

---"send" and "both" (default) send close_notify first, then shut the
---socket down that way; "receive" only shuts the socket.
---@param how? lsock.shutdownmode
---@return true? ok
---@return string? err
---@return integer? errno
function stream:shutdown(how) end

---Sends close_notify if it can go without waiting, drops unread input,
---closes the socket; idempotent.
---@return true
function stream:close() end

---The socket's descriptor.
---@return integer? fd
---@return string? err
function stream:getfd() end

---The descriptor to poll.
---@return integer? fd
---@return string? err
function stream:pollfd() end

---What the last operation that answered "timeout" waits for (a read may
---need to write and the other way round).
---@return lsock.events? events
---@return string? err
function stream:events() end

---Seconds left until the pending operation's deadline, as a socket's.
---@return number? seconds
---@return string? err
function stream:timeout() end

---Whether decrypted input waits in the stream (lsock's buffer).
---@return boolean
function stream:dirty() end

---`received, sent, age, buffer`, as a socket's (the bytes of the stream,
---decrypted).
---@return integer received
---@return integer sent
---@return number age
---@return integer buffer
function stream:getstats() end

---The socket under the stream (`nil, "closed"` once closed).
---@return lsock.socket? sock
---@return string? err
function stream:socket() end

---The socket's `getsockname`.
---@return string? addr_or_err
---@return integer? port_or_errno
---@return lsock.family? family
function stream:getsockname() end

---The socket's `getpeername`.
---@return string? addr_or_err
---@return integer? port_or_errno
---@return lsock.family? family
function stream:getpeername() end

---The socket's `setoption`.
---@param name lsock.option
---@param value boolean|integer|string|lsock.membership
---@return true? ok
---@return string? err
---@return integer? errno
function stream:setoption(name, value) end

---The socket's `getoption`.
---@param name lsock.option
---@return boolean|integer|string|nil value
---@return string? err
---@return integer? errno
function stream:getoption(name) end

---The peer's certificate; nil before the handshake or without one.
---@return lsock.cert? cert
function stream:peercert() end

---The certificates the peer sent, its own first; nil before the handshake.
---@return lsock.cert[]? chain
function stream:peerchain() end

---`true`, or `false, reason` ("hostname mismatch", "no certificate", "no
---handshake yet", ...); told even when verification was off.
---@return boolean verified
---@return string? reason
function stream:verified() end

---The protocol agreed by ALPN, or nil.
---@return string? protocol
function stream:alpn() end

---"tls1.3" or "tls1.2"; nil before the handshake.
---@return lsock.tlsversion? version
function stream:version() end

---OpenSSL's name of the cipher; nil before the handshake.
---@return string? cipher
function stream:cipher() end

---Client: the name it asked for; server: the name the client sent (SNI),
---or nil.
---@return string? name
function stream:servername() end

---Whether the handshake resumed an earlier session.
---@return boolean
function stream:resumed() end

return tls
