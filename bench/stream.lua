-- bench/stream.lua: one side of one benchmark run, for one Lua library.
--
--   lua stream.lua LIB server WORKLOAD COUNT [PATH]  prints its port (or PATH), serves, prints "ok"
--                                                    (file_serve: PATH is the file, the port is printed)
--   lua stream.lua LIB client WORKLOAD COUNT ADDR    reads, checks, prints "ok SECONDS UNITS"
--
-- LIB       luasocket | lsock | cqueues
-- WORKLOAD  lines     COUNT lines of 40 bytes (39 characters + LF), read one
--                     by one with receive("l") (LuaSocket: "*l")
--           bulk      COUNT MiB sent in 64 KiB strings, read with receive(65536)
--           recv      as bulk, read with recv(65536) (lsock only)
--           unix_bulk, unix_recv
--                     bulk and recv over a unix stream socket: the server
--                     binds PATH, the client connects to it (ADDR)
--           tcp_pingpong
--                     COUNT round trips over TCP: the client sends a 64-byte
--                     message, reads the server's echo with receive(64) and
--                     compares, one at a time; the server echoes with
--                     receive(64) and send
--           unix_pingpong
--                     the same over a unix stream socket
--           file_serve
--                     the server sends the file at PATH (COUNT MiB of the
--                     bulk stream): lsock with sendfile(PATH), LuaSocket
--                     and cqueues with f:read(65536) and send (cqueues:
--                     xwrite), block by block; the
--                     client reads it as bulk, receive(65536)
--
-- For TCP, ADDR is the port the server printed.
--
-- The server writes large batches (64,000 bytes of lines, or 64 KiB chunks)
-- so that the reader is what is measured. The client times itself with the
-- library's clock from just after connect to the last byte, and checks what
-- it got: the number of lines (or bytes), the length of every line, the
-- content of the first and the last, and that nothing follows. A broken
-- library fails the run instead of posting a fast number.
--
-- The lsock module is loaded as "lsock.core" from package.cpath, with the
-- entries of the environment variable LSOCK_CPATH put first. Every wait is
-- bounded: sockets time out after 30 s.
--
-- Runs on Lua 5.1 to 5.4 and LuaJIT. Keep the constants in step with
-- bench/baseline.c.

local LINE_LEN = 39
local LINE = "abcdefghijklmnopqrstuvwxyz0123456789ABC"
local LAST = "zyxwvutsrqponmlkjihgfedcba9876543210XYZ"
local BATCH_LINES = 1600 -- lines per send: 64,000 bytes
local TIMEOUT = 30

local PING_LEN = 64
-- the pingpong workloads: odd round trips carry PAT64, even ones PING_B, the last one
-- PAT64 with MARK as its last 16 bytes
local PING_B = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"

local USAGE = "usage: stream.lua luasocket|lsock|cqueues server|client "
  .. "lines|bulk|recv|unix_bulk|unix_recv|tcp_pingpong|unix_pingpong|file_serve COUNT [ADDR]"

local libname, role, workload, count_s, port_s = ...

package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local common = require "common"
-- The bulk stream (CHUNK, PAT64, MARK: the last 16 bytes) is common.lua's.
local CHUNK, PAT64, MARK = common.CHUNK, common.PAT64, common.MARK
local fail, check = common.reporter(string.format("stream.lua %s %s %s", tostring(libname),
  tostring(role), tostring(workload)))

-- LuaSocket semantics (lsock has the same): send returns the index of the
-- last byte sent; a blocking send normally sends everything at once.
local function send_all(c, data)
  local i, n = 1, #data
  while i <= n do
    local last, err = c:send(data, i)
    if not last then fail("send: %s", tostring(err)) end
    i = last + 1
  end
end

-- file_serve without sendfile: the file read in 64 KiB blocks, each sent
-- with sendall(c, block); returns the bytes sent.
local function read_and_send(sendall, c, path)
  local f, err = io.open(path, "rb")
  if not f then fail("open: %s", tostring(err)) end
  local sent = 0
  while true do
    local block = f:read(65536)
    if not block then break end
    sendall(c, block)
    sent = sent + #block
  end
  f:close()
  return sent
