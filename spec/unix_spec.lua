-- Unix stream sockets: the same stream engine over a path address.
local lsock = require "lsock"

local function tmp_path()
  local path = os.tmpname()
  os.remove(path)
  return path
end

describe("unix stream socket", function()
  local path, server, client, conn

  before_each(function()
    path = tmp_path()
    server = assert(lsock.socket("unix", "stream"))
    assert(server:bind(path))
    assert(server:listen())
    client = assert(lsock.socket("unix", "stream"))
    client:settimeout(5)
    assert(client:connect(path))
    server:settimeout(5)
    conn = assert(server:accept())
    conn:settimeout(5)
  end)

  after_each(function()
    for _, s in ipairs({ conn, client, server }) do s:close() end
    os.remove(path)
  end)

  it("reports its family and type", function()
    assert.equal("unix", conn:family())
    assert.equal("stream", conn:type())
  end)

  it("names the bound path in getsockname and getpeername", function()
    assert.equal(path, server:getsockname())
    assert.equal(path, client:getpeername())
  end)

  it("returns the (empty) path of an unnamed peer from accept", function()
    local c2 = assert(lsock.socket("unix", "stream"))
    assert(c2:connect(path))
    local a, peer = assert(server:accept())
    assert.equal("", peer)
    a:close()
    c2:close()
  end)

  it("carries lines and binary data both ways", function()
    assert.equal(10, client:send("one\r\n\0two\n"))
    assert.equal("one", conn:receive("l"))
    assert.equal("\0two", conn:receive("l"))
    conn:send("back\n")
    assert.equal("back", client:receive())
  end)

  it("describes itself with its path", function()
    assert.matches("^lsock%.socket: unix stream " .. path:gsub("%p", "%%%0") .. " %(fd %d+%)$", tostring(server))
  end)

  it("refuses a connection to a path nobody listens on", function()
    local s = assert(lsock.socket("unix", "stream"))
    local ok, err, errno = s:connect(path .. "-none")
    assert.is_nil(ok)
    assert.matches("^connect .*: no such file or directory$", err)
    assert.equal(lsock.errno.ENOENT, errno)
    s:close()
  end)

  it("raises when the path does not fit in a unix address", function()
    local s = assert(lsock.socket("unix", "stream"))
    assert.has_error(function() s:bind("/" .. string.rep("x", 200)) end,
      "bad argument #1 to 'bind' (path too long for a unix socket)")
    s:close()
  end)
end)

describe("unix abstract namespace (Linux)", function()
  it("binds and connects to an @name", function()
    local f = io.open("/proc/version")
    if not f then
      pending("not Linux: no abstract namespace")
      return
    end
    f:close()
    local name = "@lsock-spec-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e6))
    local server = assert(lsock.socket("unix", "stream"))
    assert(server:bind(name))
    assert(server:listen())
    assert.equal(name, server:getsockname())
    local client = assert(lsock.socket("unix", "stream"))
    assert(client:connect(name))
    local conn = assert(server:accept())
    client:send("x\n")
    conn:settimeout(5)
    assert.equal("x", conn:receive())
    for _, s in ipairs({ conn, client, server }) do s:close() end
  end)
end)

---------------------------------------------------------------------------
-- Issue 5: unix datagram and seqpacket sockets, unix_connect/unix_listen,
-- the abstract namespace, path limits, stale socket files, socketpair and
-- peercred. Every path lives in one temporary directory made for this file
-- (removed at the end, and each path after its spec); every wait is bounded
-- by a 5 s socket timeout or a counted loop.

local util = require "helpers.util"
local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each, teardown = teardown }
local track, must = checks.tracker(), checks.must
local assert_raises, assert_integer = checks.assert_raises, checks.assert_integer

local WAIT = 5
local IS_LINUX = checks.HAVE_PROC
local it_linux = checks.it_if(IS_LINUX, "not Linux: no abstract namespace, /proc or SO_PEERCRED")

