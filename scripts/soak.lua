-- A soak test of a line echo server on lsock.loop (scripts/soak_server.lua)
-- under thousands of concurrent clients that behave well and badly.
--
--   lua5.4 scripts/soak.lua [--seconds N] [--clients N] [--seed N]
--                           [--lua INTERPRETER] [--cpath DIR]
--
--   --seconds N    how long the clients run (default 60), warm-up included
--   --clients N    clients connected at once (default 2000)
--   --seed N       the seed of every random choice (default: from the clock;
--                  it is printed, and --seed N replays the same clients)
--   --lua L        the interpreter of the server and the clients (default
--                  lua5.4; it may carry options: "luajit -joff")
--   --cpath DIR    where lsock/core.so is: a directory, or a package.cpath
--                  pattern with "?" (default build/<lua>/?.so)
--
-- Run it from the top of the checkout (the paths are relative to it).
-- `make soak` runs 60 s with 2,000 clients; `make test` 10 s.
--
-- This process only supervises: it starts the server and one clients
-- process (this script again, with --role clients), both with a raised
-- descriptor limit (2,000 clients need more than the usual 1024) and both
-- under `timeout`, relays what the clients report and prints one summary
-- line. Exit status 0 when everything held, 1 otherwise.
--
-- The clients process runs N slots as lsock.loop coroutines. A slot runs
-- one client after another until the phase ends, each with a behaviour
-- drawn at random, so about N connections are always open:
--   well     random lines (some longer than the server's piece, some
--            exactly at its edge, LF or CRLF), sent in one or several
--            pieces, many rounds; every byte echoed is checked; at the end
--            it may shut down its sending side and check that nothing more
--            comes (the server closes)
--   reset    sends part of a message, maybe reads a little, then closes
--            with SO_LINGER 0 (a reset) mid-way
--   stall    connects, sends nothing or half a line, sits, closes
--   garbage  random bytes with long runs without a newline; it reads the
--            echo and throws it away, or never reads (the server's send
--            waits and it stops reading), and closes with data unread
--   churn    connects and closes at once, a few times (half with a reset)
-- Each client draws from a generator of its own, seeded from --seed, its
-- slot and its number in the slot, so a client is the same whatever the
-- timing; a failure names them.
--
-- The run has two phases. The warm-up (a fifth of the time, 1 to 5 s)
-- runs half as many clients again as asked (3,000 for 2,000): the
-- server's tables (the scheduler's coroutines, the poller's slots, Lua
-- tables whose size is a power of two) grow to the most connections open
-- at once and keep that size, and the main phase's own peak is a little
-- above N (a replaced connection overlaps its successor), so the warm-up
-- must go higher for the end to be comparable. Then every client ends,
-- and once the server has served and closed every connection the clients
-- made, its idle state is recorded: descriptors, Lua memory after a full
-- collection, RSS. The main phase runs the rest of the time with N
-- clients, and the same idle state is recorded at its end; see the bounds
-- below. Last come two probes with one line of 32 MB (see there).
local USAGE = "usage: lua scripts/soak.lua [--seconds N] [--clients N] [--seed N] [--lua L] [--cpath DIR]\n"

-- ---- options ------------------------------------------------------------------

local function usage(msg)
  io.stderr:write("soak.lua: ", msg, "\n", USAGE)
  os.exit(2)
end

local opts = { seconds = 60, clients = 2000, lua = "lua5.4" }
do
  local numeric = { seconds = true, clients = true, seed = true, port = true, control = true }
  local known = { lua = true, cpath = true, role = true }
  local i = 1
  while arg[i] do
    local name, value = arg[i]:match("^%-%-(.+)$"), arg[i + 1]
    if not name or not (numeric[name] or known[name]) then usage("unknown option " .. arg[i]) end
    if value == nil then usage("--" .. name .. " needs a value") end
    if numeric[name] then
      value = tonumber(value)
      if not value or value < 0 or value ~= math.floor(value) then usage("--" .. name .. " needs a whole number") end
    end
    opts[name] = value
    i = i + 2
  end
  if opts.seconds < 2 then usage("--seconds must be at least 2") end
  if opts.clients < 1 then usage("--clients must be at least 1") end
