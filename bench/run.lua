-- bench/run.lua: runs the benchmark matrix and prints the table.
-- Started by bench/run.sh, which checks the tools, builds the C baseline and
-- passes the settings in the environment:
--
--   LUA               the Lua command (also runs every Lua side)
--   BENCH_LIBS        libraries to run: luasocket luasec lsock c [cqueues luv]
--   BENCH_WORKLOADS   workloads to run (default all): lines bulk recv
--                     udp_rate udp_recv unix_bulk unix_pingpong
--                     tls_handshake tls_bulk
--   BENCH_RUNS        runs per library and workload; the best counts (3)
--   BENCH_LINES       lines in the lines workload (2000000)
--   BENCH_MIB         MiB in the TCP bulk workloads (512)
--   BENCH_UDP_COUNT   datagrams in udp_rate (2000000)
--   BENCH_UDP_RECV_COUNT  datagrams in udp_recv (4000000)
--   BENCH_UNIX_MIB    MiB in unix_bulk (24576)
--   BENCH_PINGPONG    round trips in unix_pingpong (400000)
--   BENCH_POLL_N      poll_scale: the idle connection counts (100 1000 5000 10000)
--   BENCH_ECHO_CLIENTS, BENCH_ECHO_ROUNDS, BENCH_ECHO_SECS
--                     concurrent_echo: clients (500), the least round trips
--                     of each (200), the least seconds of a run (2)
--   BENCH_MEM_CONNS   idle_memory: connections (5000)
--   BENCH_TLS_HANDSHAKES  handshakes in tls_handshake (4000)
--   BENCH_TLS_MIB     MiB in tls_bulk (8192)
--   BENCH_BASELINE_TLS  the compiled bench/baseline_tls.c
--   BENCH_TLS_DIR     the certificates of the TLS workloads (read by tls.lua
--                     and baseline_tls)
--   BENCH_LUAJIT      when set, the LuaJIT command that runs lsock's TLS
--                     sides too (the "lsock (LuaJIT)" column), with
--   LSOCK_LUAJIT_CPATH  where its lsock.core is (LSOCK_CPATH for it)
--   BENCH_NOFILE      the descriptor limit (ulimit -n) of the scale processes
--   BENCH_SCALE       the compiled bench/scale.c
--   BENCH_BASELINE    the compiled C baseline (bench/baseline.c + baseline_udp.c)
--   BENCH_RESULTS     directory for latest.txt and runs.tsv
--   BENCH_TMP         a private directory for the unix socket paths
--   BENCH_WRAP        command put in front of every process (a timeout)
--   BENCH_HEADER      first line of the table (versions, host)
--   BENCH_STRICT      when 1, a ratio below its goal fails the run
--   LSOCK_CPATH       where lsock.core is (read by stream.lua and dgram.lua)
--
-- Each run is two processes. The server prints its address (a port, or the
-- unix path it was given) and the client gets it. One side is measured and
-- prints "ok SECONDS UNITS [LOST]", the other prints "ok": the client for
-- the stream workloads (it reads), the server for the udp ones (it is the
-- receiver). Runs of the different libraries are interleaved (all
-- libraries of a workload, then the next run), and the order of the
-- libraries turns from run to run.

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function count_env(name, default, min)
  local v = tonumber(env(name, default))
  if not (v and v >= min and v % 1 == 0) then
    io.stderr:write(string.format("run.lua: %s must be an integer of at least %d\n", name, min))
    os.exit(2)
  end
  return v
end