local sh = util.succeeds

local function is_socket(p) return sh("test -S " .. util.quote(p)) end
local function exists(p) return sh("test -e " .. util.quote(p)) end

local function read_file(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local our_pid = checks.our_pid

-- One temporary directory for the file; fresh names inside it per spec,
-- removed after each spec.
local tmp = checks.temp_dir("/tmp/lsock-unix.XXXXXX")
local DIR, new_path = tmp.dir, tmp.path

-- A unique abstract name.
local function abstract(tag)
  return ("@lsock-spec-%s-%d-%d-%d"):format(tag or "x", os.time(), math.random(1e6), tmp.serial())
end

-- A path of exactly n bytes inside DIR.
local function path_of_length(n)
  local base = DIR .. "/L"
  assert(#base < n, "temporary directory name too long for the spec")
  return tmp.remember(base .. string.rep("x", n - #base))
end

local function sock(t)
  local s = track(must(lsock.socket("unix", t)))
  s:settimeout(WAIT)
  return s
end

-- A bound, listening socket of type t (stream or seqpacket) at path.
local function server_at(path, t)
  local s = sock(t or "stream")
  must(s:bind(path))
  must(s:listen())
  return s
end

-- client, accepted connection, accepted peer path
local function connect_accept(server, path, t, bind_to)
  local c = sock(t or "stream")
  if bind_to then must(c:bind(bind_to)) end
  must(c:connect(path))
  local conn, peer = must(server:accept())
  track(conn)
  conn:settimeout(WAIT)
  return c, conn, peer
end

local function pack(...) return { n = select("#", ...), ... } end

describe("unix sockets of every type", function()
  for _, t in ipairs({ "stream", "dgram", "seqpacket" }) do
    it("lsock.socket('unix', '" .. t .. "') reports family unix and type " .. t, function()
      local s = sock(t)
      assert.equal("unix", s:family())
      assert.equal(t, s:type())
    end)

    it("binds a " .. t .. " socket to a path, creating a socket file named by getsockname", function()
      local p = new_path()
      local s = sock(t)
      assert.is_true(s:bind(p))
      assert.equal(p, s:getsockname())
      assert.is_true(is_socket(p))
    end)
  end
end)

describe("unix dgram sockets", function()
  it("sendto a path returns the byte count and recvfrom names a bound sender's path", function()
    local rp, sp = new_path("r"), new_path("s")
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    must(s:bind(sp))
    assert.equal(5, s:sendto("hello", rp))
    assert.same({ n = 2, "hello", sp }, pack(r:recvfrom()))
  end)

  it("recvfrom gives \"\" as the path of an unbound sender", function()
    local rp = new_path()
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    assert.equal(3, s:sendto("a\0b", rp))
    assert.same({ n = 2, "a\0b", "" }, pack(r:recvfrom()))
  end)

  it("answers back to the path recvfrom gave", function()
    local rp, sp = new_path("r"), new_path("s")
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    must(s:bind(sp))
    must(s:sendto("ping", rp))
    local _, from = must(r:recvfrom())
    assert.equal(4, r:sendto("pong", from))
    assert.same({ n = 2, "pong", rp }, pack(s:recvfrom()))
  end)

  it("keeps datagram boundaries, zero-length datagrams included", function()
    local rp = new_path()
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    must(s:sendto("first", rp))
    assert.equal(0, s:sendto("", rp))
    must(s:sendto(string.rep("z", 3000), rp))
    assert.equal("first", (r:recvfrom()))
    assert.equal("", (r:recvfrom()))
    assert.equal(string.rep("z", 3000), (r:recvfrom()))
  end)

  it("recvfrom(max) cuts a longer datagram and says so with a last result true", function()
    local rp, sp = new_path("r"), new_path("s")
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    must(s:bind(sp))
    must(s:sendto("0123456789", rp))
    assert.same({ n = 3, "0123", sp, true }, pack(r:recvfrom(4)))
  end)

  it("a connected dgram socket sends with send (returning j) and receives with recv", function()
    local rp = new_path()
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    assert.is_true(s:connect(rp))
    assert.equal(rp, s:getpeername())
    assert.equal(6, s:send("abcdef"))
    assert.equal(4, s:send("abcdef", 2, 4))
    assert.same({ n = 1, "abcdef" }, pack(r:recv()))
    assert.same({ n = 1, "bcd" }, pack(r:recv()))
  end)

  it("recv(max) on a dgram socket returns the first max bytes and true", function()
    local rp = new_path()
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    must(s:connect(rp))
    must(s:send("0123456789"))
    assert.same({ n = 2, "012", true }, pack(r:recv(3)))
  end)

  it("recvfrom times out with nil, \"timeout\"", function()
    local r = sock("dgram")
    must(r:bind(new_path()))
    r:settimeout(0.05)
    assert.same({ n = 2, nil, "timeout" }, pack(r:recvfrom()))
  end)

  it("sendmany to a path and recvmany return every datagram with the sender's path", function()
    local rp, sp = new_path("r"), new_path("s")
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rp))
    must(s:bind(sp))
    assert.equal(3, s:sendmany({ "one", "two", { data = "three", path = rp } }, rp))
    local got = {}
    for _ = 1, 10 do
      local batch = must(r:recvmany(10))
      for _, e in ipairs(batch) do got[#got + 1] = e end
      if #got >= 3 then break end
    end
    assert.equal(3, #got)
    for i, want in ipairs({ "one", "two", "three" }) do
      assert.equal(want, got[i].data)
      assert.equal(sp, got[i].path)
    end
  end)

  it("sending to a path nobody is bound to fails with ENOENT", function()
    local s = sock("dgram")
    local ok, err, errno = s:sendto("x", new_path("none"))
    assert.is_nil(ok)
    assert.is_string(err)
    assert.equal(lsock.errno.ENOENT, errno)
  end)

  it("raises on receive(), the stream line reader", function()
    local s = sock("dgram")
    must(s:bind(new_path()))
    s:settimeout(0.05)
    assert_raises({ "receive" }, function() s:receive() end)
  end)

  it("raises on listen and accept", function()
    local s = sock("dgram")
    must(s:bind(new_path()))
    s:settimeout(0.05)
    assert_raises({ "listen" }, function() s:listen() end)
    assert_raises({ "accept" }, function() s:accept() end)
  end)
end)

describe("unix seqpacket sockets", function()
  local path, server, client, conn, peer_path

  before_each(function()
    path = new_path()
    server = server_at(path, "seqpacket")
    client, conn, peer_path = connect_accept(server, path, "seqpacket")
  end)

  it("listen/accept give connected seqpacket sockets, the peer path \"\" when unbound", function()
    assert.equal("seqpacket", conn:type())
    assert.equal("unix", conn:family())
    assert.equal("", peer_path)
    assert.equal(path, client:getpeername())
    assert.is_true(server:getoption("acceptconn"))
  end)

  it("accept names the path of a bound seqpacket client", function()
    local cp = new_path("c")
    local _, _, peer = connect_accept(server, path, "seqpacket", cp)
    assert.equal(cp, peer)
  end)

  it("keeps message boundaries: three sends of different sizes are three recvs of those sizes", function()
    local msgs = { "a", string.rep("b", 1000), "ccccc" }
    for _, m in ipairs(msgs) do assert.equal(#m, client:send(m)) end
    for _, m in ipairs(msgs) do
      local got = conn:recv()
      assert.equal(#m, #got)
      assert.equal(m, got)
    end
  end)

  it("carries messages the other way too", function()
    assert.equal(4, conn:send("back"))
    assert.equal("back", client:recv())
  end)

  it("recv returns nil, \"closed\" after the peer closes", function()
    client:send("last")
    client:close()
    assert.equal("last", conn:recv())
    assert.same({ nil, "closed" }, { conn:recv() })
  end)

  it("recv(max) cuts a longer message and says so", function()
    client:send("0123456789")
    assert.same({ n = 2, "01234", true }, pack(conn:recv(5)))
  end)

  it("raises on receive(), the stream line reader", function()
    client:send("line\n")
    conn:settimeout(0.05)
    assert_raises({ "receive" }, function() conn:receive() end)
  end)
end)

describe("unix stream sockets refuse the datagram methods", function()
  it("raises on sendto and recvfrom", function()
    local s = sock("stream")
    s:settimeout(0.05)
    assert_raises({ "sendto" }, function() s:sendto("x", new_path()) end)
    assert_raises({ "recvfrom" }, function() s:recvfrom() end)
  end)
end)

describe("lsock.unix_listen and lsock.unix_connect", function()
  -- The permission bits of a file, as octal text ("600").
  local function mode_of(path)
    return util.first_line("stat -c %a " .. util.quote(path))
  end

  it("sets the socket file's permissions with opts.mode, before anyone can connect", function()
    for _, case in ipairs({ { "600", "600" }, { "0660", "660" }, { tonumber("640", 8), "640" } }) do
      local p = new_path()
      local srv = track(must(lsock.unix_listen(p, { mode = case[1] })))
      assert.equal(case[2], mode_of(p))
      assert.is_true(srv:getoption("acceptconn"))
      local c = track(must(lsock.unix_connect(p)))
      srv:settimeout(WAIT)
      track(must(srv:accept()))
      c:close()
      srv:close()
    end
    local p = new_path()
    track(must(lsock.unix_listen(p, { type = "dgram", mode = "620" })))
    assert.equal("620", mode_of(p))
  end)

  it("raises for a mode that is not permissions, and for one on an abstract name", function()
    for _, bad in ipairs({ "rw-------", "0800", "12345", -1, 512, 1.5, true }) do
      assert.has_error(function() lsock.unix_listen(new_path(), { mode = bad }) end,
        "bad argument #2 to 'unix_listen' (opts.mode: permissions from 0 to 0777 expected, "
        .. "as an integer or a string of octal digits)")
    end
    assert.has_error(function() lsock.unix_listen("@lsock-mode-" .. os.time(), { mode = "600" }) end,
      "bad argument #2 to 'unix_listen' (opts.mode: an abstract name has no permissions)")
  end)

  it("listen on a stream socket by default, and unix_connect connects to it", function()
    local p = new_path()
    local srv = track(must(lsock.unix_listen(p)))
    srv:settimeout(WAIT)
    assert.equal("unix", srv:family())
    assert.equal("stream", srv:type())
    assert.is_true(srv:getoption("acceptconn"))
    assert.equal(p, srv:getsockname())
    local c = track(must(lsock.unix_connect(p)))
    c:settimeout(WAIT)
    assert.equal("stream", c:type())
    assert.equal(p, c:getpeername())
    local conn = track(must(srv:accept()))
    conn:settimeout(WAIT)
    c:send("over unix_connect\n")
    assert.equal("over unix_connect", conn:receive())
  end)

  it("take opts.type = \"seqpacket\" and type \"seqpacket\"", function()
    local p = new_path()
    local srv = track(must(lsock.unix_listen(p, { type = "seqpacket", backlog = 4 })))
    srv:settimeout(WAIT)
    assert.equal("seqpacket", srv:type())
    assert.is_true(srv:getoption("acceptconn"))
    local c = track(must(lsock.unix_connect(p, "seqpacket")))
    assert.equal("seqpacket", c:type())
    local conn = track(must(srv:accept()))
    conn:settimeout(WAIT)
    c:send("m1")
    c:send("message two")
    assert.equal("m1", conn:recv())
    assert.equal("message two", conn:recv())
  end)

  it("take opts.type = \"dgram\": a bound (not listening) socket, and a connected client", function()
    local p = new_path()
    local srv = track(must(lsock.unix_listen(p, { type = "dgram" })))
    srv:settimeout(WAIT)
    assert.equal("dgram", srv:type())
    assert.equal(p, srv:getsockname())
    local c = track(must(lsock.unix_connect(p, "dgram")))
    assert.equal("dgram", c:type())
    assert.equal(p, c:getpeername())
    assert.equal(4, c:send("dgrm"))
    assert.same({ n = 2, "dgrm", "" }, pack(srv:recvfrom()))
  end)

  it("unix_connect to a missing path answers nil, a message and ENOENT", function()
    local c, err, errno = lsock.unix_connect(new_path("none"))
    track(c)
    assert.is_nil(c)
    assert.matches("no such file or directory", err)
    assert.equal(lsock.errno.ENOENT, errno)
  end)

  it("unix_connect to a socket file nobody accepts on answers ECONNREFUSED", function()
    local p = new_path()
    local s = lsock.socket("unix", "stream")
    must(s:bind(p))
    s:close()
    local c, err, errno = lsock.unix_connect(p)
    track(c)
    assert.is_nil(c)
    assert.matches("connection refused", err)
    assert.equal(lsock.errno.ECONNREFUSED, errno)
  end)

  it("unix_listen in a missing directory answers nil, a message and ENOENT", function()
    local srv, err, errno = lsock.unix_listen(DIR .. "/no-such-dir/s")
    track(srv)
    assert.is_nil(srv)
    assert.is_string(err)
    assert.equal(lsock.errno.ENOENT, errno)
  end)

  it("raise on an unknown type", function()
    assert_raises({ "type", "bogus" }, function() track(lsock.unix_listen(new_path(), { type = "bogus" })) end)
    assert_raises({ "type", "bogus" }, function() track(lsock.unix_connect(new_path(), "bogus")) end)
  end)
end)

describe("unix abstract namespace names (Linux)", function()
  it_linux("getsockname gives exactly \"@name\"", function()
    local name = abstract("sock")
    local s = sock("stream")
    must(s:bind(name))
    local got = s:getsockname()
    assert.equal(#name, #got)
    assert.is_true(got == name)
  end)

  it_linux("getpeername on the client side gives exactly \"@name\"", function()
    local name = abstract("peer")
    local srv = server_at(name)
    local c = connect_accept(srv, name)
    local got = c:getpeername()
    assert.equal(#name, #got)
    assert.is_true(got == name)
  end)

  it_linux("accept returns exactly the \"@name\" of an abstract-bound client", function()
    local name, cname = abstract("srv"), abstract("cli")
    local srv = server_at(name)
    local _, conn, peer = connect_accept(srv, name, "stream", cname)
    assert.equal(#cname, #peer)
    assert.is_true(peer == cname)
    assert.equal(cname, conn:getpeername())
  end)

  it_linux("recvfrom returns exactly the \"@name\" of an abstract-bound dgram sender", function()
    local rname, sname = abstract("r"), abstract("s")
    local r, s = sock("dgram"), sock("dgram")
    must(r:bind(rname))
    must(s:bind(sname))
    must(s:sendto("from abstract", rname))
    local data, from = r:recvfrom()
    assert.equal("from abstract", data)
    assert.equal(#sname, #from)
    assert.is_true(from == sname)
  end)

  for _, t in ipairs({ "stream", "seqpacket", "dgram" }) do
    it_linux("unix_listen and unix_connect work on an \"@name\" (" .. t .. ")", function()
      local name = abstract(t)
      local srv = track(must(lsock.unix_listen(name, { type = t })))
      srv:settimeout(WAIT)
      assert.equal(name, srv:getsockname())
      local c = track(must(lsock.unix_connect(name, t)))
      c:settimeout(WAIT)
      assert.equal(name, c:getpeername())
      if t == "dgram" then
        c:send("d")
        assert.equal("d", (srv:recvfrom()))
      else
        local conn = track(must(srv:accept()))
        conn:settimeout(WAIT)
        if t == "stream" then
          c:send("x\n")
          assert.equal("x", conn:receive())
        else
          c:send("x")
          assert.equal("x", conn:recv())
        end
      end
    end)
  end

  it_linux("unix_listen on an \"@name\" in use answers EADDRINUSE", function()
    local name = abstract("busy")
    track(must(lsock.unix_listen(name)))
    local s, err, errno = lsock.unix_listen(name)
    track(s)
    assert.is_nil(s)
    assert.matches("address already in use", err, 1, true)
    assert.equal(lsock.errno.EADDRINUSE, errno)
  end)
end)

describe("unix path length", function()
  local long = "/" .. string.rep("x", 200)

  it("raises \"path too long\" for a 200-byte path in connect, sendto, unix_connect and unix_listen", function()
    local s, d = sock("stream"), sock("dgram")
    assert_raises({ "path too long" }, function() s:connect(long) end)
    assert_raises({ "path too long" }, function() d:sendto("x", long) end)
    assert_raises({ "path too long" }, function() track(lsock.unix_connect(long)) end)
    assert_raises({ "path too long" }, function() track(lsock.unix_listen(long)) end)
  end)

  it("binds, names and connects to a path of exactly 107 bytes", function()
    local p = path_of_length(107)
    assert.equal(107, #p)
    local srv = track(must(lsock.unix_listen(p)))
    srv:settimeout(WAIT)
    assert.equal(p, srv:getsockname())
    local c = track(must(lsock.unix_connect(p)))
    assert.equal(p, c:getpeername())
    track(must(srv:accept()))
  end)

  it("raises for a path of 108 bytes (no room for the terminator)", function()
    local p = path_of_length(108)
    local s = sock("stream")
    assert_raises({ "path too long" }, function() s:bind(p) end)
    assert_raises({ "path too long" }, function() track(lsock.unix_listen(p)) end)
    assert.is_false(exists(p))
  end)

  it_linux("binds and connects to an abstract name of 108 bytes counting the '@'", function()
    local name = abstract("max")
    name = name .. string.rep("n", 108 - #name)
    assert.equal(108, #name)
    local srv = server_at(name)
    local got = srv:getsockname()
    assert.equal(108, #got)
    assert.is_true(got == name)
    local c = connect_accept(srv, name)
    assert.is_true(c:getpeername() == name)
  end)

  it_linux("raises for an abstract name of 109 bytes", function()
    local name = abstract("over")
    name = name .. string.rep("n", 109 - #name)
    local s = sock("stream")
    assert_raises({ "path too long" }, function() s:bind(name) end)
  end)
end)

describe("unix_listen and a file already at the path", function()
  it("replaces a socket file left by a closed socket, and the new listener accepts", function()
    local p = new_path()
    local old = lsock.socket("unix", "stream")
    must(old:bind(p))
    must(old:listen())
    old:close()
    assert.is_true(is_socket(p), "the socket file stays after close")
    local srv = track(must(lsock.unix_listen(p)))
    srv:settimeout(WAIT)
    local c = track(must(lsock.unix_connect(p)))
    c:send("fresh\n")
    local conn = track(must(srv:accept()))
    conn:settimeout(WAIT)
    assert.equal("fresh", conn:receive())
  end)

  it("replaces a socket file left by a process that bound it and exited", function()
    local p = new_path()
    assert.equal("bound " .. p, util.spawn_script("spec/helpers/unix_peer.lua", "bindexit", p).wait())
    assert.is_true(is_socket(p), "the child left its socket file")
    local srv = track(must(lsock.unix_listen(p)))
    srv:settimeout(WAIT)
    local c = track(must(lsock.unix_connect(p)))
    assert.is_truthy(c)
    track(must(srv:accept()))
  end)

  it("replaces a stale socket file for a dgram socket too", function()
    local p = new_path()
    local old = lsock.socket("unix", "dgram")
    must(old:bind(p))
    old:close()
    local srv = track(must(lsock.unix_listen(p, { type = "dgram" })))
    srv:settimeout(WAIT)
    local c = track(must(lsock.unix_connect(p, "dgram")))
    c:send("dg")
    assert.equal("dg", (srv:recvfrom()))
  end)

  it("refuses a path a live listener holds, and that listener still accepts", function()
    local p = new_path()
    local live = track(must(lsock.unix_listen(p)))
    live:settimeout(WAIT)
    local s, err, errno = lsock.unix_listen(p)
    track(s)
    assert.is_nil(s)
    assert.equal("unix_listen " .. p .. ": address already in use", err)
    assert.equal(lsock.errno.EADDRINUSE, errno)
    assert.is_true(is_socket(p))
    local c = track(must(lsock.unix_connect(p)))
    c:send("still here\n")
    -- unix_listen tells a live socket from a stale one by connecting to it,
    -- so the live listener's queue may hold that probe (closed, no data)
    -- in front of the client's connection: accept at most two.
    local line, rerr
    for _ = 1, 2 do
      local conn = track(must(live:accept()))
      conn:settimeout(WAIT)
      line, rerr = conn:receive()
      if line then break end
    end
    assert.equal("still here", line, rerr)
  end)

  it("refuses a path a live dgram socket holds, and that socket still receives", function()
    local p = new_path()
    local live = track(must(lsock.unix_listen(p, { type = "dgram" })))
    live:settimeout(WAIT)
    local s, err, errno = lsock.unix_listen(p, { type = "dgram" })
    track(s)
    assert.is_nil(s)
    assert.matches("address already in use", err, 1, true)
    assert.equal(lsock.errno.EADDRINUSE, errno)
    local c = track(must(lsock.unix_connect(p, "dgram")))
    c:send("alive")
    assert.equal("alive", (live:recvfrom()))
  end)

  it("refuses a path a live listener of another type holds (seqpacket live, stream asked)", function()
    local p = new_path()
    local live = track(must(lsock.unix_listen(p, { type = "seqpacket" })))
    live:settimeout(WAIT)
    local s, err, errno = lsock.unix_listen(p)
    track(s)
    assert.is_nil(s)
    assert.matches("address already in use", err, 1, true)
    assert.equal(lsock.errno.EADDRINUSE, errno)
    local c = track(must(lsock.unix_connect(p, "seqpacket")))
    c:send("sp")
    local conn = track(must(live:accept()))
    conn:settimeout(WAIT)
    assert.equal("sp", conn:recv())
  end)

  it("never removes a regular file: EADDRINUSE, \"not a socket\", the file and its content stay", function()
    local p = new_path("file")
    local f = assert(io.open(p, "wb"))
    f:write("precious\n")
    f:close()
    local s, err, errno = lsock.unix_listen(p)
    track(s)
    assert.is_nil(s)
    assert.equal("unix_listen " .. p .. ": address already in use (not a socket)", err)
    assert.equal(lsock.errno.EADDRINUSE, errno)
    assert.equal("precious\n", read_file(p))
  end)

  it("never removes a directory: EADDRINUSE, \"not a socket\", the directory stays", function()
    local p = new_path("dir")
    must(sh("mkdir " .. util.quote(p)), "mkdir")
    local s, err, errno = lsock.unix_listen(p)
    track(s)
    assert.is_nil(s)
    assert.matches("not a socket", err, 1, true)
    assert.equal(lsock.errno.EADDRINUSE, errno)
    assert.is_true(sh("test -d " .. util.quote(p)))
  end)
end)

describe("lsock.socketpair", function()
  it("makes two connected unix stream sockets by default", function()
    local a, b = lsock.socketpair()
    track(a); track(b)
    must(a and b)
    for _, s in ipairs({ a, b }) do
      s:settimeout(WAIT)
      assert.equal("unix", s:family())
      assert.equal("stream", s:type())
    end
    assert.equal(4, a:send("a2b\n"))
    assert.equal("a2b", b:receive())
    assert.equal(4, b:send("b2a\n"))
    assert.equal("b2a", a:receive())
  end)

  it("makes dgram pairs that keep message boundaries both ways", function()
    local a, b = lsock.socketpair("dgram")
    track(a); track(b)
    must(a and b)
    a:settimeout(WAIT); b:settimeout(WAIT)
    assert.equal("dgram", a:type())
    assert.equal("dgram", b:type())
    assert.equal("unix", a:family())
    a:send("one")
    a:send("two!")
    assert.equal("one", b:recv())
    assert.equal("two!", b:recv())
    b:send("back")
    assert.equal("back", a:recv())
  end)

  it("makes seqpacket pairs that keep boundaries and see the close", function()
    local a, b = lsock.socketpair("seqpacket")
    track(a); track(b)
    must(a and b)
    a:settimeout(WAIT); b:settimeout(WAIT)
    assert.equal("seqpacket", a:type())
    assert.equal("seqpacket", b:type())
    b:send("12")
    b:send("345")
    assert.equal("12", a:recv())
    assert.equal("345", a:recv())
    a:send("x")
    assert.equal("x", b:recv())
    a:close()
    assert.same({ nil, "closed" }, { b:recv() })
  end)

  it("raises on an unknown or wrong type", function()
    assert_raises({ "type", "#1", "bogus" }, function() lsock.socketpair("bogus") end)
    assert_raises({ "type", "#1", "raw" }, function() lsock.socketpair("raw") end)
    assert_raises({ "type", "#1" }, function() lsock.socketpair({}) end)
  end)
end)

describe("peercred", function()
  local uid = tonumber(util.first_line("id -u", true))
  local gid = tonumber(util.first_line("id -g", true))

  it_linux("gives this process's pid, uid and gid on a socketpair, as integers", function()
    local a, b = lsock.socketpair()
    track(a); track(b)
    local pid, u, g = a:peercred()
    assert_integer(pid, "pid")
    assert_integer(u, "uid")
    assert_integer(g, "gid")
    assert.equal(our_pid(), pid)
    assert.equal(uid, u)
    assert.equal(gid, g)
    assert.same({ our_pid(), uid, gid }, { b:peercred() })
  end)

  it_linux("gives the connecting process on an accepted connection, and the server on the client", function()
    local p = new_path()
    local srv = server_at(p)
    local c, conn = connect_accept(srv, p)
    assert.same({ our_pid(), uid, gid }, { conn:peercred() })
    assert.same({ our_pid(), uid, gid }, { c:peercred() })
  end)

  it_linux("gives a child process's pid for its connection", function()
    local p = new_path()
    local srv = server_at(p)
    local child = util.spawn_script("spec/helpers/unix_peer.lua", "pid", p)
    local conn = track(srv:accept())
    local pid, u, g
    if conn then
      pid, u, g = conn:peercred()
      conn:send("bye\n")
    end
    local out = child.wait()
    must(conn, "no connection from the child: " .. out)
    local child_pid = tonumber(out:match("pid (%d+)"))
    assert.is_number(child_pid, out)
    assert.matches("bye$", out)
    assert.equal(child_pid, pid)
    assert.are_not.equal(our_pid(), pid)
    assert.equal(uid, u)
    assert.equal(gid, g)
  end)

  it("raises on an inet socket (unix only)", function()
    local client, conn = util.pair()
    track(client); track(conn)
    assert_raises({ "peercred" }, function() client:peercred() end)
  end)

  it("answers nil, \"closed\" on a closed socket", function()
    local a, b = lsock.socketpair()
    track(b)
    a:close()
    assert.same({ nil, "closed" }, { a:peercred() })
  end)
end)
