--- The peer process of spec/fault_spec.lua: it connects back to the spec
-- over one transport, does one thing that goes wrong (or one long thing),
-- prints one line saying how it went and exits. Run as
--
--   fault_peer.lua TRANSPORT ADDRESS CAFILE COMMAND ARGS...
--
-- TRANSPORT is "tcp" (ADDRESS a port on 127.0.0.1), "unix" (ADDRESS a unix
-- path or "@name"), "tls-tcp" or "tls-unix" (the same, then a TLS client
-- over the socket that trusts CAFILE and asks for "localhost"; CAFILE is
-- "-" for the plain ones). Every socket has a 5 s timeout, so the peer
-- always ends on its own.
--
-- Commands:
--
--   reset DELAY HEX     send HEX, wait DELAY seconds without reading, then
--                       exit without closing anything: the system closes
--                       the descriptor. Over TCP linger is 0 first, so that
--                       is a reset (RST); over unix the spec has sent us
--                       bytes we never read, so its end gets ECONNRESET;
--                       over TLS no close_notify goes either. Prints
--                       "reset" just before.
--   stall DELAY N       wait DELAY seconds without reading, then read N
--                       bytes, checking them against util's pattern, and
--                       then the end of the stream (close_notify over TLS);
--                       prints "ok N closed", or what went wrong
--   bulk N SEED         send N bytes made of a few pseudo-random 1 MiB
--                       blocks in an order drawn from SEED, and pipe the
--                       same bytes into a SHA-256 command (fault_bulk.lua);
--                       then end the stream
--                       (shutdown, close_notify over TLS) and print
--                       "sent N DIGEST"
local lsock = require "lsock"
local tls = require "lsock.tls"
local util = require "helpers.util"
local bulk = require "helpers.fault_bulk"

local transport, address, cafile, command = arg[1], arg[2], arg[3], arg[4]
local out = util.out

local sock, err
if transport == "tcp" or transport == "tls-tcp" then
  sock, err = lsock.connect("127.0.0.1", tonumber(address), { timeout = util.TIMEOUT, nodelay = true })
elseif transport == "unix" or transport == "tls-unix" then
  sock, err = lsock.unix_connect(address)
else
  out("unknown transport", tostring(transport))
  os.exit(2)
end
if not sock then
  out("connect failed:", tostring(err))
  os.exit(1)
end
sock:settimeout(util.TIMEOUT)
local raw = sock
if transport:match("^tls%-") then
  sock, err = tls.wrap(raw, { ca = cafile }, "localhost")
  local ok
  if sock then ok, err = sock:handshake() end
  if not ok then
    out("tls failed:", tostring(err))
    os.exit(1)
  end
end

if command == "reset" then
  local delay, data = tonumber(arg[5]), util.fromhex(arg[6])
  local last, serr = sock:send(data)
  if last ~= #data then
    out("send failed:", tostring(serr))
    os.exit(1)
  end
  lsock.sleep(delay)
  if transport:match("tcp$") then assert(raw:setoption("linger", 0)) end
  out("reset")
  -- os.exit without closing the Lua state: no finalizer runs, so neither
  -- lsock's close (which would drain unread input) nor close_notify.
  os.exit(0)

elseif command == "stall" then
  local delay, n = tonumber(arg[5]), tonumber(arg[6])
  lsock.sleep(delay)
  local check = util.checker()
  local rerr
  while check.count() < n do
    local data
    data, rerr = sock:recv(math.min(65536, n - check.count()))
    if not data then break end
    local good, at = check.feed(data)
    if not good then
      out("mismatch at", at)
      os.exit(1)
    end
  end
  if check.count() < n then
    out("short", check.count(), tostring(rerr))
    os.exit(1)
  end
  local more, eerr = sock:recv(1)
  sock:close()
  if more then
    out("ok", n, "then", #more, "more bytes")
  else
    out("ok", n, eerr)
  end

elseif command == "bulk" then
  local n, seed = tonumber(arg[5]), tonumber(arg[6])
  local digest, derr = bulk.digester()
  if not digest then
    out("no digest:", derr)
    os.exit(1)
  end
  local sent = 0
  for block in bulk.blocks(n, seed) do
    local last, serr, _, partial = sock:send(block)
    if last ~= #block then
      out("send failed after", sent + (partial or 0), tostring(serr))
      os.exit(1)
    end
    digest.feed(block)
    sent = sent + #block
  end
  local shut, serr = sock:shutdown("send")
  if not shut then
    out("shutdown failed:", tostring(serr))
    os.exit(1)
  end
  -- wait for the spec to close first, so that nothing we sent is lost to
  -- a reset (our close with its unread input)
  sock:settimeout(60)
  sock:recv(1)
  sock:close()
  out("sent", sent, digest.finish())

else
  out("unknown command", tostring(command))
  os.exit(2)
end
