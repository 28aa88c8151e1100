-- fuzz target "tls_server": a TLS server (lsock.tls, one server context for
-- every input) fed the input as everything its client sends.
--
-- The input is written into one end of a socketpair, which then shuts
-- down for sending; the server wraps the other end and steps its
-- handshake with timeout 0 until it fails or completes, then closes.
-- The certificate and key are the ones fuzz/build.sh and fuzz/replay.sh
-- make with the openssl command: their paths come in LSOCK_FUZZ_CERT and
-- LSOCK_FUZZ_KEY (fuzz/run.sh and fuzz/replay.sh set them).
--
-- Invariants (a violation is a finding): no raise; the handshake ends
-- within a few steps (the client's bytes are all there and then the end
-- of the stream, so a step can only fail, finish, or wait to write while
-- the socketpair's buffer is full, which it never is here); a failure is
-- nil and a string, and every later handshake() gives the same failure
-- (docs/reference.md); the handshake never completes (the fuzzer cannot
-- produce a client Finished for a key exchange it never saw: success
-- would mean the server accepted a handshake it should not have); close
-- returns true.
local lsock = require "lsock"
local tls = require "lsock.tls"
-- OpenSSL is not instrumented: its error text (and how many steps the
-- handshake took, how much the server wrote) stands in for its coverage.
local feature = require("fuzz.feedback").feature

local cert, key = os.getenv("LSOCK_FUZZ_CERT"), os.getenv("LSOCK_FUZZ_KEY")
if not cert or not key then
  error("LSOCK_FUZZ_CERT and LSOCK_FUZZ_KEY must name a certificate and its key (see fuzz/run.sh)", 0)
end
-- TLS 1.2 and 1.3 (the defaults), with ALPN, sessions on: the parsers of
-- the extensions a client hello may carry all have something to do.
local ctx = assert(tls.context({ mode = "server", cert = cert, key = key, alpn = { "h2", "http/1.1" } }))

local MAX_STEPS = 16

local function fail(fmt, ...)
  error(fmt:format(...), 0)
end

return function(data)
  local client, server = lsock.socketpair()
  if not client then fail("socketpair: %s", tostring(server)) end
  client:settimeout(0)
  if #data > 0 then
    local last, err = client:send(data)
    if last ~= #data then fail("send: %s", tostring(err)) end
  end
  client:shutdown("send")
  local t = assert(tls.wrap(server, ctx))
  t:settimeout(0)
  local ok, err
  local steps, wrote = 0, 0
  repeat
    steps = steps + 1
    ok, err = t:handshake()
    -- What the server wrote (its hello, an alert) is read and dropped, as
    -- a client would, so that a long answer never fills the pair.
    while true do
      local got = client:recv(65536)
      if not got then break end
      wrote = wrote + #got
    end
  until ok or err ~= "timeout" or steps >= MAX_STEPS
  feature(("%s %d %d"):format(tostring(err), steps, math.floor(wrote / 64)))
  if ok then fail("the handshake completed on %d fuzzed bytes", #data) end
  if err == "timeout" then
    fail("the handshake did not end in %d steps (events %s)", MAX_STEPS, tostring(t:events()))
  end
  if type(err) ~= "string" or (err ~= "closed" and not err:find("^tls handshake")) then
    fail("handshake failed with %s", tostring(err))
  end
  local again, err2 = t:handshake()
  if again ~= nil or err2 ~= err then
    fail("handshake again: %s, %s (first %s)", tostring(again), tostring(err2), err)
  end
  if t:close() ~= true then fail("close did not return true") end
  client:close()
end
