-- Faults of a connection, systematically: every transport (TCP on
-- 127.0.0.1, unix stream sockets, TLS over each) against every fault:
--
-- 1. the peer resets while we wait in a receive or in a send that filled
--    the buffers: `nil, "closed", errno` (ECONNRESET or EPIPE), the bytes
--    that came first returned, later calls answering cleanly, close()
--    working; outside the loop and inside it;
-- 2. half-close both ways: after shutdown("send") the other side reads
--    everything, then "closed", and can still send back, all of which
--    arrives;
-- 3. a peer that accepts and does not read for a while: send times out
--    with `nil, "timeout", nil, i` and send(data, i + 1) goes on until all
--    went, the peer checking every byte; outside and inside the loop;
-- 4. a socket closed by a second coroutine while a first one waits on it
--    in the loop (receive, send on full buffers, accept, TLS handshakes):
--    the waiter wakes at once with `nil, "closed"` and no descriptor is
--    left behind;
-- 5. large transfers from a child process, checked by SHA-256 digests of
--    what each end sent and received (64 MiB, or 1 GiB with LSOCK_FULL=1).
--
-- What the other specs already check is not repeated here: stream_spec
-- has a TCP reset during receive (data and "closed", no errno), TCP
-- half-close one way and sends to a closed TCP peer; tls_spec has
-- shutdown("send") over TLS on TCP in one process and TLS sends with
-- timeout 0; kwait_spec has a full buffer on TCP and unix pairs in one
-- process resumed with timeout 0.2, and a TCP reset during a kernel wait;
-- loop_spec has close() waking receive (TCP), accept (TCP), recv and
-- receive (unix) in the loop, without counting descriptors.
--
-- The peer is a child process (spec/helpers/fault_peer.lua) where it must
-- run at the same time as a blocked call of ours, or where it must vanish
-- without a word (a TLS end cannot be made to skip close_notify in this
-- process); two coroutines of lsock.loop otherwise. Every socket has a
-- timeout, every loop a bound, every child a `timeout`.
local lsock = require "lsock"
local loop = require "lsock.loop"
local tls = require "lsock.tls"
local util = require "helpers.util"
local certs = require "helpers.certs"
local bulk = require "helpers.fault_bulk"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local must = checks.must

