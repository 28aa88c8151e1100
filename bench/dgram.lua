-- bench/dgram.lua: one side of one udp run (udp_rate, udp_recv), for
-- LuaSocket, lsock or cqueues (luv: bench/luv_dgram.lua, same protocol).
--
--   lua dgram.lua LIB server MODE COUNT        the receiver: prints its port,
--                                              receives, prints "ok SECONDS RECEIVED LOST"
--   lua dgram.lua LIB client MODE COUNT PORT   the sender: sends COUNT datagrams, prints "ok"
--
-- LIB   luasocket | lsock | cqueues
-- MODE  dgram   one datagram per call on connected sockets: send and
--               receive (LuaSocket) / recv (lsock) / xwrite and
--               xread(-65536) (cqueues, binary unbuffered mode)
--       batch   lsock's sendmany and recvmany, BATCH datagrams per call
--               (lsock only: LuaSocket and cqueues have no batched call)
--
-- cqueues runs outside a controller, where its calls block in its own poll
-- (as in bench/stream.lua). It has no recvfrom, no way to connect a bound
-- socket to an address learned at run time and no SO_RCVBUF, so its
-- receiver's setup is LuaSocket's (a udp socket with the 4 MiB buffer,
-- bound, HELLO read with receivefrom, connected to the sender), and
-- cqueues.socket.fdopen then takes the descriptor over: from GO on, every
-- call is cqueues'. Its sender is cqueues' alone (socket.connect with
-- type = SOCK_DGRAM). Errors come back as values (an onerror handler that
-- returns them), and a timeout or a refused datagram, which cqueues keeps
-- on the socket, is cleared (clearerr) before the next read.
--
-- The receiver is the measured side. It binds 127.0.0.1 port 0 with a 4 MiB
-- receive buffer, prints the port and waits for "HELLO" from the sender; it
-- connects its socket to the sender, answers "GO" and starts its clock. It
-- stops at the end marker, or when nothing came for IDLE seconds (its clock
-- then stops IDLE earlier, at the last datagram). The rate is datagrams
-- received per second; LOST is COUNT minus the datagrams received.
--
-- A datagram is 64 bytes: its sequence number in 8 decimal digits, then
-- bytes 9..64 of PAT64. The receiver checks the length of every datagram,
-- that the sequence numbers rise (nothing duplicated or reordered) and stay
-- below COUNT, and the whole content of the first and of the last; a
-- mangled datagram fails the run (a lost one is counted).
--
-- Flow control keeps the receiver's buffer from overflowing: the receiver
-- acks ("A" .. SEQ) the first datagram it sees of every block of ACK_EVERY;
-- the sender never has more than WINDOW datagrams beyond the last ack in
-- flight, and waits at most ACK_WAIT seconds for an ack before it goes on
-- (loss is then counted, not hidden). After the last datagram the sender
-- sends the end marker until the receiver answers "BYE".
--
-- The protocol constants are common.lua's (bench/baseline_udp.c keeps the
-- same). Runs on Lua 5.1 to 5.4 and LuaJIT; lsock's lsock.core comes from
-- LSOCK_CPATH (as in bench/stream.lua).

local TIMEOUT = 30

local USAGE = "usage: dgram.lua luasocket|lsock|cqueues server|client dgram|batch COUNT [PORT]"

local libname, role, mode, count_s, port_s = ...

package.path = ((arg and arg[0] or ""):match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local common = require "common"
local MAX_COUNT, BATCH, WINDOW = common.UDP_MAX_COUNT, common.UDP_BATCH, common.UDP_WINDOW
local IDLE, ACK_WAIT, END_TRIES, RCVBUF = common.UDP_IDLE, common.UDP_ACK_WAIT, common.UDP_END_TRIES, common.UDP_RCVBUF
local fail, check = common.reporter(string.format("dgram.lua %s %s %s", tostring(libname),
  tostring(role), tostring(mode)))

-- Each library as the same few operations; the hot loops call the
-- library's methods directly: s[recv](s, recv_size) (recv_size: nil but
-- for cqueues) and s[send](s, data) (send: "send" unless given).
-- `timeout` and `refused` are the errors a read gives when nothing came in
-- time and after a datagram reached a closed port; `client(port)` makes
-- the sender's connected socket; `adopt(s)`, when there is one, gives the
-- socket the receiver goes on with once it is connected; `clear(s)`, when
-- there is one, must follow a read that failed.
local libs = {}

