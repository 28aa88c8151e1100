-- A smoke test of an installed rock, run by scripts/test.sh after
-- `luarocks make` into a throwaway tree:
--
--   LUA_PATH="TREE/share/lua/V/?.lua;TREE/share/lua/V/?/init.lua" \
--   LUA_CPATH="TREE/lib/lua/V/?.so" lua scripts/rock_smoke.lua TREE
--
-- It checks that lsock comes from TREE alone (no ";;", nothing of the
-- checkout), then uses what a rock user would first: a socketpair, a
-- poller, the loop, and a verified TLS exchange with certificates it makes
-- with the openssl command. Every wait has a limit. It prints one line
-- per check and exits 1 when any failed.
local tree = assert(arg and arg[1], "usage: rock_smoke.lua TREE")

local results = { passed = 0, failed = 0 }

-- Run one check: it returns what it did, or raises.
local function check(name, fn)
  local ok, said = pcall(fn)
  if ok then
    results.passed = results.passed + 1
    print(("ok: %s: %s"):format(name, said))
  else
    results.failed = results.failed + 1
    print(("FAILED: %s: %s"):format(name, tostring(said)))
  end
end

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

local lsock, loop, tls

check("installed copy", function()
  for _, p in ipairs({ package.path, package.cpath }) do
    for entry in p:gmatch("[^;]+") do
      assert(starts(entry, tree .. "/"), ("search path entry %q is outside %s"):format(entry, tree))
    end
  end
  lsock = require "lsock"
  loop = require "lsock.loop"
  tls = require "lsock.tls"
  local icmp = require "lsock.icmp"
  for name, fn in pairs({ lsock = lsock.connect, ["lsock.loop"] = loop.spawn, ["lsock.tls"] = tls.wrap,
                          ["lsock.icmp"] = icmp.ping }) do
    local src = debug.getinfo(fn, "S").source
    assert(starts(src, "@" .. tree .. "/"), ("%s loaded from %s"):format(name, src))
  end
  -- package.searchpath is 5.2+; on 5.1 the cpath check above is the proof.
  local searchpath, jit = rawget(package, "searchpath"), rawget(_G, "jit")
  local so = searchpath and searchpath("lsock.core", package.cpath) or "the tree's lsock/core.so"
  return ("%s, lsock.core from %s, on %s"):format(lsock._VERSION, so, jit and jit.version or _VERSION)
end)
if not lsock then
  print("rock smoke: the installed modules did not load")
  os.exit(1)
end

check("socketpair", function()
  local a, b = assert(lsock.socketpair())
  b:settimeout(2)
  assert(a:send("ping\n") == 5)
  local line, err = b:receive()
  a:close()
  b:close()
  assert(line == "ping", ("got %s, %s"):format(tostring(line), tostring(err)))
  return "a line from one end to the other"
end)

check("poller", function()
  local a, b = assert(lsock.socketpair())
  local p = assert(lsock.poller())
  local backend, seen = p:backend(), false
  assert(p:add(b, "r", "b"))
  for _ in p:wait(0) do error("readable before anything was sent") end
  assert(a:send("x"))
  for s, events, value in p:wait(2) do
    seen = s == b and events == "r" and value == "b"
  end
  p:close()
  a:close()
  b:close()
  assert(seen, "the socket was not reported readable within 2 s")
  return backend .. " poller: nothing before the send, the socket readable after it"
end)

check("loop", function()
  local a, b = assert(lsock.socketpair())
  a:settimeout(2)
  b:settimeout(2)
  local heard, answer
  loop.spawn(function()
    assert(a:send("hello\n"))
    answer = a:receive()
  end)
  loop.spawn(function()
    heard = assert(b:receive())
    assert(b:send(heard:upper() .. "\n"))
  end)
  local ok, err = loop.run(5)
  a:close()
  b:close()
  assert(ok, err)
  assert(heard == "hello" and answer == "HELLO",
    ("heard %s, answer %s"):format(tostring(heard), tostring(answer)))
  return "two coroutines exchanged a line over a socketpair, loop.run(5) ended"
end)

-- A CA and a certificate for localhost signed by it, in dir.
local function make_certs(dir)
  local function openssl(args)
    local cmd = ("openssl " .. args):gsub("DIR", function() return dir end)
    local ok = os.execute(cmd .. " >/dev/null 2>&1")
    if ok ~= true and ok ~= 0 then error("openssl " .. args .. ": failed") end
  end
  openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
    .. "-subj /CN=lsock-rock-CA -keyout DIR/ca.key -out DIR/ca.pem")
  openssl("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
    .. "-keyout DIR/server.key -out DIR/server.csr")
  local ext = assert(io.open(dir .. "/ext.cnf", "w"))
  ext:write("subjectAltName=DNS:localhost\n")
  ext:close()
  openssl("x509 -req -in DIR/server.csr -CA DIR/ca.pem -CAkey DIR/ca.key -CAcreateserial -days 1 "
    .. "-extfile DIR/ext.cnf -out DIR/server.pem")
end

local function tls_exchange(dir)
  make_certs(dir)
  local sctx = assert(tls.context({ mode = "server", cert = dir .. "/server.pem", key = dir .. "/server.key" }))
  local cctx = assert(tls.context({ ca = dir .. "/ca.pem" }))
  local a, b = assert(lsock.socketpair())
  local server = assert(tls.wrap(a, sctx))
  local client = assert(tls.wrap(b, cctx, "localhost"))
  server:settimeout(5)
  client:settimeout(5)
  local echoed, verified, why, version, serr, cerr
  loop.spawn(function()
    local line, _
    line, serr = server:receive()
    if line then _, serr = server:send(line .. "\n") end
    server:close()
  end)
  loop.spawn(function()
    local sent
    sent, cerr = client:send("hello over tls\n")
    if sent then echoed, cerr = client:receive() end
    verified, why = client:verified()
    version = client:version()
    client:close()
  end)
  local ok, err = loop.run(10)
  server:close()
  client:close()
  assert(ok, err)
  assert(echoed == "hello over tls", ("echo: %s (client: %s; server: %s)"):format(tostring(echoed),
    tostring(cerr), tostring(serr)))
  assert(verified == true, "verified(): " .. tostring(verified) .. ", " .. tostring(why))
  return version .. " handshake with a private CA, a line echoed, verified() true"
end

check("tls", function()
  local p = assert(io.popen("mktemp -d"))
  local dir = p:read("*l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  local ok, said = pcall(tls_exchange, dir)
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(said, 0) end
  return said
end)

print(("rock smoke: %d passed, %d failed"):format(results.passed, results.failed))
os.exit(results.failed == 0 and 0 or 1)
