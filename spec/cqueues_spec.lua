-- spec/cqueues_spec.lua: lsock objects driven from a cqueues loop through the
-- polling protocol (pollfd, events, timeout). A coroutine with a socket of
-- timeout 0 loops on receive or send and waits with cqueues.poll(sock) when
-- the call answers "timeout": lines trickled by another coroutine or a child
-- peer arrive whole, the loop wakes about once per byte (never spins), a
-- total timeout ("t") is honoured by cqueues, 4 MiB go out whole to a slow
-- reader, and an lsock poller can itself be waited on by cqueues. Skipped
-- (pending, with the reason) only when `require "cqueues"` fails on this Lua.
-- Real sockets on 127.0.0.1 and unix socketpairs only; every cqueues loop is
-- bounded by loop(WAIT), every socket loop is counted.

local lsock = require "lsock"
local util = require "helpers.util"

local WAIT = 5 -- seconds: the longest any loop or socket wait here may take
local MAX_TURNS = 100000 -- no socket loop here may run more often than this

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must

local have_cqueues, cqueues = pcall(require, "cqueues")
local it_cq = checks.it_if(have_cqueues, "require \"cqueues\" fails on " .. _VERSION
  .. ": " .. tostring(cqueues):match("^[^\n]*"))

-- Run every coroutine of `cq` to its end within `limit` seconds (default
-- WAIT). An error inside a coroutine (a failed assertion included) is raised
-- again here, as it was; a loop that is still busy after the limit fails.
local function run(cq, limit)
  limit = limit or WAIT
  local ok, err = cq:loop(limit)
  if not ok then error(err, 0) end
  assert.is_true(cq:empty(), "the cqueues loop did not finish within " .. limit .. " s")
end

-- Two connected unix stream sockets, both with timeout 0, both closed after
-- the spec.
local function nb_pair()
  local a, b = lsock.socketpair()
  must(a, b)
  track(a)
  track(b)
  a:settimeout(0)
  b:settimeout(0)
  return a, b
end

-- Accept one connection on `server` from inside a cqueues coroutine: the
-- listener has timeout 0 and the coroutine waits with cqueues.poll(server).
local function cq_accept(server)
  server:settimeout(0)
  for _ = 1, MAX_TURNS do
    local conn, err = server:accept()
    if conn then return track(conn) end
    assert.equal("timeout", err)
    assert.equal("r", server:events())
    assert.is_nil(server:timeout())
    cqueues.poll(server)
  end
  error("accept never finished")
end

