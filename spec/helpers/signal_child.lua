--- The child of spec/signal_spec.lua: ONE wait of lsock while SIGUSR1
-- keeps arriving, so the spec can see that an interrupted wait (EINTR)
-- goes on with the time it has left.
--
--   signal_child.lua BASE T LATER LONG KIND ARGS...   the waiter
--   signal_child.lua peer ROLE ARGS...                a peer the waiter starts
--
-- The waiter installs an empty SIGUSR1 handler without SA_RESTART
-- (core._catch_signal), makes its sockets and its peer (which prints
-- "ready" once it is connected, then waits for the file BASE.go and LATER
-- seconds more before it acts), creates BASE.go, starts a bash that sends
-- the waiter SIGUSR1 every 25 ms (100 at most) until the waiter closes its
-- standard input, makes the one call that waits, stops the bash, and then
-- prints:
--
--   result WORDS      what the call gave, in the words of its case below
--   elapsed S         the seconds the call took (core.monotime)
--   elapsed NAME S    a wait inside it (loop cases: each coroutine's)
--   signals N         how many SIGUSR1 the bash sent (it prints this)
--   peer WORDS        the last line of the peer, for the cases with one
--
-- or "setup failed: ..." (exit status 1). T is the timeout of the wait, LONG
-- the other limit where both a block and a total timeout are set, BASE a
-- path prefix for the files of this child (a socket, a file to send, the
-- go file). Nothing is printed while the signals come: the report is
-- written after the bash has stopped. bash, not sh: its `read -t` waits
-- 25 ms without starting a process per signal, which a busy machine would
-- run late.
local lsock = require "lsock"
local core = require "lsock.core"
local util = require "helpers.util"

local SELF = util.HELPERS .. "signal_child.lua"
local PERIOD = 0.025 -- seconds between two signals
-- After this many the bash stops sending (about 2.6 s): a wait that each
-- signal starts again ends T after that, far too late for the spec.
local MAX_SIGNALS = 100
local STREAM_N = 256 * 1024 -- bytes a stream peer sends
local SEND_N = 1024 * 1024 -- bytes sent to a peer that reads late: more than
                           -- the small buffers (64 KiB) set below hold
local DGRAM_N = 1000 -- bytes of one datagram
local SMALL_BUF = 65536 -- sndbuf and rcvbuf where a send must wait for room

local out = util.out

local function fail(...)
  out("setup failed:", ...)
  os.exit(1)
end

local function must(v, ...)
  if v == nil or v == false then fail(tostring((...))) end
  return v, ...
end

-- ---- the peers --------------------------------------------------------------
--
--   peer ROLE BASE LATER N WHERE...
--
-- A peer prints "ready" once it is set up, waits for the file BASE.go
-- (made just before the wait begins), then LATER seconds, then acts, and
-- prints its last words. WHERE is "tcp HOST PORT" (udp: "udp HOST PORT")
-- or "unix PATH". Roles:
--
--   sender     connect, send the first N bytes of the pattern, close
--   reader     connect (small receive buffer), read to the end, check the
--              pattern: "ok N", "short N", "mismatch at X", "error E ..."
--   connector  connect, wait for the waiter to close the connection
--   datagram   send one datagram of the first N bytes of the pattern
--   tls        tls.connect (not verifying: the certificate is the spec's),
--              send N bytes of the pattern, close_notify, close

local function peer_connect(where, i)
  local sock, err
  if where[i] == "tcp" then
    sock, err = lsock.connect(where[i + 1], tonumber(where[i + 2]), { timeout = util.TIMEOUT })
  else
    sock, err = lsock.unix_connect(where[i + 1])
  end
  must(sock, "peer connect: " .. tostring(err))
  sock:settimeout(util.TIMEOUT)
  return sock
end

local function run_peer(role, base, later, n)
  local sock
  if role == "sender" or role == "reader" then
    sock = peer_connect(arg, 6)
    if role == "reader" then sock:setoption("rcvbuf", SMALL_BUF) end
  elseif role == "datagram" then
    sock = must(arg[6] == "udp" and lsock.udp() or lsock.socket("unix", "dgram"))
  elseif role == "tls" then
    local tls = require "lsock.tls"
    local err
    sock, err = tls.connect(arg[7], tonumber(arg[8]), { verify = false, timeout = util.TIMEOUT })
    must(sock, "peer tls connect: " .. tostring(err))
    sock:settimeout(util.TIMEOUT)
  elseif role ~= "connector" then
    fail("unknown peer role " .. tostring(role))
  end
  out("ready")
  for _ = 1, 2000 do -- 10 s at most
    local go = io.open(base .. ".go")
    if go then
      go:close()
      break
    end
    lsock.sleep(0.005)
  end
  lsock.sleep(later)

  if role == "sender" or role == "tls" then
    local ok, err = util.send_pattern(sock, n)
    if role == "tls" then sock:shutdown() end
    sock:close()
    out(ok and ("sent " .. n) or ("send failed: " .. tostring(err)))
  elseif role == "reader" then
    local check, err, good, at = util.checker(), nil, true, nil
    for _ = 1, 1e6 do
      local data
      data, err = sock:recv(65536)
      if not data then break end
      good, at = check.feed(data)
      if not good then break end
    end
    sock:close()
    if not good then out("mismatch at " .. at)
    elseif err ~= "closed" then out("error " .. tostring(err) .. " after " .. check.count())
    else out((check.count() == n and "ok " or "short ") .. check.count()) end
  elseif role == "datagram" then
    local data = util.pattern(n)
    local done, err
    if arg[6] == "udp" then
      done, err = sock:sendto(data, arg[7], tonumber(arg[8]))
    else
      done, err = sock:sendto(data, arg[7])
    end
    sock:close()
    out(done and ("sent " .. done) or ("sendto failed: " .. tostring(err)))
  else -- connector
    sock = peer_connect(arg, 6)
    local _, err = sock:receive(1)
    sock:close()
    out("connected, then " .. tostring(err))
  end
  os.exit(0)
end

if arg[1] == "peer" then run_peer(arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5])) end

