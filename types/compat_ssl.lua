---@meta lsock.compat.ssl
-- LuaLS annotations for `require "lsock.compat.ssl"` (after
-- `require("lsock.compat").install()`, also `require "ssl"`): LuaSec 1.2's
-- `ssl` module on lsock's TLS, its contexts
-- (lsock.compat.ssl.context), connections
-- (lsock.compat.ssl.connection) and certificates
-- (lsock.compat.ssl.certificate), all Lua tables. Definitions only:
-- LuaSec's manual describes each call, and the README's "LuaSocket and
-- LuaSec compatibility" lists where the face differs on purpose.
-- spec/types_spec.lua checks these annotations against the real table
-- and objects. (`_VERSION` is "1.2.0 (lsock)"; names with a leading
-- underscore are not annotated.)
--
-- The one difference on purpose: a client verifies the server, chain and
-- host name, unless the context says verify = "none". The name checked is
-- the one given to `conn:sni()`, else the host the socket connected to by
-- name, else the peer's address. Results are LuaSec's: `1` for settimeout,
-- close and setstats; I/O that would wait answers "wantread" or
-- "wantwrite" where LuaSocket says "timeout".

---@alias lsock.compat.ssl.verifyflag
---| "none" # a client checks nothing (said without "peer")
---| "peer" # check the peer (a server asks the client for a certificate)
---| "fail_if_no_peer_cert" # a server refuses a client without one
---| "client_once"

---@alias lsock.compat.ssl.protocol
---| "any"     # TLS 1.2 or 1.3 (the default); "sslv23" and "tls" are the same
---| "sslv23"
---| "tls"
---| "tlsv1_2" # TLS 1.2 only
---| "tlsv1_3" # TLS 1.3 only

---A certificate and its key, one entry of `certificates`.
---@class lsock.compat.ssl.certkey
---@field certificate string             a path or PEM text
---@field key string                     a path or PEM text
---@field password? string|fun(): string of an encrypted key

---LuaSec's context parameters.
---@class lsock.compat.ssl.params
---@field mode "client"|"server"
---@field protocol? lsock.compat.ssl.protocol
---@field certificate? string            a path or PEM text (a server needs one)
---@field key? string                    a path or PEM text
---@field password? string|fun(): string of an encrypted key (a function is called once)
---@field certificates? lsock.compat.ssl.certkey[] only the first is used
---@field cafile? string                 trusted certificates (default: the system's store)
---@field capath? string                 a hashed directory of them
---@field verify? lsock.compat.ssl.verifyflag|lsock.compat.ssl.verifyflag[]
---@field ciphers? string                OpenSSL's cipher list for TLS 1.2
---@field ciphersuites? string           the TLS 1.3 suites
---@field alpn? string|string[]          protocol names in order of preference (a function is refused)
---Accepted and left to lsock's defaults: options, depth, curve,
---curveslist, dhparam, verifyext, dane.
---@field options? string|string[]
---@field depth? integer

---An entry of a certificate's subject or issuer.
---@class lsock.compat.ssl.nameentry
---@field oid string    "2.5.4.3"
---@field name string   "commonName"
---@field value string

---What `conn:info()` gives.
---@class lsock.compat.ssl.info
---@field protocol string   "TLSv1.3", "TLSv1.2"
---@field cipher string     OpenSSL's name of the cipher
---@field bits? integer     the key size, where the cipher's name tells it
---@field algbits? integer
---@field export false

local ssl = {}

---The metatable of contexts (`getmetatable(ctx) == ssl.context`). LuaSec
---has its C context module here; this one has no functions.
---@type table
ssl.context = {}

---A context from LuaSec's parameters, or `nil, err`: "invalid mode",
---"protocol 'tlsv1' is not supported (TLS 1.2 is the minimum)", "invalid
---password type", a file or text that cannot be loaded (lsock's words,
---without "tls context: "), an option of the wrong type. Parameters that
---are not a table raise.
---@param params lsock.compat.ssl.params
---@return lsock.compat.ssl.context? ctx
---@return string? err
function ssl.newcontext(params) end

---A connection over `sock`, a connected object of the LuaSocket face (or
---an lsock socket), which it owns from then on (the face object is left
---without a socket). `cfg` is a context or parameters for one. Nothing is
---sent yet: the handshake runs at `dohandshake()` or the first I/O, so
---`sni()` may name the server first. Failure: `nil, err` (parameters that
---make no context; "closed" for a face object with no socket).
---@param sock lsock.compat.tcp|lsock.compat.unixstream|lsock.socket
---@param cfg lsock.compat.ssl.context|lsock.compat.ssl.params
---@return lsock.compat.ssl.connection? conn
---@return string? err
function ssl.wrap(sock, cfg) end

---A LuaSec context (`ssl.newcontext`). It has no methods: pass it to
---`ssl.wrap`, or in a table of names to a server connection's `sni`.
---`tostring(ctx)` is "SSL context: 0x...".
---@class lsock.compat.ssl.context

---A LuaSec connection (`ssl.wrap`), over an lsock TLS stream made at the
---handshake. Its receive and send have LuaSocket's rules and results
---(patterns, prefix, `nil, err, partial`), with "wantread" or
---"wantwrite" where a socket says "timeout". `tostring(conn)` is
---"SSL connection: 0x...".
---@class lsock.compat.ssl.connection
local conn = {}

