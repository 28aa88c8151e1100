-- lsock.compat.mime: a pure-Lua stand-in for LuaSocket's C module `mime.core`
-- (LuaSocket 3.1, "MIME 1.0.3"), so that LuaSocket's own mime.lua runs
-- without any C from LuaSocket:
--
--   package.loaded["mime.core"] = require "lsock.compat.mime"
--   local mime = require "mime"
--
-- Every function is a low-level filter in LuaSocket's chunked convention and
-- gives the same results as the C module, quirks included:
--
--   b64(chunk [, more])          -> encoded, held back      base64
--   unb64(chunk [, more])        -> decoded, held back
--   qp(chunk [, more [, marker]]) -> encoded, held back     quoted-printable
--   unqp(chunk [, more])         -> decoded, held back
--   wrp(left, chunk [, length])  -> wrapped, left          line wrapping
--   qpwrp(left, chunk [, length]) -> wrapped, left         same, qp soft breaks
--   eol(ctx, chunk [, marker])   -> converted, ctx         end-of-line normalization
--   dot(state, chunk)            -> stuffed, state         SMTP dot-stuffing
--
-- The first four work on chunk .. more; a nil `more` means the end of the
-- data: what was held back is flushed (padded) and an empty result is nil.
-- A nil chunk returns nil, nil. The last four take a context and return the
-- new one (a float on Lua 5.3+, as lua_pushnumber gives); a nil chunk flushes.

local byte, char, find, format, gsub, rep, sub =
  string.byte, string.char, string.find, string.format, string.gsub, string.rep, string.sub
local concat = table.concat
local floor, ceil = math.floor, math.ceil
local tointeger = rawget(math, "tointeger") -- Lua 5.3+ only

local M = { _VERSION = "MIME 1.0.3" }

---------------------------------------------------------------------------
-- Arguments, checked and converted as the lauxlib calls of mime.c do.
-- argerror is only ever called straight from a check_* helper, itself
-- called straight from an exported function: level 4 is that one's caller.
---------------------------------------------------------------------------

local function argerror(i, fname, msg)
  error(format("bad argument #%d to '%s' (%s)", i, fname, msg), 4)
end

-- luaL_optlstring: nil stays nil, numbers become strings.
local function check_optstring(v, i, fname)
  local t = type(v)
  if t == "string" or v == nil then return v end
  if t == "number" then return v .. "" end
  argerror(i, fname, "string expected, got " .. t)
end

-- A marker is read with luaL_optstring and appended as a C string, so it
-- ends at its first zero byte.
local function check_marker(v, i, fname)
  local t = type(v)
  if v == nil then return "\r\n" end
  if t == "number" then v = v .. "" elseif t ~= "string" then
    argerror(i, fname, "string expected, got " .. t)
  end
  local z = find(v, "\0", 1, true)
  return z and sub(v, 1, z - 1) or v
end

local function tonum(v)
  if type(v) == "number" then return v end
  return type(v) == "string" and tonumber(v) or nil
end

-- A C cast of a double to an integer type of range [lo, hi), as x86-64
-- does it: truncation, or lo when out of range (or NaN).
local function cast(x, lo, hi)
  if not (x >= lo and x < hi) then return lo end
  if x >= 0 then return floor(x) end
  return ceil(x)
end

-- (int) luaL_checknumber / luaL_optnumber.
local function check_int(v, i, fname, default)
  local x = tonum(v)
  if v == nil and default then x = default end
  if not x then argerror(i, fname, "number expected, got " .. type(v)) end
  return cast(x, -2147483648, 2147483648)
end

-- (size_t) luaL_checknumber: negatives wrap around.
local function check_size(v, i, fname)
  local x = tonum(v)
  if not x then argerror(i, fname, "number expected, got " .. type(v)) end
  if x >= 2 ^ 63 then return x < 2 ^ 64 and floor(x) or 0 end
  x = cast(x, -2 ^ 63, 2 ^ 63)
  if x < 0 then x = x + 2 ^ 64 end
  return x
end

