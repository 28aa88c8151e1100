-- bench/report.lua: the table of one bench invocation, from the figures
-- of its runs. Every row shows, per library, the median of its runs with
-- the spread beside it (the largest distance of a run from the median, in
-- % of the median), and lsock's ratios to C and to the best other library
-- of the row (LuaSocket/LuaSec, cqueues or luv, whichever has the best
-- median), for lsock on $LUA and on LuaJIT; under it the goals, judged on
-- the medians.
--
-- report.value(w, v) and report.unit(w) format a figure; report.table(S,
-- W, rows, figures, record_path) returns the text and the names of the rows
-- below their goal. figures[row][lib] = { runs = { {figure =, secs =,
-- lost =}, ... }, failed = message }.

local report = {}

-- unit: its name in the table, the factor and the format of its figures
local UNITS = {
  lines = { "M lines/s", 1e-6, "%.2f" },
  dgrams = { "M dgram/s", 1e-6, "%.3f" },
  rt = { "k rt/s", 1e-3, "%.1f" },
  hs = { "hs/s", 1, "%.0f" },
  MiB = { "MiB/s", 1, "%.0f" },
  ["B/conn"] = { "B/conn", 1, "%.0f" },
}

function report.unit(w) return UNITS[w.unit][1] end
function report.value(w, v)
  local u = UNITS[w.unit]
  return string.format(u[3], v * u[2])
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

-- What a library's runs of a row come to: med (nil when it failed), spread
-- (a fraction of med), secs (its shortest run), lost (its worst loss, %),
-- failed; borrowed: the figure of another row ("=ROW").
local function summarize(W, figures, w, libname)
  local mode = w.modes[libname]
  if not mode then return nil end
  if mode:sub(1, 1) == "=" then
    local s = summarize(W, figures, W.by_name[mode:sub(2)], libname)
    return s and { med = s.med, failed = s.failed, borrowed = true }
  end
  local f = figures[w.name] and figures[w.name][libname]
  if not f then return nil end
  if f.failed then return { failed = f.failed } end
  local vals, secs, lost = {}, nil, nil
  for i, r in ipairs(f.runs) do
    vals[i] = r.figure
    if r.secs then secs = math.min(secs or r.secs, r.secs) end
    if r.lost then lost = math.max(lost or 0, r.lost / r.count * 100) end
  end
  if #vals == 0 then return nil end
  local med, spread = median(vals), 0
  for _, v in ipairs(vals) do spread = math.max(spread, math.abs(v - med) / med) end
  return { med = med, spread = spread, secs = secs, lost = lost }
end

-- lsock's figure over the other's; for lower-is-better rows the other's
-- over lsock's, so that above 1 always means lsock ahead
local function ratio(w, a, b)
  if not (a and b) or a == 0 or b == 0 then return nil end
  if w.lower then return b / a end
  return a / b
end
local function fmt_ratio(r) return r and string.format("%.2fx", r) or "-" end

-- the table's columns: a title and the libraries it shows (the first the
-- row has)
local COLUMNS = {
  { "LuaSocket/LuaSec", "luasocket", "luasec" }, { "cqueues", "cqueues" }, { "luv", "luv" },
  { "luv (LuaJIT)", "luv_jit" }, { "C", "c" }, { "lsock", "lsock" }, { "lsock (LuaJIT)", "lsock_jit" },
}

-- rows of cells, each column as wide as its widest cell (in characters:
-- "±" is two bytes); the first two columns to the left, the others right
local function render(grid)
  local function len(c) return #c:gsub("[\128-\191]", "") end
  local widths = {}
  for _, r in ipairs(grid) do
    for i, c in ipairs(r) do widths[i] = math.max(widths[i] or 0, len(c)) end
  end
  local out = {}
  for k, r in ipairs(grid) do
    local t = {}
    for i, c in ipairs(r) do
      local fill = string.rep(" ", widths[i] - len(c))
      t[i] = i <= 2 and c .. fill or fill .. c
    end
    out[k] = (table.concat(t, "  "):gsub("%s+$", ""))
  end
  return out
end

-- a count as the table shows it: 20000000 as 20M, MiB as GiB from 1024
local function count_text(n, unit)
  if unit == "MiB" then
    if n >= 1024 then return string.format("%g GiB", math.floor(n / 1024 * 10 + 0.5) / 10) end
    return string.format("%d MiB", n)
  end
  if n >= 1e6 then return string.format("%gM", math.floor(n / 1e5 + 0.5) / 10) end
  if n >= 1e4 then return string.format("%gk", math.floor(n / 100 + 0.5) / 10) end
  return string.format("%d", n)
end

