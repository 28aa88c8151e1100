-- spec/multicast_spec.lua: UDP multicast (issue 5). IPv4 multicast on the
-- loopback interface of this host (group 239.1.2.3, interface 127.0.0.1);
-- IPv6 multicast in a private network namespace of its own (`unshare -n`
-- with a veth pair), since lo has no MULTICAST flag for IPv6: that part needs
-- root, `unshare` and `ip`, and is pending with the reason otherwise. No
-- packet leaves this host; every wait is bounded by a socket timeout.

local lsock = require "lsock"
local util = require "helpers.util"

local LOCAL4 = "127.0.0.1"
local GROUP4 = "239.1.2.3"
local GROUP6, IF6 = "ff02::1:3", "v0"
local WAIT = 5

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must
local assert_raises = checks.assert_raises

local function udp(family)
  local s = track(lsock.udp(family))
  s:settimeout(WAIT)
  return s
end

local succeeds = util.succeeds

-- Why the namespace specs cannot run here, or nil when they can.
local function netns_unavailable()
  if not util.is_root() then return "not root: unshare -n needs root" end
  if not succeeds("command -v unshare") then return "no unshare command" end
  if not succeeds("command -v ip") then return "no ip command" end
  if not succeeds("command -v timeout") then return "no timeout command" end
  if not succeeds("unshare -n true") then return "unshare -n fails here (no permission for namespaces)" end
  return nil
end
local NETNS_WHY = netns_unavailable()
if NETNS_WHY then print("multicast_spec: IPv6 multicast specs pending: " .. NETNS_WHY) end
local it_netns = checks.it_if(NETNS_WHY == nil, tostring(NETNS_WHY))

local MCAST_V6 = util.HELPERS .. "mcast_v6.lua"

-- Run `script` with arguments `...` in a child Lua (same interpreter and
-- module paths as util.spawn_script) inside a new network namespace with a
-- veth pair v0/v1 and lo up, after 2.5 s for duplicate address detection.
-- Killed after 60 s at most. Returns the output lines as a table keyed by the
-- first word of each line (the rest of the line as the value) and the whole
-- output.
local function run_in_netns(script, ...)
  local child = util.lua_command(script, ...)
  local inner = "ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up; "
    .. "ip link set lo up; sleep 2.5; " .. child
  local cmd = "timeout 60 unshare -n sh -c " .. util.quote(inner) .. " 2>&1"
  local p = assert(io.popen(cmd, "r"))
  local output = p:read("*a")
  p:close()
  local lines = {}
  for line in output:gmatch("[^\n]+") do
    local word, rest = line:match("^(%S+) ?(.*)$")
    if word and lines[word] == nil then lines[word] = rest end
  end
  return lines, output
end

describe("multicast", function()

  describe("IPv4 on lo", function()
    -- receiver bound to the wildcard, joined to GROUP4 on 127.0.0.1;
    -- sender with multicast_if 127.0.0.1 and multicast_loop on
    local function setup(bind_addr)
      local rx = udp()
      must(rx:setoption("reuseaddr", true))
      must(rx:bind(bind_addr or "*", 0))
      local _, port = rx:getsockname()
      local tx = udp()
      must(tx:bind(LOCAL4, 0))
      must(tx:setoption("multicast_if", LOCAL4))
      must(tx:setoption("multicast_loop", true))
      must(tx:setoption("multicast_ttl", 1))
      return rx, port, tx
    end
    local membership = { group = GROUP4, interface = LOCAL4 }

    it("add_membership returns true", function()
      local rx = setup()
      assert.is_true(rx:setoption("add_membership", membership))
    end)

    it("a receiver joined on 127.0.0.1 gets a datagram sent to the group", function()
      local rx, port, tx = setup()
      must(rx:setoption("add_membership", membership))
      assert.equal(5, tx:sendto("hello", GROUP4, port))
      local _, tport = tx:getsockname()
      local data, addr, from = rx:recvfrom()
      assert.equal("hello", data)
      assert.equal(LOCAL4, addr)
      assert.equal(tport, from)
    end)

    it("works with the receiver bound to 0.0.0.0", function()
      local rx, port, tx = setup("0.0.0.0")
      must(rx:setoption("add_membership", membership))
      must(tx:sendto("zero", GROUP4, port))
      assert.equal("zero", (rx:recvfrom()))
    end)

    it("after drop_membership the receiver no longer gets new datagrams", function()
      local rx, port, tx = setup()
      must(rx:setoption("add_membership", membership))
      must(tx:sendto("before", GROUP4, port))
      assert.equal("before", (rx:recvfrom()))
      assert.is_true(rx:setoption("drop_membership", membership))
      must(tx:sendto("after", GROUP4, port))
      rx:settimeout(0.2)
      local data, err = rx:recvfrom()
      assert.is_nil(data, "received " .. tostring(data) .. " after drop_membership")
      assert.equal("timeout", err)
    end)

    it("drop_membership of a group not joined answers nil, err, EADDRNOTAVAIL", function()
      local rx = setup()
      local ok, err, errno = rx:setoption("drop_membership", membership)
      assert.is_nil(ok)
      assert.is_string(err)
      assert.equal(lsock.errno.EADDRNOTAVAIL, errno)
    end)

    it("add_membership with a value that is not a table raises", function()
      local rx = setup()
      assert_raises({ "#2", "membership", "table" }, function() rx:setoption("add_membership", GROUP4) end)
    end)

    it("add_membership without a group raises naming the group", function()
      local rx = setup()
      assert_raises({ "group" }, function() rx:setoption("add_membership", { interface = LOCAL4 }) end)
    end)

    it("add_membership is write only: getoption raises", function()
      local rx = setup()
      assert.is_false((pcall(rx.getoption, rx, "add_membership")))
    end)
  end)

  describe("IPv6 in a private network namespace", function()
    local lines, output
    local function result()
      if not lines then lines, output = run_in_netns(MCAST_V6, GROUP6, IF6) end
      return lines, output
    end

    it_netns("joins the group on " .. IF6, function()
      local l, out = result()
      assert.equal("true", l.dad, out)
      assert.equal("true", l.bind, out)
      assert.equal("true", l.join, out)
    end)

    it_netns("multicast_if takes the interface name and reads back its index", function()
      local l, out = result()
      local got, want = (l.ifindex or ""):match("^(%S+) (%S+)$")
      assert.is_not_nil(want, out)
      assert.equal(want, got, out)
    end)

    it_netns("multicast_hops round-trips 1", function()
      local l, out = result()
      assert.equal("true / 1", l.hops, out)
      assert.equal("true", l.loop, out)
    end)

    it_netns("a receiver joined on " .. IF6 .. " gets a datagram sent to " .. GROUP6, function()
      local l, out = result()
      assert.equal("6", l.send, out)
      local data, addr, port, tport = (l.received or ""):match("^(%S+) (%S+) (%S+) (%S+)$")
      assert.equal("hello6", data, out)
      assert.truthy(addr and addr:find("^fe80:"), "source address: " .. tostring(addr) .. "\n" .. out)
      assert.equal(tport, port, out)
      assert.is_not_nil(tonumber(port), out)
    end)

    it_netns("after drop_membership the receiver no longer gets new datagrams", function()
      local l, out = result()
      assert.equal("true", l.drop, out)
      assert.equal("6", l.sendagain, out)
      assert.equal("nil timeout", l.after, out)
    end)
  end)
end)
