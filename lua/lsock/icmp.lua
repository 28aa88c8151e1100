-- lsock.icmp: ICMP (IPv4) and ICMPv6 echo, in pure Lua over lsock.core.
--
-- `ping(host [, opts])` sends one echo request and returns the round-trip
-- time in seconds, or nil, err[, errno]. The packet helpers (checksum,
-- build_echo, parse_echo, strip_ip, is_reply) are exported for the specs.
--
-- Only arithmetic on bytes: Lua 5.1 has neither string.pack nor bit
-- operators, and LuaJIT's bit library is not everywhere.
local core = require "lsock.core" -- not "lsock": that one will require us

local icmp = {}

local ECHO_REQUEST = { inet = 8, inet6 = 128 }
local ECHO_REPLY = { inet = 0, inet6 = 129 }
local PROTOCOL = { inet = "icmp", inet6 = "icmpv6" }

local MAX_PAYLOAD = 65507 -- 65535 - 20 (IPv4 header) - 8 (ICMP header)

local function u16(s, i)
  local hi, lo = s:byte(i, i + 1)
  return hi * 256 + lo
end

local function char16(n)
  return string.char(math.floor(n / 256), n % 256)
end

--- The Internet checksum of `s` (RFC 1071): the one's complement of the
-- one's complement sum of its 16-bit big-endian words, an odd last byte
-- padded with a zero. Returns a number 0..65535.
function icmp.checksum(s)
  local sum, n = 0, #s
  -- Sums of up to 64 KiB of words stay far below 2^53: fold once at the end.
  for i = 1, n - 1, 2 do
    sum = sum + u16(s, i)
  end
  if n % 2 == 1 then sum = sum + s:byte(n) * 256 end
  while sum > 65535 do
    sum = sum % 65536 + math.floor(sum / 65536)
  end
  return 65535 - sum
end

--- An echo request for `family` ("inet" or "inet6") with identifier `id`,
-- sequence `seq` (both 0..65535) and `payload`. The IPv4 one carries its
-- checksum; for ICMPv6 the field is left zero because the kernel must fill
-- it in (it covers a pseudo-header of addresses we do not know).
function icmp.build_echo(family, id, seq, payload)
  local head = string.char(ECHO_REQUEST[family], 0)
  local rest = char16(id) .. char16(seq) .. payload
  local sum = 0
  if family == "inet" then sum = icmp.checksum(head .. "\0\0" .. rest) end
  return head .. char16(sum) .. rest
end

--- The fields of an ICMP echo message (request or reply): a table
-- {type=, code=, checksum=, id=, seq=, payload=}, or nil when `msg` is
-- shorter than the 8-byte header.
function icmp.parse_echo(msg)
  if #msg < 8 then return nil end
  return {
    type = msg:byte(1),
    code = msg:byte(2),
    checksum = u16(msg, 3),
    id = u16(msg, 5),
    seq = u16(msg, 7),
    payload = msg:sub(9),
  }
end

--- The ICMP message inside an IPv4 packet (what a raw IPv4 socket
-- receives): the bytes after the header, whose length is IHL 32-bit words.
-- nil when the packet is not IPv4 or is shorter than its header says.
function icmp.strip_ip(packet)
  local first = packet:byte(1)
  if not first or math.floor(first / 16) ~= 4 then return nil end
  local ihl = (first % 16) * 4
  if ihl < 20 or #packet < ihl then return nil end
  return packet:sub(ihl + 1)
end

--- Is `msg` (an ICMP message, no IP header) the echo reply for `family`
-- with identifier `id` and sequence `seq`?
function icmp.is_reply(msg, family, id, seq)
  local e = icmp.parse_echo(msg)
  return e ~= nil and e.type == ECHO_REPLY[family] and e.code == 0
    and e.id == id and e.seq == seq
end

local function check_range(value, default, lo, hi, name)
  if value == nil then return default end
  if type(value) ~= "number" or value ~= math.floor(value) or value < lo or value > hi then
    error(("bad argument #2 to 'ping' (opts.%s must be an integer %d..%d)"):format(name, lo, hi), 3)
  end
  return value
end