---Runs the handshake: `true`, or `false, err` with `err` "wantread" or
---"wantwrite" (it would wait: call again when the socket is ready),
---"closed", or what failed ("certificate verify failed: hostname
---mismatch", ...). A failure is given again by every later call.
---@return boolean ok
---@return string? err
function conn:dohandshake() end

---Client: the server name to send and verify (before the handshake).
---Server: `names` maps server names to contexts, chosen by the name the
---client sends; with `strict` an unknown name fails the handshake (else
---this connection's context serves it). Returns nothing.
---@param name string
---@overload fun(self: lsock.compat.ssl.connection, names: table<string, lsock.compat.ssl.context>, strict?: boolean)
function conn:sni(name) end

---After the handshake: a client's server name, the name a server's
---client sent; else nil.
---@return string? name
function conn:getsniname() end

---Reads by LuaSocket's pattern ("*l" default, "*a", a count), `prefix`
---first: `data`, or `nil, err, partial` ("wantread"/"wantwrite" when it
---would wait, "closed", ...). Before the handshake it runs it first
---(a failure there: `nil, err`).
---@param pattern? lsock.compat.pattern
---@param prefix? string
---@return string? data
---@return string? err
---@return string? partial
function conn:receive(pattern, prefix) end

---Sends `data:sub(i, j)`: the index of the last byte sent, or
---`nil, err, last_sent` ("wantwrite"/"wantread" when it would wait; go
---on from `last_sent + 1` with the same data).
---@param data string|number
---@param i? integer
---@param j? integer
---@return integer? last
---@return string? err
---@return integer? last_sent
function conn:send(data, i, j) end

---LuaSocket's timeouts: block (mode "b", the default) or total ("t"), in
---seconds; nil or negative: none. `1`.
---@param value? number
---@param mode? lsock.compat.timeoutmode
---@return 1
function conn:settimeout(value, mode) end

---Closes the TLS stream (close_notify if it can go at once) or, before
---the handshake, the socket: `1`.
---@return 1
function conn:close() end

---The descriptor, or -1 once closed.
---@return integer fd
function conn:getfd() end

---Whether decrypted input waits inside the connection.
---@return boolean
function conn:dirty() end

---What the last operation that would wait waits for.
---@return "reading"|"writing"|"nothing"
function conn:want() end

---After the handshake, the `n`th certificate of the peer's chain (1, the
---default: the peer's own); else nil.
---@param n? integer
---@return lsock.compat.ssl.certificate? cert
function conn:getpeercertificate(n) end

---After the handshake, the certificates the peer sent, its own first
---(`{}` when it sent none); before it, nil.
---@return lsock.compat.ssl.certificate[]? chain
function conn:getpeerchain() end

---`true`, or `false, why` ("hostname mismatch", "no certificate",
---...; "closed" before the handshake); told even when verification was
---off.
---@return boolean ok
---@return string? why
function conn:getpeerverification() end

---The protocol agreed by ALPN, or nil.
---@return string? protocol
function conn:getalpn() end

---After the handshake, the table of protocol, cipher, bits, algbits and
---export, or its `field`; before it, nil.
---@param field? "protocol"|"cipher"|"bits"|"algbits"|"export"
---@return lsock.compat.ssl.info|string|integer|boolean|nil info
function conn:info(field) end

---`received, sent, age`: bytes read and written (decrypted, after the
---handshake) and seconds, counted from the last `setstats`.
---@return integer received
---@return integer sent
---@return number age
function conn:getstats() end

---Makes getstats count from `received, sent, age` now: `1`.
---@param received integer
---@param sent integer
---@param age number
---@return 1
function conn:setstats(received, sent, age) end

---The lsock TLS stream inside; nil before the handshake.
---@return lsock.tls? stream
function conn:lsock() end

---A certificate of the peer (`conn:getpeercertificate`,
---`conn:getpeerchain`), with LuaSec's methods. `tostring(cert)` is
---"X509 certificate: 0x...".
---@class lsock.compat.ssl.certificate
local cert = {}

---The certificate in PEM.
---@return string pem
function cert:pem() end

---The subject's entries in certificate order (RFC 2253 lists them the
---other way round).
---@return lsock.compat.ssl.nameentry[] entries
function cert:subject() end

---The issuer's entries, as `subject`.
---@return lsock.compat.ssl.nameentry[] entries
function cert:issuer() end

---The serial number, upper-case hex.
---@return string serial
function cert:serial() end

---The start of validity as OpenSSL prints it: "Dec  1 15:26:51 2026 GMT".
---@return string time
function cert:notbefore() end

---The end of validity, as `notbefore`.
---@return string time
function cert:notafter() end

---The digest of the certificate, lower-case hex: "sha1" by default (as in
---LuaSec), "sha256", or any other digest OpenSSL knows by name; an
---unknown one: `nil, "unknown digest algorithm 'NAME'"`.
---@param algorithm? string
---@return string? hex
---@return string? err
function cert:digest(algorithm) end

---Whether the certificate is valid at `time` (seconds since the epoch;
---default now).
---@param time? integer
---@return boolean
function cert:validat(time) end

---The subject alternative names as LuaSec shapes them:
---`{["2.5.29.17"] = {name = "X509v3 Subject Alternative Name",
---dNSName = {...}, iPAddress = {...}, rfc822Name = {...},
---uniformResourceIdentifier = {...}}}`, or `{}` without any.
---@return table<string, table> extensions
function cert:extensions() end

return ssl
