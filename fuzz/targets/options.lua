-- fuzz target "options": socket:setoption / getoption with fuzzed names
-- and values of every Lua type, on tcp, udp (inet and inet6) and unix
-- stream and dgram sockets.
--
-- Input: [1] the socket kind, then up to 24 operations: a byte (even: get,
-- odd: set), a name (a byte picking one of docs/reference.md's options, or
-- a fuzzed string when it is 255) and, for set, a value (a type byte, then
-- its bytes).
--
-- The classification (a violation is a finding):
-- * an unknown name, setting a read-only option and reading a write-only
--   one must raise; a value of a type the option cannot take (a boolean
--   option given anything but a boolean, an integer option anything but a
--   number or a numeric string, ...) must raise; every raise must be
--   "bad argument #N to 'setoption'/'getoption' (...)", naming the argument;
-- * a known name with a value of its type never raises (an integer 1..255,
--   a boolean, false for linger, nil for multicast_if): it gives true or
--   nil, "setoption <name>: ...", errno;
-- * getoption's value has the option's type, or it is nil, err, errno;
-- * some options read back what was set (booleans the kernel keeps as
--   given, ttl 1..255).
-- add_membership joins a multicast group, which sends a report out of an
-- interface: it only runs when LSOCK_FUZZ_NETNS=1 says that the process is
-- in a network namespace of its own (fuzz/run.sh does that where it can);
-- elsewhere the operation is drop_membership, which sends nothing.
local lsock = require "lsock"
local fuzzdata = require "fuzzdata"
-- The kernel is not instrumented: the errno an option gave stands in.
local feature = require("fuzz.feedback").feature

local NETNS = os.getenv("LSOCK_FUZZ_NETNS") == "1"

