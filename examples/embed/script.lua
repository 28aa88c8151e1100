-- Run by examples/embed/host.c, which owns the main loop. `...` is a
-- listening TCP socket the host made (its own descriptor, wrapped with
-- lsock_pushfd) and how many clients will connect. The script starts its
-- server on lsock.loop and returns without running the loop: the host
-- calls loop.step(0) from its own poll(2) loop. host_checkfd is a C
-- function of the host that uses lsock_checkfd.
--
-- The protocol, one coroutine per connection: each line comes back as it
-- was; "bye" is answered with "bye N" (N: the lines before it), and the
-- server closes. The script returns a function that says how it went.
-- luacheck: globals host_checkfd
local loop = require "lsock.loop"

local listener, clients = ...
assert(listener:family() == "inet" and listener:type() == "stream", tostring(listener))
assert(listener:getoption("acceptconn"), "the host's socket listens")
assert(host_checkfd(listener) == listener:getfd())
assert(not pcall(host_checkfd, 42), "lsock_checkfd accepts only sockets")

local TIMEOUT = 5 -- for each wait of a connection: a timer in the loop
local served, errors = 0, {}
local open, peak = 0, 0 -- connections open now, and at most

local function failed(fmt, ...)
  errors[#errors + 1] = fmt:format(...)
end

-- No pcall around the calls that wait: PUC Lua 5.1 cannot yield across it.
local function serve(conn, id)
  conn:settimeout(TIMEOUT)
  local lines = 0
  while true do
    local line, err = conn:receive("l")
    if not line then
      failed("connection %d: receive: %s", id, err)
      break
    end
    local bye = line == "bye"
    local ok, serr = conn:send(bye and ("bye %d\n"):format(lines) or line .. "\n")
    if not ok then
      failed("connection %d: send: %s", id, serr)
      break
    end
    if bye then
      served = served + 1
      break
    end
    lines = lines + 1
  end
  conn:close()
  open = open - 1
end

-- The acceptor: as many connections as the host makes, each served in
-- its own coroutine while the acceptor waits for the next.
loop.spawn(function()
  listener:settimeout(TIMEOUT)
  for id = 1, clients do
    local conn, err = listener:accept()
    if not conn then
      failed("accept: %s", err)
      break
    end
    open = open + 1
    peak = math.max(peak, open)
    loop.spawn(serve, conn, id)
  end
  listener:close()
end)

-- A timer that no socket wakes: it ends only if the host steps the loop
-- while loop.getfd() stays quiet.
local slept
loop.spawn(function()
  local t0 = loop.now()
  loop.sleep(0.1)
  slept = loop.now() - t0
end)

-- How it went: true and a summary, or nil and what went wrong.
return function()
  if errors[1] then return nil, table.concat(errors, "; ") end
  if served ~= clients then return nil, ("served %d of %d connections"):format(served, clients) end
  if peak < 2 then return nil, "never two connections open at once" end
  if not slept then return nil, "the 0.1 s sleep never ended" end
  return true, ("%d connections served, %d at once; a 0.1 s sleep took %.3f s"):format(served, peak, slept)
end
