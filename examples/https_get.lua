-- A tiny HTTPS client: GET one URL with the server's certificate checked.
--
--   lua examples/https_get.lua https://host[:port]/path [ca-file]
--
-- lsock.tls verifies the certificate chain (against the system's
-- certificate store, or the CA file given) and the host name without
-- being asked; a server that fails the check is refused with the reason.
-- It prints the status line, the TLS version and the body's size, and
-- the body itself with LSOCK_SHOW_BODY=1. Bodies come with a
-- Content-Length, chunked, or up to the server's close_notify.
local tls = require "lsock.tls"

local url, cafile = arg[1], arg[2]
local host, port, path = (url or ""):match("^https://([^/:]+):?(%d*)(/?.*)$")
if not host then
  io.stderr:write("usage: lua examples/https_get.lua https://host[:port]/path [ca-file]\n")
  os.exit(2)
end
port = tonumber(port) or 443
path = path ~= "" and path or "/"

local function fail(what, err)
  io.stderr:write(what, ": ", tostring(err), "\n")
  os.exit(1)
end

local t, err = tls.connect(host, port, { ca = cafile, alpn = { "http/1.1" }, timeout = 10 })
if not t then fail("connect", err) end

local ok
ok, err = t:send(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: lsock\r\n\r\n"):format(path, host))
if not ok then fail("send", err) end

local status
status, err = t:receive("l")
if not status then fail("status line", err) end
local headers = {}
while true do
  local line
  line, err = t:receive("l", nil, 8192)
  if not line then fail("headers", err) end
  if line == "" then break end
  local name, value = line:match("^([^:]+):%s*(.-)%s*$")
  if name then headers[name:lower()] = value end
end

-- The body: at most 64 MiB, whichever way it is framed.
local MAX = 64 * 1024 * 1024
local body
if headers["transfer-encoding"] and headers["transfer-encoding"]:lower():find("chunked") then
  local parts = {}
  while true do
    local size_line
    size_line, err = t:receive("l", nil, 1024)
    local size = size_line and tonumber(size_line:match("^%x+"), 16)
    if not size or size > MAX then fail("chunk size", err or size_line) end
    if size == 0 then break end
    parts[#parts + 1], err = t:receive(size)
    if not parts[#parts] or t:receive("l") ~= "" then fail("chunk", err) end
  end
  body = table.concat(parts)
elseif headers["content-length"] then
  local n = tonumber(headers["content-length"])
  if not n or n > MAX then fail("content-length", headers["content-length"]) end
  body, err = t:receive(n)
else
  body, err = t:receive("a", nil, MAX)
end
if not body then fail("body", err) end

print(status)
print(("%s, %s, ALPN %s, %d bytes"):format(t:version(), t:cipher(), tostring(t:alpn()), #body))
if os.getenv("LSOCK_SHOW_BODY") == "1" then io.write(body) end
t:close()