-- Every socket and stream a spec opens is tracked and closed after it
-- (checks.tracker does the same, but a spec here must also close them all
-- itself before it counts descriptors).
local opened = {}
local function track(s, ...)
  if s then opened[#opened + 1] = s end
  return s, ...
end
local function close_all()
  for i = #opened, 1, -1 do
    pcall(opened[i].close, opened[i])
    opened[i] = nil
  end
end
after_each(close_all)

local MiB = 1024 * 1024
local LIMIT = 30                    -- seconds any loop.run here may take
local PEER = util.HELPERS .. "fault_peer.lua"
local ECONNRESET, EPIPE = lsock.errno.ECONNRESET, lsock.errno.EPIPE
local FULL = os.getenv("LSOCK_FULL") == "1"

local TRANSPORTS = { "tcp", "unix", "tls-tcp", "tls-unix" }
local HAVE_TLS, openssl_said = certs.available()
local HAVE_SHA = bulk.available()

-- `it` for a transport: TLS ones are skipped, saying why, without openssl.
local function it_over(transport)
  if transport:match("^tls") then
    return checks.it_if(HAVE_TLS, "the openssl tool (3.0+) is needed for TLS certificates: "
      .. tostring(openssl_said))
  end
  return it
end

local function is_tls(transport) return transport:match("^tls") ~= nil end
local function over_tcp(transport) return transport:match("tcp$") ~= nil end

local C -- the certificates, made on first use
local function the_certs()
  C = C or certs.get()
  return C
end
teardown(function() certs.cleanup() end)

after_each(function()
  if loop.count() > 0 then loop.run(util.TIMEOUT) end
end)

local function pack(...) return { n = select("#", ...), ... } end

local function server_ctx()
  local c = the_certs()
  return must(tls.context({ mode = "server", cert = c.server.cert, key = c.server.key }))
end

local function client_ctx()
  return must(tls.context({ ca = the_certs().ca.cert }))
end

-- 16 MiB of util's pattern: more than the loopback queues of a peer that
-- does not read take in (about 4 MiB over TCP, 200 KiB over unix).
local BIG
local function big()
  BIG = BIG or util.pattern(16 * MiB)
  return BIG
end

-- A listener for `transport` and the address a child connects to: a port
-- on 127.0.0.1, or a fresh name in the abstract unix namespace.
local serial = 0
local function listener(transport)
  if over_tcp(transport) then
    local server, port = util.listen("127.0.0.1")
    return track(server), port
  end
  serial = serial + 1
  local name = ("@lsock-fault-%d-%d"):format(checks.our_pid(), serial)
  local server = track(must(lsock.unix_listen(name)))
  server:settimeout(util.TIMEOUT)
  return server, name
end

-- A child fault_peer.lua running `command ...` over `transport`, connected
-- back to us: returns our end of the connection (for TLS the server end,
-- the handshake done) and the child's handle.
local function from_child(transport, command, ...)
  local server, address = listener(transport)
  local seconds = FULL and 300 or 60
  local peer = util.spawn_script_within(seconds, PEER, transport, address,
    is_tls(transport) and the_certs().ca.cert or "-", command, ...)
  local conn, err = server:accept()
  server:close()
  if not conn then error("setup failed: accept: " .. tostring(err) .. "; the child said: " .. peer.wait()) end
  track(conn)
  conn:settimeout(util.TIMEOUT)
  if is_tls(transport) then
    conn = track(must(tls.wrap(conn, server_ctx())))
    local ok, herr = conn:handshake()
    if not ok then error("setup failed: handshake: " .. tostring(herr) .. "; the child said: " .. peer.wait()) end
  end
  return conn, peer
end

-- Two connected ends in this process over `transport`: the connecting
-- (client) end and the accepted (server) end, timeout util.TIMEOUT. TLS
-- ends are wrapped but have not shaken hands: that happens in the first
-- I/O, inside the loop.
local function local_pair(transport)
  local a, b
  if over_tcp(transport) then a, b = util.pair("127.0.0.1") else a, b = util.socketpair("stream") end
  track(a)
  track(b)
  if is_tls(transport) then
    a = track(must(tls.wrap(a, client_ctx(), "localhost")))
    b = track(must(tls.wrap(b, server_ctx())))
  end
  return a, b
end

-- loop.run(LIMIT) must end with every coroutine done.
local function run_all()
  local ok, err = loop.run(LIMIT)
  assert.is_true(ok, "loop.run: " .. tostring(err) .. " with " .. loop.count() .. " coroutines left")
  assert.equal(0, loop.count())
end

-- A ticker of 0.01 s (3,000 ticks at most): a call that waited in the
-- loop let it run.
local function ticker() return util.ticker(3000) end

-- `fn` run in a loop coroutine (with a ticker beside it), `others` (a list
-- of functions, may be nil) in coroutines of their own; returns fn's results
-- packed, the seconds it took and the ticks counted meanwhile.
local function in_loop(fn, others)
  local tick = ticker()
  local res, took, ticks
  loop.spawn(function()
    local t0, k0 = lsock.monotime(), tick.ticks
    res = pack(fn())
    took, ticks = lsock.monotime() - t0, tick.ticks - k0
    tick.stop = true
  end)
  for _, f in ipairs(others or {}) do loop.spawn(f) end
  run_all()
  assert.is_table(res, "the coroutine did not finish (its error is on stderr)")
  return res, took, ticks
end

-- `fn` run here, outside any loop: its results packed and the seconds.
local function timed(fn)
  local t0 = lsock.monotime()
  local res = pack(fn())
  return res, lsock.monotime() - t0
end

local function one_of(errno, ...)
  for i = 1, select("#", ...) do
    if errno == select(i, ...) then return true end
  end
  return false
end

-- A reset seen by a receive: nil, "closed", the bytes that came first.
local function assert_receive_reset(res, took)
  assert.same({ n = 3, nil, "closed", "hello" }, res)
  assert.is_true(took < 1.5, "the receive ended after " .. took .. " s: the timeout, not the reset")
end

-- A reset seen by a send that was waiting on full buffers.
local function assert_send_reset(res, took)
  assert.equal(4, res.n, "send gave " .. res.n .. " results")
  assert.is_nil(res[1])
  assert.equal("closed", res[2])
  assert.is_true(one_of(res[3], ECONNRESET, EPIPE), "errno " .. tostring(res[3]))
  assert.is_true(util.is_integer(res[4]) and res[4] > 0 and res[4] < #big(),
    "the last byte sent is " .. tostring(res[4]))
  assert.is_true(took < 1.5, "the send ended after " .. took .. " s: the timeout, not the reset")
end

-- What a connection answers after it reported a reset, and that it closes.
-- A plain socket has reported the error once and now reads the end of the
-- stream (after any bytes still queued) and EPIPE on sending; a TLS stream
-- repeats its failure (the errno included) on every later call, as its
-- documentation says of failures.
local function assert_after_reset(transport, conn, errno, queued)
  local r = pack(conn:send("x"))
  assert.same({ nil, "closed" }, { r[1], r[2] })
  assert.is_true(one_of(r[3], is_tls(transport) and errno or EPIPE), "send's errno " .. tostring(r[3]))
  assert.equal(0, r[4])
  if queued and not is_tls(transport) then assert.same({ n = 1, queued }, pack(conn:recv())) end
  if is_tls(transport) then
    assert.same({ n = 3, nil, "closed", errno }, pack(conn:recv()))
  else
    r = pack(conn:recv())
    -- A unix socket whose send met EPIPE (the peer gone) still holds the
    -- ECONNRESET of the peer's close with unread data: the kernel reports
    -- it once, after the queued bytes.
    if errno == EPIPE and r.n == 3 then
      assert.same({ n = 3, nil, "closed", ECONNRESET }, r)
      r = pack(conn:recv())
    end
    assert.same({ n = 2, nil, "closed" }, r)
  end
  assert.same({ n = 3, nil, "closed", "" }, pack(conn:receive(1)))
  assert.is_true(conn:close())
  assert.is_true(conn:close())
  assert.same({ n = 2, nil, "closed" }, pack(conn:recv()))
end

describe("a peer that resets the connection", function()
  for _, transport in ipairs(TRANSPORTS) do
    local it_t = it_over(transport)

    -- We send bytes the peer never reads (over unix that is what makes its
    -- close a reset), it sends "hello" and resets 0.1 s later, while we
    -- wait for more.
    it_t(transport .. ": a waiting receive gives nil, 'closed' and the bytes that came first", function()
      local conn, peer = from_child(transport, "reset", 0.1, util.tohex("hello"))
      conn:settimeout(2)
      assert.equal(6, conn:send("unread"))
      local res, took = timed(function() return conn:receive(100) end)
      assert_receive_reset(res, took)
      assert_after_reset(transport, conn, ECONNRESET)
      assert.equal("reset", peer.wait())
    end)

    it_t(transport .. ": recv gives the bytes that came first, then nil, 'closed', ECONNRESET", function()
      local conn, peer = from_child(transport, "reset", 0.1, util.tohex("hello"))
      conn:settimeout(2)
      assert.equal(6, conn:send("unread"))
      local got, res = {}, nil
      for _ = 1, 10 do
        res = pack(conn:recv())
        if not res[1] then break end
        got[#got + 1] = res[1]
      end
      assert.equal("hello", table.concat(got))
      assert.same({ n = 3, nil, "closed", ECONNRESET }, res)
      assert_after_reset(transport, conn, ECONNRESET)
      assert.equal("reset", peer.wait())
    end)

    -- The peer never reads, so our send fills the buffers and waits; the
    -- reset comes 0.2 s later.
    it_t(transport .. ": a send waiting on full buffers gives nil, 'closed', errno, last", function()
      big() -- made before the peer's clock runs
      local conn, peer = from_child(transport, "reset", 0.2, util.tohex("hello"))
      conn:settimeout(2)
      local res, took = timed(function() return conn:send(big()) end)
      assert_send_reset(res, took)
      -- the peer's "hello" came before its reset: a plain socket still
      -- has it to read
      assert_after_reset(transport, conn, res[3], "hello")
      assert.equal("reset", peer.wait())
    end)

    -- Inside the loop, with the peer a child: for TLS (the plain
    -- transports have both ends in this process below).
    local it_tls = is_tls(transport) and it_t or function() end
    it_tls(transport .. ", inside lsock.loop: a waiting receive and a waiting send see the reset", function()
      big()
      local conn, peer = from_child(transport, "reset", 0.1, util.tohex("hello"))
      conn:settimeout(2)
      assert.equal(6, conn:send("unread"))
      local res, took, ticks = in_loop(function() return conn:receive(100) end)
      assert_receive_reset(res, took)
      assert.is_true(ticks >= 5, "only " .. ticks .. " ticks while receive waited: it did not yield")
      assert_after_reset(transport, conn, ECONNRESET)
      assert.equal("reset", peer.wait())

      conn, peer = from_child(transport, "reset", 0.2, util.tohex("hello"))
      conn:settimeout(2)
      res, took, ticks = in_loop(function() return conn:send(big()) end)
      assert_send_reset(res, took)
      assert.is_true(ticks >= 5, "only " .. ticks .. " ticks while send waited: it did not yield")
      assert_after_reset(transport, conn, res[3], "hello")
      assert.equal("reset", peer.wait())
    end)

    -- Both ends in this process, the peer a second coroutine: linger 0
    -- then close() (TCP), or close() with our bytes unread (unix). A TLS
    -- end always sends close_notify when it closes, which is no reset:
    -- the child above is the TLS case.
    if not is_tls(transport) then
      it(transport .. ", inside lsock.loop, the peer a second coroutine: receive and send see the reset", function()
        local function reset(peer, delay, hello)
          return function()
            if hello then assert(peer:send("hello") == 5) end
            loop.sleep(delay)
            if over_tcp(transport) then assert(peer:setoption("linger", 0)) end
            assert(peer:close())
          end
        end
        local a, b = local_pair(transport)
        a:settimeout(2)
        assert.equal(6, a:send("unread"))
        local res, took = in_loop(function() return a:receive(100) end, { reset(b, 0.1, true) })
        assert_receive_reset(res, took)
        assert_after_reset(transport, a, ECONNRESET)

        a, b = local_pair(transport)
        a:settimeout(2)
        assert.equal(5, b:send("hello"))
        res, took = in_loop(function() return a:send(big()) end, { reset(b, 0.15) })
        assert_send_reset(res, took)
        assert_after_reset(transport, a, res[3], "hello")
      end)
    end
  end
end)

-- x sends n bytes and shuts down sending; y reads all x sent and the end
-- of the stream, then answers with n bytes, all of which x reads although
-- it can no longer send.
--
-- What a TLS stream does (csrc/tls_stream.c, shutdown_once and
-- notify_step): shutdown("send") writes close_notify (parking in the loop
-- until it went), then shuts the socket's sending half, and answers true.
-- The other end's receive("a") then returns the data, a clean end of the
-- stream (an end without close_notify would be nil, "closed", partial),
-- and its recv answers nil, "closed" with no errno; it may still send
-- (TLS 1.3 allows a half-closed connection), and the end that sent
-- close_notify decrypts all of it, then the other close_notify. A send
-- after shutdown("send") answers nil, "closed", EPIPE, 0, as on a socket.
local function half_close(x, y, n)
  local got = {}
  loop.spawn(function()
    got.x_sent = pack(util.send_pattern(x, n))
    got.x_shut = pack(x:shutdown("send"))
    got.x_late = pack(x:send("late"))
    local check, res = util.checker(), nil
    for _ = 1, 1e5 do
      res = pack(x:recv())
      if not res[1] then break end
      if not check.feed(res[1]) then break end
    end
    got.x_received, got.x_end = check.count(), res
  end)
  loop.spawn(function()
    local data = pack(y:receive("a"))
    local check = util.checker()
    got.y_good = data[1] ~= nil and check.feed(data[1]) and #data[1] == n
    got.y_err = data[2]
    got.y_after = pack(y:receive(1))
    got.y_sent = pack(util.send_pattern(y, n))
    got.y_shut = pack(y:shutdown("send"))
  end)
  run_all()
  assert.same({ n = 1, n }, got.x_sent)
  assert.same({ n = 1, true }, got.x_shut)
  assert.same({ n = 4, nil, "closed", EPIPE, 0 }, got.x_late)
  assert.is_true(got.y_good, "the other side did not read everything: " .. tostring(got.y_err))
  assert.same({ n = 3, nil, "closed", "" }, got.y_after)
  assert.same({ n = 1, n }, got.y_sent)
  assert.same({ n = 1, true }, got.y_shut)
  assert.equal(n, got.x_received)
  assert.same({ n = 2, nil, "closed" }, got.x_end)
end

describe("half-close", function()
  for _, transport in ipairs(TRANSPORTS) do
    local it_t = it_over(transport)

    it_t(transport .. ": the client shuts down sending, reads all the server sends back", function()
      local c, s = local_pair(transport)
      half_close(c, s, MiB)
    end)

    it_t(transport .. ": the server shuts down sending, reads all the client sends back", function()
      local c, s = local_pair(transport)
      half_close(s, c, MiB)
    end)
  end
end)

-- The peer sleeps 0.25 s before it reads: send with a block timeout of 0.1
-- s times out with the index of the last byte that went, and send(data,
-- i + 1) goes on from there until everything went; the peer checks every
-- byte and the end of the stream. Returns what the first send gave and how
-- many sends it took in all.
local function stalled_send(conn, data)
  conn:settimeout(0.1)
  local first = pack(conn:send(data))
  local i, calls = first[4] or first[1], 1
  local deadline = lsock.monotime() + LIMIT
  while i and i < #data and lsock.monotime() < deadline do
    local n, err, _, last = conn:send(data, i + 1)
    calls = calls + 1
    if n then
      i = n
    elseif err == "timeout" and util.is_integer(last) and last >= i then
      i = last
    else
      return first, calls, "send failed after " .. tostring(i) .. ": " .. tostring(err)
    end
  end
  if i ~= #data then return first, calls, "stopped at " .. tostring(i) end
  local shut, err = conn:shutdown("send")
  if not shut then return first, calls, "shutdown: " .. tostring(err) end
  return first, calls
end

local function assert_first_timeout(first, data)
  assert.equal(4, first.n, "the first send gave " .. first.n .. " results")
  assert.same({ nil, "timeout" }, { first[1], first[2], first[3] })
  assert.is_true(util.is_integer(first[4]) and first[4] > 0 and first[4] < #data,
    "the first send's last index is " .. tostring(first[4]))
end

describe("a peer that accepts and does not read yet", function()
  for _, transport in ipairs(TRANSPORTS) do
    local it_t = it_over(transport)

    it_t(transport .. ": send times out with nil, 'timeout', nil, i; send(data, i + 1) goes on to the end", function()
      local data = big()
      local conn, peer = from_child(transport, "stall", 0.25, #data)
      local first, calls, failed = stalled_send(conn, data)
      assert.is_nil(failed)
      assert_first_timeout(first, data)
      assert.is_true(calls >= 2)
      assert.equal("ok " .. #data .. " closed", peer.wait())
    end)

    it_t(transport .. ", inside lsock.loop: the same, and the loop runs meanwhile", function()
      local data = big()
      local conn, peer = from_child(transport, "stall", 0.25, #data)
      local res, _, ticks = in_loop(function() return stalled_send(conn, data) end)
      local first, calls, failed = res[1], res[2], res[3]
      assert.is_nil(failed)
      assert_first_timeout(first, data)
      assert.is_true(calls >= 2)
      assert.is_true(ticks >= 10, "only " .. ticks .. " ticks while the sends waited")
      assert.equal("ok " .. #data .. " closed", peer.wait())
    end)
  end
end)

describe("a socket closed while a coroutine waits on it in lsock.loop", function()
  -- Each case: make(transport) returns the object to close, the waiting
  -- call, and a function the loop runs beside them (or nil). TLS streams
  -- are made over fresh pairs here; the other ends are tracked and closed
  -- after the spec.
  local cases = {
    { "receive", function(transport)
      local a, b = local_pair(transport)
      return a, function() return a:receive(10) end, is_tls(transport) and function() b:handshake() end
    end },
    { "send on full buffers", function(transport)
      local a, b = local_pair(transport)
      return a, function()
        if is_tls(transport) then
          local ok, err = a:handshake()
          if not ok then return nil, err end
        end
        return a:send(big())
      end, is_tls(transport) and function() b:handshake() end
    end },
    { "accept", function(transport)
      local server = listener(transport)
      return server, function() return server:accept() end
    end, plain_only = true },
    { "handshake, the server waiting for the hello", function(transport)
      local _, s = local_pair(transport)
      return s, function() return s:handshake() end
    end, tls_only = true },
    { "handshake, the client waiting for the answer", function(transport)
      local a, b
      if over_tcp(transport) then a, b = util.pair("127.0.0.1") else a, b = util.socketpair("stream") end
      track(b) -- a raw socket that never answers the hello
      local c = track(must(tls.wrap(track(a), client_ctx(), "localhost")))
      return c, function() return c:handshake() end
    end, tls_only = true },
  }

  for _, transport in ipairs(TRANSPORTS) do
    for _, case in ipairs(cases) do
      local name, make = case[1], case[2]
      local wanted = not (case.plain_only and is_tls(transport)) and not (case.tls_only and not is_tls(transport))
      local it_t = checks.HAVE_PROC and it_over(transport) or checks.it_proc
      if wanted then
        it_t(transport .. ": " .. name .. " wakes at once with nil, 'closed', and no descriptor is left", function()
          the_certs()     -- before the count: openssl runs in children
          big()
          local before, listing = checks.count_sockets()
          local target, call, beside = make(transport)
          target:settimeout(5)
          local closed
          local others = { function()
            loop.sleep(0.1)
            closed = target:close()
          end }
          if beside then others[2] = beside end
          local res, took = in_loop(call, others)
          assert.is_true(closed)
          assert.same({ nil, "closed" }, { res[1], res[2] })
          assert.is_true(took >= 0.08 and took < 1, "the waiter woke after " .. took .. " s (timeout 5 s)")
          local again = pack(call()) -- answers at once now, without the loop
          assert.same({ nil, "closed" }, { again[1], again[2] })
          close_all()
          local after, listing_after = checks.count_sockets()
          assert.equal(before, after, "sockets before:\n" .. listing .. "\nafter:\n" .. listing_after)
        end)
      end
    end
  end
end)

describe("large transfers checked by digest", function()
  local SIZE = FULL and 1024 * MiB or 64 * MiB
  local LABEL = FULL and "1 GiB" or "64 MiB"

  for _, transport in ipairs(TRANSPORTS) do
    local it_t = it_over(transport)
    if not HAVE_SHA then
      it_t = function(name) pending(name .. " (skipped: neither `openssl dgst` nor `sha256sum` is here)") end
    end

    it_t(transport .. ": " .. LABEL .. " from a child process, the same SHA-256 and count at both ends", function()
      local seed = 1000 + #transport
      local conn, peer = from_child(transport, "bulk", SIZE, seed)
      local digest = must(bulk.digester())
      local res
      for _ = 1, SIZE / MiB + 2 do
        res = pack(conn:receive(MiB))
        if not res[1] then break end
        digest.feed(res[1])
      end
      if res[3] then digest.feed(res[3]) end
      local count = digest.count()
      local ours = digest.finish()
      assert.same({ nil, "closed" }, { res[1], res[2] })
      assert.equal("", res[3])
      conn:close() -- the child waits for it, so that nothing it sent is lost
      local said = peer.wait()
      local n, theirs = said:match("^sent (%d+) (%x+)$")
      assert.is_truthy(n, "the child said: " .. said)
      assert.equal(SIZE, tonumber(n))
      assert.equal(SIZE, count)
      assert.equal(theirs, ours)
    end)
  end
end)
