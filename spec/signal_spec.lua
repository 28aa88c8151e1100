-- A signal during every kind of wait. A host program may install a signal
-- handler without SA_RESTART; each signal then interrupts a blocking system
-- call with EINTR. lsock retries, and the timeout still holds: a signal
-- neither starts it again (the wait would last longer, or, with signals
-- every 25 ms, never end) nor cuts it short.
--
-- Each case runs spec/helpers/signal_child.lua, which installs an empty
-- SIGUSR1 handler (core._catch_signal), has bash send it SIGUSR1 every
-- 25 ms and makes ONE call that waits: a stream receive or send (tcp and
-- unix; waiting in the kernel or with poll; block, total, both or no
-- timeout), connect, accept, datagram and message receives and sends, TLS
-- handshake and receive, lsock.select, a poller's wait on each backend,
-- lsock.sleep (core.sleep), the loop's scheduler, sendfile and
-- lsock.connect by name. A call that nothing satisfies must end with
-- "timeout" after T <= elapsed < T + SLACK; one that a peer process
-- satisfies after LATER must return exactly what the peer sent (and the
-- peer must get exactly what was sent to it). bash counts the signals it
-- sent, so a case where none came cannot pass. The children run JOBS at a
-- time (LSOCK_SIGNAL_JOBS, default 12), each under `timeout`;
-- LSOCK_SIGNAL_REPORT=1 prints every child's time, signal count and result
-- on stderr. Loopback and unix sockets only.
local lsock = require "lsock"
local util = require "helpers.util"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each, teardown = teardown }

local CHILD = util.HELPERS .. "signal_child.lua"
local T = 0.4 -- the timeout of every wait
local LATER = 0.2 -- when a peer satisfies a wait
local LONG = 2.5 -- the other limit where both timeouts are set
-- A busy 2-core machine may wake a process late; a wait restarted by each
-- signal ends only T after bash stops sending (2.5 s or more).
local SLACK = 0.3
local MIN_SIGNALS_TIMEOUT = 5 -- of the 16 or so that come within T
local MIN_SIGNALS_DATA = 3 -- of the 8 or so that come within LATER
local CHILD_LIMIT = 12 -- seconds a child may take at most
local JOBS = tonumber(os.getenv("LSOCK_SIGNAL_JOBS") or "") or 12
-- LSOCK_SIGNAL_REPORT=1: each child's times and signal count on stderr.
local REPORT = os.getenv("LSOCK_SIGNAL_REPORT") == "1"

local HAVE_TIMEOUT = util.succeeds("timeout 1 true")
-- The child paces its signals with bash's `read -t` of a fraction of a
-- second (a pipe that stays open: the read times out).
local HAVE_BASH = util.succeeds("sleep 0.1 | bash -c 'read -t 0.01 _; [ $? -gt 128 ]'")
local HAVE_SIGNAL = require("lsock.core")._catch_signal ~= nil
local it_signals = checks.it_if(checks.HAVE_PROC and HAVE_TIMEOUT and HAVE_BASH and HAVE_SIGNAL,
  "needs /proc (the child's pid), the timeout command, bash and core._catch_signal")

-- The certificate of the TLS cases, made once (nil and why when openssl is
-- missing).
local tls_cert, tls_why
do
  local certs = require "helpers.certs"
  local ok, c = pcall(certs.get)
  if ok then tls_cert = c else tls_why = tostring(c) end
  teardown(function() certs.cleanup() end)
end

