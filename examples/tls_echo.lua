-- A TLS line echo server and its clients on lsock.loop, in one script,
-- with certificates it makes itself (the openssl command is needed).
--
--   lua examples/tls_echo.lua [clients]     (default 20)
--
-- It makes a throwaway certificate authority and a certificate for
-- "localhost" signed by it, serves TLS on 127.0.0.1, and starts clients
-- that trust only that authority. Each client checks the chain and the
-- host name (lsock's default: nothing to ask for), sends lines and checks
-- the echo. All of them run at once; then one more client reconnects
-- three times with the same context, resuming the session each time (a
-- short handshake, without certificates) instead of making a full one.
local lsock = require "lsock"
local tls = require "lsock.tls"
local loop = require "lsock.loop"

local CLIENTS = tonumber(arg and arg[1]) or 20
local RECONNECTS = 3
local TIMEOUT = 10

local function say(fmt, ...) io.write((fmt):format(...), "\n") end

-- The certificates, in a fresh temporary directory.
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -m 700 " .. dir))
local function openssl(args)
  local ok = os.execute("openssl " .. args .. " >/dev/null 2>&1")
  if ok ~= true and ok ~= 0 then error("openssl " .. args .. ": failed (is the openssl command installed?)") end
end
openssl(("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=lsock-demo-CA "
  .. "-keyout %s/ca.key -out %s/ca.pem"):format(dir, dir))
openssl(("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
  .. "-keyout %s/server.key -out %s/server.csr"):format(dir, dir))
local ext = assert(io.open(dir .. "/ext.cnf", "w"))
ext:write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
ext:close()
openssl(("x509 -req -in %s/server.csr -CA %s/ca.pem -CAkey %s/ca.key -CAcreateserial -days 1 "
  .. "-extfile %s/ext.cnf -out %s/server.pem"):format(dir, dir, dir, dir, dir))

local server_ctx = assert(tls.context({ mode = "server", cert = dir .. "/server.pem", key = dir .. "/server.key" }))
local client_ctx = assert(tls.context({ ca = dir .. "/ca.pem" }))

local listener = assert(lsock.listen("127.0.0.1", 0))
listener:settimeout(TIMEOUT)
local _, port = listener:getsockname()
say("server:   TLS on 127.0.0.1:%d", port)

local stats = { ok = 0, failed = 0, lines = 0 }

-- One connection: the handshake, then every line back until the end.
local function serve(conn)
  local t = assert(tls.wrap(conn, server_ctx))
  local ok, err = t:handshake()
  while ok do
    local line = t:receive("L")
    if not line then break end
    ok = t:send(line)
  end
  if err then say("server:   %s", err) end
  t:close()
end

-- The acceptor, until the listener is closed.
loop.spawn(function()
  while true do
    local conn, err = listener:accept()
    if not conn then
      if err ~= "closed" then say("accept:   %s", err) end
      break
    end
    loop.spawn(serve, conn)
  end
end)

local function client(i)
  local t, err = tls.connect("localhost", port, { context = client_ctx, timeout = TIMEOUT })
  if not t then
    stats.failed = stats.failed + 1
    say("client %d: %s", i, err)
    return
  end
  if i == 1 then
    local cert = t:peercert()
    say("client 1: %s, %s, verified: %s", t:version(), t:cipher(), tostring(t:verified()))
    say("client 1: server certificate %s, issued by %s, names %s", cert.subject, cert.issuer,
      table.concat(cert.san, " "))
  end
  for k = 1, 3 do
    local line = ("line %d of client %d"):format(k, i)
    assert(t:send(line .. "\n"))
    local back = t:receive()
    if back ~= line then error(("client %d: sent %q, got %q"):format(i, line, tostring(back))) end
    stats.lines = stats.lines + 1
  end
  stats.ok = stats.ok + 1
  t:close()
end

-- Reconnecting: a client context keeps the sessions servers give it.
local function reconnect()
  local ctx = assert(tls.context({ ca = dir .. "/ca.pem" }))
  for i = 0, RECONNECTS do
    local t = assert(tls.connect("localhost", port, { context = ctx, timeout = TIMEOUT }))
    assert(t:send("hello\n") and t:receive() == "hello") -- the reply brings the session ticket
    say("connect %d: %s", i, t:resumed() and "resumed the session" or "full handshake")
    t:close()
  end
end

loop.spawn(function()
  local done = 0
  for i = 1, CLIENTS do
    loop.spawn(function()
      client(i)
      done = done + 1
    end)
  end
  while done < CLIENTS do loop.sleep(0.01) end
  say("clients:  %d ok, %d failed, %d lines echoed", stats.ok, stats.failed, stats.lines)
  reconnect()
  listener:close()
end)

assert(loop.run(60))
os.execute("rm -rf " .. dir)
if stats.ok ~= CLIENTS then os.exit(1) end