end

-- Each library as the same small set of operations. The hot loops below
-- call the library's own method directly (`receive(conn, pattern)`), never
-- through a wrapper, so that the time is the library's.
local libs = {}

-- LuaSocket and lsock share the API of everything measured here: only the
-- constructor, the clock, the name of the line pattern and the way a file
-- is served (serve_file(conn, path), which returns the bytes sent) differ.
local function socket_like(tcp, clock, line_pattern, unix, serve_file)
  local lib = { clock = clock, line_pattern = line_pattern, sendall = send_all, serve_file = serve_file }
  function lib.listen()
    local s = tcp()
    check(s:bind("127.0.0.1", 0), "bind")
    check(s:listen(1), "listen")
    s:settimeout(TIMEOUT)
    local _, port = s:getsockname()
    return s, port
  end
  function lib.accept(s)
    local c = check(s:accept(), "accept")
    c:settimeout(TIMEOUT)
    s:close()
    return c
  end
  function lib.connect(port)
    local c = tcp()
    c:settimeout(TIMEOUT)
    check(c:connect("127.0.0.1", tonumber(port)), "connect")
    return c
  end
  -- unix stream sockets: the same calls with a path
  function lib.listen_unix(path)
    local s = unix()
    check(s:bind(path), "bind " .. path)
    check(s:listen(1), "listen")
    s:settimeout(TIMEOUT)
    return s
  end
  function lib.connect_unix(path)
    local c = unix()
    c:settimeout(TIMEOUT)
    check(c:connect(path), "connect " .. path)
    return c
  end
  return lib
end