-- ---- the waiter -------------------------------------------------------------

local BASE, T, LATER, LONG = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local KIND = arg[5]
local unpack = table.unpack or unpack
local A = { unpack(arg, 6) }
if not (BASE and T and LATER and LONG and KIND) then fail("usage: BASE T LATER LONG KIND ARGS...") end

must(core._catch_signal(10), "no handler for SIGUSR1")

local function our_pid()
  local f = io.open("/proc/self/stat")
  local line = f and f:read("*l")
  if f then f:close() end
  return tonumber(line and line:match("^(%d+)")) or fail("no pid in /proc/self/stat")
end

-- Start a peer process of `role` (see above) sending or reading n bytes,
-- at WHERE...; ready(f) waits until it says it is ready (before any
-- signal). The waiter reads its last words at the end.
local peers = {}
local function start_peer(role, n, ...)
  local cmd = "timeout 20 " .. util.lua_command(SELF, "peer", role, BASE, LATER, n, ...) .. " 2>&1"
  local f = must(io.popen(cmd, "r"))
  peers[#peers + 1] = f
  return f
end

local function ready(f)
  local line = f:read("*l")
  if line ~= "ready" then fail("the peer said: " .. tostring(line) .. " " .. (f:read("*a") or "")) end
end

-- What must stay open until the process ends (the other end of a pair,
-- a listener): held here, so the collector never closes it mid-wait.
local held = {}
local function hold(...)
  for i = 1, select("#", ...) do held[#held + 1] = (select(i, ...)) end
  return ...
end

-- The bash that sends the signals, paced by `read -t` on a pipe from this
-- process; stop() closes the pipe, which ends it (end of file), and returns
-- once it has exited, so no signal comes after that. It prints the count.
-- BASE.go is made first: the peers count LATER from it.
local function start_signals()
  local go = must(io.open(BASE .. ".go", "w"))
  go:close()
  local script = ("n=0; while :; do read -t %s _; [ $? -gt 128 ] || break;" ..
    " if [ $n -lt %d ]; then kill -USR1 %d 2>/dev/null || break; n=$((n+1)); fi; done;" ..
    " echo signals $n"):format(PERIOD, MAX_SIGNALS, our_pid())
  local sh = must(io.popen("bash -c " .. util.quote(script), "w"))
  return function()
    sh:close()
    os.remove(BASE .. ".go")
  end
end

-- ---- the sockets --------------------------------------------------------------

-- Two connected stream sockets of this process: "tcp" over 127.0.0.1
-- (connected by name, then accepted) or "unix" (a socketpair), both made
-- by lsock, so both may wait in the kernel.
local function pair(transport)
  if transport == "tcp" then return util.pair() end
  return util.socketpair("stream")
end

-- A listener on 127.0.0.1 or at BASE.sock, and the arguments a peer
-- connects with.
local function listener(transport)
  if transport == "tcp" then
    local server, port = util.listen()
    return server, { "tcp", "127.0.0.1", port }
  end
  local path = BASE .. ".sock"
  local server = must(lsock.unix_listen(path))
  server:settimeout(util.TIMEOUT)
  return server, { "unix", path }
end

-- A connection from a peer of `role` (sender or reader) of n bytes.
local function peer_connection(transport, role, n)
  local server, where = listener(transport)
  local f = start_peer(role, n, unpack(where))
  local conn = util.accept(server)
  server:close()
  ready(f)
  return conn
end

-- Set the timeouts of mode: "b" block T, "t" total T, "bt" block T and
-- total LONG, "tb" block LONG and total T, "none".
local function set_mode(s, mode)
  local block, total
  if mode == "b" then block = T
  elseif mode == "t" then total = T
  elseif mode == "bt" then block, total = T, LONG
  elseif mode == "tb" then block, total = LONG, T
  elseif mode ~= "none" then fail("unknown timeout mode " .. tostring(mode)) end
  s:settimeout(block)
  s:settimeout(total, "t")
end

-- Fill s's way to its peer (which never reads) with data (default: 64 KiB
-- blocks) until nothing more goes for QUIET seconds, so that the timed send
-- makes no progress (over loopback TCP one more piece may go some 200 ms
-- after the buffers looked full). Returns the index in data where the
-- sending stopped: a TLS stream must go on from there with the same data.
local QUIET = 0.35
local function prefill(s, data)
  data = data or ("x"):rep(65536)
  s:settimeout(0)
  local i, since = 1, core.monotime()
  for _ = 1, 1000 do
    local n, _, _, last = s:send(data, i)
    if n then
      i, since = 1, core.monotime()
    elseif last and last >= i then
      i, since = last + 1, core.monotime()
    elseif core.monotime() - since >= QUIET then
      return i
    else
      lsock.sleep(0.02)
    end
  end
  fail("the peer's buffer never filled")
end

local function kwait(s)
  return "kwait " .. (core._kwait(s))
end

-- receive's results in words: "data N" (the expected bytes) or "ERR N"
-- (N bytes of partial result).
local function received(want, data, err, partial)
  if data == want then return "data " .. #data end
  if data then return "wrong data (" .. #data .. " bytes)" end
  return tostring(err) .. " " .. #(partial or "")
end

-- send's results in words: "sent N", "timeout" (with less than all of the
-- data sent) or "ERR LAST".
local function sent(n, err, _, last)
  if n then return "sent " .. n end
  if err == "timeout" and last and last < SEND_N then return "timeout" end
  return tostring(err) .. " " .. tostring(last)
