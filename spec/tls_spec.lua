-- TLS streams (lsock.tls): lsock to lsock over TCP on 127.0.0.1 and over
-- unix socketpairs: handshakes, every receive pattern, recv, send and its
-- indices, timeouts, closing with and without close_notify, verification
-- and its rejections, SNI, ALPN, peer certificates, protocol versions,
-- session resumption, keys and trust stores given every way, bad options,
-- and lsock.loop serving many TLS clients at once.
--
-- The certificates are made at test time with the openssl tool
-- (spec/helpers/certs.lua). Where both ends live in this process, either
-- both run with timeout 0 and are stepped in turn (`handshake_both`), or
-- they are coroutines of lsock.loop, or the exchange is small enough to fit
-- in the socket buffers. Bulk transfers and a peer that dies without
-- close_notify are child processes (spec/helpers/tls_peer.lua). Every
-- socket has a timeout, every loop a bound and loop.run a limit.
local lsock = require "lsock"
local loop = require "lsock.loop"
local tls = require "lsock.tls"
local util = require "helpers.util"
local certs = require "helpers.certs"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must, assert_raises = checks.tracker(), checks.must, checks.assert_raises

local MiB = 1024 * 1024
local LIMIT = 30          -- seconds any loop.run here may take at most
local TLS_PEER = util.HELPERS .. "tls_peer.lua"

local C -- the certificates (helpers.certs), made before the first spec

setup(function() C = certs.get() end)
teardown(function() certs.cleanup() end)

after_each(function()
  if loop.count() > 0 then loop.run(util.TIMEOUT) end
end)

local function three(a, b, c) return { a, b, c } end

-- A server context with the localhost certificate, `opts` on top.
local function server_ctx(opts)
  return must(tls.context(util.merged({ mode = "server", cert = C.server.cert, key = C.server.key }, opts)))
end

-- A client context that trusts the test CA, `opts` on top.
local function client_ctx(opts)
  return must(tls.context(util.merged({ ca = C.ca.cert }, opts)))
end

local function is_context(x) return type(x) == "userdata" end

-- Two connected raw sockets: "tcp" (127.0.0.1, the default) or "unix" (a
-- socketpair), each with timeout util.TIMEOUT; the connecting one first.
local function raw_pair(transport)
  local a, b
  if transport == "unix" then a, b = util.socketpair() else a, b = util.pair("127.0.0.1") end
  return track(a), track(b)
end

-- A client and a server TLS end, not yet shaken hands, over `transport`:
-- `client` and `server` are contexts or options for client_ctx/server_ctx;
-- the client asks for `servername` (default "localhost"). Also returns the
-- raw sockets under them.
local function wrapped(client, server, transport, servername)
  local a, b = raw_pair(transport)
  local cctx = is_context(client) and client or client_ctx(client)
  local sctx = is_context(server) and server or server_ctx(server)
  local c = track(tls.wrap(a, cctx, servername or "localhost"))
  local s = track(tls.wrap(b, sctx))
  return c, s, a, b
end

