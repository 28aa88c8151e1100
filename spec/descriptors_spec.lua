-- Running out of descriptors: lsock collects sockets that were dropped
-- without close() and tries again before it reports EMFILE.
local lsock = require "lsock"
local util = require "helpers.util"

local function run_limited(mode)
  local setup = string.format("package.path = %q; package.cpath = %q", package.path, package.cpath)
  local cmd = string.format("ulimit -n 64 && timeout 60 %s -e %s %s %s 2>&1", util.interpreter(),
    util.quote(setup), util.quote(util.PEER:gsub("peer%.lua$", "exhaust.lua")), mode)
  local f = assert(io.popen(cmd))
  local out = f:read("*a"):gsub("%s+$", "")
  f:close()
  return out
end

describe("descriptor exhaustion", function()
  it("collects dropped sockets and retries instead of failing", function()
    assert.equal("opened 1000", run_limited("drop"))
  end)

  it("collects dropped sockets for pollers and the loop's name lookups too", function()
    assert.equal("pollers 100, lookups 100", run_limited("others"))
  end)

  it("reports EMFILE as a value when every socket is still held", function()
    local out = run_limited("hold")
    assert.matches("^failed at %d+: socket: too many open files %(" .. lsock.errno.EMFILE .. "%)$", out)
  end)
end)
