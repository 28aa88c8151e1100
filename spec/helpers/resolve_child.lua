-- Child of spec/resolve_spec.lua, run in a private network and mount
-- namespace whose resolv.conf names 127.0.0.1 as its only nameserver
-- (timeout 3 s, one attempt). It binds 127.0.0.1:53 itself and never
-- answers, so every DNS lookup takes the resolver's full timeout. One
-- coroutine looks a name up (mode "getaddrinfo" or "connect") while
-- another ticks every 20 ms; prints the lookup's result, how long it took
-- and the ticks.
local lsock = require "lsock"
local loop = require "lsock.loop"
local util = require "helpers.util"

local mode = arg[1]
local silent = assert(lsock.udp())
assert(silent:bind("127.0.0.1", 53))

local result, took, ticks = nil, nil, 0
loop.spawn(function()
  local t0 = lsock.monotime()
  local r, err
  if mode == "connect" then
    r, err = lsock.connect("lsock-slow.example", 80, { timeout = 10 })
  else
    r, err = lsock.getaddrinfo("lsock-slow.example", 80)
  end
  took = lsock.monotime() - t0
  result = r and "answer" or ("error " .. tostring(err))
end)
loop.spawn(function()
  while not result do
    loop.sleep(0.02)
    ticks = ticks + 1
  end
end)
loop.run(30)
util.out(("result %s took %.2f ticks %d"):format(tostring(result), took or -1, ticks))
silent:close()
