-- spec/ping_spec.lua: lsock.ping (lua/lsock/icmp.lua) and examples/ping.lua.
-- The packet helpers are checked against values worked out by hand; the
-- pings go to 127.0.0.1 and ::1 only. What the spec process cannot set up
-- for itself runs in a child: in a private network namespace (unshare -n)
-- to turn on the unprivileged ICMP socket, to switch off echo replies or to
-- take the loopback interface down, and as user nobody (setpriv) to see the
-- permission errors. Every wait is bounded by a ping timeout, and every
-- child by `timeout 60`.

local lsock = require "lsock"
local icmp = require "lsock.icmp"
local util = require "helpers.util"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local assert_raises = checks.assert_raises

local TIMEOUT = 2 -- seconds a ping that must succeed may wait for its reply

local command_ok, first_line, lua_command = util.succeeds, util.first_line, util.lua_command

-- Run a shell command line under `timeout 60`; returns its output (standard
-- output and error) and exit status.
local function run(shell)
  local p = assert(io.popen("timeout 60 sh -c " .. util.quote(shell .. '; echo "exit=$?"') .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  local body, code = out:match("^(.-)\n?exit=(%d+)%s*$")
  return body or out, tonumber(code)
end

-- `shell` (lines of setup), then the Lua script, in a new network namespace.
local function in_netns(setup, script, ...)
  return run("unshare -n sh -c " .. util.quote(setup .. "\n" .. lua_command(script, ...)))
end

local AS_NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups "
local CHILD = "spec/helpers/ping_child.lua"
local INJECT = "spec/helpers/ping_inject.lua"

-- The `name=value` lines a ping child printed.
local function fields(out)
  local t = {}
  for k, v in out:gmatch("(%w+)=([^\n]*)") do t[k] = v end
  return t
end

-- Is gid inside net.ipv4.ping_group_range here?
local function ping_group_allows(gid)
  local range = first_line("cat /proc/sys/net/ipv4/ping_group_range") or ""
  local lo, hi = range:match("(%d+)%s+(%d+)")
  return lo ~= nil and tonumber(lo) <= gid and gid <= tonumber(hi)
end

-- May this process open an ICMP datagram socket? The kernel looks at all
-- of its groups.
local function dgram_allowed()
  for gid in (first_line("id -G") or ""):gmatch("%d+") do
    if ping_group_allows(tonumber(gid)) then return true end
  end
  return false
end

local IS_ROOT = util.is_root()
local DGRAM_OK = dgram_allowed()
local it_root = checks.it_if(IS_ROOT, "raw ICMP sockets need root (CAP_NET_RAW)")
local it_root6 = IS_ROOT and checks.it_ipv6 or it_root
-- Without options a ping falls back to the datagram socket.
local it_ping = checks.it_if(IS_ROOT or DGRAM_OK,
  "a ping needs root (CAP_NET_RAW) or a net.ipv4.ping_group_range with one of our groups")
local it_ping6 = (IS_ROOT or DGRAM_OK) and checks.it_ipv6 or it_ping

local LO_UP = "ip link set lo up"
local HAVE_NETNS = IS_ROOT and command_ok("unshare -n sh -c " .. util.quote(LO_UP))
local it_netns = checks.it_if(HAVE_NETNS, "needs root, unshare(1) and ip(8) for a private network namespace")
local NETNS_HAS_IPV6 = HAVE_NETNS
  and command_ok("unshare -n sh -c " .. util.quote(LO_UP .. "; ip -6 addr show dev lo | grep -q '::1'"))
local it_netns6 = HAVE_NETNS and checks.it_if(NETNS_HAS_IPV6, "no ::1 on lo in a private network namespace")
  or it_netns

-- raw_open.lua without arguments only loads lsock: can user nobody do that?
local NOBODY_OK = IS_ROOT and command_ok(AS_NOBODY .. lua_command("spec/helpers/raw_open.lua"))
local NOBODY_REASON = "needs root, setpriv(1), and a build that user nobody can read"
local it_nobody = checks.it_if(NOBODY_OK, NOBODY_REASON)
local it_netns_nobody = checks.it_if(HAVE_NETNS and NOBODY_OK, NOBODY_REASON .. ", and unshare(1)")
local it_nobody_denied = checks.it_if(NOBODY_OK and not ping_group_allows(65534),
  NOBODY_REASON .. ", and a net.ipv4.ping_group_range that leaves out group 65534")
local it_dgram_denied = checks.it_if(not DGRAM_OK,
  "net.ipv4.ping_group_range here lets this process open ICMP datagram sockets")

local DENIED = "no permission to open an ICMP socket (a raw socket needs root or CAP_NET_RAW;"
  .. " the datagram socket needs net.ipv4.ping_group_range)"

local function assert_denied(errno)
  local e = lsock.errno
  assert.is_true(errno == e.EACCES or errno == e.EPERM, "errno EACCES or EPERM, got " .. tostring(errno))
end

describe("lsock.icmp.checksum", function()
  it("gives 0x220d for RFC 1071's example bytes 00 01 f2 03 f4 f5 f6 f7", function()
    assert.equal(0x220d, icmp.checksum("\0\1\242\3\244\245\246\247"))
  end)

  it("pads an odd last byte with a zero", function()
    -- 0x0100 summed; its complement is 0xfeff.
    assert.equal(0xfeff, icmp.checksum("\1"))
  end)

  it("folds the carries back in", function()
    -- ffff + 0001 = 1 0000, folded to 0001; its complement is 0xfffe.
    assert.equal(0xfffe, icmp.checksum("\255\255\0\1"))
  end)

  it("is 0xffff for nothing at all", function()
    assert.equal(0xffff, icmp.checksum(""))
  end)
end)

describe("lsock.icmp echo packets", function()
  it("builds an IPv4 echo request byte for byte, checksum included", function()
    -- 0800 + 1234 + 0007 + 6162 + 6300 = de9d; its complement is 2162.
    assert.equal("\8\0\33\98\18\52\0\7abc", icmp.build_echo("inet", 0x1234, 7, "abc"))
  end)

  it("builds an IPv4 echo request whose checksum verifies", function()
    assert.equal(0, icmp.checksum(icmp.build_echo("inet", 65535, 65535, ("x"):rep(57))))
  end)

  it("builds an ICMPv6 echo request (type 128) leaving the checksum to the kernel", function()
    assert.equal("\128\0\0\0\255\254\1\0", icmp.build_echo("inet6", 0xfffe, 256, ""))
  end)

  it("parses what it builds", function()
    local e = icmp.parse_echo(icmp.build_echo("inet", 513, 1027, "payload\0bytes"))
    assert.same({ type = 8, code = 0, checksum = e.checksum, id = 513, seq = 1027,
      payload = "payload\0bytes" }, e)
  end)

  it("parses nothing shorter than the 8-byte header", function()
    assert.is_nil(icmp.parse_echo("\0\0\0\0\0\0\0"))
  end)

  it("skips an IPv4 header of IHL words, options included", function()
    local ihl5 = "\69" .. ("h"):rep(19)
    local ihl6 = "\70" .. ("o"):rep(23)
    assert.equal("icmp", icmp.strip_ip(ihl5 .. "icmp"))
    assert.equal("icmp", icmp.strip_ip(ihl6 .. "icmp"))
  end)

  it("strips nothing from what is not a whole IPv4 header", function()
    assert.is_nil(icmp.strip_ip("\96" .. ("6"):rep(39)), "an IPv6 header")
    assert.is_nil(icmp.strip_ip("\69" .. ("h"):rep(10)), "a cut header")
    assert.is_nil(icmp.strip_ip(""), "nothing")
  end)

  local function reply(kind, id, seq, code)
    return string.char(kind, code or 0, 0, 0, math.floor(id / 256), id % 256,
      math.floor(seq / 256), seq % 256) .. "data"
  end

  it("takes an echo reply with the right identifier and sequence", function()
    assert.is_true(icmp.is_reply(reply(0, 0x1234, 9), "inet", 0x1234, 9))
    assert.is_true(icmp.is_reply(reply(129, 0x1234, 9), "inet6", 0x1234, 9))
  end)

  it("ignores a reply with another identifier", function()
    assert.is_false(icmp.is_reply(reply(0, 0x1235, 9), "inet", 0x1234, 9))
  end)

  it("ignores a reply with another sequence", function()
    assert.is_false(icmp.is_reply(reply(0, 0x1234, 10), "inet", 0x1234, 9))
  end)

  it("ignores the request itself, the other family's reply type and another code", function()
    assert.is_false(icmp.is_reply(reply(8, 0x1234, 9), "inet", 0x1234, 9))
    assert.is_false(icmp.is_reply(reply(128, 0x1234, 9), "inet6", 0x1234, 9))
    assert.is_false(icmp.is_reply(reply(129, 0x1234, 9), "inet", 0x1234, 9))
    assert.is_false(icmp.is_reply(reply(0, 0x1234, 9), "inet6", 0x1234, 9))
    assert.is_false(icmp.is_reply(reply(0, 0x1234, 9, 1), "inet", 0x1234, 9))
  end)

  it("ignores a message too short for an echo header", function()
    assert.is_false(icmp.is_reply("\0\0\0\0", "inet", 0, 0))
  end)
end)

describe("lsock.ping arguments", function()
  it("raise naming the host when it is not a string", function()
    assert_raises({ "host", "#1" }, function() lsock.ping(127001) end)
  end)

  it("raise naming the options when they are not a table", function()
    assert_raises({ "opts", "#2" }, function() lsock.ping("127.0.0.1", 5) end)
  end)

  it("raise for an unknown kind, family, or a sequence out of range", function()
    assert_raises({ "kind" }, function() lsock.ping("127.0.0.1", { kind = "tcp" }) end)
    assert_raises({ "family" }, function() lsock.ping("127.0.0.1", { family = "unix" }) end)
    assert_raises({ "seq" }, function() lsock.ping("127.0.0.1", { seq = 65536 }) end)
    assert_raises({ "id" }, function() lsock.ping("127.0.0.1", { id = -1 }) end)
    assert_raises({ "size" }, function() lsock.ping("127.0.0.1", { size = 1.5 }) end)
    assert_raises({ "timeout" }, function() lsock.ping("127.0.0.1", { timeout = "1" }) end)
  end)
end)

describe("lsock.ping", function()
  local function assert_rtt(rtt, err, errno)
    assert.is_number(rtt, ("ping failed: %s (errno %s)"):format(tostring(err), tostring(errno)))
    assert.is_true(rtt > 0 and rtt < TIMEOUT, "round trip " .. tostring(rtt))
  end

  it_ping("returns the round-trip time to 127.0.0.1 in seconds", function()
    assert_rtt(lsock.ping("127.0.0.1", { timeout = TIMEOUT }))
  end)

  it_ping6("returns the round-trip time to ::1", function()
    assert_rtt(lsock.ping("::1", { timeout = TIMEOUT }))
  end)

  it_ping("pings without options (1 s timeout)", function()
    assert_rtt(lsock.ping("127.0.0.1"))
  end)

  it_root("pings over a raw socket when told to", function()
    assert_rtt(lsock.ping("127.0.0.1", { kind = "raw", timeout = TIMEOUT }))
  end)

  it_root6("pings ::1 over a raw socket when told to", function()
    assert_rtt(lsock.ping("::1", { kind = "raw", timeout = TIMEOUT }))
  end)

  it_ping("pings a host name within the family asked for", function()
    assert_rtt(lsock.ping("localhost", { family = "inet", timeout = TIMEOUT }))
  end)

  it_ping("pings with an empty payload, a large one, and given identifier and sequence", function()
    assert_rtt(lsock.ping("127.0.0.1", { size = 0, timeout = TIMEOUT }))
    assert_rtt(lsock.ping("127.0.0.1", { size = 8000, timeout = TIMEOUT }))
    assert_rtt(lsock.ping("127.0.0.1", { id = 0, seq = 65535, timeout = TIMEOUT }))
  end)

  -- The lowest free descriptor is taken: had a ping leaked one, the socket
  -- opened after the pings would get a higher number than the probe before.
  local function free_fd()
    local probe = lsock.tcp()
    local fd = probe:getfd()
    probe:close()
    return fd
  end

  it_ping("closes its socket after every ping", function()
    local fd = free_fd()
    for _ = 1, 20 do assert_rtt(lsock.ping("127.0.0.1", { timeout = TIMEOUT })) end
    assert.equal(fd, free_fd())
  end)

  it_dgram_denied("refuses the datagram kind where ping_group_range leaves us out: a clear error", function()
    local rtt, err, errno = lsock.ping("127.0.0.1", { kind = "dgram" })
    assert.is_nil(rtt)
    assert.equal("ping 127.0.0.1: no permission to open an ICMP datagram socket"
      .. " (it needs net.ipv4.ping_group_range to include one of the process's groups)", err)
    assert_denied(errno)
  end)

  it_dgram_denied("leaks no descriptor when the datagram kind is refused", function()
    local fd = free_fd()
    for _ = 1, 20 do assert.is_nil(lsock.ping("127.0.0.1", { kind = "dgram" })) end
    assert.equal(fd, free_fd())
  end)
end)

describe("lsock.ping in a private network namespace", function()
  -- Every group may open ICMP datagram sockets, in this namespace only.
  local DGRAM_ON = LO_UP .. '\necho "0 2147483647" > /proc/sys/net/ipv4/ping_group_range'
  local NO_ECHO = LO_UP .. "\nsysctl -q -w net.ipv4.icmp_echo_ignore_all=1"

  local function assert_child_rtt(out)
    local f = fields(out)
    assert.is_not_nil(f.rtt, "the child's ping failed:\n" .. out)
    local rtt = tonumber(f.rtt)
    assert.is_true(rtt > 0 and rtt < TIMEOUT, "round trip " .. f.rtt)
  end

  it_netns("pings 127.0.0.1 over the unprivileged ICMP datagram socket", function()
    assert_child_rtt(in_netns(DGRAM_ON, CHILD, "127.0.0.1", "kind=dgram", "timeout=" .. TIMEOUT))
  end)

  it_netns6("pings ::1 over the unprivileged ICMPv6 datagram socket", function()
    assert_child_rtt(in_netns(DGRAM_ON, CHILD, "::1", "kind=dgram", "timeout=" .. TIMEOUT))
  end)

  it_netns_nobody("falls back to the datagram socket for a user without CAP_NET_RAW", function()
    local ping = AS_NOBODY .. lua_command(CHILD, "127.0.0.1", "timeout=" .. TIMEOUT)
    assert_child_rtt(run("unshare -n sh -c " .. util.quote(DGRAM_ON .. "\n" .. ping)))
  end)

  for _, kind in ipairs({ "raw", "dgram" }) do
    it_netns("answers nil, \"timeout\" after opts.timeout when no reply comes (" .. kind .. ")", function()
      local out = in_netns(DGRAM_ON .. "\n" .. NO_ECHO, CHILD, "127.0.0.1", "kind=" .. kind, "timeout=0.5")
      local f = fields(out)
      assert.equal("timeout", f.err, out)
      local elapsed = tonumber(f.elapsed)
      assert.is_true(elapsed >= 0.45 and elapsed < 2, "returned after " .. tostring(f.elapsed) .. " s")
    end)
  end

  it_netns("returns an error, without waiting, when 127.0.0.1 is unreachable (lo down)", function()
    local out = in_netns("true", CHILD, "127.0.0.1", "timeout=5")
    local f = fields(out)
    assert.is_not_nil(f.err, out)
    assert.is_not.equal("timeout", f.err)
    assert.is_true(tonumber(f.elapsed) < 1, "returned after " .. tostring(f.elapsed) .. " s")
  end)

  -- The injector sends replies (and a request) that must not end the ping,
  -- then, as a control, the reply that must.
  local function with_injector(mode)
    local ping = lua_command(CHILD, "127.0.0.1", "kind=raw", "id=4660", "seq=7", "timeout=1")
    local inject = lua_command(INJECT, mode, "4660", "7")
    return run("unshare -n sh -c " .. util.quote(NO_ECHO .. "\n" .. inject .. " &\n" .. ping .. "\nwait"))
  end

  it_netns("ignores replies with another identifier or sequence, and echo requests", function()
    local out = with_injector("wrong")
    assert.matches("sent [1-9]", out)
    assert.equal("timeout", fields(out).err, out)
  end)

  it_netns("takes a reply that only the injector sent (the control for the spec above)", function()
    local out = with_injector("right")
    assert.matches("sent [1-9]", out)
    assert_child_rtt(out)
  end)
end)

describe("lsock.ping without privileges", function()
  local function as_nobody(...)
    return fields(run(AS_NOBODY .. lua_command(CHILD, ...)))
  end

  it_nobody_denied("says that neither a raw nor a datagram socket may be opened", function()
    local f = as_nobody("127.0.0.1")
    assert.equal("ping 127.0.0.1: " .. DENIED, f.err)
    assert_denied(tonumber(f.errno))
  end)

  it_nobody("says that a raw socket needs root or CAP_NET_RAW when the raw kind is forced", function()
    local f = as_nobody("127.0.0.1", "kind=raw")
    assert.equal("ping 127.0.0.1: no permission to open a raw ICMP socket (it needs root or CAP_NET_RAW)",
      f.err)
    assert.equal(tostring(lsock.errno.EPERM), f.errno)
  end)
end)

describe("examples/ping.lua", function()
  local function ping_example(...)
    return run(lua_command("examples/ping.lua", ...))
  end

  it_ping("prints a line per reply and a summary, and exits 0", function()
    local out, code = ping_example("-c", "2", "-i", "0.1", "127.0.0.1")
    assert.equal(0, code, out)
    local n = 0
    for seq in out:gmatch("reply from 127%.0%.0%.1: seq=(%d) time=%d+%.%d%d%d ms") do
      n = n + 1
      assert.equal(tostring(n), seq)
    end
    assert.equal(2, n, out)
    assert.matches("2 sent, 2 received", out, 1, true)
  end)

  it_ping6("pings ::1 with -6", function()
    local out, code = ping_example("-6", "-c", "1", "::1")
    assert.equal(0, code, out)
    assert.matches("reply from ::1: seq=1 time=", out, 1, true)
  end)

  it_netns("exits 1 when no reply comes", function()
    local out, code = in_netns(LO_UP .. "\nsysctl -q -w net.ipv4.icmp_echo_ignore_all=1",
      "examples/ping.lua", "-c", "1", "-W", "0.3", "127.0.0.1")
    assert.equal(1, code, out)
    assert.matches("no reply from 127.0.0.1: seq=1", out, 1, true)
  end)

  it("exits 2 on a usage error", function()
    local out, code = ping_example("-c")
    assert.equal(2, code, out)
    assert.matches("usage:", out, 1, true)
    out, code = ping_example("-x", "127.0.0.1")
    assert.equal(2, code, out)
    out, code = ping_example()
    assert.equal(2, code, out)
  end)
end)
