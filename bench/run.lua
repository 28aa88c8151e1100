-- bench/run.lua: runs the benchmark matrix and prints the table. Started
-- by bench/run.sh, which checks the tools, builds the C programs and
-- passes the settings in the environment (run.sh's head lists them;
-- bench/settings.lua reads them).
--
-- The parts, one file each: settings.lua (the settings), workloads.lua
-- (the libraries and the rows), runner.lua (one run of one library),
-- report.lua (medians, ratios, goals and the table), record.lua (the raw
-- figures of every run, bench/results/<date>.tsv, and latest.txt).
--
-- Scheduling: for each row, round 1 of every library that runs it, then
-- round 2 of every library, and so on (BENCH_RUNS rounds), the order of the
-- libraries turning by one each round, so that drift hits all alike. A
-- library that fails a run runs no more on that row and shows FAILED.
--
-- Counts: every run should last BENCH_MIN_SECS or more, and libraries
-- differ by 30x on one row, so no one count fits all. Before the rounds
-- of a row that allows it (`calibrate`), each library's count is found by
-- probing: a run at the row's count (BENCH_LINES, ...), again at ten times
-- that while the probe lasts under PROBE_SECS; then the count that takes
-- MARGIN x BENCH_MIN_SECS at the probe's rate, rounded up to two
-- significant digits, within the row's least and greatest counts. A run
-- that still lasts under BENCH_MIN_SECS is run again at a count made from
-- its own rate (twice at most). Probes and those short runs go to the
-- record as round 0 and count for nothing else. The table says each
-- library's count (its last). BENCH_MIN_SECS=0: every library runs the row's
-- count.

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local function part(name) return dofile(here .. "/" .. name .. ".lua") end

local S = part("settings")(here)
local W = part("workloads")(S)
local run = part("runner")(S, W)
local report = part("report")
local rows = W.pick(S.workloads)
local record = part("record")(S)

local PROBE_SECS, MARGIN = 0.2, 1.25

-- up to two significant digits, rounded up
local function nice(n)
  if n < 100 then return math.ceil(n) end
  local p = 10 ^ (math.floor(math.log(n) / math.log(10)) - 1)
  return math.ceil(n / p) * p
end

-- The count of row w that takes MARGIN x BENCH_MIN_SECS at the rate of a
-- run of `count` that took `secs`.
local function count_for(w, count, secs)
  local c = nice(count * S.BENCH_MIN_SECS * MARGIN / secs)
  return math.min(math.max(c, w.min_count or 1), w.max_count or math.huge)
end

-- lib's count for row w, or nil and a message when a probe failed
local function calibrate(w, lib)
  local count, most = w.count, w.max_count or math.huge
  while true do
    local r, err = run(lib, w, count)
    record.run(w, lib, 0, r, err)
    if not r then return nil, err end
    if r.secs >= PROBE_SECS or count >= most then return count_for(w, count, r.secs) end
    count = math.min(count * 10, most)
  end
end

local figures, any_failed = {}, false
for _, w in ipairs(rows) do
  local who = {}
  for _, lib in ipairs(W.libs) do
    local mode = w.modes[lib.name]
    if S.libs[lib.name] and mode and mode:sub(1, 1) ~= "=" and not W.skip(w, lib.name) then
      who[#who + 1] = lib
    end
  end
  figures[w.name] = {}
  for _, lib in ipairs(who) do figures[w.name][lib.name] = { runs = {} } end
  if #who > 0 and w.setup then w.setup() end
  for _, lib in ipairs(who) do
    local f = figures[w.name][lib.name]
    f.count = w.count
    if w.calibrate and S.BENCH_MIN_SECS > 0 then
      local c, err = calibrate(w, lib)
      f.count, f.failed = c, not c and err or nil
      any_failed = any_failed or not c
      io.stderr:write(string.format("[%s] %-9s ", w.name, lib.name),
        c and string.format("count %d", c) or ("FAILED: " .. err), "\n")
    end
  end
  for round = 1, #who > 0 and S.BENCH_RUNS or 0 do
    for i = 1, #who do
      local lib = who[(i + round - 2) % #who + 1]
      local f = figures[w.name][lib.name]
      if not f.failed then
        local r, err = run(lib, w, f.count)
        -- a run of a probed row that was shorter than BENCH_MIN_SECS after
        -- all (a probe met a fast moment) is run again, longer
        local again = 0
        while r and again < 2 and w.calibrate and S.BENCH_MIN_SECS > 0 and r.secs < S.BENCH_MIN_SECS
            and f.count < (w.max_count or math.huge) do
          record.run(w, lib, 0, r, err)
          f.count = count_for(w, f.count, r.secs)
          io.stderr:write(string.format("[%s] %-9s %.2f s: count %d\n", w.name, lib.name, r.secs, f.count))
          r, err = run(lib, w, f.count)
          again = again + 1
        end
        record.run(w, lib, round, r, err)
        local tag = string.format("[%s] %-9s round %d/%d: ", w.name, lib.name, round, S.BENCH_RUNS)
        if r then
          f.runs[#f.runs + 1] = r
          io.stderr:write(tag, r.secs and string.format("%8.4f s  ", r.secs) or "",
            report.value(w, r.figure), " ", report.unit(w),
            r.lost and string.format("  lost %.2f%%", r.lost / r.count * 100) or "", "\n")
        else
          f.failed, any_failed = err, true
          io.stderr:write(tag, "FAILED: ", err, "\n")
        end
      end
    end
  end
  if w.teardown then w.teardown() end
end

local text, below = report.table(S, W, rows, figures, record.path)
io.stdout:write("\n", text)
if record.finish(text) then
  io.stdout:write("(written to ", S.BENCH_RESULTS, "/latest.txt; every run in ", record.path, ")\n")
else
  io.stderr:write("run.lua: cannot write ", S.BENCH_RESULTS, "/latest.txt\n")
  any_failed = true
end

if any_failed then
  io.stderr:write("run.lua: some runs failed (see above)\n")
  os.exit(1)
end
if S.strict and #below > 0 then
  io.stderr:write("run.lua: below the goal: ", table.concat(below, ", "), " (BENCH_STRICT=1)\n")
  os.exit(1)
end
