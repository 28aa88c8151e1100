-- bench/runner.lua: one run of one library on one row: starts its two
-- processes, reads what the measured side printed and checks that both
-- ended well. Returns a function of the settings and the workloads
-- (bench/workloads.lua) that returns run(lib, w [, count]), which gives
-- { figure =, secs =, units =, lost =, count = } (figure: units per second,
-- or bytes per connection for idle_memory; lost: datagrams; count: what
-- the run was given, w.count unless `count` says otherwise) or nil and a
-- message.
--
-- Each run is two processes. The server prints its address (a port, or
-- the unix path it was given) and the client gets it. One side is measured
-- and prints "ok SECONDS UNITS [LOST]", the other prints "ok": the client
-- for the stream workloads (it reads), the server for the udp ones (the
-- receiver). The many-connection workloads print their own figures
-- (bench/scale.lua, bench/scale.c).

local function slurp(path)
  local f = io.open(path, "r")
  local s = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(path)
  return s
end

-- ": " and the first line of a complaint, or nothing
local function because(s)
  s = s:match("^[^\n]*")
  return s ~= "" and (": " .. s) or ""
end

return function(S, W)
  local shquote = W.shquote
  local serr, cerr = S.BENCH_RESULTS .. "/server.err", S.BENCH_RESULTS .. "/client.err"
  local sockets = 0
  local function fresh_path(what)
    sockets = sockets + 1
    local path = string.format("%s/%s-%d.sock", S.BENCH_TMP, what, sockets)
    os.remove(path)
    return path
  end

  -- Starts the server; returns its pipe and the address it printed, or nil
  -- and a message.
  local function start_server(cmd, path)
    local server = assert(io.popen(cmd .. " 2>" .. shquote(serr), "r"))
    local addr = server:read("*l")
    if addr and (addr:match("^%d+$") or (path and addr == path)) then return server, addr end
    server:close()
    local complaint = slurp(serr)
    if complaint ~= "" then io.stderr:write(complaint) end
    return nil, "the server did not start (no address on its stdout)" .. because(complaint)
  end

  -- Runs the client to its end, then waits for the server; returns both
  -- outputs and both complaints (which also go to stderr).
  local function finish(server, clientcmd, path)
    local client = assert(io.popen(clientcmd .. " 2>" .. shquote(cerr), "r"))
    local cout = client:read("*a") or ""
    client:close()
    local sout = server:read("*a") or ""
    server:close()
    if path then os.remove(path) end
    local scomplaint, ccomplaint = slurp(serr), slurp(cerr)
    io.stderr:write(scomplaint, ccomplaint)
    return sout, cout, scomplaint, ccomplaint
  end

  local wrap = S.BENCH_WRAP ~= "" and (S.BENCH_WRAP .. " ") or ""

  local function run_stream(lib, w, count)
    local mode = w.modes[lib.name]
    local pin = w.pin and S.BENCH_PIN ~= "" and (S.BENCH_PIN .. " ") or ""
    local function side(libcmd, role, m, addr)
      local s = pin .. wrap .. libcmd .. " " .. role .. " " .. m .. " " .. string.format("%d", count)
      if addr then s = s .. " " .. shquote(addr) end
      return s
    end
    local path = w.unix and fresh_path(lib.name) or nil
    local prog = w.prog or "stream"
    local server, addr = start_server(side(lib.cmd(prog), "server", mode, path or w.file), path)
    if not server then return nil, addr end
    local clientcmd = w.sender and side(shquote(S.BENCH_BASELINE), "client", w.sender, addr)
      or side(lib.cmd(prog), "client", mode, addr)
    local sout, cout, scomplaint, ccomplaint = finish(server, clientcmd, path)
    local measured, other, mcomplaint, ocomplaint = cout, sout, ccomplaint, scomplaint
    local mname, oname = "client", "server"
    if w.measured == "server" then
      measured, other, mcomplaint, ocomplaint, mname, oname = sout, cout, scomplaint, ccomplaint, "server", "client"
    end
    local secs, units, lost = measured:match("^ok (%S+) (%S+) ?(%S*)")
    secs, units, lost = tonumber(secs), tonumber(units), tonumber(lost)
    if not (secs and units) then
      return nil, "the " .. mname .. " failed" .. because(mcomplaint ~= "" and mcomplaint or ocomplaint)
    end
    if not other:match("^ok\n") then return nil, "the " .. oname .. " failed" .. because(ocomplaint) end
    if secs <= 0 then return nil, "the " .. mname .. " measured no time" end
    local figure = w.unit == "MiB" and units / (1024 * 1024) / secs or units / secs
    return { figure = figure, secs = secs, units = units, lost = lost, count = count }
  end

  -- Every process of the many-connection runs gets `ulimit -n` (10,000
  -- idle connections are 10,000 descriptors on each side) and the timeout.
  local function bounded(cmd)
    return "ulimit -n " .. S.BENCH_NOFILE .. " && " .. wrap .. cmd
  end
  local function scale_side(libname)
    if libname == "c" then return shquote(S.BENCH_SCALE) end
    if libname == "lsock_jit" then
      return "env LSOCK_CPATH=" .. shquote(S.LSOCK_LUAJIT_CPATH) .. " " .. shquote(S.BENCH_LUAJIT) .. " "
        .. shquote(S.here .. "/scale.lua") .. " lsock"
    end
    if libname == "luv_jit" then
      return shquote(S.BENCH_LUAJIT) .. " " .. shquote(S.here .. "/scale.lua") .. " luv"
    end
    return shquote(S.LUA) .. " " .. shquote(S.here .. "/scale.lua") .. " " .. libname
  end
  local function numbers(s)
    local t = {}
    for v in (s:match("^ok([^\n]*)") or ""):gmatch("%S+") do t[#t + 1] = tonumber(v) end
    return s:match("^ok") and t or nil
  end

  local function run_scale(lib, w)
    local n = w.n_of and w.n_of[lib.name] or w.n
    local servercmd, path
    if w.kind == "poll" then
      path = fresh_path("hold")
      servercmd = shquote(S.BENCH_SCALE) .. " server hold " .. n .. " " .. shquote(path)
    else
      servercmd = scale_side(lib.name) .. " server echo " .. n
    end
    local server, addr = start_server(bounded(servercmd), path)
    if not server then return nil, addr end
    local clientcmd
    if w.kind == "poll" then
      clientcmd = scale_side(lib.name) .. " client poll_scale " .. n .. " " .. shquote(path)
    elseif w.kind == "echo" then
      clientcmd = shquote(S.BENCH_SCALE) .. " client concurrent_echo " .. n .. " " .. addr .. " "
        .. S.BENCH_ECHO_ROUNDS .. " " .. S.BENCH_ECHO_SECS
    else
      clientcmd = shquote(S.BENCH_SCALE) .. " client idle_memory " .. n .. " " .. addr
    end
    local sout, cout, scomplaint, ccomplaint = finish(server, bounded(clientcmd), path)
    local c, sv = numbers(cout), numbers(sout)
    if not (c and #c >= 2) then
      return nil, "the client failed" .. because(ccomplaint ~= "" and ccomplaint or scomplaint)
    end
    if not sv then return nil, "the server failed" .. because(scomplaint) end
    if w.kind == "poll" or w.kind == "echo" then
      if w.kind == "echo" and sv[1] ~= c[2] then
        return nil, string.format("the server echoed %s lines, the client counted %d", tostring(sv[1]), c[2])
      end
      if c[1] <= 0 then return nil, "the client measured no time" end
      return { figure = c[2] / c[1], secs = c[1], units = c[2] }
    end
    -- mem: before and after in kB, the connections
    if sv[1] ~= n then return nil, string.format("the server echoed %s lines, expected %d", tostring(sv[1]), n) end
    if not (c[3] == n and c[2] >= c[1]) then return nil, "bad memory figures: " .. cout:match("^[^\n]*") end
    return { figure = (c[2] - c[1]) * 1024 / n, units = n }
  end

  return function(lib, w, count)
    if w.kind == "stream" then return run_stream(lib, w, count or w.count) end
    return run_scale(lib, w)
  end
end
