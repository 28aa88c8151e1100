-- bench/record.lua: the record of one bench invocation: a file of its own
-- in BENCH_RESULTS, named by the date (bench/results/YYYY-MM-DDTHHMMSSZ.tsv),
-- that starts with the date, the machine (uname -a, the CPU model and the
-- number of cores) and every setting as "# " lines, then has one
-- tab-separated line per run as it ends (a failed run says FAILED and
-- why), and ends with the table, also as "# " lines. The table alone goes
-- to BENCH_RESULTS/latest.txt. Returns a function of the settings that
-- returns { path =, run = function(w, lib, round, r, err), finish = function(text) }.

local function command_line(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p and p:read("*l") or nil
  if p then p:close() end
  return s or "?"
end

-- the CPU's model name and the number of processors, from /proc/cpuinfo
local function cpu()
  local f = io.open("/proc/cpuinfo", "r")
  if not f then return "?", command_line("getconf _NPROCESSORS_ONLN") end
  local model, n = "?", 0
  for l in f:lines() do
    if l:match("^processor%s*:") then n = n + 1 end
    model = model ~= "?" and model or l:match("^model name%s*:%s*(.-)%s*$") or model
  end
  f:close()
  return model, tostring(n)
end

return function(S)
  local stamp = os.date("!%Y-%m-%dT%H%M%SZ")
  local path = string.format("%s/%s.tsv", S.BENCH_RESULTS, stamp)
  local f = assert(io.open(path, "w"))
  local model, cores = cpu()
  f:write("# lsock bench, ", os.date("!%Y-%m-%d %H:%M:%S UTC"), "\n",
    "# machine: ", command_line("uname -a"), "\n",
    "# cpu: ", model, "; ", cores, " cores online\n",
    "# versions: ", S.BENCH_HEADER, "\n")
  for _, setting in ipairs(S.shown) do
    if not setting:match("^BENCH_HEADER=") then f:write("# setting: ", setting, "\n") end
  end
  f:write("# seconds: the measured side's time; units: what it moved (bytes for MiB rows); figure: unit\n",
    "# per second (MiB/s for MiB), bytes per connection for idle_memory; lost: datagrams lost\n",
    "workload\tlibrary\tround\tseconds\tunits\tlost\tfigure\tunit\n")
  f:flush()

  local rec = { path = path }
  function rec.run(w, lib, round, r, err)
    if r then
      f:write(string.format("%s\t%s\t%d\t%s\t%.0f\t%s\t%.6g\t%s\n", w.name, lib.name, round,
        r.secs and string.format("%.6f", r.secs) or "", r.units or 0, r.lost and string.format("%d", r.lost) or "",
        r.figure, w.unit))
    else
      f:write(string.format("%s\t%s\t%d\tFAILED\t\t\t%s\t\n", w.name, lib.name, round, (err:gsub("[\t\n]", " "))))
    end
    f:flush()
  end
  -- writes the table at the end of the record and as latest.txt; false
  -- when latest.txt cannot be written
  function rec.finish(text)
    f:write("# the table (also bench/results/latest.txt):\n", (text:gsub("[^\n]*\n", "# %0")))
    f:close()
    local t = io.open(S.BENCH_RESULTS .. "/latest.txt", "w")
    if not t then return false end
    t:write(text)
    t:close()
    return true
  end
  return rec
end
