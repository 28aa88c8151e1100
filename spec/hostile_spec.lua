-- spec/hostile_spec.lua: hostile input, from the network and from Lua.
--
-- * A peer that never ends its line (a child writing "x" forever, for a
--   bounded time): receive and receiveuntil with `max` answer "too long"
--   with exactly `max` bytes, the socket's buffer and Lua's heap stay
--   bounded, and the connection closes cleanly. Delimiters cut into single
--   bytes right at the `max` boundary (max - 1, max, max + 1), and a
--   delimiter that never comes.
-- * Malformed arguments: addresses, ports, option names and values for
--   every option of the reference, unix paths at and over the kernel's
--   limit, abstract names, zero bytes. Each one is either a Lua error that
--   names the argument (a programmer error) or `nil, err, errno` (a runtime
--   failure), with the exact message; never a crash, never a silent cut.
-- * Datagrams larger than `max` on UDP, unix dgram and seqpacket sockets:
--   truncation reported, the next datagram intact, recvmany too.
-- * recvmsg with more descriptors than asked for: the first ones arrive,
--   the rest are closed, none leaked.
-- * A TLS server in lsock.loop fed random bytes, truncated ClientHellos,
--   oversized hellos built by hand, and hellos that stall: each fails with
--   the error lsock reports for it, and a well-behaved client is served
--   during and after them, with no descriptor left behind.
--
-- No packet leaves loopback: addresses that are not loopback are only
-- bound, or resolved with {numeric = true}, never sent to, and no name is
-- looked up (a malformed address given to bind or sendto would go to the
-- resolver, hence DNS: those go to getaddrinfo with numeric = true here).
--
-- Sizing: LSOCK_HOSTILE_MAX (default 262144) is the `max` of the endless
-- line, LSOCK_HOSTILE_ROUNDS (default 8) how many "too long" answers are
-- read from it.
local lsock = require "lsock"
local core = require "lsock.core"
local loop = require "lsock.loop"
local tls = require "lsock.tls"
local util = require "helpers.util"
local certs = require "helpers.certs"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each, teardown = teardown }
local track, must = checks.tracker(), checks.must

local unpack = table.unpack or unpack
local E = lsock.errno
local PEER = util.HELPERS .. "hostile_peer.lua"
local MAX = tonumber(os.getenv("LSOCK_HOSTILE_MAX")) or 256 * 1024
local ROUNDS = tonumber(os.getenv("LSOCK_HOSTILE_ROUNDS")) or 8
local MiB = 1024 * 1024
local LONG = ("a"):rep(MiB)  -- a 1 MiB string for arguments

local function pack(...) return { n = select("#", ...), ... } end

-- The message a call raises, without the "file:line: " that Lua puts in
-- front of errors raised from a Lua function (the LuaJIT FFI methods are).
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected a Lua error, the call returned " .. tostring(err))
  return (tostring(err):gsub("^[%w%./_%-]+:%d+: ", ""))
end

-- fn must raise exactly `msg` (position aside).
local function assert_raises_msg(msg, fn)
  assert.equal(msg, raised(fn))
end

-- fn must return exactly these values (count included).
local function assert_returns(want, fn)
  local got = pack(pcall(fn))
  assert.is_true(got[1], "the call raised: " .. tostring(got[2]))
  assert.same(want, pack(select(2, unpack(got, 1, got.n))))
end

-- Its arguments, through a call that is not a tail call: LuaJIT names a
-- C function called in a tail call '?' in its argument errors.
local function keep(...) return ... end

-- `s` as a Lua pattern that matches it literally.
local function literal(s) return (s:gsub("%W", "%%%0")) end


after_each(function()
  if loop.count() > 0 then loop.run(util.TIMEOUT) end
end)

-- The 4th result of getstats: bytes the receive buffer holds.
local function buffered(s) return select(4, s:getstats()) end