-- The cases: `name` (what the spec says), `args` (the child's KIND ARGS),
-- `result` (the exact words), `window` ({ lo, hi } for the elapsed time),
-- `times` (windows of named times), `signals` (the least count), `peer`
-- (the peer's last words), `skip` (why not here).
local cases = {}

local function timeout_window() return { T, T + SLACK } end
-- A satisfied wait: long enough for signals to come, never to the timeout.
local function data_window() return { LATER / 2, T + SLACK } end

local function add(c)
  c.signals = c.signals or (c.window[1] >= T and MIN_SIGNALS_TIMEOUT or MIN_SIGNALS_DATA)
  cases[#cases + 1] = c
end

local MODE_WORDS = {
  b = "a block timeout", t = "a total timeout", bt = "a block timeout under a longer total one",
  tb = "a total timeout under a longer block one", none = "no timeout",
}

-- Streams: receive and send, tcp and unix. "kernel": a socket lsock made,
-- which waits inside recv/send (kwait "on") unless both timeouts are set
-- (then poll: kwait stays "idle"); "poll": one handed out with getfd,
-- which always waits with poll (kwait "never").
local STREAM_N, SEND_N = 256 * 1024, 1024 * 1024
for _, transport in ipairs({ "tcp", "unix" }) do
  for _, dir in ipairs({ "receive", "send" }) do
    local function state(style, mode)
      if style == "poll" then return "never" end
      return (mode == "bt" or mode == "tb") and "idle" or "on"
    end
    local function how(style, mode)
      return ("%s %s (%s) with %s"):format(transport, dir,
        style == "poll" and "waiting with poll" or (state(style, mode) == "on" and "waiting in the kernel"
          or "both timeouts: poll"), MODE_WORDS[mode])
    end
    for _, sm in ipairs({ { "kernel", "b" }, { "kernel", "t" }, { "poll", "b" }, { "poll", "t" },
                          { "kernel", "bt" }, { "kernel", "tb" } }) do
      local style, mode = sm[1], sm[2]
      add({
        name = how(style, mode) .. " times out on time",
        args = { "stream", transport, style, mode, dir, "timeout" },
        result = (dir == "receive" and "timeout 0" or "timeout") .. ", kwait " .. state(style, mode),
        window = timeout_window(),
      })
    end
    for _, sm in ipairs({ { "kernel", "b" }, { "kernel", "t" }, { "kernel", "none" }, { "poll", "b" },
                          { "poll", "t" }, { "poll", "none" }, { "kernel", "bt" } }) do
      local style, mode = sm[1], sm[2]
      add({
        name = how(style, mode) .. (dir == "receive" and " gets the bytes a peer sends later, intact"
          or " waits for room until a peer reads, and every byte arrives"),
        args = { "stream", transport, style, mode, dir, "data" },
        result = (dir == "receive" and "data " .. STREAM_N or "sent " .. SEND_N) .. ", kwait " .. state(style, mode),
        window = data_window(),
        peer = dir == "receive" and "sent " .. STREAM_N or "ok " .. SEND_N,
      })
    end
  end
end

add({ name = "accept times out on time", args = { "accept", "timeout" },
  result = "timeout", window = timeout_window() })
add({ name = "accept takes a connection that comes later", args = { "accept", "data" },
  result = "accepted", window = data_window(), peer = "connected, then closed" })

for _, mode in ipairs({ "b", "t" }) do
  add({ name = "connect to a full listener times out on time with " .. MODE_WORDS[mode],
    args = { "connect", mode }, result = "timeout", window = timeout_window() })
end
do
  local answers = lsock.getaddrinfo("localhost", 0, { type = "stream" }) or {}
  local seen, n = {}, 0
  for _, ai in ipairs(answers) do
    if not seen[ai.addr] then seen[ai.addr], n = true, n + 1 end
  end
  add({ name = "lsock.connect by host name times out on time", args = { "hostconnect" },
    result = ("timeout (%d address%s)"):format(#answers, #answers > 1 and "es" or ""),
    window = timeout_window(), skip = n == 0 and "localhost does not resolve" or nil })
end

for _, op in ipairs({ "recv", "recvfrom", "recvmany" }) do
  add({ name = "udp " .. op .. " times out on time", args = { "udp", op, "timeout" },
    result = "timeout", window = timeout_window() })
end
add({ name = "udp recvfrom gets a datagram sent later, intact", args = { "udp", "recvfrom", "data" },
  result = "datagram intact from 127.0.0.1", window = data_window(), peer = "sent 1000" })
add({ name = "udp recvmany gets a datagram sent later, intact", args = { "udp", "recvmany", "data" },
  result = "1 datagram(s), intact", window = data_window(), peer = "sent 1000" })
do
  local probe = lsock.udp()
  local skip = not (probe and probe:setoption("udp_gro", true)) and "no udp_gro option here" or nil
  if probe then probe:close() end
  add({ name = "udp recv with udp_gro times out on time", args = { "udp", "recv", "timeout", "gro" },
    result = "timeout", window = timeout_window(), skip = skip })
  add({ name = "udp recv with udp_gro gets a datagram sent later, intact", args = { "udp", "recv", "data", "gro" },
    result = "datagram intact", window = data_window(), peer = "sent 1000", skip = skip })
end
add({ name = "unix dgram recv times out on time", args = { "dgram", "recv", "timeout" },
  result = "timeout", window = timeout_window() })
add({ name = "unix dgram recv gets a datagram sent later, intact", args = { "dgram", "recv", "data" },
  result = "datagram intact", window = data_window(), peer = "sent 1000" })
add({ name = "unix dgram send to a full queue times out on time", args = { "dgram", "send", "timeout" },
  result = "timeout", window = timeout_window() })
add({ name = "unix dgram sendmany to a full queue times out on time", args = { "dgram", "sendmany", "timeout" },
  result = "timeout 0", window = timeout_window() })
add({ name = "recvmsg times out on time", args = { "msg", "recvmsg", "timeout" },
  result = "timeout", window = timeout_window() })
add({ name = "recvmsg gets the bytes a peer sends later, intact", args = { "msg", "recvmsg", "data" },
  result = "data 1000, 0 fds", window = data_window(), peer = "sent 1000" })
add({ name = "sendmsg into a full socket times out on time", args = { "msg", "sendmsg", "timeout" },
  result = "timeout", window = timeout_window() })

do
  local skip = not tls_cert and ("no test certificate: " .. tostring(tls_why)) or nil
  local cert, key = tls_cert and tls_cert.server.cert or "", tls_cert and tls_cert.server.key or ""
  for _, mode in ipairs({ "b", "t" }) do
    add({ name = "a TLS handshake against a peer that never answers times out on time with " .. MODE_WORDS[mode],
      args = { "tls", "handshake", mode, "timeout" }, result = "timeout", window = timeout_window() })
    add({ name = "a TLS receive times out on time with " .. MODE_WORDS[mode],
      args = { "tls", "receive", mode, "timeout", cert, key }, result = "timeout 0",
      window = timeout_window(), skip = skip })
    add({ name = "a TLS send to a peer that never reads times out on time with " .. MODE_WORDS[mode],
      args = { "tls", "send", mode, "timeout", cert, key }, result = "timeout",
      window = timeout_window(), skip = skip })
  end
  add({ name = "a TLS receive gets the bytes a peer sends later, intact",
    args = { "tls", "receive", "b", "data", cert, key }, result = "data " .. STREAM_N,
    window = data_window(), peer = "sent " .. STREAM_N, skip = skip })
end

add({ name = "lsock.select times out on time", args = { "select", "timeout" },
  result = "not readable, timeout", window = timeout_window() })
add({ name = "lsock.select sees a socket become readable later", args = { "select", "data" },
  result = "readable", window = data_window(), peer = "sent " .. STREAM_N })
for _, backend in ipairs({ "epoll", "poll", "kqueue" }) do
  local p = lsock.poller(backend)
  local skip = not p and ("no " .. backend .. " backend here") or nil
  if p then p:close() end
  add({ name = "a poller's wait (" .. backend .. ") times out on time", args = { "poller", backend, "timeout" },
    result = "0 event(s) ", window = timeout_window(), skip = skip })
  add({ name = "a poller's wait (" .. backend .. ") sees a socket become readable later",
    args = { "poller", backend, "data" }, result = "1 event(s) r", window = data_window(),
    peer = "sent " .. STREAM_N, skip = skip })
end

add({ name = "lsock.sleep sleeps as long as it was asked", args = { "sleep" },
  result = "slept", window = timeout_window() })

add({ name = "lsock.loop: a sleeping coroutine and a receiving one both end on time", args = { "loop", "timeout" },
  result = "slept, received timeout 0", window = timeout_window(),
  times = { sleep = timeout_window(), receive = timeout_window() } })
add({ name = "lsock.loop: a receiving coroutine gets what comes later while another sleeps",
  args = { "loop", "data" }, result = "slept, received data " .. STREAM_N, window = timeout_window(),
  times = { sleep = timeout_window(), receive = data_window() }, peer = "sent " .. STREAM_N })

for _, mode in ipairs({ "b", "t" }) do
  add({ name = "sendfile to a full socket times out on time with " .. MODE_WORDS[mode],
    args = { "sendfile", mode, "timeout" }, result = "timeout", window = timeout_window() })
end
add({ name = "sendfile waits for room until a peer reads, and every byte arrives",
  args = { "sendfile", "b", "data" }, result = "sent " .. SEND_N, window = data_window(),
  peer = "ok " .. SEND_N })

-- ---- running them --------------------------------------------------------------

local tmp = checks.temp_dir("/tmp/lsock-signal.XXXXXX")

-- The child's report: result, elapsed, times, signals, peer, exit, text.
local function parse(text)
  local r = { times = {}, text = text }
  for line in text:gmatch("[^\n]+") do
    local word, rest = line:match("^(%S+) ?(.*)$")
    if word == "result" then r.result = rest
    elseif word == "elapsed" then
      local name, t = rest:match("^(%S+) (%S+)$")
      if name then r.times[name] = tonumber(t) else r.elapsed = tonumber(rest) end
    elseif word == "signals" then r.signals = tonumber(rest)
    elseif word == "peer" then r.peer = rest
    elseif word == "exit" then r.exit = tonumber(rest) end
  end
  return r
end

-- Run every case that is not skipped, JOBS children at a time; the reports
-- by case.
local reports
local function run_all()
  if reports then return reports end
  reports = {}
  local todo = {}
  for _, c in ipairs(cases) do
    if not c.skip then todo[#todo + 1] = c end
  end
  local running = {}
  local function start(i)
    local c = todo[i]
    if not c then return end
    local cmd = ("timeout %d %s 2>&1; echo \"exit $?\""):format(CHILD_LIMIT,
      util.lua_command(CHILD, tmp.path("c"), T, LATER, LONG, (table.unpack or unpack)(c.args)))
    running[i] = assert(io.popen(cmd, "r"))
  end
  for i = 1, math.min(JOBS, #todo) do start(i) end
  for i = 1, #todo do
    local f = running[i]
    local text = f:read("*a")
    f:close()
    running[i] = nil
    reports[todo[i]] = parse(text)
    if REPORT then
      local r = reports[todo[i]]
      io.stderr:write(("%-40s %6s s %4s signals  %s\n"):format(table.concat(todo[i].args, " "):sub(1, 40),
        tostring(r.elapsed), tostring(r.signals), tostring(r.result)))
    end
    start(i + JOBS)
  end
  return reports
end

-- t (seconds, nil when the child printed none) must lie in the window w.
local function check_time(what, t, w, about)
  assert.is_true(t ~= nil and t >= w[1] and t < w[2],
    ("%s took %s s, expected %.2f <= t < %.2f%s"):format(what, tostring(t), w[1], w[2], about))
end

describe("a signal every 25 ms (SIGUSR1, no SA_RESTART)", function()
  for _, c in ipairs(cases) do
    local it_case = c.skip and checks.it_if(false, c.skip) or it_signals
    it_case("during " .. c.name, function()
      local r = run_all()[c]
      local about = ("\n(the child: %s)\n%s"):format(table.concat(c.args, " "), r.text)
      if r.exit == 124 then
        error("the child did not end within " .. CHILD_LIMIT .. " s: a wait that each signal starts again?" .. about)
      end
      assert.equal(0, r.exit, "the child failed" .. about)
      assert.equal(c.result, r.result, about)
      check_time("the call", r.elapsed, c.window, about)
      for name, w in pairs(c.times or {}) do check_time(name, r.times[name], w, about) end
      assert.is_true((r.signals or 0) >= c.signals,
        ("%s signals came, at least %d expected%s"):format(tostring(r.signals), c.signals, about))
      if c.peer then assert.equal(c.peer, r.peer, about) end
    end)
  end
end)

-- The same in this process, which make test runs under valgrind: the
-- children above run natively, so their C paths (core._catch_signal, the
-- time left after an interruption) are memory-checked here. The upper
-- bound is loose (valgrind is slow); the children check the times.
describe("a signal during a wait in this process", function()
  local core = require "lsock.core"

  -- Start a shell that sends this process SIGUSR1 `n` times, 25 ms apart
  -- (or more, on a busy machine: each sleep is a process). Returns a
  -- function that waits (5 s at most) until the shell is done, so that no
  -- signal reaches the specs that follow.
  local function signals(n)
    local pid = io.open("/proc/self/stat"):read("*l"):match("^(%d+)")
    local done = os.tmpname()
    os.remove(done)
    os.execute(("sh -c 'for i in $(seq %d); do sleep 0.025; kill -USR1 %s; done; : > %s' "
      .. ">/dev/null 2>&1 </dev/null &"):format(n, pid, util.quote(done)))
    return function()
      local deadline = lsock.monotime() + 5
      while not io.open(done) and lsock.monotime() < deadline do lsock.sleep(0.05) end
      assert.is_true(os.remove(done), "the signal sender did not finish")
    end
  end

  it_signals("ends a kernel wait and a poll wait with their timeouts, not at a signal", function()
    assert.is_true(core._catch_signal(10))
    local track = checks.tracker()
    local a, b = lsock.socketpair()
    track(a)
    track(b)
    for _, how in ipairs({ "kernel", "poll" }) do
      if how == "poll" then b:settimeout(0.6, "t") end
      b:settimeout(0.4)
      local finished = signals(40) -- 1 s: a wait each signal starts again ends 0.4 s after
      local t0 = lsock.monotime()
      local res = { b:receive(1) }
      local took = lsock.monotime() - t0
      finished()
      assert.same({ nil, "timeout", "" }, res)
      assert.is_true(took >= 0.4 and took < 1.2, how .. " wait took " .. took .. " s")
    end
  end)
end)
