-- bench/settings.lua: the settings of one bench invocation, read from the
-- environment bench/run.sh passes (run.sh's head lists them all). Returns
-- a function of the bench directory that returns the settings: every
-- count under its environment name (S.BENCH_LINES), the paths and
-- commands, S.libs (the set of BENCH_LIBS), S.workloads (the names of
-- BENCH_WORKLOADS) and S.shown, every setting as "NAME=value" for the
-- record of the run.

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function die(msg)
  io.stderr:write("run.lua: ", msg, "\n")
  os.exit(2)
end

-- name, default, least value
local COUNTS = {
  { "BENCH_RUNS", 3, 3 }, -- a median and a spread need three
  { "BENCH_MIN_SECS", 2, 0 }, -- 0: no probing, every library runs the counts below
  -- the counts of the rows that probe (run.lua) are where probing starts
  { "BENCH_LINES", 2000000, 2 },
  { "BENCH_MIB", 512, 1 },
  { "BENCH_FILE_MIB", 8192, 1 }, -- file_serve does not probe: the file is made once
  { "BENCH_UDP_COUNT", 400000, 1 },
  { "BENCH_UDP_RECV_COUNT", 1000000, 1 },
  { "BENCH_UNIX_MIB", 4096, 1 },
  { "BENCH_PINGPONG", 20000, 1 },
  { "BENCH_ECHO_CLIENTS", 500, 1 },
  { "BENCH_ECHO_ROUNDS", 200, 1 },
  { "BENCH_ECHO_SECS", 2, 0 },
  { "BENCH_MEM_CONNS", 5000, 1 },
  { "BENCH_TLS_HANDSHAKES", 500, 1 },
  { "BENCH_TLS_MIB", 1024, 1 },
  { "BENCH_NOFILE", 20000, 64 },
}

-- name, default (paths, commands, words)
local STRINGS = {
  { "LUA", "lua5.4" },
  { "BENCH_LIBS", "luasocket luasec lsock c" },
  { "BENCH_WORKLOADS", "all" },
  { "BENCH_POLL_N", "100 1000 5000 10000" },
  { "BENCH_LUAJIT", "" },
  { "LSOCK_CPATH", "" },
  { "LSOCK_LUAJIT_CPATH", "" },
  { "BENCH_SCALE", "bench/results/scale" },
  { "BENCH_BASELINE", "bench/results/baseline" },
  { "BENCH_BASELINE_TLS", "bench/results/baseline_tls" },
  { "BENCH_TLS_DIR", "bench/results/tls" },
  { "BENCH_RESULTS", "bench/results" },
  { "BENCH_TMP", "" },
  { "BENCH_WRAP", "" },
  { "BENCH_PIN", "" },
  { "BENCH_HEADER", "lsock benchmark" },
  { "BENCH_STRICT", "0" },
}

return function(here)
  local S = { here = here, shown = {} }
  for _, c in ipairs(COUNTS) do
    local name, default, min = c[1], c[2], c[3]
    local v = tonumber(env(name, tostring(default)))
    if not (v and v >= min and v % 1 == 0) then
      die(string.format("%s must be an integer of at least %d", name, min))
    end
    S[name] = v
    S.shown[#S.shown + 1] = string.format("%s=%d", name, v)
  end
  for _, s in ipairs(STRINGS) do
    S[s[1]] = env(s[1], s[2])
    S.shown[#S.shown + 1] = s[1] .. "=" .. S[s[1]]
  end
  if S.BENCH_TMP == "" then S.BENCH_TMP = S.BENCH_RESULTS end
  S.strict = S.BENCH_STRICT == "1"

  S.poll_n = {}
  for v in S.BENCH_POLL_N:gmatch("%S+") do
    local k = tonumber(v)
    if not (k and k >= 1 and k % 1 == 0) then die("BENCH_POLL_N must be a list of positive integers") end
    S.poll_n[#S.poll_n + 1] = k
  end
  S.libs = {}
  for name in S.BENCH_LIBS:gmatch("%S+") do S.libs[name] = true end
  S.workloads = {}
  for name in S.BENCH_WORKLOADS:gmatch("%S+") do S.workloads[#S.workloads + 1] = name end
  return S
end
