-- lsock.compat.ssl: LuaSec's `ssl` module (1.2) on lsock's TLS, for
-- scripts written for LuaSec: ssl.newcontext, ssl.wrap, and connections
-- with dohandshake, sni, getpeercertificate, getpeerverification,
-- getalpn, info, want, settimeout, receive, send, close.
--
-- The one difference on purpose: a client verifies the server, chain and
-- host name, unless the context says verify = "none" (LuaSec checks
-- nothing by default, and never the host name). The name checked is the
-- one given to conn:sni(), else the host the socket connected to by name,
-- else its peer's address.
local tls = require "lsock.tls"
local socket = require "lsock.compat"

local face = socket._face
local ssl = { _VERSION = "1.2.0 (lsock)" }

-- What tostring shows after the class name: the table's address.
local function address(t)
  return tostring(t):match("0x%x+") or tostring(t):match("%x+$")
end

-- ---- contexts ---------------------------------------------------------------

local VERSIONS = {
  any = {}, sslv23 = {}, tls = {},
  tlsv1_2 = { min_version = "tls1.2", max_version = "tls1.2" },
  tlsv1_3 = { min_version = "tls1.3", max_version = "tls1.3" },
}

local function list(v)
  if type(v) == "table" then return v end
  if v == nil then return {} end
  return { v }
end

local function has(t, name)
  for _, v in ipairs(t) do
    if v == name then return true end
  end
  return false
end

-- LuaSec's verify flags as lsock's verify option.
local function verify_option(mode, verify)
  local flags = list(verify)
  if mode == "server" then
    if not has(flags, "peer") then return "none" end
    return has(flags, "fail_if_no_peer_cert") and "require" or "optional"
  end
  -- A client verifies unless told "none" in so many words.
  if has(flags, "none") and not has(flags, "peer") then return false end
  return true
end

local Context = {}
Context.__index = Context
Context.__tostring = function(c) return "SSL context: " .. c.id end

-- newcontext(params): LuaSec's parameter table. Options that only tune
-- OpenSSL ("options", "depth", "curve", "dhparam", "verifyext", "dane")
-- are accepted and left to lsock's defaults (TLS 1.2 minimum, no
-- renegotiation, OpenSSL's curves).
function ssl.newcontext(params)
  if type(params) ~= "table" then
    error(("bad argument #1 to 'newcontext' (table expected, got %s)"):format(type(params)), 2)
  end
  local mode = params.mode
  if mode ~= "client" and mode ~= "server" then return nil, "invalid mode" end
  local protocol = params.protocol or "any"
  local versions = VERSIONS[protocol]
  if not versions then
    return nil, ("protocol '%s' is not supported (TLS 1.2 is the minimum)"):format(tostring(protocol))
  end
  local cert = params.certificates and params.certificates[1] or params
  local password = cert.password
  if type(password) == "function" then password = password() end
  if password ~= nil and type(password) ~= "string" then return nil, "invalid password type" end
  local alpn = params.alpn
  if type(alpn) == "function" then return nil, "an ALPN callback is not supported; give a list" end
  if type(alpn) == "string" then alpn = { alpn } end
  local opts = {
    mode = mode,
    cert = cert.certificate,
    key = cert.key,
    password = password,
    ca = params.cafile or params.capath,
    verify = verify_option(mode, params.verify),
    min_version = versions.min_version,
    max_version = versions.max_version,
    ciphers = params.ciphers,
    ciphersuites = params.ciphersuites,
    alpn = alpn,
  }
  local ok, ctx, err = pcall(tls.context, opts)
  if not ok then return nil, tostring(ctx):gsub("^.-%((.*)%)$", "%1") end
  if not ctx then return nil, (err:gsub("^tls context: ", "")) end
  local self = { ctx = ctx, mode = mode, opts = opts, sni_cache = setmetatable({}, { __mode = "k" }) }
  self.id = address(self)
  return setmetatable(self, Context)
end

-- ---- certificates -----------------------------------------------------------

-- RFC 2253 attribute names as LuaSec reports them (oid, long name).
local ATTRIBUTES = {
  CN = { "2.5.4.3", "commonName" },
  C = { "2.5.4.6", "countryName" },
  L = { "2.5.4.7", "localityName" },
  ST = { "2.5.4.8", "stateOrProvinceName" },
  O = { "2.5.4.10", "organizationName" },
  OU = { "2.5.4.11", "organizationalUnitName" },
  STREET = { "2.5.4.9", "streetAddress" },
  DC = { "0.9.2342.19200300.100.1.25", "domainComponent" },
  UID = { "0.9.2342.19200300.100.1.1", "userId" },
  emailAddress = { "1.2.840.113549.1.9.1", "emailAddress" },
  serialNumber = { "2.5.4.5", "serialNumber" },
}