end

-- Each kind makes its sockets (and peers) and returns the call that
-- waits; that returns the result words and, for some, named times.
local kinds = {}

-- stream TRANSPORT STYLE MODE DIR OUTCOME: receive or send on tcp/unix;
-- STYLE "kernel" (a socket lsock made: it waits in recv/send unless both
-- timeouts are set) or "poll" (handed out with getfd: it waits with poll);
-- OUTCOME "timeout" (the other end is idle) or "data" (a peer process
-- sends, or reads, after LATER).
function kinds.stream(transport, style, mode, dir, outcome)
  local s, keep
  if outcome == "timeout" then
    s, keep = hold(pair(transport))
    if dir == "send" then
      s:setoption("sndbuf", SMALL_BUF)
      keep:setoption("rcvbuf", SMALL_BUF)
      prefill(s)
    end
  else
    s = peer_connection(transport, dir == "receive" and "sender" or "reader",
      dir == "receive" and STREAM_N or SEND_N)
    if dir == "send" then s:setoption("sndbuf", SMALL_BUF) end
  end
  if style == "poll" then s:getfd() end
  set_mode(s, mode)
  if dir == "receive" then
    local want = util.pattern(STREAM_N)
    return function()
      local r = received(want, s:receive(STREAM_N))
      return r .. ", " .. kwait(s)
    end
  end
  local data = outcome == "timeout" and ("y"):rep(SEND_N) or util.pattern(SEND_N)
  return function()
    local r = sent(s:send(data))
    local state = kwait(s)
    s:close() -- the reader sees the end
    return r .. ", " .. state
  end