end

-- The server's longest piece of a line (soak_server.lua's MAX): lines of
-- about this length cross it.
local MAX = 8192
-- Every client socket's timeout (each wait): nothing in the soak should
-- wait half as long, so a timeout is a failure that says where.
local TIMEOUT = 10
local WARMUP = math.max(1, math.min(5, opts.seconds / 5))

-- Bounds of the idle state after the run, against the one after the
-- warm-up (both with no client connected, every connection the clients
-- made served and closed). Measured on lua5.1, lua5.4 and luajit, 10 to 60
-- s, 2,000 clients: descriptors equal, Lua memory equal to 0.2 KB or one
-- step of 8 KB (a table or the string table doubling), RSS 1 to 5 MB
-- higher (malloc's fragments), whatever the length of the run.
-- * Descriptors: exactly the same number.
-- * Lua memory: 32 KB. A connection's coroutine and socket are over 1 KB,
--   and a 10 s run makes over 20,000 connections: a leak of one in a
--   thousand is already near the bound, one in a hundred far beyond it.
-- * RSS: 16 MB: three times the largest growth seen, and well under what
--   a leak of 1 KB per connection (20 MB in 10 s, 100 MB in 60 s) or of one
--   receive buffer (64 KB) per hundred connections would add.
-- * The peak RSS of the whole run: 16 MB plus 40 KB per client of the
--   warm-up (136 MB for 3,000); measured 42 to 48 MB. Each connection may
--   hold one receive buffer (64 KB) and a piece of a line (8 KB), but
--   only while data is moving on it.
-- * The probes' 32 MB lines may raise the peak RSS by 8 MB over the RSS
--   before them: the server holds a piece of 8 KB, not the line (a server
--   without receive's max would hold all 32 MB).
-- The server runs with MALLOC_MMAP_THRESHOLD_ set to 32 KB (glibc): its
-- receive buffers (64 KB) are then mapped and unmapped one by one, so
-- RSS after the load tells what the server still holds, not the heap's
-- high-water mark (with glibc's dynamic threshold, the buffers come from
-- the heap, and RSS at idle stayed 20 to 25 MB above the warm-up's).
local SERVER_ENV = "env MALLOC_MMAP_THRESHOLD_=32768 "
local LUA_BOUND_KB = 32
local PROBE_BOUND_KB = 8 * 1024
local RSS_PEAK_BASE_KB, RSS_PEAK_PER_CLIENT_KB = 16 * 1024, 40
local RSS_BOUND_KB = 16 * 1024

-- ---- the supervisor -----------------------------------------------------------

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function out(line)
  io.stdout:write(line, "\n")
  io.stdout:flush()
end

-- `timeout` kills a child after `limit` seconds (and again with KILL 3 s
-- later); sh raises the descriptor limit and becomes the interpreter.
local function child_command(limit, script, args)
  local root = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/.."
  local cpath = opts.cpath or ("build/" .. opts.lua:match("^(%S+)") .. "/?.so")
  if not cpath:find("?", 1, true) then cpath = cpath .. "/?.so" end
  local setup = ("package.path = %q .. package.path; package.cpath = %q .. package.cpath")
    :format(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;", cpath .. ";")
  local nofile = math.max(8192, 2 * opts.clients + 100)
  local env = script == "soak_server.lua" and SERVER_ENV or ""
  local inner = ("ulimit -n %d && exec %s%s -e %s %s %s"):format(nofile, env, opts.lua, quote(setup),
    quote(root .. "/scripts/" .. script), args)
  return ("timeout -k 3 %d sh -c %s 2>&1"):format(limit, quote(inner))
end

local function supervise()
  local seed = opts.seed or os.time() % 2147483646 + 1
  local t0 = os.time()
  out(("soak: seed %d (--seed %d replays it), %d clients, %d s on %s"):format(seed, seed, opts.clients,
    opts.seconds, opts.lua))

  local failed = {}
  -- The server lives a little longer than the clients process may, so it
  -- is there for their last report; both are killed at their limit.
  local srv = assert(io.popen(child_command(opts.seconds + 50, "soak_server.lua", tostring(opts.seconds + 45))))
  local first = srv:read("*l") or ""
  local port, cport, spid = first:match("^port (%d+) control (%d+) pid (%d+)$")
  if not port then
    out("soak: the server did not start: " .. first .. " " .. (srv:read("*a") or ""))
    srv:close()
    out("soak: FAILED: no server")
    os.exit(1)
  end

  local result
  local cl = assert(io.popen(child_command(opts.seconds + 40, "soak.lua",
    ("--role clients --port %s --control %s --seed %d --seconds %d --clients %d")
      :format(port, cport, seed, opts.seconds, opts.clients))))
  for line in cl:lines() do
    if line:match("^result ") then
      result = line
    else
      out(line)
      -- A coroutine of the clients that raised (lsock.loop prints it).
      if line:match("^lsock%.loop:") then failed[#failed + 1] = "a client coroutine raised" end
    end
  end
  cl:close()

  -- The server ends when told to (quit) or when its control connection
  -- closes, so it should be gone at once; if it hangs, kill it.
  os.execute(("timeout 10 sh -c 'while kill -0 %s 2>/dev/null; do sleep 0.1; done' || kill -9 %s 2>/dev/null")
    :format(spid, spid))
  local rest = (srv:read("*a") or ""):gsub("%s+$", "")
  srv:close()
  if rest ~= "" then
    out("soak: the server said: " .. rest)
    failed[#failed + 1] = "the server wrote to its output"
  end

  local status, summary = (result or ""):match("^result (%S+) (.*)$")
  if status ~= "ok" then
    failed[#failed + 1] = result and "the clients failed" or "the clients process gave no result"
  end
  summary = summary or "no summary"
  local took = os.time() - t0
  if #failed == 0 then
    out(("soak: ok: %s; %d s in all"):format(summary, took))
    os.exit(0)
  end
  out(("soak: FAILED (%s): %s; seed %d; %d s in all"):format(table.concat(failed, ", "), summary, seed, took))
  os.exit(1)
end

-- ---- the clients ---------------------------------------------------------------

-- Park and Miller's generator: the same numbers on every Lua (the products
-- stay below 2^53, exact in a double, and 5.3's integers agree).
local PM = 2147483647
local function generator(seed)
  local x = seed % (PM - 1) + 1
  for _ = 1, 4 do x = x * 16807 % PM end
  -- r(a, b): a whole number from a to b.
  return function(a, b)
    x = x * 16807 % PM
    return a + x % (b - a + 1)
  end
end

-- `n` random bytes; without `lf`, never a newline.
local function pool(r, n, lf)
  local t = {}
  for i = 1, n do
    local b = r(0, 255)
    if b == 10 and not lf then b = 11 end
    t[i] = string.char(b)
  end
  return table.concat(t)
end

-- `len` bytes taken from `from` at random places.
local function bytes(r, from, len)
  local parts, n = {}, 0
  while n < len do
    local take = math.min(len - n, #from)
    local o = r(1, #from - take + 1)
    parts[#parts + 1] = from:sub(o, o + take - 1)
    n = n + take
  end
  return table.concat(parts)
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function first_difference(a, b)
  for i = 1, math.min(#a, #b) do
    if a:byte(i) ~= b:byte(i) then return i end
  end
  return math.min(#a, #b) + 1
end

local describe_fds

local function run_clients()
  local lsock = require "lsock"
  local loop = require "lsock.loop"
  local PORT, SEED, N = opts.port, opts.seed, opts.clients
  local t0 = loop.now()

  local main = generator(SEED)
  local LINE = pool(main, 65536, false)  -- line contents: no newline
  local GARBAGE = pool(main, 65536, true) -- anything, a newline in 256 on average

  local kinds = { "well", "reset", "stall", "garbage", "churn" }
  local weights = { well = 40, reset = 15, stall = 15, garbage = 15, churn = 15 }
  local served = { well = 0, reset = 0, stall = 0, garbage = 0, churn = 0 }
  local stats = { connects = 0, checked = 0, failures = 0 }
  local phase, active = "run", 0
  local function over() return phase ~= "run" end

  local function fail(ctx, what)
    stats.failures = stats.failures + 1
    if stats.failures <= 20 then
      out(("soak: FAIL: %s client (seed %d, slot %d, client %d of the slot): %s")
        :format(ctx.kind, SEED, ctx.slot, ctx.n, what))
    elseif stats.failures == 21 then
      out("soak: (more failures not shown)")
    end
  end

  local function connect(ctx)
    local c, err = lsock.tcp()
    if not c then return fail(ctx, "socket: " .. tostring(err)) end
    c:settimeout(TIMEOUT)
    local ok, cerr = c:connect("127.0.0.1", PORT)
    if not ok then
      c:close()
      return fail(ctx, "connect: " .. tostring(cerr))
    end
    stats.connects = stats.connects + 1
    return c
  end

  -- Sleep `s` seconds, or less once the phase is over.
  local function sit(s)
    local till = loop.now() + s
    while not over() and loop.now() < till do loop.sleep(math.min(0.1, till - loop.now())) end
  end

  local function line_length(r)
    local k = r(1, 100)
    if k <= 70 then return r(0, 100) end
    if k <= 92 then return r(101, 4000) end
    if k <= 96 then return r(MAX - 2, MAX + 2) end
    return r(4001, 20000)
  end

  local behave = {}

  function behave.well(r, ctx)
    local c = connect(ctx)
    if not c then return end
    for round = 1, r(5, 60) do
      if over() then break end
      local lines = {}
      for i = 1, r(1, 4) do
        lines[i] = bytes(r, LINE, line_length(r)) .. (r(0, 1) == 0 and "\n" or "\r\n")
      end
      local msg = table.concat(lines)
      -- In one to three pieces, cut anywhere (inside a line, or its CRLF).
      local from, pieces = 1, r(1, 3)
      for p = 1, pieces do
        local to = p == pieces and #msg or r(from, #msg)
        local last, err = c:send(msg, from, to)
        if last ~= to then
          c:close()
          return fail(ctx, ("round %d: send: %s"):format(round, tostring(err)))
        end
        from = to + 1
        if from > #msg then break end
        loop.sleep(r(1, 10) / 1000)
      end
      local echo, err, partial = c:receive(#msg)
      if echo ~= msg then
        local got = echo or partial or ""
        local at = first_difference(msg, got)
        c:close()
        return fail(ctx, ("round %d: sent %d bytes, %d came back (%s); first difference at byte %d:"
          .. " sent %s, got %s"):format(round, #msg, #got, tostring(err or "no error"), at, hex(msg:sub(at, at + 7)),
            hex(got:sub(at, at + 7))))
      end
      stats.checked = stats.checked + #msg
      if r(1, 4) == 1 then loop.sleep(r(1, 50) / 1000) end
    end
    if r(0, 1) == 0 then
      -- Nothing more may come: the server's answer to the end of our
      -- stream is to close.
      c:shutdown("send")
      local extra, err = c:receive(1)
      if extra or err ~= "closed" then
        c:close()
        return fail(ctx, ("after shutdown: expected the server to close, got %s (%s)")
          :format(extra and hex(extra) or "nil", tostring(err)))
      end
    end
    c:close()
  end

  function behave.reset(r, ctx)
    local c = connect(ctx)
    if not c then return end
    local data = bytes(r, GARBAGE, r(1, 30000))
    c:send(data, 1, r(1, #data))
    if r(0, 1) == 0 then loop.sleep(r(1, 200) / 1000) end
    if r(0, 2) == 0 then
      c:settimeout(0.05)
      c:recv(r(1, 1000))
    end
    c:setoption("linger", 0)
    c:close()
  end

  function behave.stall(r, ctx)
    local c = connect(ctx)
    if not c then return end
    if r(0, 1) == 0 then c:send(bytes(r, LINE, r(1, 3000))) end -- half a line
    sit(r(100, 3000) / 1000)
    c:close()
  end

  function behave.garbage(r, ctx)
    local c = connect(ctx)
    if not c then return end
    local total, deaf, huge = r(1, 256) * 1024, r(1, 3) == 1, r(1, 20) == 1
    if deaf then
      -- It never reads: the server's send waits, the server stops reading,
      -- and this send gives up after a second of no progress.
      c:settimeout(1)
    else
      -- A second coroutine throws the echo away until the close wakes it.
      loop.spawn(function()
        while c:recv(65536) do end
      end)
    end
    local sent = 0
    while sent < total and not over() do
      local chunk
      if huge then
        chunk = bytes(r, LINE, r(512, 2048) * 1024) -- a huge line: megabytes without a newline
        huge = false
      elseif r(1, 4) == 1 then
        chunk = bytes(r, LINE, r(MAX, 4 * MAX)) -- a long run without a newline
      else
        chunk = bytes(r, GARBAGE, r(1, 16384))
      end
      if not c:send(chunk) then break end
      sent = sent + #chunk
    end
    c:close()
  end

  function behave.churn(r, ctx)
    for _ = 1, r(1, 10) do
      local c = connect(ctx)
      if not c then return end
      if r(0, 1) == 0 then c:setoption("linger", 0) end
      c:close()
      if over() then break end
      loop.sleep(r(1, 20) / 1000)
    end
  end

  local function pick(r)
    local k = r(1, 100)
    for _, kind in ipairs(kinds) do
      if k <= weights[kind] then return kind end
      k = k - weights[kind]
    end
  end

  local numbers = {} -- clients started per slot, across both phases
  local function slot(k)
    while not over() do
      numbers[k] = (numbers[k] or 0) + 1
      local ctx = { slot = k, n = numbers[k] }
      local r = generator(SEED * 31 + k * 1000003 + ctx.n * 7919)
      ctx.kind = pick(r)
      behave[ctx.kind](r, ctx)
      served[ctx.kind] = served[ctx.kind] + 1
    end
    active = active - 1
  end

  -- What is in a TCP socket's line of /proc/net/tcp: its ports and state.
  local STATES = { ["01"] = "established", ["06"] = "time-wait", ["07"] = "close", ["08"] = "close-wait",
    ["09"] = "last-ack", ["0A"] = "listen", ["0B"] = "closing", ["04"] = "fin-wait1", ["05"] = "fin-wait2" }
  local function tcp_socket(inode)
    local f = io.open("/proc/net/tcp")
    if not f then return "?" end
    for line in f:lines() do
      local l, r, st, ino = line:match("^%s*%d+: %x+:(%x+) %x+:(%x+) (%x+) %S+ %S+ %S+ %S+ %S+ (%d+)")
      if ino == inode then
        f:close()
        return ("port %d -> %d, %s"):format(tonumber(l, 16), tonumber(r, 16), STATES[st] or st)
      end
    end
    f:close()
    return "not in /proc/net/tcp"
  end

  -- Print the descriptors only one of two lists has.
  function describe_fds(before, after)
    local function set(list)
      local t = {}
      for e in list:gmatch("[^,]+") do t[e] = true end
      return t
    end
    local a, b = set(before), set(after)
    for e in pairs(a) do
      if not b[e] then out("soak: descriptor gone since the warm-up: " .. e) end
    end
    for e in pairs(b) do
      if not a[e] then
        local inode = e:match("socket:%[(%d+)%]")
        out("soak: descriptor new since the warm-up: " .. e .. (inode and " (" .. tcp_socket(inode) .. ")" or ""))
      end
    end
  end

  local result, summary = "failed", "the conductor did not finish"
  local function finish(ok, text)
    result, summary = ok and "ok" or "failed", text
  end

  -- The conductor: the phases, and the server's reports on the control
  -- connection.
  loop.spawn(function()
    local ctl = lsock.tcp()
    ctl:settimeout(TIMEOUT)
    local ok, err = ctl:connect("127.0.0.1", opts.control)
    if not ok then return finish(false, "control connection: " .. tostring(err)) end
    local function report(cmd)
      ctl:send(cmd .. "\n")
      local line = ctl:receive("l")
      local t = {}
      for k, v in (line or ""):gmatch("(%w+)=(%S+)") do t[k] = tonumber(v) or v end
      return line and t
    end

    -- Run the slots for `seconds`, end them, and wait for the server to
    -- have served and closed every connection: its idle report, or nil
    -- and why not.
    local function run_phase(seconds, n)
      phase, active = "run", n
      for k = 1, n do loop.spawn(slot, k) end
      loop.sleep(seconds)
      phase = "ending"
      local limit = loop.now() + 2 * TIMEOUT
      while active > 0 and loop.now() < limit do loop.sleep(0.05) end
      if active > 0 then
        return nil, ("%d clients still running %d s after the phase ended"):format(active, 2 * TIMEOUT)
      end
      limit = loop.now() + TIMEOUT
      local s
      local peak = 0
      repeat
        s = report("stats")
        if not s then return nil, "the control connection broke" end
        peak = math.max(peak, s.peak) -- the first report has the phase's peak
        if s.open == 0 and s.accepted == stats.connects then
          s.peak = peak
          return s
        end
        loop.sleep(0.1)
      until loop.now() > limit
      return nil, ("the server still has %d connections open (%d accepted of %d made) %d s after the clients closed")
        :format(s.open, s.accepted, stats.connects, TIMEOUT)
    end

    local idle, why = run_phase(WARMUP, math.floor(N * 1.5))
    if not idle then return finish(false, "warm-up: " .. why) end
    out(("soak: warm-up of %.0f s with %d clients: %d connections, at most %d open at once;"
      .. " the server idle: %d descriptors, Lua %.1f KB, RSS %.1f MB (peak %.1f MB)")
      :format(WARMUP, math.floor(N * 1.5), stats.connects, idle.peak, idle.fds, idle.lua, idle.rss / 1024,
        idle.hwm / 1024))
    local fin
    fin, why = run_phase(opts.seconds - WARMUP, N)
    if not fin then return finish(false, "main phase: " .. why) end
    -- The probes: one line of 32 MB (one newline, at its end) to the idle
    -- server, read back and checked by a second coroutine, then the same
    -- line from a client that never reads, whose send must time out (the
    -- server stopped reading). The server's peak RSS must not rise by more
    -- than PROBE_BOUND_KB over its RSS before them (a server that waited
    -- for the newline would hold all 32 MB; one that kept reading from a
    -- client that does not read would hold what it could not send).
    local before = report("stats")
    local pr = generator(SEED + 1)
    local line = bytes(pr, LINE, 32 * 1024 * 1024) .. "\n"
    local probe_bad
    for _, deaf in ipairs({ false, true }) do
      local ctx = { kind = deaf and "deaf probe" or "probe", slot = 0, n = deaf and 2 or 1 }
      local c = connect(ctx)
      if not c then break end
      local echo, rerr, rpartial, reading
      if not deaf then
        reading = true
        loop.spawn(function()
          echo, rerr, rpartial = c:receive(#line)
          reading = false
        end)
      else
        c:settimeout(1)
      end
      local last, serr, _, sent = c:send(line)
      if deaf then
        if last or serr ~= "timeout" then
          fail(ctx, ("sent %s of %d bytes to a server it never read from (%s)"):format(tostring(last or sent),
            #line, tostring(serr)))
        end
      else
        local limit = loop.now() + TIMEOUT
        while reading and loop.now() < limit do loop.sleep(0.01) end
        if echo ~= line then
          local got = echo or rpartial or ""
          fail(ctx, ("%d bytes sent (%s), %d came back (%s), first difference at byte %d")
            :format(last or sent or 0, tostring(serr or "no error"), #got, tostring(rerr or "no error"),
              first_difference(line, got)))
        else
          stats.checked = stats.checked + #echo
        end
      end
      c:close()
    end
    local after = report("stats")
    if not (before and after) then
      probe_bad = "the control connection broke during the probes"
    elseif after.hwm > math.max(before.hwm, before.rss + PROBE_BOUND_KB) then
      probe_bad = ("the 32 MB lines took the server's RSS to %.1f MB (from %.1f MB, peak %.1f MB before)")
        :format(after.hwm / 1024, before.rss / 1024, before.hwm / 1024)
    end
    report("quit")
    ctl:close()

    local bad = {}
    if fin.fds ~= idle.fds then
      bad[#bad + 1] = ("descriptors %d, not %d"):format(fin.fds, idle.fds)
      describe_fds(idle.fdlist, fin.fdlist)
      -- Whether it is late or stays: the same report a few times more.
      for _ = 1, 5 do
        loop.sleep(0.5)
        local again = report("stats")
        if again then out(("soak: %.1f s later: %d descriptors"):format(loop.now() - t0, again.fds)) end
      end
    end
    if fin.lua - idle.lua > LUA_BOUND_KB then
      bad[#bad + 1] = ("Lua memory grew by %.1f KB (bound %d KB)"):format(fin.lua - idle.lua, LUA_BOUND_KB)
    end
    if fin.rss - idle.rss > RSS_BOUND_KB then
      bad[#bad + 1] = ("RSS grew by %.1f MB (bound %d MB)"):format((fin.rss - idle.rss) / 1024, RSS_BOUND_KB / 1024)
    end
    local peak_bound = RSS_PEAK_BASE_KB + RSS_PEAK_PER_CLIENT_KB * math.floor(N * 1.5)
    if fin.hwm > peak_bound then
      bad[#bad + 1] = ("the RSS peaked at %.1f MB (bound %.1f MB)"):format(fin.hwm / 1024, peak_bound / 1024)
    end
    if fin.timeouts > 0 or fin.errors > 0 then
      bad[#bad + 1] = ("the server had %d timeouts and %d errors (first: %s)"):format(fin.timeouts, fin.errors,
        fin.first_error)
    end
    if probe_bad then bad[#bad + 1] = probe_bad end
    if stats.failures > 0 then bad[#bad + 1] = ("%d client failures"):format(stats.failures) end
    local total = 0
    for _, kind in ipairs(kinds) do total = total + served[kind] end
    local text = ("%d clients served (well %d, reset %d, stall %d, garbage %d, churn %d), %d connections"
      .. " (at most %d open at once), %d bytes checked; the server idle after the warm-up -> at the end:"
      .. " %d -> %d descriptors, Lua %.1f -> %.1f KB, RSS %.1f -> %.1f MB (peak %.1f MB); %.1f s")
      :format(total, served.well, served.reset, served.stall, served.garbage, served.churn, stats.connects,
        fin.peak, stats.checked, idle.fds, fin.fds, idle.lua, fin.lua, idle.rss / 1024, fin.rss / 1024,
        fin.hwm / 1024, loop.now() - t0)
    if #bad > 0 then text = table.concat(bad, "; ") .. ": " .. text end
    finish(#bad == 0, text)
  end)

  -- Every client and the conductor end well before this; the supervisor
  -- kills this process a little after it.
  local done = loop.run(opts.seconds + 35)
  if not done and result == "ok" then finish(false, "the loop did not end: " .. summary) end
  out(("result %s %s"):format(result, summary))
  os.exit(result == "ok" and 0 or 1)
end

if opts.role == "clients" then
  run_clients()
elseif opts.role then
  usage("unknown role " .. opts.role)
else
  supervise()
end
