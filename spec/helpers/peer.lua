--- A small peer for the stream specs, run as a child process by
-- `util.spawn(command, host, port, ...)`. It connects to host:port with
-- lsock itself (timeout 5 s, TCP_NODELAY), does one thing, prints one line
-- saying how it went and exits. Every wait is bounded by the socket timeout,
-- so the peer always ends on its own within a few seconds.
--
-- Commands:
--
--   trickle HOST PORT DELAY HEX   send the bytes of HEX one at a time with
--                                 DELAY seconds between them, then close;
--                                 prints "trickled N" (or "stopped ..." when
--                                 a send fails, e.g. because we closed)
--   later HOST PORT DELAY HEX     wait DELAY seconds, send HEX, close;
--                                 prints "sent N"
--   send HOST PORT N              send the first N bytes of the pattern
--                                 (util.block), then close; prints "sent N"
--   verify HOST PORT N            read until the other side closes and check
--                                 the data against the pattern; prints
--                                 "ok N", "short N" or "mismatch at X"
--   reply HOST PORT               read until the other side shuts down its
--                                 sending half (receive "a"), check the data
--                                 against the pattern, answer "ok N\n" (or
--                                 "mismatch at X\n") on the same connection,
--                                 then close; prints "replied"
--   reset HOST PORT DELAY HEX     send HEX, wait DELAY seconds, set linger 0
--                                 and close, which resets the connection
--                                 (any data we sent stays unread); prints
--                                 "reset"
--   sendclosed HOST PORT          wait until the other side closes, then send
--                                 64 KiB blocks (at most 200) until a send
--                                 fails; prints "result R ERR ERRNO LAST"
--                                 and then "alive"
local lsock = require "lsock"
local util = require "helpers.util"

local command, host, port = arg[1], arg[2], tonumber(arg[3])

local out = util.out

local sock, cerr = lsock.connect(host, port, { timeout = util.TIMEOUT, nodelay = true })
if not sock then
  out("connect failed:", tostring(cerr))
  os.exit(1)
end
sock:settimeout(util.TIMEOUT)

if command == "trickle" then
  local delay, data = tonumber(arg[4]), util.fromhex(arg[5])
  for i = 1, #data do
    if i > 1 then lsock.sleep(delay) end
    local last, err = sock:send(data, i, i)
    if last ~= i then
      out("stopped at", i, tostring(err))
      os.exit(0)
    end
  end
  sock:close()
  out("trickled", #data)

elseif command == "later" then
  local delay, data = tonumber(arg[4]), util.fromhex(arg[5])
  lsock.sleep(delay)
  sock:send(data)
  sock:close()
  out("sent", #data)

elseif command == "send" then
  local n = tonumber(arg[4])
  local ok, err, _, count = util.send_pattern(sock, n)
  sock:close()
  if ok then out("sent", n) else out("send failed after", count, err) end

elseif command == "verify" or command == "reply" then
  local n = tonumber(arg[4])
  local check = util.checker()
  local good, at, err = true, nil, nil
  if command == "reply" then
    local data
    data, err = sock:receive("a")
    if data then good, at = check.feed(data) end
  else
    for _ = 1, 1e7 do
      local data
      data, err = sock:recv(65536)
      if not data then break end
      good, at = check.feed(data)
      if not good then break end
    end
    if err == "closed" then err = nil end
  end
  local result
  if not good then
    result = "mismatch at " .. at
  elseif err then
    result = "error " .. tostring(err) .. " after " .. check.count()
  elseif n and check.count() ~= n then
    result = "short " .. check.count()
  else
    result = "ok " .. check.count()
  end
  if command == "reply" then
    local last, serr = sock:send(result .. "\n")
    sock:close()
    out(last and "replied" or ("reply failed: " .. tostring(serr)))
  else
    sock:close()
    out(result)
  end

elseif command == "reset" then
  local delay, data = tonumber(arg[4]), util.fromhex(arg[5])
  sock:send(data)
  lsock.sleep(delay)
  sock:setoption("linger", 0)
  sock:close()
  out("reset")

elseif command == "sendclosed" then
  local _, err = sock:receive(1)
  if err ~= "closed" then
    out("expected the other side to close, got", tostring(err))
    os.exit(1)
  end
  local block = util.block(0)
  local r, serr, errno, last
  for _ = 1, 200 do
    r, serr, errno, last = sock:send(block)
    if not r then break end
    lsock.sleep(0.01)
  end
  out("result", tostring(r), tostring(serr), tostring(errno), tostring(last))
  out("alive")
  sock:close()

else
  out("unknown command", tostring(command))
  os.exit(2)
end
