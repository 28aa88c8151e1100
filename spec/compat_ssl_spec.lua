-- LuaSec-style code (`local ssl = require "ssl"`: ssl.wrap over a LuaSocket
-- tcp object, sni, dohandshake, the certificate and connection methods
-- scripts call), run on each implementation of helpers.compat:
-- "luasocket" (Debian's LuaSocket 3.1 and LuaSec 1.2: the reference) and
-- "lsock" (lsock.compat and lsock.compat.ssl).
--
-- The peers are the openssl programs on 127.0.0.1
-- (helpers.compat_openssl): `s_server -www` for the client side, `s_client`
-- for the server side (ssl.newcontext in server mode). Every socket has a
-- timeout, the non-blocking handshake loop a deadline, the programs run
-- under `timeout 20`.
--
-- Where the two implementations differ by design (host name checking),
-- the cases say which side they pin down in their names.
local util = require "helpers.util"
local certs = require "helpers.certs"
local compat = require "helpers.compat"
local ossl = require "helpers.compat_openssl"

local C -- the certificates (helpers.certs)

setup(function() C = certs.get() end)
teardown(function() certs.cleanup() end)
after_each(function() ossl.stop_all() end)

local TIMEOUT = 5

for _, impl in ipairs(compat.impls) do
  describe(impl .. ": ssl", function()
    local socket, ssl
    local opened = {}

    setup(function()
      socket = compat.load(impl)
      ssl = compat.require(impl, "ssl")
    end)

    after_each(function()
      for i = #opened, 1, -1 do
        pcall(opened[i].close, opened[i])
        opened[i] = nil
      end
    end)

    local function track(x)
      if x then opened[#opened + 1] = x end
      return x
    end

    -- LuaSec client parameters: verify the peer against the test CA,
    -- `extra` on top.
    local function params(extra)
      local p = { mode = "client", protocol = "any", verify = "peer", cafile = C.ca.cert, options = "all" }
      for k, v in pairs(extra or {}) do p[k] = v end
      return p
    end

    -- A LuaSocket tcp object connected to 127.0.0.1:port.
    local function tcp(port)
      local sock = track(assert(socket.tcp()))
      sock:settimeout(TIMEOUT)
      local ok, err = sock:connect("127.0.0.1", port)
      assert.equal(1, ok, "connect: " .. tostring(err))
      return sock
    end

    -- Connect to port, wrap with `p`, ask for `sni` (nil: none), shake
    -- hands (blocking); returns the connection and dohandshake's results.
    local function connect(port, p, sni)
      local sock = tcp(port)
      local conn, err = ssl.wrap(sock, p)
      assert.is_truthy(conn, "wrap: " .. tostring(err))
      track(conn)
      if sni then conn:sni(sni) end
      conn:settimeout(TIMEOUT)
      return conn, conn:dohandshake()
    end

    -- An HTTP/1.0 GET on conn (a client of s_server -www): the status line.
    local function get(conn)
      assert.equal(18, conn:send("GET / HTTP/1.0\r\n\r\n"))
      return conn:receive("*l")
    end

    it("runs on " .. impl .. "'s ssl module", function()
      local src = debug.getinfo(ssl.wrap, "S").source
      if impl == "luasocket" then
        assert.matches("^@/usr/share/lua/[%d.]+/ssl%.lua$", src)
      else
        assert.matches("lua/lsock/compat/ssl%.lua$", src)
      end
      assert.equal(ssl, package.loaded.ssl)
    end)

    describe("a client of openssl s_server", function()
      it("verifies s_server and talks HTTP over it, blocking", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, params(), "localhost")
        assert.is_true(ok, tostring(err))
        assert.is_true(conn:getpeerverification())
        assert.equal("HTTP/1.0 200 ok", get(conn))
        local rest, rerr, partial = conn:receive("*a")
        -- s_server -www closes after the page: "*a" gives it all
        assert.is_string(rest, tostring(rerr) .. " " .. tostring(partial))
        assert.matches("TLSv1.3", rest, 1, true)
        conn:close()
        local r, cerr = conn:receive(1)
        assert.is_nil(r)
        assert.equal("closed", cerr)
      end)

      it("receives by line, by count and sends data", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, params(), "localhost")
        assert.is_true(ok, tostring(err))
        assert.equal(18, conn:send("GET / HTTP/1.0\r\n\r\n"))
        assert.equal("HTTP/1.0 200 ok", conn:receive("*l"))
        assert.equal("Content-type: text/html\r\n", conn:receive(25))
        local rest, err2, partial = conn:receive("*a")
        assert.is_string(rest, tostring(err2) .. " " .. tostring(partial))
        assert.matches("^\r\n<HTML>", rest)
        assert.matches("</HTML>%s*$", rest)
      end)

      it("a receive with nothing to read within the timeout: nil, \"wantread\" (LuaSec's word, not \"timeout\")",
        function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, params(), "localhost")
        assert.is_true(ok, tostring(err))
        conn:settimeout(0.2)
        local t0 = socket.gettime()
        local r, rerr, partial = conn:receive(1)
        local took = socket.gettime() - t0
        assert.is_nil(r)
        assert.equal("wantread", rerr)
        assert.equal("", partial)
        assert.is_true(took >= 0.15 and took < 2, "waited " .. took .. " s")
      end)

      it("shakes hands non-blocking: settimeout(0), wantread/wantwrite and socket.select", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn = track(assert(ssl.wrap(tcp(srv.port), params())))
        conn:sni("localhost")
        conn:settimeout(0)
        local seen, ok, err = {}, nil, nil
        local deadline = socket.gettime() + TIMEOUT
        while socket.gettime() < deadline do
          ok, err = conn:dohandshake()
          if ok then break end
          seen[#seen + 1] = err
          if err == "wantread" then
            socket.select({ conn }, nil, 0.5)
          elseif err == "wantwrite" then
            socket.select(nil, { conn }, 0.5)
          else
            break
          end
        end
        assert.is_true(ok, "dohandshake: " .. tostring(err))
        -- Nearly always it waits at least once; on a loaded machine the
        -- server's answer may be there before the client's first read.
        for _, e in ipairs(seen) do
          assert.is_truthy(e == "wantread" or e == "wantwrite", "dohandshake said " .. tostring(e))
        end
        conn:settimeout(TIMEOUT)
        assert.equal("HTTP/1.0 200 ok", get(conn))
      end)

      it("protocol = \"tlsv1_2\" negotiates TLS 1.2; info() and info(field)", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, params({ protocol = "tlsv1_2" }), "localhost")
        assert.is_true(ok, tostring(err))
        assert.equal("TLSv1.2", conn:info("protocol"))
        local info = conn:info()
        assert.is_table(info)
        assert.equal("TLSv1.2", info.protocol)
        assert.is_string(info.cipher)
        assert.is_number(info.bits)
        assert.is_number(info.algbits)
      end)

      it("info() on TLS 1.3", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, params(), "localhost")
        assert.is_true(ok, tostring(err))
        local info = conn:info()
        assert.equal("TLSv1.3", info.protocol)
        assert.equal("TLSv1.3", conn:info("protocol"))
        assert.matches("^TLS_", info.cipher)
        assert.is_true(info.bits >= 128)
      end)

      it("the peer certificate: subject, issuer, pem, digest, dates, serial, extensions", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, params(), "localhost")
        assert.is_true(ok, tostring(err))
        local cert = conn:getpeercertificate()
        assert.is_truthy(cert)
        assert.same({ { oid = "2.5.4.10", name = "organizationName", value = "lsock" },
                      { oid = "2.5.4.3", name = "commonName", value = "localhost" } }, cert:subject())
        assert.same({ { oid = "2.5.4.10", name = "organizationName", value = "lsock" },
                      { oid = "2.5.4.3", name = "commonName", value = "lsock test CA" } }, cert:issuer())
        assert.equal(C.server.cert_pem, cert:pem())
        assert.equal(certs.fingerprint(C.server.cert), cert:digest("sha256"))
        assert.matches("^" .. ("%x"):rep(40) .. "$", cert:digest())
        assert.matches("^%u%l%l [ %d]%d %d%d:%d%d:%d%d %d%d%d%d GMT$", cert:notbefore())
        assert.matches("^%u%l%l [ %d]%d %d%d:%d%d:%d%d %d%d%d%d GMT$", cert:notafter())
        assert.equal(certs.SERVER_SERIAL:upper(), cert:serial())
        local ext = cert:extensions()
        assert.same({ name = "X509v3 Subject Alternative Name", dNSName = { "localhost" },
                      iPAddress = { "127.0.0.1", "::1" } }, ext["2.5.29.17"])
        assert.is_true(cert:validat(os.time()))
        assert.matches("^X509 certificate: ", tostring(cert))
      end)

      it("ALPN: the server's choice among params.alpn, a single string, and nil without", function()
        local srv = ossl.s_server(C, "-www -naccept 1 -alpn h2,http/1.1")
        local conn, ok, err = connect(srv.port, params({ alpn = { "http/1.1", "h2" } }), "localhost")
        assert.is_true(ok, tostring(err))
        assert.equal("h2", conn:getalpn())
        local srv2 = ossl.s_server(C, "-www -naccept 1 -alpn h2,http/1.1")
        local conn2, ok2, err2 = connect(srv2.port, params({ alpn = "http/1.1" }), "localhost")
        assert.is_true(ok2, tostring(err2))
        assert.equal("http/1.1", conn2:getalpn())
        local srv3 = ossl.s_server(C, "-www -naccept 1")
        local conn3, ok3, err3 = connect(srv3.port, params(), "localhost")
        assert.is_true(ok3, tostring(err3))
        assert.is_nil(conn3:getalpn())
      end)

      it("SNI picks s_server's second certificate", function()
        local srv = ossl.s_server(C, ("-www -naccept 1 -servername other.test -cert2 %s -key2 %s")
          :format(util.quote(C.other.cert), util.quote(C.other.key)))
        local conn, ok, err = connect(srv.port, params(), "other.test")
        assert.is_true(ok, tostring(err))
        assert.equal("other.test", conn:getpeercertificate():subject()[2].value)
        assert.is_true(conn:getpeerverification())
      end)

      it("verify = \"peer\" without the CA: the handshake fails, \"certificate verify failed\"", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local _, ok, err = connect(srv.port, params({ cafile = false }), "localhost")
        assert.is_falsy(ok)
        if impl == "luasocket" then
          assert.equal(false, ok)
          assert.equal("certificate verify failed", err)
        else
          assert.matches("certificate verify failed", tostring(err), 1, true)
        end
      end)

      it("verify = \"none\": the handshake passes, getpeerverification says why it would not", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, { mode = "client", protocol = "any", verify = "none" }, "localhost")
        assert.is_true(ok, tostring(err))
        local v, why = conn:getpeerverification()
        assert.is_false(v)
        -- LuaSec gives OpenSSL's text as a string (a table of errors only
        -- with verifyext = "lsec_continue")
        assert.is_string(why)
        if impl == "luasocket" then
          assert.equal("unable to get local issuer certificate", why)
        else
          assert.matches("unable to get local issuer certificate", why, 1, true)
        end
        assert.equal("HTTP/1.0 200 ok", get(conn))
      end)

      it("no sni(): the handshake verifies against a certificate with the address's IP name", function()
        local srv = ossl.s_server(C, "-www -naccept 1")
        local conn, ok, err = connect(srv.port, params())
        assert.is_true(ok, tostring(err))
        assert.is_true(conn:getpeerverification())
        assert.equal("HTTP/1.0 200 ok", get(conn))
      end)

      if impl == "luasocket" then
        it("LuaSec: no sni() and a certificate without the address's IP name: accepted (chain only)", function()
          local srv = ossl.s_server(C, "-www -naccept 1", C.other)
          local conn, ok, err = connect(srv.port, params())
          assert.is_true(ok, tostring(err))
          assert.is_true(conn:getpeerverification())
          assert.equal("HTTP/1.0 200 ok", get(conn))
        end)

        it("LuaSec: verify = \"peer\" and an SNI name the certificate does not carry: accepted (chain only)", function()
          local srv = ossl.s_server(C, "-www -naccept 1")
          local conn, ok, err = connect(srv.port, params(), "other.test")
          assert.is_true(ok, tostring(err))
          assert.is_true(conn:getpeerverification())
          assert.equal("HTTP/1.0 200 ok", get(conn))
        end)
      else
        it("lsock: verify = \"peer\" and an SNI name the certificate does not carry: rejected", function()
          local srv = ossl.s_server(C, "-www -naccept 1")
          local _, ok, err = connect(srv.port, params(), "other.test")
          assert.is_falsy(ok)
          assert.matches("hostname mismatch", tostring(err), 1, true)
        end)

        it("lsock: no sni() and a certificate without the address's IP name: rejected", function()
          local srv = ossl.s_server(C, "-www -naccept 1", C.other)
          local _, ok, err = connect(srv.port, params())
          assert.is_falsy(ok)
          assert.matches("IP address mismatch", tostring(err), 1, true)
        end)

        it("lsock: verify = \"none\" and that name: accepted, getpeerverification false", function()
          local srv = ossl.s_server(C, "-www -naccept 1")
          local conn, ok, err = connect(srv.port, params({ verify = "none" }), "other.test")
          assert.is_true(ok, tostring(err))
          assert.is_false((conn:getpeerverification()))
          assert.equal("HTTP/1.0 200 ok", get(conn))
        end)
      end

      it("bad parameters: nil and a message from ssl.wrap and ssl.newcontext", function()
        local checks = {
          { { mode = "client", protocol = "sslv9" }, "^invalid protocol %(sslv9%)$" },
          { { mode = "client", protocol = "any", cafile = "/nonexistent/ca.pem" },
            "^error loading CA locations %(" },
          { { mode = "server", protocol = "any", key = C.other.key, certificate = C.server.cert },
            "^private key does not match public key$" },
          { { mode = "server", protocol = "any", key = C.encrypted.key, certificate = C.encrypted.cert,
              password = "wrong" }, "^error loading private key %(" },
        }
        for i, case in ipairs(checks) do
          local ctx, err = ssl.newcontext(case[1])
          assert.is_nil(ctx, "case " .. i)
          assert.is_string(err, "case " .. i)
          -- LuaSec's texts (the part in parentheses is OpenSSL's error
          -- queue, which may hold an older error)
          if impl == "luasocket" then assert.matches(case[2], err, nil, nil, "case " .. i) end
        end
        local conn, err = ssl.wrap(track(socket.tcp()), { mode = "client", protocol = "sslv9" })
        assert.is_nil(conn)
        assert.is_string(err)
        local ctx = ssl.newcontext({ mode = "server", protocol = "any", key = C.encrypted.key,
          certificate = C.encrypted.cert, password = certs.PASSWORD })
        assert.is_truthy(ctx)
      end)
    end)

    describe("a server reached by openssl s_client", function()
      -- Listen, start s_client with `input` and `args`, accept, wrap with
      -- a context of `p`, shake hands. Returns the connection, the
      -- handshake's results and the function that waits for s_client.
      local function serve(p, input, args)
        local l = track(assert(socket.bind("127.0.0.1", 0)))
        l:settimeout(TIMEOUT)
        local _, port = l:getsockname()
        local wait = ossl.s_client(C, port, input, args)
        local c = track(assert(l:accept()))
        c:settimeout(TIMEOUT)
        local ctx = assert(ssl.newcontext(p))
        local conn = track(assert(ssl.wrap(c, ctx)))
        conn:settimeout(TIMEOUT)
        return conn, wait, conn:dohandshake()
      end

      local function server_params(extra)
        local p = { mode = "server", protocol = "any", key = C.server.key, certificate = C.server.cert,
          options = "all" }
        for k, v in pairs(extra or {}) do p[k] = v end
        return p
      end

      it("answers a verifying s_client", function()
        local conn, wait, ok, err = serve(server_params(), "hello server\n",
          "-servername localhost -verify_hostname localhost -verify_return_error")
        assert.is_true(ok, tostring(err))
        assert.equal("hello server", conn:receive("*l"))
        assert.equal(4, conn:send("bye\n"))
        conn:close()
        local out = wait()
        assert.matches("\nbye\n", out, 1, true)
        assert.matches("Verify return code: 0 (ok)", out, 1, true)
      end)

      it("requires and checks a client certificate, agrees on ALPN", function()
        local conn, wait, ok, err = serve(server_params({ verify = { "peer", "fail_if_no_peer_cert" },
          cafile = C.ca.cert, alpn = { "http/1.1", "h2" } }), "with cert\n",
          ("-servername localhost -alpn h2 -cert %s -key %s")
            :format(util.quote(C.client.cert), util.quote(C.client.key)))
        assert.is_true(ok, tostring(err))
        assert.equal("h2", conn:getalpn())
        assert.is_true(conn:getpeerverification())
        local cert = conn:getpeercertificate()
        assert.is_truthy(cert)
        assert.equal("lsock client", cert:subject()[2].value)
        assert.equal("with cert", conn:receive("*l"))
        conn:send("ok\n")
        conn:close()
        assert.matches("ALPN protocol: h2", wait(), 1, true)
      end)

      it("tells the name s_client asked for (getsniname)", function()
        local conn, wait, ok, err = serve(server_params(), "sni\n", "-servername localhost")
        assert.is_true(ok, tostring(err))
        assert.equal("localhost", conn:getsniname())
        assert.equal("sni", conn:receive("*l"))
        conn:close()
        wait()
      end)

      it("refuses s_client without a certificate when it requires one", function()
        local conn, wait, ok, err = serve(server_params({ verify = { "peer", "fail_if_no_peer_cert" },
          cafile = C.ca.cert }), "no cert\n", "")
        if ok then
          -- TLS 1.3: the client's certificate comes after the server's
          -- Finished, so the failure may show on the first read
          ok, err = conn:receive("*l")
        end
        assert.is_falsy(ok)
        assert.is_string(err)
        if impl == "luasocket" then
          assert.matches("certificate", err, 1, true)
        end
        conn:close()
        assert.not_matches("no cert\n.*ok", wait())
      end)
    end)
  end)
end