-- name -> kind, from docs/reference.md's table.
local OPTIONS = {
  reuseaddr = "bool", reuseport = "bool", keepalive = "bool", nodelay = "bool",
  broadcast = "bool", dontroute = "bool", v6only = "bool", multicast_loop = "bool",
  hdrincl = "bool", udp_gro = "bool",
  keepidle = "int", keepintvl = "int", keepcnt = "int", rcvbuf = "int", sndbuf = "int",
  ttl = "int", tos = "int", multicast_ttl = "int", unicast_hops = "int", multicast_hops = "int",
  linger = "linger", multicast_if = "mcast_if",
  add_membership = "membership", drop_membership = "membership",
  error = "error", type = "type", acceptconn = "acceptconn",
}
local READ_ONLY = { error = true, type = true, acceptconn = true }
local WRITE_ONLY = { add_membership = true, drop_membership = true }
local NAMES = {}
for name in pairs(OPTIONS) do NAMES[#NAMES + 1] = name end
table.sort(NAMES)
-- Kept as set, on Linux, for the sockets they apply to.
local ROUND_TRIP = { reuseaddr = true, keepalive = true, broadcast = true, dontroute = true }

local KINDS = {
  { "inet", "stream" }, { "inet6", "stream" }, { "inet", "dgram" }, { "inet6", "dgram" },
  { "unix", "stream" }, { "unix", "dgram" },
}
local TYPES = { stream = true, dgram = true, seqpacket = true, raw = true }

local fail, is_int = fuzzdata.fail, fuzzdata.is_int

local ADDRS = { "127.0.0.1", "*", "0.0.0.0", "224.0.0.1", "239.1.2.3", "ff02::1", "ff05::1:3",
  "::1", "lo", "1", "0", "", "1.2.3", "::ffff:224.0.0.1", "256.0.0.1", "224.0.0.1\0x" }

local function value(d, sock)
  local t = d:byte() % 11
  if t == 0 then return nil end
  if t == 1 then return d:byte() % 2 == 1 end
  if t == 2 or t == 3 then return d:number() end
  if t == 4 then return tostring(d:number()) end -- numeric strings
  if t == 5 then return d:str(24) end
  if t == 6 then return d:pick(ADDRS) end
  if t == 7 then
    local g = { group = value(d, sock), interface = value(d, sock) }
    return g
  end
  if t == 8 then return { group = d:pick(ADDRS), interface = d:pick({ nil, "127.0.0.1", "lo", 1, 0, "*" }) } end
  if t == 9 then return sock end -- a userdata
  return d:pick({ print, coroutine.create(print), {}, false, true })
end

-- What a set of `name` to v must do: "raise", "value" (never raise), or
-- nil when either may happen.
local function set_expect(name, v, family)
  local kind = OPTIONS[name]
  if not kind or READ_ONLY[name] then return "raise" end
  local tv = type(v)
  if kind == "bool" then return tv == "boolean" and "value" or "raise" end
  local numeric = tv == "number" or (tv == "string" and tonumber(v) ~= nil)
  if kind == "int" or kind == "linger" then
    if kind == "linger" and v == false then return "value" end
    if not numeric then return "raise" end
    -- Sure to be valid: 1..255 fits every integer option (a ttl, a count,
    -- seconds, a buffer size); outside it lsock may call a value a
    -- programmer error (a negative buffer size) or leave it to the kernel.
    if is_int(v) and v >= 1 and v <= 255 then return "value" end
    return nil
  end
  if kind == "mcast_if" then
    if v == nil then return "value" end
    if family == "inet6" then
      if numeric or tv == "string" then return nil end
      return "raise"
    end
    if tv ~= "string" and tv ~= "number" then return "raise" end
    return nil
  end
  if kind == "membership" and tv ~= "table" then return "raise" end
  return nil
end

local function check_value(name, v, family)
  local kind, tv = OPTIONS[name], type(v)
  local ok
  if kind == "bool" or kind == "acceptconn" then ok = tv == "boolean"
  elseif kind == "int" or kind == "error" then ok = is_int(v)
  elseif kind == "linger" then ok = v == false or (is_int(v) and v >= 0)
  elseif kind == "mcast_if" then ok = family == "inet6" and is_int(v) or family ~= "inet6" and tv == "string"
  elseif kind == "type" then ok = TYPES[v] ~= nil
  end
  if not ok then fail("getoption(%q) gave %s %s", name, tv, tostring(v)) end
end

-- "bad argument #N to 'method' (...)", after the "file:line: " of where
-- the call was made.
local function check_raise(err, method)
  local where = type(err) == "string" and err:match("^(.-)bad argument #%d+ to '" .. method .. "' %(")
  if not where or not (where == "" or where:find("^[^\n]*:%d+: $")) then
    fail("%s raised something that is not an argument error: %s", method, tostring(err))
  end
end

local function check_failure(r, err, errno, method, name)
  feature(("%s %s %s"):format(method, name, tostring(errno)))
  if r ~= nil then fail("%s(%q) gave %s", method, name, tostring(r)) end
  if type(err) ~= "string" or (err ~= "closed" and err:sub(1, #method + #name + 2) ~= method .. " " .. name .. ":") then
    fail("%s(%q) failed with %s", method, name, tostring(err))
  end
  if err ~= "closed" and not is_int(errno) then fail("%s(%q) failed without an errno", method, name) end
end

return function(data)
  local d = fuzzdata.new(data)
  local kind = d:pick(KINDS)
  local family = kind[1]
  local sock = assert(lsock.socket(family, kind[2]))
  for _ = 1, 24 do
    if d:left() <= 0 then break end
    local op = d:byte()
    local nb = d:byte()
    local name = nb == 255 and d:str(16) or NAMES[nb % #NAMES + 1]
    if op % 2 == 0 then
      -- Called as a method inside a function, so that an argument error
      -- can name it ("bad argument #2 to 'getoption'"); pcall(sock.getoption,
      -- ...) would make it '?'.
      local ok, r, err, errno = pcall(function() return sock:getoption(name) end)
      local must_raise = not OPTIONS[name] or WRITE_ONLY[name]
      if not ok then
        check_raise(r, "getoption")
        if not must_raise then fail("getoption(%q) raised: %s", name, r) end
      elseif must_raise then
        fail("getoption(%q) did not raise", name)
      elseif r ~= nil then
        check_value(name, r, family)
      else
        check_failure(r, err, errno, "getoption", name)
      end
    else
      local v = value(d, sock)
      if name == "add_membership" and not NETNS then name = "drop_membership" end
      local expect = set_expect(name, v, family)
      local ok, r, err, errno = pcall(function() return sock:setoption(name, v) end)
      if not ok then
        check_raise(r, "setoption")
        if expect == "value" then fail("setoption(%q, %s) raised: %s", name, tostring(v), r) end
      elseif expect == "raise" then
        fail("setoption(%q, %s %s) did not raise", name, type(v), tostring(v))
      elseif r == true then
        local back = ROUND_TRIP[name] and sock:getoption(name)
        if ROUND_TRIP[name] and back ~= v then
          fail("setoption(%q, %s) reads back %s", name, tostring(v), tostring(back))
        end
        if name == "ttl" and is_int(v) and v >= 1 and v <= 255 and sock:getoption("ttl") ~= v then
          fail("ttl %d reads back %s", v, tostring(sock:getoption("ttl")))
        end
      else
        check_failure(r, err, errno, "setoption", name)
      end
    end
    if d:byte() == 0x5a then sock:close() end -- options of a closed socket
  end
  sock:close()
end
