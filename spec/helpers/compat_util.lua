--- Small pieces shared by the lsock.compat specs and their child servers
-- (no busted here: the children load it too).
local M = {}

--- Adler-32 of the string s, as 8 lower-case hex digits. Only additions
-- and remainders, so it gives the same on every Lua (floats on 5.1).
function M.adler32(s)
  local a, b = 1, 0
  local n, i = #s, 1
  while i <= n do
    local j = math.min(i + 3999, n) -- 4000 bytes keep b far below 2^53
    local bytes = { s:byte(i, j) }
    for k = 1, #bytes do
      a = a + bytes[k]
      b = b + a
    end
    a, b = a % 65521, b % 65521
    i = j + 1
  end
  return string.format("%04x%04x", b, a)
end

--- The chunk sizes the HTTP server cuts a chunked body into, in turn:
-- odd, and crossing every buffer size a reader may use.
M.CHUNKS = { 1, 7, 333, 4093, 65521, 17, 100003 }

return M
