-- bench/tls.lua: one side of one TLS benchmark run, for one Lua library.
--
--   lua tls.lua LIB server WORKLOAD COUNT        prints its port, serves, prints "ok"
--   lua tls.lua LIB client WORKLOAD COUNT PORT   measures, checks, prints "ok SECONDS UNITS"
--
-- LIB       lsock | luasec | cqueues
-- WORKLOAD  tls_handshake  COUNT connections one after the other, each a new
--                          TCP connection to 127.0.0.1 and a full TLS 1.3
--                          handshake (no resumption); the server then sends
--                          a 16-byte message, which the client reads with
--                          receive(16) (cqueues: xread(16)) and compares, and
--                          both close with close_notify (cqueues: without,
--                          it has no call that sends one). UNITS: handshakes
--           tls_bulk       COUNT MiB over one TLS 1.3 connection: the server
--                          writes 64 KiB strings and closes with close_notify,
--                          the client reads with receive(65536) (cqueues:
--                          xread(65536)). UNITS: bytes
--
-- The certificates are in the directory $BENCH_TLS_DIR (default
-- bench/results/tls), made by bench/run.sh with the openssl command: ca.pem
-- (an ECDSA P-256 CA), server.pem and server.key (ECDSA P-256, CN and
-- subjectAltName localhost, plus IP 127.0.0.1). Every client verifies the
-- chain against ca.pem and the host name "localhost", which it also sends as
-- SNI; every connection is TLS 1.3 only (both sides' minimum and maximum),
-- with OpenSSL's default cipher suites and groups. Each library builds its
-- client and server context once and every connection shares it. What each
-- one does to verify:
--   lsock    tls.context{ca = ca.pem} verifies by default (chain and host
--            name, OpenSSL's X509_VERIFY_PARAM host check); tls.wrap(sock,
--            ctx, "localhost")
--   luasec   verify = "peer" (chain, SSL_VERIFY_PEER); LuaSec 1.2 has no host
--            name check, so the client compares "localhost" with the DNS
--            names of the peer certificate's subjectAltName in Lua after the
--            handshake (getpeercertificate():extensions())
--   cqueues  luaossl's context with VERIFY_PEER, an x509 store holding
--            ca.pem and a verify_param with setHost("localhost"), so that
--            OpenSSL checks the host name in the handshake
-- After each handshake the client checks what it got: TLS 1.3, the chain
-- verified, and (lsock) not resumed. The check costs about the same for all.
--
-- The clocks (lsock.monotime, LuaSocket's gettime for LuaSec,
-- cqueues.monotime): tls_handshake from before the first connect to after
-- the last close; tls_bulk from the end of the handshake to the last byte.
-- The bulk reader checks the length of every chunk, the content of the first
-- and the last (which ends with a marker), and that the stream ends right
-- after it. Every socket times out after 30 s.
--
-- Runs on Lua 5.1 to 5.4 and LuaJIT. Keep the constants in step with
-- bench/baseline_tls.c.

local HOST = "localhost"
local TIMEOUT = 30

local USAGE = "usage: tls.lua lsock|luasec|cqueues server|client tls_handshake|tls_bulk COUNT [PORT]"

local libname, role, workload, count_s, port_s = ...

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local common = require "common"
-- The bulk stream is common.lua's; MARK (its last 16 bytes) is also the
-- handshake workload's message.
local CHUNK, MARK = common.CHUNK, common.MARK
local fail, check = common.reporter(string.format("tls.lua %s %s %s", tostring(libname),
  tostring(role), tostring(workload)))
-- try("what", f()): check with every value f returned (v, err)
local function try(what, ...)
  return check((...), what, select(2, ...))
end

local certs = os.getenv("BENCH_TLS_DIR")
if not certs or certs == "" then certs = "bench/results/tls" end
local CA, CERT, KEY = certs .. "/ca.pem", certs .. "/server.pem", certs .. "/server.key"

local function readfile(path)
  local f = io.open(path, "rb")
  if not f then fail("cannot read %s (bench/run.sh makes it; BENCH_TLS_DIR)", path) end
  local s = f:read("*a")
  f:close()
  return s
end

-- Each library as the same small set of operations:
--   listen() -> server socket, port      accept(s, ctx) -> TLS stream, handshake done
--   connect(port, ctx) -> TLS stream, handshake done and checked
--   server_context(), client_context()   made once per process
--   sendall(t, data), close(t) (close_notify, then the socket)
-- The hot loops call the library's own read method directly
-- (`receive(t, n)`), so that the time is the library's.
local libs = {}

-- TCP on 127.0.0.1 in LuaSocket's API (lsock has the same)
local function tcp_like(tcp)
  local lib = {}
  function lib.listen()
    local s = tcp()
    try("bind", s:bind("127.0.0.1", 0))
    try("listen", s:listen(64))
    s:settimeout(TIMEOUT)
    local _, port = s:getsockname()
    return s, port
  end
  function lib.tcp_accept(s)
    local c = try("accept", s:accept())
    c:settimeout(TIMEOUT)
    return c
  end
  function lib.tcp_connect(port)
    local c = tcp()
    c:settimeout(TIMEOUT)
    try("connect", c:connect("127.0.0.1", tonumber(port)))
    return c
  end
  -- LuaSocket semantics: send returns the index of the last byte sent
  function lib.sendall(t, data)
    local i, n = 1, #data
    while i <= n do
      local last, err = t:send(data, i)
      if not last then fail("send: %s", tostring(err)) end
      i = last + 1
    end
  end
  return lib
end

libs.lsock = function()
  local core = common.lsock_core()
  -- lsock.tls is Lua (lua/lsock/tls.lua of this repository) over lsock.core
  package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
  local tls = require "lsock.tls"
  local lib = tcp_like(core.tcp)
  lib.clock = core.monotime
  function lib.server_context()
    return try("tls.context", tls.context({ mode = "server", cert = CERT, key = KEY,
      min_version = "tls1.3", max_version = "tls1.3" }))
  end
  function lib.client_context()
    -- verify defaults to true: the chain against ca and the host name;
    -- sessions = false: a full handshake every time, as the other sides
    -- make (they keep no sessions)
    return try("tls.context", tls.context({ mode = "client", ca = CA, min_version = "tls1.3",
      max_version = "tls1.3", sessions = false }))
  end
  function lib.accept(s, ctx)
    local t = tls.wrap(lib.tcp_accept(s), ctx)
    try("handshake", t:handshake())
    return t
  end
  function lib.connect(port, ctx)
    local t = tls.wrap(lib.tcp_connect(port), ctx, HOST)
    try("handshake", t:handshake())
    if t:version() ~= "tls1.3" then fail("negotiated %s, expected tls1.3", tostring(t:version())) end
    try("not verified", t:verified())
    if t:resumed() then fail("the session was resumed") end
    return t
  end
  function lib.close(t)
    t:close() -- close_notify (it goes at once here), then the socket
  end
  return lib
end

libs.luasec = function()
  local socket = require "socket"
  local ssl = require "ssl"
  local lib = tcp_like(socket.tcp)
  lib.clock = socket.gettime
  function lib.server_context()
    return try("ssl.newcontext", ssl.newcontext({ mode = "server", protocol = "tlsv1_3", key = KEY,
      certificate = CERT }))
  end
  function lib.client_context()
    return try("ssl.newcontext", ssl.newcontext({ mode = "client", protocol = "tlsv1_3", cafile = CA,
      verify = "peer" }))
  end
  local function wrap(c, ctx)
    local t = try("ssl.wrap", ssl.wrap(c, ctx))
    t:settimeout(TIMEOUT)
    return t
  end
  function lib.accept(s, ctx)
    local t = wrap(lib.tcp_accept(s), ctx)
    try("handshake", t:dohandshake())
    return t
  end
  -- LuaSec 1.2 checks the chain only: the host name is compared here with
  -- the DNS names of the certificate's subjectAltName (the certificate has
  -- no wildcard; a name is compared without regard to case).
  local SAN = "2.5.29.17"
  local function host_matches(cert)
    local ext = cert and cert:extensions()
    local names = ext and ext[SAN] and ext[SAN].dNSName
    for _, name in ipairs(names or {}) do
      if name:lower() == HOST then return true end
    end
    return false
  end
  function lib.connect(port, ctx)
    local t = wrap(lib.tcp_connect(port), ctx)
    t:sni(HOST)
    try("handshake", t:dohandshake())
    if t:getpeerverification() ~= true then fail("not verified") end
    if not host_matches(t:getpeercertificate()) then fail("certificate verify failed: hostname mismatch") end
    local info = t:info()
    if not info or info.protocol ~= "TLSv1.3" then
      fail("negotiated %s, expected TLSv1.3", tostring(info and info.protocol))
    end
    return t
  end
  function lib.close(t)
    t:close() -- SSL_shutdown (close_notify), then the socket
  end
  return lib
