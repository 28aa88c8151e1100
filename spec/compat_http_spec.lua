-- LuaSocket's own HTTP client (socket.http, with socket.url, ltn12 and
-- mime from Debian's lua-socket) and LuaSec's ssl.https, as a script
-- written for them uses them, run on each implementation of
-- helpers.compat: "luasocket" (Debian's LuaSocket 3.1 and LuaSec 1.2: the
-- reference) and "lsock" (lsock.compat and lsock.compat.ssl).
--
-- The server is spec/helpers/http_server.lua, a child process on lsock's
-- native API (plain HTTP, and HTTPS with the test certificates of
-- helpers.certs), on 127.0.0.1. socket.http.TIMEOUT and ssl.https.TIMEOUT
-- are 10 s here, so every request is bounded; the servers end after 30 s
-- at most, and each describe of an implementation starts its own.
--
-- Where the two implementations differ by design (certificate
-- verification), the cases say which side they pin down in their names.
local util = require "helpers.util"
local certs = require "helpers.certs"
local compat = require "helpers.compat"
local child = require "helpers.compat_child"
local cu = require "helpers.compat_util"

local MiB = 1024 * 1024
local SERVER = util.HELPERS .. "http_server.lua"
local TIMEOUT = 10

-- Compare two byte strings without printing them: the first offset where
-- they differ (0-based), or nil when they are equal.
local function first_difference(got, want)
  if got == want then return nil end
  for i = 1, math.min(#got, #want) do
    if got:byte(i) ~= want:byte(i) then return i - 1 end
  end
  return math.min(#got, #want)
end

local function assert_bytes(want, got, what)
  assert.is_string(got, what .. ": no body")
  local at = first_difference(got, want)
  assert.is_nil(at, ("%s: %d bytes, %d expected, first difference at byte %s")
    :format(what, #got, #want, tostring(at)))
end

-- The lines "key value" of an /echo or /tls answer as a table.
local function fields(body)
  local t = {}
  for k, v in tostring(body):gmatch("([%w-]+) ([^\n]*)\n") do t[k] = v end
  return t
end

-- Where the Lua function f was loaded from (its chunk name).
local function source_of(f)
  return debug.getinfo(f, "S").source
end

-- The file a module function of implementation impl must come from:
-- Debian's LuaSocket/LuaSec file `ref`, or lsock's face `face`.
local function assert_from(impl, f, ref, face)
  local src = source_of(f)
  if impl == "luasocket" then
    assert.matches("^@/usr/share/lua/[%d.]+/" .. ref .. "$", src)
  else
    assert.matches("lua/lsock/" .. face .. "$", src)
  end
end

-- A port nobody listens on: that of a listener just closed.
local function closed_port()
  local l, port = util.listen("127.0.0.1")
  l:close()
  return port
end

for _, impl in ipairs(compat.impls) do
  describe(impl .. ": socket.http", function()
    local socket, http, ltn12, url, mime
    local srv, base

    setup(function()
      socket = compat.load(impl)
      http = compat.require(impl, "socket.http")
      ltn12 = compat.require(impl, "ltn12")
      url = compat.require(impl, "socket.url")
      mime = compat.require(impl, "mime")
      http.TIMEOUT = TIMEOUT
      srv = child.start(SERVER, "http")
      base = "http://127.0.0.1:" .. srv.port
    end)

    teardown(function()
      if srv then srv.stop() end
    end)

    it("runs on " .. impl .. "'s socket module", function()
      assert_from(impl, socket.bind, "socket%.lua", "compat%.lua")
      assert.equal(socket, package.loaded.socket)
    end)

    describe("GET", function()
      it("simple form: the body, the code, the headers and the status line", function()
        local body, code, headers, status = http.request(base .. "/bytes/100")
        assert_bytes(util.pattern(100), body, "body")
        assert.equal(200, code)
        assert.equal("HTTP/1.1 200 OK", status)
        assert.is_table(headers)
        assert.equal("100", headers["content-length"])
        assert.equal("application/octet-stream", headers["content-type"])
        assert.equal("close", headers["connection"])
      end)

      it("generic form with ltn12.sink.table: 1, code, headers, status", function()
        local t = {}
        local r, code, headers, status = http.request { url = base .. "/bytes/5000", sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(200, code)
        assert.equal("HTTP/1.1 200 OK", status)
        assert.equal("5000", headers["content-length"])
        assert_bytes(util.pattern(5000), table.concat(t), "body")
      end)

      it("a chunked body in odd chunk sizes, with a chunk extension and a trailer", function()
        local body, code, headers = http.request(base .. "/chunked/200000")
        assert.equal(200, code)
        assert.equal("chunked", headers["transfer-encoding"])
        assert.is_nil(headers["content-length"])
        assert_bytes(util.pattern(200000), body, "chunked body")
      end)

      it("1 MiB by Content-Length into ltn12.sink.table, byte for byte", function()
        local t = {}
        local r, code = http.request { url = base .. "/bytes/" .. MiB, sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(200, code)
        assert_bytes(util.pattern(MiB), table.concat(t), "1 MiB body")
      end)

      it("1 MiB chunked into ltn12.sink.table, byte for byte", function()
        local t = {}
        local r, code, headers = http.request { url = base .. "/chunked/" .. MiB, sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(200, code)
        assert.equal("chunked", headers["transfer-encoding"])
        assert_bytes(util.pattern(MiB), table.concat(t), "1 MiB chunked body")
      end)

      it("through a proxy: the absolute URI goes to the proxy's host and port", function()
        local body, code = http.request { url = "http://origin.invalid:8080/bytes/10", proxy = base,
          sink = ltn12.sink.null() }
        assert.equal(1, body)
        assert.equal(404, code)
        local t = {}
        local r, code2 = http.request { url = "http://origin.invalid:8080/x?y=1", proxy = base,
          sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(404, code2)
        assert.equal("no such path: http://origin.invalid:8080/x?y=1\n", table.concat(t))
      end)

      it("with the script's create function: used for the request, not for the redirects it follows", function()
        local calls = 0
        local function create()
          calls = calls + 1
          return socket.tcp()
        end
        local body, code = http.request { url = base .. "/bytes/10", sink = ltn12.sink.null(), create = create }
        assert.equal(1, body)
        assert.equal(200, code)
        assert.equal(1, calls)
        -- LuaSocket 3.1's tredirect compares the new URL's scheme with
        -- reqt.scheme, which a request given by url does not have, so it
        -- drops the create function for the redirected requests
        local t = {}
        local r, code2 = http.request { url = base .. "/redirect/2", sink = ltn12.sink.table(t), create = create }
        assert.equal(1, r)
        assert.equal(200, code2)
        assert_bytes(util.pattern(64), table.concat(t), "body")
        assert.equal(2, calls)
      end)

      it("an empty body", function()
        local body, code, headers = http.request(base .. "/bytes/0")
        assert.equal("", body)
        assert.equal(200, code)
        assert.equal("0", headers["content-length"])
      end)

      it("sends the script's headers on top of its own", function()
        local t = {}
        local r, code = http.request { url = base .. "/headers", sink = ltn12.sink.table(t),
          headers = { ["X-Test"] = "yes", ["Accept"] = "text/plain" } }
        assert.equal(1, r)
        assert.equal(200, code)
        local body = table.concat(t)
        assert.matches("^GET /headers HTTP/1%.1\n", body)
        assert.matches("\nhost: 127.0.0.1:" .. srv.port .. "\n", body, 1, true)
        assert.matches("\nx-test: yes\n", body, 1, true)
        assert.matches("\naccept: text/plain\n", body, 1, true)
        -- the script's headers go on top of the defaults
        assert.matches("\nuser-agent: " .. socket._VERSION .. "\n", body, 1, true)
        assert.matches("\nconnection: close, TE\n", body, 1, true)
      end)

      it("sends user-agent socket._VERSION and host:port by default", function()
        local body, code = http.request(base .. "/headers")
        assert.equal(200, code)
        assert.matches("\nuser-agent: " .. socket._VERSION .. "\n", body, 1, true)
        assert.matches("\nhost: 127.0.0.1:" .. srv.port .. "\n", body, 1, true)
        assert.matches("\nconnection: close, TE\n", body, 1, true)
        assert.matches("\nte: trailers\n", body, 1, true)
        assert.equal(socket._VERSION, http.USERAGENT)
        assert.matches("^LuaSocket 3%.", socket._VERSION)
      end)

      if impl == "luasocket" then
        it("LuaSocket: Debian's 3.1 calls itself \"LuaSocket 3.0.0\"", function()
          assert.equal("LuaSocket 3.0.0", socket._VERSION)
        end)
      end
    end)

    describe("POST", function()
      it("simple form: Content-Length and a form content type, the answer as a string", function()
        local body, code, headers, status = http.request(base .. "/echo", "a=1&b=two")
        assert.equal(200, code)
        assert.equal("HTTP/1.1 200 OK", status)
        assert.is_table(headers)
        local f = fields(body)
        assert.equal("POST", f.method)
        assert.equal("9", f.length)
        assert.equal(cu.adler32("a=1&b=two"), f.adler32)
        assert.equal("9", f["content-length"])
        assert.equal("none", f["transfer-encoding"])
        assert.equal("application/x-www-form-urlencoded", f["content-type"])
      end)

      it("generic form with ltn12.source.string and no content-length: sent chunked", function()
        local t = {}
        local r, code = http.request { url = base .. "/echo", method = "POST",
          source = ltn12.source.string("hello, chunked"), sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(200, code)
        local f = fields(table.concat(t))
        assert.equal("14", f.length)
        assert.equal(cu.adler32("hello, chunked"), f.adler32)
        assert.equal("chunked", f["transfer-encoding"])
        assert.equal("none", f["content-length"])
      end)

      it("generic form with a content-length header: sent as is", function()
        local t = {}
        local r, code = http.request { url = base .. "/echo", method = "PUT",
          headers = { ["content-length"] = 5, ["content-type"] = "text/plain" },
          source = ltn12.source.string("12345"), sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(200, code)
        local f = fields(table.concat(t))
        assert.equal("PUT", f.method)
        assert.equal("5", f.length)
        assert.equal("5", f["content-length"])
        assert.equal("none", f["transfer-encoding"])
        assert.equal("text/plain", f["content-type"])
      end)

      it("1 MiB from ltn12.source.string, chunked, checked by the server", function()
        local data = util.pattern(MiB)
        local t = {}
        local r, code = http.request { url = base .. "/echo", method = "POST",
          source = ltn12.source.string(data), sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(200, code)
        local f = fields(table.concat(t))
        assert.equal(tostring(MiB), f.length)
        assert.equal("ok", f.pattern)
        assert.equal(cu.adler32(data), f.adler32)
        assert.equal("chunked", f["transfer-encoding"])
      end)

      it("1 MiB from ltn12.source.file with its content-length, checked by the server", function()
        local path = os.tmpname()
        local data = util.pattern(MiB)
        local w = assert(io.open(path, "wb"))
        w:write(data)
        w:close()
        local t = {}
        local ok, r, code = pcall(http.request, { url = base .. "/echo", method = "POST",
          headers = { ["content-length"] = MiB },
          source = ltn12.source.file(assert(io.open(path, "rb"))), sink = ltn12.sink.table(t) })
        os.remove(path)
        assert.is_true(ok, tostring(r))
        assert.equal(1, r)
        assert.equal(200, code)
        local f = fields(table.concat(t))
        assert.equal(tostring(MiB), f.length)
        assert.equal("ok", f.pattern)
        assert.equal(cu.adler32(data), f.adler32)
        assert.equal(tostring(MiB), f["content-length"])
        assert.equal("none", f["transfer-encoding"])
      end)

      it("an answer to a POST that redirects is returned, not followed", function()
        local t = {}
        local r, code, headers = http.request { url = base .. "/redirect/1", method = "POST",
          source = ltn12.source.string("x"), sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(302, code)
        assert.equal("http://127.0.0.1:" .. srv.port .. "/bytes/64", headers.location)
      end)
    end)

    describe("status codes", function()
      it("follows a relative and then an absolute redirect, and hints the last location", function()
        local body, code, headers, status = http.request(base .. "/redirect/3")
        assert.equal(200, code)
        assert.equal("HTTP/1.1 200 OK", status)
        assert_bytes(util.pattern(64), body, "body after the redirects")
        assert.equal("http://127.0.0.1:" .. srv.port .. "/bytes/64", headers.location)
      end)

      it("returns the 302 itself with redirect = false", function()
        local t = {}
        local r, code, headers, status = http.request { url = base .. "/redirect/3", redirect = false,
          sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(302, code)
        assert.equal("HTTP/1.1 302 Found", status)
        assert.equal("/redirect/2", headers.location)
        assert.equal("redirect to /redirect/2\n", table.concat(t))
      end)

      it("stops after 5 redirects by default and after maxredirects", function()
        local _, code, headers = http.request(base .. "/redirect/7")
        assert.equal(302, code)
        assert.equal("/redirect/1", headers.location)
        local r, code2, headers2 = http.request { url = base .. "/redirect/3", maxredirects = 1 }
        assert.equal(1, r)
        assert.equal(302, code2)
        assert.equal("/redirect/1", headers2.location)
      end)

      it("404: the body, the code and the status line", function()
        local body, code, headers, status = http.request(base .. "/missing")
        assert.equal("no such path: /missing\n", body)
        assert.equal(404, code)
        assert.equal("HTTP/1.1 404 Not Found", status)
        assert.equal("23", headers["content-length"])
      end)

      it("another code with its reason phrase", function()
        local body, code, _, status = http.request(base .. "/status/500")
        assert.equal("status 500\n", body)
        assert.equal(500, code)
        assert.equal("HTTP/1.1 500 Internal Server Error", status)
      end)

      it("HEAD: the headers and no body", function()
        local t = {}
        local r, code, headers, status = http.request { url = base .. "/bytes/4096", method = "HEAD",
          sink = ltn12.sink.table(t) }
        assert.equal(1, r)
        assert.equal(200, code)
        assert.equal("HTTP/1.1 200 OK", status)
        assert.equal("4096", headers["content-length"])
        assert.equal("", table.concat(t))
      end)
    end)

    describe("failures", function()
      it("connection refused: nil, \"connection refused\" in both forms", function()
        local port = closed_port()
        local r, err = http.request("http://127.0.0.1:" .. port .. "/")
        assert.is_nil(r)
        assert.equal("connection refused", err)
        local r2, err2 = http.request { url = "http://127.0.0.1:" .. port .. "/", sink = ltn12.sink.null() }
        assert.is_nil(r2)
        assert.equal("connection refused", err2)
      end)

      it("a server slower than http.TIMEOUT: nil, \"timeout\"", function()
        local saved = http.TIMEOUT
        http.TIMEOUT = 0.3
        local ok, r, err = pcall(http.request, base .. "/slow/2")
        http.TIMEOUT = saved
        assert.is_true(ok, tostring(r))
        assert.is_nil(r)
        assert.equal("timeout", err)
      end)

      it("a URL without a host: nil, \"invalid host 'nil'\"", function()
        local r, err = http.request("http://")
        assert.is_nil(r)
        assert.equal("invalid host 'nil'", err)
      end)

      it("a host name that does not resolve: nil and a message", function()
        local r, err = http.request("http://no-such-host.invalid/")
        assert.is_nil(r)
        assert.is_string(err)
        assert.is_true(#err > 0)
      end)
    end)

    describe("socket.url", function()
      it("parses every part of a URL", function()
        local u = url.parse("http://user:pw@host.test:8080/a/b;p?q=1#frag")
        assert.same({ scheme = "http", authority = "user:pw@host.test:8080", userinfo = "user:pw",
          user = "user", password = "pw", host = "host.test", port = "8080", path = "/a/b",
          params = "p", query = "q=1", fragment = "frag" }, u)
        assert.same({ scheme = "ftp", authority = "h", host = "h", path = "/x", port = 21 },
          url.parse("//h/x", { scheme = "ftp", port = 21 }))
        assert.same({ scheme = "http", authority = "[::1]:80", host = "::1", port = "80", path = "/" },
          url.parse("http://[::1]:80/"))
      end)

      it("builds what it parsed, and from parts", function()
        local s = "http://user:pw@host.test:8080/a/b;p?q=1#frag"
        assert.equal(s, url.build(url.parse(s)))
        assert.equal("https://example.test:8443/x?a=1",
          url.build({ scheme = "https", host = "example.test", port = "8443", path = "/x", query = "a=1" }))
      end)

      it("resolves the RFC 3986 examples against http://a/b/c/d;p?q", function()
        local b = "http://a/b/c/d;p?q"
        local cases = {
          ["g"] = "http://a/b/c/g", ["./g"] = "http://a/b/c/g", ["g/"] = "http://a/b/c/g/",
          ["/g"] = "http://a/g", ["//g"] = "http://g", ["?y"] = "http://a/b/c/d;p?y",
          ["g?y"] = "http://a/b/c/g?y", ["#s"] = "http://a/b/c/d;p?q#s", ["g#s"] = "http://a/b/c/g#s",
          [";x"] = "http://a/b/c/d;x", ["g;x?y#s"] = "http://a/b/c/g;x?y#s", [""] = "http://a/b/c/d;p?q",
          [".."] = "http://a/b/", ["../g"] = "http://a/b/g", ["../../g"] = "http://a/g",
          ["../../../g"] = "http://a/g", ["/./g"] = "http://a/g", ["g/../h"] = "http://a/b/c/h",
          ["g:h"] = "g:h",
        }
        for rel, want in pairs(cases) do
          assert.equal(want, url.absolute(b, rel), "url.absolute(b, " .. ("%q"):format(rel) .. ")")
        end
      end)

      it("escapes, unescapes and splits paths", function()
        assert.equal("a%20b%26c%2f%c3%a9", url.escape("a b&c/\195\169"))
        assert.equal("a b&c", url.unescape("a%20b%26c"))
        assert.same({ "a", "b/c", "d", is_absolute = 1, is_directory = 1 }, url.parse_path("/a/b%2Fc/d/"))
        assert.equal("/a/b%2Fc/d/", url.build_path({ "a", "b/c", "d", is_absolute = 1, is_directory = 1 }))
      end)
    end)

    describe("ltn12 and mime", function()
      it("pumps a source into a sink", function()
        local t = {}
        assert.equal(1, ltn12.pump.all(ltn12.source.string("hello"), (ltn12.sink.table(t))))
        assert.equal("hello", table.concat(t))
        local t2 = {}
        local src = ltn12.source.cat(ltn12.source.string("a"), ltn12.source.empty(), ltn12.source.string("bc"))
        assert.equal(1, ltn12.pump.all(src, (ltn12.sink.table(t2))))
        assert.equal("abc", table.concat(t2))
      end)

      it("reports a failing source or sink", function()
        local r, err = ltn12.pump.all(ltn12.source.error("broken source"), ltn12.sink.null())
        assert.is_nil(r)
        assert.equal("broken source", err)
        local r2, err2 = ltn12.pump.all(ltn12.source.string("x"), ltn12.sink.error("broken sink"))
        assert.is_nil(r2)
        assert.equal("broken sink", err2)
      end)

      it("chains filters: a cycle filter, base64 and line wrapping, and back", function()
        local upper = ltn12.filter.cycle(function(ctx, chunk)
          if chunk == nil then return nil, ctx end
          return chunk:upper(), ctx
        end, nil)
        local t = {}
        ltn12.pump.all(ltn12.source.chain(ltn12.source.string("hello"), upper), (ltn12.sink.table(t)))
        assert.equal("HELLO", table.concat(t))

        local data = util.pattern(10000)
        local enc = {}
        ltn12.pump.all(ltn12.source.chain(ltn12.source.string(data),
          ltn12.filter.chain(mime.encode("base64"), mime.wrap("base64"))), (ltn12.sink.table(enc)))
        local text = table.concat(enc)
        assert.not_matches("[^%w+/=\r\n]", text)
        assert.matches("^" .. ("[%w+/]"):rep(76) .. "\r\n", text)
        local dec = {}
        ltn12.pump.all(ltn12.source.chain(ltn12.source.string(text), mime.decode("base64")),
          (ltn12.sink.table(dec)))
        assert_bytes(data, table.concat(dec), "base64 round trip")
      end)

      it("mime.b64, unb64, qp and dot", function()
        assert.equal("aGVsbG8=", (mime.b64("hello")))
        assert.equal("hello", (mime.unb64("aGVsbG8=")))
        assert.equal("caf=E9=3D\r\n", (mime.qp("caf\233=\r\n")))
        assert.equal("..\r\nStuffing the message.\r\n..\r\n..", (mime.dot(2, ".\r\nStuffing the message.\r\n.\r\n.")))
      end)

      it("ltn12.BLOCKSIZE is 2048", function()
        assert.equal(2048, ltn12.BLOCKSIZE)
      end)
    end)
  end)

  describe(impl .. ": ssl.https", function()
    local https, http, ltn12, C
    local srv, other

    setup(function()
      C = certs.get()
      compat.load(impl)
      http = compat.require(impl, "socket.http")
      http.TIMEOUT = TIMEOUT
      ltn12 = compat.require(impl, "ltn12")
      https = compat.require(impl, "ssl.https")
      https.TIMEOUT = TIMEOUT
      srv = child.start(SERVER, "https", C.server.cert, C.server.key)
      other = child.start(SERVER, "https", C.other.cert, C.other.key)
    end)

    teardown(function()
      if srv then srv.stop() end
      if other then other.stop() end
      certs.cleanup()
    end)

    -- A GET with the table form: r, code, headers, status, body.
    local function get(u, params)
      local t = {}
      local req = { url = u, sink = ltn12.sink.table(t) }
      for k, v in pairs(params or {}) do req[k] = v end
      local r, code, headers, status = https.request(req)
      return r, code, headers, status, table.concat(t)
    end

    local function verifying() return { cafile = C.ca.cert, verify = "peer" } end

    it("runs on " .. impl .. "'s ssl.https", function()
      assert_from(impl, https.request, "ssl/https%.lua", "compat/https%.lua")
    end)

    it("GET over TLS with cafile = the test CA and verify = \"peer\"", function()
      local r, code, headers, status, body = get("https://localhost:" .. srv.port .. "/bytes/1000", verifying())
      assert.equal(1, r, tostring(code))
      assert.equal(200, code)
      assert.equal("HTTP/1.1 200 OK", status)
      assert.equal("1000", headers["content-length"])
      assert_bytes(util.pattern(1000), body, "body")
    end)

    it("sends the URL's host as SNI and talks TLS 1.2 or 1.3", function()
      local r, code, _, _, body = get("https://localhost:" .. srv.port .. "/tls", verifying())
      assert.equal(1, r, tostring(code))
      local f = fields(body)
      assert.equal("yes", f.tls)
      assert.equal("localhost", f.servername)
      assert.matches("^tls1%.[23]$", f.version)
    end)

    it("verifies an IP address URL against the certificate's IP name", function()
      local r, code, _, _, body = get("https://127.0.0.1:" .. srv.port .. "/bytes/10", verifying())
      assert.equal(1, r, tostring(code))
      assert.equal(200, code)
      assert_bytes(util.pattern(10), body, "body")
    end)

    it("protocol = \"tlsv1_2\" gets TLS 1.2", function()
      local params = verifying()
      params.protocol = "tlsv1_2"
      local r, code, _, _, body = get("https://localhost:" .. srv.port .. "/tls", params)
      assert.equal(1, r, tostring(code))
      assert.equal("tls1.2", fields(body).version)
    end)

    it("POST 1 MiB with a content-length over TLS, checked by the server", function()
      local data = util.pattern(MiB)
      local params = verifying()
      params.method = "POST"
      params.headers = { ["content-length"] = MiB }
      params.source = ltn12.source.string(data)
      local r, code, _, _, body = get("https://localhost:" .. srv.port .. "/echo", params)
      assert.equal(1, r, tostring(code))
      assert.equal(200, code)
      local f = fields(body)
      assert.equal(tostring(MiB), f.length)
      assert.equal("ok", f.pattern)
    end)

    it("1 MiB chunked download over TLS, byte for byte", function()
      local r, code, _, _, body = get("https://localhost:" .. srv.port .. "/chunked/" .. MiB, verifying())
      assert.equal(1, r, tostring(code))
      assert.equal(200, code)
      assert_bytes(util.pattern(MiB), body, "1 MiB over TLS")
    end)

    it("socket.http.request with an https URL goes through ssl.https.tcp, with its parameters", function()
      local t = {}
      local r, code, headers = http.request { url = "https://localhost:" .. srv.port .. "/bytes/300",
        sink = ltn12.sink.table(t), cafile = C.ca.cert, verify = "peer" }
      assert.equal(1, r, tostring(code))
      assert.equal(200, code)
      assert.equal("300", headers["content-length"])
      assert_bytes(util.pattern(300), table.concat(t), "body")
      local r2, err = http.request { url = "https://localhost:" .. srv.port .. "/bytes/1",
        sink = ltn12.sink.null(), verify = "peer" }
      assert.is_nil(r2)
      assert.matches("certificate verify failed", tostring(err), 1, true)
    end)

    it("404 over TLS", function()
      local r, code, _, status, body = get("https://localhost:" .. srv.port .. "/nothing", verifying())
      assert.equal(1, r, tostring(code))
      assert.equal(404, code)
      assert.equal("HTTP/1.1 404 Not Found", status)
      assert.equal("no such path: /nothing\n", body)
    end)

    it("does not follow a relative redirect (socket.http's https downgrade check sees no scheme)", function()
      local r, code, headers = get("https://localhost:" .. srv.port .. "/redirect/2", verifying())
      assert.equal(1, r, tostring(code))
      assert.equal(302, code)
      assert.equal("/redirect/1", headers.location)
    end)

    it("refuses redirect = true: nil, \"redirect not supported\"", function()
      local params = verifying()
      params.redirect = true
      local r, err = get("https://localhost:" .. srv.port .. "/bytes/1", params)
      assert.is_nil(r)
      assert.equal("redirect not supported", err)
    end)

    it("refuses proxy: nil, \"proxy not supported\"", function()
      local params = verifying()
      params.proxy = "http://127.0.0.1:" .. closed_port()
      local r, err = get("https://localhost:" .. srv.port .. "/bytes/1", params)
      assert.is_nil(r)
      assert.equal("proxy not supported", err)
    end)

    it("refuses create: nil, \"create function not permitted\"", function()
      local params = verifying()
      params.create = function() error("not to be called") end
      local r, err = get("https://localhost:" .. srv.port .. "/bytes/1", params)
      assert.is_nil(r)
      assert.equal("create function not permitted", err)
    end)

    it("connection refused: nil, \"connection refused\"", function()
      local r, err = get("https://127.0.0.1:" .. closed_port() .. "/", verifying())
      assert.is_nil(r)
      assert.equal("connection refused", err)
    end)

    it("verify = \"peer\" without the CA: the chain does not verify, nil and a message", function()
      local r, err = get("https://localhost:" .. srv.port .. "/bytes/1", { verify = "peer" })
      assert.is_nil(r)
      assert.is_string(err)
      if impl == "luasocket" then
        assert.equal("certificate verify failed", err)
      else
        assert.matches("certificate verify failed", err, 1, true)
      end
    end)

    it("verify = \"none\": no check at all, the wrong host name and an unknown CA accepted", function()
      local r, code, _, _, body = get("https://localhost:" .. other.port .. "/bytes/7", { verify = "none" })
      assert.equal(1, r, tostring(code))
      assert.equal(200, code)
      assert_bytes(util.pattern(7), body, "body")
    end)

    if impl == "luasocket" then
      it("LuaSec: the string form does not verify at all (its default is verify = \"none\")", function()
        local body, code = https.request("https://localhost:" .. srv.port .. "/bytes/10")
        assert.equal(200, code)
        assert_bytes(util.pattern(10), body, "body")
        local echo, code2 = https.request("https://localhost:" .. srv.port .. "/echo", "k=v")
        assert.equal(200, code2)
        assert.equal("application/x-www-form-urlencoded", fields(echo)["content-type"])
      end)

      it("LuaSec: cafile without verify checks nothing, a certificate for another host name passes", function()
        local r, code = get("https://localhost:" .. other.port .. "/bytes/10", { cafile = C.ca.cert })
        assert.equal(1, r, tostring(code))
        assert.equal(200, code)
      end)

      it("LuaSec: verify = \"peer\" checks the chain only, a certificate for another host name passes", function()
        local r, code, _, _, body = get("https://localhost:" .. other.port .. "/bytes/10", verifying())
        assert.equal(1, r, tostring(code))
        assert.equal(200, code)
        assert_bytes(util.pattern(10), body, "body")
      end)
    else
      it("lsock: the string form verifies by default (against the system store, without the test CA)", function()
        local body, err = https.request("https://localhost:" .. srv.port .. "/bytes/10")
        assert.is_nil(body)
        assert.is_string(err)
        assert.matches("certificate verify failed", err, 1, true)
      end)

      it("lsock: verify = \"peer\" checks the host name too, a certificate for another host name is refused", function()
        local r, err = get("https://localhost:" .. other.port .. "/bytes/10", verifying())
        assert.is_nil(r)
        assert.is_string(err)
        assert.matches("hostname mismatch", err, 1, true)
      end)

      it("lsock: without verify the table form verifies too (chain and host name)", function()
        local r, err = get("https://localhost:" .. other.port .. "/bytes/10", { cafile = C.ca.cert })
        assert.is_nil(r)
        assert.matches("hostname mismatch", tostring(err), 1, true)
        local r2, code = get("https://localhost:" .. srv.port .. "/bytes/10", { cafile = C.ca.cert })
        assert.equal(1, r2, tostring(code))
        assert.equal(200, code)
      end)
    end
  end)
end