local function check_args(host, opts)
  if type(host) ~= "string" then
    error(("bad argument #1 to 'ping' (string expected, got %s)"):format(type(host)), 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'ping' (table expected, got %s)"):format(type(opts)), 3)
  end
  opts = opts or {}
  local o = {
    timeout = opts.timeout or 1,
    family = opts.family,
    kind = opts.kind,
    size = check_range(opts.size, 56, 0, MAX_PAYLOAD, "size"),
    seq = check_range(opts.seq, 1, 0, 65535, "seq"),
    id = check_range(opts.id, nil, 0, 65535, "id"),
  }
  if type(o.timeout) ~= "number" or o.timeout < 0 then
    error("bad argument #2 to 'ping' (opts.timeout must be a number >= 0)", 3)
  end
  if o.family ~= nil and o.family ~= "inet" and o.family ~= "inet6" then
    error("bad argument #2 to 'ping' (opts.family must be \"inet\" or \"inet6\")", 3)
  end
  if o.kind ~= nil and o.kind ~= "raw" and o.kind ~= "dgram" then
    error("bad argument #2 to 'ping' (opts.kind must be \"raw\" or \"dgram\")", 3)
  end
  return o
end

-- A default identifier: the clock's microseconds and a table address (which
-- differs between processes) spread over 16 bits, plus a counter so that
-- two pings of one process in the same microsecond still differ. Lua 5.1's
-- math.random is not seeded, and Lua has no getpid.
local calls = 0
local function default_id()
  calls = calls + 1
  local addr = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  return (math.floor(core.gettime() * 1e6) + math.floor(addr / 16) + calls) % 65536
end

local PATTERN
do
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  PATTERN = table.concat(t)
end

local function payload(size)
  return PATTERN:rep(math.floor(size / 256) + 1):sub(1, size)
end

local function resolve(host, family)
  -- Through lsock's getaddrinfo when it is loaded: in a loop coroutine
  -- that one does not stop the loop.
  local lsock = package.loaded.lsock
  local getaddrinfo = lsock and lsock.getaddrinfo or core.getaddrinfo
  local answers, err = getaddrinfo(host, 0, { family = family, type = "dgram" })
  if not answers then return nil, err end
  for _, ai in ipairs(answers) do
    if ai.family == "inet" or ai.family == "inet6" then return ai.addr, ai.family end
  end
  return nil, "ping " .. host .. ": no address"
end

local function denied(errno)
  return errno == core.errno.EPERM or errno == core.errno.EACCES
end

local DENIED = {
  raw = "no permission to open a raw ICMP socket (it needs root or CAP_NET_RAW)",
  dgram = "no permission to open an ICMP datagram socket (it needs net.ipv4.ping_group_range"
    .. " to include one of the process's groups)",
  both = "no permission to open an ICMP socket (a raw socket needs root or CAP_NET_RAW;"
    .. " the datagram socket needs net.ipv4.ping_group_range)",
}

-- A raw socket when allowed, else (unless opts.kind says which) the
-- unprivileged datagram socket. Returns sock, kind or nil, err, errno.
local function open(host, family, kind)
  local kinds = kind and { kind } or { "raw", "dgram" }
  local err, errno
  for _, k in ipairs(kinds) do
    local sock
    sock, err, errno = core.socket(family, k, PROTOCOL[family])
    if sock then return sock, k end
    if not denied(errno) then return nil, err, errno end
  end
  return nil, ("ping %s: %s"):format(host, DENIED[kind or "both"]), errno
end

-- Send the request and wait, until the deadline, for its reply; anything
-- else that arrives (our own request seen on loopback, other processes'
-- replies, other ICMP messages) is skipped.
-- The timeout counts from the send: resolving the name is not waiting for
-- the reply.
local function exchange(sock, kind, family, addr, o)
  local id = o.id or default_id()
  local request = icmp.build_echo(family, id, o.seq, payload(o.size))
  local start = core.monotime()
  local deadline = start + o.timeout
  sock:settimeout(o.timeout)
  -- Port 0: ignored by raw IPv4 and ICMP datagram sockets, and the only
  -- value besides the protocol number that a raw IPv6 socket accepts.
  local sent, err, errno = sock:sendto(request, addr, 0)
  if not sent then return nil, err, errno end
  if kind == "dgram" then
    -- The kernel puts the socket's local port in place of our identifier.
    local _, port = sock:getsockname()
    id = port
  end
  local strip = kind == "raw" and family == "inet"
  while true do
    local left = deadline - core.monotime()
    if left <= 0 then return nil, "timeout" end
    sock:settimeout(left)
    local data, rerr, rerrno = sock:recvfrom()
    if not data then return nil, rerr, rerrno end
    local now = core.monotime()
    local msg = data
    if strip then msg = icmp.strip_ip(data) end
    if msg and icmp.is_reply(msg, family, id, o.seq) then
      -- A clock coarser than a loopback round trip could read 0; the
      -- contract is a positive time.
      return math.max(now - start, 1e-9)
    end
  end
end

--- One echo to `host`; see docs/reference.md. Returns the round-trip time
-- in seconds, or nil, err[, errno] ("timeout" when no reply came in time).
-- Argument errors raise.
function icmp.ping(host, opts)
  local o = check_args(host, opts)
  local addr, family = resolve(host, o.family)
  if not addr then return nil, family end
  local sock, kind, errno = open(host, family, o.kind)
  if not sock then return nil, kind, errno end
  -- Nothing below raises (the arguments were checked above), so the socket
  -- is closed on every path without a pcall, which could not yield on 5.1.
  local rtt, err, eno = exchange(sock, kind, family, addr, o)
  sock:close()
  return rtt, err, eno
end

return icmp