end

libs.cqueues = function()
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local context = require "openssl.ssl.context"
  local openssl_ssl = require "openssl.ssl"
  -- Outside a controller cqueues blocks in its own poll; reads go through
  -- xread, the documented call that returns nil at end of stream.
  local lib = { clock = cqueues.monotime, read = "xread" }
  local function tls13(ctx)
    ctx:setOptions(context.OP_NO_TLSv1)
    ctx:setOptions(context.OP_NO_TLSv1_1)
    ctx:setOptions(context.OP_NO_TLSv1_2)
    return ctx
  end
  function lib.server_context()
    local ctx = tls13(context.new("TLS", true))
    try("setCertificate", ctx:setCertificate(require("openssl.x509").new(readfile(CERT))))
    try("setPrivateKey", ctx:setPrivateKey(require("openssl.pkey").new(readfile(KEY))))
    return ctx
  end
  function lib.client_context()
    local ctx = tls13(context.new("TLS", false))
    local store = require("openssl.x509.store").new()
    store:add(CA)
    ctx:setStore(store)
    local param = require("openssl.x509.verify_param").new()
    try("setHost", param:setHost(HOST))
    ctx:setParam(param)
    ctx:setVerify(context.VERIFY_PEER)
    return ctx
  end
  local function setup(c)
    c:settimeout(TIMEOUT)
    c:setmode("b", "bn")
    return c
  end
  function lib.listen()
    local s = socket.listen("127.0.0.1", 0)
    s:settimeout(TIMEOUT)
    try("listen", s:listen())
    local _, _, port = s:localname()
    return s, port
  end
  function lib.accept(s, ctx)
    local c = setup(try("accept", s:accept()))
    try("handshake", c:starttls(ctx))
    return c
  end
  function lib.connect(port, ctx)
    local c = setup(socket.connect("127.0.0.1", tonumber(port)))
    try("connect", c:connect())
    local ssl = openssl_ssl.new(ctx)
    ssl:setHostName(HOST)
    try("handshake", c:starttls(ssl))
    if ssl:getVerifyResult() ~= 0 then fail("not verified") end
    if ssl:getVersion() ~= (openssl_ssl.TLS1_3_VERSION or 0x0304) then
      fail("negotiated version %s, expected TLS 1.3", tostring(ssl:getVersion()))
    end
    return c
  end
  function lib.sendall(c, data)
    try("write", c:xwrite(data, "bn"))
  end
  function lib.close(c)
    c:shutdown("w") -- close_notify
    c:close()
  end
  return lib
