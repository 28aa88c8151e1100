-- spec/resolve_spec.lua: name resolution never stops lsock.loop. Inside a
-- loop coroutine getaddrinfo runs on a worker thread. A resolver that
-- never answers is made as TESTING.md-style private namespaces allow: in
-- `unshare -n -m`, lo comes up, a resolv.conf naming 127.0.0.1 (3 s
-- timeout, one attempt) is bind-mounted over /etc/resolv.conf, and the
-- child binds 127.0.0.1:53 without ever replying. Nothing outside the
-- namespaces changes.
local lsock = require "lsock"
local loop = require "lsock.loop"
local util = require "helpers.util"
local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }

local WHY = util.no_netns()
local it_ns = checks.it_if(WHY == nil, tostring(WHY))

local function run(mode)
  local conf = os.tmpname()
  local f = assert(io.open(conf, "w"))
  f:write("nameserver 127.0.0.1\noptions timeout:3 attempts:1\n")
  f:close()
  local inner = ("ip link set lo up && mount --bind %s /etc/resolv.conf && %s"):format(
    util.quote(conf), util.lua_command(util.HELPERS .. "resolve_child.lua", mode))
  local out = util.output("timeout 60 unshare -n -m sh -c " .. util.quote(inner) .. " 2>&1", true)
  os.remove(conf)
  return out
end

describe("name resolution in the loop", function()
  it_ns("a lookup the resolver never answers does not stop the other coroutines", function()
    local out = run("getaddrinfo")
    local result, took, ticks = out:match("^result (.-) took ([%d.]+) ticks (%d+)$")
    assert.is_truthy(result, out)
    assert.matches("^error getaddrinfo lsock%-slow%.example: ", result)
    -- the resolver's 3 s timeout ran out, and all that time the ticker
    -- went on (every 20 ms: well over 50 ticks)
    assert.is_true(tonumber(took) >= 2.5, out)
    assert.is_true(tonumber(ticks) >= 50, out)
  end)

  it_ns("neither does lsock.connect by a name that never resolves", function()
    local out = run("connect")
    local result, _, ticks = out:match("^result (.-) took ([%d.]+) ticks (%d+)$")
    assert.is_truthy(result, out)
    assert.matches("^error ", result)
    assert.is_true(tonumber(ticks) >= 50, out)
  end)

  it("answers inside a coroutine what it answers outside", function()
    local outside = assert(lsock.getaddrinfo("127.0.0.1", 80, { type = "stream" }))
    local inside
    loop.spawn(function() inside = lsock.getaddrinfo("127.0.0.1", 80, { type = "stream" }) end)
    assert.is_true(loop.run(10))
    assert.same(outside, inside)
  end)

  it("reports a failure inside a coroutine as a value, as outside", function()
    local r, err
    loop.spawn(function() r, err = lsock.getaddrinfo("no-such-host.invalid", 80) end)
    assert.is_true(loop.run(30))
    assert.is_nil(r)
    assert.matches("^getaddrinfo no%-such%-host%.invalid: ", err)
  end)
end)