libs.luasocket = function()
  local socket = require "socket"
  return {
    clock = socket.gettime,
    recv = "receive",
    timeout = "timeout",
    refused = "connection refused",
    -- udp4: socket.udp() makes its descriptor only when bound or connected
    new = function() return check((socket.udp4 or socket.udp)(), "udp") end,
    bind = function(s) return s:setsockname("127.0.0.1", 0) end,
    rcvbuf = function(s, n) return s:setoption("recv-buffer-size", n) end,
    recvfrom = function(s) return s:receivefrom() end,
    connect = function(s, addr, port) return s:setpeername(addr, port) end,
  }
end

libs.lsock = function()
  local core = common.lsock_core()
  if not core.udp then fail("this lsock build has no udp sockets (lsock.core.udp)") end
  return {
    clock = core.monotime,
    recv = "recv",
    timeout = "timeout",
    refused = "connection refused",
    new = function() return check(core.udp(), "udp") end,
    bind = function(s) return s:bind("127.0.0.1", 0) end,
    rcvbuf = function(s, n) return s:setoption("rcvbuf", n) end,
    recvfrom = function(s) return s:recvfrom() end,
    connect = function(s, addr, port) return s:connect(addr, port) end,
  }
end

libs.cqueues = function()
  local cqueues = require "cqueues"
  local cs = require "cqueues.socket"
  local errno = require "cqueues.errno"
  -- the receiver's setup: LuaSocket's (see the top of this file)
  local lib = libs.luasocket()
  lib.clock = cqueues.monotime
  lib.recv = "xread"
  lib.recv_size = -65536 -- one datagram, whatever its size (up to 64 KiB)
  lib.timeout, lib.refused = errno.ETIMEDOUT, errno.ECONNREFUSED
  lib.strerror = errno.strerror
  local function errors_as_values(_, _, why) return why end
  local function setup(c)
    -- binary and unbuffered: one xwrite is one datagram, at once
    c:setmode("b", "bn")
    c:onerror(errors_as_values)
    return c
  end
  function lib.adopt(s)
    local c = setup(check(cs.fdopen(s:getfd()), "fdopen"))
    s:setfd(-1) -- the descriptor is cqueues' now
    s:close()
    return c
  end
  function lib.client(port)
    local c = setup(check(cs.connect { host = "127.0.0.1", port = port, type = cs.SOCK_DGRAM }, "socket"))
    c:settimeout(TIMEOUT)
    check(c:connect(), "connect")
    return c
  end
  function lib.clear(c) c:clearerr("r") end
  lib.send = "xwrite"
  return lib
end

if not (libname and libs[libname] and (role == "server" or role == "client")
    and (mode == "dgram" or mode == "batch") and count_s) then
  io.stderr:write(USAGE, "\n")
  os.exit(2)
end
local count = tonumber(count_s)
if not count or count < 1 or count > MAX_COUNT or count % 1 ~= 0 then
  fail("bad COUNT '%s' (1 .. %d)", tostring(count_s), MAX_COUNT)
end
if mode == "batch" and libname ~= "lsock" then fail("batch is an lsock mode (sendmany/recvmany)") end

local lib = libs[libname]()
local sub = string.sub
local recv_size, send_name = lib.recv_size, lib.send or "send"

-- an error for a message
local function why(err)
  return type(err) == "number" and lib.strerror and lib.strerror(err) or tostring(err)
end

lib.client = lib.client or function(port)
  local s = lib.new()
  s:settimeout(TIMEOUT)
  check(lib.connect(s, "127.0.0.1", port), "connect")
  return s
end

-- the datagrams and their check: common.lua's (luv_dgram.lua has the same)
local dgram, END = common.dgram, common.UDP_END

-- a connection refused (an ICMP error from a datagram that reached a
-- closed port) is reported once; what is queued is still there
local clear = lib.clear
local function retry(s, err)
  if clear then clear(s) end
  return err == lib.refused
end

-- ---- receiver -------------------------------------------------------------

