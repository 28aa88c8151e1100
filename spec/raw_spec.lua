-- spec/raw_spec.lua: raw inet/inet6 sockets (ICMP echo by hand, hdrincl)
-- and packet sockets on the loopback interface. Real traffic on 127.0.0.1
-- and ::1 only; every wait is bounded by a socket timeout and a counted
-- loop. Raw and packet sockets need root (CAP_NET_RAW): without it these
-- specs are pending and say so; one spec runs a child as user nobody to see
-- the permission error itself.

local lsock = require "lsock"
local icmp = require "lsock.icmp" -- only for its checksum
local util = require "helpers.util"

local LOCAL4, LOCAL6 = "127.0.0.1", "::1"
local WAIT = 5 -- seconds: the timeout every spec socket gets
-- A spec gives up on its reply after this many datagrams or seconds. Packet
-- and raw sockets see all the traffic of lo, which other programs on the
-- machine may fill: a count alone can run out before the reply comes.
local TRIES, SECONDS = 100000, 10

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must

local command_ok, lua_command = util.succeeds, util.lua_command

local AS_NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups "

local IS_ROOT = util.is_root()
local it_root = checks.it_if(IS_ROOT, "raw sockets need root (CAP_NET_RAW)")
local it_root6 = IS_ROOT and checks.it_ipv6 or it_root
-- The child must be able to load lsock from where this build lives.
local it_nobody = checks.it_if(IS_ROOT and command_ok(AS_NOBODY .. lua_command("spec/helpers/raw_open.lua")),
  "needs root, setpriv(1), and a build that user nobody can read")

local function byte16(n)
  return string.char(math.floor(n / 256), n % 256)
end

local function u16(s, i)
  return s:byte(i) * 256 + s:byte(i + 1)
end

-- An ICMP echo request built by hand: type (8, or 128 for ICMPv6), code 0,
-- checksum (left 0 for ICMPv6: the kernel computes it), identifier,
-- sequence, payload.
local function echo_request(kind, id, seq, payload)
  local body = byte16(id) .. byte16(seq) .. payload
  local sum = 0
  if kind == 8 then sum = icmp.checksum(string.char(kind, 0, 0, 0) .. body) end
  return string.char(kind, 0) .. byte16(sum) .. body
end

-- A payload that no other traffic carries.
local serial = 0
local function unique(what)
  serial = serial + 1
  return ("lsock raw_spec %s %d %.6f"):format(what, serial, lsock.gettime())
end

-- Receive on `s` until `pick(data, addr, port_or_ethertype)` returns
-- something, looking at TRIES datagrams for SECONDS at most (each wait
-- bounded by the socket timeout). Returns what pick returned, or fails the
-- spec.
local function receive_until(s, pick)
  local deadline, seen = lsock.monotime() + SECONDS, 0
  while seen < TRIES and lsock.monotime() < deadline do
    local data, a, b = s:recvfrom()
    assert.is_string(data, "recvfrom: " .. tostring(a))
    seen = seen + 1
    local found = pick(data, a, b)
    if found then return found end
  end
  error("no matching datagram among the " .. seen .. " seen")
end

local function raw4()
  local s = track(must(lsock.socket("inet", "raw", "icmp")))
  s:settimeout(WAIT)
  return s
end

