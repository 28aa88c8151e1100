-- A short tour of lsock: a TCP server and its client in one script.
-- Run it with `make demo`.
local lsock = require "lsock"

local function say(fmt, ...) io.write((fmt):format(...), "\n") end

say("%s on %s", lsock._VERSION, _VERSION)

-- A server on an ephemeral port of the loopback interface.
local server = assert(lsock.listen("127.0.0.1", 0))
local _, port = server:getsockname()
say("listening:   %s", tostring(server))

-- A client, connected by host name; every resolver answer is tried.
local client = assert(lsock.connect("localhost", port, { timeout = 5, family = "inet" }))
local conn, peer, peer_port = assert(server:accept())
say("accepted:    %s:%d", peer, peer_port)
say("client:      %s", tostring(client))
conn:settimeout(5)

-- Lines, counts and binary data, read with LuaSocket's patterns.
client:send("HELLO lsock\r\nsecond line\n\0binary\0data")
say("line:        %q", conn:receive("l"))       -- CR LF dropped
say("line + EOL:  %q", conn:receive("L"))       -- EOL kept
say("12 bytes:    %q", conn:receive(12))        -- binary-safe

-- Timeouts return what arrived so far, and the call can be resumed.
conn:settimeout(0.05)
client:send("partial li")
local line, err, partial = conn:receive("l")
say("timeout:     %s, %s, partial %q", tostring(line), err, partial)
client:send("ne\n")
say("resumed:     %q", conn:receive("l", partial))

-- A guard against unbounded lines: at most 16 bytes.
client:send(string.rep("x", 100) .. "\n")
local _, toolong = conn:receive("l", nil, 16)
say("max 16:      %s", toolong)
conn:receive("l") -- the rest of that line

-- Half-close: the client stops sending, the server reads to the end and
-- can still answer.
client:send("last words")
client:shutdown("send")
conn:settimeout(5)
say("until close: %q", conn:receive("a"))
conn:send("bye\n")
say("client got:  %q", client:receive("l"))

-- Errors are values: nil, message, errno.
local closed = assert(lsock.listen("127.0.0.1", 0))
local _, dead_port = closed:getsockname()
closed:close()
local ok, msg, errno = lsock.connect("127.0.0.1", dead_port)
say("refused:     %s, %s, errno %d (ECONNREFUSED = %d)", tostring(ok), msg, errno, lsock.errno.ECONNREFUSED)

-- Statistics and options.
local received, sent, age = conn:getstats()
say("server conn: %d bytes in, %d bytes out, %.3f s old", received, sent, age)
conn:setoption("nodelay", true)
say("nodelay:     %s, keepalive: %s", tostring(conn:getoption("nodelay")), tostring(conn:getoption("keepalive")))

client:close()
conn:close()
server:close()
say("closed:      %s", tostring(server))