local function receiver()
  local s = lib.new()
  check(lib.rcvbuf(s, RCVBUF), "rcvbuf")
  -- A batched lsock receiver lets the kernel coalesce what one sender
  -- sent in a run (udp_gro); recvmany splits it back into datagrams.
  if mode == "batch" then check(s:setoption("udp_gro", true), "udp_gro") end
  check(lib.bind(s), "bind")
  local _, port = s:getsockname()
  io.stdout:write(tostring(port), "\n")
  io.stdout:flush()

  s:settimeout(TIMEOUT)
  local hello, addr, peer = lib.recvfrom(s)
  if hello ~= "HELLO" then fail("waiting for the sender: %s", hello and "not HELLO" or tostring(addr)) end
  check(lib.connect(s, addr, peer), "connect")
  if lib.adopt then s = lib.adopt(s) end
  s:settimeout(IDLE)
  local send = s[send_name]
  check(send(s, "GO"), "send GO")

  local clock = lib.clock
  local timeout = lib.timeout
  local take, tally = common.udp_taker(count, fail, function(seq) send(s, "A" .. seq) end)

  local t0, t1 = clock(), nil
  local ended = false
  if mode == "dgram" then
    local recv = s[lib.recv]
    repeat
      local d, err = recv(s, recv_size)
      if d then
        ended = take(d)
      elseif err == timeout then
        t1 = clock() - IDLE
        break
      elseif not retry(s, err) then
        fail("%s after %d datagrams: %s", lib.recv, (tally()), why(err))
      end
    until ended
  else
    -- The result is handed back each time: recvmany refills its entry
    -- tables instead of making new ones (the documented fast path).
    local recvmany, reuse = s.recvmany, {}
    repeat
      local list, err = recvmany(s, BATCH, nil, reuse)
      reuse = list or reuse
      if list then
        for i = 1, #list do
          local e = list[i]
          if e.truncated then fail("datagram %d: truncated", tally() + 1) end
          if take(e.data) then
            ended = true
            break
          end
        end
      elseif err == "timeout" then
        t1 = clock() - IDLE
        break
      elseif not retry(s, err) then
        fail("recvmany after %d datagrams: %s", (tally()), tostring(err))
      end
    until ended
  end
  if ended then
    t1 = clock()
    send(s, "BYE") -- the sender may go
  end
  local received, last, last_dgram = tally()
  if received == 0 then fail("no datagram arrived") end
  if last_dgram ~= dgram(last) then fail("last datagram: wrong content") end
  s:close()
  io.stdout:write(string.format("ok %.6f %d %d\n", t1 - t0, received, count - received))
end

-- ---- sender ---------------------------------------------------------------

local function sender()
  if not (port_s and tonumber(port_s)) then fail("no PORT") end
  local s = lib.client(tonumber(port_s))
  local send = s[send_name]
  check(send(s, "HELLO"), "send HELLO")
  local recv = s[lib.recv]
  local go, err = recv(s, recv_size)
  if go ~= "GO" then fail("waiting for GO: %s", go and "not GO" or why(err)) end
  s:settimeout(ACK_WAIT)
  local timeout = lib.timeout

  local acked = -1
  -- waits until sending up to seq `top` keeps at most WINDOW datagrams in
  -- flight beyond the last ack
  local function wait_window(top)
    while top - acked > WINDOW do
      local a, aerr = recv(s, recv_size)
      if a then
        local seq = sub(a, 1, 1) == "A" and tonumber(sub(a, 2))
        if not seq then fail("bad ack") end
        if seq > acked then acked = seq end
      elseif aerr == timeout then -- no ack: go on, loss is counted
        if clear then clear(s) end
        acked = top - WINDOW
      elseif not retry(s, aerr) then
        fail("waiting for an ack: %s", why(aerr))
      end
    end
  end

  if mode == "dgram" then
    for seq = 0, count - 1 do
      if seq - acked > WINDOW then wait_window(seq) end
      local ok, serr = send(s, dgram(seq))
      if not ok then fail("send datagram %d: %s", seq + 1, why(serr)) end
    end
  else
    local sendmany = s.sendmany
    local list = {}
    for base = 0, count - 1, BATCH do
      local k = math.min(BATCH, count - base)
      wait_window(base + k - 1)
      for i = 1, k do list[i] = dgram(base + i - 1) end
      for i = k + 1, #list do list[i] = nil end
      local n, serr, _, sent = sendmany(s, list)
      if n ~= k then
        fail("sendmany at datagram %d: %s (%s of %d sent)", base + 1, tostring(n and "short" or serr),
          tostring(n or sent), k)
      end
    end
  end

  -- the end marker, until the receiver says BYE (its acks come first);
  -- after END_TRIES the receiver has timed out on its own
  for _ = 1, END_TRIES do
    check(send(s, END), "send the end marker")
    local bye, berr
    repeat
      bye, berr = recv(s, recv_size)
    until bye == "BYE" or (not bye and not retry(s, berr))
    if bye then break end
  end
  s:close()
  io.stdout:write("ok\n")
end

if role == "server" then receiver() else sender() end