--------------------------------------------------------------------------
describe("an endless line from the network", function()

  -- The child floods for at most 20 s; the specs close it long before.
  local function flooded()
    local server, port = util.listen()
    track(server)
    local child = util.spawn_script_within(30, PEER, "flood", port, 20)
    local conn = track(util.accept(server))
    server:close()
    return conn, child
  end

  it("gives receive and receiveuntil 'too long' with max bytes, memory bounded, and closes cleanly", function()
    local conn, child = flooded()
    collectgarbage("collect")
    local heap0 = collectgarbage("count")
    local xs = ("x"):rep(MAX)
    local most = 0
    for round = 1, ROUNDS do
      local data, err, partial
      if round % 2 == 1 then
        data, err, partial = conn:receive("l", nil, MAX)
      else
        data, err, partial = conn:receiveuntil("\r\n\r\n", nil, MAX)
      end
      assert.is_nil(data)
      assert.equal("too long", err)
      assert.equal(MAX, #partial)
      assert.is_true(partial == xs, "round " .. round .. ": the partial result is not max x's")
      most = math.max(most, buffered(conn))
      -- It reads ahead at most one buffer beyond what it handed out.
      local received = conn:getstats()
      assert.is_true(received - round * MAX <= buffered(conn),
        ("round %d: %d bytes read, %d handed out, %d buffered"):format(round, received, round * MAX,
          buffered(conn)))
    end
    -- The buffer holds max and one read beyond it, rounded up to a power
    -- of two: never the flood.
    assert.is_true(most <= 2 * (MAX + 65536), "the receive buffer grew to " .. most .. " bytes")
    -- A prefix counts toward max.
    assert.same({ nil, "too long", "abc" .. xs:sub(4) }, { conn:receive("l", "abc", MAX) })
    collectgarbage("collect")
    local grown = collectgarbage("count") - heap0
    assert.is_true(grown < 2 * MAX / 1024 + 256,
      ("Lua's heap grew by %.0f KiB over %d rounds of %d bytes"):format(grown, ROUNDS, MAX))
    assert.is_true(conn:close())
    assert.equal("stopped closed", child.wait())
  end)

  it("answers 'too long' as soon as max bytes without a delimiter are there", function()
    -- A socketpair: the writer is in this process and stops where it likes.
    local a, b = util.socketpair()
    track(a); track(b)
    local D, M = "--XYZ--", 1000
    assert(a:send(("a"):rep(M - 1)))
    b:settimeout(0.1)
    -- max - 1 bytes and no delimiter: could still end in time
    local data, err, partial = b:receiveuntil(D, nil, M)
    assert.same({ nil, "timeout", ("a"):rep(M - 1) }, { data, err, partial })
    -- exactly max bytes, resumed with the prefix: still could be a line of max
    assert(a:send("a"))
    data, err, partial = b:receiveuntil(D, partial, M)
    assert.same({ nil, "timeout", ("a"):rep(M) }, { data, err, partial })
    -- the start of the delimiter after max bytes: still undecided
    assert(a:send("--X"))
    data, err, partial = b:receiveuntil(D, partial, M)
    assert.same({ nil, "timeout", ("a"):rep(M) .. "--X" }, { data, err, partial })
    -- the rest of the delimiter: a line of exactly max
    assert(a:send("YZ--"))
    assert.same({ ("a"):rep(M) }, { b:receiveuntil(D, partial, M) })
    assert.equal(0, buffered(b))
  end)

  it("answers 'too long' at the first byte that rules the delimiter out after max bytes", function()
      local a, b = util.socketpair()
      track(a); track(b)
      local D, M = "--XYZ--", 1000
      b:settimeout(0.1)
      assert(a:send(("a"):rep(M) .. "--X"))
      local data, err, partial = b:receiveuntil(D, nil, M)
      assert.same({ nil, "timeout", ("a"):rep(M) .. "--X" }, { data, err, partial })
      -- a false start: now the content is longer than max
      assert(a:send("Q"))
      assert.same({ nil, "too long", ("a"):rep(M) }, { b:receiveuntil(D, partial, M) })
      assert(a:send(D))
      assert.equal("--XQ", b:receiveuntil(D))
      -- and without a prefix: max + 1 bytes that cannot begin the delimiter
      assert(a:send(("a"):rep(M) .. "b"))
      assert.same({ nil, "too long", ("a"):rep(M) }, { b:receiveuntil(D, nil, M) })
    end)

  -- The child sends, for each length N, N bytes "a" and then the delimiter
  -- one byte per write, 20 ms apart: "\r\n" for receive("l"), then
  -- "--XYZ--" for receiveuntil.
  local M = 1000
  for _, n in ipairs({ M - 1, M, M + 1 }) do
    it(("finds a delimiter cut into single bytes after %d bytes with max %d"):format(n, M), function()
      local server, port = util.listen()
      track(server)
      local D = "--XYZ--"
      local child = util.spawn_script_within(30, PEER, "split", port, n, 0.02,
        util.tohex("\r\n"), util.tohex(D))
      local conn = track(util.accept(server))
      server:close()
      local content = ("a"):rep(n)
      if n <= M then
        assert.same({ content }, { conn:receive("l", nil, M) })
        assert.same({ content }, { conn:receiveuntil(D, nil, M) })
      else
        assert.same({ nil, "too long", content:sub(1, M) }, { conn:receive("l", nil, M) })
        assert.same({ "a" }, { conn:receive("l") }) -- the rest of the line stayed unread
        assert.same({ nil, "too long", content:sub(1, M) }, { conn:receiveuntil(D, nil, M) })
        assert.same({ "a" }, { conn:receiveuntil(D) })
      end
      assert.is_true(conn:close())
      -- 1 + 2 pieces for the line, 1 + 7 for the boundary
      assert.equal("split 11", child.wait())
    end)
  end
end)

--------------------------------------------------------------------------
describe("a count far beyond what comes", function()
  it("reserves at most 16 MiB ahead of the bytes that came, and raises nothing", function()
    local a, b = util.socketpair()
    track(a)
    track(b)
    b:settimeout(0.05)
    assert(a:send("abc"))
    for _, n in ipairs({ 2 ^ 40, 2 ^ 52, 1e15 }) do
      local data, err, partial = b:receive(n)
      assert.same({ nil, "timeout" }, { data, err })
      assert.equal("abc", partial)
      local buffer = select(4, b:getstats())
      assert.is_true(buffer <= 16 * 2 ^ 20 + 65536, "the receive buffer holds " .. buffer .. " bytes")
      assert(a:send(partial)) -- the bytes go round again for the next count
    end
  end)
end)

describe("malformed addresses", function()

  it("are runtime failures of bind when numeric but not local, with the address read", function()
    -- "1.2.3" is a legal numeric form (inet_aton: 1.2.0.3), not truncated.
    local s = track(lsock.udp())
    assert_returns(pack(nil, "bind 1.2.0.3:0: cannot assign requested address", E.EADDRNOTAVAIL),
      function() return s:bind("1.2.3", 0) end)
  end)

  it("are resolver failures of getaddrinfo with numeric = true, the whole text in the message", function()
    for _, a in ipairs({ "::::", "256.0.0.1", "", "1.2.3.4.5", "::1::", LONG }) do
      assert_returns(pack(nil, "getaddrinfo " .. a .. ": name or service not known"),
        function() return lsock.getaddrinfo(a, "80", { numeric = true }) end)
    end
    local r = must(lsock.getaddrinfo("1.2.3", "80", { numeric = true, type = "stream" }))
    assert.equal("1.2.0.3", r[1].addr)
  end)

  it("raise in getnameinfo, which takes numeric addresses only", function()
    for _, a in ipairs({ "1.2.3x", "::::", "256.0.0.1", "", LONG }) do
      assert_raises_msg("bad argument #1 to 'getnameinfo' (numeric address expected)",
        function() return (lsock.getnameinfo(a, 80, { numerichost = true, numericserv = true })) end)
    end
    assert_raises_msg("bad argument #1 to 'getnameinfo' (string expected, got table)",
      function() return (lsock.getnameinfo({}, 80)) end)
  end)

  it("that are not strings raise naming the argument", function()
    local s = track(lsock.udp())
    for _, v in ipairs({ {}, true }) do
      assert_raises_msg("bad argument #1 to 'bind' (string expected, got " .. type(v) .. ")",
        function() return (s:bind(v, 0)) end)
      assert_raises_msg("bad argument #2 to 'sendto' (string expected, got " .. type(v) .. ")",
        function() return (s:sendto("x", v, 9)) end)
    end
    assert_raises_msg("bad argument #1 to 'bind' (string expected, got nil)",
      function() return (s:bind(nil, 0)) end)
  end)

  it("with a zero byte raise instead of being cut short", function()
      local s = track(lsock.udp())
      assert.matches("^bad argument #1 to 'bind' %(.*zero byte.*%)$",
        raised(function() return (s:bind("127.0.0.1\0evil", 0)) end))
      assert.matches("^bad argument #2 to 'sendto' %(.*zero byte.*%)$",
        raised(function() return (s:sendto("x", "127.0.0.1\0evil", 9)) end))
      assert.matches("^bad argument #1 to 'getnameinfo' %(.*zero byte.*%)$",
        raised(function() return (lsock.getnameinfo("127.0.0.1\0x", 80, { numerichost = true })) end))
    end)
end)

--------------------------------------------------------------------------
describe("malformed ports", function()
  local OUT, FRACTION = "port out of range", "port must be an integer"
  local cases = {
    { -1, OUT }, { 65536, OUT }, { 1.5, FRACTION }, { "80x", "port expected, got string" },
    { 0 / 0, FRACTION }, { 1e300, OUT }, { math.huge, OUT }, { -math.huge, OUT },
    { "99999999999999999999999", OUT }, { "1.5", FRACTION },
    { 2 ^ 53, OUT }, { {}, "port expected, got table" },
  }

  for _, c in ipairs(cases) do
    local port, why = c[1], c[2]
    it(("raise for %s in bind, connect, sendto and getnameinfo"):format(tostring(port)), function()
      local s, u = track(lsock.tcp()), track(lsock.udp())
      s:settimeout(1)
      assert_raises_msg("bad argument #2 to 'bind' (" .. why .. ")",
        function() return (s:bind("127.0.0.1", port)) end)
      assert_raises_msg("bad argument #2 to 'connect' (" .. why .. ")",
        function() return (s:connect("127.0.0.1", port)) end)
      assert_raises_msg("bad argument #3 to 'sendto' (" .. why .. ")",
        function() return (u:sendto("x", "127.0.0.1", port)) end)
      assert_raises_msg("bad argument #2 to 'getnameinfo' (" .. why .. ")",
        function() return (lsock.getnameinfo("127.0.0.1", port)) end)
      -- nothing was done: the socket is still unbound
      assert.equal("0.0.0.0", (s:getsockname()))
    end)
  end

  it("raise out of range in lsock.connect, lsock.listen and getaddrinfo", function()
    for _, port in ipairs({ -1, 65536, 1e300 }) do
      assert.matches("bad argument #2 to 'connect' %(port out of range%)$",
        raised(function() return (lsock.connect("127.0.0.1", port, { timeout = 1 })) end))
      assert.matches("bad argument #2 to 'listen' %(port out of range%)$",
        raised(function() return (lsock.listen("127.0.0.1", port)) end))
    end
    for _, port in ipairs({ -1, 65536 }) do
      assert.matches("bad argument #2 to 'getaddrinfo' %(port out of range%)$",
        raised(function() return (lsock.getaddrinfo("127.0.0.1", port, { numeric = true })) end))
    end
  end)

  it("that are not numbers are service names to getaddrinfo: a resolver failure", function()
    assert_returns(pack(nil, "getaddrinfo 127.0.0.1: name or service not known"),
      function() return lsock.getaddrinfo("127.0.0.1", "80x", { numeric = true }) end)
  end)
end)

--------------------------------------------------------------------------
describe("malformed socket options", function()
  local function got(v) return type(v) end

  -- Every option of the reference, with the socket it belongs on and its
  -- kind. "negative" is what setting -1 gives (the kernel's answer).
  local INVAL = function(name) return pack(nil, "setoption " .. name .. ": invalid argument", E.EINVAL) end
  local OPTIONS = {
    { "reuseaddr", "bool" }, { "reuseport", "bool" }, { "keepalive", "bool" },
    { "nodelay", "bool" }, { "broadcast", "bool", "udp" }, { "dontroute", "bool" },
    { "v6only", "bool", "tcp6" }, { "multicast_loop", "bool", "udp" }, { "udp_gro", "bool", "udp" },
    { "keepidle", "int", "tcp", INVAL }, { "keepintvl", "int", "tcp", INVAL },
    { "keepcnt", "int", "tcp", INVAL }, { "rcvbuf", "int", "tcp", "clamped" },
    { "sndbuf", "int", "tcp", "clamped" }, { "ttl", "int", "tcp", "default" },
    { "tos", "int", "tcp", "ok" }, { "multicast_ttl", "int", "udp", "default" },
    { "unicast_hops", "int", "udp6", "default" }, { "multicast_hops", "int", "udp6", "default" },
  }

  local function socket_for(where)
    if where == "udp" then return track(lsock.udp()) end
    if where == "udp6" then return track(must(lsock.udp("inet6"))) end
    if where == "tcp6" then return track(must(lsock.tcp("inet6"))) end
    return track(lsock.tcp())
  end

  for _, o in ipairs(OPTIONS) do
    local name, kind, where, negative = o[1], o[2], o[3], o[4]
    it(("raise for values of the wrong type for %s (%s)"):format(name, kind), function()
      local s = socket_for(where)
      local set = function(v) return function() return keep(s:setoption(name, v)) end end
      if kind == "bool" then
        for _, v in ipairs({ "x", "10", -1, 1.5, 0 / 0, 1e300, {}, 1 }) do
          assert_raises_msg("bad argument #2 to 'setoption' (boolean expected, got " .. got(v) .. ")", set(v))
        end
        assert_raises_msg("bad argument #2 to 'setoption' (boolean expected, got nil)", set(nil))
        assert_returns(pack(true), set(true))
        assert_returns(pack(true), function() return s:getoption(name) end)
      else
        for _, v in ipairs({ "x", "", 1.5, 0 / 0, 1e300, math.huge, {}, true }) do
          assert_raises_msg("bad argument #2 to 'setoption' (integer expected, got " .. got(v) .. ")", set(v))
        end
        assert_raises_msg("bad argument #2 to 'setoption' (integer expected, got nil)", set(nil))
        for _, v in ipairs({ 2 ^ 31, -2 ^ 31 - 1, 2 ^ 53 }) do
          assert_raises_msg("bad argument #2 to 'setoption' (value out of range)", set(v))
        end
        -- A negative value is the kernel's to judge (rcvbuf/sndbuf: below).
        if type(negative) == "function" then
          assert_returns(negative(name), set(-1))
        elseif negative ~= "clamped" then
          assert_returns(pack(true), set(-1))
          local v = s:getoption(name)
          if negative == "default" then
            -- -1 asks for the default hop limit / TTL
            assert.is_true(v >= 1 and v <= 255, name .. " reads " .. tostring(v))
          end
        end
        -- A numeric string is a number, as in Lua's own functions.
        assert_returns(pack(true), set("10"))
        if negative ~= "clamped" and name ~= "tos" then assert.equal(10, s:getoption(name)) end
      end
    end)
  end

  it("raise for a negative rcvbuf or sndbuf", function()
      local s = track(lsock.tcp())
      for _, name in ipairs({ "rcvbuf", "sndbuf" }) do
        assert.matches("^bad argument #2 to 'setoption' %(.*negative.*%)$",
          raised(function() return (s:setoption(name, -1)) end))
      end
    end)

  it("raise for linger values that are not seconds or false", function()
    local s = track(lsock.tcp())
    local set = function(v) return function() return keep(s:setoption("linger", v)) end end
    for _, v in ipairs({ "x", 1.5, 0 / 0, 1e300, {}, true }) do
      assert_raises_msg("bad argument #2 to 'setoption' (seconds or false expected, got " .. got(v) .. ")", set(v))
    end
    assert_raises_msg("bad argument #2 to 'setoption' (seconds or false expected, got nil)", set(nil))
    assert_raises_msg("bad argument #2 to 'setoption' (linger seconds must not be negative)", set(-1))
    assert_raises_msg("bad argument #2 to 'setoption' (value out of range)", set(2 ^ 31))
    assert_returns(pack(true), set(false))
    assert_returns(pack(true), set(2147483647))
  end)

  it("raise for multicast_if values that are not an interface", function()
    local u = track(lsock.udp())
    local set = function(v) return function() return keep(u:setoption("multicast_if", v)) end end
    for _, v in ipairs({ "x", "1.2.3", "256.0.0.1", "", LONG }) do
      assert_raises_msg("bad argument #2 to 'setoption' (multicast_if: IPv4 address expected, got '" .. v .. "')",
        set(v))
    end
    assert_raises_msg("bad argument #2 to 'setoption' (multicast_if: IPv4 address expected, got table)", set({}))
    assert_raises_msg("bad argument #2 to 'setoption' (multicast_if: address contains a zero byte)",
      set("127.0.0.1\0x"))
    local u6 = track(must(lsock.udp("inet6")))
    local set6 = function(v) return function() return keep(u6:setoption("multicast_if", v)) end end
    assert_raises_msg("bad argument #2 to 'setoption' (unknown interface 'nosuch0')", set6("nosuch0"))
    assert_raises_msg("bad argument #2 to 'setoption' (interface index must be an integer)", set6(1e300))
    assert_raises_msg("bad argument #2 to 'setoption' (interface index must be an integer)", set6(1.5))
    assert_raises_msg("bad argument #2 to 'setoption' (interface name or index expected)", set6({}))
    assert_raises_msg("bad argument #2 to 'setoption' (interface index out of range)", set6(-1))
    assert_raises_msg("bad argument #2 to 'setoption' (interface name contains a zero byte)", set6("lo\0x"))
    assert_returns(pack(nil, "setoption multicast_if: no such device", E.ENODEV), set6(99999))
  end)

  it("raise for membership tables without a usable group", function()
    local u = track(lsock.udp())
    for _, name in ipairs({ "add_membership", "drop_membership" }) do
      local set = function(v) return function() return keep(u:setoption(name, v)) end end
      assert_raises_msg("bad argument #2 to 'setoption' (table expected, got nil)", set(nil))
      assert_raises_msg("bad argument #2 to 'setoption' (table expected, got string)", set("224.0.0.1"))
      assert_raises_msg("bad argument #2 to 'setoption' (field 'group' (an address) expected)", set({}))
      assert_raises_msg("bad argument #2 to 'setoption' (field 'group': IPv4 address expected)",
        set({ group = "256.1.1.1", interface = "127.0.0.1" }))
      assert_raises_msg("bad argument #1 to 'getoption' (option '" .. name .. "' is write-only)",
        function() return (u:getoption(name)) end)
    end
    -- not a multicast group: the kernel refuses (and sends nothing)
    assert_returns(pack(nil, "setoption add_membership: invalid argument", E.EINVAL),
      function() return u:setoption("add_membership", { group = "127.0.0.1", interface = "127.0.0.1" }) end)
  end)

  it("name argument #2 for a bad membership interface", function()
      local u = track(lsock.udp())
      assert_raises_msg("bad argument #2 to 'setoption' (field 'interface': IPv4 address expected, got 'x')",
        function() return (u:setoption("add_membership", { group = "224.0.0.1", interface = "x" })) end)
    end)

  it("raise for read-only options, unknown names and names that are not strings", function()
    local s = track(lsock.tcp())
    for _, name in ipairs({ "error", "type", "acceptconn" }) do
      assert_raises_msg("bad argument #1 to 'setoption' (option '" .. name .. "' is read-only)",
        function() return (s:setoption(name, 1)) end)
    end
    assert.same(pack(0, "stream", false), pack(s:getoption("error"), s:getoption("type"), s:getoption("acceptconn")))
    assert_raises_msg("bad argument #1 to 'setoption' (unknown option 'bogus')",
      function() return (s:setoption("bogus", 1)) end)
    assert_raises_msg("bad argument #1 to 'getoption' (unknown option '')",
      function() return (s:getoption("")) end)
    assert_raises_msg("bad argument #1 to 'setoption' (unknown option '" .. LONG .. "')",
      function() return (s:setoption(LONG, true)) end)
    assert_raises_msg("bad argument #1 to 'setoption' (string expected, got nil)",
      function() return (s:setoption(nil, true)) end)
    assert_raises_msg("bad argument #1 to 'getoption' (string expected, got table)",
      function() return (s:getoption({})) end)
    -- an IP option on a unix socket is a runtime answer
    local us = track(lsock.socket("unix", "stream"))
    assert_returns(pack(nil, "setoption ttl: protocol not available", E.ENOPROTOOPT),
      function() return us:setoption("ttl", 5) end)
  end)

  it("raise for an option name with a zero byte", function()
      local s = track(lsock.tcp())
      assert.matches("^bad argument #1 to 'setoption' %(unknown option",
        raised(function() return (s:setoption("nodelay\0x", true)) end))
    end)
end)

--------------------------------------------------------------------------
describe("unix socket paths", function()
  local tmp = checks.temp_dir("/tmp/lsock-hostile.XXXXXX")
  local LIMIT = core._UNIX_PATH_MAX

  -- A fresh path of exactly n bytes in the temporary directory.
  local function path_of(n)
    local base = tmp.path("p") .. "-"
    assert(#base < n, "the temporary directory's name is too long for this spec")
    return tmp.remember(base .. ("q"):rep(n - #base))
  end

  it("of exactly the limit work, one byte more raises in every call that takes one", function()
    assert.equal("number", type(LIMIT))
    local p = path_of(LIMIT)
    assert.equal(LIMIT, #p)
    local server = track(must(lsock.unix_listen(p)))
    assert.equal(p, (server:getsockname()))
    local c = track(must(lsock.unix_connect(p)))
    c:settimeout(util.TIMEOUT)
    local conn = track(must(server:accept()))
    conn:settimeout(util.TIMEOUT)
    assert(c:send("ok\n"))
    assert.equal("ok", conn:receive("l"))

    local over = p .. "q"
    local TOO_LONG = "(path too long for a unix socket)"
    local s = track(lsock.socket("unix", "dgram"))
    assert_raises_msg("bad argument #1 to 'bind' " .. TOO_LONG, function() return (s:bind(over)) end)
    assert_raises_msg("bad argument #1 to 'connect' " .. TOO_LONG, function() return (s:connect(over)) end)
    assert_raises_msg("bad argument #2 to 'sendto' " .. TOO_LONG, function() return (s:sendto("x", over)) end)
    assert.matches("^bad argument #%d to '%w+' " .. literal(TOO_LONG) .. "$",
      raised(function() return (s:sendmsg("x", { path = over })) end))
    assert_raises_msg("bad argument #1 to 'unix_connect' " .. TOO_LONG,
      function() return (lsock.unix_connect(over)) end)
    assert_raises_msg("bad argument #1 to 'unix_listen' " .. TOO_LONG, function() return (lsock.unix_listen(over)) end)
    assert_raises_msg("bad argument #1 to 'unix_listen' " .. TOO_LONG, function() return (lsock.unix_listen(LONG)) end)
    assert_raises_msg("bad argument #1 to 'bind' " .. TOO_LONG, function() return (s:bind(LONG)) end)
    -- nothing was made for the longer path, or for a cut version of it
    assert.is_nil(io.open(over))
    assert.same({ "" }, { s:getsockname() })
  end)

  it("in the abstract namespace work up to the limit plus one, the name kept whole", function()
    local s = track(lsock.socket("unix", "dgram"))
    local name = "@" .. ("lsock-hostile-%d-"):format(checks.our_pid())
    name = name .. ("n"):rep(LIMIT + 1 - #name)
    assert.equal(LIMIT + 1, #name)
    assert_returns(pack(true), function() return s:bind(name) end)
    assert.equal(name, (s:getsockname()))
    -- zero bytes are part of an abstract name
    local z = track(lsock.socket("unix", "dgram"))
    local zname = "@lsock-hostile\0" .. checks.our_pid() .. "\0z"
    assert_returns(pack(true), function() return z:bind(zname) end)
    assert.equal(zname, (z:getsockname()))
    local c = track(lsock.socket("unix", "dgram"))
    c:settimeout(util.TIMEOUT)
    z:settimeout(util.TIMEOUT)
    assert.equal(2, c:sendto("hi", zname))
    assert.equal("hi", (z:recv()))
    assert_raises_msg("bad argument #1 to 'bind' (path too long for a unix socket)",
      function() return (c:bind(name .. "n")) end)
  end)

  it("with a zero byte raise, never name a shorter path", function()
    local base = tmp.path("z")
    local s = track(lsock.socket("unix", "stream"))
    local ZERO = "(unix socket path contains a zero byte)"
    assert_raises_msg("bad argument #1 to 'bind' " .. ZERO, function() return (s:bind(base .. "\0tail")) end)
    assert_raises_msg("bad argument #1 to 'connect' " .. ZERO, function() return (s:connect(base .. "\0tail")) end)
    local d = track(lsock.socket("unix", "dgram"))
    assert_raises_msg("bad argument #2 to 'sendto' " .. ZERO, function() return (d:sendto("x", base .. "\0")) end)
    assert_raises_msg("bad argument #2 to 'sendmsg' " .. ZERO,
      function() return (d:sendmsg("x", { path = base .. "\0" })) end)
    assert_raises_msg("bad argument #1 to 'unix_listen' " .. ZERO,
      function() return (lsock.unix_listen(base .. "\0tail")) end)
    assert_raises_msg("bad argument #1 to 'unix_connect' " .. ZERO,
      function() return (lsock.unix_connect(base .. "\0tail")) end)
    assert.is_nil(io.open(base))
  end)

  it("name sendmsg, sendmany and sendfile and the right argument", function()
      local d = track(lsock.socket("unix", "dgram"))
      assert_raises_msg("bad argument #2 to 'sendmsg' (path too long for a unix socket)",
        function() return (d:sendmsg("x", { path = LONG })) end)
      assert_raises_msg("bad argument #2 to 'sendmsg' (fds[1]: socket or descriptor expected, got string)",
        function() return (d:sendmsg("x", { fds = { "x" } })) end)
      assert_raises_msg("bad argument #1 to 'sendmany' (table expected, got string)",
        function() return (d:sendmany("x")) end)
      local a = track(lsock.socketpair())
      assert_raises_msg("bad argument #2 to 'sendfile' (offset must be a non-negative integer)",
        function() return (a:sendfile("/dev/null", -1)) end)
    end)

  it("name unix_listen for a path with a zero byte", function()
      assert_raises_msg("bad argument #1 to 'unix_listen' (unix socket path contains a zero byte)",
        function() return (lsock.unix_listen("x\0y")) end)
    end)
end)

--------------------------------------------------------------------------
describe("a message longer than max", function()

  local function udp_pair()
    local a, b = track(lsock.udp()), track(lsock.udp())
    assert(a:bind("127.0.0.1", 0))
    assert(b:bind("127.0.0.1", 0))
    a:settimeout(util.TIMEOUT)
    b:settimeout(util.TIMEOUT)
    local _, pa = a:getsockname()
    local _, pb = b:getsockname()
    return a, b, pa, pb
  end

  local big = util.pattern(3000)

  it("is cut to max and reported over UDP, and the next datagram is whole", function()
    local a, b, pa, pb = udp_pair()
    local function send2() assert(a:sendto(big, "127.0.0.1", pb)); assert(a:sendto("next", "127.0.0.1", pb)) end
    send2()
    assert.same(pack(big:sub(1, 100), "127.0.0.1", pa, true), pack(b:recvfrom(100)))
    assert.same(pack("next", "127.0.0.1", pa), pack(b:recvfrom(100)))
    send2()
    assert.same(pack(big:sub(1, 1), true), pack(b:recv(1)))
    assert.same(pack("next"), pack(b:recv(100)))
    -- a batch with one long datagram in the middle
    assert(a:sendto("one", "127.0.0.1", pb))
    assert(a:sendto(big, "127.0.0.1", pb))
    assert(a:sendto("three", "127.0.0.1", pb))
    local r = b:recvmany(8, 100)
    assert.equal(3, #r)
    assert.same({ data = "one", addr = "127.0.0.1", port = pa }, r[1])
    assert.same({ data = big:sub(1, 100), addr = "127.0.0.1", port = pa, truncated = true }, r[2])
    assert.same({ data = "three", addr = "127.0.0.1", port = pa }, r[3])
    -- the largest UDP datagram fits the default max; one byte more is refused
    local largest = util.pattern(65507)
    assert.equal(65507, a:sendto(largest, "127.0.0.1", pb))
    assert.same(pack(largest), pack(b:recv()))
    assert.same(pack(nil, ("sendto 127.0.0.1:%d: message too long"):format(pb), E.EMSGSIZE),
      pack(a:sendto(largest .. "x", "127.0.0.1", pb)))
  end)

  it("is cut and reported one datagram at a time when udp_gro coalesces them", function()
    local a, b, pa, pb = udp_pair()
    assert(b:setoption("udp_gro", true))
    local list = { ("A"):rep(2000), ("B"):rep(2000), ("C"):rep(2000) }
    assert.equal(3, a:sendmany(list, "127.0.0.1", pb))
    assert(a:sendto("next", "127.0.0.1", pb))
    for i = 1, 3 do
      assert.same(pack(list[i]:sub(1, 100), "127.0.0.1", pa, true), pack(b:recvfrom(100)))
    end
    assert.same(pack("next", "127.0.0.1", pa), pack(b:recvfrom(100)))
  end)

  for _, kind in ipairs({ "dgram", "seqpacket" }) do
    it("is cut to max and reported over unix " .. kind .. " by recv, recvfrom, recvmsg and recvmany", function()
      local a, b = util.socketpair(kind)
      track(a); track(b)
      local function send2() assert(a:send(big)); assert(a:send("next")) end
      send2()
      assert.same(pack(big:sub(1, 100), true), pack(b:recv(100)))
      assert.same(pack("next"), pack(b:recv(100)))
      send2()
      assert.same(pack(big:sub(1, 100), "", true), pack(b:recvfrom(100)))
      assert.same(pack("next", ""), pack(b:recvfrom(100)))
      send2()
      assert.same(pack(big:sub(1, 100), {}, true), pack(b:recvmsg(100)))
      assert.same(pack("next", {}), pack(b:recvmsg(100)))
      send2()
      local r = b:recvmany(4, 100)
      assert.same({ { data = big:sub(1, 100), path = "", truncated = true }, { data = "next", path = "" } }, r)
      -- the receive block is as large as the largest max asked, not the message
      assert.equal(65536, buffered(b))
    end)
  end

  it("raises for a max that is not a positive integer, or over 64 MiB", function()
    local u = track(lsock.udp())
    u:settimeout(0)
    for _, m in ipairs({ 0, -1, 1.5, 0 / 0, "x" }) do
      assert_raises_msg("bad argument #1 to 'recv' (max must be a positive integer)", function() return (u:recv(m)) end)
      assert_raises_msg("bad argument #1 to 'recvfrom' (max must be a positive integer)",
        function() return (u:recvfrom(m)) end)
      assert_raises_msg("bad argument #2 to 'recvmany' (max must be a positive integer)",
        function() return (u:recvmany(4, m)) end)
    end
    assert_raises_msg("bad argument #1 to 'recv' (max too large (at most 64 MiB))",
      function() return (u:recv(1e12)) end)
    assert_raises_msg("bad argument #2 to 'recvmany' (max too large for this count (count * max at most 64 MiB))",
      function() return (u:recvmany(4, 64 * MiB)) end)
    for _, n in ipairs({ 0, -1, 1025, 0 / 0 }) do
      assert_raises_msg("bad argument #1 to 'recvmany' (count must be an integer from 1 to 1024)",
        function() return (u:recvmany(n)) end)
    end
    -- and a huge but legal max costs nothing while no datagram is there
    assert.same(pack(nil, "timeout"), pack(u:recv(64 * MiB)))
  end)
end)

--------------------------------------------------------------------------
describe("recvmsg with more descriptors than asked for", function()
  local count = checks.count_sockets

  local function settled()
    collectgarbage("collect")
    collectgarbage("collect")
    return count()
  end

  -- n UDP sockets on distinct loopback ports, to tell them apart.
  local function sockets(n)
    local list, ports = {}, {}
    for i = 1, n do
      list[i] = track(lsock.udp())
      assert(list[i]:bind("127.0.0.1", 0))
      ports[i] = select(2, list[i]:getsockname())
    end
    return list, ports
  end

  for _, kind in ipairs({ "stream", "dgram", "seqpacket" }) do
    for _, case in ipairs({ { 10, 2 }, { 10, 0 }, { 253, 2 } }) do
      local sent, maxfds = case[1], case[2]
      checks.it_proc(("over %s: %d sent, maxfds %d: the first arrive, the rest are closed"):format(kind, sent, maxfds),
        function()
          local a, b = util.socketpair(kind)
          track(a); track(b)
          local list, ports = sockets(sent)
          local start, listing = settled()
          assert.equal(4, a:sendmsg("fds!", { fds = list }))
          local data, fds = b:recvmsg(100, maxfds)
          assert.equal("fds!", data)
          assert.equal(maxfds, #fds)
          -- exactly maxfds new descriptors in this process
          local now, after = count()
          assert.equal(start + maxfds, now, "before:\n" .. listing .. "\nafter:\n" .. after)
          for i, fd in ipairs(fds) do
            local s = track(must(lsock.fromfd(fd)))
            assert.same({ "127.0.0.1", ports[i], "inet" }, { s:getsockname() })
            s:close()
          end
          assert.equal(start, settled())
          -- the connection goes on: the next message has none
          assert(a:send("more"))
          assert.same({ "more", {} }, { b:recvmsg(100, maxfds) })
        end)
    end
  end
end)

--------------------------------------------------------------------------
describe("a TLS server fed hostile clients", function()
  local C

  setup(function() C = certs.get() end)
  teardown(function() certs.cleanup() end)

  -- Bytes, big-endian.
  local function u8(n) return string.char(n % 256) end
  local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
  local function u24(n) return string.char(math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) end
  local function ext(kind, body) return u16(kind) .. u16(#body) .. body end

  -- n pseudo-random bytes from `seed`; the arithmetic stays exact in a
  -- double, so every Lua makes the same bytes.
  local function noise(seed, n)
    local t, x = {}, seed
    for i = 1, n do
      x = (x * 75 + 74) % 65537
      t[i] = string.char(x % 256)
    end
    return table.concat(t)
  end

  local function sni(name) return ext(0, u16(#name + 3) .. "\0" .. u16(#name) .. name) end
  -- TLS 1.3 only, P-256 and X25519, ECDSA signatures, and an empty
  -- key_share: a server that accepts the hello answers with a
  -- HelloRetryRequest asking for a share, and then waits.
  local BASE_EXTS = ext(0x2b, "\2\3\4") .. ext(0x0a, "\0\4\0\23\0\29") .. ext(0x0d, "\0\4\4\3\8\4")
    .. ext(0x33, "\0\0")
  local SUITES = "\19\1\19\2\19\3"

  -- A ClientHello handshake message (not yet in records).
  local function hello(exts, suites)
    suites = suites or SUITES
    local body = "\3\3" .. noise(1, 32) .. u8(32) .. noise(2, 32)
      .. u16(#suites) .. suites .. "\1\0" .. u16(#exts) .. exts
    return "\1" .. u24(#body) .. body
  end

  -- A handshake message in records of at most `size` bytes each.
  local function records(msg, size)
    local out = {}
    for i = 1, #msg, size do
      local piece = msg:sub(i, i + size - 1)
      out[#out + 1] = "\22\3\1" .. u16(#piece) .. piece
    end
    return table.concat(out)
  end

  local GOOD_HELLO = records(hello(sni("localhost") .. BASE_EXTS), 16384)
  local ALERT = "\21\3\3\0\2\2" -- a fatal alert record's first bytes
  local HRR = "\22\3\3"         -- the server's (retry) hello record

  -- Each case: the bytes, how the client ends ("eof": shuts down its
  -- sending half; "stall": sends nothing more), what the server's
  -- handshake returns, and how the answer the client gets starts.
  local CASES = {
    { "random bytes, seed 1", noise(11, 4096), "eof", "tls handshake: wrong version number", "" },
    { "random bytes, seed 2", noise(12, 4096), "eof", "tls handshake: wrong version number", "" },
    { "random bytes, seed 3", noise(13, 4096), "eof", "tls handshake: wrong version number", "" },
    { "a handshake record of random bytes", "\22\3\3\0\100" .. noise(4, 4096), "eof",
      "tls handshake: unexpected message", ALERT },
    { "an HTTP request", "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", "eof", "tls handshake: http request", "" },
    { "an alert instead of a hello", "\21\3\3\0\2\2\40", "eof", "tls handshake: unexpected message", ALERT },
    { "a record of 65535 bytes", "\22\3\1\255\255" .. noise(5, 1000), "eof",
      "tls handshake: packet length too long", ALERT },
    { "a hello announcing 16 MiB", "\22\3\1" .. u16(4 + 16000) .. "\1\255\255\255" .. noise(6, 16000), "eof",
      "tls handshake: excessive message size", ALERT },
    { "a 40 KiB server name over three records", records(hello(sni(("a"):rep(40000)) .. BASE_EXTS), 16384),
      "eof", "tls handshake: bad extension", ALERT },
    { "a server name of 300 bytes", records(hello(sni(("b"):rep(300)) .. BASE_EXTS), 16384), "eof",
      "tls handshake: bad extension", ALERT },
    -- the largest hello the framing allows: 32000 suites and 60000 bytes
    -- of padding, about 124 KiB over eight records; it is valid
    { "a 124 KiB hello over eight records",
      records(hello(sni("localhost") .. BASE_EXTS .. ext(21, ("\0"):rep(60000)), ("\19\1"):rep(32000)), 16384),
      "eof", "closed", HRR },
    { "a hello cut in its record header", GOOD_HELLO:sub(1, 3), "eof", "closed", "" },
    { "a hello cut in its handshake header", GOOD_HELLO:sub(1, 7), "eof", "closed", "" },
    { "a hello cut mid-body", GOOD_HELLO:sub(1, 60), "eof", "closed", "" },
    { "a hello cut mid-body, then nothing", GOOD_HELLO:sub(1, 60), "stall", "timeout", "" },
    { "a whole hello, then nothing", GOOD_HELLO, "stall", "timeout", HRR },
    { "a hello in one-byte records, then nothing", records(hello(sni("localhost") .. BASE_EXTS), 1), "stall",
      "timeout", HRR },
  }
  local STALL = 1.5 -- the server's timeout for each connection, in seconds
  local LINES = 5

  it("fails each with the error lsock reports for it, and serves good clients during and after", function()
    local start, listing = checks.count_sockets()
    local names = {}
    local sctx = must(tls.context({ mode = "server", cert = C.server.cert, key = C.server.key,
      sni = function(name)
        names[#names + 1] = name
        return nil
      end }))
    local listener, port = util.listen("127.0.0.1")
    local expected = #CASES + 2 -- and the good client during, and the child after
    local served = {}           -- by the client's port: { result..., time }
    local child

    loop.spawn(function()
      for _ = 1, expected do
        local conn = listener:accept()
        if not conn then break end
        local _, peer = conn:getpeername()
        conn:settimeout(STALL)
        loop.spawn(function()
          local t = tls.wrap(conn, sctx)
          local ok, err = t:handshake()
          if not ok then
            served[peer] = { "failed", err, loop.now() }
          else
            local n, rerr = 0
            t:settimeout(util.TIMEOUT)
            while true do
              local line
              line, rerr = t:receive("l")
              if not line then break end
              t:send(line .. "\n")
              n = n + 1
            end
            served[peer] = { "served", n, rerr }
          end
          t:close()
        end)
      end
      listener:close()
    end)

    -- The hostile clients, all at once.
    local answers, ports, stalled = {}, {}, 0
    for i, case in ipairs(CASES) do
      loop.spawn(function()
        local c = track(must(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT })))
        c:settimeout(util.TIMEOUT)
        ports[i] = select(2, c:getsockname())
        local last = c:send(case[2])
        assert(last == #case[2], case[1] .. ": send failed")
        if case[3] == "eof" then c:shutdown("send") else stalled = stalled + 1 end
        -- whatever the server answers, until it closes
        local data, _, partial = c:receive("a")
        answers[i] = data or partial
        c:close()
      end)
    end

    -- A good client while the stalled ones wait: handshake and echo.
    local during, during_done
    loop.spawn(function()
      while stalled < 3 do loop.sleep(0.01) end
      loop.sleep(0.1)
      local t, err = tls.connect("127.0.0.1", port, { ca = C.ca.cert, servername = "localhost",
        timeout = util.TIMEOUT })
      if not t then
        during = "connect failed: " .. tostring(err)
        return
      end
      track(t)
      during = {}
      for k = 1, LINES do
        t:send("during " .. k .. "\n")
        during[k] = t:receive("l")
      end
      t:close()
      during_done = loop.now()
      -- and one more, as a child process, once the hostile ones are over
      while loop.count() > 2 do loop.sleep(0.05) end
      child = util.spawn_script_within(30, util.HELPERS .. "tls_peer.lua", "echo", "127.0.0.1", port,
        C.ca.cert, LINES)
    end)

    local ok, err = loop.run(30)
    assert.is_true(ok, "loop.run: " .. tostring(err))
    assert.is_not_nil(child, "the child client never started")
    assert.equal("echoed " .. LINES, child.wait())

    local want_during = {}
    for k = 1, LINES do want_during[k] = "during " .. k end
    assert.same(want_during, during)
    for i, case in ipairs(CASES) do
      local r = served[ports[i]]
      assert.is_table(r, case[1] .. ": the server has no result")
      assert.same({ "failed", case[4] }, { r[1], r[2] }, case[1])
      local answer = answers[i]
      assert.equal(case[5], answer:sub(1, #case[5]), case[1] .. ": the answer starts wrong")
      if case[5] == "" then assert.equal("", answer, case[1] .. ": an answer where none was due") end
      if case[3] == "stall" then
        assert.is_true(during_done < r[3], case[1] .. ": the good client was not served while it stalled")
      end
    end
    -- The good clients: LINES lines each, then the end of their stream.
    local good = 0
    for _, r in pairs(served) do
      if r[1] == "served" then
        assert.same({ "served", LINES, "closed" }, r)
        good = good + 1
      end
    end
    assert.equal(2, good)
    -- The server's SNI function saw "localhost" five times: the two good
    -- clients and the three accepted hellos (124 KiB, whole, one-byte
    -- records); the oversized names never reached it.
    assert.same({ "localhost", "localhost", "localhost", "localhost", "localhost" }, names)
    collectgarbage("collect")
    local now, after = checks.count_sockets()
    assert.equal(start, now, "sockets at the start:\n" .. listing .. "\nat the end:\n" .. after)
  end)
end)
