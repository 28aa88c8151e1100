-- spec/dgram_spec.lua: UDP sockets (issue 5). Creation and description,
-- sendto/recvfrom over IPv4 and IPv6, zero-length and truncated datagrams,
-- connected UDP with send/recv, timeouts and readiness, errors from the OS
-- as values (ECONNREFUSED, EMSGSIZE), sendmany/recvmany batches (including a
-- partial batch on a unix dgram socketpair), argument checking, use after
-- close, and the datagram options. Real sockets on 127.0.0.1 and ::1 only;
-- every wait is bounded by a socket timeout or a counted loop.

local lsock = require "lsock"

local LOCAL4, LOCAL6 = "127.0.0.1", "::1"
local WAIT = 5 -- seconds: the timeout every spec socket gets, so nothing hangs

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must
local assert_raises, assert_integer = checks.assert_raises, checks.assert_integer
local it_ipv6 = checks.it_ipv6

local function host_of(family)
  return family == "inet6" and LOCAL6 or LOCAL4
end

-- All results of a call, with their count in `n` (so a missing or an extra
-- result is seen: `pack(f()).n`).
local function pack(...)
  return { n = select("#", ...), ... }
end

-- A fresh UDP socket of `family` (default "inet") with the spec timeout.
local function udp(family)
  local s = track(lsock.udp(family))
  s:settimeout(WAIT)
  return s
end

-- A UDP socket bound to the loopback address of `family`, its port, its host.
local function bound(family)
  local s = udp(family)
  local host = host_of(family)
  must(s:bind(host, 0))
  local _, port = s:getsockname()
  return s, port, host
end

-- Two bound UDP sockets connected to each other.
local function connected_pair(family)
  local a, pa, host = bound(family)
  local b, pb = bound(family)
  must(a:connect(host, pb))
  must(b:connect(host, pa))
  return a, b, pa, pb
end