-- "CN=a\,b,O=x" -> entries in certificate order (RFC 2253 lists the
-- last one first).
local function parse_name(text)
  local parts, cur, i = {}, {}, 1
  while i <= #text do
    local ch = text:sub(i, i)
    if ch == "\\" then
      local hex = text:match("^%x%x", i + 1)
      if hex then
        cur[#cur + 1] = string.char(tonumber(hex, 16))
        i = i + 3
      else
        cur[#cur + 1] = text:sub(i + 1, i + 1)
        i = i + 2
      end
    elseif ch == "," or ch == "+" then
      parts[#parts + 1] = table.concat(cur)
      cur = {}
      i = i + 1
    else
      cur[#cur + 1] = ch
      i = i + 1
    end
  end
  if #cur > 0 then parts[#parts + 1] = table.concat(cur) end
  local entries = {}
  for k = #parts, 1, -1 do
    local key, value = parts[k]:match("^([^=]+)=(.*)$")
    if key then
      local a = ATTRIBUTES[key] or { key, key }
      entries[#entries + 1] = { oid = a[1], name = a[2], value = value }
    end
  end
  return entries
end

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }

-- OpenSSL's way to print a time: "Dec  1 15:26:51 2026 GMT".
local function asn1_time(t)
  local d = os.date("!*t", t)
  return ("%s %2d %02d:%02d:%02d %d GMT"):format(MONTHS[d.month], d.day, d.hour, d.min, d.sec, d.year)
end

local Certificate = {}
Certificate.__index = Certificate
Certificate.__tostring = function(c) return "X509 certificate: " .. c.id end

local function new_certificate(t)
  if not t then return nil end
  local self = { t = t }
  self.id = address(self)
  return setmetatable(self, Certificate)
end

function Certificate:pem() return self.t.pem end
function Certificate:subject() return parse_name(self.t.subject) end
function Certificate:issuer() return parse_name(self.t.issuer) end
function Certificate:serial() return self.t.serial:upper() end
function Certificate:notbefore() return asn1_time(self.t.notbefore) end
function Certificate:notafter() return asn1_time(self.t.notafter) end

-- digest([algorithm]): hex; SHA-1 by default, as in LuaSec.
function Certificate:digest(alg)
  alg = alg or "sha1"
  if alg == "sha256" then return self.t.fingerprint end
  return require("lsock.core")._cert_digest(self.t.pem, alg)
end

-- validat(time): whether the certificate is valid at time (default now).
function Certificate:validat(t)
  t = t or os.time()
  return t >= self.t.notbefore and t <= self.t.notafter
end

-- extensions(): the subject alternative names, as LuaSec shapes them.
local SAN_KEYS = { DNS = "dNSName", IP = "iPAddress", email = "rfc822Name", URI = "uniformResourceIdentifier" }

function Certificate:extensions()
  local san = { name = "X509v3 Subject Alternative Name" }
  for _, entry in ipairs(self.t.san or {}) do
    local kind, value = entry:match("^([^:]+):(.*)$")
    local key = SAN_KEYS[kind]
    if key then
      san[key] = san[key] or {}
      san[key][#san[key] + 1] = value
    end
  end
  if next(san, nil) == "name" and next(san, "name") == nil then return {} end
  return { ["2.5.29.17"] = san }
end

-- ---- connections ------------------------------------------------------------

local Conn = {}
Conn.__index = Conn
Conn.__tostring = function(c) return "SSL connection: " .. c.id end

-- wrap(sock, context or params): a connection over a connected LuaSocket
-- face socket (or an lsock socket). The TLS stream is made at the
-- handshake, once conn:sni() may have named the server.
function ssl.wrap(sock, cfg)
  local ctx, err = cfg
  if getmetatable(cfg) ~= Context then
    if type(cfg) ~= "table" then
      error(("bad argument #2 to 'wrap' (context or table expected, got %s)"):format(type(cfg)), 2)
    end
    ctx, err = ssl.newcontext(cfg)
    if not ctx then return nil, err end
  end
  local native, host = sock, nil
  if type(sock) == "table" and sock.lsock then
    native, host = sock:lsock(), sock.host
    if not native then return nil, "closed" end
    sock.s = false -- the connection owns the socket from now on
  end
  local self = { ctx = ctx, sock = native, host = host }
  self.id = address(self)
  return setmetatable(self, Conn)
end

-- The TLS stream, made on first need.
local function stream(self)
  if self.t then return self.t end
  if self.failed then return nil, self.failed end
  local servername
  if self.ctx.mode == "client" then
    servername = self.name or self.host
    if not servername then servername = self.sock:getpeername() end
  end
  local ctx = self.ctx.ctx
  if self.sni_map then ctx = self.sni_map end
  local ok, t, err = pcall(tls.wrap, self.sock, ctx, servername)
  if not ok or not t then
    self.failed = ok and err or tostring(t)
    return nil, self.failed
  end
  self.t = t
  return t
end

local function want_of(t)
  local ev = t:events()
  if ev == "w" then return "wantwrite" end
  return "wantread"
end

-- dohandshake(): true, or false and "wantread"/"wantwrite" (would wait),
-- "closed", or what failed.
function Conn:dohandshake()
  local t, err = stream(self)
  if not t then return false, err end
  local ok, herr = t:handshake()
  if ok then return true end
  if herr == "timeout" then return false, want_of(t) end
  return false, (herr:gsub("^tls handshake: ", ""))
end

-- sni(name) on a client names the server; sni(names [, strict]) on a
-- server picks a context by the name the client sent.
function Conn:sni(arg, strict)
  if self.ctx.mode == "client" then
    if type(arg) ~= "string" then error("bad argument #1 to 'sni' (string expected)", 2) end
    self.name = arg
    return
  end
  if type(arg) ~= "table" then error("bad argument #1 to 'sni' (table expected)", 2) end
  local key = strict and "strict" or "lax"
  local cache = self.ctx.sni_cache[arg] or {}
  self.ctx.sni_cache[arg] = cache
  if cache[key] then
    self.sni_map = cache[key]
    return
  end
  local opts = {}
  for k, v in pairs(self.ctx.opts) do opts[k] = v end
  opts.sni = function(name)
    local c = arg[name]
    if c then return c.ctx end
    if strict then error("unknown server name " .. tostring(name)) end
  end
  self.sni_map = tls.context(opts)
  cache[key] = self.sni_map
end

function Conn:getsniname()
  return self.t and self.t:servername() or nil
end

local function io_result(t, ...)
  local v, err = ...
  if v == nil and err == "timeout" then return nil, want_of(t), select(3, ...) end
  return ...
end

function Conn:receive(pattern, prefix)
  local t, err = stream(self)
  if not t then return nil, err end
  return io_result(t, face.receive(t, pattern, prefix))
end

function Conn:send(data, i, j)
  local t, err = stream(self)
  if not t then return nil, err, 0 end
  return io_result(t, face.send(t, data, i, j))
end

-- LuaSec keeps LuaSocket's timeouts (see lsock.compat).
function Conn:settimeout(v, mode)
  v = tonumber(v) or -1
  if mode == "t" then self.tt = v else self.tb = v end
  face.timeouts(self.tb, self.tt, self.t or self.sock)
  return 1
end

function Conn:close()
  if self.t then self.t:close() else self.sock:close() end
  return 1
end

function Conn:getfd()
  local fd = (self.t or self.sock):getfd()
  return fd and fd >= 0 and fd or -1
end

function Conn:dirty()
  return (self.t or self.sock):dirty()
end

-- want(): what the last operation waits for.
function Conn:want()
  local ev = self.t and self.t:events()
  if ev == "r" then return "reading" end
  if ev == "w" then return "writing" end
  return "nothing"
end

function Conn:getpeercertificate(n)
  if not self.t then return nil end
  n = n or 1
  if n == 1 then return new_certificate(self.t:peercert()) end
  local chain = self.t:peerchain()
  return new_certificate(chain and chain[n])
end

function Conn:getpeerchain()
  if not self.t then return nil end
  local chain = {}
  for i, c in ipairs(self.t:peerchain() or {}) do chain[i] = new_certificate(c) end
  return chain
end

-- getpeerverification(): true, or false and why.
function Conn:getpeerverification()
  if not self.t then return false, "closed" end
  local ok, why = self.t:verified()
  if ok then return true end
  return false, why
end

function Conn:getalpn()
  return self.t and self.t:alpn() or nil
end

local PROTOCOLS = { ["tls1.2"] = "TLSv1.2", ["tls1.3"] = "TLSv1.3" }

-- Key sizes of the usual cipher names.
local function cipher_bits(name)
  if name:find("256") or name:find("CHACHA20") then return 256 end
  if name:find("128") then return 128 end
  return nil
end

-- info([field]): protocol, cipher, bits, ..., as LuaSec's info.
function Conn:info(field)
  if not self.t or not self.t:version() then return nil end
  local cipher = self.t:cipher()
  local bits = cipher_bits(cipher)
  local t = {
    protocol = PROTOCOLS[self.t:version()] or self.t:version(),
    cipher = cipher,
    bits = bits,
    algbits = bits,
    export = false,
  }
  if field then return t[field] end
  return t
end

-- received, sent, age; setstats moves the counters, as on sockets.
function Conn:getstats()
  return face.get_stats(self, self.t or self.sock)
end

function Conn:setstats(r, s, age)
  return face.set_stats(self, self.t or self.sock, r, s, age)
end

-- The lsock TLS stream inside (nil before the handshake).
function Conn:lsock()
  return self.t
end

ssl.context = Context
return ssl
