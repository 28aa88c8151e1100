-- bench/luv.lua: one side of one benchmark run with luv (libuv), an extra
-- for comparison, not judged. Same protocol, bytes and checks as
-- bench/stream.lua:
--
--   lua luv.lua server lines|bulk COUNT        prints its port, sends, prints "ok"
--   lua luv.lua client lines|bulk COUNT PORT   reads, checks, prints "ok SECONDS UNITS"
--
-- luv has no blocking reads: the client reads with read_start callbacks.
-- Lines are split in Lua with string.find (each line made a string, as the
-- other libraries return it); bulk counts whatever arrives, like recv().
-- Keep the constants in step with bench/stream.lua and bench/baseline.c.

local uv = require "luv"

local LINE_LEN = 39
local LINE = "abcdefghijklmnopqrstuvwxyz0123456789ABC"
local LAST = "zyxwvutsrqponmlkjihgfedcba9876543210XYZ"
local BATCH_LINES = 1600
local CHUNK = 65536
local PAT64 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
local MARK = "-lsock-bench-end"
local TIMEOUT_MS = 30000

local role, workload, count_s, port_s = ...

package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local common = require "common"
local fail, check = common.reporter(string.format("luv.lua %s %s", tostring(role), tostring(workload)))

if not ((role == "server" or role == "client") and (workload == "lines" or workload == "bulk") and count_s) then
  io.stderr:write("usage: luv.lua server|client lines|bulk COUNT [PORT]\n")
  os.exit(2)
end
local count = tonumber(count_s)
if not count or count < (workload == "lines" and 2 or 1) or count % 1 ~= 0 then
  fail("bad COUNT '%s'", tostring(count_s))
end

local function rep(s, n)
  local t = {}
  for i = 1, n do t[i] = s end
  return table.concat(t)
end

-- every run is bounded: the timer fails it after 30 s
local timer = uv.new_timer()
timer:start(TIMEOUT_MS, 0, function() fail("timeout") end)
timer:unref()

local function server()
  local s = uv.new_tcp()
  check(s:bind("127.0.0.1", 0), "bind")
  check(s:listen(1, function(err)
    if err then fail("listen: %s", err) end
    local c = uv.new_tcp()
    check(s:accept(c), "accept")
    s:close()
    local function written(werr)
      if werr then fail("write: %s", werr) end
    end
    if workload == "lines" then
      local line = LINE .. "\n"
      local batch = rep(line, BATCH_LINES)
      local k = count % BATCH_LINES
      if k == 0 then k = BATCH_LINES end
      for _ = 1, (count - k) / BATCH_LINES do c:write(batch, written) end
      c:write(rep(line, k - 1) .. LAST .. "\n", written)
    else
      local chunk = rep(PAT64, CHUNK / 64)
      for _ = 1, count * (1024 * 1024 / CHUNK) - 1 do c:write(chunk, written) end
      c:write(chunk:sub(1, CHUNK - #MARK) .. MARK, written)
    end
    c:shutdown(function(serr)
      if serr then fail("shutdown: %s", serr) end
      c:close()
    end)
  end), "listen")
  local name = check(s:getsockname(), "getsockname")
  io.stdout:write(tostring(name.port), "\n")
  io.stdout:flush()
  uv.run()
  io.stdout:write("ok\n")
end

local function client()
  local find, sub = string.find, string.sub
  local t0, t1
  local lines, last, rest = 0, nil, ""
  local total, tail, head = 0, "", ""

  local function on_lines(data)
    local pos = 1
    if rest ~= "" then
      local nl = find(data, "\n", 1, true)
      if not nl then
        rest = rest .. data
        return
      end
      last = rest .. sub(data, 1, nl - 1)
      lines = lines + 1
      if #last ~= LINE_LEN then fail("line %d: %d bytes", lines, #last) end
      if lines == 1 and last ~= LINE then fail("line 1: wrong content") end
      pos, rest = nl + 1, ""
    end
    while true do
      local nl = find(data, "\n", pos, true)
      if not nl then break end
      local line = sub(data, pos, nl - 1)
      lines = lines + 1
      if #line ~= LINE_LEN then fail("line %d: %d bytes", lines, #line) end
      if lines == 1 and line ~= LINE then fail("line 1: wrong content") end
      last, pos = line, nl + 1
    end
    rest = sub(data, pos)
  end

  local function on_bulk(data)
    if #head < 64 then head = head .. sub(data, 1, 64 - #head) end
    total = total + #data
    if #data >= #MARK then
      tail = sub(data, -#MARK)
    else
      tail = sub(tail .. data, -#MARK)
    end
  end

  local on_data = workload == "lines" and on_lines or on_bulk
  local c = uv.new_tcp()
  c:connect("127.0.0.1", check(tonumber(port_s), "PORT", "not a number"), function(err)
    if err then fail("connect: %s", err) end
    t0 = uv.hrtime()
    c:read_start(function(rerr, data)
      if rerr then fail("read: %s", rerr) end
      if data then
        on_data(data)
      else
        t1 = uv.hrtime()
        c:close()
      end
    end)
  end)
  uv.run()
  if not t1 then fail("the stream did not end") end
  local units
  if workload == "lines" then
    if rest ~= "" then fail("%d bytes after the last LF", #rest) end
    if lines ~= count then fail("got %d lines, expected %d", lines, count) end
    if last ~= LAST then fail("last line: wrong content") end
    units = count
  else
    units = count * 1024 * 1024
    if total ~= units then fail("got %d bytes, expected %d", total, units) end
    if head ~= PAT64 then fail("wrong content at the start") end
    if tail ~= MARK then fail("wrong end marker") end
  end
  io.stdout:write(string.format("ok %.6f %.0f\n", (t1 - t0) / 1e9, units))
end

if role == "server" then server() else client() end