-- Receive with `pattern` (resuming with the partial data) until it succeeds,
-- waiting with cqueues.poll(sock) each time it answers "timeout". `waits`,
-- when given, gets one entry per wait: what events() and timeout() said.
-- Returns data, err (as receive's final answer) and the number of turns.
local function cq_receive(sock, pattern, waits)
  local partial
  for turn = 1, MAX_TURNS do
    local data, err, part = sock:receive(pattern, partial)
    if err ~= "timeout" then return data, err, turn, part end
    partial = part
    if waits then
      waits[#waits + 1] = { events = sock:events(), timeout = sock:timeout() }
    end
    cqueues.poll(sock)
  end
  error("receive never finished")
end

-- Send all of `data` from inside a cqueues coroutine with send(data, last + 1)
-- and cqueues.poll(sock) while events() is "w". Returns the index of the last
-- byte sent, the error (nil when all went), the number of waits and the
-- number of waits after which send made no progress at all.
local function cq_send(sock, data)
  local last, waits, stalls = 0, 0, 0
  for _ = 1, MAX_TURNS do
    if last >= #data then return last, nil, waits, stalls end
    local sent, err, _, partial = sock:send(data, last + 1)
    if sent then
      last = sent
    elseif err == "timeout" then
      if waits > 0 and partial == last then stalls = stalls + 1 end
      last = partial
      assert.equal("w", sock:events())
      assert.is_nil(sock:timeout())
      waits = waits + 1
      cqueues.poll(sock)
    else
      return last, err, waits, stalls
    end
  end
  error("send never finished")
end

describe("cqueues driving lsock sockets", function()
  it_cq("receives lines another cqueues coroutine sends slowly", function()
    local a, b = nb_pair()
    local pieces = { "al", "pha\nbe", "ta\r", "\n", "\ngam", "ma", "\nend\n" }
    local want = { "alpha", "beta", "", "gamma", "end" }
    local got, turns = {}, 0
    local cq = cqueues.new()
    cq:wrap(function()
      for _ = 1, #want do
        local line, err, n = cq_receive(a, "l")
        assert.is_nil(err)
        got[#got + 1], turns = line, turns + n
      end
      assert.is_nil(a:events())
    end)
    cq:wrap(function()
      for _, piece in ipairs(pieces) do
        cqueues.sleep(0.02)
        assert.equal(#piece, cq_send(b, piece))
      end
    end)
    run(cq)
    assert.same(want, got)
    assert.is_true(turns <= 2 * #pieces + #want + 5, "the receiver woke " .. turns .. " times")
  end)

  it_cq("receives every byte of lines a child peer trickles over TCP", function()
    local text = "first line\nsecond\r\n\nlast one\n"
    local server, port = util.listen()
    track(server)
    local peer = util.spawn("trickle", "127.0.0.1", port, 0.005, util.tohex(text))
    local got, final = {}, nil
    local cq = cqueues.new()
    cq:wrap(function()
      local conn = cq_accept(server)
      conn:settimeout(0)
      for _ = 1, 100 do
        local line, err = cq_receive(conn, "L")
        if not line then final = err break end
        got[#got + 1] = line
      end
    end)
    run(cq)
    assert.equal("trickled " .. #text, peer.wait())
    assert.equal("closed", final)
    assert.equal(text, table.concat(got))
    assert.same({ "first line\n", "second\r\n", "\n", "last one\n" }, got)
  end)
end)

describe("cqueues and lsock timeouts", function()
  it_cq("wakes about once per byte while 5 bytes trickle in 0.05 s apart", function()
    local payload = "12345"
    local server, port = util.listen()
    track(server)
    local peer = util.spawn("trickle", "127.0.0.1", port, 0.05, util.tohex(payload))
    local data, err, turns
    local waits = {}
    local cq = cqueues.new()
    cq:wrap(function()
      local conn = cq_accept(server)
      conn:settimeout(0)
      data, err, turns = cq_receive(conn, #payload, waits)
    end)
    run(cq)
    assert.equal("trickled " .. #payload, peer.wait())
    assert.is_nil(err)
    assert.equal(payload, data)
    assert.is_true(turns <= 2 * #payload + 5,
      "the receiving coroutine woke " .. turns .. " times for " .. #payload .. " bytes")
    assert.is_true(#waits >= 1, "the receiver never had to wait")
    for i, w in ipairs(waits) do
      assert.equal("r", w.events, "events() at wait " .. i)
      assert.is_nil(w.timeout, "timeout() at wait " .. i .. " with settimeout(0)")
    end
  end)

  it_cq("lets cqueues sleep its own timeout on a timeout-0 socket that waits", function()
    local a = nb_pair()
    local ready, elapsed
    local cq = cqueues.new()
    cq:wrap(function()
      local _, err = a:receive(1)
      assert.equal("timeout", err)
      assert.equal("r", a:events())
      assert.is_nil(a:timeout())
      local start = cqueues.monotime()
      ready = cqueues.poll(a, 0.3)
      elapsed = cqueues.monotime() - start
    end)
    run(cq)
    assert.equal(0.3, ready, "the poll ended by its own timeout (cqueues returns the number)")
    assert.is_true(elapsed >= 0.25 and elapsed < 3, "the poll returned after " .. elapsed .. " s")
  end)

  it_cq("has cqueues honour a total timeout of 0.2 s", function()
    local a = nb_pair()
    a:settimeout(0.2, "t")
    local left, ready, elapsed, after
    local cq = cqueues.new()
    cq:wrap(function()
      local start = cqueues.monotime()
      local data, err = a:receive(1)
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.equal("r", a:events())
      left = a:timeout()
      ready = cqueues.poll(a)
      elapsed = cqueues.monotime() - start
      after = a:timeout()
    end)
    run(cq)
    assert.is_number(left)
    assert.is_true(left > 0 and left <= 0.2, "timeout() said " .. tostring(left))
    assert.equal(a, ready)
    assert.is_true(elapsed >= 0.15 and elapsed < 3, "the poll returned after " .. elapsed .. " s")
    assert.equal(0, after)
  end)

  it_cq("wakes before a total timeout when data comes first", function()
    local a, b = nb_pair()
    a:settimeout(2, "t")
    local data, err, turns, elapsed
    local cq = cqueues.new()
    cq:wrap(function()
      local start = cqueues.monotime()
      data, err, turns = cq_receive(a, 3)
      elapsed = cqueues.monotime() - start
    end)
    cq:wrap(function()
      cqueues.sleep(0.05)
      assert.equal(3, b:send("abc"))
    end)
    run(cq)
    assert.is_nil(err)
    assert.equal("abc", data)
    assert.is_true(turns <= 3, "the receiver woke " .. turns .. " times")
    assert.is_true(elapsed < 1.5, "the receive took " .. elapsed .. " s")
  end)
end)

describe("cqueues driving lsock writes", function()
  local SIZE = 4 * 1024 * 1024

  it_cq("sends 4 MiB whole to a slow reader in the same loop", function()
    local data = util.pattern(SIZE)
    local writer, reader = util.pair()
    track(writer)
    track(reader)
    writer:setoption("sndbuf", 65536)
    reader:setoption("rcvbuf", 65536)
    writer:settimeout(0)
    reader:settimeout(0)
    local last, serr, waits, stalls
    local check, good, at, rerr = util.checker(), true, nil, nil
    local cq = cqueues.new()
    cq:wrap(function()
      last, serr, waits, stalls = cq_send(writer, data)
      cqueues.cancel(writer) -- cqueues must forget a descriptor before it closes
      writer:close()
    end)
    cq:wrap(function()
      for _ = 1, MAX_TURNS do
        local chunk, err = reader:recv(16384)
        if chunk then
          good, at = check.feed(chunk)
          if not good then break end
          cqueues.sleep(0.001) -- a slow reader
        elseif err == "timeout" then
          assert.equal("r", reader:events())
          cqueues.poll(reader)
        else
          if err ~= "closed" then rerr = err end
          break
        end
      end
    end)
    run(cq, 30)
    assert.is_nil(serr)
    assert.equal(SIZE, last)
    assert.is_nil(rerr)
    assert.is_true(good, "mismatch at byte " .. tostring(at))
    assert.equal(SIZE, check.count())
    assert.is_true(waits >= 1, "the writer never had to wait")
    assert.is_true(stalls <= 5, stalls .. " of " .. waits .. " wake-ups sent nothing")
  end)

  it_cq("sends 4 MiB whole to a child peer that checks them", function()
    local data = util.pattern(SIZE)
    local server, port = util.listen()
    track(server)
    local peer = util.spawn("verify", "127.0.0.1", port, SIZE)
    local last, serr, waits
    local cq = cqueues.new()
    cq:wrap(function()
      local conn = cq_accept(server)
      conn:setoption("sndbuf", 65536)
      conn:settimeout(0)
      last, serr, waits = cq_send(conn, data)
      cqueues.cancel(conn)
      conn:close()
    end)
    run(cq, 30)
    assert.is_nil(serr)
    assert.equal(SIZE, last)
    assert.equal("ok " .. SIZE, peer.wait())
    assert.is_true(waits >= 1, "the writer never had to wait")
  end)
end)

describe("cqueues waiting on an lsock poller", function()
  it_cq("wakes when a socket registered in the poller becomes readable", function()
    local p = must(lsock.poller("epoll"))
    local a, b = nb_pair()
    must(p:add(a, "r", "tag"))
    assert.equal("r", p:events())
    assert.is_nil(p:timeout())
    assert.is_number(p:pollfd())
    local early, ready, elapsed, seen = nil, nil, nil, {}
    local cq = cqueues.new()
    cq:wrap(function()
      early = cqueues.poll(p, 0.05) -- nothing is readable yet
      local start = cqueues.monotime()
      ready = cqueues.poll(p, WAIT)
      elapsed = cqueues.monotime() - start
      for obj, events, value in p:wait(0) do
        seen[#seen + 1] = { obj, events, value }
      end
    end)
    cq:wrap(function()
      cqueues.sleep(0.15)
      assert.equal(1, b:send("x"))
    end)
    run(cq)
    p:close()
    assert.equal(0.05, early, "the first poll ended by its own timeout")
    assert.equal(p, ready)
    assert.is_true(elapsed >= 0.05 and elapsed < 3, "the poll returned after " .. elapsed .. " s")
    assert.equal(1, #seen)
    assert.equal(a, seen[1][1])
    assert.equal("r", seen[1][2])
    assert.equal("tag", seen[1][3])
  end)
end)

describe("cqueues driving lsock TLS streams", function()
  local tls = require "lsock.tls"
  local certs = require "helpers.certs"
  local C
  setup(function() C = certs.get() end)
  teardown(function() certs.cleanup() end)

  -- The handshake with timeout 0, waiting with cqueues.poll(t) for what
  -- events() says; returns the events it waited for.
  local function cq_handshake(t)
    local seen = {}
    for _ = 1, MAX_TURNS do
      local ok, err = t:handshake()
      if ok then return seen end
      assert.equal("timeout", err)
      seen[#seen + 1] = t:events()
      cqueues.poll(t)
    end
    error("the handshake never finished")
  end

  it_cq("shakes hands and exchanges lines, each side a cqueues coroutine waiting on pollfd/events", function()
    local a, b = nb_pair()
    local client = track(tls.wrap(a, { ca = C.ca.cert }, "localhost"))
    local server = track(tls.wrap(b, { mode = "server", cert = C.server.cert, key = C.server.key }))
    local got, waited = {}, {}
    local cq = cqueues.new()
    cq:wrap(function()
      waited.server = cq_handshake(server)
      for _ = 1, 3 do
        local line = cq_receive(server, "l")
        assert.equal(#line + 1, server:send(line .. "\n"))
      end
    end)
    cq:wrap(function()
      waited.client = cq_handshake(client)
      for i = 1, 3 do
        assert.equal(7, client:send("line " .. i .. "\n"))
        got[i] = cq_receive(client, "l")
      end
    end)
    run(cq)
    assert.same({ "line 1", "line 2", "line 3" }, got)
    assert.is_true(#waited.client > 0 and #waited.server > 0, "both ends waited at least once")
    assert.equal("r", waited.server[1])
    assert.is_true(client:verified())
  end)
end)
