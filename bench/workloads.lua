-- bench/workloads.lua: what the bench runs: the libraries and the
-- workloads, one row of the table each. Returns a function of the settings
-- (bench/settings.lua) that returns { libs = LIBS, rows = ROWS,
-- by_name = ..., pick = function(names) }.
--
-- A library: `name` (as in BENCH_LIBS), `title`, `cmd(prog)`: the command
-- of one side with the Lua driver `prog` (stream, dgram or tls; the C
-- baseline is one program for all but TLS). `other`: one of the libraries
-- lsock is compared with (the "best other" of a row); `jit`: it runs on
-- LuaJIT, so only lsock on LuaJIT is compared with it.
--
-- A row: `name`, `group` (the name BENCH_WORKLOADS also selects it by),
-- `label`, `unit`, `count` (passed to both sides), `modes`: who runs it and
-- in which mode of its driver ("=ROW": no run, the figure of that row is
-- shown in brackets: the library has no such call). `kind`: "stream" (the
-- default: two processes of the library under test, stream.lua, dgram.lua,
-- tls.lua, luv.lua or the baselines) or "poll", "echo", "mem" (the
-- many-connection workloads: bench/scale.lua against bench/scale.c).
-- `prog`: the Lua driver (stream); `measured`: the side that reports
-- (client); `sender`: the client is always the C baseline in that mode;
-- `unix`: the server gets a fresh socket path; `file`: the server gets the
-- path of the row's file, which `setup` makes and `teardown` removes.
-- `goal`: the terms lsock's median is judged by (bench/report.lua):
-- { lib, ratio } at least ratio times lib's figure (`row`: of that row),
-- { lib } ahead of it, { max } at most that. `lower`: lower is better.
-- `pin`: both processes run on one CPU (BENCH_PIN, bench/run.sh).
-- `limit`: a library cannot run above a count (the cell says why); `n_of`:
-- another count for a library. `calibrate`: each library's count is probed
-- so that its runs last BENCH_MIN_SECS (bench/run.lua; `count` is where
-- the probing starts), within `min_count` and `max_count`.

local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function luv_prog(prog)
  return prog == "dgram" and "luv_dgram.lua" or "luv.lua"
end

