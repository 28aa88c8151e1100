-- bench/common.lua: what every Lua side of a benchmark run shares: failing
-- with a message that names the run, and finding lsock.core. Each driver
-- (stream.lua, dgram.lua, luv.lua) puts its own directory on package.path
-- and requires this.
local common = {}

--- fail(fmt, ...) and check(v, what, ...) for one driver: fail prints
-- "<name>: <message>" to stderr and exits 1; check fails when v is falsy,
-- with what and the error that came with it, and returns its arguments
-- otherwise.
function common.reporter(name)
  local function fail(fmt, ...)
    io.stderr:write(name, ": ", string.format(fmt, ...), "\n")
    os.exit(1)
  end
  local function check(v, what, ...)
    if not v then fail("%s: %s", what, tostring((...))) end
    return v, ...
  end
  return fail, check
end

--- lsock.core, from $LSOCK_CPATH when it is set (a package.cpath template).
function common.lsock_core()
  local cpath = os.getenv("LSOCK_CPATH")
  if cpath and cpath ~= "" then
    package.cpath = cpath .. ";" .. package.cpath
  end
  return require "lsock.core"
end

return common