-- Run the handshakes of the two ends `c` and `s` of this process at once:
-- both get timeout 0 and are stepped in turn, and between turns
-- lsock.select waits (0.05 s at most) for what each waiting end says it
-- waits for (events()). All within util.TIMEOUT. Returns one table per
-- end: { true }, or { nil, err } (err "stalled" for an end still waiting
-- at the deadline). Both ends get timeout util.TIMEOUT back.
local function handshake_both(c, s)
  local ends, res = { c, s }, {}
  c:settimeout(0)
  s:settimeout(0)
  local deadline = lsock.monotime() + util.TIMEOUT
  while true do
    local readers, writers = {}, {}
    for i, t in ipairs(ends) do
      if not res[i] then
        local ok, err = t:handshake()
        if ok then
          res[i] = { true }
        elseif err ~= "timeout" then
          res[i] = { nil, err }
        else
          local ev = t:events() or ""
          if ev == "" or ev:find("r", 1, true) then readers[#readers + 1] = t end
          if ev == "" or ev:find("w", 1, true) then writers[#writers + 1] = t end
        end
      end
    end
    if res[1] and res[2] then break end
    if lsock.monotime() > deadline then
      for i = 1, 2 do res[i] = res[i] or { nil, "stalled" } end
      break
    end
    lsock.select(readers, writers, 0.05)
  end
  c:settimeout(util.TIMEOUT)
  s:settimeout(util.TIMEOUT)
  return res[1], res[2]
end

-- `wrapped` and both handshakes, which must succeed.
local function connected(client, server, transport, servername)
  local c, s, a, b = wrapped(client, server, transport, servername)
  local rc, rs = handshake_both(c, s)
  assert.same({ true }, rc, "client handshake: " .. tostring(rc[2]))
  assert.same({ true }, rs, "server handshake: " .. tostring(rs[2]))
  return c, s, a, b
end

-- Handshakes that must fail on the client: returns its error and the
-- server's result table.
local function client_rejects(client, server, servername)
  local c, s = wrapped(client, server, "tcp", servername)
  local rc, rs = handshake_both(c, s)
  assert.is_nil(rc[1], "the client accepted the server")
  assert.is_string(rc[2])
  return rc[2], rs
end

-- Send `data` as one TLS record per byte.
local function send_bytes(t, data)
  for i = 1, #data do must(t:send(data, i, i) == i, "send of byte " .. i) end
end

local function run_loop()
  local ok, err = loop.run(LIMIT)
  assert.is_true(ok, "loop.run: " .. tostring(err) .. " with " .. loop.count() .. " coroutines left")
  assert.equal(0, loop.count())
end

-- A TLS server in lsock.loop on 127.0.0.1: accepts `n` connections and
-- runs handler(t, i) for each in a coroutine of its own, t wrapped with
-- `ctx`, then closes t. Returns the port and a table that gets
-- results[i] = { what handler returned } (and results.accept_error).
local function loop_server(ctx, n, handler)
  local listener, port = util.listen("127.0.0.1")
  track(listener)
  local results = {}
  loop.spawn(function()
    for i = 1, n do
      local conn, err = listener:accept()
      if not conn then
        results.accept_error = err
        break
      end
      track(conn)
      conn:settimeout(util.TIMEOUT)
      loop.spawn(function()
        local t = tls.wrap(conn, ctx)
        results[i] = { handler(t, i) }
        t:close()
      end)
    end
    listener:close()
  end)
  return port, results
end

local function contains(list, x)
  for _, v in ipairs(list or {}) do
    if v == x then return true end
  end
  return false
end

local function trim(s) return (tostring(s):gsub("%s+$", "")) end

-- A child TLS client (spec/helpers/tls_peer.lua) connected back to a fresh
-- listener on 127.0.0.1; returns the accepted socket wrapped as a server
-- end with `sctx` (no handshake yet) and the child's handle.
local function with_tls_peer(sctx, command, ...)
  local server, port = util.listen("127.0.0.1")
  local peer = util.spawn_script(TLS_PEER, command, "127.0.0.1", port, C.ca.cert, ...)
  local conn = track(util.accept(server))
  server:close()
  return track(tls.wrap(conn, sctx)), peer
end

describe("lsock.tls", function()

  for _, transport in ipairs({ "tcp", "unix" }) do
    local over = transport == "tcp" and "over TCP on 127.0.0.1" or "over a unix socketpair"

    describe("between two lsock ends " .. over, function()

      it("completes an explicit handshake on both ends and moves lines both ways", function()
        local c, s = connected(nil, nil, transport)
        assert.same({ true }, { c:handshake() })  -- a second handshake() is a no-op
        assert.equal(6, c:send("hello\n"))
        assert.same({ "hello" }, three(s:receive("l")))
        assert.equal(7, s:send("answer\n"))
        assert.same({ "answer" }, three(c:receive("l")))
      end)

      it("runs the handshake inside the first send or receive when handshake() was not called", function()
        local c, s = wrapped(nil, nil, transport)
        local got_s, got_c
        loop.spawn(function()
          got_s = { s:receive("l") }
          s:send("pong\n")
        end)
        loop.spawn(function()
          got_c = { c:send("ping\n") }
          got_c[#got_c + 1] = c:receive("l")
        end)
        run_loop()
        assert.same({ "ping" }, got_s)
        assert.same({ 5, "pong" }, got_c)
        assert.same({ true }, { c:verified() })
        assert.equal("tls1.3", c:version())
      end)

      it("moves 16 MiB each way at once inside lsock.loop, checked by content", function()
        local c, s = wrapped(nil, nil, transport)
        local total = 16 * MiB
        local results = {}
        local function pump(name, t)
          loop.spawn(function()
            results[name .. " sent"] = { util.send_pattern(t, total) }
          end)
          loop.spawn(function()
            local check, err = util.checker(), nil
            while check.count() < total do
              local data
              data, err = t:recv(65536)
              if not data then break end
              local good, at = check.feed(data)
              if not good then err = "mismatch at " .. at break end
            end
            results[name .. " received"] = { check.count(), err }
          end)
        end
        pump("client", c)
        pump("server", s)
        run_loop()
        assert.same({ total }, results["client sent"])
        assert.same({ total }, results["server sent"])
        assert.same({ total }, results["client received"])
        assert.same({ total }, results["server received"])
      end)
    end)
  end

  describe("receive patterns, with data arriving one byte per TLS record", function()

    it("'l' returns lines without their EOL, a CRLF taken whole", function()
      local c, s = connected()
      send_bytes(s, "one\r\ntwo\n\nbare\rcr\n")
      assert.same({ "one" }, three(c:receive("l")))
      assert.same({ "two" }, three(c:receive("l")))
      assert.same({ "" }, three(c:receive("l")))
      assert.same({ "bare\rcr" }, three(c:receive("l")))
    end)

    it("reads a line when no pattern is given, and '*l' is 'l'", function()
      local c, s = connected()
      send_bytes(s, "first\nsecond\r\n")
      assert.same({ "first" }, three(c:receive()))
      assert.same({ "second" }, three(c:receive("*l")))
    end)

    it("'L' returns lines with their EOL", function()
      local c, s = connected()
      send_bytes(s, "one\ntwo\r\n\n")
      assert.same({ "one\n" }, three(c:receive("L")))
      assert.same({ "two\r\n" }, three(c:receive("L")))
      assert.same({ "\n" }, three(c:receive("*L")))
    end)

    it("'l' returns nil, 'closed' and the last line without an LF after close_notify", function()
      local c, s = connected()
      send_bytes(s, "done\nlast")
      assert.is_true(s:shutdown())
      assert.same({ "done" }, three(c:receive("l")))
      assert.same({ nil, "closed", "last" }, three(c:receive("l")))
    end)

    it("'a' returns everything up to the peer's close_notify, byte for byte", function()
      local c, s = connected()
      local bytes = {}
      for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
      local payload = "line\r\n\0\0zero\n" .. table.concat(bytes)
      send_bytes(s, payload)
      assert.is_true(s:shutdown())
      assert.same({ payload }, three(c:receive("a")))
      assert.same({ "" }, three(c:receive("*a")))
    end)

    it("a number n returns exactly n bytes, across records", function()
      local c, s = connected()
      send_bytes(s, "hello\0world\r\n!")
      assert.same({ "hello" }, three(c:receive(5)))
      assert.same({ "\0" }, three(c:receive(1)))
      assert.same({ "world\r\n" }, three(c:receive(7)))
      assert.same({ "!" }, three(c:receive(1)))
    end)

    it("a number n beyond the end of stream returns nil, 'closed' and what arrived", function()
      local c, s = connected()
      send_bytes(s, "abc")
      assert.is_true(s:shutdown())
      assert.same({ nil, "closed", "abc" }, three(c:receive(10)))
    end)

    it("mixes patterns on one stream, with records holding several pieces", function()
      local c, s = connected()
      assert.equal(21, s:send("HEAD 3\r\nabcrest\nof it"))
      assert.is_true(s:shutdown())
      assert.same({ "HEAD 3" }, three(c:receive("l")))
      assert.same({ "abc" }, three(c:receive(3)))
      assert.same({ "rest\n" }, three(c:receive("L")))
      assert.same({ "of it" }, three(c:receive("a")))
    end)

    it("puts a prefix in front of a line, an 'a' read and a counted read", function()
      local c, s = connected()
      send_bytes(s, "tail\n12345body")
      assert.is_true(s:shutdown())
      assert.same({ "head-tail" }, three(c:receive("l", "head-")))
      assert.same({ "ab123" }, three(c:receive(5, "ab")))
      assert.same({ "45" }, three(c:receive(2)))
      assert.same({ "pre:body" }, three(c:receive("a", "pre:")))
    end)

    it("includes the prefix in the partial result of a failure", function()
      local c, s = connected()
      send_bytes(s, "xy")
      assert.is_true(s:shutdown())
      assert.same({ nil, "closed", "p:xy" }, three(c:receive("l", "p:")))
    end)

    it("fails a line longer than max with nil, 'too long' and its first max bytes, the rest left", function()
      local c, s = connected()
      send_bytes(s, "0123456789abcdef\nnext\n0123456789\n")
      assert.same({ nil, "too long", "0123456789" }, three(c:receive("l", nil, 10)))
      assert.same({ "abcdef" }, three(c:receive("l")))
      assert.same({ "next" }, three(c:receive("l", nil, 10)))
      assert.same({ "0123456789" }, three(c:receive("l", nil, 10)))
    end)

    it("fails an 'a' read longer than max with nil, 'too long' and its first max bytes", function()
      local c, s = connected()
      local data = "0123456789abcdefghijklmnopqrst"
      assert.equal(#data, s:send(data))
      assert.is_true(s:shutdown())
      assert.same({ nil, "too long", "0123456789" }, three(c:receive("a", nil, 10)))
      assert.same({ data:sub(11) }, three(c:receive("a")))
    end)
  end)

  describe("receiveuntil and peek", function()

    it("receiveuntil finds a delimiter spread over one-byte records, and consumes it", function()
      local c, s = connected()
      send_bytes(s, "key: v\r\n\r\nbody--end--rest")
      assert.same({ "key: v" }, three(c:receiveuntil("\r\n\r\n")))
      assert.same({ "body" }, three(c:receiveuntil("--end--")))
      assert.is_true(s:shutdown())
      assert.same({ nil, "closed", "rest" }, three(c:receiveuntil("--end--")))
    end)

    it("sendfile encrypts a file (read and sent in the process) and resumes after timeouts", function()
      local c, s = connected()
      local path = os.tmpname()
      local data = util.pattern(3 * MiB + 123)
      local f = assert(io.open(path, "wb"))
      f:write(data)
      f:close()
      local result, got
      loop.spawn(function() result = { s:sendfile(path) } end)
      loop.spawn(function() got = c:receive(#data) end)
      run_loop()
      os.remove(path)
      assert.same({ #data }, result)
      assert.is_true(got == data, "the bytes received differ from the file's")
    end)

    it("peek shows decrypted bytes without taking them", function()
      local c, s = connected()
      assert.equal(6, s:send("hello\n"))
      assert.equal("h", c:peek(1))
      assert.same({ "hello" }, three(c:receive("l")))
    end)
  end)

  describe("recv", function()

    it("returns between 1 and max bytes, in stream order", function()
      local c, s = connected()
      local data = util.pattern(100)
      assert.equal(100, s:send(data))
      local got = {}
      for _ = 1, 100 do
        local chunk, err = c:recv(7)
        assert.is_string(chunk, err)
        assert.is_true(#chunk >= 1 and #chunk <= 7, "recv(7) returned " .. #chunk .. " bytes")
        got[#got + 1] = chunk
        if #table.concat(got) >= 100 then break end
      end
      assert.equal(data, table.concat(got))
    end)

    it("returns buffered data first, then nil, 'closed' after close_notify", function()
      local c, s = connected()
      assert.equal(16, s:send("line\nrest of it\n"))
      assert.is_true(s:shutdown())
      assert.same({ "line" }, three(c:receive("l")))
      assert.same({ "rest of it\n" }, three(c:recv()))
      local r = { c:recv() }
      assert.same({ nil, "closed" }, { r[1], r[2] })
    end)
  end)

  describe("send", function()

    it("returns the index of the last byte, the length when all was sent", function()
      local c, s = connected()
      local last = c:send("hello")
      assert.equal(5, last)
      assert.is_true(util.is_integer(last))
      assert.same({ "hello" }, three(s:receive(5)))
    end)

    it("send(data, i, j) sends the substring and returns j, negative indices as string.sub", function()
      local c, s = connected()
      assert.equal(6, c:send("0123456789", 3, 6))
      assert.equal(10, c:send("0123456789", 8))
      assert.equal(10, c:send("0123456789", -3))
      assert.equal(9, c:send("0123456789", -5, -2))
      assert.same({ "23457897895678" }, three(s:receive(14)))
    end)

    it("after a timed-out send refuses other data than the rest of it, and resumes it", function()
      local c, s = connected()
      local data = util.pattern(8 * MiB)
      c:settimeout(0)
      local sent, err, _, last = c:send(data)
      assert.same({ nil, "timeout" }, { sent, err })
      local r = { c:send("something else entirely") }
      assert.is_nil(r[1])
      assert.matches("same data", r[2], 1, true)
      -- The rest of the data still goes, every byte in order.
      s:settimeout(0)
      local check, deadline = util.checker(), lsock.monotime() + LIMIT
      while check.count() < #data and lsock.monotime() < deadline do
        local chunk = s:recv(65536)
        if chunk then assert.is_true((check.feed(chunk))) end
        if last < #data then
          local n, _, _, partial = c:send(data, last + 1)
          last = n or partial
        end
        if not chunk then lsock.select({ s }, { c }, 0.05) end
      end
      assert.equal(#data, check.count())
    end)

    it("with timeout 0 sends what fits, answers nil, 'timeout', nil, last and goes on from last + 1", function()
      local c, s = connected()
      local data = util.pattern(24 * MiB) -- more than the loopback queues hold
      c:settimeout(0)
      s:settimeout(0)
      local sent, err, errno, last = c:send(data)
      assert.is_nil(sent)
      assert.equal("timeout", err)
      assert.is_nil(errno)
      assert.is_true(util.is_integer(last), "last is " .. tostring(last))
      assert.is_true(last >= 0 and last < #data, "last is " .. tostring(last))
      assert.equal("w", c:events())
      local check = util.checker()
      local deadline = lsock.monotime() + LIMIT
      while check.count() < #data and lsock.monotime() < deadline do
        for _ = 1, 1000 do
          local chunk, rerr = s:recv(65536)
          if not chunk then
            assert.equal("timeout", rerr)
            break
          end
          local good, at = check.feed(chunk)
          assert.is_true(good, "data differs at " .. tostring(at))
        end
        if last < #data then
          local n, serr, _, partial = c:send(data, last + 1)
          if n then
            last = n
          else
            assert.equal("timeout", serr)
            assert.is_true(partial >= last, "last went back from " .. last .. " to " .. tostring(partial))
            last = partial
          end
        end
        lsock.select({ s }, last < #data and { c } or nil, 0.05)
      end
      assert.equal(#data, last)
      assert.equal(#data, check.count())
    end)

    it("to a peer that closed answers nil, 'closed'", function()
      local c, s = connected()
      assert.is_true(s:close())
      local r, err
      for _ = 1, 200 do
        r, err = c:send(util.block(0))
        if not r then break end
        lsock.sleep(0.01)
      end
      assert.is_nil(r)
      assert.equal("closed", err)
    end)
  end)

  describe("timeouts", function()

    it("of 0 make receive on a quiet stream answer nil, 'timeout', '' with events() 'r'", function()
      local c, s = connected()
      c:settimeout(0)
      assert.same({ nil, "timeout", "" }, three(c:receive("l")))
      assert.equal("r", c:events())
      local r = { c:recv() }
      assert.same({ nil, "timeout" }, { r[1], r[2] })
      assert.equal(5, s:send("late\n"))
      c:settimeout(util.TIMEOUT)
      assert.same({ "late" }, three(c:receive("l")))
    end)

    it("end a receive(n) with nil, 'timeout' and the bytes that arrived, which go on as prefix", function()
      local c, s = connected()
      assert.equal(5, s:send("12345"))
      c:settimeout(0.2)
      local r = three(c:receive(10))
      assert.same({ nil, "timeout", "12345" }, r)
      assert.equal(5, s:send("67890"))
      c:settimeout(util.TIMEOUT)
      assert.same({ "1234567890" }, three(c:receive(10, r[3])))
    end)

    it("apply to the handshake: a stream wrapped with timeout 0 answers nil, 'timeout' at once", function()
      local a, b = raw_pair()
      a:settimeout(0)
      local c = track(tls.wrap(a, client_ctx(), "localhost"))
      track(tls.wrap(b, server_ctx()))
      local ok, err = c:handshake()
      assert.is_nil(ok)
      assert.equal("timeout", err)
      assert.equal("r", c:events())
    end)
  end)

  describe("dirty", function()

    it("is true while decrypted data is buffered, false once it is consumed", function()
      local c, s = connected()
      assert.equal(4, s:send("a\nb\n"))
      assert.same({ "a" }, three(c:receive("l")))
      assert.is_true(c:dirty())
      local readable = lsock.select({ c }, nil, 0)
      assert.equal(1, #readable, "select sees the buffered line")
      assert.same({ "b" }, three(c:receive("l")))
      assert.is_false(c:dirty())
    end)

    it("is true after recv took only part of a record", function()
      local c, s = connected()
      assert.equal(10, s:send("0123456789"))
      assert.same({ "012" }, three(c:recv(3)))
      assert.is_true(c:dirty())
      c:settimeout(0)
      assert.same({ "3456789" }, three(c:recv()))
      assert.is_false(c:dirty())
    end)
  end)

  describe("getstats", function()

    it("counts the application bytes received and sent, and the age", function()
      local c, s = connected()
      assert.equal(5, c:send("hello"))
      assert.same({ "hello" }, three(s:receive(5)))
      assert.equal(3, s:send("ab\n"))
      assert.same({ "ab" }, three(c:receive()))
      local received, sent, age = c:getstats()
      assert.same({ 3, 5 }, { received, sent })
      assert.is_true(util.is_integer(received) and util.is_integer(sent))
      assert.is_number(age)
      assert.is_true(age >= 0)
      received, sent = s:getstats()
      assert.same({ 5, 3 }, { received, sent })
    end)
  end)

  describe("closing", function()

    it("shutdown() sends close_notify, so the peer's receive('a') returns all the data", function()
      local c, s = connected()
      assert.equal(10, s:send("last words"))
      assert.is_true(s:shutdown())
      assert.same({ "last words" }, three(c:receive("a")))
    end)

    it("answers 'closed' to a send after shutdown('send') and still receives", function()
      local c, s = connected()
      assert.is_true(c:shutdown("send"))
      local r = { c:send("late") }
      assert.same({ nil, "closed" }, { r[1], r[2] })
      assert.equal(6, s:send("reply\n"))
      assert.same({ "reply" }, three(c:receive()))
      assert.same({ "" }, three(s:receive("a")))
    end)

    it("shutdown('send') sends close_notify and leaves the other direction open", function()
      local c, s = connected()
      assert.equal(10, s:send("last words"))
      assert.is_true(s:shutdown("send"))
      assert.same({ "last words" }, three(c:receive("a")))
      assert.equal(6, c:send("reply\n"))
      assert.same({ "reply" }, three(s:receive("l")))
    end)

    -- Under TLS 1.3 the server sends session tickets after the handshake;
    -- a client that never reads leaves them unread, and a close() with
    -- unread input makes the system reset the connection, which throws
    -- away what is still on its way.
    it("delivers all a client sent before shutdown() and close(), though it never read", function()
      local c, s = connected()
      local data = util.pattern(1 * MiB)
      loop.spawn(function()
        c:send(data)
        c:shutdown()
        c:close()
      end)
      local got
      loop.spawn(function() got = { s:receive("a") } end)
      run_loop()
      assert.equal(#data, #(got[1] or got[3] or ""), "received " .. tostring(got[2]))
      assert.is_true(got[1] == data, "the data differs or ended with " .. tostring(got[2]))
    end)

    it("a peer that goes without close_notify makes receive('a') answer nil, 'closed', partial", function()
      local t, peer = with_tls_peer(server_ctx(), "abort", util.tohex("truncated"))
      assert.same({ nil, "closed", "truncated" }, three(t:receive("a")))
      assert.equal("aborted 9", peer.wait())
    end)

    it("close() answers true and closes the socket too", function()
      local c, s, a = connected()
      assert.is_true(c:close())
      local fd, err = a:getfd()
      assert.is_nil(fd)
      assert.equal("closed", err)
      local r = { s:receive("l") }
      assert.same({ nil, "closed" }, { r[1], r[2] })
    end)

    it("after close(), receive, recv, send and handshake answer nil, 'closed'", function()
      local c = connected()
      c:close()
      for _, call in ipairs({ { "receive", "l" }, { "recv" }, { "send", "x" }, { "handshake" } }) do
        local r = { c[call[1]](c, call[2]) }
        assert.same({ nil, "closed" }, { r[1], r[2] }, call[1])
      end
      local fd, err = c:getfd()
      assert.is_nil(fd)
      assert.equal("closed", err)
    end)

    it("closing the socket closes the stream", function()
      local c, _, a = connected()
      assert.is_true(a:close())
      local r = { c:send("x") }
      assert.same({ nil, "closed" }, { r[1], r[2] })
    end)
  end)

  describe("as an object", function()

    it("has __name 'lsock.tls' and a tostring starting 'lsock.tls: '", function()
      local c = connected()
      assert.equal("lsock.tls", debug.getmetatable(c).__name)
      assert.matches("^lsock%.tls: ", tostring(c))
    end)

    it("has contexts with __name 'lsock.tlscontext' whose tostring tells the mode", function()
      assert.equal("lsock.tlscontext", debug.getmetatable(client_ctx()).__name)
      assert.equal("lsock.tlscontext", debug.getmetatable(server_ctx()).__name)
      assert.equal("lsock.tlscontext: client", tostring(client_ctx()))
      assert.equal("lsock.tlscontext: server", tostring(server_ctx()))
    end)

    it("sets and reads options on its socket", function()
      local c, _, a = connected()
      assert.is_true(c:setoption("nodelay", true))
      assert.is_true(a:getoption("nodelay"))
      assert.is_true(a:setoption("nodelay", false))
      assert.is_false(c:getoption("nodelay"))
      assert.equal(a:getoption("sndbuf"), c:getoption("sndbuf"))
      assert.has_error(function() c:setoption("no such option", 1) end)
    end)

    it("tells a loop how long a pending call may wait (timeout())", function()
      local c = connected()
      assert.is_nil(c:timeout(), "nothing pending")
      c:settimeout(0)
      assert.same({ nil, "timeout", "" }, { c:receive(1) })
      assert.equal("r", c:events())
      assert.is_nil(c:timeout(), "a call with timeout 0 has no deadline")
      -- the same call under a total limit, as a loop that steps it makes it
      c:settimeout(0.5, "t")
      assert.same({ nil, "timeout", "" }, { c:receive(1) })
      local left = c:timeout()
      assert.is_number(left)
      assert.is_true(left > 0 and left <= 0.5, "timeout() said " .. tostring(left))
    end)

    it("gives its socket, and the socket's descriptor and addresses", function()
      local c, _, a = connected()
      assert.is_true(rawequal(a, c:socket()))
      assert.equal(a:getfd(), c:getfd())
      assert.equal(a:pollfd(), c:pollfd())
      assert.same({ a:getsockname() }, { c:getsockname() })
      assert.same({ a:getpeername() }, { c:getpeername() })
    end)

    it("tells the server name on both ends", function()
      local c, s = connected()
      assert.equal("localhost", c:servername())
      assert.equal("localhost", s:servername())
    end)

    it("is made by tls.wrap from an options table as well as from a context", function()
      local a, b = raw_pair()
      local c = track(tls.wrap(a, { ca = C.ca.cert }, "localhost"))
      local s = track(tls.wrap(b, { mode = "server", cert = C.server.cert, key = C.server.key }))
      local rc, rs = handshake_both(c, s)
      assert.same({ true }, rc)
      assert.same({ true }, rs)
    end)
  end)

  describe("verification", function()

    it("accepts a server whose chain and name check out: verified() is true", function()
      local c = connected()
      assert.same({ true }, { c:verified() })
    end)

    it("checks an IP address against the certificate's IP SAN", function()
      local c, s = wrapped(nil, nil, "tcp", "127.0.0.1")
      local rc, rs = handshake_both(c, s)
      assert.same({ true }, rc)
      assert.same({ true }, rs)
      assert.same({ true }, { c:verified() })
    end)

    it("rejects a certificate for another host name: 'hostname mismatch'", function()
      local err = client_rejects(nil, nil, "other.test")
      assert.matches("^tls handshake: ", err)
      assert.matches("hostname mismatch", err, 1, true)
    end)

    it("rejects a server signed by a CA it does not trust: 'unable to get local issuer certificate'", function()
      local err, rs = client_rejects({ ca = C.selfsigned.cert }, nil)
      assert.equal("tls handshake: certificate verify failed: unable to get local issuer certificate", err)
      assert.is_nil(rs[1])
      assert.matches("^tls handshake: .*unknown ca", rs[2])
    end)

    it("rejects an expired certificate: 'certificate has expired'", function()
      local err = client_rejects(nil, { cert = C.expired.cert, key = C.expired.key })
      assert.equal("tls handshake: certificate verify failed: certificate has expired", err)
    end)

    it("rejects a self-signed certificate: 'self-signed certificate'", function()
      local err = client_rejects(nil, { cert = C.selfsigned.cert, key = C.selfsigned.key })
      assert.equal("tls handshake: certificate verify failed: self-signed certificate", err)
    end)

    it("with verify=false connects to a self-signed server; verified() is false and why", function()
      local c = connected({ verify = false }, { cert = C.selfsigned.cert, key = C.selfsigned.key })
      local ok, why = c:verified()
      assert.is_false(ok)
      assert.is_string(why)
      assert.matches("self%-signed", why)
      assert.is_table(c:peercert())
    end)

    it("takes verify='none' on a client as verify=false", function()
      local c = connected({ verify = "none" }, { cert = C.expired.cert, key = C.expired.key })
      local ok, why = c:verified()
      assert.is_false(ok)
      assert.matches("expired", why)
    end)

    it("raises in tls.wrap when a verifying client context gets no server name", function()
      local a = raw_pair()
      local ctx = client_ctx()
      assert_raises({ "servername", "server name", "server's name" }, function() tls.wrap(a, ctx) end)
    end)

    describe("of clients, by a server", function()

      it("with verify='require' rejects a client without a certificate", function()
        local c, s = wrapped(nil, { verify = "require", ca = C.ca.cert })
        local rc, rs = handshake_both(c, s)
        assert.is_nil(rs[1], "the server accepted a client without a certificate")
        assert.matches("^tls handshake: .*certificate", rs[2])
        -- Under TLS 1.3 the client's handshake ends before the server's
        -- answer: then its first read gets the alert.
        if rc[1] then
          local data, err = c:receive("l")
          assert.is_nil(data)
          assert.is_string(err)
        end
      end)

      it("with verify='require' accepts a client with a certificate of its CA and shows it", function()
        local c, s = connected({ cert = C.client.cert, key = C.client.key },
          { verify = "require", ca = C.ca.cert })
        assert.same({ true }, { s:verified() })
        local pc = s:peercert()
        assert.is_table(pc)
        assert.equal("CN=lsock client,O=lsock", pc.subject)
        assert.equal(2, c:send("x\n"))
        assert.same({ "x" }, three(s:receive("l")))
      end)

      it("with verify='optional' accepts a client without a certificate; peercert() is nil", function()
        local _, s = connected(nil, { verify = "optional", ca = C.ca.cert })
        assert.is_nil(s:peercert())
      end)

      it("with verify='none' (the default) asks for no certificate", function()
        local _, s = connected({ cert = C.client.cert, key = C.client.key }, nil)
        assert.is_nil(s:peercert())
      end)
    end)
  end)

  describe("SNI", function()

    local function other_ctx()
      return server_ctx({ cert = C.other.cert, key = C.other.key })
    end

    it("a server picks the context of the name asked for from its sni table", function()
      local sctx = server_ctx({ sni = { ["other.test"] = other_ctx() } })
      local c, s = connected(nil, sctx, "tcp", "other.test")
      assert.equal("CN=other.test,O=lsock", c:peercert().subject)
      assert.same({ true }, { c:verified() })
      assert.equal("other.test", s:servername())
      assert.equal("other.test", c:servername())
    end)

    it("a server keeps its own certificate for a name not in its sni table", function()
      local sctx = server_ctx({ sni = { ["other.test"] = other_ctx() } })
      local c, s = connected(nil, sctx, "tcp", "localhost")
      assert.equal("CN=localhost,O=lsock", c:peercert().subject)
      assert.equal("localhost", s:servername())
      local c2 = connected({ verify = false }, sctx, "tcp", "nobody.test")
      assert.equal("CN=localhost,O=lsock", c2:peercert().subject)
    end)

    it("a server asks its sni function, which gets the name and may answer nil", function()
      local other, asked = other_ctx(), {}
      local sctx = server_ctx({ sni = function(name)
        asked[#asked + 1] = name
        if name == "other.test" then return other end
        return nil
      end })
      local c = connected(nil, sctx, "tcp", "other.test")
      assert.equal("CN=other.test,O=lsock", c:peercert().subject)
      local c2 = connected(nil, sctx, "tcp", "localhost")
      assert.equal("CN=localhost,O=lsock", c2:peercert().subject)
      assert.same({ "other.test", "localhost" }, asked)
    end)
  end)

  describe("SNI, more", function()
    local function other_ctx(opts)
      return server_ctx(util.merged({ cert = C.other.cert, key = C.other.key }, opts))
    end

    it("matches '*.name' in an sni table for one level of subdomain", function()
      local sctx = server_ctx({ sni = { ["*.test"] = other_ctx() } })
      local c = connected({ verify = false }, sctx, "tcp", "other.test")
      assert.equal("CN=other.test,O=lsock", c:peercert().subject)
      local c2 = connected({ verify = false }, sctx, "tcp", "a.b.test")
      assert.equal("CN=localhost,O=lsock", c2:peercert().subject)
    end)

    it("fails the handshake when the sni function raises, and serves the next client", function()
      local sctx = server_ctx({ sni = function(name)
        if name == "other.test" then error("no such tenant") end
        return nil
      end })
      local c, s = wrapped(nil, sctx, "tcp", "other.test")
      local rc, rs = handshake_both(c, s)
      assert.is_nil(rc[1])
      assert.is_nil(rs[1])
      assert.matches("tls handshake: sni: .*no such tenant", rs[2])
      local c2 = connected(nil, sctx, "tcp", "localhost")
      assert.is_true(c2:verified())
    end)

    it("fails the handshake when the sni function answers something else than a server context", function()
      local sctx = server_ctx({ sni = function() return client_ctx() end })
      local c, s = wrapped(nil, sctx, "tcp", "localhost")
      local _, rs = handshake_both(c, s)
      assert.is_nil(rs[1])
      assert.matches("a server context expected", rs[2], 1, true)
    end)

    it("takes the chosen context's client-certificate policy", function()
      local sctx = server_ctx({ sni = { ["other.test"] = other_ctx({ verify = "require", ca = C.ca.cert }) } })
      local c, s = wrapped({ verify = false }, sctx, "tcp", "other.test")
      local _, rs = handshake_both(c, s)
      assert.is_nil(rs[1])
      assert.matches("peer did not return a certificate", rs[2], 1, true)
      local c2, s2 = connected({ verify = false, cert = C.client.cert, key = C.client.key }, sctx, "tcp",
        "other.test")
      assert.matches("CN=lsock client", s2:peercert().subject, 1, true)
      assert.is_true(s2:verified())
      assert.equal("other.test", c2:servername())
    end)
  end)

  describe("ALPN", function()

    it("both ends agree on the protocol, the server's preference first", function()
      local c, s = connected({ alpn = { "h2", "http/1.1" } }, { alpn = { "http/1.1", "h2" } })
      assert.equal("http/1.1", c:alpn())
      assert.equal("http/1.1", s:alpn())
    end)

    it("picks the one protocol both know", function()
      local c, s = connected({ alpn = { "x-unknown", "h2" } }, { alpn = { "spdy/3", "h2" } })
      assert.equal("h2", c:alpn())
      assert.equal("h2", s:alpn())
    end)

    it("answers nil when the server has no ALPN", function()
      local c, s = connected({ alpn = { "h2" } }, nil)
      assert.is_nil(c:alpn())
      assert.is_nil(s:alpn())
    end)
  end)

  describe("peer certificates", function()

    it("peercert() has subject, issuer, san, serial, dates, fingerprint and pem", function()
      local c = connected()
      local pc = c:peercert()
      assert.is_table(pc)
      assert.equal("CN=localhost,O=lsock", pc.subject)
      assert.equal("CN=lsock test CA,O=lsock", pc.issuer)
      assert.is_table(pc.san)
      assert.is_true(contains(pc.san, "DNS:localhost"), "san: " .. table.concat(pc.san or {}, " "))
      assert.is_true(contains(pc.san, "IP:127.0.0.1"), "san: " .. table.concat(pc.san or {}, " "))
      assert.equal(3, #pc.san)
      assert.is_string(pc.serial)
      assert.equal(certs.SERVER_SERIAL, (pc.serial:lower():gsub("^0+", "")))
      assert.is_number(pc.notbefore)
      assert.is_number(pc.notafter)
      local now = os.time()
      assert.is_true(pc.notbefore <= now + 60 and pc.notbefore > now - 86400,
        "notbefore " .. pc.notbefore .. ", now " .. now)
      local days = (pc.notafter - pc.notbefore) / 86400
      assert.is_true(days > 364.9 and days < 365.1, "valid for " .. days .. " days")
      assert.matches("^%x+$", pc.fingerprint)
      assert.equal(64, #pc.fingerprint)
      assert.equal(certs.fingerprint(C.server.cert), pc.fingerprint)
      assert.equal(trim(C.server.cert_pem), trim(pc.pem))
    end)

    it("digests a certificate by any algorithm OpenSSL names (core._cert_digest, for LuaSec's face)", function()
      local digest = require("lsock.core")._cert_digest
      local pem = C.server.cert_pem
      assert.equal(certs.fingerprint(C.server.cert, "sha1"), digest(pem, "sha1"))
      assert.equal(certs.fingerprint(C.server.cert, "sha512"), digest(pem, "sha512"))
      assert.equal(certs.fingerprint(C.server.cert), digest(pem))
      assert.same({ nil, "unknown digest algorithm 'nosuch'" }, { digest(pem, "nosuch") })
      assert.same({ nil, "no certificate in the text" }, { digest("not a certificate", "sha1") })
    end)

    it("peerchain() starts with the peer's own certificate", function()
      local c = connected()
      local chain = c:peerchain()
      assert.is_table(chain)
      assert.is_true(#chain >= 1)
      assert.equal(c:peercert().fingerprint, chain[1].fingerprint)
      assert.equal("CN=localhost,O=lsock", chain[1].subject)
    end)

    it("peerchain() holds the CA when the server's cert file carries the chain", function()
      local c = connected(nil, { cert = C.chain })
      local chain = c:peerchain()
      assert.equal("CN=localhost,O=lsock", chain[1].subject)
      local subjects = {}
      for i, cert in ipairs(chain) do subjects[i] = cert.subject end
      assert.is_true(contains(subjects, "CN=lsock test CA,O=lsock"), table.concat(subjects, " | "))
      assert.equal(certs.fingerprint(C.ca.cert), chain[#chain].fingerprint)
    end)

    it("peercert() is nil on a server whose client sent none", function()
      local _, s = connected()
      assert.is_nil(s:peercert())
    end)
  end)

  describe("protocol versions and ciphers", function()

    it("is tls1.3 by default", function()
      local c, s = connected()
      assert.equal("tls1.3", c:version())
      assert.equal("tls1.3", s:version())
      assert.matches("^TLS_", c:cipher())
      assert.equal(c:cipher(), s:cipher())
    end)

    it("is tls1.2 when the client says max_version='tls1.2'", function()
      local c, s = connected({ max_version = "tls1.2" })
      assert.equal("tls1.2", c:version())
      assert.equal("tls1.2", s:version())
    end)

    it("is tls1.2 when the server says max_version='tls1.2'", function()
      local c = connected(nil, { max_version = "tls1.2" })
      assert.equal("tls1.2", c:version())
    end)

    it("fails when the client wants min_version='tls1.3' and the server stops at tls1.2", function()
      local err, rs = client_rejects({ min_version = "tls1.3" }, { max_version = "tls1.2" })
      assert.matches("^tls handshake: .*protocol", err)
      assert.is_nil(rs[1])
      assert.matches("^tls handshake: .*protocol", rs[2])
    end)

    it("uses the TLS 1.3 suite given by ciphersuites", function()
      local c = connected({ ciphersuites = "TLS_CHACHA20_POLY1305_SHA256" })
      assert.equal("TLS_CHACHA20_POLY1305_SHA256", c:cipher())
    end)

    it("uses the TLS 1.2 cipher given by ciphers", function()
      local c = connected({ max_version = "tls1.2", ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" })
      assert.equal("ECDHE-ECDSA-AES128-GCM-SHA256", c:cipher())
    end)
  end)

  describe("session resumption", function()

    -- Two tls.connect calls with one client context to a loop server with
    -- one server context; each exchanges a line (which, under TLS 1.3,
    -- brings the session ticket) and closes. Returns what each client saw
    -- and what the server saw.
    local function connect_twice(copts, sopts)
      local sctx, cctx = server_ctx(sopts), client_ctx(copts)
      local port, served = loop_server(sctx, 2, function(t)
        local line, err = t:receive("l")
        if not line then return nil, err end
        t:send(line .. "\n")
        return t:resumed()
      end)
      local clients = {}
      loop.spawn(function()
        for i = 1, 2 do
          local t, err = tls.connect("127.0.0.1", port,
            { context = cctx, servername = "localhost", timeout = util.TIMEOUT })
          if not t then
            clients[i] = { error = err }
            break
          end
          track(t)
          t:send("hi " .. i .. "\n")
          clients[i] = { line = t:receive("l"), resumed = t:resumed(), version = t:version() }
          t:shutdown()
          t:close()
        end
      end)
      run_loop()
      return clients, served
    end

    it("resumes the session of a second tls.connect with the same context (TLS 1.3)", function()
      local clients, served = connect_twice()
      assert.same({ line = "hi 1", resumed = false, version = "tls1.3" }, clients[1])
      assert.same({ line = "hi 2", resumed = true, version = "tls1.3" }, clients[2])
      assert.same({ { false }, { true } }, served)
    end)

    it("resumes the session of a second tls.connect with the same context (TLS 1.2)", function()
      local clients, served = connect_twice({ max_version = "tls1.2" })
      assert.same({ line = "hi 1", resumed = false, version = "tls1.2" }, clients[1])
      assert.same({ line = "hi 2", resumed = true, version = "tls1.2" }, clients[2])
      assert.same({ { false }, { true } }, served)
    end)

    it("resumes nothing when the client context says sessions = false", function()
      local clients, served = connect_twice({ sessions = false })
      assert.same({ false, false }, { clients[1].resumed, clients[2].resumed })
      assert.same({ { false }, { false } }, served)
    end)

    it("resumes nothing when the server context says sessions = false (TLS 1.3 and 1.2)", function()
      for _, v in ipairs({ "tls1.3", "tls1.2" }) do
        local clients, served = connect_twice({ max_version = v }, { sessions = false })
        assert.same({ false, false, v }, { clients[1].resumed, clients[2].resumed, clients[2].version })
        assert.same({ { false }, { false } }, served)
      end
    end)

    it("does not resume across two client contexts", function()
      local sctx = server_ctx()
      local resumed = {}
      for i = 1, 2 do
        local c, s = connected(nil, sctx)
        assert.equal(2, s:send("x\n"))
        assert.same({ "x" }, three(c:receive("l")))
        resumed[i] = c:resumed()
      end
      assert.same({ false, false }, resumed)
    end)
  end)

  describe("tls.connect", function()

    it("connects, shakes hands and verifies, the server name being the host", function()
      local port, served = loop_server(server_ctx(), 1, function(t)
        return t:receive("l")
      end)
      local got
      loop.spawn(function()
        local t, err = tls.connect("localhost", port, { ca = C.ca.cert, timeout = util.TIMEOUT })
        if not t then
          got = { err }
          return
        end
        track(t)
        got = { t:servername(), t:verified(), t:send("via connect\n") }
        t:close()
      end)
      run_loop()
      assert.same({ "localhost", true, 12 }, got)
      assert.same({ { "via connect" } }, served)
    end)

    it("returns nil and the handshake error when verification fails", function()
      local port = loop_server(server_ctx(), 1, function(t) return t:handshake() end)
      local got
      loop.spawn(function()
        got = { tls.connect("127.0.0.1", port,
          { ca = C.ca.cert, servername = "other.test", timeout = util.TIMEOUT }) }
      end)
      run_loop()
      assert.is_nil(got[1])
      assert.matches("^tls handshake: .*hostname mismatch", got[2])
    end)

    it("returns nil and an error when nothing listens", function()
      local listener, port = util.listen("127.0.0.1")
      listener:close()
      local t, err = tls.connect("127.0.0.1", port, { ca = C.ca.cert, timeout = util.TIMEOUT })
      assert.is_nil(t)
      assert.is_string(err)
    end)
  end)

  describe("inside lsock.loop", function()

    it("serves 200 concurrent TLS clients echoing lines", function()
      local N, LINES = 200, 5
      local port, served = loop_server(server_ctx(), N, function(t)
        local n = 0
        while true do
          local line, err = t:receive("l")
          if not line then return n, err end
          if not t:send(line .. "\n") then return n, "send failed" end
          n = n + 1
        end
      end)
      local cctx = client_ctx()
      local ok, failures = 0, {}
      for i = 1, N do
        loop.spawn(function()
          local t, err = tls.connect("127.0.0.1", port,
            { context = cctx, servername = "localhost", timeout = 10 })
          if not t then
            failures[#failures + 1] = "connect " .. i .. ": " .. tostring(err)
            return
          end
          track(t)
          for k = 1, LINES do
            local line = ("client %d line %d"):format(i, k)
            t:send(line .. "\n")
            local back, rerr = t:receive("l")
            if back ~= line then
              failures[#failures + 1] = ("client %d line %d: %s"):format(i, k, tostring(back or rerr))
              t:close()
              return
            end
          end
          t:close()
          ok = ok + 1
        end)
      end
      run_loop()
      assert.same({}, failures)
      assert.equal(N, ok)
      for i = 1, N do
        assert.same({ LINES, "closed" }, served[i], "server end " .. i)
      end
    end)

    it("keeps serving others when clients send garbage or stop halfway through the handshake", function()
      local port, served = loop_server(server_ctx(), 4, function(t)
        local ok, err = t:handshake()
        if not ok then return "failed", err end
        local line = t:receive("l")
        t:send(tostring(line) .. "\n")
        return "served", line
      end)
      local good, stalled_open
      -- A record header announcing a ClientHello of 512 bytes, and the
      -- first 6 of them.
      local truncated = "\22\3\1\2\0" .. "\1\0\1\252\3\3"
      loop.spawn(function()
        local g = track(must(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT })))
        g:settimeout(util.TIMEOUT)
        g:send("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        g:receive("a")   -- whatever the server answers, until it closes
        g:close()
        local h = track(must(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT })))
        h:send(truncated)
        h:close()
        local st = track(must(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT })))
        st:send(truncated)
        local t, err = tls.connect("127.0.0.1", port,
          { ca = C.ca.cert, servername = "localhost", timeout = util.TIMEOUT })
        if t then
          track(t)
          t:send("still here\n")
          good = t:receive("l")
          t:close()
        else
          good = "connect failed: " .. tostring(err)
        end
        stalled_open = st:getfd() ~= nil
        st:close()
      end)
      run_loop()
      assert.equal("still here", good)
      assert.is_true(stalled_open)
      local outcomes = {}
      for i = 1, 4 do
        local r = served[i] or {}
        outcomes[#outcomes + 1] = tostring(r[1])
        if r[1] == "failed" then assert.is_string(r[2]) end
      end
      table.sort(outcomes)
      assert.same({ "failed", "failed", "failed", "served" }, outcomes)
      for i = 1, 4 do
        local err = served[i][2]
        if served[i][1] == "failed" and err ~= "closed" and err ~= "timeout" then
          assert.matches("^tls handshake: ", err)
        end
      end
    end)
  end)

  describe("large transfers, with a child process as the peer", function()

    it("receives 64 MiB sent by the peer, checked block by block, then close_notify", function()
      local total = 64 * MiB
      local t, peer = with_tls_peer(server_ctx(), "send", total)
      for k = 0, total / util.BLOCK - 1 do
        local block, err = t:receive(util.BLOCK)
        if block ~= util.block(k) then
          assert.is_true(false, string.format("block %d: %s", k, block and "differs" or err))
        end
      end
      assert.same({ nil, "closed", "" }, three(t:receive(1)))
      assert.equal(total, (t:getstats()))
      assert.equal("sent " .. total, peer.wait())
    end)

    it("sends 64 MiB to the peer, which checks every byte", function()
      local total = 64 * MiB
      local t, peer = with_tls_peer(server_ctx(), "verify", total)
      assert.equal(total, util.send_pattern(t, total))
      assert.is_true(t:shutdown())
      t:close()
      assert.equal("ok " .. total, peer.wait())
    end)

    it("echoes lines for a peer that connects with tls.connect", function()
      local t, peer = with_tls_peer(server_ctx(), "echo", 100)
      for _ = 1, 100 do
        local line, err = t:receive("l")
        if not line then
          assert.is_true(false, "receive: " .. tostring(err))
        end
        assert.equal(#line + 1, t:send(line .. "\n"))
      end
      assert.equal("echoed 100", peer.wait())
    end)
  end)

  describe("keys and trust stores", function()

    it("takes a password-protected key with its password", function()
      local c = connected(nil, { cert = C.encrypted.cert, key = C.encrypted.key, password = certs.PASSWORD })
      assert.equal(certs.fingerprint(C.encrypted.cert), c:peercert().fingerprint)
    end)

    it("answers nil, 'tls context: ...' for a protected key with a wrong password", function()
      local ctx, err = tls.context({ mode = "server", cert = C.encrypted.cert,
        key = C.encrypted.key, password = "wrong" })
      assert.is_nil(ctx)
      assert.matches("^tls context: ", err)
    end)

    it("answers nil, 'tls context: ...' for a protected key without a password, without prompting", function()
      -- In a child without a terminal (setsid) and with no input, killed
      -- after 10 s: OpenSSL's default would be to ask for the password.
      local setsid = util.succeeds("command -v setsid") and "setsid " or ""
      local output = util.output("timeout 10 " .. setsid ..
        util.lua_command(TLS_PEER, "context", C.encrypted.cert, C.encrypted.key) .. " </dev/null 2>&1")
      assert.matches("^context nil tls context: ", output)
    end)

    it("takes a certificate and key given as PEM text", function()
      local c = connected(nil, { cert = C.server.cert_pem, key = C.server.key_pem })
      assert.equal(certs.fingerprint(C.server.cert), c:peercert().fingerprint)
    end)

    it("takes a protected key given as PEM text with its password", function()
      connected(nil, { cert = C.encrypted.cert_pem, key = C.encrypted.key_pem, password = certs.PASSWORD })
    end)

    it("takes the CA as PEM text", function()
      local c = connected({ ca = C.ca.cert_pem })
      assert.same({ true }, { c:verified() })
    end)

    it("takes the CA as a directory of hashed names (openssl rehash)", function()
      local c = connected({ ca = C.cadir })
      assert.same({ true }, { c:verified() })
    end)

    it("trusts the system store when no CA is given, which does not hold the test CA", function()
      local err = client_rejects(must(tls.context({})), nil)
      assert.equal("tls handshake: certificate verify failed: unable to get local issuer certificate", err)
    end)

    it("answers nil, 'tls context: ...' for a certificate file that is not there", function()
      local ctx, err = tls.context({ mode = "server", cert = C.dir .. "/missing.pem", key = C.server.key })
      assert.is_nil(ctx)
      assert.matches("^tls context: ", err)
    end)

    it("answers nil, 'tls context: ...' for a key that does not match the certificate", function()
      local ctx, err = tls.context({ mode = "server", cert = C.server.cert, key = C.other.key })
      assert.is_nil(ctx)
      assert.matches("^tls context: ", err)
    end)

    it("answers nil, 'tls context: ...' for a CA file that is not there", function()
      local ctx, err = tls.context({ ca = C.dir .. "/missing-ca.pem" })
      assert.is_nil(ctx)
      assert.matches("^tls context: ", err)
    end)
  end)

  describe("bad options", function()

    local cases = {
      { "an unknown option", "bogus", { bogus = true } },
      { "a mode that is not client or server", "mode", { mode = "sideways" } },
      { "a verify of the wrong type", "verify", { verify = 42 } },
      { "a server verify that is not none, optional or require", "verify",
        { mode = "server", verify = "sometimes" }, true },
      { "alpn that is not an array", "alpn", { alpn = "h2" } },
      { "alpn with a non-string", "alpn", { alpn = { "h2", 42 } } },
      { "a min_version that is not tls1.2 or tls1.3", "min_version", { min_version = "ssl3" } },
      { "a max_version of the wrong type", "max_version", { max_version = 13 } },
      { "a cert of the wrong type", "cert", { cert = true } },
      { "a key of the wrong type", "key", { key = {} } },
      { "a ca of the wrong type", "ca", { ca = true } },
      { "a password of the wrong type", "password", { password = {} } },
      { "ciphers of the wrong type", "ciphers", { ciphers = {} } },
      { "ciphersuites of the wrong type", "ciphersuites", { ciphersuites = false } },
      { "an sni that is neither a table nor a function", "sni", { mode = "server", sni = 42 }, true },
    }
    for _, case in ipairs(cases) do
      it("tls.context raises on " .. case[1] .. ", naming " .. case[2], function()
        local opts = case[3]
        -- a server context gets a good certificate, so that only the option is wrong
        if case[4] then opts = util.merged({ cert = C.server.cert, key = C.server.key }, opts) end
        assert_raises({ case[2] }, function() tls.context(opts) end)
      end)
    end

    it("tls.context raises when its argument is not a table", function()
      assert_raises({ "#1", "table" }, function() tls.context("server") end)
    end)

    it("tls.wrap raises when given no socket", function()
      local ctx = client_ctx({ verify = false })
      assert_raises({ "#1", "socket" }, function() tls.wrap("not a socket", ctx) end)
    end)

    it("tls.wrap raises when given no context or options", function()
      local a = raw_pair()
      assert_raises({ "#2", "context" }, function() tls.wrap(a, 42, "localhost") end)
    end)
  end)

  describe("started over a socket already in use (STARTTLS)", function()
    it("first reads what the socket's own reader had buffered past the plain text", function()
      local a, b = raw_pair("unix")
      assert.equal(9, a:send("STARTTLS\n"))
      local c = track(tls.wrap(a, client_ctx(), "localhost"))
      c:settimeout(0)
      assert.same({ nil, "timeout" }, { c:handshake() }) -- the client hello is on its way
      -- The server's line read takes the hello into the socket's buffer too.
      assert.equal("STARTTLS", b:receive())
      assert.is_true(b:dirty())
      local s = track(tls.wrap(b, server_ctx()))
      local rc, rs = handshake_both(c, s)
      assert.same({ true }, rc)
      assert.same({ true }, rs)
      assert.equal(6, c:send("hello\n"))
      assert.equal("hello", s:receive())
    end)

    it("raises when the socket under a stream is used for I/O directly", function()
      local c, _, a = connected()
      for _, call in ipairs({ { "send", "x" }, { "receive" }, { "recv" } }) do
        assert_raises({ call[1], "TLS stream" }, function() a[call[1]](a, call[2]) end)
      end
      assert.is_true(c:verified())
    end)
  end)

  describe("with pollers, the error queue and the collector", function()

    it("is reported readable by a poller while decrypted lines wait in its buffer", function()
      local c, s = connected()
      assert.equal(12, s:send("one\ntwo\nsix\n"))
      assert.equal("one", c:receive())
      local p = lsock.poller()
      assert.is_true(p:add(c, "r"))
      local seen = {}
      for obj, ev in p:wait(0) do seen[#seen + 1] = { obj == c, ev } end
      assert.same({ { true, "r" } }, seen)
      assert.equal("two", c:receive())
      assert.equal("six", c:receive())
      seen = {}
      for obj, ev in p:wait(0) do seen[#seen + 1] = { obj == c, ev } end
      assert.same({}, seen)
      p:close()
    end)

    it("is not reported readable while only part of a record has come", function()
      -- client <-> (cb ... sb) <-> server, the bytes between relayed by hand
      local ca, cb = lsock.socketpair()
      local sa, sb = lsock.socketpair()
      for _, x in ipairs({ ca, cb, sa, sb }) do track(x):settimeout(util.TIMEOUT) end
      local c = track(tls.wrap(ca, client_ctx(), "localhost"))
      local s = track(tls.wrap(sa, server_ctx()))
      c:settimeout(0)
      s:settimeout(0)
      local function relay(from, to, limit)
        from:settimeout(0)
        local data = from:recv(limit or 65536)
        if data then assert.equal(#data, to:send(data)) end
        return data
      end
      for _ = 1, 20 do
        local okc, oks = c:handshake(), s:handshake()
        if okc and oks then break end
        relay(cb, sb)
        relay(sb, cb)
      end
      assert.is_true(c:verified())
      assert.equal(6, s:send("hello\n"))
      lsock.sleep(0.05)
      relay(sb, cb, 10) -- the first 10 bytes of the record only
      assert.same({ nil, "timeout", "" }, { c:receive() })
      assert.is_false(c:dirty())
      assert.same({ {}, {}, "timeout" }, { lsock.select({ c }, nil, 0) })
      relay(sb, cb)     -- the rest
      local r = lsock.select({ c }, nil, 1)
      assert.equal(c, r[1])
      c:settimeout(util.TIMEOUT)
      assert.equal("hello", c:receive())
    end)

    it("answers each stream with its own failure: no error leaks from one into another", function()
      -- A fails its check of the host name, B its check of the CA; then C,
      -- a good one, works as if nothing had failed before it.
      local ea = client_rejects({}, {}, "wrong.name")
      local eb = client_rejects({ ca = C.other.cert }, {})
      assert.matches("hostname mismatch", ea, 1, true)
      assert.not_matches("hostname", eb, 1, true)
      assert.matches("certificate verify failed", eb, 1, true)
      local bad = { tls.context({ mode = "server", cert = C.dir .. "/missing.pem", key = C.server.key }) }
      assert.is_nil(bad[1])
      local c, s = connected()
      assert.equal(5, c:send("fine\n"))
      assert.equal("fine", s:receive())
      assert.is_true(c:verified())
    end)

    it("closes the descriptors of streams and contexts dropped without close()", function()
      local pid = util.first_line("echo $PPID")
      local function open_fds()
        local f = assert(io.popen("ls /proc/" .. pid .. "/fd"))
        local _, n = f:read("*a"):gsub("\n", "")
        f:close()
        return n
      end
      collectgarbage()
      local before = open_fds()
      for _ = 1, 50 do
        local a, b = lsock.socketpair()
        local sctx = tls.context({ mode = "server", cert = C.server.cert, key = C.server.key })
        local c = tls.wrap(a, { ca = C.ca.cert }, "localhost")
        local s = tls.wrap(b, sctx)
        c:settimeout(0)
        s:settimeout(0)
        for _ = 1, 4 do
          c:handshake()
          s:handshake()
        end
      end
      collectgarbage()
      collectgarbage()
      assert.equal(before, open_fds())
    end)
  end)
end)
