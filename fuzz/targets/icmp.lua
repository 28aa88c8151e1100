-- fuzz target "icmp": lsock.icmp's packet helpers (checksum, build_echo,
-- parse_echo, strip_ip, is_reply) on arbitrary bytes, both families.
-- Nothing is sent: ping's own socket code is the specs' business.
--
-- Input: [1] family (even: inet, odd: inet6), [2..3] id, [4..5] seq, then
-- the message. Each helper is checked against an independent reading of
-- the same bytes written out here:
-- * parse_echo: nil exactly when the message is shorter than 8 bytes, and
--   its fields written back in order give the message again;
-- * strip_ip: nil unless the first byte says IPv4 with a header of 20 or
--   more bytes that the packet holds; otherwise the bytes after it;
-- * is_reply: true exactly for an echo reply of the family (type 0 / 129,
--   code 0) with that id and seq;
-- * checksum: an integer 0..65535 equal to a second implementation's, and
--   a message with its checksum written into bytes 3..4 sums to 0;
-- * build_echo with the message as payload parses back to its fields, and
--   (inet) carries a valid checksum; an IPv4 header in front strips off.
local icmp = require "lsock.icmp"
local fuzzdata = require "fuzzdata"

local REQUEST = { inet = 8, inet6 = 128 }
local REPLY = { inet = 0, inet6 = 129 }

local fail = fuzzdata.fail

local function u16(s, i)
  return (s:byte(i) or 0) * 256 + (s:byte(i + 1) or 0)
end

local function be16(n)
  return string.char(math.floor(n / 256) % 256, n % 256)
end

-- RFC 1071 again, another way: the carry folded back after every word.
local function checksum(s)
  local sum = 0
  for i = 1, #s, 2 do
    sum = sum + u16(s, i) -- an odd last byte: padded with zero by u16
    if sum > 65535 then sum = sum - 65535 end
  end
  return 65535 - sum
end

local function is_integer(x)
  if math.type then return math.type(x) == "integer" end
  return type(x) == "number" and x == math.floor(x)
end

return function(data)
  local d = fuzzdata.new(data)
  local family = d:byte() % 2 == 0 and "inet" or "inet6"
  local id, seq = d:uint(2), d:uint(2)
  local msg = d:rest()

  local e = icmp.parse_echo(msg)
  if #msg < 8 then
    if e ~= nil then fail("parse_echo of %d bytes gave a table", #msg) end
  else
    if type(e) ~= "table" then fail("parse_echo of %d bytes gave %s", #msg, tostring(e)) end
    local back = string.char(e.type, e.code) .. be16(e.checksum) .. be16(e.id) .. be16(e.seq) .. e.payload
    if back ~= msg then fail("parse_echo fields do not give the message back") end
  end

  local first = msg:byte(1)
  local ihl = first and (first % 16) * 4
  local want_strip = first and math.floor(first / 16) == 4 and ihl >= 20 and #msg >= ihl
    and msg:sub(ihl + 1) or nil
  local stripped = icmp.strip_ip(msg)
  if stripped ~= want_strip then fail("strip_ip: %q, expected %q", tostring(stripped), tostring(want_strip)) end

  local want_reply = #msg >= 8 and msg:byte(1) == REPLY[family] and msg:byte(2) == 0
    and u16(msg, 5) == id and u16(msg, 7) == seq
  if icmp.is_reply(msg, family, id, seq) ~= want_reply then
    fail("is_reply(%s, %d, %d) is %s", family, id, seq, tostring(not want_reply))
  end

  local c = icmp.checksum(msg)
  if not is_integer(c) or c < 0 or c > 65535 then fail("checksum %s", tostring(c)) end
  if c ~= checksum(msg) then fail("checksum %d, expected %d", c, checksum(msg)) end
  if #msg >= 4 then
    local zeroed = msg:sub(1, 2) .. "\0\0" .. msg:sub(5)
    local filled = msg:sub(1, 2) .. be16(icmp.checksum(zeroed)) .. msg:sub(5)
    local sum = icmp.checksum(filled)
    if sum ~= 0 then fail("a message with its checksum filled in sums to %d", sum) end
  end

  local req = icmp.build_echo(family, id, seq, msg)
  local r = icmp.parse_echo(req)
  if not r or r.type ~= REQUEST[family] or r.code ~= 0 or r.id ~= id or r.seq ~= seq or r.payload ~= msg then
    fail("build_echo(%s, %d, %d) does not parse back", family, id, seq)
  end
  if family == "inet" and icmp.checksum(req) ~= 0 then fail("build_echo's checksum is wrong") end
  if family == "inet6" and r.checksum ~= 0 then fail("build_echo left an ICMPv6 checksum in") end
  -- The same as a reply, behind an IPv4 header of ihl words.
  local reply = string.char(REPLY[family]) .. req:sub(2)
  local words = 5 + (first or 0) % 11
  local header = string.char(64 + words) .. ("\0"):rep(words * 4 - 1)
  if icmp.strip_ip(header .. reply) ~= reply then fail("strip_ip of a %d-word header", words) end
  if not icmp.is_reply(reply, family, id, seq) then fail("is_reply of a reply built for it") end
  if id ~= (id + 1) % 65536 and icmp.is_reply(reply, family, (id + 1) % 65536, seq) then
    fail("is_reply with another id")
  end
end
