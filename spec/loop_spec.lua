-- spec/loop_spec.lua: lsock.loop, the coroutine scheduler. spawn, run,
-- step, now, count, sleep; errors inside coroutines; an echo server with
-- 2,000 concurrent clients in one process; every method that can wait
-- (accept, connect, receive, recv, send, sendto, recvfrom, sendmany,
-- recvmany, sendmsg, recvmsg) yielding while other coroutines go on, with
-- the results it gives outside the loop; socket timeouts inside coroutines;
-- close waking the waiters; blocking calls outside coroutines; a loop driven
-- by its host with step and getfd. Real sockets on 127.0.0.1 and unix
-- socketpairs only; every wait is bounded by loop.run(LIMIT), a socket
-- timeout or a counted loop.
--
-- An assertion failing inside a coroutine would only end that coroutine
-- (the loop writes the error to stderr), so the coroutines here record what
-- they get and the spec checks it after the loop has run; a coroutine that
-- raised leaves its result missing, which fails the spec. No pcall wraps a
-- call that may yield (PUC Lua 5.1 cannot yield across it).

local lsock = require "lsock"
local loop = require "lsock.loop"
local util = require "helpers.util"

local LOCAL4 = "127.0.0.1"
local WAIT = 5    -- seconds: the timeout of every spec socket
local LIMIT = 10  -- seconds: the longest any loop.run here may take
local unpack = table.unpack or unpack

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must
local assert_integer = checks.assert_integer

-- A spec that fails part way may leave coroutines behind: they get a
-- bounded chance to end (the tracker closes their sockets) before the next.
after_each(function()
  if loop.count() > 0 then loop.run(WAIT) end
end)

local function pack(...) return { n = select("#", ...), ... } end

-- Two connected TCP sockets on 127.0.0.1 (client, accepted), tracked.
local function tcp_pair()
  local client, conn = util.pair(LOCAL4)
  return track(client), track(conn)
end

-- Two connected unix sockets of `kind` (default "stream"), tracked.
local function unix_pair(kind)
  local a, b = util.socketpair(kind)
  return track(a), track(b)
end

-- A UDP socket bound to 127.0.0.1, and its port.
local function udp_socket()
  local s = track(must(lsock.udp()))
  must(s:bind(LOCAL4, 0))
  s:settimeout(WAIT)
  local _, port = s:getsockname()
  return s, port
end

-- A TCP listener on 127.0.0.1 with `backlog`, and its port.
local function listener(backlog)
  local s = track(must(lsock.tcp()))
  must(s:bind(LOCAL4, 0))
  must(s:listen(backlog))
  s:settimeout(WAIT)
  local _, port = s:getsockname()
  return s, port
end

