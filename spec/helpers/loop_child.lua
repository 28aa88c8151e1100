-- Child process for spec/loop_spec.lua: scenarios of lsock.loop that must
-- run in a process of their own. Every wait is bounded (loop.run with a
-- limit, socket timeouts, counted loops), so the child always ends.
--
--   error       three coroutines, one raising at once and one after a
--               sleep; the others finish. Prints on standard output
--               "run R ERR count N" and "done NAMES"; the loop writes the
--               errors to standard error.
--   runtimeout  one coroutine sleeping 5 s; prints "run R ERR count N
--               elapsed S" for loop.run(0.2) and exits without waiting for
--               the sleeper.
--   echo N      a line echo server on the loop and N client coroutines in
--               this one process, all connected at once (the clients wait
--               until every one of them is connected before they send).
--               Prints "run R ERR count N" and "clients N ok N bad N lines
--               N bytes N max_open N accepted N", then up to five failures.
local lsock = require "lsock"
local loop = require "lsock.loop"
local util = require "helpers.util"

local mode = arg[1]
local out = util.out

local function report_run(ok, err, ...)
  out("run", tostring(ok), tostring(err), "count", loop.count(), ...)
end

if mode == "error" then
  local done = {}
  loop.spawn(function()
    loop.sleep(0.02)
    error("boom after a sleep")
  end)
  loop.spawn(function() error("boom at once") end)
  loop.spawn(function()
    loop.sleep(0.05)
    done[#done + 1] = "sleeper"
  end)
  loop.spawn(function()
    local a, b = assert(lsock.socketpair())
    a:settimeout(5)
    b:settimeout(5)
    loop.spawn(function()
      loop.sleep(0.03)
      a:send("after the errors\n")
    end)
    local line = b:receive()
    done[#done + 1] = "reader:" .. tostring(line)
    a:close()
    b:close()
  end)
  report_run(loop.run(10))
  out("done", table.concat(done, " "))

elseif mode == "runtimeout" then
  loop.spawn(function() loop.sleep(5) end)
  local t0 = lsock.monotime()
  local ok, err = loop.run(0.2)
  report_run(ok, err, "elapsed", ("%.3f"):format(lsock.monotime() - t0))
  os.exit(0)

elseif mode == "echo" then
  local N = assert(tonumber(arg[2]), "echo N")
  local LIMIT = 30 -- every socket's timeout, seconds
  local server = assert(lsock.listen("127.0.0.1", 0))
  server:settimeout(LIMIT)
  local _, port = server:getsockname()
  local s = { ok = 0, bad = 0, lines = 0, bytes = 0, open = 0, max_open = 0,
              accepted = 0, connected = 0, failures = {} }
  local function fail(what)
    s.bad = s.bad + 1
    if #s.failures < 5 then s.failures[#s.failures + 1] = what end
  end

  local function serve(conn)
    conn:settimeout(LIMIT)
    s.open = s.open + 1
    if s.open > s.max_open then s.max_open = s.open end
    for _ = 1, 100 do
      local line = conn:receive("L")
      if not line then break end
      s.lines = s.lines + 1
      if not conn:send(line) then break end
    end
    s.open = s.open - 1
    conn:close()
  end

  loop.spawn(function()
    while s.accepted < N do
      local conn, err = server:accept()
      if not conn then
        fail("accept: " .. tostring(err))
        break
      end
      s.accepted = s.accepted + 1
      loop.spawn(serve, conn)
    end
    server:close()
  end)

  -- What client i sends: three lines of different lengths, one ended by
  -- CR LF, with every byte value but LF in them.
  local function lines_of(i)
    local bytes = {}
    for b = 0, 255 do
      local v = (b + i) % 256
      if v ~= 10 then bytes[#bytes + 1] = string.char(v) end
    end
    return {
      ("client %d hello\n"):format(i),
      ("client %d %s\r\n"):format(i, string.rep("x", i % 97)),
      ("client %d "):format(i) .. table.concat(bytes) .. "\n",
    }
  end

  local function client(i)
    local c = lsock.tcp()
    c:settimeout(LIMIT)
    local ok, err = c:connect("127.0.0.1", port)
    if not ok then
      fail(("client %d connect: %s"):format(i, tostring(err)))
      c:close()
      return
    end
    s.connected = s.connected + 1
    -- Wait (counted) until every client is connected: all N are open at once.
    for _ = 1, 1000 do
      if s.connected >= N then break end
      loop.sleep(0.02)
    end
    local lines = lines_of(i)
    local last, serr = c:send(table.concat(lines))
    if not last then
      fail(("client %d send: %s"):format(i, tostring(serr)))
      c:close()
      return
    end
    for k, want in ipairs(lines) do
      local got, rerr = c:receive("L")
      if got ~= want then
        fail(("client %d line %d: got %q (%s)"):format(i, k, tostring(got), tostring(rerr)))
        c:close()
        return
      end
      s.bytes = s.bytes + #got
    end
    c:close()
    s.ok = s.ok + 1
  end
  for i = 1, N do loop.spawn(client, i) end

  report_run(loop.run(60))
  out("clients", N, "ok", s.ok, "bad", s.bad, "lines", s.lines, "bytes", s.bytes,
    "max_open", s.max_open, "accepted", s.accepted)
  for _, f in ipairs(s.failures) do out("failure", f) end

else
  out("unknown mode", tostring(mode))
  os.exit(2)
end
