-- bench/run.lua: runs the benchmark matrix and prints the table.
-- Started by bench/run.sh, which checks the tools, builds the C baseline and
-- passes the settings in the environment:
--
--   LUA              the Lua command (also runs every Lua side)
--   BENCH_LIBS       libraries to run: luasocket lsock c [cqueues luv]
--   BENCH_RUNS       runs per library and workload; the best counts (3)
--   BENCH_LINES      lines in the lines workload (2000000)
--   BENCH_MIB        MiB in the bulk workloads (512)
--   BENCH_BASELINE   the compiled bench/baseline.c
--   BENCH_RESULTS    directory for latest.txt and runs.tsv
--   BENCH_WRAP       command put in front of every process (a timeout)
--   BENCH_HEADER     first line of the table (versions, host)
--   BENCH_STRICT     when 1, a ratio below its goal fails the run
--   LSOCK_CPATH      where lsock.core is (read by stream.lua)
--
-- Each run is two processes: the server prints its port, the client
-- connects, reads, checks and prints "ok SECONDS UNITS". Runs of the
-- different libraries are interleaved (all libraries of a workload, then the
-- next run), and the order of the libraries turns from run to run.

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local LUA = env("LUA", "lua5.4")
local RUNS = tonumber(env("BENCH_RUNS", "3"))
local LINES = tonumber(env("BENCH_LINES", "2000000"))
local MIB = tonumber(env("BENCH_MIB", "512"))
local BASELINE = env("BENCH_BASELINE", "bench/results/baseline")
local RESULTS = env("BENCH_RESULTS", "bench/results")
local WRAP = env("BENCH_WRAP", "")
local HEADER = env("BENCH_HEADER", "lsock benchmark")
local STRICT = env("BENCH_STRICT", "0") == "1"
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local STREAM = here .. "/stream.lua"

assert(RUNS and RUNS >= 1, "BENCH_RUNS must be a positive number")
assert(LINES and LINES >= 2, "BENCH_LINES must be at least 2")
assert(MIB and MIB >= 1 and MIB % 1 == 0, "BENCH_MIB must be a positive integer")

local selected = {}
for name in env("BENCH_LIBS", "luasocket lsock c"):gmatch("%S+") do
  selected[name] = true
end

-- The judged libraries first, the extras after; each with the command that
-- starts one side.
local LIBS = {
  { name = "luasocket", title = "LuaSocket", cmd = shquote(LUA) .. " " .. shquote(STREAM) .. " luasocket" },
  { name = "lsock", title = "lsock", cmd = shquote(LUA) .. " " .. shquote(STREAM) .. " lsock" },
  { name = "c", title = "C", cmd = shquote(BASELINE) },
  { name = "cqueues", title = "cqueues", extra = true, cmd = shquote(LUA) .. " " .. shquote(STREAM) .. " cqueues" },
  { name = "luv", title = "luv", extra = true, cmd = shquote(LUA) .. " " .. shquote(here .. "/luv.lua") },
}
for name in pairs(selected) do
  local known = false
  for _, lib in ipairs(LIBS) do known = known or lib.name == name end
  if not known then
    io.stderr:write("run.lua: unknown library '", name, "' in BENCH_LIBS (luasocket lsock c cqueues luv)\n")
    os.exit(2)
  end
end

-- Workloads. `libs` lists who runs it and the mode each one uses; the C
-- baseline's bulk read is already a recv-style read(), so the recv row
-- reuses its bulk figure instead of running it again.
local WORKLOADS = {
  {
    name = "lines", count = LINES, unit = "lines",
    label = string.format("lines: %d x 40 B, receive(\"l\")", LINES),
    goal = 1.5,
    modes = { luasocket = "lines", lsock = "lines", c = "lines", cqueues = "lines", luv = "lines" },
  },
  {
    name = "bulk", count = MIB, unit = "MiB",
    label = string.format("bulk: %d MiB, receive(65536)", MIB),
    goal = 1.0,
    modes = { luasocket = "bulk", lsock = "bulk", c = "bulk", cqueues = "bulk" },
  },
  {
    name = "recv", count = MIB, unit = "MiB",
    label = string.format("bulk: %d MiB, recv(65536)", MIB),
    modes = { lsock = "recv", c = "=bulk", luv = "bulk" },
  },
}

local function fmt_rate(unit, rate)
  if not rate then return "-" end
  if unit == "lines" then
    return string.format("%.2f M lines/s", rate / 1e6)
  end
  return string.format("%.0f MiB/s", rate)
end

local function fmt_ratio(a, b)
  if not (a and b) or b == 0 then return "-" end
  return string.format("%.2fx", a / b)
end

