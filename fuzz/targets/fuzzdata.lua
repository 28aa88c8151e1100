-- fuzzdata: reads a fuzz input as a stream of choices. Past the end every
-- read answers zeros (or an empty string), so every input decodes to
-- something and short inputs mean simple cases.
local fuzzdata = {}
fuzzdata.__index = fuzzdata

function fuzzdata.new(data)
  return setmetatable({ data = data, pos = 1 }, fuzzdata)
end

function fuzzdata:left()
  return #self.data - self.pos + 1
end

--- One byte, 0..255.
function fuzzdata:byte()
  local b = self.data:byte(self.pos) or 0
  self.pos = self.pos + 1
  return b
end

--- A big-endian unsigned integer of `n` bytes.
function fuzzdata:uint(n)
  local v = 0
  for _ = 1, n do v = v * 256 + self:byte() end
  return v
end

--- A string: a length byte (% `max` + 1 values: 0..max) and that many bytes.
function fuzzdata:str(max)
  local len = self:byte() % ((max or 255) + 1)
  local s = self.data:sub(self.pos, self.pos + len - 1)
  self.pos = self.pos + len
  return s
end

--- The rest of the input.
function fuzzdata:rest()
  local s = self.data:sub(self.pos)
  self.pos = #self.data + 1
  return s
end

--- One element of the array `list`.
function fuzzdata:pick(list)
  return list[self:byte() % #list + 1]
end

-- Numbers where things tend to break: the edges of ports, C ints, 2^53,
-- and the floats that are not integers.
local EDGES = {
  0, 1, -1, 255, 256, 65535, 65536, -65535, 2147483647, 2147483648, -2147483647,
  -2147483648, 4294967295, 4294967296, 9007199254740992, -9007199254740993,
  0.5, -0.5, 1e300, -1e300, 1 / 0, -1 / 0, 0 / 0, 1e-300, 80.0, 2 ^ 63, -2 ^ 63,
}
if math.maxinteger then
  EDGES[#EDGES + 1] = math.maxinteger
  EDGES[#EDGES + 1] = math.mininteger
end
fuzzdata.EDGES = EDGES

--- A number: an edge value, or a small or a 4-byte signed integer.
function fuzzdata:number()
  local how = self:byte() % 4
  if how == 0 then return self:pick(EDGES) end
  if how == 1 then return self:byte() end
  local v = self:uint(4)
  if v >= 2147483648 then v = v - 4294967296 end
  if how == 3 then return v / 16 end -- a float, integral one time in 16
  return math.tointeger and math.tointeger(v) or v
end

--- A finding: raises the message, which the harness reports and aborts on.
function fuzzdata.fail(fmt, ...)
  error(fmt:format(...), 0)
end

--- Whether v is an integral number (an integer, or a float with no
-- fraction).
function fuzzdata.is_int(v)
  return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v))
end

return fuzzdata
