-- Child of spec/resources_spec.lua, run as resolve_child.lua is: in private
-- network and mount namespaces whose resolv.conf names 127.0.0.1, where
-- this script binds port 53 itself and never answers, so every DNS lookup
-- lasts the resolver's whole timeout.
-- Modes:
--   echo: one coroutine looks a name up while two others keep a
--     socketpair echo going; a query dropped at once (collected while its
--     worker thread still waits) is there too. Prints the lookup's result,
--     its time and the echoes done meanwhile.
--   exit, exit-close, return: a lookup is pending in a coroutine when the
--     script ends, by os.exit(0), os.exit(0, true) (lua_close runs, on
--     5.2+) or by returning from the main chunk (lua_close runs). Prints
--     "pending" first.
local lsock = require "lsock"
local core = require "lsock.core"
local loop = require "lsock.loop"
local util = require "helpers.util"

local mode = arg[1]
local NAME = "lsock-slow.example"
local silent = assert(lsock.udp())
assert(silent:bind("127.0.0.1", 53))

if mode == "echo" then
  -- A query nobody keeps: its worker outlives the Lua object and must
  -- free it alone when getaddrinfo returns (ASan sees a mistake there).
  assert(core._resolve(NAME, "80"))
  collectgarbage()
  collectgarbage()
  local a, b = util.socketpair()
  local result, took, echoes, bad = nil, nil, 0, 0
  loop.spawn(function()
    local t0 = lsock.monotime()
    local r, err = lsock.getaddrinfo(NAME, 80)
    took = lsock.monotime() - t0
    result = r and "answer" or ("error " .. tostring(err))
  end)
  loop.spawn(function() -- the echo server: every line back as it came
    for _ = 1, 10000 do
      local line = b:receive("*l")
      if not line or line == "bye" then return end
      b:send(line .. "\n")
    end
  end)
  loop.spawn(function() -- the client: a numbered line every 10 ms
    for i = 1, 10000 do
      if result then break end
      a:send("echo " .. i .. "\n")
      if a:receive("*l") ~= "echo " .. i then bad = bad + 1 end
      echoes = echoes + 1
      loop.sleep(0.01)
    end
    a:send("bye\n")
  end)
  loop.run(30)
  -- the dropped query's worker started first, with the same timeout: let
  -- it finish before the process ends
  lsock.sleep(0.3)
  util.out(("result %s took %.2f echoes %d bad %d"):format(tostring(result), took or -1, echoes, bad))
  silent:close()
else
  loop.spawn(function() lsock.getaddrinfo(NAME, 80) end)
  -- let the worker thread start and the query go out
  for _ = 1, 10 do loop.step(0.02) end
  util.out(loop.count() == 1 and "pending" or "not pending")
  if mode == "exit" then
    os.exit(0)
  elseif mode == "exit-close" then
    os.exit(0, true)
  end
  -- mode "return": the main chunk ends here, the lookup still pending
end