end

local WORKLOADS = { tls_handshake = true, tls_bulk = true }
if not (libname and libs[libname] and (role == "server" or role == "client")
    and WORKLOADS[workload] and count_s) then
  io.stderr:write(USAGE, "\n")
  os.exit(2)
end
local count = tonumber(count_s)
if not count or count < 1 or count % 1 ~= 0 then
  fail("bad COUNT '%s'", tostring(count_s))
end

local lib = libs[libname]()

local bulk_chunk = common.bulk_chunk

-- ---- server -------------------------------------------------------------

local function server()
  local ctx = lib.server_context()
  local s, port = lib.listen()
  io.stdout:write(tostring(port), "\n")
  io.stdout:flush()
  if workload == "tls_handshake" then
    for _ = 1, count do
      local t = lib.accept(s, ctx)
      lib.sendall(t, MARK)
      lib.close(t)
    end
  else
    local t = lib.accept(s, ctx)
    local chunk = bulk_chunk()
    for _ = 1, count * (1024 * 1024 / CHUNK) - 1 do
      lib.sendall(t, chunk)
    end
    lib.sendall(t, chunk:sub(1, CHUNK - #MARK) .. MARK)
    lib.close(t)
  end
  s:close()
  io.stdout:write("ok\n")
end

-- ---- client -------------------------------------------------------------

local got = common.got

local function handshakes(port, ctx)
  local clock = lib.clock
  local connect, close = lib.connect, lib.close
  local read = lib.read or "receive"
  local t0 = clock()
  for i = 1, count do
    local t = connect(port, ctx)
    local msg, err = t[read](t, #MARK)
    if msg ~= MARK then fail("connection %d: %s", i, got(msg, err)) end
    close(t)
  end
  local t1 = clock()
  return t1 - t0, count
end

local function read_bulk(port, ctx)
  local t = lib.connect(port, ctx)
  local receive = t[lib.read or "receive"]
  local secs = common.read_chunks(receive, t, count, lib.clock, fail)
  -- the server's close_notify: nil, "closed" (cqueues' xread: nil), no data
  local data, err, partial = receive(t, CHUNK)
  if data or (partial and partial ~= "") then fail("unexpected data after the end of the stream") end
  if err ~= nil and err ~= "closed" then fail("expected the end of the stream, got: %s", tostring(err)) end
  t:close()
  return secs, count * 1024 * 1024
end

local function client()
  if not port_s then fail("no PORT") end
  local ctx = lib.client_context()
  local secs, units
  if workload == "tls_handshake" then
    secs, units = handshakes(port_s, ctx)
  else
    secs, units = read_bulk(port_s, ctx)
  end
  io.stdout:write(string.format("ok %.6f %.0f\n", secs, units))
end

if role == "server" then server() else client() end