-- One run: returns seconds, units, or nil and a message.
local function run_once(lib, mode, count)
  local side = function(role, port)
    local c = WRAP ~= "" and (WRAP .. " ") or ""
    c = c .. lib.cmd .. " " .. role .. " " .. mode .. " " .. string.format("%d", count)
    if port then c = c .. " " .. port end
    return c
  end
  local server = assert(io.popen(side("server"), "r"))
  local port = server:read("*l")
  if not (port and port:match("^%d+$")) then
    server:close()
    return nil, "the server did not start (no port on its stdout)"
  end
  -- the client's stderr goes to a file, so that its complaint can be quoted
  local errfile = RESULTS .. "/client.err"
  local client = assert(io.popen(side("client", port) .. " 2>" .. shquote(errfile), "r"))
  local out = client:read("*a") or ""
  client:close()
  local ef = io.open(errfile, "r")
  local complaint = ef and ef:read("*a") or ""
  if ef then ef:close() end
  os.remove(errfile)
  if complaint ~= "" then io.stderr:write(complaint) end
  complaint = complaint:match("^[^\n]*")
  local done = server:read("*l")
  server:close()
  local secs, units = out:match("^ok (%S+) (%S+)")
  secs, units = tonumber(secs), tonumber(units)
  if not (secs and units) then
    return nil, "the client failed" .. (complaint ~= "" and (": " .. complaint) or "")
  end
  if done ~= "ok" then
    return nil, "the server failed"
  end
  if secs <= 0 then
    return nil, "the client measured no time"
  end
  return secs, units
end

local active = {}
for _, lib in ipairs(LIBS) do
  if selected[lib.name] then active[#active + 1] = lib end
end

-- best[workload][lib] = best rate; failed[workload][lib] = message
local best, failed, rows = {}, {}, {}
local any_failed = false
for _, w in ipairs(WORKLOADS) do
  best[w.name], failed[w.name] = {}, {}
  for run = 1, RUNS do
    -- turn the order: run 1 a b c, run 2 b c a, ...
    local order = {}
    for i = 1, #active do
      order[i] = active[(i + run - 2) % #active + 1]
    end
    for _, lib in ipairs(order) do
      local mode = w.modes[lib.name]
      if mode and mode:sub(1, 1) ~= "=" and not failed[w.name][lib.name] then
        local secs, units = run_once(lib, mode, w.count)
        if not secs then
          failed[w.name][lib.name] = units
          best[w.name][lib.name] = nil -- a library that failed once posts no figure
          any_failed = true
          io.stderr:write(string.format("[%s] %-9s run %d/%d: FAILED: %s\n", w.name, lib.name, run, RUNS, units))
        else
          local rate = w.unit == "lines" and units / secs or units / (1024 * 1024) / secs
          io.stderr:write(string.format("[%s] %-9s run %d/%d: %8.4f s  %s\n", w.name, lib.name, run, RUNS,
            secs, fmt_rate(w.unit, rate)))
          rows[#rows + 1] = string.format("%s\t%s\t%d\t%.6f\t%.0f", w.name, lib.name, run, secs, units)
          if not best[w.name][lib.name] or rate > best[w.name][lib.name] then
            best[w.name][lib.name] = rate
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

-- ---- the table ----------------------------------------------------------

local function cell(w, libname)
  if failed[w.name][libname] then return "FAILED" end
  if not w.modes[libname] or not selected[libname] then return "-" end
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
line("best of %d runs per library, 127.0.0.1, server and client are two processes of the library", RUNS)
line("")

local below = {}
local head = { "workload", "LuaSocket", "lsock", "C", "lsock/LuaSocket", "goal", "lsock/C" }
local widths = { 37, 16, 16, 16, 15, 12, 7 }
line("%s", pad(head, widths))
for _, w in ipairs(WORKLOADS) do
  local l, s, c = best[w.name].luasocket, best[w.name].lsock, best[w.name].c
  local goal = "-"
  -- the recv row compares lsock's recv with LuaSocket's receive(65536)
  if w.name == "recv" then l = best.bulk.luasocket end
  if w.goal then
    if l and s then
      local ok = s / l >= w.goal
      goal = string.format(">=%.1fx %s", w.goal, ok and "ok" or "BELOW")
      if not ok then below[#below + 1] = w.name end
    else
      goal = string.format(">=%.1fx", w.goal)
    end
  end
  local lcell = cell(w, "luasocket")
  if w.name == "recv" and l then lcell = "(" .. cell(WORKLOADS[2], "luasocket") .. ")" end
  line("%s", pad({ w.label, lcell, cell(w, "lsock"), cell(w, "c"),
    fmt_ratio(s, l), goal, fmt_ratio(s, c) }, widths))
end
line("")
line("lsock/LuaSocket is the judged figure (goal: lines >= 1.5x, bulk >= 1.0x); lsock/C is for information.")
line("The recv row compares lsock's recv(65536) with LuaSocket's receive(65536) (in brackets) and C's read().")

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
      any = any or w.modes[lib.name] ~= nil
    end
    for _, lib in ipairs(extras) do
      r[#r + 1] = fmt_ratio(best[w.name].lsock, best[w.name][lib.name])
    end
    if any then line("%s", pad(r, ew)) end
  end
  if selected.luv then
    line("luv reads with read_start callbacks: lines are split in Lua (string.find), bulk counts")
    line("what arrives, so its bulk figure sits in the recv row.")
  end
end

for _, w in ipairs(WORKLOADS) do
  for libname, msg in pairs(failed[w.name]) do
    if w.modes[libname]:sub(1, 1) ~= "=" then
      line("FAILED: %s %s: %s", w.name, libname, msg)
    end
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
  f:write("workload\tlibrary\trun\tseconds\tunits\n", table.concat(rows, "\n"), "\n")
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
