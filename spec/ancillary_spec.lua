-- spec/ancillary_spec.lua: descriptor passing over unix sockets (sendmsg and
-- recvmsg with SCM_RIGHTS): within one process, between two processes (a
-- child in spec/helpers/fdpass_child.lua), close-on-exec of what arrives,
-- descriptors beyond maxfds closed (never leaked), argument checks,
-- truncation, end of stream and the types that have no sendmsg.
--
-- Every wait is bounded by a 5 s socket timeout; descriptor counts come from
-- /proc (Linux).
local lsock = require "lsock"
local util = require "helpers.util"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each, teardown = teardown }
local track, must = checks.tracker(), checks.must
local assert_raises, assert_integer = checks.assert_raises, checks.assert_integer

local WAIT = 5
local O_CLOEXEC = 524288 -- 02000000 octal
local it_proc = checks.it_if(checks.HAVE_PROC, "no /proc/self/fdinfo (not Linux)")
local CHILD = "spec/helpers/fdpass_child.lua"

local count_fds = checks.count_sockets

-- The descriptor count must be `want`; the message shows both listings.
local function assert_count(want, start_listing)
  local n, now = count_fds()
  assert.equal(want, n, "descriptors at the start:\n" .. tostring(start_listing) .. "\nnow:\n" .. now)
end

-- A settled count: garbage from earlier specs is collected first, so that no
-- collection closes anything while a spec counts.
local function settled_count()
  collectgarbage("collect")
  collectgarbage("collect")
  return count_fds()
end

-- The "flags:" of /proc/self/fdinfo/<fd> as a number (octal in the file).
local function fd_flags(fd)
  local f = io.open("/proc/self/fdinfo/" .. fd)
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  local octal = text:match("flags:%s*(%d+)")
  return octal and tonumber(octal, 8)
end

local function has_bit(flags, bit)
  return math.floor(flags / bit) % 2 == 1
end

local new_path = checks.temp_dir("/tmp/lsock-fdpass.XXXXXX").path

local function pair(t)
  local a, b = lsock.socketpair(t)
  if not a then error("setup failed: socketpair: " .. tostring(b), 2) end
  track(a); track(b)
  a:settimeout(WAIT); b:settimeout(WAIT)
  return a, b
end

-- Wrap received descriptors (they are sockets) so that they are tracked and
-- closed after the spec; returns the wrappers.
local function adopt(fds)
  local out = {}
  for i, fd in ipairs(fds) do
    out[i] = track(must(lsock.fromfd(fd)))
    out[i]:settimeout(WAIT)
  end
  return out
end

-- Close received descriptors now.
local function close_all(fds)
  for _, fd in ipairs(fds) do
    local w = lsock.fromfd(fd)
    if w then w:close() end
  end
end

local function pack(...) return { n = select("#", ...), ... } end

