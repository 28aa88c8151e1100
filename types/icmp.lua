---@meta lsock.icmp
-- LuaLS annotations for `require "lsock.icmp"`: ICMP (IPv4) and ICMPv6
-- echo in pure Lua. `ping` is also `lsock.ping`; the packet helpers
-- (checksum, build_echo, parse_echo, strip_ip, is_reply) are exported for
-- the specs and for scripts that build their own echo messages.
-- Definitions only; docs/reference.md ("ping") is the full contract.

---@class lsock.pingopts
---@field timeout? number            seconds to wait for the reply, counted from the send (default 1)
---@field family? lsock.inetfamily   when `host` is a name
---@field size? integer              payload bytes, 0..65507 (default 56)
---@field id? integer                identifier, 0..65535 (a datagram socket's is chosen by the kernel)
---@field seq? integer               sequence number, 0..65535 (default 1)
---@field kind? "raw"|"dgram"        use that socket only (default: raw when allowed, else dgram)

---An echo message's fields.
---@class lsock.echo
---@field type integer
---@field code integer
---@field checksum integer
---@field id integer
---@field seq integer
---@field payload string

local icmp = {}

---One echo request to `host` (ICMPv6 for an IPv6 address): the round-trip
---time in seconds of the matching reply. It opens a raw socket when the
---process may (root or CAP_NET_RAW), else Linux's unprivileged ICMP
---datagram socket. Failures: `nil, "timeout"`, a resolver error,
---`nil, "ping HOST: no permission to open an ICMP socket (...)", errno`,
---or a socket error. A bad `host` or `opts` raises.
---@param host string
---@param opts? lsock.pingopts
---@return number? seconds
---@return string? err
---@return integer? errno
function icmp.ping(host, opts) end

---The Internet checksum of `s` (RFC 1071), 0..65535.
---@param s string
---@return integer
function icmp.checksum(s) end

---An echo request for `family` with identifier `id`, sequence `seq` (both
---0..65535) and `payload`. The IPv4 one carries its checksum; for ICMPv6
---the field is zero (the kernel fills it in).
---@param family lsock.inetfamily
---@param id integer
---@param seq integer
---@param payload string
---@return string message
function icmp.build_echo(family, id, seq, payload) end

---The fields of an echo message (request or reply), or nil when `msg` is
---shorter than the 8-byte header.
---@param msg string
---@return lsock.echo?
function icmp.parse_echo(msg) end

---The ICMP message inside an IPv4 packet (what a raw IPv4 socket
---receives), or nil when the packet is not IPv4 or is shorter than its
---header says.
---@param packet string
---@return string?
function icmp.strip_ip(packet) end

---Whether `msg` (an ICMP message, no IP header) is the echo reply for
---`family` with identifier `id` and sequence `seq`.
---@param msg string
---@param family lsock.inetfamily
---@param id integer
---@param seq integer
---@return boolean
function icmp.is_reply(msg, family, id, seq) end

return icmp