-- (int) luaL_checkinteger: Lua 5.3+ refuses numbers that are not
-- integers, older Luas cast to a 64-bit integer; then the low 32 bits.
local function check_integer(v, i, fname)
  local x = tonum(v)
  if not x then argerror(i, fname, "number expected, got " .. type(v)) end
  if tointeger then
    x = tointeger(x)
    if not x then argerror(i, fname, "number has no integer representation") end
  else
    x = cast(x, -2 ^ 63, 2 ^ 63)
  end
  x = x % 4294967296
  if x >= 2147483648 then x = x - 4294967296 end
  return x
end

---------------------------------------------------------------------------
-- Base64
---------------------------------------------------------------------------

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- pair[v]: the two base64 digits of a 12-bit value; 3 bytes are 2 pairs.
local pair = {}
for v = 0, 4095 do
  local a, b = floor(v / 64) + 1, v % 64 + 1
  pair[v] = sub(alphabet, a, a) .. sub(alphabet, b, b)
end
-- The 12-bit halves of bytes a, b, c are a*16 + high[b] and low[b] + c.
local high, low = {}, {}
for b = 0, 255 do high[b], low[b] = floor(b / 16), b % 16 * 256 end

-- Encodes the whole triplets of s; returns them and the 0..2 bytes left.
local function b64_triplets(s)
  local out, k, n = {}, 0, #s
  local whole = n - n % 3
  for i = 1, whole, 3 do
    local a, b, c = byte(s, i, i + 2)
    out[k + 1], out[k + 2] = pair[a * 16 + high[b]], pair[low[b] + c]
    k = k + 2
  end
  return concat(out), sub(s, whole + 1)
end

function M.b64(chunk, more)
  chunk = check_optstring(chunk, 1, "b64")
  if chunk == nil then return nil, nil end
  more = check_optstring(more, 2, "b64")
  local out, rest = b64_triplets(more and chunk .. more or chunk)
  if more then return out, rest end
  if rest ~= "" then -- pad with zero bits, then '='
    local n = #rest
    out = out .. sub(b64_triplets(rest .. "\0\0"), 1, n + 1) .. rep("=", 3 - n)
  end
  if out == "" then return nil, nil end
  return out, nil
end

-- Digit values; '=' counts as a digit worth 0. Other bytes are skipped.
local digit = { [61] = 0 }
for i = 1, 64 do digit[byte(alphabet, i)] = i - 1 end

-- Decodes the whole quads of s (only digits and '='): a quad gives 3
-- bytes, or 1 if its third digit is '=', or 2 if only its fourth is.
local function unb64_quads(s)
  local out, k, n = {}, 0, #s
  local whole = n - n % 4
  for i = 1, whole, 4 do
    local w, x, y, z = byte(s, i, i + 3)
    local v = ((digit[w] * 64 + digit[x]) * 64 + digit[y]) * 64 + digit[z]
    local c = v % 256
    v = (v - c) / 256
    local b = v % 256
    k = k + 1
    if y == 61 then
      out[k] = char((v - b) / 256)
    elseif z == 61 then
      out[k] = char((v - b) / 256, b)
    else
      out[k] = char((v - b) / 256, b, c)
    end
  end
  return concat(out), sub(s, whole + 1)
end

function M.unb64(chunk, more)
  chunk = check_optstring(chunk, 1, "unb64")
  if chunk == nil then return nil, nil end
  more = check_optstring(more, 2, "unb64")
  local out, rest = unb64_quads((gsub(more and chunk .. more or chunk, "[^A-Za-z0-9+/=]", "")))
  if more then return out, rest end
  if out == "" then return nil, nil end -- an incomplete last quad is dropped
  return out, nil
end

---------------------------------------------------------------------------
-- Quoted-printable
---------------------------------------------------------------------------

-- quoted[c]: "=XX" for byte c.
local quoted = {}
for c = 0, 255 do quoted[char(c)] = format("=%02X", c) end

