-- fuzz/make_tls_seeds.lua: (re)makes fuzz/corpus/tls_server/'s seeds from
-- real client hellos: `openssl s_client` connects to a listener on
-- 127.0.0.1 that records what the client sends first and closes. For TLS
-- 1.3 and 1.2 (with SNI and ALPN, and without), plus truncations of each.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
--     lua5.4 fuzz/make_tls_seeds.lua [dir]
local lsock = require "lsock"

local dir = arg[1] or "fuzz/corpus/tls_server"

local function capture(args)
  local srv = assert(lsock.listen("127.0.0.1", 0))
  local _, port = srv:getsockname()
  srv:settimeout(5)
  -- s_client waits for the server's answer, which never comes: `timeout`
  -- ends it once the listener closed the connection (or after 5 s).
  os.execute(("timeout 5 openssl s_client -connect 127.0.0.1:%d %s </dev/null >/dev/null 2>&1 &")
    :format(port, args))
  local c = assert(srv:accept())
  c:settimeout(1)
  -- One record header (5 bytes) says how long the hello is.
  local head = assert(c:receive(5))
  local len = head:byte(4) * 256 + head:byte(5)
  local body = assert(c:receive(len))
  c:close()
  srv:close()
  return head .. body
end

local function write(name, data)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(data)
  f:close()
end

local hellos = {
  hello13 = "-tls1_3 -servername localhost -alpn h2,http/1.1",
  hello12 = "-tls1_2 -servername localhost",
  hello12_nosni = "-tls1_2 -noservername -cipher ECDHE-ECDSA-AES128-GCM-SHA256",
  hello13_noalpn = "-tls1_3 -noservername",
}
for name, args in pairs(hellos) do
  local h = capture(args)
  write(name, h)
  write(name .. "_cut5", h:sub(1, 5))
  write(name .. "_cut_half", h:sub(1, math.floor(#h / 2)))
  write(name .. "_cut_last", h:sub(1, #h - 1))
  print(name, #h)
end
-- Not TLS at all, and an alert record.
write("plain_http", "GET / HTTP/1.0\r\n\r\n")
write("alert", "\21\3\3\0\2\2\40")
write("empty", "")
