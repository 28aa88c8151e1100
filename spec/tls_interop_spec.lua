-- lsock.tls against other TLS implementations: an lsock client against
-- `openssl s_server`, an lsock server reached by `openssl s_client` and by
-- `curl`, with verification, protocol versions, ALPN, SNI, client
-- certificates and session resumption. Everything on 127.0.0.1.
--
-- Each external program runs under `timeout 20` with io.popen, without
-- the sanitizer runtimes a sanitized run preloads (curl hangs under
-- them); an s_server is started on a port found free (bound by lsock to port 0, then
-- closed), waited for until it prints ACCEPT, and killed after the spec.
-- A client program (s_client, curl) starts first, then the spec serves it
-- in this process with blocking calls that have timeouts, then reads what
-- the program printed.
local tls = require "lsock.tls"
local util = require "helpers.util"
local certs = require "helpers.certs"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must

local C -- the certificates (helpers.certs)

setup(function() C = certs.get() end)
teardown(function() certs.cleanup() end)

local q = util.quote
local HAVE_CURL = util.succeeds("command -v curl")
local it_curl = checks.it_if(HAVE_CURL, "no curl command here")

local function server_ctx(opts)
  return must(tls.context(util.merged({ mode = "server", cert = C.server.cert, key = C.server.key }, opts)))
end

-- ---- openssl s_server ---------------------------------------------------

local ossl = require "helpers.compat_openssl"

after_each(function() ossl.stop_all() end)

-- `openssl s_server` on 127.0.0.1 with the localhost certificate and the
-- extra arguments `args` (a string), accepting: a handle with port and
-- stop() (helpers/compat_openssl.lua).
local function s_server(args) return ossl.s_server(C, args) end

-- Connect an lsock client to 127.0.0.1:port with `opts` on top of "trust
-- the test CA (unless opts.context is given), timeout util.TIMEOUT, server
-- name localhost".
local function connect(port, opts)
  local base = { servername = "localhost", timeout = util.TIMEOUT }
  if not (opts and opts.context) then base.ca = C.ca.cert end
  return tls.connect("127.0.0.1", port, util.merged(base, opts))
end

-- An HTTP/1.0 GET on `t` (a client of s_server -www); returns all of the
-- answer (s_server may close with or without close_notify).
local function get(t)
  must(t:send("GET / HTTP/1.0\r\n\r\n"))
  local data, err, partial = t:receive("a")
  if data then return data end
  assert.equal("closed", err)
  return partial
end

-- ---- client programs ----------------------------------------------------

-- Start the shell command `cmd` under `timeout 20`, output and errors
-- together; returns a function that waits for it and returns its output.
local function start(cmd)
  local f = assert(io.popen("env -u LD_PRELOAD timeout 20 " .. cmd .. " 2>&1", "r"))
  local output
  return function()
    if output == nil then
      output = f:read("*a") or ""
      f:close()
    end
    return output
  end
end

-- A listener on 127.0.0.1 for a client program; returns it and its port.
local function listener()
  local l, port = util.listen("127.0.0.1")
  return track(l), port
end

-- Accept one connection and wrap it as a server end with `ctx`.
local function accept_tls(l, ctx)
  local conn = track(util.accept(l))
  return track(tls.wrap(conn, ctx))
end

-- `openssl s_client` to 127.0.0.1:port, trusting the test CA, sending
-- `input` and waiting for the server to close (-ign_eof); `args` extra.
local function s_client(port, input, args)
  return start(("printf %%s %s | openssl s_client -connect 127.0.0.1:%d -CAfile %s -verify_return_error -ign_eof %s")
    :format(q(input), port, q(C.ca.cert), args or ""))
end

-- What the server end `t` negotiated, taken before it is closed.
local function negotiated(t)
  return { servername = t:servername(), alpn = t:alpn(), version = t:version(),
    peercert = t:peercert() }
end

-- Serve one line-echo exchange on `t`: read a line, answer "lsock got
-- LINE\n", close_notify, close. Returns the line and what was negotiated.
local function answer(t)
  local line, err = t:receive("l")
  assert.is_string(line, "receive: " .. tostring(err))
  must(t:send("lsock got " .. line .. "\n"))
  local info = negotiated(t)
  t:shutdown()
  t:close()
  return line, info
end

