-- bench/luv_dgram.lua: one side of one udp run (udp_rate, udp_recv) with luv
-- (libuv), an extra for comparison, not judged. Same protocol, datagrams,
-- checks and output as bench/dgram.lua (read its header comment first):
--
--   lua luv_dgram.lua server MODE COUNT        the receiver: prints its port,
--                                              receives, prints "ok SECONDS RECEIVED LOST"
--   lua luv_dgram.lua client MODE COUNT PORT   the sender: sends COUNT datagrams, prints "ok"
--
-- MODE  dgram   one datagram per call on connected handles: udp:try_send
--               (a synchronous send(); should the kernel refuse for now,
--               EAGAIN, the datagram goes to udp:send's queue, and so do
--               the next ones until it is empty, so the order holds), and
--               the recv_start callback, which libuv calls once per
--               datagram, each read by one recvmsg()
--       batch   the receiver's handle is made with new_udp{mmsgs = BATCH},
--               so libuv reads with recvmmsg(), at most 20 datagrams a
--               call (libuv's UV__MMSG_MAXWIDTH), and still calls the
--               callback once per datagram; the sender is dgram's. luv has
--               no call that takes or gives more than one datagram; the
--               only other batched path, udp:send's queue (one request per
--               datagram, which libuv writes with sendmmsg(), 20 at most),
--               sent fewer datagrams a second than try_send here (about
--               535,000 against 680,000 on the project's machine), so the
--               sender keeps try_send.
--
-- luv has no blocking calls, so both sides are callbacks on uv.run(). The
-- receiver's IDLE stop is a timer that ticks every TICK_MS and stops the run
-- when no datagram came for IDLE seconds; its clock then stops at the moment
-- the socket was last read dry (libuv's callback with neither data nor
-- error), just after the last datagram, as dgram.lua's stops at IDLE before
-- its read timed out. The sender waits for acks with an ACK_WAIT timer
-- (restarted by whatever arrives, as each of dgram.lua's reads waits
-- ACK_WAIT). The wait for HELLO (receiver) or GO (sender) is bounded by
-- TIMEOUT, the 30 s of dgram.lua's sockets. The clock is uv.hrtime().
-- The protocol constants are common.lua's, as bench/dgram.lua's are.

local uv = require "luv"

local TIMEOUT = 30
local TICK_MS = 20

local USAGE = "usage: luv_dgram.lua server|client dgram|batch COUNT [PORT]"

local role, mode, count_s, port_s = ...

package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local common = require "common"
local MAX_COUNT, BATCH, WINDOW = common.UDP_MAX_COUNT, common.UDP_BATCH, common.UDP_WINDOW
local IDLE, ACK_WAIT, END_TRIES, RCVBUF = common.UDP_IDLE, common.UDP_ACK_WAIT, common.UDP_END_TRIES, common.UDP_RCVBUF
local fail, check = common.reporter(string.format("luv_dgram.lua %s %s", tostring(role), tostring(mode)))

if not ((role == "server" or role == "client") and (mode == "dgram" or mode == "batch") and count_s) then
  io.stderr:write(USAGE, "\n")
  os.exit(2)
end
local count = tonumber(count_s)
if not count or count < 1 or count > MAX_COUNT or count % 1 ~= 0 then
  fail("bad COUNT '%s' (1 .. %d)", tostring(count_s), MAX_COUNT)
end

local sub, find = string.sub, string.find
local hrtime = uv.hrtime

-- the datagrams and their check: common.lua's, as in dgram.lua
local dgram, END = common.dgram, common.UDP_END

-- a connection refused (an ICMP error from a datagram that reached a
-- closed port) is reported once; what is queued is still there
local function refused(err)
  return find(tostring(err), "ECONNREFUSED", 1, true) ~= nil
end

-- the wait for the other side's first word
local function bounded(what)
  local t = uv.new_timer()
  t:start(TIMEOUT * 1000, 0, function() fail("waiting for %s: timeout", what) end)
  return t
end

-- ---- receiver -------------------------------------------------------------

local function receiver()
  local u = check(uv.new_udp(mode == "batch" and { family = "inet", mmsgs = BATCH } or nil), "new_udp")
  check(u:bind("127.0.0.1", 0), "bind")
  check(u:recv_buffer_size(RCVBUF), "recv_buffer_size")
  local port = check(u:getsockname(), "getsockname").port
  io.stdout:write(tostring(port), "\n")
  io.stdout:flush()

  local hello = bounded("the sender")
  local idle = uv.new_timer()
  local try_send = u.try_send
  local take, tally = common.udp_taker(count, fail, function(seq) try_send(u, "A" .. seq, nil, nil) end)
  local t0, t1, dry

  local function stop()
    idle:close()
    u:close()
  end

  -- nothing for IDLE: the end, at the moment the socket was last read dry
  local seen = -1
  local function tick()
    local received = tally()
    if received ~= seen then
      seen = received
    elseif (hrtime() - dry) / 1e9 >= IDLE then
      t1 = dry
      stop()
    end
  end

  local function handshake(d, addr)
    if d ~= "HELLO" then fail("waiting for the sender: not HELLO") end
    hello:close()
    check(u:connect(addr.ip, addr.port), "connect")
    check(try_send(u, "GO", nil, nil), "send GO")
    t0 = hrtime()
    dry = t0
    idle:start(TICK_MS, TICK_MS, tick)
  end

  check(u:recv_start(function(err, d, addr, flags)
    if d then
      if not t0 then return handshake(d, addr) end
      if flags.partial then fail("datagram %d: truncated", tally() + 1) end
      if take(d) and not t1 then
        t1 = hrtime()
        try_send(u, "BYE", nil, nil) -- the sender may go
        stop() -- libuv may still hand over the rest of a recvmmsg batch
      end
    elseif err then
      if not refused(err) then fail("recv after %d datagrams: %s", (tally()), tostring(err)) end
    else
      dry = hrtime() -- read dry (with recvmmsg: the end of one batch)
    end
  end), "recv_start")

  uv.run()
  local received, last, last_dgram = tally()
  if received == 0 then fail("no datagram arrived") end
  if last_dgram ~= dgram(last) then fail("last datagram: wrong content") end
  io.stdout:write(string.format("ok %.6f %d %d\n", (t1 - t0) / 1e9, received, count - received))
end

-- ---- sender ---------------------------------------------------------------

local function sender()
  local port = tonumber(port_s)
  if not port then fail("no PORT") end
  local u = check(uv.new_udp(), "new_udp")
  check(u:connect("127.0.0.1", port), "connect")
  local go = bounded("GO")
  local wait = uv.new_timer()
  local try_send, send = u.try_send, u.send

  local phase = "go" -- then "run", then "end", then "done"
  local seq, acked, tries = 0, -1, 0

  -- an end marker may meet a receiver that is gone (it stopped on its own)
  local function sent(err) -- the callback of a queued send
    if err and phase ~= "done" and not (phase == "end" and refused(err)) then
      fail("send: %s", tostring(err))
    end
  end
  local function put(d)
    local n, err, name = try_send(u, d, nil, nil)
    if not n then
      if name == "EAGAIN" then
        send(u, d, nil, nil, sent)
      elseif not (phase == "end" and refused(err)) then
        fail("send: %s", tostring(err))
      end
    end
  end

  local function done()
    phase = "done" -- queued sends that close() cancels are no failure
    wait:close()
    u:close()
  end

  -- the end marker, until the receiver says BYE (its acks come first);
  -- after END_TRIES the receiver has timed out on its own
  local function next_end()
    if tries == END_TRIES then return done() end
    tries = tries + 1
    put(END)
    wait:start(ACK_WAIT * 1000, 0, next_end)
  end

  -- sends until WINDOW datagrams beyond the last ack are in flight, then
  -- waits for an ack, at most ACK_WAIT (then goes on: loss is counted)
  local pump
  local function no_ack()
    acked = seq - WINDOW
    pump()
  end
  pump = function()
    while seq < count do
      if seq - acked > WINDOW then
        wait:start(ACK_WAIT * 1000, 0, no_ack)
        return
      end
      put(dgram(seq))
      seq = seq + 1
    end
    phase = "end"
    next_end()
  end

  check(u:recv_start(function(err, d)
    if d then
      if phase == "run" then
        local a = sub(d, 1, 1) == "A" and tonumber(sub(d, 2))
        if not a then fail("bad ack") end
        if a > acked then acked = a end
        if seq - acked <= WINDOW then
          wait:stop()
          pump()
        else
          wait:start(ACK_WAIT * 1000, 0, no_ack)
        end
      elseif phase == "end" then
        if d == "BYE" then return done() end
        wait:start(ACK_WAIT * 1000, 0, next_end)
      else
        if d ~= "GO" then fail("waiting for GO: not GO") end
        go:close()
        phase = "run"
        pump()
      end
    elseif err then
      if not refused(err) then fail("waiting for an ack: %s", tostring(err)) end
      if phase == "end" then wait:start(ACK_WAIT * 1000, 0, next_end) end
    end
  end), "recv_start")
  check(try_send(u, "HELLO", nil, nil), "send HELLO")

  uv.run()
  io.stdout:write("ok\n")
end

if role == "server" then receiver() else sender() end
