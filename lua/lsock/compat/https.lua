-- lsock.compat.https: LuaSec's `ssl.https` on lsock: https.request in
-- socket.http's two forms, and https.tcp(params), the connection maker
-- socket.http calls for https URLs. It needs LuaSocket's socket.http,
-- socket.url and ltn12 (pure Lua) on package.path, with lsock.compat
-- installed as `socket`.
--
-- The server is verified, chain and host name, against the system's
-- store or params.cafile/capath, unless params.verify is "none".
local socket = require "socket"
local ssl = require "ssl"
local http = require "socket.http"
local ltn12 = require "ltn12"
local url = require "socket.url"

local https = { PORT = 443, TIMEOUT = 60 }

-- Context parameters a request may carry, as LuaSec's https reads them.
local CONTEXT_KEYS = {
  "mode", "protocol", "key", "certificate", "certificates", "password", "cafile",
  "capath", "verify", "options", "ciphers", "ciphersuites", "alpn", "depth",
}

local function params_of(reqt)
  local params = { mode = "client", protocol = "any" }
  for _, k in ipairs(CONTEXT_KEYS) do
    if reqt[k] ~= nil then params[k] = reqt[k] end
  end
  params.mode = "client"
  return params
end

-- A socket-like object for socket.http: connect() connects, wraps and
-- shakes hands; everything else goes to the TLS connection.
local Conn = {}

function Conn.__index(self, name)
  local m = rawget(Conn, name)
  if m then return m end
  local target = rawget(self, "tls") or rawget(self, "sock")
  local f = target[name]
  if type(f) ~= "function" then return f end
  return function(_, ...) return f(target, ...) end
end

function Conn:settimeout(t, mode)
  self.timeout = { t, mode }
  return (rawget(self, "tls") or self.sock):settimeout(t, mode)
end

function Conn:connect(host, port)
  local ok, err = self.sock:connect(host, port)
  if not ok then return nil, err end
  local conn
  conn, err = ssl.wrap(self.sock, self.params)
  if not conn then return nil, err end
  conn:sni(host)
  conn:settimeout(https.TIMEOUT)
  ok, err = conn:dohandshake()
  if not ok then
    conn:close()
    return nil, err
  end
  if self.timeout then conn:settimeout(self.timeout[1], self.timeout[2]) end
  self.tls = conn
  return 1
end

function https.tcp(params)
  params = params_of(params or {})
  return function()
    local sock, err = socket.tcp()
    if not sock then return nil, err end
    return setmetatable({ sock = sock, params = params }, Conn)
  end
end

-- request(url [, body]) or request(reqt), as socket.http.request.
local function request(reqt, body)
  local simple = type(reqt) == "string"
  local target
  if simple then
    target = {}
    local t = { url = reqt, sink = ltn12.sink.table(target) }
    if body then
      t.source = ltn12.source.string(body)
      t.method = "POST"
      t.headers = {
        ["content-length"] = #body,
        ["content-type"] = "application/x-www-form-urlencoded",
      }
    end
    reqt = t
  end
  local parsed = url.parse(reqt.url or "", { scheme = "https" })
  if parsed.scheme ~= "https" then return nil, "wrong scheme" end
  if reqt.create then return nil, "create function not permitted" end
  -- As LuaSec: a redirect could leave TLS, a proxy would see the request.
  if reqt.redirect then return nil, "redirect not supported" end
  if reqt.proxy then return nil, "proxy not supported" end
  local req = {}
  for k, v in pairs(reqt) do req[k] = v end
  if not parsed.port and not req.port then req.port = https.PORT end
  req.create = https.tcp(reqt)
  local r, code, headers, status = http.request(req)
  if simple and r then return table.concat(target), code, headers, status end
  return r, code, headers, status
end

https.request = request
return https
