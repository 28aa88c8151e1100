-- bench/luv.lua: one side of one benchmark run with luv (libuv), an extra
-- for comparison, not judged. Same protocol, bytes and checks as
-- bench/stream.lua:
--
--   lua luv.lua server WORKLOAD COUNT [PATH]   prints its port (or PATH), serves, prints "ok"
--   lua luv.lua client WORKLOAD COUNT ADDR     reads, checks, prints "ok SECONDS UNITS"
--
-- WORKLOAD  lines, bulk, tcp_pingpong, file_serve (TCP; file_serve: PATH
--           is the file), unix_bulk, unix_pingpong (a unix stream socket,
--           a pipe handle in libuv, at PATH)
--
-- luv has no blocking reads: the client reads with read_start callbacks.
-- Lines are split in Lua with string.find (each line made a string, as the
-- other libraries return it); bulk counts whatever arrives, like recv().
-- The pingpong sides collect 64 bytes from their callbacks, then write the
-- next message (the echo). file_serve reads the file with synchronous
-- fs_read in 64 KiB blocks and writes each, keeping at most QUEUED bytes
-- in libuv's write queue (a luv server that queued the whole file would
-- hold it in memory).
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
local PING_LEN = 64
local PING_B = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
local QUEUED = 4 * CHUNK

local role, workload, count_s, port_s = ...

package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local common = require "common"
local fail, check = common.reporter(string.format("luv.lua %s %s", tostring(role), tostring(workload)))

local WORKLOADS = { lines = true, bulk = true, tcp_pingpong = true, file_serve = true, unix_bulk = true,
  unix_pingpong = true }
if not ((role == "server" or role == "client") and WORKLOADS[workload] and count_s) then
  io.stderr:write("usage: luv.lua server|client lines|bulk|tcp_pingpong|file_serve|unix_bulk|unix_pingpong",
    " COUNT [ADDR]\n")
  os.exit(2)
end
local is_unix = workload:sub(1, 5) == "unix_"
local is_pingpong = workload == "tcp_pingpong" or workload == "unix_pingpong"
local is_bulk = workload == "bulk" or workload == "unix_bulk" or workload == "file_serve"
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

-- the pingpong messages: odd round trips carry PAT64, even ones PING_B, the
-- last one PAT64 with MARK as its last 16 bytes (as bench/stream.lua)
local PING_LAST = PAT64:sub(1, PING_LEN - #MARK) .. MARK

-- Collects the stream's bytes into PING_LEN-byte messages: returns
-- feed(data), which calls on_message(msg) for every complete one.
local function messages(on_message)
  local rest = ""
  return function(data)
    if rest == "" and #data == PING_LEN then return on_message(data) end
    rest = rest .. data
    while #rest >= PING_LEN do
      local msg = rest:sub(1, PING_LEN)
      rest = rest:sub(PING_LEN + 1)
      on_message(msg)
    end
  end
end

local function written(werr)
  if werr then fail("write: %s", werr) end
end

-- file_serve: the file at path, COUNT MiB, block by block
local function serve_file(c, path)
  local fd = check(uv.fs_open(path, "r", 0), "open " .. path)
  local offset, size = 0, count * 1024 * 1024
  local pump
  local finished = false
  local function done(werr)
    written(werr)
    pump()
  end
  function pump()
    -- the writes queued before the end still call back: nothing to do then
    while not finished and c:get_write_queue_size() < QUEUED do
      local block = check(uv.fs_read(fd, CHUNK, offset), "read " .. path)
      if block == "" then
        finished = true
        uv.fs_close(fd)
        if offset ~= size then fail("sent %d bytes of %s, expected %d", offset, path, size) end
        c:shutdown(function(serr)
          if serr then fail("shutdown: %s", serr) end
          c:close()
        end)
        return
      end
      offset = offset + #block
      c:write(block, done)
    end
  end
  pump()
end

-- the pingpong workloads: echo every message until the client closes
local function serve_pingpong(c)
  local got, last = 0, nil
  local feed = messages(function(msg)
    got, last = got + 1, msg
    c:write(msg, written)
  end)
  c:read_start(function(rerr, data)
    if rerr then fail("read: %s", rerr) end
    if data then return feed(data) end
    if got ~= count then fail("echoed %d messages, expected %d", got, count) end
    if last ~= PING_LAST then fail("last message: wrong content") end
    c:close()
  end)
end

local function serve_stream(c)
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
end

local function server()
  local s
  if is_unix then
    if not port_s then fail("no PATH") end
    s = uv.new_pipe(false)
    check(s:bind(port_s), "bind " .. port_s)
  else
    if workload == "file_serve" and not port_s then fail("no PATH") end
    s = uv.new_tcp()
    check(s:bind("127.0.0.1", 0), "bind")
  end
  check(s:listen(1, function(err)
    if err then fail("listen: %s", err) end
    local c = is_unix and uv.new_pipe(false) or uv.new_tcp()
    check(s:accept(c), "accept")
    s:close()
    if is_unix then os.remove(port_s) end
    if is_pingpong then
      serve_pingpong(c)
    elseif workload == "file_serve" then
      serve_file(c, port_s)
    else
      serve_stream(c)
    end
  end), "listen")
  if is_unix then
    io.stdout:write(port_s, "\n")
  else
    local name = check(s:getsockname(), "getsockname")
    io.stdout:write(tostring(name.port), "\n")
  end
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

  local c = is_unix and uv.new_pipe(false) or uv.new_tcp()
  -- pingpong: COUNT round trips, each echo compared with what was sent
  local trips, sent = 0, nil
  local function ping(conn)
    trips = trips + 1
    sent = trips == count and PING_LAST or (trips % 2 == 1 and PAT64 or PING_B)
    conn:write(sent, written)
  end
  local on_data
  if workload == "lines" then
    on_data = on_lines
  elseif is_bulk then
    on_data = on_bulk
  else
    on_data = messages(function(msg)
      if msg ~= sent then fail("round trip %d: wrong content", trips) end
      if trips < count then return ping(c) end
      t1 = uv.hrtime()
      c:close()
    end)
  end
  local function connected(err)
    if err then fail("connect: %s", err) end
    t0 = uv.hrtime()
    c:read_start(function(rerr, data)
      if rerr then fail("read: %s", rerr) end
      if data then
        on_data(data)
      elseif is_pingpong then
        fail("the stream ended after %d round trips", trips)
      else
        t1 = uv.hrtime()
        c:close()
      end
    end)
    if is_pingpong then ping(c) end
  end
  if is_unix then
    c:connect(port_s, connected)
  else
    c:connect("127.0.0.1", check(tonumber(port_s), "PORT", "not a number"), connected)
  end
  uv.run()
  if not t1 then fail("the stream did not end") end
  local units
  if workload == "lines" then
    if rest ~= "" then fail("%d bytes after the last LF", #rest) end
    if lines ~= count then fail("got %d lines, expected %d", lines, count) end
    if last ~= LAST then fail("last line: wrong content") end
    units = count
  elseif is_pingpong then
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