describe("raw inet sockets", function()
  it_root("are of family inet and type raw", function()
    local s = raw4()
    assert.equal("inet", s:family())
    assert.equal("raw", s:type())
  end)

  it_root6("of family inet6 are of type raw", function()
    local s = track(must(lsock.socket("inet6", "raw", "icmpv6")))
    assert.equal("inet6", s:family())
    assert.equal("raw", s:type())
  end)

  it_root("send a hand-built echo request to 127.0.0.1 and receive the reply behind its IP header", function()
    local s = raw4()
    local payload = unique("echo4")
    local request = echo_request(8, 0x4c53, 1, payload)
    assert.equal(#request, s:sendto(request, LOCAL4))
    -- On loopback the socket also sees its own request: look for type 0.
    local reply = receive_until(s, function(data, addr, port)
      local ihl = (data:byte(1) % 16) * 4
      local m = data:sub(ihl + 1)
      if m:byte(1) == 0 and m:sub(9) == payload then
        return { data = data, addr = addr, port = port, msg = m, ihl = ihl }
      end
    end)
    assert.equal(LOCAL4, reply.addr)
    assert.equal(0, reply.port)
    assert.equal(4, math.floor(reply.data:byte(1) / 16), "IP version")
    assert.is_true(reply.ihl >= 20)
    assert.equal(1, reply.data:byte(10), "IP protocol is ICMP")
    assert.equal(#reply.data, u16(reply.data, 3), "IP total length")
    assert.equal(string.char(127, 0, 0, 1), reply.data:sub(13, 16), "IP source")
    assert.equal(0x4c53, u16(reply.msg, 5), "identifier")
    assert.equal(1, u16(reply.msg, 7), "sequence")
    assert.equal(0, icmp.checksum(reply.msg), "the reply's checksum is right")
  end)

  it_root6("send a hand-built ICMPv6 echo request to ::1 and receive the reply without an IP header", function()
    local s = track(must(lsock.socket("inet6", "raw", "icmpv6")))
    s:settimeout(WAIT)
    local payload = unique("echo6")
    local request = echo_request(128, 0x4c53, 2, payload)
    assert.equal(#request, s:sendto(request, LOCAL6))
    local reply = receive_until(s, function(data, addr, port)
      if data:byte(1) == 129 and data:sub(9) == payload then
        return { data = data, addr = addr, port = port }
      end
    end)
    assert.equal(LOCAL6, reply.addr)
    assert.equal(0, reply.port)
    assert.equal(0, reply.data:byte(2), "code")
    assert.equal(0x4c53, u16(reply.data, 5), "identifier")
    assert.equal(2, u16(reply.data, 7), "sequence")
  end)

  it_root("take a port in sendto and ignore it", function()
    local s = raw4()
    local request = echo_request(8, 0x4c53, 3, unique("port"))
    assert.equal(#request, s:sendto(request, LOCAL4, 0))
  end)

  it_root("round-trip the hdrincl option", function()
    local s = raw4()
    assert.is_false(s:getoption("hdrincl"))
    assert.is_true(s:setoption("hdrincl", true))
    assert.is_true(s:getoption("hdrincl"))
    assert.is_true(s:setoption("hdrincl", false))
    assert.is_false(s:getoption("hdrincl"))
  end)

  it_root("with hdrincl, send a hand-built IPv4 header and echo request to 127.0.0.1 and get the reply", function()
    local s = raw4()
    must(s:setoption("hdrincl", true))
    local payload = unique("hdrincl")
    local msg = echo_request(8, 0x4c54, 4, payload)
    local src = string.char(127, 0, 0, 1)
    -- version 4, IHL 5; tos 0; total length; id; no fragment bits; ttl 64;
    -- protocol 1 (ICMP); header checksum; source; destination.
    local function header(sum)
      return string.char(0x45, 0) .. byte16(20 + #msg) .. byte16(0x1234) .. byte16(0)
        .. string.char(64, 1) .. byte16(sum) .. src .. src
    end
    local packet = header(icmp.checksum(header(0))) .. msg
    assert.equal(#packet, s:sendto(packet, LOCAL4))
    local reply = receive_until(s, function(data)
      local m = data:sub((data:byte(1) % 16) * 4 + 1)
      if m:byte(1) == 0 and m:sub(9) == payload then return m end
    end)
    assert.equal(0x4c54, u16(reply, 5), "identifier")
    assert.equal(4, u16(reply, 7), "sequence")
  end)

  it_nobody("cannot be opened without CAP_NET_RAW: nil, err, EPERM", function()
    local cmd = "timeout 60 " .. AS_NOBODY
      .. lua_command("spec/helpers/raw_open.lua", "inet:raw:icmp", "inet6:raw:icmpv6", "packet:raw") .. " 2>&1"
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    local eperm = lsock.errno.EPERM
    for _, what in ipairs({ "inet:raw:icmp", "inet6:raw:icmpv6", "packet:raw" }) do
      local errno, err = out:match(what:gsub("%p", "%%%0") .. " fail (%d+) ([^\n]*)")
      assert.equal(tostring(eperm), errno, what .. " as nobody: " .. out)
      assert.matches("operation not permitted", err, 1, true)
    end
  end)
end)

describe("packet sockets", function()
  local function packet_socket(proto)
    local s = track(must(lsock.socket("packet", "raw", proto)))
    s:settimeout(WAIT)
    return s
  end

  -- Send `payload` in a UDP datagram to a bound receiver on `host`, so the
  -- frames on lo carry it.
  local function udp_to(host, payload)
    local family = host == LOCAL6 and "inet6" or "inet"
    local rx = track(must(lsock.udp(family)))
    must(rx:bind(host, 0))
    local _, port = rx:getsockname()
    local tx = track(must(lsock.udp(family)))
    must(tx:sendto(payload, host, port))
    return rx
  end

  -- Frames on lo carrying `payload`: returns {frame, ifname, ethertype}.
  local function frame_with(s, payload)
    return receive_until(s, function(frame, ifname, ethertype)
      if frame:find(payload, 1, true) then
        return { frame = frame, ifname = ifname, ethertype = ethertype }
      end
    end)
  end

  it_root("are of family packet and type raw", function()
    local s = packet_socket()
    assert.equal("packet", s:family())
    assert.equal("raw", s:type())
  end)

  it_root("bound to lo see an IPv4 frame with its interface name and ethertype", function()
    local s = packet_socket()
    assert.is_true(s:bind("lo"))
    local payload = unique("packet4")
    udp_to(LOCAL4, payload)
    local got = frame_with(s, payload)
    assert.equal("lo", got.ifname)
    assert.equal(0x0800, got.ethertype)
    -- lo frames carry an Ethernet header: 12 bytes of addresses, then the type.
    assert.equal(0x0800, u16(got.frame, 13))
  end)

  it_root6("bound to lo see an IPv6 frame with ethertype 0x86dd", function()
    local s = packet_socket()
    assert.is_true(s:bind("lo"))
    local payload = unique("packet6")
    udp_to(LOCAL6, payload)
    local got = frame_with(s, payload)
    assert.equal("lo", got.ifname)
    assert.equal(0x86dd, got.ethertype)
  end)

  it_root("opened for ethertype 0x86dd only do not see IPv4 frames", function()
    local s = packet_socket(0x86dd)
    assert.is_true(s:bind("lo"))
    udp_to(LOCAL4, unique("filtered"))
    s:settimeout(0.2)
    -- Whatever arrives (IPv6 traffic on lo, if any) is IPv6.
    for _ = 1, TRIES do
      local frame, ifname, ethertype = s:recvfrom()
      if not frame then
        assert.equal("timeout", ifname)
        return
      end
      assert.equal(0x86dd, ethertype)
    end
  end)

  it_root("bound to an unknown interface: nil, err, ENODEV", function()
    local s = packet_socket()
    local ok, err, errno = s:bind("nosuch0")
    assert.is_nil(ok)
    assert.equal("bind nosuch0: no such device", err)
    assert.equal(lsock.errno.ENODEV, errno)
  end)

  it_root("send a hand-built frame on lo that another packet socket sees", function()
    local watcher = packet_socket()
    must(watcher:bind("lo"))
    local payload = unique("frame")
    local lo = string.char(127, 0, 0, 1)
    -- UDP from port 9 to port 9, checksum 0 (none, which IPv4 allows).
    local udp = byte16(9) .. byte16(9) .. byte16(8 + #payload) .. byte16(0) .. payload
    local function ip(sum)
      return string.char(0x45, 0) .. byte16(20 + #udp) .. byte16(0x4c53) .. byte16(0)
        .. string.char(64, 17) .. byte16(sum) .. lo .. lo
    end
    -- lo's Ethernet addresses are all zeros.
    local frame = string.rep("\0", 12) .. byte16(0x0800) .. ip(icmp.checksum(ip(0))) .. udp
    local s = packet_socket()
    assert.equal(#frame, s:sendto(frame, "lo"))
    local got = frame_with(watcher, payload)
    assert.equal(frame, got.frame)
    assert.equal("lo", got.ifname)
    assert.equal(0x0800, got.ethertype)
  end)
end)