describe("sendmsg/recvmsg within one process", function()
  it("pass a socket: the received descriptor, wrapped with fromfd, reaches the other end", function()
    local x, y = pair()
    local a, b = pair()
    assert.equal(1, a:sendmsg("x", { fds = { x } }))
    local data, fds, trunc = b:recvmsg()
    assert.equal("x", data)
    assert.is_table(fds)
    assert.equal(1, #fds)
    assert.is_nil(trunc)
    assert_integer(fds[1], "the received descriptor")
    assert.are_not.equal(x:getfd(), fds[1])
    local w = adopt(fds)[1]
    assert.equal("unix", w:family())
    assert.equal("stream", w:type())
    assert.equal(11, w:send("via passed\n"))
    assert.equal("via passed", y:receive())
  end)

  it("leave the sender's own descriptor open and working", function()
    local x, y = pair()
    local a, b = pair()
    must(a:sendmsg("x", { fds = { x } }))
    local _, fds = must(b:recvmsg())
    adopt(fds)
    assert.equal(5, x:send("mine\n"))
    assert.equal("mine", y:receive())
  end)

  it("keep the passed socket alive after the sender closes its own", function()
    local x, y = pair()
    local a, b = pair()
    must(a:sendmsg("x", { fds = { x } }))
    x:close()
    local _, fds = must(b:recvmsg())
    local w = adopt(fds)[1]
    w:send("after close\n")
    assert.equal("after close", y:receive())
  end)

  it("return the index of the last byte sent, like send", function()
    local x = pair()
    local a, b = pair()
    assert.equal(5, a:sendmsg("hello", { fds = { x } }))
    local data, fds = b:recvmsg()
    adopt(fds)
    assert.equal("hello", data)
  end)

  it("accept descriptors as integers (getfd()) and as socket objects, mixed", function()
    local x1, y1 = pair()
    local x2, y2 = pair()
    local a, b = pair()
    must(a:sendmsg("two", { fds = { x1:getfd(), x2 } }))
    local data, fds = b:recvmsg()
    assert.equal("two", data)
    assert.equal(2, #fds)
    local w = adopt(fds)
    w[1]:send("first\n")
    w[2]:send("second\n")
    assert.equal("first", y1:receive())
    assert.equal("second", y2:receive())
  end)

  it("send plain data without fds, and recvmsg gives an empty table", function()
    local a, b = pair()
    assert.equal(5, a:sendmsg("plain", {}))
    assert.same({ n = 2, "plain", {} }, pack(b:recvmsg()))
    assert.equal(4, a:send("sent"))
    assert.same({ n = 2, "sent", {} }, pack(b:recvmsg()))
  end)

  it("pass a listening TCP socket that still accepts", function()
    local server, port = util.listen()
    track(server)
    local a, b = pair()
    must(a:sendmsg("L", { fds = { server } }))
    server:close()
    local _, fds = must(b:recvmsg())
    local l = adopt(fds)[1]
    assert.equal("inet", l:family())
    assert.is_true(l:getoption("acceptconn"))
    local c = track(must(lsock.connect("127.0.0.1", port, { timeout = WAIT })))
    local conn = track(must(l:accept()))
    conn:settimeout(WAIT)
    c:send("tcp via fd\n")
    assert.equal("tcp via fd", conn:receive())
  end)

  it("work on seqpacket pairs", function()
    local x, y = pair()
    local a, b = pair("seqpacket")
    must(a:sendmsg("sp", { fds = { x } }))
    local data, fds = b:recvmsg()
    assert.equal("sp", data)
    adopt(fds)[1]:send("sp ok\n")
    assert.equal("sp ok", y:receive())
  end)

  it("send to opts.path from an unconnected dgram socket", function()
    local x, y = pair()
    local p = new_path()
    local r = track(must(lsock.socket("unix", "dgram")))
    r:settimeout(WAIT)
    must(r:bind(p))
    local s = track(must(lsock.socket("unix", "dgram")))
    assert.equal(4, s:sendmsg("to p", { path = p, fds = { x } }))
    local data, fds = r:recvmsg()
    assert.equal("to p", data)
    assert.equal(1, #fds)
    adopt(fds)[1]:send("dgram path\n")
    assert.equal("dgram path", y:receive())
  end)

  it("pass 253 descriptors (the kernel's limit) in one message", function()
    local x = pair()
    local a, b = pair()
    local list = {}
    for i = 1, 253 do list[i] = x end
    must(a:sendmsg("many", { fds = list }))
    local data, fds = b:recvmsg(100, 253)
    assert.equal("many", data)
    assert.equal(253, #fds)
    local seen = {}
    for _, fd in ipairs(fds) do
      assert.is_nil(seen[fd], "descriptor " .. fd .. " given twice")
      seen[fd] = true
    end
    close_all(fds)
  end)
end)

describe("sendmsg/recvmsg between two processes", function()
  it("a child receives one end of a socketpair and writes on it; the parent reads the other end", function()
    local p = new_path()
    local srv = track(must(lsock.unix_listen(p)))
    srv:settimeout(WAIT)
    local child = util.spawn_script(CHILD, "recv", p)
    local conn = track(srv:accept())
    local x, y = pair()
    local sent, line, err
    if conn then
      conn:settimeout(WAIT)
      sent = conn:sendmsg("take", { fds = { y } })
      y:close() -- the child holds the only other copy now
      line, err = x:receive()
    end
    local out = child.wait()
    must(conn, "no connection from the child: " .. out)
    assert.equal(4, sent)
    assert.equal("hello from child", line, tostring(err) .. " / child: " .. out)
    assert.equal("wrote 17", out)
  end)

  it("a child passes a TCP listener to the parent, which accepts on it after the child exited", function()
    local p = new_path()
    local srv = track(must(lsock.unix_listen(p)))
    srv:settimeout(WAIT)
    local child = util.spawn_script(CHILD, "send", p)
    local conn = track(srv:accept())
    local data, fds
    if conn then
      conn:settimeout(WAIT)
      data, fds = conn:recvmsg()
    end
    local out = child.wait()
    must(conn, "no connection from the child: " .. out)
    assert.is_string(data, out)
    local port = tonumber(data)
    assert.equal("sent " .. data, out)
    assert.equal(1, #fds)
    local l = adopt(fds)[1]
    assert.equal("inet", l:family())
    assert.is_true(l:getoption("acceptconn"))
    assert.equal(port, select(2, l:getsockname()))
    local c = track(must(lsock.connect("127.0.0.1", port, { timeout = WAIT })))
    local a = track(must(l:accept()))
    a:settimeout(WAIT)
    c:send("child's listener\n")
    assert.equal("child's listener", a:receive())
  end)

  it("a child passes a connected socket whose other end it keeps talking on", function()
    local p = new_path()
    local srv = track(must(lsock.unix_listen(p)))
    srv:settimeout(WAIT)
    local child = util.spawn_script(CHILD, "pair", p)
    local conn = track(srv:accept())
    local data, fds, line
    if conn then
      conn:settimeout(WAIT)
      data, fds = conn:recvmsg()
      if fds and fds[1] then
        local w = adopt(fds)[1]
        w:send("ping\n")
        line = w:receive()
      end
    end
    local out = child.wait()
    must(conn, "no connection from the child: " .. out)
    assert.equal("end", data)
    assert.equal("pong from child", line, out)
    assert.equal("served ping", out)
  end)
end)

describe("received descriptors", function()
  it_proc("are close-on-exec (O_CLOEXEC in /proc/self/fdinfo)", function()
    local x = pair()
    local a, b = pair()
    local before = fd_flags(x:getfd())
    assert.is_number(before, "fdinfo is readable")
    must(a:sendmsg("c", { fds = { x } }))
    local _, fds = must(b:recvmsg())
    adopt(fds)
    local flags = fd_flags(fds[1])
    assert.is_number(flags)
    assert.is_true(has_bit(flags, O_CLOEXEC), ("flags %o lack O_CLOEXEC"):format(flags))
  end)

  it_proc("are not inherited by a child process", function()
    local x = pair()
    local a, b = pair()
    must(a:sendmsg("c", { fds = { x } }))
    local _, fds = must(b:recvmsg())
    adopt(fds)
    local p = assert(io.popen("ls -l /proc/$$/fd 2>&1"))
    local listing = p:read("*a")
    p:close()
    assert.matches("%d+ %-> ", listing)
    assert.is_nil(listing:match(" " .. fds[1] .. " %-> socket:"), "descriptor " .. fds[1] .. " was inherited")
  end)
end)

describe("descriptors and the stream reader", function()
  it_proc("that arrive while receive() reads ahead are never leaked", function()
    local x = track(must(lsock.socket("unix", "dgram")))
    local a, b = pair()
    local start, listing = settled_count()
    a:send("line\n")
    must(a:sendmsg("x", { fds = { x } }))
    assert.equal("line", b:receive())
    local data, fds = b:recvmsg()
    assert.equal("x", data)
    close_all(fds)
    assert_count(start, listing)
  end)

  it("recvmsg(max) on a stream returns at most max bytes, and no truncation flag", function()
    local a, b = pair()
    a:send("abcdef")
    assert.same({ n = 2, "abc", {} }, pack(b:recvmsg(3)))
    assert.same({ n = 2, "def", {} }, pack(b:recvmsg(3)))
  end)
end)

describe("recvmsg maxfds", function()
  -- hold n fresh sockets as `list`, send them all over a -> b
  local function send_n(a, n)
    local list = {}
    for i = 1, n do list[i] = track(must(lsock.socket("unix", "dgram"))) end
    must(a:sendmsg("m", { fds = list }))
  end

  it_proc("closes the descriptors beyond maxfds: 5 sent, 2 asked", function()
    local a, b = pair()
    local x = {}
    for i = 1, 5 do x[i] = track(must(lsock.socket("unix", "dgram"))) end
    local start, listing = settled_count()
    must(a:sendmsg("m", { fds = x }))
    local data, fds = b:recvmsg(100, 2)
    assert.equal("m", data)
    assert.equal(2, #fds)
    assert_count(start + 2, listing)
    close_all(fds)
    assert_count(start, listing)
  end)

  it_proc("takes 16 by default and closes the rest: 20 sent", function()
    local a, b = pair()
    send_n(a, 20)
    local start, listing = settled_count()
    local data, fds = b:recvmsg()
    assert.equal("m", data)
    assert.equal(16, #fds)
    assert_count(start + 16, listing)
    close_all(fds)
    assert_count(start, listing)
  end)

  it_proc("with maxfds 0 takes none and closes all: 20 sent", function()
    local a, b = pair()
    send_n(a, 20)
    local start, listing = settled_count()
    local data, fds = b:recvmsg(100, 0)
    assert.equal("m", data)
    assert.same({}, fds)
    assert_count(start, listing)
  end)

  it_proc("closes what a dgram receiver did not ask for too", function()
    local a, b = pair("dgram")
    send_n(a, 5)
    local start, listing = settled_count()
    local _, fds = b:recvmsg(100, 1)
    assert.equal(1, #fds)
    assert_count(start + 1, listing)
    close_all(fds)
    assert_count(start, listing)
  end)

  it("raises naming the argument for maxfds out of 0..253", function()
    local _, b = pair()
    b:settimeout(0.05)
    assert_raises({ "maxfds", "#2" }, function() b:recvmsg(100, 254) end)
    assert_raises({ "maxfds", "#2" }, function() b:recvmsg(100, -1) end)
  end)
end)

describe("sendmsg arguments", function()
  it("raise naming the fds for a string entry", function()
    local a = pair()
    assert_raises({ "fds", "#2" }, function() a:sendmsg("x", { fds = { "abc" } }) end)
  end)

  it("raise naming the fds for a closed socket", function()
    local a = pair()
    local x = pair()
    x:close()
    assert_raises({ "fds", "#2" }, function() a:sendmsg("x", { fds = { x } }) end)
  end)

  it("raise naming the fds for more than 253 descriptors", function()
    local a, b = pair()
    local x = pair()
    local list = {}
    for i = 1, 254 do list[i] = x end
    b:settimeout(0.05)
    assert_raises({ "fds", "#2" }, function() a:sendmsg("x", { fds = list }) end)
    -- nothing went out
    assert.same({ n = 2, nil, "timeout" }, pack(b:recvmsg()))
  end)

  it("raise when fds is not a table", function()
    local a = pair()
    assert_raises({ "fds", "#2" }, function() a:sendmsg("x", { fds = 3 }) end)
  end)

  it("raise when opts is not a table", function()
    local a = pair()
    assert_raises({ "#2", "opts", "table" }, function() a:sendmsg("x", "fds") end)
  end)
end)

describe("sendmsg/recvmsg results", function()
  it("recvmsg on dgram gives true as a third result for a datagram longer than max", function()
    local x = pair()
    local a, b = pair("dgram")
    must(a:sendmsg("0123456789", { fds = { x } }))
    local data, fds, trunc = b:recvmsg(4)
    adopt(fds)
    assert.equal("0123", data)
    assert.equal(1, #fds)
    assert.is_true(trunc)
    a:send("short")
    assert.same({ n = 2, "short", {} }, pack(b:recvmsg(100)))
  end)

  it("a zero-length datagram carries descriptors", function()
    local x, y = pair()
    local a, b = pair("dgram")
    assert.equal(0, a:sendmsg("", { fds = { x } }))
    local data, fds = b:recvmsg()
    assert.equal("", data)
    assert.equal(1, #fds)
    adopt(fds)[1]:send("empty dgram\n")
    assert.equal("empty dgram", y:receive())
  end)

  it("a zero-length seqpacket message carries descriptors and is not taken for the end", function()
    local x, y = pair()
    local a, b = pair("seqpacket")
    assert.equal(0, a:sendmsg("", { fds = { x } }))
    local data, fds = b:recvmsg()
    assert.equal("", data)
    assert.equal(1, #fds)
    adopt(fds)[1]:send("empty seqpacket\n")
    assert.equal("empty seqpacket", y:receive())
  end)

  it("sendmsg raises for empty data with descriptors on a stream (they need a byte to ride)", function()
    local x = pair()
    local a = pair()
    assert_raises({ "#1", "data" }, function() a:sendmsg("", { fds = { x } }) end)
  end)

  it("recvmsg on seqpacket gives true for a longer message too", function()
    local a, b = pair("seqpacket")
    a:send("abcdefgh")
    assert.same({ n = 3, "abc", {}, true }, pack(b:recvmsg(3)))
  end)

  it("recvmsg answers nil, \"closed\" after the peer closes (stream)", function()
    local a, b = pair()
    a:send("tail")
    a:close()
    assert.equal("tail", (b:recvmsg()))
    assert.same({ n = 2, nil, "closed" }, pack(b:recvmsg()))
  end)

  it("recvmsg answers nil, \"closed\" after the peer closes (seqpacket)", function()
    local a, b = pair("seqpacket")
    a:close()
    assert.same({ n = 2, nil, "closed" }, pack(b:recvmsg()))
  end)

  it("recvmsg times out with nil, \"timeout\" and waits for \"r\"", function()
    local _, b = pair()
    b:settimeout(0.05)
    assert.same({ n = 2, nil, "timeout" }, pack(b:recvmsg()))
    assert.equal("r", b:events())
  end)

  it("sendmsg on a stream sends it all or times out with nil, \"timeout\", nil, last; fds ride byte 1", function()
    local x, y = pair()
    local a, b = pair()
    a:settimeout(0.2)
    local big = string.rep("z", 8 * 1024 * 1024)
    local r = pack(a:sendmsg(big, { fds = { x } }))
    assert.is_nil(r[1])
    assert.equal("timeout", r[2])
    assert.is_nil(r[3])
    assert.is_number(r[4])
    assert.is_true(r[4] > 0 and r[4] < #big, "last = " .. tostring(r[4]))
    assert.equal("w", a:events())
    local data, fds = b:recvmsg(65536)
    assert.equal("z", data:sub(1, 1))
    assert.equal(1, #fds)
    adopt(fds)[1]:send("rode along\n")
    assert.equal("rode along", y:receive())
  end)

  it("sendmsg and recvmsg answer nil, \"closed\" on a closed socket", function()
    local a, b = pair()
    a:close()
    b:close()
    assert.same({ n = 2, nil, "closed" }, pack(a:sendmsg("x", {})))
    assert.same({ n = 2, nil, "closed" }, pack(b:recvmsg()))
  end)
end)

describe("sendmsg/recvmsg are unix only", function()
  it("sendmsg raises on a udp socket", function()
    local u = track(must(lsock.udp()))
    assert_raises({ "sendmsg" }, function() u:sendmsg("x", {}) end)
  end)

  it("sendmsg and recvmsg raise on a tcp socket", function()
    local client, conn = util.pair()
    track(client); track(conn)
    conn:settimeout(0.05)
    assert_raises({ "sendmsg" }, function() client:sendmsg("x", {}) end)
    assert_raises({ "recvmsg" }, function() conn:recvmsg() end)
  end)
end)
