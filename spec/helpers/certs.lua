--- Test certificates for the TLS specs, made at test time with the openssl
-- command-line tool in a temporary directory, once per process.
--
--   local certs = require "helpers.certs"
--   local c = certs.get()        -- makes them on the first call, raises
--                                -- "setup failed: ..." when openssl fails
--   c.ca.cert                    -- a path; c.ca.cert_pem is its text
--   certs.cleanup()              -- removes the directory (teardown); a later
--                                -- certs.get() makes a new set
--
-- Every item is a table { cert = path, key = path, cert_pem = text,
-- key_pem = text } and costs one openssl call (ECDSA P-256 keys):
--
-- * `ca`: the test CA, subject "CN=lsock test CA,O=lsock";
-- * `server`: "CN=localhost,O=lsock", SAN DNS:localhost, IP:127.0.0.1 and
--   IP:::1, signed by the CA, serial 0x1234abcd (`certs.SERVER_SERIAL`);
-- * `other`: "CN=other.test,O=lsock", SAN DNS:other.test, signed by the CA
--   (a second name for the SNI specs);
-- * `selfsigned`: like `server` (same names) but signed by its own key;
-- * `expired`: `selfsigned` signed again by the CA with a not-after date one
--   day before its not-before date, so it is expired from the start (req
--   refuses a negative -days, x509 -days -1 does not); same key as
--   `selfsigned`;
-- * `client`: "CN=lsock client,O=lsock", clientAuth, signed by the CA;
-- * `encrypted`: like `server` (signed by the CA, same names) with its key
--   encrypted under `certs.PASSWORD`.
--
-- And: `c.chain` (a file with the server cert then the CA cert: a server
-- that sends its chain), `c.cadir` (a directory with the CA under its
-- `openssl rehash` name), `c.dir` (the temporary directory).
--
-- This module does not depend on busted, so a child peer may use it to read
-- the paths it is given.
local certs = {}

certs.PASSWORD = "correct horse"
certs.SERVER_SERIAL = "1234abcd"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p and p:read("*a") or ""
  local ok = p and p:close()
  -- io.popen(...):close() gives true/nil on 5.2+, true always on 5.1
  -- (LuaJIT without 5.2 compat): the file the call must write is checked too.
  return ok, out
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local CONFIG = [[
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[localhost]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[other]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.test
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
]]

local cache

local function make()
  local base = os.tmpname()
  os.remove(base)
  local dir = base .. ".certs"
  local ok, out = run("mkdir -p " .. quote(dir .. "/cadir"))
  if not ok then error("setup failed: mkdir " .. dir .. ": " .. out, 3) end
  local c = { dir = dir }
  local cnf = dir .. "/openssl.cnf"
  write(cnf, CONFIG)

  local function check(name, path, cmd, output)
    if not read(path) then
      run("rm -rf " .. quote(dir))
      error(("setup failed: openssl could not make %s (%s):\n%s"):format(name, cmd, output), 4)
    end
  end
  local function item(name, opts)
    local cert, key = dir .. "/" .. name .. ".pem", dir .. "/" .. name .. ".key"
    local cmd = opts.cmd and opts.cmd(cert) or table.concat({
      "openssl req -x509 -config", quote(cnf), "-extensions", opts.ext,
      "-newkey ec -pkeyopt ec_paramgen_curve:P-256",
      opts.password and ("-passout pass:" .. quote(opts.password)) or "-noenc",
      "-keyout", quote(key), "-out", quote(cert),
      "-subj", quote(opts.subj), "-days", opts.days or "3650",
      "-set_serial", opts.serial,
      opts.signer and ("-CA " .. quote(opts.signer.cert) .. " -CAkey " .. quote(opts.signer.key)) or "",
    }, " ")
    local _, output = run(cmd)
    check(name, cert, cmd, output)
    if opts.key then key = opts.key end
    local t = { cert = cert, key = key }
    t.cert_pem, t.key_pem = read(cert), read(key)
    check(name .. " key", key, cmd, output)
    c[name] = t
    return t
  end

  local ca = item("ca", { ext = "ca", subj = "/O=lsock/CN=lsock test CA", serial = "1" })
  item("server", { ext = "localhost", subj = "/O=lsock/CN=localhost", signer = ca,
    serial = "0x" .. certs.SERVER_SERIAL, days = "365" })
  item("other", { ext = "other", subj = "/O=lsock/CN=other.test", signer = ca, serial = "2" })
  local ss = item("selfsigned", { ext = "localhost", subj = "/O=lsock/CN=localhost", serial = "3" })
  item("expired", { key = ss.key, cmd = function(path)
    return table.concat({ "openssl x509 -in", quote(ss.cert), "-CA", quote(ca.cert),
      "-CAkey", quote(ca.key), "-days -1 -set_serial 4 -out", quote(path) }, " ")
  end })
  item("client", { ext = "client", subj = "/O=lsock/CN=lsock client", signer = ca, serial = "5" })
  item("encrypted", { ext = "localhost", subj = "/O=lsock/CN=localhost", signer = ca,
    serial = "6", password = certs.PASSWORD, days = "365" })

  c.chain = dir .. "/chain.pem"
  write(c.chain, c.server.cert_pem .. c.ca.cert_pem)
  write(dir .. "/cadir/ca.pem", c.ca.cert_pem)
  c.cadir = dir .. "/cadir"
  local rok, rout = run("openssl rehash " .. quote(c.cadir))
  local _, hash = run("openssl x509 -noout -hash -in " .. quote(c.ca.cert))
  hash = hash:match("^(%x+)")
  if not (rok and hash and read(c.cadir .. "/" .. hash .. ".0")) then
    run("rm -rf " .. quote(dir))
    error("setup failed: openssl rehash " .. c.cadir .. ": " .. rout, 3)
  end
  return c
end

--- The certificates, made on the first call.
function certs.get()
  if not cache then cache = make() end
  return cache
end

--- Remove the directory of the certificates, if they were made.
function certs.cleanup()
  if cache then
    run("rm -rf " .. quote(cache.dir))
    cache = nil
  end
end

--- The SHA-256 fingerprint of the certificate file `path` as openssl prints
-- it, turned into lowercase hex without colons (nil if openssl fails).
function certs.fingerprint(path, digest)
  local _, out = run("openssl x509 -noout -fingerprint -" .. (digest or "sha256") .. " -in " .. quote(path))
  local hex = out:match("=([%x:]+)")
  return hex and hex:gsub(":", ""):lower()
end

--- Are the openssl tool and its req -x509 -CA (OpenSSL 3.0+) there?
function certs.available()
  local ok, out = run("openssl version")
  return ok and out:match("^OpenSSL (%d+)") and tonumber(out:match("^OpenSSL (%d+)")) >= 3, out
end

return certs