function report.table(S, W, rows, figures, record_path)
  local title = {}
  for _, lib in ipairs(W.libs) do title[lib.name] = lib.title end
  local sums = {}
  for _, w in ipairs(W.rows) do
    sums[w.name] = {}
    for _, lib in ipairs(W.libs) do sums[w.name][lib.name] = summarize(W, figures, w, lib.name) end
  end
  local jit = S.libs.lsock_jit
  local columns = {}
  for _, c in ipairs(COLUMNS) do
    local on = false
    for i = 2, #c do on = on or S.libs[c[i]] or false end
    if on then columns[#columns + 1] = c end
  end
  local function col_lib(w, c)
    for i = 2, #c do
      if w.modes[c[i]] then return c[i] end
    end
    return nil
  end

  local function cell(w, libname)
    if not (libname and S.libs[libname]) then return "-" end
    local skip = W.skip(w, libname)
    if skip then return skip end
    local s = sums[w.name][libname]
    if not s then return "-" end
    if s.failed then return "FAILED" end
    local v = report.value(w, s.med)
    local n = w.n_of and w.n_of[libname]
    if n and n ~= w.n then v = v .. " @" .. n end
    if s.borrowed then return "(" .. v .. ")" end
    return string.format("%s ±%.0f%%", v, s.spread * 100)
  end
  local function med(w, libname)
    local s = sums[w.name][libname]
    return s and s.med
  end
  -- the best other library of a row: its median and title (lsock on $LUA
  -- against the others on $LUA; on LuaJIT against all of them)
  local function best_other(w, on_jit)
    local best, name
    for _, lib in ipairs(W.libs) do
      local m = lib.other and (on_jit or not lib.jit) and med(w, lib.name)
      if m and (not best or (w.lower and m < best) or (not w.lower and m > best)) then
        best, name = m, lib.title
      end
    end
    return best, name
  end
  local function vs_best(w, libname)
    local b, name = best_other(w, libname == "lsock_jit")
    local r = ratio(w, med(w, libname), b)
    return r and (fmt_ratio(r) .. " " .. name) or "-"
  end

  local head = { "workload", "unit" }
  for _, c in ipairs(columns) do head[#head + 1] = c[1] end
  for _, h in ipairs({ "lsock/C", "lsock/best other" }) do head[#head + 1] = h end
  if jit then
    head[#head + 1] = "jit/C"
    head[#head + 1] = "jit/best other"
  end
  head[#head + 1] = "min s"
  local grid = { head }
  local function add(w, cells, lsock_c, lsock_best, jit_c, jit_best, secs)
    local r = { w, cells.unit }
    for _, c in ipairs(columns) do r[#r + 1] = cells[c[1]] or "" end
    local tail = { lsock_c or "", lsock_best or "" }
    if jit then tail[3], tail[4] = jit_c or "", jit_best or "" end
    tail[#tail + 1] = secs or ""
    for _, v in ipairs(tail) do r[#r + 1] = v end
    grid[#grid + 1] = r
  end

  local polls = {}
  for _, w in ipairs(rows) do
    local cells = { unit = report.unit(w) }
    local secs
    for _, c in ipairs(columns) do
      local libname = col_lib(w, c)
      cells[c[1]] = cell(w, libname)
      local s = libname and sums[w.name][libname]
      if s and s.secs then secs = math.min(secs or s.secs, s.secs) end
    end
    add(w.label, cells, fmt_ratio(ratio(w, med(w, "lsock"), med(w, "c"))), vs_best(w, "lsock"),
      w.modes.lsock_jit and fmt_ratio(ratio(w, med(w, "lsock_jit"), med(w, "c"))) or "-",
      w.modes.lsock_jit and vs_best(w, "lsock_jit") or "-", secs and string.format("%.2f", secs) or "-")
    if w.unit == "dgrams" then
      local lost = { unit = "" }
      for _, c in ipairs(columns) do
        local s = sums[w.name][col_lib(w, c) or ""]
        lost[c[1]] = s and s.lost and string.format("%.2f%%", s.lost) or ""
      end
      add("  lost (worst run)", lost)
    end
    if w.kind == "poll" then polls[#polls + 1] = w end
  end
  local first, last = polls[1], polls[#polls]
  if #polls > 1 then
    local flat = { unit = "ratio" }
    for _, c in ipairs(columns) do
      local libname = col_lib(last, c) or ""
      flat[c[1]] = fmt_ratio(ratio(last, med(last, libname), med(first, libname)))
    end
    add(string.format("  poll_scale flatness, N=%d / N=%d", last.n, first.n), flat)
  end

  -- the goals, on lsock's medians (LuaJIT's for information only)
  local goals, below = {}, {}
  local function verdict(name, texts, ok)
    if ok == false then below[#below + 1] = name end
    goals[#goals + 1] = { "  " .. name, table.concat(texts, "; "), ok == nil and "" or (ok and "ok" or "BELOW") }
  end
  for _, w in ipairs(rows) do
    local s = med(w, "lsock")
    if w.goal and s then
      local texts, ok = {}, nil
      for _, g in ipairs(w.goal) do
        local pass, text
        if g.max then
          pass = s <= g.max
          text = string.format("<= %d %s: %s", g.max, report.unit(w), report.value(w, s))
        else
          local o = med(g.row and W.by_name[g.row] or w, g[1])
          local r = ratio(w, s, o)
          if r then
            pass = g[2] and r >= g[2] or (not g[2] and r > 1)
            text = (g[2] and string.format(">= %.1fx ", g[2]) or "> ") .. title[g[1]]
              .. (g.row and (" of " .. g.row) or "") .. ": " .. fmt_ratio(r)
          end
        end
        if text then
          texts[#texts + 1] = text
          ok = (ok ~= false) and pass
        end
      end
      if #texts > 0 then verdict(w.name, texts, ok) end
    end
  end
  if #polls > 1 then
    local r = ratio(last, med(last, "lsock"), med(first, "lsock"))
    if r then verdict("poll_scale flatness", { string.format(">= 0.90x: %s", fmt_ratio(r)) }, r >= 0.9) end
  end

  local out = {}
  local function line(...) out[#out + 1] = string.format(...) end
  line("%s", S.BENCH_HEADER)
  line("median of %d runs per library, ± the largest distance of a run from it; raw figures: %s",
    S.BENCH_RUNS, record_path)
  line("")
  for _, l in ipairs(render(grid)) do line("%s", l) end
  if #goals > 0 then
    line("")
    line("Goals (lsock on %s, its medians; BENCH_STRICT=1 fails the run below one):", S.LUA)
    for _, l in ipairs(render(goals)) do line("%s", l) end
  end
  -- each library's count on the rows that probe for it
  local counts = {}
  for _, w in ipairs(rows) do
    if w.calibrate then
      local t = {}
      for _, lib in ipairs(W.libs) do
        local f = figures[w.name] and figures[w.name][lib.name]
        if f and f.count then t[#t + 1] = string.format("%s %s", lib.title, count_text(f.count, w.unit)) end
      end
      if #t > 0 then counts[#counts + 1] = { "  " .. w.name, table.concat(t, ", ") } end
    end
  end
  if #counts > 0 then
    line("")
    if S.BENCH_MIN_SECS > 0 then
      line("Counts per run (each library's, probed so that its runs last %d s or more):", S.BENCH_MIN_SECS)
    else
      line("Counts per run (BENCH_MIN_SECS=0: the same for every library):")
    end
    for _, l in ipairs(render(counts)) do line("%s", l) end
  end
  line("")
  line("Higher is better, except idle_memory (lower: its ratios are the other's figure over lsock's, so that")
  line("above 1 means lsock ahead everywhere). best other: the best median of LuaSocket/LuaSec, cqueues and")
  line("luv in the row (for lsock on LuaJIT, luv on LuaJIT too). (x): the figure of the row the library has")
  line("instead (LuaSocket has no recv, recvmany or sendmany; C has one bulk reader). min s: the shortest run")
  line("of the row; the project's rule is that a run under 2 s measures noise, and a shorter one is run again")
  line("with a larger count. Rounds interleave: round 1 of every library, then round 2, ...")
  if jit then line("lsock (LuaJIT): lsock's sides on %s; jit/: its ratios.", S.BENCH_LUAJIT) end
  if S.libs.luv then
    line("luv reads with read_start callbacks (lines split in Lua; bulk counted as it comes: the recv row).")
  end
  local has = {}
  for _, w in ipairs(rows) do has[w.unit], has[w.prog or w.kind] = true, true end
  if has.dgrams then
    line("udp: each library sends and receives; udp recv: one C sender (UDP GSO) feeds every receiver.")
  end
  if has.tls then line("tls: LuaSec 1.2 checks the host name in Lua; cqueues sends no close_notify.") end
  if has.poll or has.echo or has.mem then
    line("n/a (select): LuaSocket's select() stops at FD_SETSIZE; its idle_memory figure is at the count")
    line("after the @.")
  end
  line("bench/README.md says what every row measures.")
  for _, w in ipairs(rows) do
    for _, lib in ipairs(W.libs) do
      local f = figures[w.name] and figures[w.name][lib.name]
      if f and f.failed then line("FAILED: %s %s: %s", w.name, lib.name, f.failed) end
    end
  end
  return table.concat(out, "\n") .. "\n", below
end

return report