local LUA = env("LUA", "lua5.4")
local RUNS = count_env("BENCH_RUNS", "3", 1)
local LINES = count_env("BENCH_LINES", "2000000", 2)
local MIB = count_env("BENCH_MIB", "512", 1)
local UDP_COUNT = count_env("BENCH_UDP_COUNT", "2000000", 1)
local UDP_RECV_COUNT = count_env("BENCH_UDP_RECV_COUNT", "4000000", 1)
local UNIX_MIB = count_env("BENCH_UNIX_MIB", "24576", 1)
local PINGPONG = count_env("BENCH_PINGPONG", "400000", 1)
local POLL_N = {}
for v in env("BENCH_POLL_N", "100 1000 5000 10000"):gmatch("%S+") do
  local k = tonumber(v)
  if not (k and k >= 1 and k % 1 == 0) then
    io.stderr:write("run.lua: BENCH_POLL_N must be a list of positive integers\n")
    os.exit(2)
  end
  POLL_N[#POLL_N + 1] = k
end
local ECHO_CLIENTS = count_env("BENCH_ECHO_CLIENTS", "500", 1)
local ECHO_ROUNDS = count_env("BENCH_ECHO_ROUNDS", "200", 1)
local ECHO_SECS = count_env("BENCH_ECHO_SECS", "2", 0)
local MEM_CONNS = count_env("BENCH_MEM_CONNS", "5000", 1)
local TLS_HANDSHAKES = count_env("BENCH_TLS_HANDSHAKES", "4000", 1)
local TLS_MIB = count_env("BENCH_TLS_MIB", "8192", 1)
local NOFILE = count_env("BENCH_NOFILE", "20000", 64)
local SCALE = env("BENCH_SCALE", "bench/results/scale")
local BASELINE = env("BENCH_BASELINE", "bench/results/baseline")
local BASELINE_TLS = env("BENCH_BASELINE_TLS", "bench/results/baseline_tls")
local LUAJIT = env("BENCH_LUAJIT", "")
local LUAJIT_CPATH = env("LSOCK_LUAJIT_CPATH", "")
local RESULTS = env("BENCH_RESULTS", "bench/results")
local TMP = env("BENCH_TMP", RESULTS)
local WRAP = env("BENCH_WRAP", "")
local HEADER = env("BENCH_HEADER", "lsock benchmark")
local STRICT = env("BENCH_STRICT", "0") == "1"
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."

local selected = {}
for name in env("BENCH_LIBS", "luasocket luasec lsock c"):gmatch("%S+") do
  selected[name] = true
end

-- The judged libraries first, the extras after. `cmd(prog)` starts one side
-- with the Lua driver `prog` (stream.lua, dgram.lua or tls.lua); the C
-- baseline is one program for everything but TLS, which has its own
-- (baseline_tls.c). `tls`: a library of the TLS workloads only (LuaSec;
-- lsock's TLS sides run again on LuaJIT when run.sh found a build for it).
local function lua_side(libname)
  return function(prog)
    return shquote(LUA) .. " " .. shquote(here .. "/" .. prog .. ".lua") .. " " .. libname
  end
end
local LIBS = {
  { name = "luasocket", title = "LuaSocket", cmd = lua_side("luasocket") },
  { name = "lsock", title = "lsock", cmd = lua_side("lsock") },
  { name = "c", title = "C",
    cmd = function(prog) return shquote(prog == "tls" and BASELINE_TLS or BASELINE) end },
  { name = "cqueues", title = "cqueues", extra = true, cmd = lua_side("cqueues") },
  { name = "luv", title = "luv", extra = true,
    cmd = function() return shquote(LUA) .. " " .. shquote(here .. "/luv.lua") end },
  { name = "luasec", title = "LuaSec", tls = true, cmd = lua_side("luasec") },
  { name = "lsock_jit", title = "lsock (LuaJIT)", tls = true,
    cmd = function(prog)
      return "env LSOCK_CPATH=" .. shquote(LUAJIT_CPATH) .. " " .. shquote(LUAJIT) .. " "
        .. shquote(here .. "/" .. prog .. ".lua") .. " lsock"
    end },
}
for name in pairs(selected) do
  local known = false
  for _, lib in ipairs(LIBS) do known = known or lib.name == name end
  if not known then
    io.stderr:write("run.lua: unknown library '", name, "' in BENCH_LIBS (luasocket luasec lsock c cqueues luv)\n")
    os.exit(2)
  end
end
selected.lsock_jit = selected.lsock and LUAJIT ~= "" or nil

-- Workloads, one per row of the table. `modes` lists who runs it and the
-- mode each one uses ("=ROW": the figure of that row, not run again).
-- `group` is the name BENCH_WORKLOADS selects (a row's own name works too).
-- `prog` is the Lua driver; `measured` the side that reports; `sender`: the
-- client is always the C baseline in that mode (the receiver is measured
-- alone); `unix`: the server is given a fresh socket path; `luasocket_from`:
-- the LuaSocket figure shown in brackets and compared with; `goal`: the
-- target of lsock's figure, against LuaSocket (`of` nil) or against
-- another row's figure (`of` = { row, lib }). `tls`: a row of the TLS table
-- (its own columns and goal, below the others).
local WORKLOADS = {
  {
    name = "lines", count = LINES, unit = "lines",
    label = string.format("lines: %d x 40 B, receive(\"l\")", LINES),
    goal = { ratio = 1.5 },
    modes = { luasocket = "lines", lsock = "lines", c = "lines", cqueues = "lines", luv = "lines" },
  },
  {
    name = "bulk", count = MIB, unit = "MiB",
    label = string.format("bulk: %d MiB, receive(65536)", MIB),
    goal = { ratio = 1.0 },
    modes = { luasocket = "bulk", lsock = "bulk", c = "bulk", cqueues = "bulk" },
  },
  {
    name = "recv", count = MIB, unit = "MiB", luasocket_from = "bulk",
    label = string.format("bulk: %d MiB, recv(65536)", MIB),
    modes = { lsock = "recv", c = "=bulk", luv = "bulk" },
  },
  {
    name = "udp", group = "udp_rate", count = UDP_COUNT, unit = "dgrams", prog = "dgram", measured = "server",
    label = string.format("udp: %d x 64 B, send/recv", UDP_COUNT),
    goal = { ratio = 1.0 },
    modes = { luasocket = "dgram", lsock = "dgram", c = "udp" },
  },
  {
    name = "udp_batch", group = "udp_rate", count = UDP_COUNT, unit = "dgrams", prog = "dgram", measured = "server",
    luasocket_from = "udp",
    label = string.format("udp: %d x 64 B, sendmany/recvmany(64)", UDP_COUNT),
    goal = { ratio = 1.5, of = { "udp", "c" }, tag = "C" },
    modes = { lsock = "batch", c = "udp_mmsg" },
  },
  {
    name = "udp_recv", group = "udp_recv", count = UDP_RECV_COUNT, unit = "dgrams", prog = "dgram",
    measured = "server", sender = "udp_gso",
    label = string.format("udp recv: %d x 64 B, recv", UDP_RECV_COUNT),
    modes = { luasocket = "dgram", lsock = "dgram", c = "udp" },
  },
  {
    name = "udp_recvmany", group = "udp_recv", count = UDP_RECV_COUNT, unit = "dgrams", prog = "dgram",
    measured = "server", sender = "udp_gso", luasocket_from = "udp_recv",
    label = string.format("udp recv: %d x 64 B, recvmany(64)", UDP_RECV_COUNT),
    modes = { lsock = "batch", c = "udp_mmsg" },
  },
  {
    name = "unix_bulk", count = UNIX_MIB, unit = "MiB", unix = true,
    label = string.format("unix: %d MiB, receive(65536)", UNIX_MIB),
    modes = { luasocket = "unix_bulk", lsock = "unix_bulk", c = "unix_bulk" },
  },
  {
    name = "unix_recv", group = "unix_bulk", count = UNIX_MIB, unit = "MiB", unix = true,
    luasocket_from = "unix_bulk",
    label = string.format("unix: %d MiB, recv(65536)", UNIX_MIB),
    modes = { lsock = "unix_recv", c = "=unix_bulk" },
  },
  {
    name = "unix_pingpong", count = PINGPONG, unit = "rt", unix = true,
    label = string.format("unix ping-pong: %d x 64 B", PINGPONG),
    modes = { luasocket = "unix_pingpong", lsock = "unix_pingpong", c = "unix_pingpong" },
  },
  {
    name = "tls_handshake", count = TLS_HANDSHAKES, unit = "hs", prog = "tls", tls = true,
    label = string.format("tls_handshake: %d new connections", TLS_HANDSHAKES),
    modes = { luasec = "tls_handshake", lsock = "tls_handshake", lsock_jit = "tls_handshake",
      c = "tls_handshake", cqueues = "tls_handshake" },
  },
  {
    name = "tls_bulk", count = TLS_MIB, unit = "MiB", prog = "tls", tls = true,
    label = string.format("tls_bulk: %d MiB, receive(65536)", TLS_MIB),
    modes = { luasec = "tls_bulk", lsock = "tls_bulk", lsock_jit = "tls_bulk", c = "tls_bulk",
      cqueues = "tls_bulk" },
  },
}
local by_name = {}
for _, w in ipairs(WORKLOADS) do
  w.group = w.group or w.name
  by_name[w.name] = w
end

-- The many-connection workloads (bench/scale.lua, bench/scale.c): every
-- library of BENCH_LIBS in one table. `kind`: "poll" (the library's
-- process is the client and is measured; the C holder keeps the other ends
-- of the idle connections), "echo" (the library is the server, the one C
-- load client measures), "mem" (the library is the server, the C client
-- reports its memory). `n`: connections; `n_of`: another count for a
-- library; `limit`: a library cannot run above it (the cell says why).
-- Lower is better for `lower` (memory).
local SELECT_LIMIT = 1000 -- LuaSocket's select: FD_SETSIZE 1024, minus the process's own descriptors
local SCALE_LIBS = { "luasocket", "lsock", "c", "cqueues", "luv" }
local SCALE_WORKLOADS = {}
for _, k in ipairs(POLL_N) do
  SCALE_WORKLOADS[#SCALE_WORKLOADS + 1] = {
    name = "poll_scale_" .. k, group = "poll_scale", kind = "poll", n = k, unit = "rt",
    label = string.format("poll_scale: %d idle + 1 pair, 64 B rt", k),
    limit = { luasocket = { SELECT_LIMIT, "n/a (select)" } },
  }
end
SCALE_WORKLOADS[#SCALE_WORKLOADS + 1] = {
  name = "concurrent_echo", kind = "echo", n = ECHO_CLIENTS, unit = "rt",
  label = string.format("concurrent_echo: %d clients x >=%d lines", ECHO_CLIENTS, ECHO_ROUNDS),
  limit = { luasocket = { SELECT_LIMIT, "n/a (select)" } },
}
SCALE_WORKLOADS[#SCALE_WORKLOADS + 1] = {
  name = "idle_memory", kind = "mem", n = MEM_CONNS, unit = "B/conn", lower = true,
  label = string.format("idle_memory: %d idle, RSS per connection", MEM_CONNS),
  n_of = { luasocket = math.min(MEM_CONNS, SELECT_LIMIT) },
}
for _, w in ipairs(SCALE_WORKLOADS) do
  w.group = w.group or w.name
  by_name[w.name] = w
end

local wanted = {}
do
  local names = env("BENCH_WORKLOADS", "all")
  for name in names:gmatch("%S+") do
    local known = name == "all"
    for _, list in ipairs({ WORKLOADS, SCALE_WORKLOADS }) do
      for _, w in ipairs(list) do
        if name == "all" or w.name == name or w.group == name then
          wanted[w.name] = true
          known = true
        end
      end
    end
    if not known then
      io.stderr:write("run.lua: unknown workload '", name, "' in BENCH_WORKLOADS ",
        "(lines bulk recv udp_rate udp_recv unix_bulk unix_pingpong poll_scale concurrent_echo idle_memory ",
        "tls_handshake tls_bulk)\n")
      os.exit(2)
    end
  end
end

local function fmt_rate(unit, rate)
  if not rate then return "-" end
  if unit == "lines" then
    return string.format("%.2f M lines/s", rate / 1e6)
  elseif unit == "dgrams" then
    return string.format("%.3f M dgram/s", rate / 1e6)
  elseif unit == "rt" then
    return string.format("%.1f k rt/s", rate / 1e3)
  elseif unit == "hs" then
    return string.format("%.0f hs/s", rate)
  end
  return string.format("%.0f MiB/s", rate)
end

local function fmt_ratio(a, b)
  if not (a and b) or b == 0 then return "-" end
  return string.format("%.2fx", a / b)
end

local function slurp(path)
  local f = io.open(path, "r")
  local s = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(path)
  return s
end

-- One run: returns seconds, units, lost, or nil and a message.
local sockets = 0
local function run_once(lib, w, mode)
  local c = WRAP ~= "" and (WRAP .. " ") or ""
  local function side(libcmd, role, m, addr)
    local s = c .. libcmd .. " " .. role .. " " .. m .. " " .. string.format("%d", w.count)
    if addr then s = s .. " " .. shquote(addr) end
    return s
  end
  local path
  if w.unix then
    sockets = sockets + 1
    path = string.format("%s/%s-%d.sock", TMP, lib.name, sockets)
    os.remove(path)
  end
  local prog = w.prog or "stream"
  -- stderr of both sides goes to files, so that a complaint can be quoted
  local serr, cerr = RESULTS .. "/server.err", RESULTS .. "/client.err"
  local server = assert(io.popen(side(lib.cmd(prog), "server", mode, path) .. " 2>" .. shquote(serr), "r"))
  local addr = server:read("*l")
  if not (addr and (addr:match("^%d+$") or (path and addr == path))) then
    server:close()
    local complaint = slurp(serr)
    if complaint ~= "" then io.stderr:write(complaint) end
    return nil, "the server did not start (no address on its stdout)"
      .. (complaint ~= "" and (": " .. complaint:match("^[^\n]*")) or "")
  end
  local clientcmd = w.sender and side(shquote(BASELINE), "client", w.sender, addr)
    or side(lib.cmd(prog), "client", mode, addr)
  local client = assert(io.popen(clientcmd .. " 2>" .. shquote(cerr), "r"))
  local cout = client:read("*a") or ""
  client:close()
  local sout = server:read("*a") or ""
  server:close()
  if path then os.remove(path) end
  local scomplaint, ccomplaint = slurp(serr), slurp(cerr)
  io.stderr:write(scomplaint, ccomplaint)
  local measured, other = cout, sout
  local mcomplaint, ocomplaint = ccomplaint, scomplaint
  local mname, oname = "client", "server"
  if w.measured == "server" then
    measured, other, mcomplaint, ocomplaint, mname, oname = sout, cout, scomplaint, ccomplaint, "server", "client"
  end
  local function because(s)
    s = s:match("^[^\n]*")
    return s ~= "" and (": " .. s) or ""
  end
  local secs, units, lost = measured:match("^ok (%S+) (%S+) ?(%S*)")
  secs, units, lost = tonumber(secs), tonumber(units), tonumber(lost)
  if not (secs and units) then
    local why = mcomplaint ~= "" and mcomplaint or ocomplaint
    return nil, "the " .. mname .. " failed" .. because(why)
  end
  if not other:match("^ok\n") then
    return nil, "the " .. oname .. " failed" .. because(ocomplaint)
  end
  if secs <= 0 then
    return nil, "the " .. mname .. " measured no time"
  end
  return secs, units, lost
end

local active = {}
for _, lib in ipairs(LIBS) do
  if selected[lib.name] then active[#active + 1] = lib end
end

local function rate_of(w, secs, units)
  if w.unit == "MiB" then return units / (1024 * 1024) / secs end
  return units / secs
end

-- best[workload][lib] = best rate; failed[workload][lib] = message;
-- loss[workload][lib] = the worst loss of its runs, in %
local best, failed, loss, rows = {}, {}, {}, {}
local any_failed = false
for _, w in ipairs(WORKLOADS) do
  best[w.name], failed[w.name], loss[w.name] = {}, {}, {}
  for run = 1, wanted[w.name] and RUNS or 0 do
    -- turn the order: run 1 a b c, run 2 b c a, ...
    local order = {}
    for i = 1, #active do
      order[i] = active[(i + run - 2) % #active + 1]
    end
    for _, lib in ipairs(order) do
      local mode = w.modes[lib.name]
      if mode and mode:sub(1, 1) ~= "=" and not failed[w.name][lib.name] then
        local secs, units, lost = run_once(lib, w, mode)
        if not secs then
          failed[w.name][lib.name] = units
          best[w.name][lib.name] = nil -- a library that failed once posts no figure
          any_failed = true
          io.stderr:write(string.format("[%s] %-9s run %d/%d: FAILED: %s\n", w.name, lib.name, run, RUNS, units))
        else
          local rate = rate_of(w, secs, units)
          local lostpct = lost and lost / w.count * 100
          io.stderr:write(string.format("[%s] %-9s run %d/%d: %8.4f s  %s%s\n", w.name, lib.name, run, RUNS,
            secs, fmt_rate(w.unit, rate), lostpct and string.format("  lost %.2f%%", lostpct) or ""))
          rows[#rows + 1] = string.format("%s\t%s\t%d\t%.6f\t%.0f\t%s", w.name, lib.name, run, secs, units,
            lost and string.format("%d", lost) or "")
          if not best[w.name][lib.name] or rate > best[w.name][lib.name] then
            best[w.name][lib.name] = rate
          end
          if lostpct and (not loss[w.name][lib.name] or lostpct > loss[w.name][lib.name]) then
            loss[w.name][lib.name] = lostpct
          end
        end
      end
    end
  end
  for libname, mode in pairs(w.modes) do
    if mode:sub(1, 1) == "=" then
      best[w.name][libname] = best[mode:sub(2)][libname]
      failed[w.name][libname] = failed[mode:sub(2)][libname]
    end
  end
end

-- ---- the many-connection workloads ------------------------------------------

-- Every process of these runs gets `ulimit -n NOFILE` (10,000 idle
-- connections are 10,000 descriptors on each side) and the usual timeout.
local function bounded(cmd)
  return "ulimit -n " .. NOFILE .. " && " .. (WRAP ~= "" and (WRAP .. " ") or "") .. cmd
end

local function scale_side(libname)
  if libname == "c" then return shquote(SCALE) end
  return shquote(LUA) .. " " .. shquote(here .. "/scale.lua") .. " " .. libname
end

local function numbers(s)
  local t = {}
  for v in (s:match("^ok([^\n]*)") or ""):gmatch("%S+") do t[#t + 1] = tonumber(v) end
  return s:match("^ok") and t or nil
end

-- One run: returns the figure (round trips/s, or bytes per connection),
-- seconds and units for runs.tsv; or nil and a message.
local function run_scale_once(libname, w)
  local n = w.n_of and w.n_of[libname] or w.n
  local serr, cerr = RESULTS .. "/server.err", RESULTS .. "/client.err"
  local servercmd, path
  if w.kind == "poll" then
    sockets = sockets + 1
    path = string.format("%s/hold-%d.sock", TMP, sockets)
    os.remove(path)
    servercmd = shquote(SCALE) .. " server hold " .. n .. " " .. shquote(path)
  else
    servercmd = scale_side(libname) .. " server echo " .. n
  end
  local server = assert(io.popen(bounded(servercmd) .. " 2>" .. shquote(serr), "r"))
  local addr = server:read("*l")
  if not (addr and (addr:match("^%d+$") or addr == path)) then
    server:close()
    local complaint = slurp(serr)
    if complaint ~= "" then io.stderr:write(complaint) end
    return nil, "the server did not start (no address on its stdout)"
      .. (complaint ~= "" and (": " .. complaint:match("^[^\n]*")) or "")
  end
  local clientcmd
  if w.kind == "poll" then
    clientcmd = scale_side(libname) .. " client poll_scale " .. n .. " " .. shquote(path)
  elseif w.kind == "echo" then
    clientcmd = shquote(SCALE) .. " client concurrent_echo " .. n .. " " .. addr .. " "
      .. ECHO_ROUNDS .. " " .. ECHO_SECS
  else
    clientcmd = shquote(SCALE) .. " client idle_memory " .. n .. " " .. addr
  end
  local client = assert(io.popen(bounded(clientcmd) .. " 2>" .. shquote(cerr), "r"))
  local cout = client:read("*a") or ""
  client:close()
  local sout = server:read("*a") or ""
  server:close()
  if path then os.remove(path) end
  local scomplaint, ccomplaint = slurp(serr), slurp(cerr)
  io.stderr:write(scomplaint, ccomplaint)
  local function because(c)
    c = c:match("^[^\n]*")
    return c ~= "" and (": " .. c) or ""
  end
  local c, sv = numbers(cout), numbers(sout)
  if not (c and #c >= 2) then
    return nil, "the client failed" .. because(ccomplaint ~= "" and ccomplaint or scomplaint)
  end
  if not sv then return nil, "the server failed" .. because(scomplaint) end
  if w.kind == "poll" then
    if c[1] <= 0 then return nil, "the client measured no time" end
    return c[2] / c[1], c[1], c[2]
  elseif w.kind == "echo" then
    if sv[1] ~= c[2] then
      return nil, string.format("the server echoed %s lines, the client counted %d", tostring(sv[1]), c[2])
    end
    if c[1] <= 0 then return nil, "the client measured no time" end
    return c[2] / c[1], c[1], c[2]
  end
  -- mem: before and after in kB, the connections
  if sv[1] ~= n then return nil, string.format("the server echoed %s lines, expected %d", tostring(sv[1]), n) end
  if not (c[3] == n and c[2] >= c[1]) then return nil, "bad memory figures: " .. cout:match("^[^\n]*") end
  local per = (c[2] - c[1]) * 1024 / n
  return per, 0, per
end

local scale_active = {}
for _, name in ipairs(SCALE_LIBS) do
  if selected[name] then scale_active[#scale_active + 1] = name end
end
local function scale_skip(w, libname)
  local l = w.limit and w.limit[libname]
  if l and w.n > l[1] then return l[2] end
  if w.n + 64 > NOFILE then return "n/a (ulimit -n)" end
  return nil
end
for _, w in ipairs(SCALE_WORKLOADS) do
  best[w.name], failed[w.name] = {}, {}
  for run = 1, wanted[w.name] and RUNS or 0 do
    for i = 1, #scale_active do
      local libname = scale_active[(i + run - 2) % #scale_active + 1]
      if not scale_skip(w, libname) and not failed[w.name][libname] then
        local fig, secs, units = run_scale_once(libname, w)
        if not fig then
          failed[w.name][libname] = secs
          best[w.name][libname] = nil
          any_failed = true
          io.stderr:write(string.format("[%s] %-9s run %d/%d: FAILED: %s\n", w.name, libname, run, RUNS, secs))
        else
          io.stderr:write(string.format("[%s] %-9s run %d/%d: %s\n", w.name, libname, run, RUNS,
            w.kind == "mem" and string.format("%.0f B per connection", fig)
              or string.format("%8.4f s  %.1f k rt/s", secs, fig / 1e3)))
          rows[#rows + 1] = string.format("%s\t%s\t%d\t%.6f\t%.0f\t", w.name, libname, run, secs, units)
          local b = best[w.name][libname]
          if not b or (w.lower and fig < b) or (not w.lower and fig > b) then
            best[w.name][libname] = fig
          end
        end
      end
    end
  end
end

-- ---- the table ----------------------------------------------------------

local function ran(w, libname)
  return wanted[w.name] and w.modes[libname] and selected[libname]
end

local function cell(w, libname)
  if not ran(w, libname) then return "-" end
  if failed[w.name][libname] then return "FAILED" end
  return fmt_rate(w.unit, best[w.name][libname])
end

local out = {}
local function line(...) out[#out + 1] = string.format(...) end
local function pad(rowcells, widths)
  local t = {}
  for i, c in ipairs(rowcells) do
    t[i] = i == 1 and string.format("%-" .. widths[i] .. "s", c) or string.format("%" .. widths[i] .. "s", c)
  end
  return (table.concat(t, "  "):gsub("%s+$", ""))
end

line("%s", HEADER)
line("best of %d runs per library, 127.0.0.1 or unix sockets, the two sides are two processes of the library", RUNS)
line("")

local below, notes = {}, {}
local any_main = false
for _, w in ipairs(WORKLOADS) do any_main = any_main or (wanted[w.name] and not w.tls) or false end
if any_main then
  local head = { "workload", "LuaSocket", "lsock", "C", "lsock/LuaSocket", "goal", "lsock/C" }
  local widths = { 42, 17, 16, 16, 15, 15, 7 }
  line("%s", pad(head, widths))
  for _, w in ipairs(WORKLOADS) do
    if wanted[w.name] and not w.tls then
      local s, c = best[w.name].lsock, best[w.name].c
      local lw = w.luasocket_from and by_name[w.luasocket_from] or w
      local l = best[lw.name].luasocket
      local lcell = cell(lw, "luasocket")
      if w.luasocket_from and lcell ~= "-" then lcell = "(" .. lcell .. ")" end
      local goal = "-"
      if w.goal then
        local g = w.goal
        local against = l
        if g.of then against = best[g.of[1]][g.of[2]] end
        local tag = g.tag and ("(" .. g.tag .. ")") or ""
        if s and against then
          local ok = s / against >= g.ratio
          goal = string.format(">=%.1fx%s %s", g.ratio, tag, ok and "ok" or "BELOW")
          if not ok then below[#below + 1] = w.name end
        else
          goal = string.format(">=%.1fx%s", g.ratio, tag)
        end
        if g.of then
          notes[#notes + 1] = string.format("(%s) goal of %s: lsock / %s's figure in %s = %s (goal >= %.1fx)",
            g.tag, w.name, g.tag, g.of[1], fmt_ratio(s, against), g.ratio)
        end
      end
      line("%s", pad({ w.label, lcell, cell(w, "lsock"), cell(w, "c"), fmt_ratio(s, l), goal, fmt_ratio(s, c) },
        widths))
      if w.unit == "dgrams" then
        local function lost(libname)
          if not ran(w, libname) or failed[w.name][libname] or not loss[w.name][libname] then return "-" end
          return string.format("%.2f%%", loss[w.name][libname])
        end
        line("%s", pad({ "  lost (worst run)", w.luasocket_from and "" or lost("luasocket"), lost("lsock"),
          lost("c") }, widths))
      end
    end
  end
  line("")
  line("lsock/LuaSocket is the judged figure (goals: lines >= 1.5x, bulk >= 1.0x, udp send/recv >= 1.0x);")
  line("lsock/C is for information. A figure in brackets is LuaSocket's from the row it names (it has no")
  line("such call); the ratio compares with it.")
  if wanted.udp_batch then
    line("udp: each library sends and receives (LuaSocket/lsock: send and receive/recv on connected sockets;")
    line("C: send/recv; the batched row: lsock sendmany/recvmany, C sendmmsg/recvmmsg), the rate is what")
    line("the receiver got per second; (C): that goal is against C's send/recv figure, not LuaSocket's.")
  end
  if wanted.udp_recv or wanted.udp_recvmany then
    line("udp recv: one C sender for everyone (UDP GSO: UDP_SEGMENT, one send() per 64 datagrams); only")
    line("the receiver is the library's, so this is its receive path alone, for information.")
  end
  for _, n in ipairs(notes) do line("%s", n) end

  local extras = {}
  for _, lib in ipairs(active) do
    if lib.extra then extras[#extras + 1] = lib end
  end
  if #extras > 0 then
    line("")
    line("For comparison only (not judged):")
    local eh, ew = { "workload" }, { widths[1] }
    for _, lib in ipairs(extras) do
      eh[#eh + 1] = lib.title
      ew[#ew + 1] = widths[2]
    end
    for _, lib in ipairs(extras) do
      eh[#eh + 1] = "lsock/" .. lib.title
      ew[#ew + 1] = 13
    end
    line("%s", pad(eh, ew))
    for _, w in ipairs(WORKLOADS) do
      local r = { w.label }
      local any = false
      for _, lib in ipairs(extras) do
        r[#r + 1] = cell(w, lib.name)
        any = any or ran(w, lib.name)
      end
      for _, lib in ipairs(extras) do
        r[#r + 1] = fmt_ratio(best[w.name].lsock, best[w.name][lib.name])
      end
      if any and not w.tls then line("%s", pad(r, ew)) end
    end
    if selected.luv then
      line("luv reads with read_start callbacks: lines are split in Lua (string.find), bulk counts")
      line("what arrives, so its bulk figure sits in the recv row.")
    end
  end
end

-- the TLS table: every library of the TLS workloads in one row
local any_tls = false
for _, w in ipairs(WORKLOADS) do any_tls = any_tls or (wanted[w.name] and w.tls) or false end
if any_tls then
  if any_main then line("") end
  line("TLS 1.3 (ECDSA P-256 certificate; every client verifies the chain and the host name, no resumption):")
  local th = { "workload", "LuaSec", "cqueues", "C", "lsock", "lsock (LuaJIT)",
    "lsock/LuaSec", "lsock/cqueues", "lsock/C", "jit/C", "goal" }
  local tw = { 38, 13, 13, 13, 13, 14, 12, 13, 7, 5, 22 }
  line("%s", pad(th, tw))
  for _, w in ipairs(WORKLOADS) do
    if wanted[w.name] and w.tls then
      local b = best[w.name]
      local s = b.lsock
      -- lsock ahead of LuaSec and cqueues and at least 0.9x C, judged on
      -- the figures that are there
      local ok
      if s then
        for _, o in ipairs({ { b.luasec, 1 }, { b.cqueues, 1 }, { b.c, 0.9 } }) do
          if o[1] then
            local pass = (o[2] == 1 and s > o[1]) or (o[2] ~= 1 and s >= o[2] * o[1])
            ok = (ok ~= false) and pass
          end
        end
      end
      local goal = ">LuaSec,cq >=0.9xC" .. (ok ~= nil and (" " .. (ok and "ok" or "BELOW")) or "")
      if ok == false then below[#below + 1] = w.name end
      line("%s", pad({ w.label, cell(w, "luasec"), cell(w, "cqueues"), cell(w, "c"), cell(w, "lsock"),
        cell(w, "lsock_jit"), fmt_ratio(s, b.luasec), fmt_ratio(s, b.cqueues), fmt_ratio(s, b.c),
        fmt_ratio(b.lsock_jit, b.c), goal }, tw))
    end
  end
  line("")
  line("hs/s: handshakes per second at the client, each a new TCP connection, a full handshake and a")
  line("16-byte message read; MiB/s: at the reader, from the end of the handshake. Both sides are the")
  line("library under test. Goal (lsock on %s): ahead of LuaSec and cqueues, at least 0.9x C.", LUA)
  if selected.lsock_jit then
    line("lsock (LuaJIT): the same sides on %s; jit/C: its figure over C's.", LUAJIT)
  elseif selected.lsock then
    line("lsock (LuaJIT): not run (run.sh found no LuaJIT build: LSOCK_LUAJIT_CPATH, make LUA=luajit).")
  end
  line("LuaSec 1.2 has no host name check: its client compares the certificate's DNS names in Lua;")
  line("cqueues sends no close_notify (bench/README.md).")
end

-- the many-connection table: every library in one row
local any_scale = false
for _, w in ipairs(SCALE_WORKLOADS) do any_scale = any_scale or wanted[w.name] or false end
if any_scale then
  local function fig(w, libname)
    local v = best[w.name][libname]
    if not v then return nil end
    if w.lower then return string.format("%.0f B/conn", v) end
    return string.format("%.1f k rt/s", v / 1e3)
  end
  local function scell(w, libname)
    if not selected[libname] then return "-" end
    local skip = scale_skip(w, libname)
    if skip then return skip end
    if failed[w.name][libname] then return "FAILED" end
    local c = fig(w, libname) or "-"
    local n = w.n_of and w.n_of[libname]
    if n and n ~= w.n and c ~= "-" then c = c .. " @" .. n end
    return c
  end
  -- ratios: lsock's figure over the other's (for memory, the other's over
  -- lsock's, so that above 1 is lsock ahead everywhere)
  local function sratio(w, libname)
    local s, o = best[w.name].lsock, best[w.name][libname]
    if w.lower then s, o = o, s end
    return fmt_ratio(s, o)
  end
  local function verdict(ok) return ok and "ok" or "BELOW" end
  local function ahead(w)
    local s, q, v = best[w.name].lsock, best[w.name].cqueues, best[w.name].luv
    if not (s and q and v) then return nil end
    return s > q and s > v
  end
  local first, last
  line("")
  line("Many connections, every library (poll_scale: the library's poller with N idle connections;")
  line("concurrent_echo, idle_memory: the library's single-threaded echo server against one C client):")
  local sh = { "workload", "LuaSocket", "lsock", "C", "cqueues", "luv",
    "lsock/C", "lsock/cqueues", "lsock/luv", "goal" }
  local sw = { 44, 16, 12, 12, 12, 12, 7, 13, 9, 22 }
  line("%s", pad(sh, sw))
  for _, w in ipairs(SCALE_WORKLOADS) do
    if wanted[w.name] then
      local goal
      if w.kind == "poll" then
        first = first or w
        last = w
        local a = ahead(w)
        goal = ">cqueues,luv" .. (a ~= nil and (" " .. verdict(a)) or "")
        if a == false then below[#below + 1] = w.name end
      elseif w.kind == "echo" then
        local a, s, c = ahead(w), best[w.name].lsock, best[w.name].c
        local ok = a
        if s and c then ok = (ok ~= false) and s >= 0.9 * c else ok = nil end
        goal = ">cq,luv >=0.9xC" .. (ok ~= nil and (" " .. verdict(ok)) or "")
        if ok == false then below[#below + 1] = w.name end
      else
        local s = best[w.name].lsock
        goal = "<=1024 B" .. (s and (" " .. verdict(s <= 1024)) or "")
        if s and s > 1024 then below[#below + 1] = w.name end
      end
      line("%s", pad({ w.label, scell(w, "luasocket"), scell(w, "lsock"), scell(w, "c"), scell(w, "cqueues"),
        scell(w, "luv"), sratio(w, "c"), sratio(w, "cqueues"), sratio(w, "luv"), goal }, sw))
    end
  end
  if first and last ~= first then
    local a, b = best[first.name].lsock, best[last.name].lsock
    local flat = a and b and b / a
    local g = string.format(">=0.90x%s", flat and (" " .. verdict(flat >= 0.9)) or "")
    if flat and flat < 0.9 then below[#below + 1] = "poll_scale (flatness)" end
    line("%s", pad({ string.format("  poll_scale flatness, N=%d / N=%d", last.n, first.n),
      "", fmt_ratio(b, a), fmt_ratio(best[last.name].c, best[first.name].c),
      fmt_ratio(best[last.name].cqueues, best[first.name].cqueues),
      fmt_ratio(best[last.name].luv, best[first.name].luv), "", "", "", g }, sw))
  end
  line("")
  line("Round trips per second (higher is better), except idle_memory: VmRSS after two full collections")
  line("minus VmRSS before the first connection, per connection (lower is better; its ratios are the other's")
  line("figure over lsock's, so above 1 means lsock ahead everywhere). n/a (select): LuaSocket's select()")
  line("stops at FD_SETSIZE (1024 descriptors); its idle_memory figure is at the count after the @.")
  line("lsock: poll_scale uses lsock.poller (epoll), the echo server lsock.loop (a coroutine per connection).")
end

for _, w in ipairs(WORKLOADS) do
  for libname, msg in pairs(failed[w.name]) do
    if w.modes[libname]:sub(1, 1) ~= "=" then
      line("FAILED: %s %s: %s", w.name, libname, msg)
    end
  end
end
for _, w in ipairs(SCALE_WORKLOADS) do
  for libname, msg in pairs(failed[w.name]) do
    line("FAILED: %s %s: %s", w.name, libname, msg)
  end
end

local text = table.concat(out, "\n") .. "\n"
io.stdout:write("\n", text)

local f = io.open(RESULTS .. "/latest.txt", "w")
if f then
  f:write(text)
  f:close()
  io.stdout:write("(written to ", RESULTS, "/latest.txt)\n")
else
  io.stderr:write("run.lua: cannot write ", RESULTS, "/latest.txt\n")
  any_failed = true
end
f = io.open(RESULTS .. "/runs.tsv", "w")
if f then
  f:write("workload\tlibrary\trun\tseconds\tunits\tlost\n", table.concat(rows, "\n"), "\n")
  f:close()
end

if any_failed then
  io.stderr:write("run.lua: some runs failed (see above)\n")
  os.exit(1)
end
if STRICT and #below > 0 then
  io.stderr:write("run.lua: below the goal: ", table.concat(below, ", "), " (BENCH_STRICT=1)\n")
  os.exit(1)
end