-- Bytes 33..60 and 62..126 stand for themselves; so do tab and space,
-- except right before a CRLF; a CRLF is the marker; all else is =XX.
local function qp_encode(s, marker)
  s = gsub(s, "[^\t\n\r -<>-~]", quoted)
  s = gsub(s, "[\t ]\r\n", { [" \r\n"] = "=20\r\n", ["\t\r\n"] = "=09\r\n" })
  return (gsub(s, "[\r\n]\n?", { ["\r\n"] = marker, ["\r"] = "=0D", ["\n"] = "=0A", ["\n\n"] = "=0A=0A" }))
end

-- How many bytes at the end of s the encoder cannot decide on yet: a tab
-- or space and the byte after it (a CRLF may follow), or a last tab, space
-- or CR.
local function qp_undecided(s)
  local n = #s
  if n >= 2 and find(s, "^[\t ]", n - 1) then return 2 end
  if find(s, "^[\t\r ]", n) then return 1 end
  return 0
end

function M.qp(chunk, more, marker)
  chunk = check_optstring(chunk, 1, "qp")
  marker = check_marker(marker, 3, "qp")
  if chunk == nil then return nil, nil end
  more = check_optstring(more, 2, "qp")
  local s = more and chunk .. more or chunk
  local cut = #s - qp_undecided(s)
  local out, rest = qp_encode(sub(s, 1, cut), marker), sub(s, cut + 1)
  if more then return out, rest end
  if rest ~= "" then -- flushed: quoted as if last on a line, then a soft break
    out = out .. gsub(rest, "[^!-<>-~]", quoted) .. "=\r\n"
  end
  if out == "" then return nil, nil end
  return out, nil
end

-- unquoted["XY"]: the byte of hex digits X and Y (either case).
local unquoted = {}
do
  local digits = "0123456789ABCDEFabcdef"
  for i = 1, #digits do
    for j = 1, #digits do
      local x, y = sub(digits, i, i), sub(digits, j, j)
      unquoted[x .. y] = char(tonumber(x .. y, 16))
    end
  end
end

-- Decodes s up to its last complete token. Tokens: "=" and the next two
-- bytes (a soft break "=\r\n" vanishes, =XX is a byte, anything else is
-- kept as it is); CR and the next byte (kept if a CRLF, else both dropped);
-- a tab or a byte 32..126 (kept); any other byte (dropped).
-- Returns the decoded text and the bytes of an incomplete last token.
local function qp_decode(s)
  local out, k, i, n = {}, 0, 1, #s
  while true do
    local j = find(s, "[^\t -<>-~]", i)
    if not j then
      out[k + 1] = sub(s, i)
      return concat(out), ""
    end
    if j > i then k = k + 1; out[k] = sub(s, i, j - 1) end
    local c = byte(s, j)
    if c == 61 then -- "="
      if j + 2 > n then return concat(out), sub(s, j) end
      local code = sub(s, j + 1, j + 2)
      if code ~= "\r\n" then k = k + 1; out[k] = unquoted[code] or sub(s, j, j + 2) end
      i = j + 3
    elseif c == 13 then -- CR
      if j + 1 > n then return concat(out), sub(s, j) end
      if byte(s, j + 1) == 10 then k = k + 1; out[k] = "\r\n" end
      i = j + 2
    else
      i = j + 1
    end
  end
end

function M.unqp(chunk, more)
  chunk = check_optstring(chunk, 1, "unqp")
  if chunk == nil then return nil, nil end
  more = check_optstring(more, 2, "unqp")
  local out, rest = qp_decode(more and chunk .. more or chunk)
  if more then return out, rest end
  -- mime.c tests the result as a C string: empty, or starting with a zero
  -- byte, it is nil.
  if out == "" or byte(out) == 0 then return nil, nil end
  return out, nil
end

---------------------------------------------------------------------------
-- Line wrapping
---------------------------------------------------------------------------

-- left - n in C ints: below INT_MIN it wraps around to INT_MAX.
local function minus(left, n)
  left = left - n
  if left < -2147483648 then left = left + 4294967296 end
  return left
end

