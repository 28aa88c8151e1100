---@meta lsock.compat.https
-- LuaLS annotations for `require "lsock.compat.https"` (after
-- `require("lsock.compat").install()`, also `require "ssl.https"`):
-- LuaSec's `ssl.https` on lsock. It requires "socket", "ssl" and
-- LuaSocket's pure-Lua socket.http, socket.url and ltn12, so the face must
-- be installed first and LuaSocket's Lua files be on package.path.
-- Definitions only; spec/types_spec.lua checks them against the real
-- module.
--
-- The server is verified, chain and host name, against the system's store
-- or the request's `cafile`/`capath`, unless the request says
-- `verify = "none"`. A request table may carry LuaSec's context
-- parameters (lsock.compat.ssl.params: protocol, key, certificate,
-- cafile, verify, alpn, ...) besides socket.http's fields.

local https = {}

---The port of a URL that names none (443).
---@type integer
https.PORT = 443

---Seconds each connection's handshake may take (60); the request's own
---timeout, if it set one, holds after it.
---@type number
https.TIMEOUT = 60

---socket.http.request over TLS, in its two forms. `request(url [, body])`
---(a POST when `body` is given): `body, code, headers, status`, or
---`nil, err`. `request(reqt)`: `1, code, headers, status` (the body went
---to `reqt.sink`), or `nil, err`. Refused: a URL that is not https
---(`nil, "wrong scheme"`), a `create` function ("create function not
---permitted"), `redirect` ("redirect not supported") and `proxy` ("proxy
---not supported"), as in LuaSec.
---@param url string
---@param body? string
---@return string|1|nil body_or_one
---@return integer|string|nil code_or_err
---@return table<string, string>? headers
---@return string? status
---@overload fun(reqt: table): 1?, integer|string|nil, table<string, string>?, string?
function https.request(url, body) end

---The `create` function socket.http calls for an https URL: each call
---makes a socket-like object (or `nil, err`) whose `connect(host, port)`
---connects a tcp object of the face, wraps it with the context from
---`params` (client mode whatever it says), names `host` by SNI and shakes
---hands (`1` or `nil, err`); its other methods go to the TLS connection
---(to the tcp object before it).
---@param params? lsock.compat.ssl.params|table
---@return fun(): table?, string? create
function https.tcp(params) end

return https
