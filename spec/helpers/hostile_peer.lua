--- A hostile stream peer for spec/hostile_spec.lua, run as a child process
-- by `util.spawn_script_within(seconds, util.HELPERS .. "hostile_peer.lua",
-- command, port, ...)`. It connects to 127.0.0.1:PORT (timeout 5 s,
-- TCP_NODELAY), does one thing, prints one line saying how it ended and
-- exits. Every wait is bounded: by the socket timeout, and for the flood by
-- its own deadline.
--
-- Commands:
--
--   flood PORT SECONDS          an endless line: "x" in 4 KiB writes, never a
--                               newline, until a send fails or SECONDS pass;
--                               prints "stopped ERR" (the send's error, e.g.
--                               "closed" once the reader closed) or
--                               "deadline" (nobody ever stopped it)
--   split PORT N DELAY HEX...   for each HEX: N bytes "a" in one write, then
--                               the bytes of HEX one write each, DELAY
--                               seconds apart (a delimiter cut into its
--                               smallest pieces, right at N); then waits for
--                               the reader to close; prints "split K" (K
--                               pieces sent) or "stopped ERR"
local lsock = require "lsock"
local util = require "helpers.util"

local command, port = arg[1], tonumber(arg[2])
local out = util.out

local sock, cerr = lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT, nodelay = true })
if not sock then
  out("connect failed:", tostring(cerr))
  os.exit(1)
end
sock:settimeout(util.TIMEOUT)

if command == "flood" then
  local deadline = lsock.monotime() + tonumber(arg[3])
  local chunk = ("x"):rep(4096)
  while lsock.monotime() < deadline do
    local last, err = sock:send(chunk)
    if last ~= #chunk then
      out("stopped", tostring(err))
      os.exit(0)
    end
  end
  out("deadline")

elseif command == "split" then
  local n, delay, pieces = tonumber(arg[3]), tonumber(arg[4]), 0
  local function send(s)
    local last, err = sock:send(s)
    if last ~= #s then
      out("stopped", tostring(err))
      os.exit(0)
    end
    pieces = pieces + 1
  end
  for i = 5, #arg do
    send(("a"):rep(n))
    local delim = util.fromhex(arg[i])
    for k = 1, #delim do
      lsock.sleep(delay)
      send(delim:sub(k, k))
    end
  end
  sock:receive("a") -- until the reader closes (or the timeout)
  out("split", pieces)

else
  out("unknown command", tostring(command))
  os.exit(1)
end
sock:close()
