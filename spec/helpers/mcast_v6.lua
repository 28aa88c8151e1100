--- IPv6 multicast peer for spec/multicast_spec.lua, run inside a private
-- network namespace (`unshare -n`) where a veth pair v0/v1 is up: lo has no
-- MULTICAST flag, so IPv6 multicast needs a real-looking interface, and a
-- namespace of our own keeps the traffic off every other network.
--
--   mcast_v6.lua GROUP IFNAME
--
-- A receiver bound to the wildcard joins GROUP on IFNAME; a sender with
-- multicast_if IFNAME, multicast_loop true and multicast_hops 1 sends to it;
-- the receiver drops the membership and the sender sends once more. Every
-- step prints one line, `WORD results...` (results through tostring, joined
-- by spaces), for the spec to check:
--
--   dad READY            the link-local address of IFNAME left "tentative"
--   bind R...            receiver:bind("*", 0)
--   join R...            setoption("add_membership", ...)
--   ifindex GOT WANT     getoption("multicast_if") and the index `ip link` gives
--   loop R...            setoption("multicast_loop", true)
--   hops R... / HOPS     setoption("multicast_hops", 1), then getoption
--   send R...            sendto("hello6", GROUP, port)
--   received DATA ADDR PORT SENDER_PORT
--   drop R...            setoption("drop_membership", ...)
--   sendagain R...
--   after R...           recvfrom() with settimeout(0.2) after the drop
--
-- Every wait is bounded (socket timeouts of at most 5 s, a counted loop for
-- the address), so it always ends on its own.
local lsock = require "lsock"

local group, ifname = arg[1], arg[2]

local function show(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  return table.concat(t, " ")
end

local function out(word, ...)
  io.stdout:write(word, " ", show(...), "\n")
  io.stdout:flush()
end

-- Duplicate address detection keeps a new link-local address "tentative"
-- for a second or two; a multicast sent before it ends has no source.
local function tentative()
  local p = io.popen("ip -6 addr show dev " .. ifname .. " tentative 2>&1")
  local text = p:read("*a")
  p:close()
  return text:find("inet6", 1, true) ~= nil
end
local ready = false
for _ = 1, 50 do
  if not tentative() then ready = true break end
  lsock.sleep(0.1)
end
out("dad", ready)

local membership = { group = group, interface = ifname }

local rx = lsock.udp("inet6")
rx:settimeout(5)
out("bind", rx:bind("*", 0))
local _, port = rx:getsockname()
out("join", rx:setoption("add_membership", membership))

local tx = lsock.udp("inet6")
tx:settimeout(5)
tx:setoption("multicast_if", ifname)
-- the index as `ip` sees it (/sys still shows the parent's namespace)
local want_index
do
  local p = io.popen("ip -o link show dev " .. ifname .. " 2>&1")
  want_index = p:read("*a"):match("^(%d+):")
  p:close()
end
out("ifindex", tx:getoption("multicast_if"), want_index)
out("loop", tx:setoption("multicast_loop", true))
out("hops", show(tx:setoption("multicast_hops", 1)) .. " / " .. show(tx:getoption("multicast_hops")))
out("send", tx:sendto("hello6", group, port))
local _, tport = tx:getsockname()
local data, addr, rport = rx:recvfrom()
out("received", data, addr, rport, tport)

out("drop", rx:setoption("drop_membership", membership))
out("sendagain", tx:sendto("again6", group, port))
rx:settimeout(0.2)
out("after", rx:recvfrom())

rx:close()
tx:close()