describe("lsock.tls with other implementations", function()

  describe("an lsock client against openssl s_server", function()

    it("verifies the server and talks HTTP to s_server -www over TLS 1.3", function()
      local srv = s_server("-www -naccept 1")
      local t, err = connect(srv.port)
      assert.is_truthy(t, err)
      track(t)
      assert.same({ true }, { t:verified() })
      assert.equal("tls1.3", t:version())
      assert.equal("CN=localhost,O=lsock", t:peercert().subject)
      local page = get(t)
      assert.matches("^HTTP/1%.0 200 ok", page)
      assert.matches("TLSv1.3", page, 1, true)
    end)

    it("speaks TLS 1.2 to s_server -tls1_2", function()
      local srv = s_server("-www -naccept 1 -tls1_2")
      local t, err = connect(srv.port)
      assert.is_truthy(t, err)
      track(t)
      assert.equal("tls1.2", t:version())
      assert.matches("^HTTP/1%.0 200 ok", get(t))
    end)

    it("rejects s_server's certificate for another host name", function()
      local srv = s_server("-www -naccept 1")
      local t, err = connect(srv.port, { servername = "other.test" })
      assert.is_nil(t)
      assert.matches("^tls handshake: .*hostname mismatch", err)
    end)

    it("agrees on ALPN with s_server -alpn, the server's choice", function()
      local srv = s_server("-www -naccept 1 -alpn h2,http/1.1")
      local t, err = connect(srv.port, { alpn = { "http/1.1", "h2" } })
      assert.is_truthy(t, err)
      track(t)
      assert.equal("h2", t:alpn())
      local t2, err2 = connect(s_server("-www -naccept 1 -alpn h2,http/1.1").port, { alpn = { "http/1.1" } })
      assert.is_truthy(t2, err2)
      track(t2)
      assert.equal("http/1.1", t2:alpn())
    end)

    it("gets s_server's second certificate by asking for its name (SNI)", function()
      local srv = s_server(("-www -naccept 1 -servername other.test -cert2 %s -key2 %s")
        :format(q(C.other.cert), q(C.other.key)))
      local t, err = connect(srv.port, { servername = "other.test" })
      assert.is_truthy(t, err)
      track(t)
      assert.equal("CN=other.test,O=lsock", t:peercert().subject)
      assert.same({ true }, { t:verified() })
    end)

    it("presents a client certificate to s_server -Verify", function()
      local srv = s_server(("-www -naccept 1 -Verify 1 -verify_return_error -CAfile %s"):format(q(C.ca.cert)))
      local t, err = connect(srv.port, { cert = C.client.cert, key = C.client.key })
      assert.is_truthy(t, err)
      track(t)
      assert.matches("^HTTP/1%.0 200 ok", get(t))
      t:close()
      assert.matches("lsock client", srv.stop(), 1, true)
    end)

    -- Two connections with one context to an s_server started with `args`:
    -- whether each resumed.
    local function resumed_twice(args)
      local srv = s_server("-www -naccept 2 " .. args)
      local ctx = must(tls.context({ ca = C.ca.cert }))
      local resumed = {}
      for i = 1, 2 do
        local t, err = connect(srv.port, { context = ctx })
        assert.is_truthy(t, err)
        track(t)
        get(t) -- brings the session ticket
        resumed[i] = t:resumed()
        t:close()
      end
      return resumed
    end

    it("resumes its session with s_server on a second connection (TLS 1.3)", function()
      assert.same({ false, true }, resumed_twice(""))
    end)

    it("resumes its session with s_server on a second connection (TLS 1.2)", function()
      assert.same({ false, true }, resumed_twice("-tls1_2"))
    end)
  end)

  describe("an lsock server reached by openssl s_client", function()

    it("answers a verifying s_client over TLS 1.3", function()
      local l, port = listener()
      local wait = s_client(port, "hello from s_client\n", "-servername localhost -verify_hostname localhost")
      local t = accept_tls(l, server_ctx())
      local line, info = answer(t)
      assert.equal("hello from s_client", line)
      assert.equal("tls1.3", info.version)
      assert.equal("localhost", info.servername)
      local out = wait()
      assert.matches("lsock got hello from s_client", out, 1, true)
      assert.matches("Verify return code: 0 (ok)", out, 1, true)
      assert.matches("TLSv1.3", out, 1, true)
    end)

    it("answers s_client -tls1_2 over TLS 1.2", function()
      local l, port = listener()
      local wait = s_client(port, "v12\n", "-tls1_2")
      local t = accept_tls(l, server_ctx())
      local line, info = answer(t)
      assert.equal("v12", line)
      assert.equal("tls1.2", info.version)
      local out = wait()
      assert.matches("lsock got v12", out, 1, true)
      assert.matches("TLSv1.2", out, 1, true)
    end)

    it("sees the name s_client -servername asks for and serves its certificate (SNI)", function()
      local l, port = listener()
      local other = server_ctx({ cert = C.other.cert, key = C.other.key })
      local wait = s_client(port, "sni\n", "-servername other.test -verify_hostname other.test")
      local t = accept_tls(l, server_ctx({ sni = { ["other.test"] = other } }))
      local line, info = answer(t)
      assert.equal("sni", line)
      assert.equal("other.test", info.servername)
      local out = wait()
      assert.matches("CN = other.test", out, 1, true)
      assert.matches("Verify return code: 0 (ok)", out, 1, true)
    end)

    it("agrees on ALPN with s_client -alpn", function()
      local l, port = listener()
      local wait = s_client(port, "alpn\n", "-alpn x-other,h2")
      local t = accept_tls(l, server_ctx({ alpn = { "h2", "http/1.1" } }))
      local line, info = answer(t)
      assert.equal("alpn", line)
      assert.equal("h2", info.alpn)
      assert.matches("ALPN protocol: h2", wait(), 1, true)
    end)

    it("requires and checks the certificate of s_client -cert", function()
      local l, port = listener()
      local wait = s_client(port, "with cert\n",
        ("-cert %s -key %s"):format(q(C.client.cert), q(C.client.key)))
      local t = accept_tls(l, server_ctx({ verify = "require", ca = C.ca.cert }))
      local line, info = answer(t)
      assert.equal("with cert", line)
      assert.equal("CN=lsock client,O=lsock", info.peercert and info.peercert.subject)
      assert.matches("lsock got with cert", wait(), 1, true)
    end)

    it("rejects s_client without a certificate when it requires one", function()
      local l, port = listener()
      local wait = s_client(port, "no cert\n")
      local t = accept_tls(l, server_ctx({ verify = "require", ca = C.ca.cert }))
      local ok, err = t:handshake()
      assert.is_nil(ok)
      assert.matches("^tls handshake: .*certificate", err)
      t:close()
      assert.not_matches("lsock got", wait(), 1, true)
    end)
  end)

  describe("an lsock server reached by curl", function()

    -- Serve one HTTP request on `t`: read the head, answer `body`.
    local function http_answer(t, body)
      local head = {}
      for _ = 1, 100 do
        local line, err = t:receive("l")
        assert.is_string(line, "receive: " .. tostring(err))
        if line == "" then break end
        head[#head + 1] = line
      end
      must(t:send(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
        .. "Connection: close\r\n\r\n%s"):format(#body, body)))
      local info = negotiated(t)
      t:shutdown()
      t:close()
      return head, info
    end

    local function curl(port, args)
      return start(("curl -sS --resolve localhost:%d:127.0.0.1 --cacert %s %s https://localhost:%d/hello")
        :format(port, q(C.ca.cert), args or "", port))
    end

    it_curl("answers curl https://localhost:PORT/ with the CA trusted", function()
      local l, port = listener()
      local wait = curl(port)
      local t = accept_tls(l, server_ctx())
      local head, info = http_answer(t, "hello, curl\n")
      assert.equal("GET /hello HTTP/1.1", head[1])
      assert.equal("localhost", info.servername)
      assert.equal("hello, curl", (wait():gsub("%s+$", "")))
    end)

    it_curl("answers curl over TLS 1.2 with ALPN http/1.1", function()
      local l, port = listener()
      local wait = curl(port, "--tlsv1.2 --tls-max 1.2 --http1.1 -w ' %{http_version}'")
      local t = accept_tls(l, server_ctx({ alpn = { "http/1.1" } }))
      local _, info = http_answer(t, "twelve")
      assert.equal("tls1.2", info.version)
      assert.equal("http/1.1", info.alpn)
      assert.equal("twelve 1.1", wait())
    end)

    it_curl("is refused by curl that does not trust its CA, and says why", function()
      local l, port = listener()
      local wait = start(("curl -sS --resolve localhost:%d:127.0.0.1 https://localhost:%d/"):format(port, port))
      local t = accept_tls(l, server_ctx())
      local ok, err = t:handshake()
      assert.is_nil(ok)
      assert.matches("^tls handshake: .*unknown ca", err)
      assert.matches("curl: %(60%)", wait())
    end)
  end)
end)
