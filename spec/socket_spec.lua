-- spec/socket_spec.lua: the socket object itself. Creation, argument
-- checking, addresses, connect/accept, IPv6, tostring, timeouts and
-- readiness, close and use after close, __close, __gc, close-on-exec and
-- fromfd. Real sockets on 127.0.0.1 and ::1 only; every wait is bounded by a
-- socket timeout or a counted loop.

local lsock = require "lsock"

local LOCAL4, LOCAL6 = "127.0.0.1", "::1"
local WAIT = 5 -- seconds: the timeout every spec socket gets, so nothing hangs

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must
local assert_raises, assert_integer = checks.assert_raises, checks.assert_integer
local it_ipv6, it_integers, it_lua54 = checks.it_ipv6, checks.it_integers, checks.it_lua54

local function listener(family)
  local host = family == "inet6" and LOCAL6 or LOCAL4
  local server = track(lsock.tcp(family))
  server:settimeout(WAIT)
  must(server:bind(host, 0))
  must(server:listen())
  local _, port = server:getsockname()
  return server, port, host
end

-- client (connected to server), peer (the server's side), server
local function connected_pair(family)
  local server, port, host = listener(family)
  local client = track(lsock.tcp(family))
  client:settimeout(WAIT)
  must(client:connect(host, port))
  local peer = track(must(server:accept()))
  peer:settimeout(WAIT)
  return client, peer, server
end

-- A port on 127.0.0.1 that nothing listens on: bound, then closed.
local function closed_port()
  local s = lsock.tcp()
  must(s:bind(LOCAL4, 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

local it_proc, count_fds = checks.it_proc, checks.count_sockets

describe("lsock module", function()
  it("reports its version", function()
    assert.equal("lsock 0.1.0", lsock._VERSION)
  end)

  it("gives the host's name", function()
    local f = io.open("/proc/sys/kernel/hostname")
    local name = lsock.gethostname()
    assert.is_string(name)
    assert.is_true(#name > 0)
    if f then assert.equal(f:read("*l"), name) f:close() end
  end)

  it("gives the C library's own text of an errno (core._strerror, for the LuaSocket face)", function()
    local core = require "lsock.core"
    assert.equal("Bad file descriptor", core._strerror(lsock.errno.EBADF))
    assert.equal("Connection refused", core._strerror(lsock.errno.ECONNREFUSED))
    assert.has_error(function() core._strerror("x") end)
  end)
end)

describe("socket creation", function()
  it("makes an inet stream socket with lsock.tcp()", function()
    local s = track(lsock.tcp())
    assert.equal("inet", s:family())
    assert.equal("stream", s:type())
  end)

  it("makes an inet6 stream socket with lsock.tcp('inet6')", function()
    local s = track(lsock.tcp("inet6"))
    assert.equal("inet6", s:family())
    assert.equal("stream", s:type())
  end)

  it("makes a socket from family, type and a protocol name", function()
    local s = track(lsock.socket("inet", "stream", "tcp"))
    assert.equal("inet", s:family())
    assert.equal("stream", s:type())
  end)

  it("makes a socket from family, type and a protocol number", function()
    local s = track(lsock.socket("inet6", "stream", 6))
    assert.equal("inet6", s:family())
    assert.equal("stream", s:type())
  end)

  it("makes a socket without a protocol", function()
    local s = track(lsock.socket("inet", "stream"))
    assert.equal("stream", s:type())
  end)

  it("raises naming the argument when the family is unknown", function()
    assert_raises({ "family", "#1" }, function() lsock.socket("bogus", "stream") end)
  end)

  it("raises naming the argument when lsock.tcp gets an unknown family", function()
    assert_raises({ "family", "#1" }, function() lsock.tcp("bogus") end)
  end)

  it("raises naming the argument when the type is unknown", function()
    assert_raises({ "type", "#2" }, function() lsock.socket("inet", "bogus") end)
  end)

  it("raises naming the argument when the protocol is unknown", function()
    assert_raises({ "protocol", "#3" }, function() lsock.socket("inet", "stream", "bogus") end)
  end)

  it("raises naming the argument when the family is not a string", function()
    assert_raises({ "family", "#1" }, function() lsock.socket({}, "stream") end)
  end)

  it("opens every family and type the kernel offers for it", function()
    for _, ft in ipairs({ { "inet", "dgram" }, { "inet6", "dgram" }, { "unix", "dgram" },
                          { "unix", "seqpacket" } }) do
      local s = track(must(lsock.socket(ft[1], ft[2])))
      assert.equal(ft[1], s:family())
      assert.equal(ft[2], s:type())
    end
  end)

  it("returns the system's error for a combination the kernel refuses", function()
    local s, err, errno = lsock.socket("packet", "stream")
    assert.is_nil(s)
    assert.matches("^socket: ", err)
    assert.is_number(errno)
  end)
end)

describe("socket arguments", function()
  it("raises naming the port when it is -1", function()
    local s = track(lsock.tcp())
    assert_raises({ "port", "#2" }, function() s:bind(LOCAL4, -1) end)
  end)

  it("raises naming the port when it is 65536", function()
    local s = track(lsock.tcp())
    assert_raises({ "port", "#2" }, function() s:bind(LOCAL4, 65536) end)
  end)

  it("raises naming the port when it is not a number", function()
    local s = track(lsock.tcp())
    assert_raises({ "port", "#2" }, function() s:bind(LOCAL4, {}) end)
  end)

  it("raises naming the port when it is not an integer", function()
    local s = track(lsock.tcp())
    assert_raises({ "port", "#2" }, function() s:bind(LOCAL4, 80.5) end)
  end)

  it("raises naming the port when connect gets 65536", function()
    local s = track(lsock.tcp())
    s:settimeout(WAIT)
    assert_raises({ "port", "#2" }, function() s:connect(LOCAL4, 65536) end)
  end)

  it("raises naming the port when connect gets -1", function()
    local s = track(lsock.tcp())
    s:settimeout(WAIT)
    assert_raises({ "port", "#2" }, function() s:connect(LOCAL4, -1) end)
  end)

  it("raises naming the address when it is not a string", function()
    local s = track(lsock.tcp())
    assert_raises({ "addr", "#1" }, function() s:bind({}, 0) end)
  end)

  it("raises naming the backlog when it is not a number", function()
    local s = track(lsock.tcp())
    must(s:bind(LOCAL4, 0))
    assert_raises({ "backlog", "#1" }, function() s:listen("many") end)
  end)

  it("raises naming the pattern when receive gets an unknown one", function()
    local _, peer = connected_pair()
    assert_raises({ "pattern", "#1" }, function() peer:receive("bogus") end)
  end)

  it("raises naming the pattern when receive gets a LuaSocket-style unknown one", function()
    local _, peer = connected_pair()
    assert_raises({ "pattern", "#1" }, function() peer:receive("*x") end)
  end)

  it("raises naming the pattern when receive gets a table", function()
    local _, peer = connected_pair()
    assert_raises({ "pattern", "#1" }, function() peer:receive({}) end)
  end)

  it("raises naming the data when send gets a table", function()
    local client = connected_pair()
    assert_raises({ "data", "#1" }, function() client:send({}) end)
  end)

  it("raises naming the data when send gets nil", function()
    local client = connected_pair()
    assert_raises({ "data", "#1" }, function() client:send(nil) end)
  end)

  it("raises naming the limit when recv gets a non-number", function()
    local _, peer = connected_pair()
    assert_raises({ "max", "#1" }, function() peer:recv("lots") end)
  end)

  it("raises naming the argument when settimeout gets a non-number", function()
    local s = track(lsock.tcp())
    assert_raises({ "seconds", "#1" }, function() s:settimeout("soon") end)
  end)

  it("raises naming the mode when settimeout gets an unknown one", function()
    local s = track(lsock.tcp())
    assert_raises({ "mode", "#2" }, function() s:settimeout(1, "x") end)
  end)

  it("raises naming 'how' when shutdown gets an unknown direction", function()
    local client = connected_pair()
    assert_raises({ "how", "#1" }, function() client:shutdown("sideways") end)
  end)

  it("raises when a method gets a number as self", function()
    assert_raises({ "lsock.socket" }, function() track(lsock.tcp()).close(42) end)
  end)

  it("raises when a method from the metatable gets a table as self", function()
    local s = track(lsock.tcp())
    assert_raises({ "lsock.socket" }, function() getmetatable(s).__index.close({}) end)
  end)

  it("raises when a method gets another kind of userdata as self", function()
    local s = track(lsock.tcp())
    local f = assert(io.tmpfile())
    assert_raises({ "lsock.socket" }, function() s.getfd(f) end)
    -- and the file was not touched
    assert.is_truthy(f:write("still open"))
    f:close()
  end)

  it("raises when a method is called with the wrong self through ':' syntax", function()
    local s = track(lsock.tcp())
    local impostor = { getsockname = s.getsockname }
    assert_raises({ "lsock.socket" }, function() impostor:getsockname() end)
  end)
end)

describe("socket metatable", function()
  it("has __name 'lsock.socket'", function()
    local s = track(lsock.tcp())
    assert.equal("lsock.socket", debug.getmetatable(s).__name)
  end)

  it("is a full userdata", function()
    assert.equal("userdata", type(track(lsock.tcp())))
  end)
end)

describe("tostring", function()
  it("describes an unbound socket with its descriptor", function()
    local s = track(lsock.tcp())
    local fd = s:getfd()
    assert.matches("^lsock%.socket: tcp .-%(fd " .. fd .. "%)$", tostring(s))
  end)

  it("describes a bound socket with its address and descriptor", function()
    local s = track(lsock.tcp())
    must(s:bind(LOCAL4, 0))
    local _, port = s:getsockname()
    local text = tostring(s)
    assert.matches("^lsock%.socket: tcp 127%.0%.0%.1:%d+ %(fd %d+%)$", text)
    assert.equal(("lsock.socket: tcp 127.0.0.1:%d (fd %d)"):format(port, s:getfd()), text)
  end)

  it("describes a connected socket as local -> peer", function()
    local client, _, server = connected_pair()
    local text = tostring(client)
    assert.matches("^lsock%.socket: tcp 127%.0%.0%.1:%d+ %-> 127%.0%.0%.1:%d+ %(fd %d+%)$", text)
    local _, here = client:getsockname()
    local _, there = server:getsockname()
    assert.equal(("lsock.socket: tcp 127.0.0.1:%d -> 127.0.0.1:%d (fd %d)"):format(here, there, client:getfd()), text)
  end)

  it_ipv6("puts IPv6 addresses in brackets", function()
    local client = connected_pair("inet6")
    assert.matches("^lsock%.socket: tcp %[::1%]:%d+ %-> %[::1%]:%d+ %(fd %d+%)$", tostring(client))
  end)

  it("says 'lsock.socket: closed' once closed", function()
    local s = lsock.tcp()
    s:close()
    assert.equal("lsock.socket: closed", tostring(s))
  end)
end)

describe("addresses", function()
  it("binds to an ephemeral port on 127.0.0.1", function()
    local s = track(lsock.tcp())
    assert.is_true(s:bind(LOCAL4, 0))
    local addr, port, family = s:getsockname()
    assert.equal(LOCAL4, addr)
    assert.is_true(port > 0 and port <= 65535)
    assert.equal("inet", family)
  end)

  it("binds '*' to the inet wildcard", function()
    local s = track(lsock.tcp())
    assert.is_true(s:bind("*", 0))
    local addr, _, family = s:getsockname()
    assert.equal("0.0.0.0", addr)
    assert.equal("inet", family)
  end)

  it_ipv6("binds '*' to the inet6 wildcard on an inet6 socket", function()
    local s = track(lsock.tcp("inet6"))
    assert.is_true(s:bind("*", 0))
    local addr, _, family = s:getsockname()
    assert.equal("::", addr)
    assert.equal("inet6", family)
  end)

  it("resolves a host name within the socket's family when binding", function()
    local s = track(lsock.tcp())
    assert.is_true(s:bind("localhost", 0))
    assert.equal(LOCAL4, (s:getsockname()))
  end)

  it_integers("returns ports and descriptors as integers", function()
    local client, peer = connected_pair()
    local _, port = client:getsockname()
    assert_integer(port, "getsockname port")
    local _, peer_port = client:getpeername()
    assert_integer(peer_port, "getpeername port")
    assert_integer(client:getfd(), "getfd")
    assert_integer(peer:pollfd(), "pollfd")
  end)

  it("reports an address in use with a message and EADDRINUSE", function()
    local _, port = listener()
    local s = track(lsock.tcp())
    local ok, err, errno = s:bind(LOCAL4, port)
    assert.is_nil(ok)
    assert.matches("address already in use", err)
    assert.equal(lsock.errno.EADDRINUSE, errno)
  end)

  it("answers ENOTCONN from getpeername on an unconnected socket", function()
    local s = track(lsock.tcp())
    local addr, err, errno = s:getpeername()
    assert.is_nil(addr)
    assert.is_string(err)
    assert.equal(lsock.errno.ENOTCONN, errno)
  end)
end)

describe("connect and accept", function()
  it("exchanges a line over 127.0.0.1", function()
    local client, peer = connected_pair()
    assert.equal(6, client:send("hello\n"))
    assert.equal("hello", peer:receive())
    assert.equal(4, peer:send("hi\r\n"))
    assert.equal("hi", client:receive())
  end)

  it("returns true from bind, listen and connect", function()
    local server = track(lsock.tcp())
    server:settimeout(WAIT)
    assert.is_true(server:bind(LOCAL4, 0))
    assert.is_true(server:listen())
    local client = track(lsock.tcp())
    client:settimeout(WAIT)
    assert.is_true(client:connect(LOCAL4, (select(2, server:getsockname()))))
  end)

  it("returns the peer's address and port from accept", function()
    local server, port = listener()
    local client = track(lsock.tcp())
    client:settimeout(WAIT)
    must(client:connect(LOCAL4, port))
    local peer, addr, peer_port = track(server:accept())
    assert.equal("userdata", type(peer))
    assert.equal(LOCAL4, addr)
    assert.equal(select(2, client:getsockname()), peer_port)
  end)

  it("takes a port given as a numeric string, as Lua's own integer arguments do", function()
    local _, port = listener()
    local client = track(lsock.tcp())
    client:settimeout(WAIT)
    assert.is_true(client:connect(LOCAL4, tostring(port)))
    assert.equal(port, select(2, client:getpeername()))
  end)

  it("names the server in getpeername", function()
    local client, _, server = connected_pair()
    local addr, port, family = client:getpeername()
    assert.equal(LOCAL4, addr)
    assert.equal(select(2, server:getsockname()), port)
    assert.equal("inet", family)
  end)

  it("starts an accepted socket without a timeout", function()
    local server, port = listener()
    local client = track(lsock.tcp())
    client:settimeout(WAIT)
    must(client:connect(LOCAL4, port))
    local peer = track(must(server:accept()))
    assert.is_nil(peer:timeout())
  end)

  it("reports a refused connection with context and ECONNREFUSED", function()
    local port = closed_port()
    local s = track(lsock.tcp())
    s:settimeout(WAIT)
    local ok, err, errno = s:connect(LOCAL4, port)
    assert.is_nil(ok)
    assert.matches("^connect 127%.0%.0%.1:%d+: connection refused$", err)
    assert.equal("connect 127.0.0.1:" .. port .. ": connection refused", err)
    assert.is_number(lsock.errno.ECONNREFUSED)
    assert.equal(lsock.errno.ECONNREFUSED, errno)
  end)

  it("reports a refused connection from lsock.connect with ECONNREFUSED", function()
    local port = closed_port()
    local s, err, errno = lsock.connect(LOCAL4, port, { timeout = WAIT })
    track(s)
    assert.is_nil(s)
    assert.matches("connection refused", err)
    assert.equal(lsock.errno.ECONNREFUSED, errno)
  end)

  it("completes a non-blocking connect on a later call", function()
    local _, port = listener()
    local c = track(lsock.tcp())
    c:settimeout(0)
    local ok, err = c:connect(LOCAL4, port)
    if not ok then
      assert.equal("timeout", err)
      assert.equal("w", c:events())
      for _ = 1, 500 do -- at most ~5 s
        ok, err = c:connect(LOCAL4, port)
        if ok or err ~= "timeout" then break end
        lsock.sleep(0.01)
      end
    end
    assert.is_true(ok, err)
    assert.is_nil(c:events())
    assert.equal(port, select(2, c:getpeername()))
  end)
end)

describe("IPv6", function()
  it_ipv6("listens on ::1 and exchanges a line", function()
    local client, peer = connected_pair("inet6")
    assert.equal(9, client:send("over v6\r\n"))
    assert.equal("over v6", peer:receive())
  end)

  it_ipv6("returns '::1', the port and 'inet6' from getsockname", function()
    local s = track(lsock.tcp("inet6"))
    must(s:bind(LOCAL6, 0))
    local addr, port, family = s:getsockname()
    assert.equal(LOCAL6, addr)
    assert.is_true(port > 0 and port <= 65535)
    assert.equal("inet6", family)
  end)

  it_ipv6("returns '::1' from accept and getpeername", function()
    local server, port = listener("inet6")
    local client = track(lsock.tcp("inet6"))
    client:settimeout(WAIT)
    must(client:connect(LOCAL6, port))
    local _, addr = track(server:accept())
    assert.equal(LOCAL6, addr)
    local paddr, pport, pfamily = client:getpeername()
    assert.equal(LOCAL6, paddr)
    assert.equal(port, pport)
    assert.equal("inet6", pfamily)
  end)
end)

describe("lsock.listen", function()
  it("listens on 127.0.0.1 with reuseaddr on", function()
    local s = track(lsock.listen(LOCAL4, 0))
    local addr, port = s:getsockname()
    assert.equal(LOCAL4, addr)
    assert.is_true(port > 0)
    assert.is_true(s:getoption("acceptconn"))
    assert.is_true(s:getoption("reuseaddr"))
  end)

  it("leaves reuseaddr off when opts.reuseaddr is false", function()
    local s = track(lsock.listen(LOCAL4, 0, { reuseaddr = false }))
    assert.is_false(s:getoption("reuseaddr"))
  end)

  it("listens on 0.0.0.0 for '*'", function()
    local s = track(lsock.listen("*", 0))
    local addr, _, family = s:getsockname()
    assert.equal("0.0.0.0", addr)
    assert.equal("inet", family)
  end)

  it("listens on 0.0.0.0 for a nil host", function()
    local s = track(lsock.listen(nil, 0))
    assert.equal("0.0.0.0", (s:getsockname()))
  end)

  it_ipv6("listens on ::1 with family inet6", function()
    local s = track(lsock.listen(LOCAL6, 0, { family = "inet6" }))
    local addr, port, family = s:getsockname()
    assert.equal(LOCAL6, addr)
    assert.is_true(port > 0)
    assert.equal("inet6", family)
  end)

  it_ipv6("listens on :: for '*' with family inet6", function()
    local s = track(lsock.listen("*", 0, { family = "inet6" }))
    assert.equal("::", (s:getsockname()))
  end)

  it_ipv6("sets v6only when asked", function()
    local s = track(lsock.listen(LOCAL6, 0, { family = "inet6", v6only = true }))
    assert.is_true(s:getoption("v6only"))
  end)

  it("accepts a backlog", function()
    local s = track(lsock.listen(LOCAL4, 0, { backlog = 4 }))
    assert.is_true(s:getoption("acceptconn"))
  end)

  it("raises naming lsock.listen and lsock.connect for a port out of range", function()
    assert.has_error(function() lsock.listen(LOCAL4, 65536) end,
      "bad argument #2 to 'listen' (port out of range)")
    assert.has_error(function() lsock.connect(LOCAL4, -1) end,
      "bad argument #2 to 'connect' (port out of range)")
    assert.has_error(function() lsock.connect(LOCAL4, {}) end,
      "bad argument #2 to 'connect' (port expected, got table)")
  end)

  it("takes a service name for the port", function()
    local s, err = lsock.listen(LOCAL4, "http")
    -- binding port 80 may be refused to a non-root user; the name resolved
    if s then
      assert.equal(80, select(2, s:getsockname()))
      s:close()
    else
      assert.matches("^bind 127%.0%.0%.1:80: ", err)
    end
  end)

  it("accepts a connection made with lsock.connect", function()
    local server = track(lsock.listen(LOCAL4, 0))
    server:settimeout(WAIT)
    local _, port = server:getsockname()
    local client = track(lsock.connect(LOCAL4, port, { timeout = WAIT }))
    local peer = track(must(server:accept()))
    peer:settimeout(WAIT)
    assert.equal(5, client:send("ping\n"))
    assert.equal("ping", peer:receive())
  end)

  it("lsock.connect sets nodelay when asked", function()
    local server = track(lsock.listen(LOCAL4, 0))
    local _, port = server:getsockname()
    local client = track(lsock.connect(LOCAL4, port, { timeout = WAIT, nodelay = true }))
    assert.is_true(client:getoption("nodelay"))
  end)

  it("lsock.connect's timeout becomes the socket's timeout", function()
    local server = track(lsock.listen(LOCAL4, 0))
    local _, port = server:getsockname()
    local client = track(lsock.connect(LOCAL4, port, { timeout = 2.5 }))
    local block, total = client:_gettimeouts()
    assert.equal(2.5, block)
    assert.equal(-1, total)
  end)

  it("lsock.connect binds first when asked", function()
    local server = track(lsock.listen(LOCAL4, 0))
    local _, port = server:getsockname()
    local client = track(lsock.connect(LOCAL4, port, { timeout = WAIT, bind = { LOCAL4, 0 } }))
    assert.equal(LOCAL4, (client:getsockname()))
    assert.equal(port, select(2, client:getpeername()))
  end)
end)

describe("timeouts and readiness", function()
  it("has no timeout by default", function()
    assert.is_nil(track(lsock.tcp()):timeout())
  end)

  it("returns true from settimeout", function()
    assert.is_true(track(lsock.tcp()):settimeout(1))
  end)

  -- timeout() is the time left until the deadline of the operation that
  -- answered "timeout" (what a loop waiting on the socket must honour), not
  -- the configured timeout.
  it("has no deadline while nothing waits, whatever its timeout", function()
    local s = track(lsock.tcp())
    s:settimeout(1.5)
    s:settimeout(3, "t")
    assert.is_nil(s:timeout())
  end)

  it("has no deadline after a receive that never waits timed out: a loop never spins", function()
    local client = connected_pair()
    client:settimeout(0)
    assert.same({ nil, "timeout", "" }, { client:receive(1) })
    assert.equal("r", client:events())
    assert.is_nil(client:timeout())
  end)

  it("reports what is left of a total deadline, 0 once it has passed", function()
    local client = connected_pair()
    client:settimeout(0.02, "t")
    assert.same({ nil, "timeout", "" }, { client:receive(1) })
    local t = client:timeout()
    assert.is_number(t)
    assert.is_true(t >= 0 and t < 0.02, "left " .. tostring(t))
  end)

  it("has no deadline again once the pending operation completes", function()
    local client, peer = connected_pair()
    client:settimeout(0.02, "t")
    assert.is_nil((client:receive(1)))
    peer:send("x")
    client:settimeout(WAIT, "t")
    assert.equal("x", client:receive(1))
    assert.is_nil(client:timeout())
  end)

  it("reports the configured limits through _gettimeouts", function()
    local s = track(lsock.tcp())
    assert.same({ -1, -1 }, { s:_gettimeouts() })
    s:settimeout(1.5)
    s:settimeout(3, "t")
    assert.same({ 1.5, 3 }, { s:_gettimeouts() })
  end)

  it("has no pending events on a fresh socket", function()
    assert.is_nil(track(lsock.tcp()):events())
  end)

  it("waits for 'r' after a receive answered timeout", function()
    local _, peer = connected_pair()
    peer:settimeout(0)
    local line, err, partial = peer:receive()
    assert.is_nil(line)
    assert.equal("timeout", err)
    assert.equal("", partial)
    assert.equal("r", peer:events())
  end)

  it("has no pending events once the receive completes", function()
    local client, peer = connected_pair()
    peer:settimeout(0)
    assert.equal("timeout", select(2, peer:receive()))
    client:send("done\n")
    peer:settimeout(WAIT)
    assert.equal("done", peer:receive())
    assert.is_nil(peer:events())
  end)

  it("polls on its own descriptor", function()
    local s = track(lsock.tcp())
    assert.equal(s:getfd(), s:pollfd())
  end)

  it("is not dirty when fresh", function()
    assert.is_false(track(lsock.tcp()):dirty())
  end)

  it("is dirty while a receive leaves data buffered, and clean once it is read", function()
    local client, peer = connected_pair()
    client:send("one\ntwo\n")
    assert.equal("one", peer:receive())
    assert.is_true(peer:dirty())
    assert.equal("two", peer:receive())
    assert.is_false(peer:dirty())
  end)
end)

describe("getstats", function()
  it("counts nothing on a fresh socket", function()
    local received, sent, age = track(lsock.tcp()):getstats()
    assert.equal(0, received)
    assert.equal(0, sent)
    assert.is_number(age)
    assert.is_true(age >= 0)
  end)

  it("counts bytes sent and received", function()
    local client, peer = connected_pair()
    client:send("hello\n")
    assert.equal("hello", peer:receive())
    local received, sent = client:getstats()
    assert.equal(0, received)
    assert.equal(6, sent)
    received, sent = peer:getstats()
    assert.equal(6, received)
    assert.equal(0, sent)
  end)

  it_integers("returns the counts as integers", function()
    local client, peer = connected_pair()
    client:send("x\n")
    peer:receive()
    local received, sent = peer:getstats()
    assert_integer(received, "received")
    assert_integer(sent, "sent")
  end)
end)

describe("shutdown", function()
  it("shutdown('send') lets the peer read to the end of the stream", function()
    local client, peer = connected_pair()
    client:send("bye")
    assert.is_true(client:shutdown("send"))
    assert.equal("bye", peer:receive("a"))
  end)

  it("shutdown() shuts both directions", function()
    local client, peer = connected_pair()
    assert.is_true(client:shutdown())
    assert.equal("", peer:receive("a"))
  end)

  it("shutdown('receive') returns true", function()
    local client = connected_pair()
    assert.is_true(client:shutdown("receive"))
  end)
end)

describe("close", function()
  it("returns true", function()
    assert.is_true(lsock.tcp():close())
  end)

  it("can be called twice", function()
    local s = lsock.tcp()
    assert.is_true(s:close())
    assert.is_true(s:close())
  end)

  it("lets the peer see the end of the stream", function()
    local client, peer = connected_pair()
    client:close()
    local line, err = peer:receive()
    assert.is_nil(line)
    assert.equal("closed", err)
  end)

  -- Every method that docs/reference.md does not list as working on a closed
  -- socket answers nil, "closed". Arguments are valid ones, so only the
  -- closed state can explain the answer.
  local answers_closed = {
    { "bind", LOCAL4, 0 },
    { "listen" },
    { "accept" },
    { "connect", LOCAL4, 1 },
    { "send", "data" },
    { "receive" },
    { "receive", 4 },
    { "recv" },
    { "shutdown" },
    { "getsockname" },
    { "getpeername" },
    { "getfd" },
    { "setoption", "nodelay", true },
    { "getoption", "nodelay" },
    { "pollfd" },
    { "events" },
    { "timeout" },
  }
  for _, case in ipairs(answers_closed) do
    local name = case[1]
    it(name .. "(" .. (case[2] and tostring(case[2]) or "") .. ") answers nil, 'closed' after close", function()
      local s = lsock.tcp()
      s:close()
      local result, err = s[name](s, (table.unpack or unpack)(case, 2))
      assert.is_nil(result)
      assert.equal("closed", err)
    end)
  end

  it("answers nil, 'closed' after closing a connected socket", function()
    local client = connected_pair()
    client:close()
    local addr, err = client:getpeername()
    assert.is_nil(addr)
    assert.equal("closed", err)
    local sent, err2 = client:send("late")
    assert.is_nil(sent)
    assert.equal("closed", err2)
  end)

  it("still takes settimeout after close", function()
    local s = lsock.tcp()
    s:close()
    assert.is_true(s:settimeout(1))
  end)

  it("still answers family and type after close", function()
    local s = lsock.tcp("inet6")
    s:close()
    assert.equal("inet6", s:family())
    assert.equal("stream", s:type())
  end)

  it("still answers getstats after close", function()
    local client, peer = connected_pair()
    client:send("abc\n")
    peer:receive()
    client:close()
    local received, sent, age = client:getstats()
    assert.equal(0, received)
    assert.equal(4, sent)
    assert.is_true(age >= 0)
  end)

  it("is not dirty after close, even with input buffered before", function()
    local client, peer = connected_pair()
    client:send("one\ntwo\n")
    peer:receive()
    peer:close()
    assert.is_false(peer:dirty())
  end)

  it_lua54("closes a socket at the end of a <close> block", function()
    local chunk = assert(load([[
      local lsock = ...
      local seen
      do
        local s <close> = lsock.tcp()
        seen = s
        assert(s:getfd())
      end
      return seen
    ]]))
    local s = chunk(lsock)
    assert.equal("lsock.socket: closed", tostring(s))
    local fd, err = s:getfd()
    assert.is_nil(fd)
    assert.equal("closed", err)
  end)

  it_lua54("closes a <close> socket when an error leaves the block", function()
    local chunk = assert(load([[
      local lsock, box = ...
      local s <close> = lsock.tcp()
      box.s = s
      error("leaving")
    ]]))
    local box = {}
    local ok, err = pcall(chunk, lsock, box)
    assert.is_false(ok)
    assert.matches("leaving", tostring(err))
    assert.equal("lsock.socket: closed", tostring(box.s))
  end)

  it_lua54("does not mind a <close> socket that was closed already", function()
    local chunk = assert(load([[
      local lsock = ...
      local s <close> = lsock.tcp()
      s:close()
      return s
    ]]))
    assert.equal("lsock.socket: closed", tostring(chunk(lsock)))
  end)
end)

describe("descriptors", function()
  it_proc("are opened close-on-exec, including accepted ones", function()
    local client, peer, server = connected_pair()
    local fds = { client:getfd(), peer:getfd(), server:getfd() }
    -- The shell lists its own descriptors: only inherited ones are there.
    local p = assert(io.popen("ls -l /proc/$$/fd 2>&1"))
    local listing = p:read("*a")
    p:close()
    assert.matches("%d+ %-> ", listing) -- the listing did work
    for _, fd in ipairs(fds) do
      assert.is_nil(listing:match(" " .. fd .. " %-> socket:"), "descriptor " .. fd .. " was inherited")
    end
  end)

  -- The sockets are made inside helper functions so that no dead register of
  -- the spec's own frame still refers to one when the collector runs.
  local function count_holding(n)
    local held = {}
    for i = 1, n do held[i] = lsock.tcp() end
    local count = count_fds()
    assert.equal(n, #held)
    return count
  end

  local function drop(n)
    for _ = 1, n do lsock.tcp() end
  end

  it_proc("reclaims 10,000 sockets dropped without close()", function()
    collectgarbage("collect")
    collectgarbage("collect")
    local before = count_fds()
    -- the count does see lsock's descriptors: 100 open sockets add 100
    assert.equal(before + 100, count_holding(100))
    drop(10000)
    collectgarbage("collect")
    collectgarbage("collect")
    assert.equal(before, count_fds())
  end)

  it_integers("are integers", function()
    assert_integer(track(lsock.tcp()):getfd(), "getfd")
  end)
end)

describe("lsock.fromfd", function()
  -- fromfd takes the descriptor over, and lsock has no dup(), so these specs
  -- wrap the descriptor of a live socket `a`, which gives it two owners for a
  -- while. To stay safe, wrapped() runs the probe protected, then closes the
  -- wrapper and `a` back to back (nothing can allocate a descriptor in
  -- between, so `a`'s second close of the number hits nothing), and only then
  -- do the specs assert on what the probe gathered.
  local function wrapped(a, probe, ...)
    local b, err = lsock.fromfd(a:getfd(), ...)
    if not b then
      a:close()
      error("fromfd failed: " .. tostring(err), 2)
    end
    local results = { pcall(probe, b) }
    pcall(b.close, b)
    a:close()
    if not results[1] then error(results[2], 0) end
    return b, results[2]
  end

  it("wraps a descriptor, reading its family and type from it", function()
    local a = lsock.tcp()
    must(a:bind(LOCAL4, 0))
    local fd = a:getfd()
    local _, port = a:getsockname()
    local b, got = wrapped(a, function(b)
      local t = { family = b:family(), type = b:type(), fd = b:getfd(), text = tostring(b) }
      t.addr, t.port, t.sfamily = b:getsockname()
      return t
    end)
    assert.equal("userdata", type(b))
    assert.equal("inet", got.family)
    assert.equal("stream", got.type)
    assert.equal(fd, got.fd)
    assert.equal(LOCAL4, got.addr)
    assert.equal(port, got.port)
    assert.equal("inet", got.sfamily)
    assert.equal(("lsock.socket: tcp 127.0.0.1:%d (fd %d)"):format(port, fd), got.text)
  end)

  it_ipv6("takes the family and type when given", function()
    local a = lsock.tcp("inet6")
    must(a:bind(LOCAL6, 0))
    local _, got = wrapped(a, function(b)
      return { family = b:family(), type = b:type(), addr = (b:getsockname()) }
    end, "inet6", "stream")
    assert.equal("inet6", got.family)
    assert.equal("stream", got.type)
    assert.equal(LOCAL6, got.addr)
  end)

  it("wraps a listening socket that still accepts", function()
    local a = lsock.tcp()
    must(a:bind(LOCAL4, 0))
    must(a:listen())
    local _, port = a:getsockname()
    local _, got = wrapped(a, function(b)
      b:settimeout(WAIT)
      local t = { acceptconn = b:getoption("acceptconn") }
      local client = track(lsock.tcp())
      client:settimeout(WAIT)
      must(client:connect(LOCAL4, port))
      client:send("via fromfd\n")
      local peer = track(must(b:accept()))
      peer:settimeout(WAIT)
      t.line = peer:receive()
      return t
    end)
    assert.is_true(got.acceptconn)
    assert.equal("via fromfd", got.line)
  end)

  it("owns the descriptor: closing the new object closes it", function()
    local a = lsock.tcp()
    must(a:bind(LOCAL4, 0))
    local b = must(lsock.fromfd(a:getfd()))
    b:close()
    local addr, err, errno = a:getsockname()
    a:close()
    assert.is_nil(addr)
    assert.is_string(err)
    assert.equal(lsock.errno.EBADF, errno)
  end)

  it("answers nil, a message and EBADF for a descriptor that is not open", function()
    local s = lsock.tcp()
    local fd = s:getfd()
    s:close() -- fd is free now, and nothing runs in between to reuse it
    local w, err, errno = lsock.fromfd(fd)
    if w then w:close() end
    assert.is_nil(w)
    assert.is_string(err)
    assert.equal(lsock.errno.EBADF, errno)
  end)

  it("does not wrap a negative descriptor", function()
    local ok, w, err = pcall(lsock.fromfd, -1)
    if ok then
      if w then w:close() end
      assert.is_nil(w)
      assert.is_string(err)
    else
      assert.is_string(tostring(w))
    end
  end)

  it("raises naming the argument when fd is not a number", function()
    assert_raises({ "fd", "#1" }, function() lsock.fromfd("three") end)
  end)

  it("raises naming the argument when the family is unknown", function()
    local s = lsock.tcp()
    local fd = s:getfd()
    assert_raises({ "family", "#2" }, function()
      local w = lsock.fromfd(fd, "bogus", "stream")
      if w then w:close() end -- it did not raise: drop both owners at once
    end)
    s:close()
  end)
end)
