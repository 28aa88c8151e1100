--- A child for spec/ping_spec.lua: `ping_inject.lua MODE ID SEQ` sends
-- hand-made ICMP echo replies to 127.0.0.1 from a raw socket, one burst
-- every 20 ms for 1.5 s (a bounded count), while a ping waits for the reply
-- to identifier ID and sequence SEQ in the same network namespace (where
-- the kernel's own replies are switched off).
--
--   MODE "wrong": replies with ID+1, with SEQ+1, and a request (type 8)
--                 with ID and SEQ: none of them may end the ping
--   MODE "right": the matching reply, which must end it
-- Prints "sent N" at the end.
local lsock = require "lsock"
local icmp = require "lsock.icmp"

local mode, id, seq = arg[1], tonumber(arg[2]), tonumber(arg[3])

-- An echo message of ICMP type `kind` with a correct checksum.
local function echo(kind, i, q)
  local body = string.char(math.floor(i / 256), i % 256, math.floor(q / 256), q % 256)
    .. "injected by ping_inject.lua"
  local sum = icmp.checksum(string.char(kind, 0, 0, 0) .. body)
  return string.char(kind, 0, math.floor(sum / 256), sum % 256) .. body
end

local burst
if mode == "right" then
  burst = { echo(0, id, seq) }
else
  burst = { echo(0, (id + 1) % 65536, seq), echo(0, id, (seq + 1) % 65536), echo(8, id, seq) }
end

local s = assert(lsock.socket("inet", "raw", "icmp"))
local sent = 0
for _ = 1, 75 do
  for _, packet in ipairs(burst) do
    if s:sendto(packet, "127.0.0.1") then sent = sent + 1 end
  end
  lsock.sleep(0.02)
end
s:close()
print("sent " .. sent)