-- A UDP port on 127.0.0.1 that nothing is bound to: bound, then closed.
local function closed_udp_port()
  local s = lsock.udp()
  must(s:bind(LOCAL4, 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- Receive `count` datagrams with recvmany(n [, max]) on `s`, in as many calls
-- as it takes (at most `count` calls). Returns the entries in arrival order.
local function collect(s, count, n, max)
  local got = {}
  for _ = 1, count do
    if #got >= count then break end
    local batch, err = s:recvmany(n or 64, max)
    assert.is_table(batch, "recvmany: " .. tostring(err))
    assert.is_true(#batch >= 1, "recvmany returned an empty batch")
    for _, entry in ipairs(batch) do got[#got + 1] = entry end
  end
  return got
end

-- `count` distinct datagram payloads: "dgram 0001", "dgram 0002", ...
local function payloads(count, prefix)
  local list = {}
  for i = 1, count do list[i] = string.format("%s %04d", prefix or "dgram", i) end
  return list
end

local ALL_BYTES
do
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  ALL_BYTES = "\0\0" .. table.concat(t) .. "\0"
end

describe("udp", function()

  describe("creation", function()
    it("makes an inet dgram socket with lsock.udp()", function()
      local s = udp()
      assert.equal("inet", s:family())
      assert.equal("dgram", s:type())
    end)

    it("makes an inet6 dgram socket with lsock.udp('inet6')", function()
      local s = udp("inet6")
      assert.equal("inet6", s:family())
      assert.equal("dgram", s:type())
    end)

    it("makes a dgram socket with lsock.socket('inet', 'dgram', 'udp')", function()
      local s = track(lsock.socket("inet", "dgram", "udp"))
      assert.equal("inet", s:family())
      assert.equal("dgram", s:type())
    end)

    it("makes a dgram socket with lsock.socket('inet6', 'dgram') and no protocol", function()
      local s = track(lsock.socket("inet6", "dgram"))
      assert.equal("inet6", s:family())
      assert.equal("dgram", s:type())
    end)

    it("raises naming the argument when lsock.udp gets an unknown family", function()
      assert_raises({ "family", "#1" }, function() lsock.udp("bogus") end)
    end)

    it("reads 'dgram' from the type option", function()
      assert.equal("dgram", udp():getoption("type"))
    end)
  end)

  describe("tostring", function()
    it("describes a bound socket as 'udp ADDR:PORT (fd N)'", function()
      local s, port = bound()
      assert.equal(("lsock.socket: udp 127.0.0.1:%d (fd %d)"):format(port, s:getfd()), tostring(s))
    end)

    it_ipv6("puts an IPv6 address in brackets", function()
      local s, port = bound("inet6")
      assert.equal(("lsock.socket: udp [::1]:%d (fd %d)"):format(port, s:getfd()), tostring(s))
    end)

    it("describes a socket that is not bound yet as 'udp (fd N)'", function()
      local s = udp()
      assert.equal(("lsock.socket: udp (fd %d)"):format(s:getfd()), tostring(s))
    end)

    it("describes a connected socket with its peer", function()
      local a, _, pa, pb = connected_pair()
      assert.equal(("lsock.socket: udp 127.0.0.1:%d -> 127.0.0.1:%d (fd %d)"):format(pa, pb, a:getfd()),
        tostring(a))
    end)

    it_ipv6("describes a connected IPv6 socket with both addresses in brackets", function()
      local a, _, pa, pb = connected_pair("inet6")
      assert.equal(("lsock.socket: udp [::1]:%d -> [::1]:%d (fd %d)"):format(pa, pb, a:getfd()), tostring(a))
    end)

    it("describes a closed socket as 'closed'", function()
      local s = udp()
      s:close()
      assert.equal("lsock.socket: closed", tostring(s))
    end)
  end)

  describe("sendto and recvfrom", function()
    for _, family in ipairs({ "inet", "inet6" }) do
      local it_family = family == "inet6" and it_ipv6 or it
      local host = host_of(family)

      it_family("sendto returns the number of bytes sent over " .. family, function()
        local _, rport = bound(family)
        local tx = bound(family)
        local n = tx:sendto("hello", host, rport)
        assert_integer(n, "sendto result")
        assert.equal(5, n)
      end)

      it_family("recvfrom returns data, the sender's address and port over " .. family, function()
        local rx, rport = bound(family)
        local tx, tport = bound(family)
        must(tx:sendto("hello", host, rport))
        local r = pack(rx:recvfrom())
        assert.equal(3, r.n)
        assert.equal("hello", r[1])
        assert.equal(host, r[2])
        assert_integer(r[3], "recvfrom port")
        assert.equal(tport, r[3])
      end)

      it_family("carries binary data with zero bytes over " .. family, function()
        local rx, rport = bound(family)
        local tx = bound(family)
        assert.equal(#ALL_BYTES, tx:sendto(ALL_BYTES, host, rport))
        assert.equal(ALL_BYTES, (rx:recvfrom()))
      end)

      it_family("sends and receives a zero-length datagram over " .. family, function()
        local rx, rport = bound(family)
        local tx, tport = bound(family)
        assert.equal(0, tx:sendto("", host, rport))
        local r = pack(rx:recvfrom())
        assert.same({ n = 3, "", host, tport }, r)
      end)
    end

    it("keeps datagram boundaries: two sendto give two recvfrom", function()
      local rx, rport = bound()
      local tx = bound()
      must(tx:sendto("one", LOCAL4, rport))
      must(tx:sendto("two!", LOCAL4, rport))
      assert.equal("one", (rx:recvfrom()))
      assert.equal("two!", (rx:recvfrom()))
    end)

    it("receives a 65507-byte datagram whole with the default max", function()
      local rx, rport = bound()
      local tx = bound()
      local big = ("0123456789abcdef"):rep(4096):sub(1, 65507)
      assert.equal(65507, tx:sendto(big, LOCAL4, rport))
      local r = pack(rx:recvfrom())
      assert.equal(3, r.n)
      assert.equal(65507, #r[1])
      assert.equal(big, r[1])
    end)

    it("accepts the port as a numeric string", function()
      local rx, rport = bound()
      local tx = bound()
      assert.equal(2, tx:sendto("ok", LOCAL4, tostring(rport)))
      assert.equal("ok", (rx:recvfrom()))
    end)

    it("sends from an unbound socket (bound by the kernel) and answers the sender", function()
      local rx, rport = bound()
      local tx = udp()
      must(tx:sendto("ping", LOCAL4, rport))
      local data, addr, port = rx:recvfrom()
      assert.equal("ping", data)
      assert.equal(select(2, tx:getsockname()), port)
      must(rx:sendto("pong", addr, port))
      assert.equal("pong", (tx:recvfrom()))
    end)

    it("recv on a bound, unconnected socket returns one datagram without its address", function()
      local rx, rport = bound()
      local tx = bound()
      must(tx:sendto("no address", LOCAL4, rport))
      assert.same({ n = 1, "no address" }, pack(rx:recv()))
    end)

    it("getstats counts the bytes of the datagrams sent and received", function()
      local rx, rport = bound()
      local tx = bound()
      must(tx:sendto("12345", LOCAL4, rport))
      must(tx:sendto("678", LOCAL4, rport))
      assert.equal("12345", (rx:recvfrom()))
      assert.equal("678", (rx:recvfrom()))
      local _, sent = tx:getstats()
      local received = rx:getstats()
      assert.equal(8, sent)
      assert.equal(8, received)
    end)
  end)

  describe("truncation", function()
    it("recvfrom(max) on a longer datagram returns its first max bytes and true", function()
      local rx, rport = bound()
      local tx, tport = bound()
      must(tx:sendto("abcdefgh", LOCAL4, rport))
      local r = pack(rx:recvfrom(4))
      assert.same({ n = 4, "abcd", LOCAL4, tport, true }, r)
    end)

    it("recvfrom(max) on a datagram exactly max long is not truncated", function()
      local rx, rport = bound()
      local tx, tport = bound()
      must(tx:sendto("abcdefgh", LOCAL4, rport))
      local r = pack(rx:recvfrom(8))
      assert.same({ n = 3, "abcdefgh", LOCAL4, tport }, r)
    end)

    it("a zero-length datagram read with recvfrom(1) is not truncated", function()
      local rx, rport = bound()
      local tx, tport = bound()
      must(tx:sendto("", LOCAL4, rport))
      assert.same({ n = 3, "", LOCAL4, tport }, pack(rx:recvfrom(1)))
    end)

    it("drops the rest of a truncated datagram: the next recvfrom gets the next one", function()
      local rx, rport = bound()
      local tx = bound()
      must(tx:sendto("first datagram", LOCAL4, rport))
      must(tx:sendto("second", LOCAL4, rport))
      assert.equal("fi", (rx:recvfrom(2)))
      assert.equal("second", (rx:recvfrom()))
    end)

    it("recv(max) on a longer datagram returns data, true", function()
      local a, b = connected_pair()
      must(a:send("abcdefgh"))
      local r = pack(b:recv(3))
      assert.same({ n = 2, "abc", true }, r)
    end)

    it("recv(max) on a datagram exactly max long returns the data alone", function()
      local a, b = connected_pair()
      must(a:send("abcdefgh"))
      local r = pack(b:recv(8))
      assert.same({ n = 1, "abcdefgh" }, r)
    end)

    it("recv(max) truncation drops the rest: the next recv gets the next datagram", function()
      local a, b = connected_pair()
      must(a:send("0123456789"))
      must(a:send("next"))
      assert.same({ n = 2, "01", true }, pack(b:recv(2)))
      assert.same({ n = 1, "next" }, pack(b:recv()))
    end)
  end)

  describe("connected", function()
    it("send and recv move one datagram each way", function()
      local a, b = connected_pair()
      assert.equal(5, a:send("hello"))
      assert.same({ n = 1, "hello" }, pack(b:recv()))
      assert.equal(4, b:send("back"))
      assert.same({ n = 1, "back" }, pack(a:recv()))
    end)

    it_ipv6("send and recv move datagrams over IPv6", function()
      local a, b = connected_pair("inet6")
      assert.equal(6, a:send("hello6"))
      assert.same({ n = 1, "hello6" }, pack(b:recv()))
    end)

    it("keeps datagram boundaries: two sends give two recvs", function()
      local a, b = connected_pair()
      must(a:send("one"))
      must(a:send("two"))
      assert.equal("one", b:recv())
      assert.equal("two", b:recv())
    end)

    it("sends and receives a zero-length datagram with send('') and recv()", function()
      local a, b = connected_pair()
      assert.equal(0, a:send(""))
      assert.same({ n = 1, "" }, pack(b:recv()))
    end)

    it("recvfrom works on a connected socket and names the peer", function()
      local a, b, pa = connected_pair()
      must(a:send("via recvfrom"))
      assert.same({ n = 3, "via recvfrom", LOCAL4, pa }, pack(b:recvfrom()))
    end)

    it("connect() without an address forgets the peer", function()
      local a = connected_pair()
      local c, pc = bound()
      assert.is_true(a:connect())
      assert.is_nil((a:getpeername()))
      -- any address again, and datagrams from anyone (Linux gives up an
      -- ephemeral port when the peer goes: ask for the port again)
      assert.equal(3, a:sendto("any", LOCAL4, pc))
      local _, pa = a:getsockname()
      assert.same({ n = 3, "any", LOCAL4, pa }, pack(c:recvfrom()))
      assert.equal(4, c:sendto("from", LOCAL4, pa))
      assert.same({ n = 3, "from", LOCAL4, pc }, pack(a:recvfrom()))
      assert.has_error(function() lsock.tcp():connect() end)
      c:close()
    end)

    it("getpeername names the connected peer", function()
      local a, _, _, pb = connected_pair()
      local addr, port = a:getpeername()
      assert.equal(LOCAL4, addr)
      assert.equal(pb, port)
    end)

    it("send returns the index of the last byte, an integer", function()
      local a, b = connected_pair()
      local last = a:send("hello")
      assert_integer(last, "send result")
      assert.equal(5, last)
      assert.equal("hello", b:recv())
    end)

    it("send(data, i) sends data:sub(i) as one datagram and returns #data", function()
      local a, b = connected_pair()
      assert.equal(11, a:send("hello world", 7))
      assert.equal("world", b:recv())
    end)

    it("send(data, i, j) sends data:sub(i, j) and returns j", function()
      local a, b = connected_pair()
      assert.equal(4, a:send("hello", 2, 4))
      assert.equal("ell", b:recv())
    end)

    it("send takes negative i and j as string.sub does and returns the positive index", function()
      local a, b = connected_pair()
      assert.equal(4, a:send("hello", -3, -2))
      assert.equal("ll", b:recv())
    end)

    it("send clamps j past the end as string.sub does", function()
      local a, b = connected_pair()
      assert.equal(5, a:send("hello", 1, 100))
      assert.equal("hello", b:recv())
    end)

    -- data:sub(3, 2) is "": one zero-length datagram, and the result is j
    it("send(data, i, j) with i > j sends a zero-length datagram and returns j", function()
      local a, b = connected_pair()
      assert.equal(2, a:send("hello", 3, 2))
      assert.same({ n = 1, "" }, pack(b:recv()))
    end)

    it("send on a socket that is not connected answers nil, a message and an errno", function()
      local s = udp()
      local r = pack(s:send("nowhere"))
      assert.is_nil(r[1])
      assert.is_string(r[2])
      assert.equal(lsock.errno.EDESTADDRREQ, r[3])
    end)
  end)

  describe("timeouts", function()
    it("recv with settimeout(0) on an empty socket gives nil, 'timeout' and events 'r'", function()
      local _, b = connected_pair()
      b:settimeout(0)
      local t0 = lsock.monotime()
      local r = pack(b:recv())
      assert.is_nil(r[1])
      assert.equal("timeout", r[2])
      assert.is_true(lsock.monotime() - t0 < 1)
      assert.equal("r", b:events())
    end)

    it("recv with settimeout(0.05) on an empty socket waits about 0.05 s", function()
      local _, b = connected_pair()
      b:settimeout(0.05)
      local t0 = lsock.monotime()
      local data, err = b:recv()
      local elapsed = lsock.monotime() - t0
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.is_true(elapsed >= 0.04, "returned after " .. elapsed .. " s")
      assert.is_true(elapsed < 2, "returned after " .. elapsed .. " s")
      assert.equal("r", b:events())
    end)

    it("recvfrom with settimeout(0) on an empty socket gives nil, 'timeout' and events 'r'", function()
      local s = bound()
      s:settimeout(0)
      local data, err = s:recvfrom()
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.equal("r", s:events())
    end)

    it("recvfrom with settimeout(0.05) on an empty socket waits about 0.05 s", function()
      local s = bound()
      s:settimeout(0.05)
      local t0 = lsock.monotime()
      local data, err = s:recvfrom()
      local elapsed = lsock.monotime() - t0
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.is_true(elapsed >= 0.04, "returned after " .. elapsed .. " s")
      assert.is_true(elapsed < 2, "returned after " .. elapsed .. " s")
      assert.equal("r", s:events())
    end)

    it("recvfrom with a total timeout of 0.05 s ('t' mode) times out", function()
      local s = bound()
      s:settimeout(nil)
      s:settimeout(0.05, "t")
      local t0 = lsock.monotime()
      local data, err = s:recvfrom()
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.is_true(lsock.monotime() - t0 < 2)
    end)

    it("a receive that succeeds after a timeout clears events()", function()
      local rx, rport = bound()
      local tx = bound()
      rx:settimeout(0)
      assert.equal("timeout", select(2, rx:recvfrom()))
      assert.equal("r", rx:events())
      must(tx:sendto("now", LOCAL4, rport))
      rx:settimeout(WAIT)
      assert.equal("now", (rx:recvfrom()))
      assert.is_nil(rx:events())
    end)

    it("a datagram already queued is returned with settimeout(0)", function()
      local rx, rport = bound()
      local tx = bound()
      must(tx:sendto("queued", LOCAL4, rport))
      rx:settimeout(0)
      -- loopback delivers before sendto returns, but give it a bounded chance
      local data
      for _ = 1, 50 do
        data = rx:recvfrom()
        if data then break end
        lsock.sleep(0.01)
      end
      assert.equal("queued", data)
    end)
  end)

  describe("errors from the OS", function()
    it("a connected socket sending to a closed port later reads ECONNREFUSED, not 'closed'", function()
      local port = closed_udp_port()
      local s = bound()
      must(s:connect(LOCAL4, port))
      assert.equal(4, s:send("ping"))
      local t0 = lsock.monotime()
      local r = pack(s:recv())
      assert.is_true(lsock.monotime() - t0 < WAIT, "recv waited for the whole timeout")
      assert.is_nil(r[1])
      assert.is_string(r[2])
      assert.not_equal("closed", r[2])
      assert.not_equal("timeout", r[2])
      assert.truthy(r[2]:find("connection refused", 1, true), "message: " .. tostring(r[2]))
      assert.equal(lsock.errno.ECONNREFUSED, r[3])
    end)

    it("recvfrom on a connected socket reports ECONNREFUSED too", function()
      local port = closed_udp_port()
      local s = bound()
      must(s:connect(LOCAL4, port))
      must(s:send("ping"))
      local data, err, errno = s:recvfrom()
      assert.is_nil(data)
      assert.truthy(tostring(err):find("connection refused", 1, true), "message: " .. tostring(err))
      assert.equal(lsock.errno.ECONNREFUSED, errno)
    end)

    it("recvmany on a connected socket reports ECONNREFUSED too", function()
      local port = closed_udp_port()
      local s = bound()
      must(s:connect(LOCAL4, port))
      must(s:send("ping"))
      local batch, err, errno = s:recvmany(8)
      assert.is_nil(batch)
      assert.truthy(tostring(err):find("connection refused", 1, true), "message: " .. tostring(err))
      assert.equal(lsock.errno.ECONNREFUSED, errno)
    end)

    it("sendto of a 70000-byte datagram answers nil, 'message too long', EMSGSIZE", function()
      local _, rport = bound()
      local tx = bound()
      local r = pack(tx:sendto(("x"):rep(70000), LOCAL4, rport))
      assert.is_nil(r[1])
      assert.is_string(r[2])
      assert.truthy(r[2]:find("message too long", 1, true), "message: " .. tostring(r[2]))
      assert.equal(lsock.errno.EMSGSIZE, r[3])
    end)

    it("send of a 70000-byte datagram on a connected socket answers EMSGSIZE", function()
      local a = connected_pair()
      local r = pack(a:send(("x"):rep(70000)))
      assert.is_nil(r[1])
      assert.truthy(tostring(r[2]):find("message too long", 1, true), "message: " .. tostring(r[2]))
      assert.equal(lsock.errno.EMSGSIZE, r[3])
    end)

    it("a socket stays usable after an EMSGSIZE", function()
      local rx, rport = bound()
      local tx = bound()
      assert.is_nil((tx:sendto(("x"):rep(70000), LOCAL4, rport)))
      assert.equal(5, tx:sendto("after", LOCAL4, rport))
      assert.equal("after", (rx:recvfrom()))
    end)
  end)

  describe("udp_gro", function()
    -- With udp_gro the kernel may hand over up to 64 datagrams of one
    -- sender in one read; lsock gives them back one by one.
    local function gro_receiver()
      local rx, rport = bound()
      assert.is_true(rx:setoption("udp_gro", true))
      return rx, rport
    end

    it("round-trips through getoption", function()
      local rx = gro_receiver()
      assert.is_true(rx:getoption("udp_gro"))
      assert.is_true(rx:setoption("udp_gro", false))
      assert.is_false(rx:getoption("udp_gro"))
    end)

    it("gives back coalesced datagrams one by one, in order, with sender and boundaries", function()
      local rx, rport = gro_receiver()
      local tx, tport = bound()
      local list = {}
      for i = 1, 100 do list[i] = ("%04d"):format(i) .. ("g"):rep(60) end
      list[101] = "short"
      assert.equal(101, tx:sendmany(list, LOCAL4, rport))
      local got = {}
      local first, addr, port = rx:recvfrom()
      got[1] = first
      assert.equal(LOCAL4, addr)
      assert.equal(tport, port)
      assert.is_true(rx:dirty(), "the rest of the coalesced read is queued")
      got[2] = rx:recv()
      for _ = 1, 101 do
        if #got >= 101 then break end
        local batch = must(rx:recvmany(64))
        for _, e in ipairs(batch) do
          assert.equal(tport, e.port)
          got[#got + 1] = e.data
        end
      end
      assert.same(list, got)
      assert.is_false(rx:dirty())
    end)

    it("reports truncation per datagram and keeps the rest", function()
      local rx, rport = gro_receiver()
      local tx = bound()
      must(tx:sendmany({ "aaaa", "bbbb", "cc" }, LOCAL4, rport))
      assert.same({ "aaa", true }, { rx:recv(3) })
      local data, _, _, truncated = rx:recvfrom(3)
      assert.equal("bbb", data)
      assert.is_true(truncated)
      assert.same({ "cc" }, { rx:recv(3) })
    end)

    it("receives an empty datagram as an empty string", function()
      local rx, rport = gro_receiver()
      local tx = bound()
      must(tx:sendto("", LOCAL4, rport))
      assert.equal("", rx:recv())
    end)

    it("times out like any receive when nothing is queued", function()
      local rx = gro_receiver()
      rx:settimeout(0)
      assert.same({ nil, "timeout" }, { rx:recv() })
      assert.same({ nil, "timeout" }, { rx:recvmany(8) })
      assert.equal("r", rx:events())
    end)

    it("has no meaning on a unix socket: ENOPROTOOPT", function()
      local a = track(must(lsock.socket("unix", "dgram")))
      local ok, err, errno = a:setoption("udp_gro", true)
      assert.is_nil(ok)
      assert.matches("udp_gro", err)
      assert.equal(lsock.errno.ENOPROTOOPT, errno)
    end)
  end)

  describe("sendmany and recvmany", function()
    it("sends 64 strings to addr/port in one call; recvmany gets them in order", function()
      local rx, rport = bound()
      local tx, tport = bound()
      local list = payloads(64)
      local n = tx:sendmany(list, LOCAL4, rport)
      assert_integer(n, "sendmany result")
      assert.equal(64, n)
      local got = collect(rx, 64, 64)
      assert.equal(64, #got)
      for i, entry in ipairs(got) do
        assert.equal(list[i], entry.data)
        assert.equal(LOCAL4, entry.addr)
        assert_integer(entry.port, "entry port")
        assert.equal(tport, entry.port)
        assert.is_falsy(entry.truncated)
      end
    end)

    it("recvmany refills a result handed back: its tables, new fields, the rest removed", function()
      local rx, rport = bound()
      local tx, tport = bound()
      must(tx:sendmany({ "one", "two", "three-long" }, LOCAL4, rport))
      local first = collect(rx, 3, 64, 5)
      assert.equal(3, #first)
      assert.is_true(first[3].truncated)
      local old1 = first[1]
      old1.truncated = true -- must be cleared when the entry is refilled
      must(tx:sendmany({ "ab", "cdefgh" }, LOCAL4, rport))
      local again = must(rx:recvmany(64, 5, first))
      assert.equal(first, again)
      assert.equal(old1, again[1])
      assert.equal(2, #again)
      assert.is_nil(again[3])
      assert.same({ data = "ab", addr = LOCAL4, port = tport }, again[1])
      assert.same({ data = "cdefg", addr = LOCAL4, port = tport, truncated = true }, again[2])
    end)

    it("raises naming the argument when the table to refill is not a table", function()
      local rx = bound()
      assert_raises({ "#3", "table" }, function() rx:recvmany(4, 10, "x") end)
    end)

    it("sends runs of equal-sized datagrams (segmentation offload) as separate datagrams", function()
      local rx, rport = bound()
      local other, oport = bound()
      local tx = bound()
      -- runs of one size to one destination, a shorter one ending a run,
      -- then another size and another destination in between
      local list = {}
      for i = 1, 70 do list[#list + 1] = ("%04d"):format(i) .. ("r"):rep(60) end
      list[#list + 1] = "short"
      for i = 1, 3 do list[#list + 1] = { data = "elsewhere " .. i, addr = LOCAL4, port = oport } end
      for i = 1, 5 do list[#list + 1] = ("%04d"):format(i) .. ("s"):rep(200) end
      assert.equal(#list, tx:sendmany(list, LOCAL4, rport))
      local got = collect(rx, 76, 64)
      assert.equal(76, #got)
      for i = 1, 70 do assert.equal(list[i], got[i].data) end
      assert.equal("short", got[71].data)
      for i = 1, 5 do assert.equal(list[74 + i], got[71 + i].data) end
      local there = collect(other, 3, 64)
      for i = 1, 3 do assert.equal("elsewhere " .. i, there[i].data) end
    end)

    it("recvmany returns at most n entries and leaves the rest queued", function()
      local rx, rport = bound()
      local tx = bound()
      local list = payloads(5)
      must(tx:sendmany(list, LOCAL4, rport))
      local first = must(rx:recvmany(2))
      assert.equal(2, #first)
      assert.equal(list[1], first[1].data)
      assert.equal(list[2], first[2].data)
      local rest = collect(rx, 3, 64)
      assert.equal(3, #rest)
      for i = 1, 3 do assert.equal(list[i + 2], rest[i].data) end
    end)

    it_ipv6("sends and receives a batch over IPv6", function()
      local rx, rport = bound("inet6")
      local tx, tport = bound("inet6")
      local list = payloads(16, "six")
      assert.equal(16, tx:sendmany(list, LOCAL6, rport))
      local got = collect(rx, 16, 64)
      for i, entry in ipairs(got) do
        assert.same({ data = list[i], addr = LOCAL6, port = tport }, entry)
      end
    end)

    it("sends table entries {data=, addr=, port=} each to its own address", function()
      local rx1, p1 = bound()
      local rx2, p2 = bound()
      local tx, tport = bound()
      local list = {}
      for i = 1, 6 do
        list[i] = { data = "t" .. i, addr = LOCAL4, port = (i % 2 == 1) and p1 or p2 }
      end
      assert.equal(6, tx:sendmany(list))
      local got1, got2 = collect(rx1, 3, 64), collect(rx2, 3, 64)
      assert.same({ "t1", "t3", "t5" }, { got1[1].data, got1[2].data, got1[3].data })
      assert.same({ "t2", "t4", "t6" }, { got2[1].data, got2[2].data, got2[3].data })
      assert.equal(tport, got1[1].port)
    end)

    it("echoes a batch with s:sendmany(s:recvmany(64))", function()
      local server, sport = bound()
      local client = bound()
      local list = payloads(8, "echo")
      assert.equal(8, client:sendmany(list, LOCAL4, sport))
      local echoed = 0
      for _ = 1, 8 do
        if echoed >= 8 then break end
        local batch = must(server:recvmany(64))
        assert.equal(#batch, server:sendmany(batch))
        echoed = echoed + #batch
      end
      assert.equal(8, echoed)
      local got = collect(client, 8, 64)
      for i, entry in ipairs(got) do
        assert.equal(list[i], entry.data)
        assert.equal(LOCAL4, entry.addr)
        assert.equal(sport, entry.port)
      end
    end)

    it("sends to the connected peer when no address is given", function()
      local a, b, pa = connected_pair()
      assert.equal(3, a:sendmany({ "x", "y", "z" }))
      local got = collect(b, 3, 64)
      assert.same({ "x", "y", "z" }, { got[1].data, got[2].data, got[3].data })
      assert.equal(LOCAL4, got[1].addr)
      assert.equal(pa, got[1].port)
    end)

    it("sends and receives zero-length datagrams in a batch", function()
      local rx, rport = bound()
      local tx = bound()
      assert.equal(3, tx:sendmany({ "", "x", "" }, LOCAL4, rport))
      local got = collect(rx, 3, 64)
      assert.same({ "", "x", "" }, { got[1].data, got[2].data, got[3].data })
    end)

    it("sends 1024 entries, the most one call takes", function()
      local _, rport = bound()
      local tx = bound()
      assert.equal(1024, tx:sendmany(payloads(1024), LOCAL4, rport))
    end)

    it("recvmany(1024) is accepted", function()
      local s = bound()
      s:settimeout(0)
      assert.same({ nil, "timeout" }, { s:recvmany(1024) })
    end)

    it("strings with no address on an unconnected socket answer nil, err, EDESTADDRREQ, 0", function()
      local tx = bound()
      local r = pack(tx:sendmany({ "a", "b" }))
      assert.is_nil(r[1])
      assert.is_string(r[2])
      assert.equal(lsock.errno.EDESTADDRREQ, r[3])
      assert.equal(0, r[4])
    end)

    it("marks entries longer than max with truncated = true and cuts them", function()
      local rx, rport = bound()
      local tx = bound()
      must(tx:sendmany({ "short", "a longer datagram", "exact!" }, LOCAL4, rport))
      local got = collect(rx, 3, 64, 6)
      assert.equal(3, #got)
      assert.equal("short", got[1].data)
      assert.is_falsy(got[1].truncated)
      assert.equal("a long", got[2].data)
      assert.is_true(got[2].truncated)
      assert.equal("exact!", got[3].data)
      assert.is_falsy(got[3].truncated)
    end)

    it("recvmany with settimeout(0) on an empty socket gives nil, 'timeout' and events 'r'", function()
      local s = bound()
      s:settimeout(0)
      local r = pack(s:recvmany(64))
      assert.is_nil(r[1])
      assert.equal("timeout", r[2])
      assert.equal("r", s:events())
    end)

    it("recvmany with settimeout(0.05) on an empty socket waits about 0.05 s", function()
      local s = bound()
      s:settimeout(0.05)
      local t0 = lsock.monotime()
      local batch, err = s:recvmany(8)
      local elapsed = lsock.monotime() - t0
      assert.is_nil(batch)
      assert.equal("timeout", err)
      assert.is_true(elapsed >= 0.04 and elapsed < 2, "returned after " .. elapsed .. " s")
    end)

    it("stops part way at EMSGSIZE and returns nil, err, errno and the count sent", function()
      local rx, rport = bound()
      local tx = bound()
      local r = pack(tx:sendmany({ "a", "b", ("x"):rep(70000), "c" }, LOCAL4, rport))
      assert.is_nil(r[1])
      assert.truthy(tostring(r[2]):find("message too long", 1, true), "message: " .. tostring(r[2]))
      assert.equal(lsock.errno.EMSGSIZE, r[3])
      assert.equal(2, r[4])
      local got = collect(rx, 2, 64)
      assert.same({ "a", "b" }, { got[1].data, got[2].data })
    end)

    -- A unix dgram socketpair: the receiver's queue holds only a few
    -- datagrams (net.unix.max_dgram_qlen, and the small sndbuf), so a 64-entry
    -- batch with settimeout(0) stops part way. The count is checked against
    -- what actually arrived: the receiver drains its queue (a counted loop,
    -- settimeout(0)) and must find exactly `count` datagrams, the first
    -- `count` entries in order; then the rest of the list, sent after the
    -- drain, arrives too.
    it("returns nil, 'timeout', nil, count when a unix dgram queue fills part way", function()
      local a, b = lsock.socketpair("dgram")
      track(a)
      track(b)
      assert.truthy(a, "socketpair: " .. tostring(b))
      must(a:setoption("sndbuf", 4096))
      a:settimeout(0)
      b:settimeout(0)
      local list = payloads(64, ("q"):rep(500))
      local r = pack(a:sendmany(list))
      assert.is_nil(r[1])
      assert.equal("timeout", r[2])
      assert.is_nil(r[3])
      local count = r[4]
      assert_integer(count, "count_sent")
      assert.is_true(count > 0 and count < 64, "count_sent " .. tostring(count))
      assert.equal("w", a:events())
      local received = {}
      for _ = 1, 65 do
        local data = b:recv()
        if not data then break end
        received[#received + 1] = data
      end
      assert.equal(count, #received)
      for i = 1, count do assert.equal(list[i], received[i]) end
      -- the rest goes out once there is room
      local rest = {}
      for i = count + 1, math.min(count + 3, 64) do rest[#rest + 1] = list[i] end
      assert.equal(#rest, a:sendmany(rest))
      assert.equal(list[count + 1], b:recv())
    end)

    it("recvmany on a unix dgram socketpair gives entries with data", function()
      local a, b = lsock.socketpair("dgram")
      track(a)
      track(b)
      b:settimeout(WAIT)
      assert.equal(2, a:sendmany({ "u1", "u2" }))
      local got = collect(b, 2, 64)
      assert.equal("u1", got[1].data)
      assert.equal("u2", got[2].data)
    end)
  end)

  describe("argument errors", function()
    it("sendto without a port raises naming the port", function()
      local s = udp()
      assert_raises({ "port", "#3" }, function() s:sendto("x", LOCAL4) end)
    end)

    it("sendto with port 65536 raises naming the port", function()
      local s = udp()
      assert_raises({ "port", "#3" }, function() s:sendto("x", LOCAL4, 65536) end)
    end)

    it("sendto with port -1 raises naming the port", function()
      local s = udp()
      assert_raises({ "port", "#3" }, function() s:sendto("x", LOCAL4, -1) end)
    end)

    it("sendto with a table as data raises naming the data", function()
      local s = udp()
      assert_raises({ "data", "#1" }, function() s:sendto({}, LOCAL4, 9) end)
    end)

    it("sendto with a table as address raises naming the address", function()
      local s = udp()
      assert_raises({ "addr", "#2" }, function() s:sendto("x", {}, 9) end)
    end)

    it("recvfrom(0) raises naming max", function()
      local s = bound()
      assert_raises({ "max", "#1" }, function() s:recvfrom(0) end)
    end)

    it("recvfrom(-1) raises naming max", function()
      local s = bound()
      assert_raises({ "max", "#1" }, function() s:recvfrom(-1) end)
    end)

    for _, name in ipairs({ "receive", "listen", "accept" }) do
      it("stream method " .. name .. " raises on a udp socket", function()
        local s = bound()
        local ok, err = pcall(function() return s[name](s) end)
        assert.is_false(ok, name .. " returned instead of raising")
        assert.matches(name, tostring(err), 1, true)
      end)
    end

    for _, case in ipairs({
      { "sendto", function(s) return s:sendto("x", LOCAL4, 9) end },
      { "recvfrom", function(s) return s:recvfrom() end },
      { "sendmany", function(s) return s:sendmany({ "x" }, LOCAL4, 9) end },
      { "recvmany", function(s) return s:recvmany(4) end },
    }) do
      it(case[1] .. " raises on a tcp socket", function()
        local s = track(lsock.tcp())
        s:settimeout(WAIT)
        local ok, err = pcall(case[2], s)
        assert.is_false(ok, case[1] .. " returned instead of raising")
        assert.matches(case[1], tostring(err), 1, true)
      end)
    end

    it("recvmany(0) raises naming n", function()
      local s = bound()
      assert_raises({ "#1", "'n'", " n " }, function() s:recvmany(0) end)
    end)

    it("recvmany(1025) raises naming n", function()
      local s = bound()
      assert_raises({ "#1", "'n'", " n " }, function() s:recvmany(1025) end)
    end)

    it("recvmany without n raises naming n", function()
      local s = bound()
      assert_raises({ "#1", "'n'", " n " }, function() s:recvmany() end)
    end)

    it("recvmany(4, 0) raises naming max", function()
      local s = bound()
      assert_raises({ "#2", "max" }, function() s:recvmany(4, 0) end)
    end)

    it("sendmany with a string instead of a list raises naming the list", function()
      local s = udp()
      assert_raises({ "#1", "list" }, function() s:sendmany("x", LOCAL4, 9) end)
    end)

    it("sendmany with a boolean entry raises naming the list", function()
      local s = udp()
      assert_raises({ "#1", "list", "entry" }, function() s:sendmany({ "ok", true }, LOCAL4, 9) end)
    end)

    it("sendmany with a table entry whose data is not a string raises", function()
      local s = udp()
      assert_raises({ "#1", "list", "entry", "data" }, function()
        s:sendmany({ { data = {}, addr = LOCAL4, port = 9 } })
      end)
    end)

    it("sendmany with 1025 entries raises naming the list", function()
      local s = udp()
      local list = {}
      for i = 1, 1025 do list[i] = "x" end
      assert_raises({ "#1", "list", "1024" }, function() s:sendmany(list, LOCAL4, 9) end)
    end)

    it("sendmany with a port out of range raises naming the port", function()
      local s = udp()
      assert_raises({ "port", "#3" }, function() s:sendmany({ "x" }, LOCAL4, 65536) end)
    end)

    it("sendmany with a table entry without a port raises naming the port", function()
      local s = udp()
      assert_raises({ "port" }, function() s:sendmany({ { data = "x", addr = LOCAL4 } }) end)
    end)
  end)

  describe("closed socket", function()
    local cases = {
      { "sendto", function(s) return s:sendto("x", LOCAL4, 9) end },
      { "recvfrom", function(s) return s:recvfrom() end },
      { "sendmany", function(s) return s:sendmany({ "x" }, LOCAL4, 9) end },
      { "recvmany", function(s) return s:recvmany(4) end },
      { "send", function(s) return s:send("x") end },
      { "recv", function(s) return s:recv() end },
    }
    for _, case in ipairs(cases) do
      it(case[1] .. " answers nil, 'closed'", function()
        local s = bound()
        s:close()
        local r = pack(case[2](s))
        assert.is_nil(r[1])
        assert.equal("closed", r[2])
      end)
    end
  end)

  describe("options", function()
    it("broadcast round-trips true and false", function()
      local s = udp()
      assert.is_false(s:getoption("broadcast"))
      assert.is_true(s:setoption("broadcast", true))
      assert.is_true(s:getoption("broadcast"))
      assert.is_true(s:setoption("broadcast", false))
      assert.is_false(s:getoption("broadcast"))
    end)

    for _, case in ipairs({ { "ttl", 7 }, { "tos", 0x10 }, { "multicast_ttl", 3 } }) do
      it(case[1] .. " round-trips " .. case[2], function()
        local s = udp()
        assert.is_true(s:setoption(case[1], case[2]))
        local v = s:getoption(case[1])
        assert_integer(v, case[1])
        assert.equal(case[2], v)
      end)
    end

    it("multicast_loop round-trips false and true", function()
      local s = udp()
      assert.is_true(s:setoption("multicast_loop", false))
      assert.is_false(s:getoption("multicast_loop"))
      assert.is_true(s:setoption("multicast_loop", true))
      assert.is_true(s:getoption("multicast_loop"))
    end)

    it("multicast_if round-trips an IPv4 address", function()
      local s = udp()
      assert.is_true(s:setoption("multicast_if", LOCAL4))
      assert.equal(LOCAL4, s:getoption("multicast_if"))
    end)

    for _, name in ipairs({ "rcvbuf", "sndbuf" }) do
      it(name .. " reads back at least the value set (Linux doubles it)", function()
        local s = udp()
        assert.is_true(s:setoption(name, 65536))
        local v = s:getoption(name)
        assert_integer(v, name)
        assert.is_true(v >= 65536, name .. " read " .. tostring(v))
      end)
    end

    it_ipv6("unicast_hops and multicast_hops round-trip on inet6", function()
      local s = udp("inet6")
      assert.is_true(s:setoption("unicast_hops", 9))
      assert.equal(9, s:getoption("unicast_hops"))
      assert.is_true(s:setoption("multicast_hops", 5))
      assert.equal(5, s:getoption("multicast_hops"))
    end)

    it_ipv6("setting unicast_hops leaves multicast_hops unchanged", function()
      local s = udp("inet6")
      local before = s:getoption("multicast_hops")
      assert_integer(before, "multicast_hops")
      local value = before == 17 and 18 or 17
      assert.is_true(s:setoption("unicast_hops", value))
      assert.equal(value, s:getoption("unicast_hops"))
      assert.equal(before, s:getoption("multicast_hops"))
    end)

    it_ipv6("setting multicast_hops leaves unicast_hops unchanged", function()
      local s = udp("inet6")
      local before = s:getoption("unicast_hops")
      assert_integer(before, "unicast_hops")
      local value = before == 3 and 4 or 3
      assert.is_true(s:setoption("multicast_hops", value))
      assert.equal(value, s:getoption("multicast_hops"))
      assert.equal(before, s:getoption("unicast_hops"))
    end)

    it_ipv6("multicast_if on inet6 takes an interface name and reads back its index", function()
      local s = udp("inet6")
      assert.is_true(s:setoption("multicast_if", "lo"))
      local index = s:getoption("multicast_if")
      assert_integer(index, "multicast_if")
      assert.is_true(index > 0)
      assert.is_true(s:setoption("multicast_if", index))
      assert.equal(index, s:getoption("multicast_if"))
    end)

    -- docs/reference.md: ttl and multicast_ttl use the IPv6 equivalents on
    -- an inet6 socket, each its own one
    it_ipv6("ttl on inet6 sets unicast_hops and leaves multicast_hops unchanged", function()
      local s = udp("inet6")
      local before = s:getoption("multicast_hops")
      local value = before == 13 and 14 or 13
      assert.is_true(s:setoption("ttl", value))
      assert.equal(value, s:getoption("ttl"))
      assert.equal(value, s:getoption("unicast_hops"))
      assert.equal(before, s:getoption("multicast_hops"))
    end)

    it_ipv6("multicast_ttl on inet6 sets multicast_hops and leaves unicast_hops unchanged", function()
      local s = udp("inet6")
      local before = s:getoption("unicast_hops")
      local value = before == 6 and 7 or 6
      assert.is_true(s:setoption("multicast_ttl", value))
      assert.equal(value, s:getoption("multicast_ttl"))
      assert.equal(value, s:getoption("multicast_hops"))
      assert.equal(before, s:getoption("unicast_hops"))
    end)

    it_ipv6("tos round-trips on inet6 (traffic class)", function()
      local s = udp("inet6")
      assert.is_true(s:setoption("tos", 0x20))
      assert.equal(0x20, s:getoption("tos"))
    end)

    it_ipv6("multicast_loop round-trips on inet6", function()
      local s = udp("inet6")
      assert.is_true(s:setoption("multicast_loop", false))
      assert.is_false(s:getoption("multicast_loop"))
      assert.is_true(s:setoption("multicast_loop", true))
      assert.is_true(s:getoption("multicast_loop"))
    end)

    it_ipv6("multicast_if reads 0 on a fresh inet6 socket", function()
      assert.equal(0, udp("inet6"):getoption("multicast_if"))
    end)

    for _, name in ipairs({ "unicast_hops", "multicast_hops" }) do
      it("setoption " .. name .. " on an inet socket answers nil, err, ENOPROTOOPT", function()
        local s = udp()
        local r = pack(s:setoption(name, 5))
        assert.is_nil(r[1])
        assert.is_string(r[2])
        assert.truthy(r[2]:find("protocol not available", 1, true), "message: " .. tostring(r[2]))
        assert.equal(lsock.errno.ENOPROTOOPT, r[3])
      end)

      it("getoption " .. name .. " on an inet socket answers nil, err, ENOPROTOOPT", function()
        local s = udp()
        local r = pack(s:getoption(name))
        assert.is_nil(r[1])
        assert.is_string(r[2])
        assert.equal(lsock.errno.ENOPROTOOPT, r[3])
      end)
    end
  end)
end)