libs.luasocket = function()
  local socket = require "socket"
  -- socket.unix (Debian's LuaSocket 3.1): a table with stream(); older
  -- versions: the module is itself the constructor
  local function unix()
    local u = require "socket.unix"
    return check(type(u) == "table" and u.stream and u.stream() or u(), "socket.unix")
  end
  -- file_serve: LuaSocket has no sendfile; its servers read the file and
  -- send what they read
  local function serve_file(c, path) return read_and_send(send_all, c, path) end
  return socket_like(socket.tcp, socket.gettime, "*l", unix, serve_file)
end

libs.lsock = function()
  local core = common.lsock_core()
  local function unix()
    return check(core.socket("unix", "stream"), "socket unix stream")
  end
  local function serve_file(c, path)
    local sent, err = c:sendfile(path)
    if not sent then fail("sendfile: %s", tostring(err)) end
    return sent
  end
  return socket_like(core.tcp, core.monotime, "l", unix, serve_file)
end

libs.cqueues = function()
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  -- Outside a controller cqueues blocks in its own poll; reads go through
  -- xread, the documented call that returns nil at end of stream, writes
  -- through xwrite with output unbuffered ("bn": each call sends).
  local lib = { clock = cqueues.monotime, line_pattern = "*l", read = "xread", write = "xwrite" }
  local function setup(c)
    c:settimeout(TIMEOUT)
    c:setmode("b", "bn")
    return c
  end
  function lib.listen()
    local s = socket.listen("127.0.0.1", 0)
    s:settimeout(TIMEOUT)
    check(s:listen(), "listen")
    local _, _, port = s:localname()
    return s, port
  end
  function lib.accept(s)
    local c = check(s:accept(), "accept")
    s:close()
    return setup(c)
  end
  function lib.connect(port)
    local c = setup(socket.connect("127.0.0.1", tonumber(port)))
    check(c:connect(), "connect")
    return c
  end
  function lib.sendall(c, data)
    check(c:xwrite(data, "bn"), "write")
  end
  function lib.listen_unix(path)
    local s = socket.listen { path = path }
    s:settimeout(TIMEOUT)
    check(s:listen(), "listen " .. path)
    return s
  end
  function lib.connect_unix(path)
    local c = setup(socket.connect { path = path })
    check(c:connect(), "connect " .. path)
    return c
  end
  function lib.serve_file(c, path) return read_and_send(lib.sendall, c, path) end
  return lib
end

local WORKLOADS = { lines = true, bulk = true, recv = true, unix_bulk = true, unix_recv = true, unix_pingpong = true,
  tcp_pingpong = true, file_serve = true }
local is_pingpong = workload == "tcp_pingpong" or workload == "unix_pingpong"
local is_unix = workload and workload:sub(1, 5) == "unix_"
if not (libname and libs[libname] and (role == "server" or role == "client")
    and WORKLOADS[workload] and count_s) then
  io.stderr:write(USAGE, "\n")
  os.exit(2)
end
local count = tonumber(count_s)
if not count or count < (workload == "lines" and 2 or 1) or count % 1 ~= 0 then
  fail("bad COUNT '%s'", tostring(count_s))
end

local lib = libs[libname]()
if is_unix and not lib.listen_unix then fail("no unix sockets for %s here", libname) end
if workload == "file_serve" and not lib.serve_file then fail("no file_serve for %s here", libname) end

local function rep(s, n)
  local t = {}
  for i = 1, n do t[i] = s end
  return table.concat(t)
end

local bulk_chunk = common.bulk_chunk

-- ---- server -------------------------------------------------------------

local function serve_lines(c)
  local line = LINE .. "\n"
  local batch = rep(line, BATCH_LINES)
  local k = count % BATCH_LINES
  if k == 0 then k = BATCH_LINES end
  for _ = 1, (count - k) / BATCH_LINES do
    lib.sendall(c, batch)
  end
  lib.sendall(c, rep(line, k - 1) .. LAST .. "\n")
end

local function serve_bulk(c)
  local chunk = bulk_chunk()
  local chunks = count * (1024 * 1024 / CHUNK)
  for _ = 1, chunks - 1 do
    lib.sendall(c, chunk)
  end
  lib.sendall(c, chunk:sub(1, CHUNK - #MARK) .. MARK)
end

local function ping_messages()
  local last = PAT64:sub(1, PING_LEN - #MARK) .. MARK
  return PAT64, PING_B, last
end

-- the pingpong workloads: echo every 64-byte message until the client
-- closes; check the number of messages and the last one. A send returns
-- the index of the last byte sent (cqueues' xwrite: the socket).
local function serve_pingpong(c)
  local receive, send = c[lib.read or "receive"], c[lib.write or "send"]
  local got, last = 0, nil
  while true do
    local msg, err, partial = receive(c, PING_LEN)
    if not msg then
      if err ~= nil and err ~= "closed" then fail("message %d: %s", got + 1, tostring(err)) end
      if partial and partial ~= "" then fail("the stream ended inside a message") end
      break
    end
    local i, serr = send(c, msg)
    if i ~= PING_LEN and i ~= c then fail("echo %d: %s", got + 1, tostring(serr)) end
    got, last = got + 1, msg
  end
  local _, _, want = ping_messages()
  if got ~= count then fail("echoed %d messages, expected %d", got, count) end
  if last ~= want then fail("last message: wrong content") end
end

-- file_serve: the whole file, which must be the COUNT MiB of the stream
local function serve_file(c, path)
  local sent = lib.serve_file(c, path)
  if sent ~= count * 1024 * 1024 then fail("sent %d bytes of %s, expected %d", sent, path, count * 1024 * 1024) end
end

local function server()
  if workload == "file_serve" and not port_s then fail("no PATH") end
  local s, port
  if is_unix then
    if not port_s then fail("no PATH") end
    s, port = lib.listen_unix(port_s), port_s
  else
    s, port = lib.listen()
  end
  io.stdout:write(tostring(port), "\n")
  io.stdout:flush()
  local c = lib.accept(s)
  if is_unix then os.remove(port_s) end
  if workload == "lines" then
    serve_lines(c)
  elseif is_pingpong then
    serve_pingpong(c)
  elseif workload == "file_serve" then
    serve_file(c, port_s)
  else
    serve_bulk(c)
  end
  c:close()
  io.stdout:write("ok\n")
end

-- ---- client -------------------------------------------------------------

-- After the last expected byte the peer closes: the next read must say so
-- (nil, "closed" as in LuaSocket; cqueues' xread returns nil) and must not
-- hold data.
local function expect_end(read, c, pattern)
  local data, err, partial = read(c, pattern)
  if data or (partial and partial ~= "") then
    fail("unexpected data after the end of the stream")
  end
  if err ~= nil and err ~= "closed" then
    fail("expected the end of the stream, got: %s", tostring(err))
  end
end

local got = common.got

local function read_lines(c)
  local clock = lib.clock
  local receive = c[lib.read or "receive"]
  local pat = lib.line_pattern
  local t0 = clock()
  local line, err = receive(c, pat)
  if line ~= LINE then fail("line 1: %s", got(line, err, true)) end
  for i = 2, count - 1 do
    line, err = receive(c, pat)
    if not line then fail("line %d: %s", i, got(line, err)) end
    if #line ~= LINE_LEN then fail("line %d: %d bytes, expected %d", i, #line, LINE_LEN) end
  end
  line, err = receive(c, pat)
  local t1 = clock()
  if line ~= LAST then fail("last line: %s", got(line, err, true)) end
  expect_end(receive, c, pat)
  return t1 - t0, count
end

local function read_bulk(c)
  local receive = c[lib.read or "receive"]
  local secs = common.read_chunks(receive, c, count, lib.clock, fail)
  expect_end(receive, c, CHUNK)
  return secs, count * 1024 * 1024
end

-- recv(65536): whatever is available, so the count is of bytes, not calls.
local function read_recv(c)
  if not c.recv or libname ~= "lsock" then fail("recv is an lsock workload") end
  local clock = lib.clock
  local recv = c.recv
  local expected = count * 1024 * 1024
  local t0 = clock()
  local data, err = recv(c, CHUNK)
  if not data then fail("recv: %s", tostring(err)) end
  if data:sub(1, 64) ~= PAT64:sub(1, #data) then fail("wrong content at the start") end
  local total = #data
  local tail = data:sub(-#MARK)
  while total < expected do
    data, err = recv(c, CHUNK)
    if not data then fail("recv after %d bytes: %s", total, tostring(err)) end
    total = total + #data
    if #data >= #MARK then
      tail = data:sub(-#MARK)
    else
      tail = (tail .. data):sub(-#MARK)
    end
  end
  local t1 = clock()
  if total ~= expected then fail("got %d bytes, expected %d", total, expected) end
  if tail ~= MARK then fail("wrong end marker") end
  data, err = recv(c, CHUNK)
  if data or err ~= "closed" then
    fail("expected the end of the stream, got: %s", data and (#data .. " bytes") or tostring(err))
  end
  return t1 - t0, expected
end

-- COUNT round trips, each echo compared with what was sent; the last
-- message is distinct.
local function pingpong(c)
  local clock = lib.clock
  local receive, send = c[lib.read or "receive"], c[lib.write or "send"]
  local a, b, last = ping_messages()
  local t0 = clock()
  for i = 1, count do
    local msg = i == count and last or (i % 2 == 1 and a or b)
    local j, serr = send(c, msg)
    if j ~= PING_LEN and j ~= c then fail("round trip %d: send: %s", i, tostring(serr)) end
    local reply, err = receive(c, PING_LEN)
    if reply ~= msg then fail("round trip %d: %s", i, got(reply, err)) end
  end
  local t1 = clock()
  return t1 - t0, count
end

local function client()
  if not port_s then fail("no ADDR") end
  local c = is_unix and lib.connect_unix(port_s) or lib.connect(port_s)
  local secs, units
  if workload == "lines" then
    secs, units = read_lines(c)
  elseif workload == "bulk" or workload == "unix_bulk" or workload == "file_serve" then
    secs, units = read_bulk(c)
  elseif is_pingpong then
    secs, units = pingpong(c)
  else
    secs, units = read_recv(c)
  end
  c:close()
  io.stdout:write(string.format("ok %.6f %.0f\n", secs, units))
end

if role == "server" then server() else client() end