-- A port on 127.0.0.1 that nothing listens on.
local function closed_port()
  local s = must(lsock.tcp())
  must(s:bind(LOCAL4, 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- loop.run(LIMIT) must end with every coroutine done.
local function run_all(limit)
  local ok, err = loop.run(limit or LIMIT)
  assert.is_true(ok, "loop.run: " .. tostring(err))
  assert.equal(0, loop.count())
end

-- A ticker of 0.01 s, 1,000 ticks at most.
local function ticker() return util.ticker(1000) end

-- Run `call` in a coroutine while a ticker counts, and `later` (if any) in
-- another coroutine after `delay` seconds (default 0.1), to make the call's
-- wait end. Returns the results of `call` packed, and a table with
-- `elapsed` (seconds the call took), `ticks` (ticks counted meanwhile) and
-- `later` (true when `later` finished).
local function while_waiting(call, later, delay)
  local tick = ticker()
  local info = {}
  local results
  loop.spawn(function()
    local t0, k0 = lsock.monotime(), tick.ticks
    results = pack(call())
    info.elapsed, info.ticks = lsock.monotime() - t0, tick.ticks - k0
    tick.stop = true
  end)
  if later then
    loop.spawn(function()
      loop.sleep(delay or 0.1)
      later()
      info.later = true
    end)
  end
  run_all()
  assert.is_table(results, "the waiting coroutine did not finish (its error is on stderr)")
  if later then assert.is_true(info.later, "the helping coroutine did not finish") end
  return results, info
end

-- The call waited while the other coroutines went on.
local function assert_progressed(info, min_ticks)
  assert.is_true(info.ticks >= (min_ticks or 3),
    ("only %d ticks while the call waited %.3f s: it did not yield"):format(info.ticks, info.elapsed))
end

-- The command line running spec/helpers/loop_child.lua with `...`, killed
-- after 90 s where the `timeout` command exists.
local HAS_TIMEOUT = util.succeeds("timeout 1 true")
local function child_command(...)
  return (HAS_TIMEOUT and "timeout 90 " or "") .. util.lua_command(util.HELPERS .. "loop_child.lua", ...)
end

-- Run the shell command `cmd`; returns its standard output and standard
-- error separately, each without trailing white space.
local function run_child(cmd)
  local errfile = os.tmpname()
  local f = assert(io.popen(cmd .. " 2>" .. util.quote(errfile)))
  local out = f:read("*a"):gsub("%s+$", "")
  f:close()
  local e = io.open(errfile)
  local err = e and e:read("*a"):gsub("%s+$", "") or ""
  if e then e:close() end
  os.remove(errfile)
  return out, err
end

-- The hard limit on open files of a child shell.
local function hard_fd_limit()
  local text = util.output("ulimit -Hn")
  if text == "unlimited" then return math.huge end
  return tonumber(text) or 0
end
local it_8192 = checks.it_if(hard_fd_limit() >= 8192,
  "needs `ulimit -n 8192`, the hard limit is " .. tostring(hard_fd_limit()))

describe("lsock.loop spawn, run, step", function()
  it("starts a spawned coroutine at the next step, with its arguments", function()
    local got
    local co = loop.spawn(function(...) got = pack(...) end, 1, nil, "three")
    assert.equal("thread", type(co))
    assert.is_nil(got, "the coroutine ran before any step")
    assert.equal(1, loop.count())
    assert.equal(0, loop.step())
    assert.same({ n = 3, 1, nil, "three" }, got)
    assert.equal("dead", coroutine.status(co))
    assert.equal(0, loop.count())
  end)

  it("starts a coroutine spawned by another at a later step, not inside spawn", function()
    local order = {}
    loop.spawn(function()
      loop.spawn(function() order[#order + 1] = "child" end)
      order[#order + 1] = "parent after spawn"
      loop.sleep(0.02)
      order[#order + 1] = "parent after sleep"
    end)
    run_all()
    assert.same({ "parent after spawn", "child", "parent after sleep" }, order)
  end)

  it("returns true from run once every coroutine is done, and at once when none is left", function()
    local done = 0
    for i = 1, 5 do
      loop.spawn(function()
        loop.sleep(0.01 * i)
        done = done + 1
      end)
    end
    assert.equal(5, loop.count())
    assert.is_true(loop.run(LIMIT))
    assert.equal(5, done)
    assert.equal(0, loop.count())
    local t0 = lsock.monotime()
    assert.is_true(loop.run())
    assert.is_true(loop.run(LIMIT))
    assert.is_true(lsock.monotime() - t0 < 0.5, "run with nothing to do waited")
  end)

  it("returns nil, 'timeout' from run(0.2) while a coroutine sleeps 5 s (child process)", function()
    local out = run_child(child_command("runtimeout"))
    local ok, err, count, elapsed = out:match("^run (%S+) (%S+) count (%d+) elapsed (%S+)$")
    assert.is_string(ok, "unexpected child output: " .. out)
    assert.equal("nil", ok)
    assert.equal("timeout", err)
    assert.equal("1", count)
    elapsed = tonumber(elapsed)
    assert.is_true(elapsed >= 0.15 and elapsed < 3, "run(0.2) took " .. elapsed .. " s")
  end)

  it("returns nil, 'timeout' from run(0.2) while a coroutine waits on a silent socket", function()
    local _, b = unix_pair()
    local got
    loop.spawn(function() got = pack(b:receive()) end)
    local t0 = lsock.monotime()
    local res = pack(loop.run(0.2))
    local elapsed = lsock.monotime() - t0
    assert.same({ n = 2, nil, "timeout" }, res)
    assert.is_true(elapsed >= 0.15 and elapsed < 3, "run(0.2) took " .. elapsed .. " s")
    assert.equal(1, loop.count())
    assert.is_nil(got)
    b:close()
    run_all()
    assert.equal(nil, got[1])
    assert.equal("closed", got[2])
  end)

  it("interleaves sleeps: 0.05 s ends before 0.1 s whatever the spawn order", function()
    local order = {}
    local t0 = lsock.monotime()
    loop.spawn(function()
      loop.sleep(0.1)
      order[#order + 1] = "0.1"
    end)
    loop.spawn(function()
      loop.sleep(0.05)
      order[#order + 1] = "0.05"
    end)
    run_all()
    local elapsed = lsock.monotime() - t0
    assert.same({ "0.05", "0.1" }, order)
    assert.is_true(elapsed >= 0.08 and elapsed < 3, "the sleeps took " .. elapsed .. " s")
  end)

  it("runs sleeps side by side: ten coroutines sleeping 0.2 s take far less than 2 s", function()
    local done = 0
    local t0 = lsock.monotime()
    for _ = 1, 10 do
      loop.spawn(function()
        loop.sleep(0.2)
        done = done + 1
      end)
    end
    run_all()
    local elapsed = lsock.monotime() - t0
    assert.equal(10, done)
    assert.is_true(elapsed >= 0.15 and elapsed < 1.5, "ten sleeps of 0.2 s took " .. elapsed .. " s")
  end)

  it("returns from step() at once when nothing is ready, with the count", function()
    local _, b = unix_pair()
    local got
    loop.spawn(function() got = pack(b:receive()) end)
    loop.spawn(function() loop.sleep(0.3) end)
    assert.equal(2, loop.step()) -- both start and wait
    for _ = 1, 3 do
      local t0 = lsock.monotime()
      assert.equal(2, loop.step())
      assert.is_true(lsock.monotime() - t0 < 0.1, "step() waited")
    end
    b:close()
    run_all()
    assert.equal("closed", got[2])
  end)

  it("returns 0 from step() when there is no coroutine", function()
    local t0 = lsock.monotime()
    assert.equal(0, loop.step())
    assert.equal(0, loop.step(0.5))
    assert.is_true(lsock.monotime() - t0 < 1, "step with no coroutine waited")
  end)

  it("counts the coroutines alive, the running one included", function()
    local seen = {}
    for i = 1, 3 do
      loop.spawn(function()
        seen[i] = loop.count()
        loop.sleep(0.01 * i)
      end)
    end
    assert.equal(3, loop.count())
    run_all()
    assert.same({ 3, 3, 3 }, seen)
  end)

  it("gives monotonic seconds from now()", function()
    local a = loop.now()
    assert.is_number(a)
    lsock.sleep(0.05)
    local b = loop.now()
    assert.is_true(b - a >= 0.04, "now() moved " .. (b - a) .. " s over a sleep of 0.05 s")
    assert.is_true(math.abs(b - lsock.monotime()) < 1, "now() is not on the monotonic clock")
    local inside
    loop.spawn(function()
      local t = loop.now()
      loop.sleep(0.05)
      inside = loop.now() - t
    end)
    run_all()
    assert.is_true(inside >= 0.04 and inside < 3, "now() moved " .. tostring(inside) .. " s in a coroutine")
  end)

  it("makes sleep outside a coroutine lsock.sleep: it blocks", function()
    local ran = false
    loop.spawn(function() ran = true end)
    local t0 = lsock.monotime()
    loop.sleep(0.05)
    local elapsed = lsock.monotime() - t0
    assert.is_true(elapsed >= 0.04 and elapsed < 3, "sleep(0.05) took " .. elapsed .. " s")
    assert.is_false(ran, "sleep outside a coroutine ran the loop")
    run_all()
    assert.is_true(ran)
  end)
end)

describe("lsock.loop errors", function()
  it("writes an error with its traceback to stderr and lets the others finish (child process)", function()
    local out, err = run_child(child_command("error"))
    assert.matches("run true nil count 0", out, 1, true)
    local done = out:match("done ([^\n]*)")
    assert.is_string(done, "no done line: " .. out)
    assert.matches("sleeper", done, 1, true)
    assert.matches("reader:after the errors", done, 1, true)
    assert.matches("lsock.loop: [^\n]*boom at once", err)
    assert.matches("lsock.loop: [^\n]*boom after a sleep", err)
    assert.matches("stack traceback", err, 1, true)
    local _, tracebacks = err:gsub("stack traceback", "")
    assert.equal(2, tracebacks, "one traceback per error: " .. err)
    assert.is_nil(out:find("lsock.loop:", 1, true), "the errors went to stdout: " .. out)
  end)

  it("answers nil, 'wait: ...', errno when the poller cannot take a wait", function()
    -- Two objects on one descriptor (fromfd of another's getfd): the
    -- kernel's poller takes a descriptor once, so the second to wait is
    -- refused (EEXIST); the first waits as usual.
    local a = unix_pair()
    local other = assert(lsock.fromfd(a:getfd()))
    a:settimeout(0.2)
    other:settimeout(0.2)
    local first, second
    loop.spawn(function() first = pack(a:receive(1)) end)
    loop.spawn(function() second = pack(other:receive(1)) end)
    run_all()
    other:detach() -- a keeps the descriptor
    assert.same({ n = 3, nil, "timeout", "" }, first)
    assert.same({ n = 3, nil, "wait: file exists", lsock.errno.EEXIST }, second)
  end)
end)

describe("lsock.loop echo server", function()
  it_8192("serves 2,000 concurrent clients in one process (child, ulimit -n 8192)", function()
    local out, err = run_child("ulimit -n 8192 && " .. child_command("echo", 2000))
    assert.matches("run true nil count 0", out, 1, true)
    assert.matches("clients 2000 ok 2000 bad 0 lines 6000 bytes %d+ max_open 2000 accepted 2000", out)
    assert.equal("", err)
  end)
end)

describe("lsock.loop waiting methods", function()
  it("accept yields until a client connects, with the results it has outside", function()
    local server, port = listener()
    local client
    local res, info = while_waiting(function() return server:accept() end, function()
      client = track(must(lsock.tcp()))
      client:settimeout(WAIT)
      must(client:connect(LOCAL4, port))
    end)
    assert_progressed(info)
    assert.equal(3, res.n)
    track(res[1])
    assert.matches("^lsock%.socket: tcp 127%.0%.0%.1:%d+ %-> 127%.0%.0%.1:%d+", tostring(res[1]))
    local _, cport = client:getsockname()
    assert.equal(LOCAL4, res[2])
    assert.equal(cport, res[3])
    -- outside, for comparison
    local c2 = track(must(lsock.tcp()))
    c2:settimeout(WAIT)
    must(c2:connect(LOCAL4, port))
    local outside = pack(server:accept())
    track(outside[1])
    assert.equal(outside.n, res.n)
    assert.equal(outside[2], res[2])
  end)

  it("connect yields while the listener's queue is full, then completes", function()
    local server, port = listener(0)
    -- fill the accept queue (backlog 0 holds one), so the next SYN is dropped
    local first = track(must(lsock.tcp()))
    first:settimeout(WAIT)
    must(first:connect(LOCAL4, port))
    local c = track(must(lsock.tcp()))
    c:settimeout(WAIT)
    local res, info = while_waiting(function() return c:connect(LOCAL4, port) end, function()
      track(must(server:accept()))
    end, 0.05)
    assert.same({ n = 1, true }, res)
    assert_progressed(info)
    local conn = track(must(server:accept()))
    must(c:send("through\n"))
    conn:settimeout(WAIT)
    assert.equal("through", conn:receive())
  end)

  it("connect to a closed port gives the results it has outside", function()
    local port = closed_port()
    local outside_sock = track(must(lsock.tcp()))
    outside_sock:settimeout(WAIT)
    local outside = pack(outside_sock:connect(LOCAL4, port))
    local inside_sock = track(must(lsock.tcp()))
    inside_sock:settimeout(WAIT)
    local res = while_waiting(function() return inside_sock:connect(LOCAL4, port) end)
    assert.same(outside, res)
    assert.equal(3, res.n)
    assert.equal(lsock.errno.ECONNREFUSED, res[3])
  end)

  it("lsock.connect by name works inside a coroutine", function()
    local server, port = listener()
    local res = while_waiting(function()
      local c, err = lsock.connect("localhost", port, { timeout = WAIT, family = "inet" })
      if c then track(c) end
      return c ~= nil, err
    end)
    assert.same({ n = 2, true, nil }, res)
    track(must(server:accept()))
  end)

  -- receive: each case runs outside (data sent first) and inside a
  -- coroutine (data sent in pieces by another coroutine after the call
  -- started); the results must be the same, their number included.
  local RECEIVE_CASES = {
    { "a line ended by CR LF, in pieces", pack("l"), { "hel", "lo\r", "\n" } },
    { "a line with '*l'", pack("*l"), { "one\n" } },
    { "the default pattern", pack(), { "def", "ault\n" } },
    { "a line with its EOL ('L')", pack("L"), { "li", "ne\r\n" } },
    { "a line with its EOL ('*L')", pack("*L"), { "x", "\n" } },
    { "everything until close ('a')", pack("a"), { "all ", "of ", "it" }, true },
    { "nothing until close ('*a')", pack("*a"), {}, true },
    { "a number of bytes, in pieces", pack(10), { "0123", "456", "789tail" } },
    { "a number with a prefix counting toward it", pack(6, "ab"), { "cd", "efgh" } },
    { "a line with a prefix", pack("l", "pre-"), { "fi", "x\n" } },
    { "an empty line", pack("l"), { "\n" } },
    { "a line longer than max", pack("l", nil, 4), { "abc", "defgh\n" } },
    { "a line of max bytes", pack("l", nil, 4), { "ab", "cd\r\n" } },
    { "'a' longer than max", pack("a", nil, 3), { "abcdef" }, true },
    { "a line cut by close", pack("l"), { "unfini", "shed" }, true },
    { "a number cut by close", pack(8, "p"), { "art" }, true },
    { "receive(0)", pack(0), {} },
  }
  for _, case in ipairs(RECEIVE_CASES) do
    local name, args, chunks, close = case[1], case[2], case[3], case[4]
    it("receive yields and returns what it returns outside: " .. name, function()
      local oa, ob = tcp_pair()
      for _, c in ipairs(chunks) do must(oa:send(c)) end
      if close then oa:close() end
      local outside = pack(ob:receive(unpack(args, 1, args.n)))

      local a, b = tcp_pair()
      local res, info = while_waiting(function() return b:receive(unpack(args, 1, args.n)) end, function()
        for i, c in ipairs(chunks) do
          if i > 1 then loop.sleep(0.02) end
          must(a:send(c))
        end
        if close then a:close() end
      end, 0.05)
      assert.same(outside, res)
      if #chunks > 0 or close then assert_progressed(info, 2) end
    end)
  end

  it("receive leaves the rest of the stream for the next call, inside as outside", function()
    local a, b = tcp_pair()
    local got = {}
    while_waiting(function()
      for i = 1, 4 do got[i] = pack(b:receive(i == 4 and 3 or "l")) end
    end, function()
      must(a:send("one\ntw"))
      loop.sleep(0.02)
      must(a:send("o\nthree\nxyz"))
    end)
    assert.same({ { n = 1, "one" }, { n = 1, "two" }, { n = 1, "three" }, { n = 1, "xyz" } }, got)
  end)

  it("recv on a stream yields and returns what is there", function()
    local a, b = tcp_pair()
    local res, info = while_waiting(function() return b:recv() end, function() must(a:send("hello")) end)
    assert.same({ n = 1, "hello" }, res)
    assert_progressed(info)
    local limited = while_waiting(function() return b:recv(3) end, function() must(a:send("abcdef")) end)
    assert.same({ n = 1, "abc" }, limited)
    must(a:send("x"))
    assert.same({ n = 1, "def" }, pack(b:recv(3))) -- outside: the rest
  end)

  it("recv on a stream whose peer closes gives what it gives outside", function()
    local oa, ob = unix_pair()
    oa:close()
    local outside = pack(ob:recv())
    local a, b = unix_pair()
    local res = while_waiting(function() return b:recv() end, function() a:close() end)
    assert.same(outside, res)
    assert.equal("closed", res[2])
  end)

  for _, kind in ipairs({ "dgram", "seqpacket" }) do
    it("recv on a " .. kind .. " socketpair yields, and reports truncation as outside", function()
      local oa, ob = unix_pair(kind)
      must(oa:send("hello"))
      local outside = pack(ob:recv(3))
      assert.same({ n = 2, "hel", true }, outside)
      local a, b = unix_pair(kind)
      local res, info = while_waiting(function() return b:recv(3) end, function() must(a:send("hello")) end)
      assert.same(outside, res)
      assert_progressed(info)
      local whole = while_waiting(function() return b:recv() end, function() must(a:send("whole")) end)
      assert.same({ n = 1, "whole" }, whole)
    end)
  end

  it("send of a large string to a slow reader yields and the data arrives whole", function()
    local a, b = tcp_pair()
    must(a:setoption("sndbuf", 32768))
    must(b:setoption("rcvbuf", 32768))
    local SIZE = 4 * 1024 * 1024
    local data = util.pattern(SIZE)
    local check = util.checker()
    local good, bad_at = true, nil
    local reads = 0
    local res, info = while_waiting(function() return a:send(data) end, function()
      for _ = 1, 100000 do
        if check.count() >= SIZE then break end
        local chunk = b:recv(65536)
        if not chunk then break end
        reads = reads + 1
        local ok, at = check.feed(chunk)
        if not ok then good, bad_at = false, at break end
        if reads % 2 == 0 then loop.sleep(0.003) end
      end
    end, 0.05)
    assert.same({ n = 1, SIZE }, res)
    assert.is_true(good, "wrong byte at offset " .. tostring(bad_at))
    assert.equal(SIZE, check.count())
    assert_progressed(info)
    assert.is_true(reads > 10, "the reader was not slow: " .. reads .. " reads")
  end)

  it("send with i and j inside a coroutine returns what it returns outside", function()
    local a, b = unix_pair()
    local outside = pack(a:send("abcdef", 2, 4))
    local res = while_waiting(function() return a:send("abcdef", 2, 4) end)
    assert.same(outside, res)
    assert.same({ n = 1, 4 }, res)
    assert.equal("bcdbcd", b:receive(6))
  end)

  it("sendto and recvfrom yield and give 3 results, 4 with truncation, as outside", function()
    local server, sport = udp_socket()
    local client, cport = udp_socket()
    must(client:sendto("hello", LOCAL4, sport))
    local outside = pack(server:recvfrom())
    must(client:sendto("hello", LOCAL4, sport))
    local outside_cut = pack(server:recvfrom(2))
    assert.same({ n = 3, "hello", LOCAL4, cport }, outside)
    assert.same({ n = 4, "he", LOCAL4, cport, true }, outside_cut)

    local sent
    local res, info = while_waiting(function() return server:recvfrom() end, function()
      sent = pack(client:sendto("hello", LOCAL4, sport))
    end)
    assert.same(outside, res)
    assert.same({ n = 1, 5 }, sent)
    assert_progressed(info)
    local cut = while_waiting(function() return server:recvfrom(2) end, function()
      must(client:sendto("hello", LOCAL4, sport))
    end)
    assert.same(outside_cut, cut)
  end)

  it("recvfrom on a unix dgram socketpair gives what it gives outside", function()
    local oa, ob = unix_pair("dgram")
    must(oa:send("msg"))
    local outside = pack(ob:recvfrom())
    local a, b = unix_pair("dgram")
    local res = while_waiting(function() return b:recvfrom() end, function() must(a:send("msg")) end)
    assert.same(outside, res)
  end)

  it("sendmany and recvmany yield and move a batch as outside", function()
    local server, sport = udp_socket()
    local client, cport = udp_socket()
    local words = { "one", "two", "three" }
    local sent
    local got = {}
    local batches = 0
    local _, info = while_waiting(function()
      for _ = 1, 10 do
        local batch, err = server:recvmany(64)
        if not batch then got.err = err break end
        batches = batches + 1
        for _, e in ipairs(batch) do got[#got + 1] = e end
        if #got >= #words then break end
      end
    end, function()
      sent = pack(client:sendmany(words, LOCAL4, sport))
    end)
    assert.same({ n = 1, 3 }, sent)
    assert.is_nil(got.err)
    assert.equal(3, #got)
    for i, w in ipairs(words) do
      assert.equal(w, got[i].data)
      assert.equal(LOCAL4, got[i].addr)
      assert.equal(cport, got[i].port)
    end
    assert_progressed(info)
    -- echo the batch back with the addresses it came with, inside a coroutine
    local echoed = while_waiting(function() return server:sendmany(got) end)
    assert.same({ n = 1, 3 }, echoed)
    local back = pack(client:recvmany(64)) -- outside
    assert.equal(1, back.n)
    assert.equal("one", back[1][1].data)
  end)

  it("recvmany with a timeout gives what it gives outside", function()
    local s = udp_socket()
    s:settimeout(0.05)
    local outside = pack(s:recvmany(8))
    local res, info = while_waiting(function() return s:recvmany(8) end)
    assert.same(outside, res)
    assert.same({ n = 2, nil, "timeout" }, res)
    assert.is_true(info.elapsed >= 0.04, "recvmany timed out after " .. info.elapsed .. " s")
  end)

  it("sendmsg and recvmsg yield and pass a descriptor over a unix socketpair", function()
    local a, b = unix_pair()
    local x, y = unix_pair() -- x travels
    local sent
    local res, info = while_waiting(function() return b:recvmsg() end, function()
      sent = pack(a:sendmsg("fd", { fds = { x } }))
    end)
    assert.same({ n = 1, 2 }, sent)
    assert_progressed(info)
    assert.equal(2, res.n)
    assert.equal("fd", res[1])
    assert.equal(1, #res[2])
    assert_integer(res[2][1], "the descriptor")
    local got = track(must(lsock.fromfd(res[2][1])))
    must(y:send("via the passed socket"))
    got:settimeout(WAIT)
    assert.equal("via the passed socket", got:recv())
    -- outside: the same shape
    must(a:sendmsg("fd", { fds = { x } }))
    local outside = pack(b:recvmsg())
    assert.equal(res.n, outside.n)
    assert.equal("fd", outside[1])
    track(must(lsock.fromfd(outside[2][1])))
  end)

  it("recvmsg on a seqpacket socketpair reports truncation with 3 results, as outside", function()
    local oa, ob = unix_pair("seqpacket")
    must(oa:sendmsg("hello", {}))
    local outside = pack(ob:recvmsg(2))
    assert.same({ n = 3, "he", {}, true }, outside)
    local a, b = unix_pair("seqpacket")
    local res = while_waiting(function() return b:recvmsg(2) end, function() must(a:sendmsg("hello", {})) end)
    assert.same(outside, res)
  end)

  it("lets many coroutines wait on many sockets at once", function()
    local N = 50
    local got = {}
    local pairs_ = {}
    for i = 1, N do
      local a, b = unix_pair()
      pairs_[i] = { a, b }
      loop.spawn(function() got[i] = b:receive() end)
    end
    loop.spawn(function()
      for i = N, 1, -1 do
        pairs_[i][1]:send("line " .. i .. "\n")
        if i % 10 == 0 then loop.sleep(0.01) end
      end
    end)
    run_all()
    for i = 1, N do assert.equal("line " .. i, got[i]) end
  end)
end)

describe("lsock.loop timeouts inside coroutines", function()
  it("receive with settimeout(0.1) on a silent socket returns nil, 'timeout', partial", function()
    local a, b = tcp_pair()
    must(a:send("par"))
    b:settimeout(0.1)
    local res, info = while_waiting(function() return b:receive() end)
    assert.same({ n = 3, nil, "timeout", "par" }, res)
    assert.is_true(info.elapsed >= 0.08 and info.elapsed < 3, "timed out after " .. info.elapsed .. " s")
    assert_progressed(info)
    -- outside, for comparison
    must(a:send("par"))
    assert.same(res, pack(b:receive()))
  end)

  it("a timeout in the loop never ends a wait early (the precise clock starts it)", function()
    -- The coarse clock may lag the precise one by more than its
    -- resolution (7 ms seen against a 4 ms resolution on a VM); timers
    -- started from it fired up to 2 ms early in about a third of these.
    local _, b = unix_pair()
    local T = 0.011
    b:settimeout(T)
    local early, worst, count = 0, 0, 0
    loop.spawn(function()
      for _ = 1, 60 do
        local t0 = lsock.monotime()
        local data, err = b:receive(1)
        local took = lsock.monotime() - t0
        if data == nil and err == "timeout" then count = count + 1 end
        if took < T then
          early, worst = early + 1, math.max(worst, T - took)
        end
      end
    end)
    run_all()
    assert.equal(60, count)
    assert.equal(0, early, ("%d of 60 waits ended early, by up to %.4f s"):format(early, worst))
  end)

  it("a timed-out receive resumes with its partial result as prefix", function()
    local a, b = tcp_pair()
    b:settimeout(0.1)
    local first, second
    loop.spawn(function()
      first = pack(b:receive(6))
      b:settimeout(WAIT)
      second = pack(b:receive(6, first[3]))
    end)
    loop.spawn(function()
      must(a:send("abc"))
      loop.sleep(0.2)
      must(a:send("def"))
    end)
    run_all()
    assert.same({ n = 3, nil, "timeout", "abc" }, first)
    assert.same({ n = 1, "abcdef" }, second)
  end)

  it("settimeout(0) returns 'timeout' at once, without yielding", function()
    local _, b = tcp_pair()
    b:settimeout(0)
    local res, elapsed, other_ran
    loop.spawn(function()
      local ran = false
      loop.spawn(function() ran = true end) -- starts only at the next step
      local t0 = lsock.monotime()
      res = pack(b:receive())
      elapsed = lsock.monotime() - t0
      other_ran = ran
    end)
    run_all()
    assert.same({ n = 3, nil, "timeout", "" }, res)
    assert.is_true(elapsed < 0.05, "timeout 0 took " .. tostring(elapsed) .. " s")
    assert.is_false(other_ran, "the call yielded to the loop")
  end)

  it("settimeout(0) on accept and recv returns 'timeout' at once too", function()
    local server = listener()
    server:settimeout(0)
    local _, b = unix_pair()
    b:settimeout(0)
    local acc, rcv, elapsed
    loop.spawn(function()
      local t0 = lsock.monotime()
      acc = pack(server:accept())
      rcv = pack(b:recv())
      elapsed = lsock.monotime() - t0
    end)
    run_all()
    assert.equal(nil, acc[1])
    assert.equal("timeout", acc[2])
    assert.equal(nil, rcv[1])
    assert.equal("timeout", rcv[2])
    assert.is_true(elapsed < 0.05, "timeout 0 took " .. tostring(elapsed) .. " s")
  end)

  it("total mode 't' ends a trickling receive; block mode 'b' lets it go on", function()
    local DATA = "0123456789abcdefghij" -- 20 bytes, one every 0.03 s
    local function trickle(sock)
      for i = 1, #DATA do
        if i > 1 then loop.sleep(0.03) end
        if not sock:send(DATA, i, i) then break end
      end
    end
    local a, b = tcp_pair()
    b:settimeout(0.2, "t")
    local res, info = while_waiting(function() return b:receive(#DATA) end, function() trickle(a) end, 0)
    assert.equal(3, res.n)
    assert.equal(nil, res[1])
    assert.equal("timeout", res[2])
    assert.is_true(#res[3] > 0 and #res[3] < #DATA, "partial of " .. #res[3] .. " bytes")
    assert.equal(DATA:sub(1, #res[3]), res[3])
    assert.is_true(info.elapsed >= 0.15 and info.elapsed < 3, "'t' mode ended after " .. info.elapsed .. " s")

    local c, d = tcp_pair()
    d:settimeout(0.2)
    local whole = while_waiting(function() return d:receive(#DATA) end, function() trickle(c) end, 0)
    assert.same({ n = 1, DATA }, whole)
  end)

  it("send to a reader that never reads times out with nil, 'timeout', nil, last", function()
    local a = tcp_pair()
    must(a:setoption("sndbuf", 32768))
    a:settimeout(0.1)
    local data = util.pattern(4 * 1024 * 1024)
    local res, info = while_waiting(function() return a:send(data) end)
    assert.equal(4, res.n)
    assert.equal(nil, res[1])
    assert.equal("timeout", res[2])
    assert.equal(nil, res[3])
    assert.is_number(res[4])
    assert.is_true(res[4] > 0 and res[4] < #data, "last sent " .. tostring(res[4]))
    assert.is_true(info.elapsed >= 0.08 and info.elapsed < 3, "timed out after " .. info.elapsed .. " s")
    assert_progressed(info)
    local outside = pack(a:send(data))
    assert.equal(4, outside.n)
    assert.equal("timeout", outside[2])
  end)

  it("accept with settimeout(0.1) gives what it gives outside", function()
    local server = listener()
    server:settimeout(0.1)
    local outside = pack(server:accept())
    local res, info = while_waiting(function() return server:accept() end)
    assert.same(outside, res)
    assert.equal("timeout", res[2])
    assert.is_true(info.elapsed >= 0.08, "timed out after " .. info.elapsed .. " s")
    assert_progressed(info)
  end)

  it("connect with settimeout(0.2) to a full queue gives what it gives outside", function()
    local _, port = listener(0)
    local first = track(must(lsock.tcp()))
    first:settimeout(WAIT)
    must(first:connect(LOCAL4, port))
    local o = track(must(lsock.tcp()))
    o:settimeout(0.2)
    local outside = pack(o:connect(LOCAL4, port))
    local c = track(must(lsock.tcp()))
    c:settimeout(0.2)
    local res, info = while_waiting(function() return c:connect(LOCAL4, port) end)
    assert.same(outside, res)
    assert.equal("timeout", res[2])
    assert.is_true(info.elapsed >= 0.15 and info.elapsed < 3, "timed out after " .. info.elapsed .. " s")
    assert_progressed(info)
  end)
end)

describe("lsock.loop close", function()
  it("wakes a coroutine waiting in receive on the closed socket: nil, 'closed'", function()
    local _, b = tcp_pair()
    local res, info = while_waiting(function() return b:receive() end, function() b:close() end, 0.05)
    assert.equal(nil, res[1])
    assert.equal("closed", res[2])
    assert.is_true(info.elapsed < 3, "woke after " .. info.elapsed .. " s")
  end)

  it("wakes every coroutine waiting on it, accept included", function()
    local server = listener()
    local _, b = unix_pair()
    local got = {}
    loop.spawn(function() got.accept = pack(server:accept()) end)
    loop.spawn(function() got.recv = pack(b:recv()) end)
    loop.spawn(function() got.receive = pack(b:receive("l")) end)
    loop.spawn(function()
      loop.sleep(0.05)
      server:close()
      b:close()
    end)
    local t0 = lsock.monotime()
    run_all()
    assert.is_true(lsock.monotime() - t0 < 3, "the waiters woke late")
    for _, k in ipairs({ "accept", "recv", "receive" }) do
      assert.is_table(got[k], k .. " did not return")
      assert.equal(nil, got[k][1], k)
      assert.equal("closed", got[k][2], k)
    end
  end)

  it("leaves the other coroutines waiting on other sockets alone", function()
    local _, b = unix_pair()
    local c, d = unix_pair()
    local closed, other
    loop.spawn(function() closed = pack(b:receive()) end)
    loop.spawn(function() other = pack(d:receive()) end)
    loop.spawn(function()
      loop.sleep(0.05)
      b:close()
      loop.sleep(0.05)
      must(c:send("still here\n"))
    end)
    run_all()
    assert.equal("closed", closed[2])
    assert.same({ n = 1, "still here" }, other)
  end)
end)

describe("lsock.loop outside coroutines", function()
  it("a receive with settimeout(0.05) outside blocks and times out as before", function()
    local _, b = tcp_pair()
    b:settimeout(0.05)
    local t0 = lsock.monotime()
    local res = pack(b:receive())
    local elapsed = lsock.monotime() - t0
    assert.same({ n = 3, nil, "timeout", "" }, res)
    assert.is_true(elapsed >= 0.04 and elapsed < 3, "timed out after " .. elapsed .. " s")
  end)

  it("a plain blocking exchange works", function()
    local a, b = tcp_pair()
    must(a:send("ping\n"))
    assert.equal("ping", b:receive())
    must(b:send("pong\n"))
    assert.equal("pong", a:receive())
  end)

  it("a blocking accept and receive wait for another process", function()
    local server, port = listener()
    local peer = util.spawn("later", LOCAL4, port, 0.1, util.tohex("from the child"))
    local conn = track(must(server:accept()))
    conn:settimeout(WAIT)
    local t0 = lsock.monotime()
    assert.equal("from the child", conn:receive("a"))
    assert.is_true(lsock.monotime() - t0 >= 0.05, "receive did not wait for the child")
    assert.equal("sent 14", peer.wait())
  end)

  it("a socket used inside a coroutine blocks again outside", function()
    local a, b = tcp_pair()
    local inside
    loop.spawn(function() inside = b:receive() end)
    loop.spawn(function()
      loop.sleep(0.02)
      must(a:send("in the loop\n"))
    end)
    run_all()
    assert.equal("in the loop", inside)
    b:settimeout(0.05)
    local t0 = lsock.monotime()
    local res = pack(b:receive())
    local elapsed = lsock.monotime() - t0
    assert.same({ n = 3, nil, "timeout", "" }, res)
    assert.is_true(elapsed >= 0.04 and elapsed < 3, "timed out after " .. elapsed .. " s")
    b:settimeout(WAIT)
    must(a:send("outside\n"))
    assert.equal("outside", b:receive())
    must(b:send("back\n"))
    assert.equal("back", a:receive())
  end)

  it("a call outside does not run spawned coroutines", function()
    local _, b = unix_pair()
    local ran = false
    loop.spawn(function() ran = true end)
    b:settimeout(0.05)
    assert.same({ n = 2, nil, "timeout" }, pack(b:recv()))
    assert.is_false(ran)
    run_all()
    assert.is_true(ran)
  end)

  it("a call inside a coroutine not started by loop.spawn blocks and does not yield", function()
    local _, b = unix_pair()
    b:settimeout(0.05)
    local co = coroutine.create(function()
      local t0 = lsock.monotime()
      local res = pack(b:receive())
      return res, lsock.monotime() - t0
    end)
    local ok, res, elapsed = coroutine.resume(co)
    assert.is_true(ok, tostring(res))
    assert.equal("dead", coroutine.status(co), "the call yielded out of a plain coroutine")
    assert.same({ n = 3, nil, "timeout", "" }, res)
    assert.is_true(elapsed >= 0.04 and elapsed < 3, "timed out after " .. elapsed .. " s")
  end)
end)

describe("lsock.loop driven by its host", function()
  it("finishes with step(0.01) called from a plain loop", function()
    local a, b = unix_pair()
    local got = {}
    loop.spawn(function()
      for i = 1, 3 do got[i] = b:receive() end
    end)
    loop.spawn(function()
      for i = 1, 3 do
        loop.sleep(0.02)
        must(a:send("line " .. i .. "\n"))
      end
    end)
    local steps = 0
    while loop.count() > 0 and steps < 1000 do
      loop.step(0.01)
      steps = steps + 1
    end
    assert.equal(0, loop.count())
    assert.same({ "line 1", "line 2", "line 3" }, got)
    assert.is_true(steps > 1, "finished in one step")
  end)

  it("waits in step(timeout) at most timeout, and less when a timer is due", function()
    loop.spawn(function() loop.sleep(0.3) end)
    loop.step()
    local t0 = lsock.monotime()
    assert.equal(1, loop.step(0.05))
    local elapsed = lsock.monotime() - t0
    assert.is_true(elapsed < 0.25, "step(0.05) took " .. elapsed .. " s")
    t0 = lsock.monotime()
    local n
    for _ = 1, 100 do
      n = loop.step(5)
      if n == 0 then break end
    end
    elapsed = lsock.monotime() - t0
    assert.equal(0, n)
    assert.is_true(elapsed < 3, "step(5) did not end at the timer: " .. elapsed .. " s")
  end)

  it("returns from step(5) when a socket a coroutine waits on becomes ready", function()
    local a, b = unix_pair()
    local got
    loop.spawn(function() got = b:receive() end)
    loop.step()
    must(a:send("ready\n"))
    local t0 = lsock.monotime()
    local n
    for _ = 1, 100 do
      n = loop.step(5)
      if n == 0 then break end
    end
    assert.equal(0, n)
    assert.equal("ready", got)
    assert.is_true(lsock.monotime() - t0 < 3, "step(5) waited for nothing")
  end)

  it("has an integer descriptor that is readable when a waited-on socket is ready", function()
    local fd = loop.getfd()
    assert_integer(fd, "loop.getfd()")
    local a, b = unix_pair()
    local got
    loop.spawn(function() got = b:receive() end)
    loop.step() -- the coroutine starts and waits
    local r = lsock.select({ fd }, nil, 0)
    assert.is_nil(r[1], "the loop's descriptor is readable before anything arrived")
    must(a:send("x\n"))
    r = lsock.select({ fd }, nil, 1)
    assert.equal(fd, r[1])
    for _ = 1, 100 do
      if loop.step(0.01) == 0 then break end
    end
    assert.equal("x", got)
  end)
end)

describe("loop.timeout", function()
  it("says how long a host may wait: 0 with work queued, the next timer, nil for none", function()
    assert.equal(0, loop.count(), "a spec before this one left coroutines")
    assert.is_nil(loop.timeout())
    local woke = false
    loop.spawn(function()
      loop.sleep(0.2)
      woke = true
    end)
    assert.equal(0, loop.timeout()) -- the new coroutine waits to start
    loop.step(0)
    local t = loop.timeout()
    assert.is_number(t)
    -- about the sleep's 0.2 s (the deadline may be taken from a coarse
    -- clock a little ahead of this one)
    assert.is_true(t > 0.1 and t < 0.3, "timeout " .. tostring(t))
    -- a host that waits that long and steps finds the sleeper done
    lsock.sleep(t)
    for _ = 1, 10 do
      if loop.step(0) == 0 then break end
      lsock.sleep(loop.timeout() or 0.01)
    end
    assert.is_true(woke)
    assert.is_nil(loop.timeout())
  end)
end)

describe("lsock.loop timers", function()
  it("wakes 300 sleepers of random lengths in the order of their deadlines", function()
    local woke, seed = {}, 12345
    for i = 1, 300 do
      seed = (seed * 1103515245 + 12345) % 2147483648
      local d = (seed % 200) / 1000 -- 0 .. 0.199 s
      loop.spawn(function()
        loop.sleep(d)
        woke[#woke + 1] = { d = d, i = i }
      end)
    end
    assert.is_true(loop.run(10))
    assert.equal(300, #woke)
    for k = 2, #woke do
      assert.is_true(woke[k - 1].d <= woke[k].d + 0.02,
        ("sleeper of %.3f s woke before one of %.3f s"):format(woke[k].d, woke[k - 1].d))
    end
  end)

  it("leaves no timer behind for waits that ended before their timeout", function()
    local a, b = lsock.socketpair()
    a:settimeout(30)
    b:settimeout(30)
    local got = 0
    loop.spawn(function()
      for _ = 1, 500 do
        local m = a:receive(1)
        if m then got = got + 1 end
        a:send("y")
      end
    end)
    loop.spawn(function()
      for _ = 1, 500 do
        b:send("x")
        b:receive(1)
      end
    end)
    assert.is_true(loop.run(20))
    assert.equal(500, got)
    assert.equal(0, loop._timers())
    a:close()
    b:close()
  end)
end)