end

-- accept OUTCOME: a tcp listener with timeout T; "data": a peer connects
-- after LATER.
function kinds.accept(outcome)
  local server, port = util.listen()
  if outcome == "data" then ready(start_peer("connector", 0, "tcp", "127.0.0.1", port)) end
  server:settimeout(T)
  return function()
    local conn, err = server:accept()
    if conn then
      conn:close()
      return "accepted"
    end
    return tostring(err)
  end
end

-- A tcp listener with backlog 0 whose queue is full (one connection made
-- and not accepted): the kernel drops further SYNs, so a connect to it
-- waits (the SYN is sent again only after a second). Returns the port.
local function full_listener(addr, family, port)
  local server = must(core.socket(family, "stream"))
  must(server:setoption("reuseaddr", true))
  must(server:bind(addr, port or 0))
  must(server:listen(0))
  local _, p = server:getsockname()
  local first = must(core.socket(family, "stream"))
  first:settimeout(util.TIMEOUT)
  must(first:connect(addr, p))
  hold(server, first)
  return p
end

-- connect MODE: connect to a full listener, timeout of MODE ("b" or "t").
function kinds.connect(mode)
  local port = full_listener("127.0.0.1", "inet")
  local c = must(core.tcp())
  set_mode(c, mode)
  return function()
    local ok, err = c:connect("127.0.0.1", port)
    return ok and "connected" or tostring(err)
  end
end

-- hostconnect: lsock.connect("localhost", port, { timeout = T }) with a full
-- listener on every address localhost has (more than one: the racing path).
function kinds.hostconnect()
  local answers = must(lsock.getaddrinfo("localhost", 0, { type = "stream" }))
  local port, seen = nil, {}
  for _, ai in ipairs(answers) do
    if not seen[ai.addr] then
      seen[ai.addr] = true
      port = full_listener(ai.addr, ai.family, port)
    end
  end
  return function()
    local sock, err = lsock.connect("localhost", port, { timeout = T })
    if sock then return "connected" end
    return tostring(err) .. " (" .. #answers .. " address" .. (#answers > 1 and "es)" or ")")
  end
end