return function(S)
  local function lua_side(libname)
    return function(prog)
      return shquote(S.LUA) .. " " .. shquote(S.here .. "/" .. prog .. ".lua") .. " " .. libname
    end
  end
  local LIBS = {
    { name = "luasocket", title = "LuaSocket", other = true, cmd = lua_side("luasocket") },
    { name = "luasec", title = "LuaSec", other = true, cmd = lua_side("luasec") },
    { name = "cqueues", title = "cqueues", other = true, cmd = lua_side("cqueues") },
    -- luv's drivers: luv.lua for streams, luv_dgram.lua for datagrams
    { name = "luv", title = "luv", other = true,
      cmd = function(prog) return shquote(S.LUA) .. " " .. shquote(S.here .. "/" .. luv_prog(prog)) end },
    { name = "luv_jit", title = "luv (LuaJIT)", other = true, jit = true,
      cmd = function(prog) return shquote(S.BENCH_LUAJIT) .. " " .. shquote(S.here .. "/" .. luv_prog(prog)) end },
    { name = "c", title = "C",
      cmd = function(prog) return shquote(prog == "tls" and S.BENCH_BASELINE_TLS or S.BENCH_BASELINE) end },
    { name = "lsock", title = "lsock", cmd = lua_side("lsock") },
    { name = "lsock_jit", title = "lsock (LuaJIT)",
      cmd = function(prog)
        return "env LSOCK_CPATH=" .. shquote(S.LSOCK_LUAJIT_CPATH) .. " " .. shquote(S.BENCH_LUAJIT) .. " "
          .. shquote(S.here .. "/" .. prog .. ".lua") .. " lsock"
      end },
  }

  local MIB, UDP, UDP_RECV, UNIX_MIB = S.BENCH_MIB, S.BENCH_UDP_COUNT, S.BENCH_UDP_RECV_COUNT, S.BENCH_UNIX_MIB
  local common = dofile(S.here .. "/common.lua")
  local UDP_MAX = common.UDP_MAX_COUNT
  local file_path = S.BENCH_TMP .. "/file_serve.bin"
  local ROWS = {
    {
      name = "lines", count = S.BENCH_LINES, unit = "lines", calibrate = true, min_count = 2,
      label = "lines: 40 B, receive(\"l\")",
      goal = { { "luasocket", 1.5 } },
      modes = { luasocket = "lines", lsock = "lines", c = "lines", cqueues = "lines", luv = "lines" },
    },
    {
      name = "bulk", count = MIB, unit = "MiB", calibrate = true,
      label = "bulk: receive(65536)",
      goal = { { "luasocket", 1.0 } },
      modes = { luasocket = "bulk", lsock = "bulk", c = "bulk", cqueues = "bulk" },
    },
    {
      name = "recv", count = MIB, unit = "MiB", calibrate = true,
      label = "bulk: recv(65536)",
      modes = { luasocket = "=bulk", lsock = "recv", c = "=bulk", luv = "bulk" },
    },
    {
      -- the server sends the file: lsock with sendfile, LuaSocket reads it
      -- in 64 KiB blocks and sends each, C with sendfile(2); the client is
      -- the library's bulk reader, receive(65536) (C: read())
      name = "file_serve", count = S.BENCH_FILE_MIB, unit = "MiB", file = file_path,
      label = string.format("file_serve: %d MiB file, sendfile", S.BENCH_FILE_MIB),
      goal = { { "c", 0.9 } },
      modes = { luasocket = "file_serve", lsock = "file_serve", c = "file_serve", cqueues = "file_serve",
        luv = "file_serve" },
      setup = function()
        -- the bulk stream, as the other bulk workloads send it
        local f = assert(io.open(file_path, "wb"))
        local chunk = common.bulk_chunk()
        for _ = 1, S.BENCH_FILE_MIB * (1024 * 1024 / common.CHUNK) - 1 do assert(f:write(chunk)) end
        assert(f:write(chunk:sub(1, common.CHUNK - #common.MARK), common.MARK))
        assert(f:close())
        -- written back now, so that no run pays for it; the page cache keeps it
        os.execute("sync " .. shquote(file_path))
      end,
      teardown = function() os.remove(file_path) end,
    },
    {
      name = "udp", group = "udp_rate", count = UDP, unit = "dgrams", prog = "dgram", measured = "server",
      calibrate = true, max_count = UDP_MAX,
      label = "udp: 64 B, send/recv",
      goal = { { "luasocket", 1.0 } },
      modes = { luasocket = "dgram", lsock = "dgram", c = "udp", cqueues = "dgram", luv = "dgram" },
    },
    {
      name = "udp_batch", group = "udp_rate", count = UDP, unit = "dgrams", prog = "dgram", measured = "server",
      calibrate = true, max_count = UDP_MAX,
      label = "udp: 64 B, sendmany/recvmany(64)",
      goal = { { "c", 1.5, row = "udp" } },
      modes = { luasocket = "=udp", lsock = "batch", c = "udp_mmsg", cqueues = "=udp", luv = "batch" },
    },
    {
      name = "udp_recv", count = UDP_RECV, unit = "dgrams", prog = "dgram", measured = "server", sender = "udp_gso",
      calibrate = true, max_count = UDP_MAX,
      label = "udp recv: 64 B, recv",
      modes = { luasocket = "dgram", lsock = "dgram", c = "udp", cqueues = "dgram", luv = "dgram" },
    },
    {
      name = "udp_recvmany", group = "udp_recv", count = UDP_RECV, unit = "dgrams", prog = "dgram",
      measured = "server", sender = "udp_gso", calibrate = true, max_count = UDP_MAX,
      label = "udp recv: 64 B, recvmany(64)",
      modes = { luasocket = "=udp_recv", lsock = "batch", c = "udp_mmsg", cqueues = "=udp_recv", luv = "batch" },
    },
    {
      name = "unix_bulk", count = UNIX_MIB, unit = "MiB", unix = true, calibrate = true,
      label = "unix: receive(65536)",
      modes = { luasocket = "unix_bulk", lsock = "unix_bulk", c = "unix_bulk", cqueues = "unix_bulk" },
    },
    {
      name = "unix_recv", group = "unix_bulk", count = UNIX_MIB, unit = "MiB", unix = true, calibrate = true,
      label = "unix: recv(65536)",
      modes = { luasocket = "=unix_bulk", lsock = "unix_recv", c = "=unix_bulk", luv = "unix_bulk" },
    },
    {
      name = "tcp_pingpong", count = S.BENCH_PINGPONG, unit = "rt", calibrate = true, pin = true,
      label = "tcp ping-pong: 64 B",
      goal = { { "luasocket" }, { "cqueues" }, { "luv" }, { "c", 0.9 } },
      modes = { luasocket = "tcp_pingpong", lsock = "tcp_pingpong", c = "tcp_pingpong", cqueues = "tcp_pingpong",
        luv = "tcp_pingpong" },
    },
    {
      name = "unix_pingpong", count = S.BENCH_PINGPONG, unit = "rt", unix = true, calibrate = true, pin = true,
      label = "unix ping-pong: 64 B",
      modes = { luasocket = "unix_pingpong", lsock = "unix_pingpong", c = "unix_pingpong", cqueues = "unix_pingpong",
        luv = "unix_pingpong" },
    },
    {
      name = "tls_handshake", count = S.BENCH_TLS_HANDSHAKES, unit = "hs", prog = "tls", calibrate = true,
      label = "tls_handshake: new connections",
      goal = { { "luasec" }, { "cqueues" }, { "c", 0.9 } },
      modes = { luasec = "tls_handshake", lsock = "tls_handshake", lsock_jit = "tls_handshake",
        c = "tls_handshake", cqueues = "tls_handshake" },
    },
    {
      name = "tls_bulk", count = S.BENCH_TLS_MIB, unit = "MiB", prog = "tls", calibrate = true,
      label = "tls_bulk: receive(65536)",
      goal = { { "luasec" }, { "cqueues" }, { "c", 0.9 } },
      modes = { luasec = "tls_bulk", lsock = "tls_bulk", lsock_jit = "tls_bulk", c = "tls_bulk",
        cqueues = "tls_bulk" },
    },
  }

  -- The many-connection workloads: every library runs them, the peer (or
  -- the load) is always bench/scale.c.
  local SELECT_LIMIT = 1000 -- LuaSocket's select: FD_SETSIZE 1024, minus the process's own descriptors
  local function scale_modes()
    return { luasocket = "scale", lsock = "scale", c = "scale", cqueues = "scale", luv = "scale" }
  end
  for _, k in ipairs(S.poll_n) do
    ROWS[#ROWS + 1] = {
      name = "poll_scale_" .. k, group = "poll_scale", kind = "poll", n = k, unit = "rt",
      label = string.format("poll_scale: %d idle + 1 pair, 64 B rt", k),
      goal = { { "cqueues" }, { "luv" } },
      modes = scale_modes(), limit = { luasocket = { SELECT_LIMIT, "n/a (select)" } },
    }
  end
  ROWS[#ROWS + 1] = {
    name = "concurrent_echo", kind = "echo", n = S.BENCH_ECHO_CLIENTS, unit = "rt",
    label = string.format("concurrent_echo: %d clients x >=%d lines", S.BENCH_ECHO_CLIENTS, S.BENCH_ECHO_ROUNDS),
    goal = { { "cqueues" }, { "luv" }, { "c", 0.9 } },
    modes = scale_modes(), limit = { luasocket = { SELECT_LIMIT, "n/a (select)" } },
  }
  ROWS[#ROWS + 1] = {
    name = "idle_memory", kind = "mem", n = S.BENCH_MEM_CONNS, unit = "B/conn", lower = true,
    label = string.format("idle_memory: %d idle, RSS per connection", S.BENCH_MEM_CONNS),
    goal = { { max = 1024 } },
    modes = scale_modes(), n_of = { luasocket = math.min(S.BENCH_MEM_CONNS, SELECT_LIMIT) },
  }

  local by_name = {}
  for _, w in ipairs(ROWS) do
    -- lsock on LuaJIT runs every row lsock runs, with the same program
    w.modes.lsock_jit = w.modes.lsock_jit or w.modes.lsock
    -- and luv on LuaJIT every row luv runs: the library to beat there
    w.modes.luv_jit = w.modes.luv_jit or w.modes.luv
    w.group = w.group or w.name
    w.kind = w.kind or "stream"
    by_name[w.name] = w
  end

  -- The text of a cell that cannot run (nil: it can).
  local function skip(w, libname)
    local l = w.limit and w.limit[libname]
    if l and w.n > l[1] then return l[2] end
    if w.n and w.n + 64 > S.BENCH_NOFILE then return "n/a (ulimit -n)" end
    return nil
  end

  -- The rows BENCH_WORKLOADS names (a group, a row, or all), in table order.
  local function pick(names)
    local wanted = {}
    for _, name in ipairs(names) do
      local known = name == "all"
      for _, w in ipairs(ROWS) do
        if name == "all" or w.name == name or w.group == name then
          wanted[w] = true
          known = true
        end
      end
      if not known then
        local groups, seen = {}, {}
        for _, w in ipairs(ROWS) do
          if not seen[w.group] then groups[#groups + 1], seen[w.group] = w.group, true end
        end
        io.stderr:write("run.lua: unknown workload '", name, "' (", table.concat(groups, " "), ")\n")
        os.exit(2)
      end
    end
    local rows = {}
    for _, w in ipairs(ROWS) do
      if wanted[w] then rows[#rows + 1] = w end
    end
    return rows
  end

  for name in pairs(S.libs) do
    local known = false
    for _, lib in ipairs(LIBS) do
      known = known or (lib.name == name and name ~= "lsock_jit" and name ~= "luv_jit")
    end
    if not known then
      io.stderr:write("run.lua: unknown library '", name, "' in BENCH_LIBS (luasocket luasec lsock c cqueues luv)\n")
      os.exit(2)
    end
  end
  S.libs.lsock_jit = S.libs.lsock and S.BENCH_LUAJIT ~= "" or nil
  S.libs.luv_jit = S.libs.luv and S.BENCH_LUAJIT ~= "" or nil

  return { libs = LIBS, rows = ROWS, by_name = by_name, pick = pick, skip = skip, shquote = shquote }
end