-- Shared by wrp and qpwrp. CRs are dropped, an LF becomes CRLF and starts
-- a full line; other bytes go on the line while `left` exceeds `reserve`
-- (the room they must leave), else a `brk` starts a new line first; an "="
-- (only for qpwrp) needs more room: 3, for the =XX it starts.
local function wrap(left, s, length, reserve, brk, special)
  local out, k, i, n = {}, 0, 1, #s
  while i <= n do
    local j = find(s, special, i) or n + 1
    while i < j do -- a run of ordinary bytes
      if left <= reserve then k = k + 1; out[k] = brk; left = length end
      local take = left - reserve
      if take < 1 then take = 1 end
      if take > j - i then take = j - i end
      k = k + 1
      out[k] = sub(s, i, i + take - 1)
      i, left = i + take, minus(left, take)
    end
    local c = byte(s, j)
    if c == 10 then
      k = k + 1; out[k] = "\r\n"; left = length
    elseif c == 61 then
      if left <= 3 then k = k + 1; out[k] = brk; left = length end
      k = k + 1; out[k] = "="; left = minus(left, 1)
    end
    i = j + 1
  end
  return concat(out), left
end

-- wrp(left, chunk, length): breaks lines (CRLF) at `length` bytes; `left`
-- is the room on the current line. A nil chunk ends an unfinished line.
function M.wrp(left, chunk, length)
  left = check_int(left, 1, "wrp")
  chunk = check_optstring(chunk, 2, "wrp")
  length = check_int(length, 3, "wrp", 76)
  if chunk == nil then return left < length and "\r\n" or nil, length + 0.0 end
  local out
  out, left = wrap(left, chunk, length, 0, "\r\n", "[\r\n]")
  return out, left + 0.0
end

-- qpwrp: the same for quoted-printable text, with soft breaks ("=\r\n")
-- that fit in `length` and never split an =XX.
function M.qpwrp(left, chunk, length)
  left = check_int(left, 1, "qpwrp")
  chunk = check_optstring(chunk, 2, "qpwrp")
  length = check_int(length, 3, "qpwrp", 76)
  if chunk == nil then return left < length and "=\r\n" or nil, length + 0.0 end
  local out
  out, left = wrap(left, chunk, length, 1, "=\r\n", "[\r\n=]")
  return out, left + 0.0
end

---------------------------------------------------------------------------
-- End of lines and dot-stuffing
---------------------------------------------------------------------------

-- eol(ctx, chunk, marker): every CR or LF alone, CRLF or LFCR becomes one
-- marker, CRCR and LFLF two. ctx is the code of a CR or LF that ended the
-- previous chunk and could pair with the next byte, else 0.
function M.eol(ctx, chunk, marker)
  ctx = check_integer(ctx, 1, "eol")
  chunk = check_optstring(chunk, 2, "eol")
  marker = check_marker(marker, 3, "eol")
  if chunk == nil then return nil, 0.0 end
  local n, final = #chunk, chunk == "" and ctx or 0
  local out = gsub(chunk, "()([\r\n]+)", function(at, run)
    local last, markers = at == 1 and ctx or 0, 0
    for i = 1, #run do
      local c = byte(run, i)
      if last == 10 or last == 13 then -- the second of a pair
        if c == last then markers = markers + 1 end
        last = 0
      else
        markers, last = markers + 1, c
      end
    end
    if at + #run > n then final = last end
    return rep(marker, markers)
  end)
  return out, final + 0.0
end

-- dot(state, chunk): doubles every "." that starts a line (follows a CRLF).
-- state: 2 after a CRLF (also the start of a message), 1 after a CR, else 0.
function M.dot(state, chunk)
  state = check_size(state, 1, "dot")
  chunk = check_optstring(chunk, 2, "dot")
  if chunk == nil then return nil, 2.0 end
  if chunk == "" then return "", state + 0.0 end
  -- Put back what the state stands for, stuff, then take it off again.
  local before = state == 2 and "\r\n" or state == 1 and "\r" or ""
  local s = before .. chunk
  local out = sub(gsub(s, "\r\n%.", "\r\n.."), #before + 1)
  if sub(s, -1) == "\r" then
    state = 1
  elseif sub(s, -2) == "\r\n" then
    state = 2
  else
    state = 0
  end
  return out, state + 0.0
end

return M
