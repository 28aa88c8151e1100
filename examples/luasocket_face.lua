-- A LuaSocket script run unchanged on lsock. The first line puts lsock's
-- LuaSocket face in place; everything after it is plain LuaSocket 3 code,
-- with LuaSocket's own socket.http and ltn12 from package.path (Debian's
-- lua-socket has them).
--
--   lua examples/luasocket_face.lua
--
-- It runs itself again as a child ("serve"): a tiny HTTP/1.0 server, a
-- LuaSocket script too, on 127.0.0.1 port 0. The parent fetches from it
-- with socket.http.request in both forms, then shows socket.select and
-- socket.dns.toip. Every wait is bounded; a failure ends it non-zero.
require("lsock.compat").install()

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local REQUESTS = 2   -- the server serves this many, then exits
local TIMEOUT = 5    -- seconds, for every wait

-- One line of output, flushed: the child's lines go down a pipe.
local function say(fmt, ...) io.write(fmt:format(...), "\n") io.flush() end
local function fail(msg) io.stderr:write("luasocket_face: ", msg, "\n") os.exit(1) end

-- ---- the server: this script, run with "serve" ------------------------------

local function serve()
  local server = assert(socket.bind("127.0.0.1", 0))
  -- An accept waits at most this long: the server ends even when the
  -- parent failed before its requests.
  server:settimeout(2 * TIMEOUT)
  local _, port = server:getsockname()
  say("port %d", port)   -- the parent waits for this line
  for _ = 1, REQUESTS do
    local conn, err = server:accept()
    if not conn then
      say("server:  accept: %s", err)
      break
    end
    conn:settimeout(TIMEOUT)
    local request = conn:receive("*l")
    local length = 0
    repeat   -- the headers, up to the empty line: only the body's length matters
      local line = conn:receive("*l")
      length = tonumber(line and line:lower():match("^content%-length:%s*(%d+)")) or length
    until not line or line == ""
    local body = length > 0 and conn:receive(length) or ""
    -- A GET gets a greeting, a POST its body back in capitals.
    local reply = (request or ""):match("^POST ") and body:upper() or "hello from a LuaSocket server"
    conn:send(("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s")
      :format(#reply, reply))
    conn:close()   -- HTTP/1.0: one request per connection
    say("server:  %s, %d body bytes", tostring(request), #body)
  end
  server:close()
end

if arg[1] == "serve" then return serve() end

-- ---- the client -------------------------------------------------------------

-- socket is lsock's face; socket.http is LuaSocket's own file, unchanged.
say("socket:  %s", socket._VERSION)
say("http:    %s", debug.getinfo(http.open, "S").short_src)
http.TIMEOUT = TIMEOUT

-- Run this script again the way it was run: the interpreter, its options
-- (-e, say) and the script are arg[most negative] .. arg[0].
local words, first = {}, 0
while arg[first - 1] ~= nil do first = first - 1 end
for i = first, 0 do words[#words + 1] = "'" .. arg[i]:gsub("'", "'\\''") .. "'" end
local child = assert(io.popen(table.concat(words, " ") .. " serve"))
local port = tonumber((child:read("*l") or ""):match("^port (%d+)$"))
if not port then fail("the server did not start") end
local base = ("http://127.0.0.1:%d/"):format(port)

-- The simple form: GET, the body as a string.
local body, code = http.request(base)
if code ~= 200 or body ~= "hello from a LuaSocket server" then
  fail(("GET: %s, %s"):format(tostring(code), tostring(body)))
end
say("GET:     %d, %d bytes: %s", code, #body, body)

-- The table form: a POST whose body comes from an ltn12 source, the answer
-- collected by an ltn12 sink.
local sent, chunks = "lsock speaks LuaSocket", {}
local ok, code2, _, status = http.request({
  url = base .. "upper", method = "POST",
  source = ltn12.source.string(sent),
  headers = { ["content-length"] = #sent, ["content-type"] = "text/plain" },
  sink = ltn12.sink.table(chunks),
})
local got = table.concat(chunks)
if ok ~= 1 or code2 ~= 200 or got ~= sent:upper() then fail(("POST: %s, %s"):format(tostring(code2), got)) end
say("POST:    %s, %d bytes: %s", status, #got, got)

-- The server has served its requests: show its lines and let it end.
io.write(child:read("*a"))
if not child:close() then fail("the server failed") end

-- socket.select over two UDP sockets: only the one sent to is ready.
local a, b = assert(socket.udp()), assert(socket.udp())
for _, u in ipairs({ a, b }) do
  u:settimeout(TIMEOUT)
  assert(u:setsockname("127.0.0.1", 0))
end
local bip, bport = b:getsockname()
assert(a:sendto("ping", bip, bport))
local ready, _, err = socket.select({ a, b }, nil, TIMEOUT)
if #ready ~= 1 or not ready[b] then fail("select: " .. tostring(err)) end
local dgram, ip, from = b:receivefrom()
say("select:  1 of 2 ready, the one sent to: %q from %s:%d", dgram, ip, from)
a:close()
b:close()

-- The resolver, in LuaSocket's words: the first IPv4 address and a table.
local addr, info = socket.dns.toip("localhost")
if not addr then fail("toip: " .. tostring(info)) end
say("toip:    localhost is %s (%s)", addr, table.concat(info.ip, ", "))
