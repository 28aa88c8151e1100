--- Long-running child servers for the lsock.compat specs
-- (spec/helpers/http_server.lua, spec/helpers/smtp_peer.lua).
--
--   local child = require "helpers.compat_child"
--   local srv = child.start(util.HELPERS .. "http_server.lua", "http")
--   srv.port                  -- the port the child printed ("port N")
--   srv.stop()                -- closes its standard input, waits for it to
--                             -- exit, returns everything it printed
--   child.stop_all()          -- stops every child still running (after_each)
--
-- The child runs as `util.lua_command(script, ...)` under `timeout 60`
-- (where that command exists), its standard input the write end of
-- io.popen (so closing the handle is the child's signal to exit: it sees
-- end of file), its standard output and error together in a temporary
-- file that `start` reads until the child says "port N" (10 s at most).
-- The children also end on their own after a bounded lifetime.
local lsock = require "lsock"
local util = require "helpers.util"

local child = {}

local HAVE_TIMEOUT = util.succeeds("timeout 1 true")
local running = {}

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a") or ""
  f:close()
  return s
end

--- Start `script` with arguments `...`; returns a handle { port =, stop =,
-- output = } once the child printed "port N", or raises "setup failed:
-- ..." with what it printed when it did not within 10 s.
function child.start(script, ...)
  local out = os.tmpname()
  local prefix = HAVE_TIMEOUT and "timeout 60 " or ""
  local cmd = prefix .. util.lua_command(script, ...) .. " >" .. util.quote(out) .. " 2>&1"
  local f = assert(io.popen(cmd, "w"))
  local h = {}
  local output
  --- What the child printed so far (all of it once stopped).
  function h.output()
    return output or read_all(out)
  end
  function h.stop()
    if output == nil then
      f:close() -- end of file on its standard input; waits for it to exit
      output = read_all(out)
      os.remove(out)
      for i = #running, 1, -1 do
        if running[i] == h then table.remove(running, i) end
      end
    end
    return output
  end
  running[#running + 1] = h
  local deadline = lsock.monotime() + 10
  repeat
    local port = h.output():match("port (%d+)\n")
    if port then
      h.port = tonumber(port)
      return h
    end
    lsock.sleep(0.01)
  until lsock.monotime() > deadline
  error("setup failed: " .. script .. " did not say its port:\n" .. h.stop(), 2)
end

--- Stop every child that is still running.
function child.stop_all()
  for i = #running, 1, -1 do
    running[i].stop()
  end
end

return child
