--- Bulk data for the digest-checked transfers of spec/fault_spec.lua, and
-- SHA-256 digests of it by a command (used by the spec and fault_peer.lua).
--
-- The data is cheap to make in any Lua: BLOCKS distinct blocks of 1 MiB
-- (each a pseudo-random piece of 4093 bytes, a length prime to every
-- power of two, repeated), sent in an order drawn from a seed. Lua is far
-- too slow to hash a gigabyte itself, so both ends pipe what they sent or
-- received into `openssl dgst -sha256` (or `sha256sum`), which writes the
-- digest to a temporary file.
local bulk = {}

bulk.MiB = 1024 * 1024
local BLOCKS, PIECE = 4, 4093

-- A seeded generator of integers in [0, m), the same on every Lua (the
-- products stay below 2^53).
local function random(seed)
  local state = seed % 2147483647
  if state == 0 then state = 1 end
  return function(m)
    state = state * 16807 % 2147483647
    return state % m
  end
end

local made
local function blocks()
  if made then return made end
  made = {}
  local rnd = random(20240601)
  for b = 1, BLOCKS do
    local t = {}
    for i = 1, PIECE do t[i] = string.char(rnd(256)) end
    local piece = table.concat(t)
    made[b] = string.rep(piece, math.ceil(bulk.MiB / PIECE)):sub(1, bulk.MiB)
  end
  return made
end

--- An iterator over the pieces of the first n bytes of the stream of
-- `seed`: strings of 1 MiB, the last one possibly shorter.
function bulk.blocks(n, seed)
  local all, rnd, left = blocks(), random(seed), n
  return function()
    if left <= 0 then return nil end
    local b = all[rnd(BLOCKS) + 1]
    if left < #b then b = b:sub(1, left) end
    left = left - #b
    return b
  end
end

-- The command that writes the SHA-256 of its input: `openssl dgst`, which
-- uses the CPU's SHA instructions (a quarter of sha256sum's time here, and
-- each end hashes everything), else coreutils' `sha256sum`; nil if neither.
local function exists(cmd)
  local p = io.popen("command -v " .. cmd .. " 2>/dev/null")
  local where = p and p:read("*l")
  if p then p:close() end
  return where ~= nil and where ~= ""
end

-- os.execute gives a number on 5.1 and LuaJIT, a boolean on 5.2+.
local function succeeds(cmd)
  local r = os.execute(cmd .. " >/dev/null 2>&1")
  return r == true or r == 0
end

local HASHER
if exists("openssl") and succeeds("printf '' | openssl dgst -sha256 -r") then
  HASHER = "openssl dgst -sha256 -r"
elseif exists("sha256sum") then
  HASHER = "sha256sum"
end

--- Is there a command to make SHA-256 digests (`openssl dgst` or
-- `sha256sum`)? The name of the one used, or nil.
function bulk.available()
  return HASHER
end

--- A digest being made: `d.feed(s)` adds the bytes of s, `d.count()` is
-- how many were added, `d.finish()` ends it and returns the SHA-256 in
-- hex (nil and a message when the command failed). Returns nil and a
-- message when the pipe cannot be opened.
function bulk.digester()
  local path = os.tmpname()
  if not HASHER then return nil, "neither openssl nor sha256sum is here" end
  local pipe = io.popen(HASHER .. " > '" .. path .. "'", "w")
  if not pipe then
    os.remove(path)
    return nil, "cannot start " .. HASHER
  end
  local n, d = 0, {}
  function d.feed(s)
    n = n + #s
    pipe:write(s)
  end
  function d.count() return n end
  function d.finish()
    pipe:close()
    local f = io.open(path)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    os.remove(path)
    local hex = text:match("^(%x+)")
    if not hex or #hex ~= 64 then return nil, HASHER .. " said: " .. text end
    return hex
  end
  return d
end

return bulk
