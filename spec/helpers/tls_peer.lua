--- A TLS client peer for the TLS specs, run as a child process by
-- `util.spawn_script(util.HELPERS .. "tls_peer.lua", command, host, port,
-- ...)`. It connects to host:port with lsock.tls (timeout 5 s, verifying
-- the server against the CA file it is given, server name "localhost"),
-- does one thing, prints one line saying how it went and exits. Every wait
-- is bounded by the socket timeout.
--
-- Commands:
--
--   send HOST PORT CAFILE N     send the first N bytes of the pattern
--                               (util.block), shut down (close_notify),
--                               close; prints "sent N" ("send failed ...")
--   verify HOST PORT CAFILE N   read until the other side closes with
--                               close_notify, check the data against the
--                               pattern; prints "ok N", "short N",
--                               "mismatch at X" or "error E after N"
--   echo HOST PORT CAFILE N     send N lines "line K" and read each echo
--                               back; prints "echoed N" or what went wrong
--   abort HOST PORT CAFILE HEX  send HEX, then exit without closing (no
--                               close_notify: the system closes the socket);
--                               prints "aborted N"
--   context CERT KEY            no connection: make a server context from
--                               CERT and KEY without a password and print
--                               "context ok" or "context nil MESSAGE" (for
--                               a key that needs one: must not prompt)
local tls = require "lsock.tls"
local util = require "helpers.util"

local command, host, port, cafile = arg[1], arg[2], tonumber(arg[3]), arg[4]
local out = util.out

if command == "context" then
  local ok, ctx, err = pcall(tls.context, { mode = "server", cert = arg[2], key = arg[3] })
  if not ok then
    out("context raised", tostring(ctx))
  elseif ctx then
    out("context ok")
  else
    out("context nil", tostring(err))
  end
  os.exit(0)
end

local t, cerr = tls.connect(host, port, {
  ca = cafile, servername = "localhost", timeout = util.TIMEOUT })
if not t then
  out("connect failed:", tostring(cerr))
  os.exit(1)
end
t:settimeout(util.TIMEOUT)

if command == "send" then
  local n = tonumber(arg[5])
  local ok, err, _, count = util.send_pattern(t, n)
  if ok then
    local shut, serr = t:shutdown()
    t:close()
    if shut then out("sent", n) else out("shutdown failed:", tostring(serr)) end
  else
    t:close()
    out("send failed after", count, err)
  end

elseif command == "verify" then
  local n = tonumber(arg[5])
  local check = util.checker()
  local good, at, err = true, nil, nil
  for _ = 1, 1e7 do
    local data
    data, err = t:recv(65536)
    if not data then break end
    good, at = check.feed(data)
    if not good then break end
  end
  t:close()
  if not good then
    out("mismatch at", at)
  elseif err ~= "closed" then
    out("error", tostring(err), "after", check.count())
  elseif check.count() ~= n then
    out("short", check.count())
  else
    out("ok", check.count())
  end

elseif command == "echo" then
  local n = tonumber(arg[5])
  for k = 1, n do
    local line = "line " .. k
    local last, serr = t:send(line .. "\n")
    if not last then
      out("send failed at", k, tostring(serr))
      os.exit(1)
    end
    local back, rerr = t:receive("l")
    if back ~= line then
      out("echo", k, "got", tostring(back), tostring(rerr))
      os.exit(1)
    end
  end
  t:close()
  out("echoed", n)

elseif command == "abort" then
  local data = util.fromhex(arg[5])
  local last, err = t:send(data)
  out(last and ("aborted " .. last) or ("send failed: " .. tostring(err)))
  -- os.exit without closing the Lua state: no finalizer runs, so nothing
  -- sends close_notify; the system closes the descriptor.
  os.exit(0)

else
  out("unknown command", tostring(command))
  os.exit(2)
end