-- udp OP OUTCOME [gro]: recv, recvfrom or recvmany on a udp socket with
-- timeout T (with the udp_gro option: its own read path); "data": a peer
-- sends one datagram after LATER.
function kinds.udp(op, outcome, gro)
  local s = must(lsock.udp())
  if gro == "gro" then must(s:setoption("udp_gro", true)) end
  must(s:bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  if outcome == "data" then ready(start_peer("datagram", DGRAM_N, "udp", "127.0.0.1", port)) end
  set_mode(s, "b")
  local want = util.pattern(DGRAM_N)
  return function()
    if op == "recvmany" then
      local list, err = s:recvmany(8)
      if not list then return tostring(err) end
      return #list .. " datagram(s), " .. (list[1].data == want and "intact" or "wrong")
    end
    local data, addr = s[op](s)
    if not data then return tostring(addr) end
    return "datagram " .. (data == want and "intact" or "wrong") ..
      (op == "recvfrom" and (" from " .. tostring(addr)) or "")
  end
end

-- dgram OP OUTCOME: a unix datagram socket with timeout T. "recv": nothing
-- comes ("timeout") or a peer sends one to BASE.sock after LATER ("data");
-- "send", "sendmany": the peer's queue is full.
function kinds.dgram(op, outcome)
  local s
  local sending = op == "send" or op == "sendmany"
  if sending or outcome == "timeout" then
    local a, b = util.socketpair("dgram")
    s = sending and a or b
    if sending then
      a:settimeout(0)
      local filled = false
      for _ = 1, 100000 do
        if not a:send(("z"):rep(DGRAM_N)) then
          filled = true
          break
        end
      end
      if not filled then fail("the datagram queue never filled") end
    end
    hold(b)
  else
    s = must(lsock.unix_listen(BASE .. ".sock", { type = "dgram" }))
    ready(start_peer("datagram", DGRAM_N, "unix", BASE .. ".sock"))
  end
  set_mode(s, "b")
  local want = util.pattern(DGRAM_N)
  return function()
    if op == "send" then
      local n, err = s:send(("z"):rep(DGRAM_N))
      return n and "sent" or tostring(err)
    elseif op == "sendmany" then
      local n, err, _, count = s:sendmany({ ("z"):rep(DGRAM_N), ("z"):rep(DGRAM_N) })
      return n and ("sent " .. n) or (tostring(err) .. " " .. tostring(count))
    end
    local data, err = s:recv()
    if not data then return tostring(err) end
    return "datagram " .. (data == want and "intact" or "wrong")
  end
end

-- msg OP OUTCOME: recvmsg on a unix stream socket (nothing comes, or a peer
-- sends after LATER) or sendmsg into a full one, timeout T.
function kinds.msg(op, outcome)
  local s
  if outcome == "timeout" then
    local a, b = util.socketpair("stream")
    hold(a, b)
    s = op == "sendmsg" and a or b
    if op == "sendmsg" then
      a:setoption("sndbuf", SMALL_BUF)
      b:setoption("rcvbuf", SMALL_BUF)
      prefill(a)
    end
  else
    s = peer_connection("unix", "sender", DGRAM_N)
  end
  set_mode(s, "b")
  local want = util.pattern(DGRAM_N)
  return function()
    if op == "sendmsg" then
      return sent(s:sendmsg(("m"):rep(DGRAM_N), {}))
    end
    local data, fds = s:recvmsg(DGRAM_N)
    if not data then return tostring(fds) end
    return (data == want:sub(1, #data) and "data " or "wrong data ") .. #data .. ", " .. #fds .. " fds"
  end
end

-- The TLS contexts of the spec's certificate (ARGS: CERT KEY).
local function server_context(cert, key)
  local tls = require "lsock.tls"
  return must(tls.context({ mode = "server", cert = cert, key = key }))
end

-- Both ends of a TLS connection in this process through their handshakes.
local function handshake_both(c, s)
  c:settimeout(0)
  s:settimeout(0)
  local done = {}
  for _ = 1, 500 do
    for i, t in ipairs({ c, s }) do
      if not done[i] then
        local ok, err = t:handshake()
        if ok then done[i] = true elseif err ~= "timeout" then fail("handshake: " .. tostring(err)) end
      end
    end
    if done[1] and done[2] then return end
    lsock.select({ c, s }, nil, 0.01)
  end
  fail("the handshakes stalled")
end

-- tls OP MODE OUTCOME CERT KEY: "handshake" against a peer that never
-- answers, "receive" on an established stream (nothing comes, or a TLS
-- peer process sends after LATER) or "send" to one that never reads, with
-- the timeouts of MODE.
function kinds.tls(op, mode, outcome, cert, key)
  local tls = require "lsock.tls"
  local t
  if op == "handshake" then
    local a, b = util.socketpair("stream")
    hold(b)
    t = must(tls.wrap(a, { mode = "client", verify = false }))
  elseif outcome == "timeout" then
    local a, b = util.socketpair("stream")
    if op == "send" then
      a:setoption("sndbuf", SMALL_BUF)
      b:setoption("rcvbuf", SMALL_BUF)
    end
    t = must(tls.wrap(a, { mode = "client", verify = false }))
    local s = must(tls.wrap(b, server_context(cert, key)))
    handshake_both(t, s)
    hold(s)
  else
    local server, port = util.listen()
    local ctx = server_context(cert, key)
    local f = start_peer("tls", STREAM_N, "tcp", "127.0.0.1", port)
    local conn = util.accept(server)
    server:close()
    t = must(tls.wrap(conn, ctx))
    t:settimeout(util.TIMEOUT)
    must(t:handshake())
    ready(f)
  end
  local data, from = ("t"):rep(SEND_N), nil
  if op == "send" then from = prefill(t, data) end
  set_mode(t, mode)
  local want = util.pattern(STREAM_N)
  return function()
    if op == "handshake" then
      local ok, err = t:handshake()
      return ok and "done" or tostring(err)
    elseif op == "send" then
      return sent(t:send(data, from))
    end
    return received(want, t:receive(STREAM_N))
  end
end

-- A socket to wait for: nothing comes ("timeout") or a tcp peer sends after
-- LATER ("data").
local function readable_later(outcome)
  if outcome == "timeout" then
    local a, b = util.socketpair("stream")
    hold(a)
    return b
  end
  return peer_connection("tcp", "sender", STREAM_N)
end

-- select OUTCOME: lsock.select({ sock }, nil, T).
function kinds.select(outcome)
  local s = readable_later(outcome)
  return function()
    local r, _, err = lsock.select({ s }, nil, T)
    return (r[s] and "readable" or "not readable") .. (err and (", " .. err) or "")
  end
end

-- poller BACKEND OUTCOME: a poller's wait(T) on one socket.
function kinds.poller(backend, outcome)
  local p = must(lsock.poller(backend))
  local s = readable_later(outcome)
  must(p:add(s, "r"))
  return function()
    local events = {}
    for _, ev in p:wait(T) do events[#events + 1] = ev end
    return #events .. " event(s) " .. table.concat(events, " ")
  end
end

-- sleep: lsock.sleep(T).
function kinds.sleep()
  return function()
    lsock.sleep(T)
    return "slept"
  end
end

-- loop OUTCOME: in lsock.loop, one coroutine sleeps T and one receives with
-- timeout T (nothing comes, or a peer sends after LATER): the loop's
-- scheduler waits for both. Times: "sleep" and "receive", each its own.
function kinds.loop(outcome)
  local loop = require "lsock.loop"
  local s = readable_later(outcome)
  set_mode(s, "b")
  local want = util.pattern(STREAM_N)
  return function()
    local times, words = {}, {}
    loop.spawn(function()
      local t0 = lsock.monotime()
      loop.sleep(T)
      times.sleep = lsock.monotime() - t0
      words[1] = "slept"
    end)
    loop.spawn(function()
      local t0 = lsock.monotime()
      local r = received(want, s:receive(STREAM_N))
      times.receive = lsock.monotime() - t0
      words[2] = "received " .. r
    end)
    local ok, err = loop.run(10)
    if not ok then return "loop.run: " .. tostring(err) end
    return table.concat(words, ", "), times
  end
end

-- sendfile MODE OUTCOME: a file of SEND_N pattern bytes to a socket that
-- is full (the other end never reads) or to a peer that reads after LATER.
function kinds.sendfile(mode, outcome)
  local path = BASE .. ".file"
  local f = must(io.open(path, "wb"))
  f:write(util.pattern(SEND_N))
  f:close()
  local s, keep
  if outcome == "timeout" then
    s, keep = hold(pair("unix"))
    s:setoption("sndbuf", SMALL_BUF)
    keep:setoption("rcvbuf", SMALL_BUF)
    prefill(s)
  else
    s = peer_connection("tcp", "reader", SEND_N)
    s:setoption("sndbuf", SMALL_BUF)
  end
  set_mode(s, mode)
  return function()
    local r = sent(s:sendfile(path))
    s:close()
    os.remove(path)
    return r
  end
end

local make = kinds[KIND] or fail("unknown kind " .. tostring(KIND))
local wait = make(unpack(A))

local stop = start_signals()
local t0 = core.monotime()
local result, times = wait()
local elapsed = core.monotime() - t0
stop()

out("result " .. tostring(result))
out(("elapsed %.3f"):format(elapsed))
for name, t in pairs(times or {}) do out(("elapsed %s %.3f"):format(name, t)) end
for _, f in ipairs(peers) do
  local said = f:read("*a"):gsub("%s+$", "")
  f:close()
  out("peer " .. (said:match("([^\n]*)$") or ""))
end
os.exit(0)
