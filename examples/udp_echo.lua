-- UDP echo: a server and its client in one script, on 127.0.0.1.
-- Datagrams one at a time with sendto/recvfrom, then a batch with
-- sendmany/recvmany. Every wait has a timeout, so the script always ends.
local lsock = require "lsock"

local function say(fmt, ...) io.write((fmt):format(...), "\n") end
-- A quoted string, a zero byte shown as \0 on every Lua version.
local function show(s) return (("%q"):format(s):gsub("\\000", "\\0")) end

-- The server: a UDP socket bound to an ephemeral port.
local server = assert(lsock.udp())
assert(server:bind("127.0.0.1", 0))
server:settimeout(2)
local _, port = server:getsockname()
say("server:      %s", tostring(server))

-- The client: not bound; the first sendto gives it a port.
local client = assert(lsock.udp())
client:settimeout(2)

-- One datagram at a time: the server answers to the address it came from.
for _, msg in ipairs({ "hello", "", "binary\0safe" }) do
  assert(client:sendto(msg, "127.0.0.1", port))
  local data, addr, from_port = assert(server:recvfrom())
  assert(server:sendto(data, addr, from_port))
  local echo, echo_addr, echo_port = assert(client:recvfrom())
  say("echo:        %s (%d bytes) from %s:%d", show(echo), #echo, echo_addr, echo_port)
end

-- A datagram longer than the receiver asks for is cut, and says so.
client:sendto(string.rep("x", 100), "127.0.0.1", port)
local cut, _, _, truncated = server:recvfrom(10)
say("truncated:   %d of 100 bytes, %s", #cut, tostring(truncated))

-- A batch: the client sends four datagrams in one call; the server takes
-- what is queued and echoes it back with the addresses recvmany gave.
local words = { "one", "two", "three", "four" }
say("batch sent:  %d", assert(client:sendmany(words, "127.0.0.1", port)))

local function collect(sock, n)
  local got = {}
  for _ = 1, 10 do -- a few rounds at most: recvmany takes what is queued
    local batch, err = sock:recvmany(64)
    if not batch then say("recvmany:    %s", err) break end
    for _, e in ipairs(batch) do got[#got + 1] = e end
    if #got >= n then break end
  end
  return got
end

local batch = collect(server, #words)
local names = {}
for i, e in ipairs(batch) do names[i] = e.data end
say("server got:  %s", table.concat(names, " "))
say("echoed:      %d", assert(server:sendmany(batch)))

local back = collect(client, #words)
names = {}
for i, e in ipairs(back) do names[i] = e.data end
say("client got:  %s", table.concat(names, " "))

-- Nothing more is coming: the wait ends with "timeout".
server:settimeout(0.1)
local nothing, why = server:recvfrom()
say("idle:        %s, %s", tostring(nothing), tostring(why))

client:close()
server:close()
say("closed:      %s", tostring(server))
