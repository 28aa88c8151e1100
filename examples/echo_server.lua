-- A line echo server on lsock.loop, and its clients, in one script.
--
--   lua examples/echo_server.lua [clients]     (default 100)
--
-- One coroutine accepts on 127.0.0.1 (an ephemeral port) and starts one
-- coroutine per connection, which echoes every line back. Each client is a
-- coroutine too: it connects, sends a few lines and checks every byte that
-- comes back. All of them run at once in this one thread; a socket call
-- inside a coroutine yields to the loop instead of blocking. Every socket
-- has a timeout and loop.run a limit, so the script always ends.
local lsock = require "lsock"
local loop = require "lsock.loop"

local CLIENTS = tonumber(arg and arg[1]) or 100
local LINES = 3
local TIMEOUT = 10 -- seconds, for every socket

local function say(fmt, ...) io.write((fmt):format(...), "\n") end

local server = assert(lsock.listen("127.0.0.1", 0))
server:settimeout(TIMEOUT)
local _, port = server:getsockname()
say("server:      %s", tostring(server))

local stats = { accepted = 0, open = 0, max_open = 0, echoed = 0, bytes = 0, ok = 0, failed = 0 }

-- One connection: echo lines until the client closes.
local function serve(conn)
  conn:settimeout(TIMEOUT)
  stats.open = stats.open + 1
  if stats.open > stats.max_open then stats.max_open = stats.open end
  while true do
    local line, err = conn:receive("L") -- the line with its end of line
    if not line then
      if err ~= "closed" then say("server:      %s", err) end
      break
    end
    if not conn:send(line) then break end
    stats.echoed = stats.echoed + 1
  end
  stats.open = stats.open - 1
  conn:close()
end

-- The acceptor: one coroutine per connection, until every client came.
loop.spawn(function()
  while stats.accepted < CLIENTS do
    local conn, err = server:accept()
    if not conn then
      say("accept:      %s", err)
      break
    end
    stats.accepted = stats.accepted + 1
    loop.spawn(serve, conn)
  end
  server:close()
end)

-- A client: a few lines, each one checked when it comes back.
local function client(i)
  local c = lsock.tcp()
  c:settimeout(TIMEOUT)
  local ok, err = c:connect("127.0.0.1", port)
  if not ok then
    stats.failed = stats.failed + 1
    say("client %d:   %s", i, err)
    c:close()
    return
  end
  for k = 1, LINES do
    local line = ("client %d says hello %d%s\n"):format(i, k, ("!"):rep(k * 10))
    c:send(line)
    local echo, rerr = c:receive("L")
    if echo ~= line then
      stats.failed = stats.failed + 1
      say("client %d:   line %d came back as %s (%s)", i, k, tostring(echo), tostring(rerr))
      c:close()
      return
    end
    stats.bytes = stats.bytes + #echo
    loop.sleep(0.01) -- think a little: the other clients go on meanwhile
  end
  c:close()
  stats.ok = stats.ok + 1
end

for i = 1, CLIENTS do loop.spawn(client, i) end

local t0 = loop.now()
local done, why = loop.run(30)
say("loop:        %s", done and "every coroutine finished" or tostring(why))
say("clients:     %d ok, %d failed", stats.ok, stats.failed)
say("accepted:    %d, at most %d open at once", stats.accepted, stats.max_open)
say("echoed:      %d lines, %d bytes", stats.echoed, stats.bytes)
say("elapsed:     %.2f s (the clients' pauses alone add up to %.1f s)", loop.now() - t0,
  CLIENTS * LINES * 0.01)
say("closed:      %s", tostring(server))
