-- spec/connect_spec.lua: lsock.connect races the resolver's answers as
-- RFC 8305 (Happy Eyeballs) says. A name with two addresses, the first of
-- which never answers, needs a hosts file of our own: the child runs in a
-- private mount namespace (unshare -m) with one bind-mounted over
-- /etc/hosts, which changes nothing outside it. Both addresses are
-- loopback: ::1 and 127.0.0.1.
local util = require "helpers.util"
local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }

local NAME = "lsock-he-test"

local function why_not()
  if not util.is_root() then return "not root: unshare -m needs root" end
  if not util.succeeds("command -v unshare") then return "no unshare command" end
  if not util.succeeds("unshare -m true") then return "unshare -m fails here" end
  local lsock = require "lsock"
  local s = lsock.tcp("inet6")
  local ok = s and s:bind("::1", 0)
  if s then s:close() end
  if not ok then return "no IPv6 loopback here" end
  return nil
end
local WHY = why_not()
local it_ns = checks.it_if(WHY == nil, tostring(WHY))

-- Run spec/helpers/he_child.lua with mode under the private hosts file.
local function run(mode)
  local hosts = os.tmpname()
  local f = assert(io.open(hosts, "w"))
  f:write("::1 ", NAME, "\n127.0.0.1 ", NAME, "\n")
  f:close()
  local inner = ("mount --bind %s /etc/hosts && %s"):format(util.quote(hosts),
    util.lua_command(util.HELPERS .. "he_child.lua", NAME, mode))
  local out = util.output("timeout 60 unshare -m sh -c " .. util.quote(inner) .. " 2>&1", true)
  os.remove(hosts)
  return out
end

describe("lsock.connect racing addresses (Happy Eyeballs)", function()
  it_ns("connects to the second address when the first never answers, long before the timeout", function()
    local out = run("plain")
    local peer, took = out:match("^connected (%S+) ([%d.]+)$")
    assert.is_truthy(peer, out)
    took = tonumber(took)
    -- the second attempt starts 250 ms after the first; the timeout is 5 s
    assert.is_true(took >= 0.2, "took " .. took)
    assert.is_true(took < 2.5, "took " .. took)
  end)

  it_ns("races inside a loop coroutine without stopping the others", function()
    local out = run("loop")
    local peer, took, ticks = out:match("^connected (%S+) ([%d.]+) ticks (%d+)$")
    assert.is_truthy(peer, out)
    assert.is_true(tonumber(took) < 2.5, out)
    -- the ticker runs every 20 ms while connect waits its 250 ms
    assert.is_true(tonumber(ticks) >= 5, out)
  end)
end)
