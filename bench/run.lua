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

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local function part(name) return dofile(here .. "/" .. name .. ".lua") end

local S = part("settings")(here)
local W = part("workloads")(S)
local run = part("runner")(S, W)
local report = part("report")
local rows = W.pick(S.workloads)
local record = part("record")(S)

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
  for round = 1, #who > 0 and S.BENCH_RUNS or 0 do
    for i = 1, #who do
      local lib = who[(i + round - 2) % #who + 1]
      local f = figures[w.name][lib.name]
      if not f.failed then
        local r, err = run(lib, w)
        record.run(w, lib, round, r, err)
        local tag = string.format("[%s] %-9s round %d/%d: ", w.name, lib.name, round, S.BENCH_RUNS)
        if r then
          f.runs[#f.runs + 1] = r
          io.stderr:write(tag, r.secs and string.format("%8.4f s  ", r.secs) or "",
            report.value(w, r.figure), " ", report.unit(w),
            r.lost and string.format("  lost %.2f%%", r.lost / w.count * 100) or "", "\n")
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
