-- Child of spec/connect_spec.lua, run where /etc/hosts gives the name
-- arg[1] two addresses (::1 and 127.0.0.1). The first answer gets a
-- listener that never answers (its accept queue is full, so new attempts
-- are dropped), the second a live one on the same port. Connects by name,
-- outside the loop (mode "plain") or in a coroutine while another one
-- ticks (mode "loop"), and prints what happened.
local lsock = require "lsock"
local util = require "helpers.util"

local name, mode = arg[1], arg[2]
local answers = assert(lsock.getaddrinfo(name, 0, { type = "stream" }))
assert(#answers >= 2, "the name has one address only")
local first, second = answers[1], answers[2]

-- The dead listener takes a free port of the first family; the live one
-- needs the same port in the second, which another socket of the machine
-- may hold (earlier connections in TIME_WAIT, say): then both try again.
local dead, live, port
for _ = 1, 50 do
  dead = assert(lsock.socket(first.family, "stream"))
  assert(dead:bind(first.addr, 0))
  assert(dead:listen(0))
  port = select(2, dead:getsockname())
  live = assert(lsock.socket(second.family, "stream"))
  assert(live:setoption("reuseaddr", true))
  if live:bind(second.addr, port) then break end
  dead:close()
  live:close()
  live = nil
end
assert(live, "no port free in both families")
assert(live:listen())
-- One connection fills the queue of a listen(0) socket; the next SYN is
-- dropped, so a connect to it waits until its own timeout.
local filler = assert(lsock.socket(first.family, "stream"))
filler:settimeout(0)
filler:connect(first.addr, port)
lsock.sleep(0.1)

local function try()
  local t0 = lsock.monotime()
  local s, err = lsock.connect(name, port, { timeout = util.TIMEOUT })
  local took = lsock.monotime() - t0
  if not s then return "failed " .. tostring(err) .. " " .. took end
  local peer = s:getpeername()
  s:close()
  return ("connected %s %.3f"):format(peer, took)
end

if mode == "plain" then
  util.out(try())
else
  local loop = require "lsock.loop"
  local ticks, result = 0, nil
  loop.spawn(function() result = try() end)
  loop.spawn(function()
    while not result do
      loop.sleep(0.02)
      ticks = ticks + 1
    end
  end)
  loop.run(util.TIMEOUT * 2)
  util.out(tostring(result), "ticks", ticks)
end
dead:close(); filler:close(); live:close()
