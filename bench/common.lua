-- bench/common.lua: what every Lua side of a benchmark run shares: failing
-- with a message that names the run, finding lsock.core, and the checked
-- bulk stream of the stream and TLS workloads, the udp workloads'
-- datagrams and their check. Each driver (stream.lua, dgram.lua,
-- luv_dgram.lua, luv.lua, tls.lua) puts its own directory on package.path
-- and requires this.
local common = {}

--- The bulk stream: chunks of CHUNK bytes of PAT64 repeated; the last
-- chunk ends with MARK. bench/baseline.c and baseline_tls.c keep the same.
common.CHUNK = 65536
common.PAT64 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
common.MARK = "-lsock-bench-end"

--- One chunk of the bulk stream.
function common.bulk_chunk()
  local t = {}
  for i = 1, common.CHUNK / 64 do t[i] = common.PAT64 end
  return table.concat(t)
end

--- What a failed read gave, for the message (`show`: the data itself).
function common.got(data, err, show)
  if data then return "wrong content" .. (show and (": " .. data) or "") end
  return tostring(err or "end of stream")
end

--- Read `mib` MiB of the bulk stream from conn with receive(conn, CHUNK),
-- checking the first and the last chunk's content and every chunk's size;
-- calls fail (which does not return) otherwise. Returns the seconds from
-- before the first read to after the last, on clock.
function common.read_chunks(receive, conn, mib, clock, fail)
  local CHUNK, got = common.CHUNK, common.got
  local chunks = mib * (1024 * 1024 / CHUNK)
  local chunk = common.bulk_chunk()
  local t0 = clock()
  local data, err = receive(conn, CHUNK)
  if data ~= chunk then fail("chunk 1: %s", got(data, err)) end
  for i = 2, chunks - 1 do
    data, err = receive(conn, CHUNK)
    if not data then fail("chunk %d: %s", i, got(data, err)) end
    if #data ~= CHUNK then fail("chunk %d: %d bytes, expected %d", i, #data, CHUNK) end
  end
  data, err = receive(conn, CHUNK)
  local t1 = clock()
  if data ~= chunk:sub(1, CHUNK - #common.MARK) .. common.MARK then
    fail("last chunk: %s", got(data, err))
  end
  return t1 - t0
end

--- The udp workloads' datagrams (bench/dgram.lua, bench/luv_dgram.lua
-- and bench/baseline_udp.c keep the same): DGRAM_LEN bytes, the sequence
-- number in 8 digits and then UDP_TAIL; the end marker UDP_END.
common.DGRAM_LEN = 64
common.UDP_TAIL = common.PAT64:sub(9)
common.UDP_END = "LSOCKEND" .. common.UDP_TAIL
common.ACK_EVERY = 512
-- the rest of their protocol (bench/dgram.lua's header says what each does)
common.UDP_MAX_COUNT = 99999999 -- a sequence number has 8 digits
common.UDP_BATCH = 64
common.UDP_WINDOW = 4096
common.UDP_IDLE = 0.5
common.UDP_ACK_WAIT = 0.2
common.UDP_END_TRIES = 5
common.UDP_RCVBUF = 4 * 1024 * 1024

--- Datagram number seq.
function common.dgram(seq)
  return string.format("%08d", seq) .. common.UDP_TAIL
end

--- A udp receiver's check of what arrives: returns take(d), true for the
-- end marker, which fails the run (fail) on a datagram of the wrong
-- length or content or a sequence number that does not rise or is not
-- below count, and calls ack(seq) for the first datagram it sees of every
-- block of ACK_EVERY; and tally(), which gives the datagrams taken, the
-- last sequence number and the last datagram.
function common.udp_taker(count, fail, ack)
  local LEN, END, EVERY, dgram, sub = common.DGRAM_LEN, common.UDP_END, common.ACK_EVERY, common.dgram, string.sub
  local received, last, next_ack = 0, -1, 0
  local last_dgram
  local function take(d)
    if #d ~= LEN then fail("datagram %d: %d bytes, expected %d", received + 1, #d, LEN) end
    local seq = tonumber(sub(d, 1, 8))
    if not seq then
      if d == END then return true end
      fail("datagram %d: wrong content", received + 1)
    end
    if seq <= last then
      fail("datagram %d: seq %d after seq %d: duplicated or out of order", received + 1, seq, last)
    end
    if seq >= count then fail("datagram %d: seq %d, only %d were sent", received + 1, seq, count) end
    if received == 0 and d ~= dgram(seq) then fail("first datagram: wrong content") end
    received, last, last_dgram = received + 1, seq, d
    if seq >= next_ack then
      ack(seq) -- a lost ack only slows the sender down
      next_ack = seq - seq % EVERY + EVERY
    end
    return false
  end
  local function tally() return received, last, last_dgram end
  return take, tally
end

--- fail(fmt, ...) and check(v, what, ...) for one driver: fail prints
-- "<name>: <message>" to stderr and exits 1; check fails when v is falsy,
-- with what and the error that came with it, and returns its arguments
-- otherwise.
function common.reporter(name)
  local function fail(fmt, ...)
    io.stderr:write(name, ": ", string.format(fmt, ...), "\n")
    os.exit(1)
  end
  local function check(v, what, ...)
    if not v then fail("%s: %s", what, tostring((...))) end
    return v, ...
  end
  return fail, check
end

--- lsock.core, from $LSOCK_CPATH when it is set (a package.cpath template).
-- lsock.core from LSOCK_CPATH, with the repository's Lua layer loaded
-- first (require "lsock"), as a script would: on LuaJIT that puts the
-- hot methods on the FFI path (lua/lsock/ffi.lua).
function common.lsock_core()
  local cpath = os.getenv("LSOCK_CPATH")
  if cpath and cpath ~= "" then
    package.cpath = cpath .. ";" .. package.cpath
  end
  local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
  require "lsock"
  return require "lsock.core"
end

return common
