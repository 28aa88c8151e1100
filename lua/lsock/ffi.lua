-- lsock.ffi: on LuaJIT, the hot stream methods (receive, recv, send) of
-- sockets and TLS streams, and recv, recvfrom and send of datagram
-- sockets, go through the FFI, which the JIT compiles,
-- over the same C buffer and engine (csrc/ffi.c). A call of a Lua C
-- function is never compiled, so without this a loop around
-- receive("l") runs interpreted.
--
-- Each method first asks C for what needs no wait: a whole line, count
-- or buffered bytes already in the buffer, or a write the socket takes at
-- once; on a datagram socket, one datagram in or out (recv, recvfrom,
-- send). Everything else (waiting, timeouts, partial results, errors, the
-- loop, a prefix or max) is the C method itself, called as before, so the
-- results are the same either way. lsock loads this on LuaJIT unless
-- LSOCK_FFI=0 is in the environment.
local ffi = require "ffi"
local core = require "lsock.core"

-- The table of C functions, its declaration and the room a sender's
-- address needs, all from csrc/ffi.c.
local api_address, api_cdef, host_room = core._ffi()
ffi.cdef(api_cdef)

local api = ffi.cast("struct lsk_ffi_api *", api_address)
local ptr = ffi.new("const char *[1]")
local len = ffi.new("size_t[1]")
local trunc = ffi.new("int[1]")
local port = ffi.new("int[1]")
local host = ffi.new("char[?]", host_room)
local string_of = ffi.string
local getmetatable, type, floor = getmetatable, type, math.floor

local LINE = { l = 0, ["*l"] = 0, L = 1, ["*L"] = 1 }
local COUNT_MAX = 2 ^ 31 -- counts above go to C (its size checks)

-- The bytes C found (r: 1, or 2 when the buffer emptied, which C may
-- free once they are copied).
local function copied(self, r, n)
  local s = string_of(ptr[0], n)
  if r == 2 then api.drained(self) end
  return s
end

local function valid_max(max)
  return max == nil or (type(max) == "number" and max >= 1 and max < COUNT_MAX and floor(max) == max)
end

-- One datagram C read (n >= 0 bytes at ptr, truncated when trunc says).
local function datagram(n)
  local s = string_of(ptr[0], n)
  if trunc[0] ~= 0 then return s, true end
  return s
end

local function install(class, kind)
  local methods, mt = core._methods(class)
  local c_receive, c_recv, c_send = methods.receive, methods.recv, methods.send

  methods.receive = function(self, pattern, prefix, max)
    if prefix == nil and max == nil and getmetatable(self) == mt then
      local eol = LINE[pattern == nil and "l" or pattern]
      if eol then
        local r = api.line(self, kind, eol, -1, ptr, len)
        if r ~= 0 then return copied(self, r, len[0]) end
      elseif type(pattern) == "number" and pattern >= 1 and pattern < COUNT_MAX
          and floor(pattern) == pattern then
        local r = api.count(self, kind, pattern, ptr)
        if r ~= 0 then return copied(self, r, pattern) end
      end
    end
    return c_receive(self, pattern, prefix, max)
  end

  methods.recv = function(self, max)
    if getmetatable(self) == mt and valid_max(max) then
      local r = api.recv(self, kind, max or 65536, ptr, len)
      if r ~= 0 then return copied(self, r, len[0]) end
      if kind == 0 then
        local n = tonumber(api.dgram_recv(self, max or 65535, 0, ptr, trunc, nil, nil))
        if n >= 0 then return datagram(n) end
      end
    end
    return c_recv(self, max)
  end

  methods.send = function(self, data, i, j)
    local n = type(data) == "string" and #data or 0
    if n > 0 and i == nil and j == nil and getmetatable(self) == mt then
      local done = tonumber(api.send(self, kind, data, n))
      if done == n then return n end
      if done > 0 then return c_send(self, data, done + 1) end
      if kind == 0 and tonumber(api.dgram_send(self, data, n)) == n then return n end
    end
    return c_send(self, data, i, j)
  end

  if kind == 0 then
    local c_recvfrom = methods.recvfrom
    methods.recvfrom = function(self, max)
      if getmetatable(self) == mt and valid_max(max) then
        local n = tonumber(api.dgram_recv(self, max or 65535, 1, ptr, trunc, host, port))
        if n >= 0 then
          local s = string_of(ptr[0], n)
          if trunc[0] ~= 0 then return s, string_of(host), port[0], true end
          return s, string_of(host), port[0]
        end
      end
      return c_recvfrom(self, max)
    end
  end
end

install("lsock.socket", 0)
install("lsock.tls", 1)

return true
