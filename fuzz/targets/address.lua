-- fuzz target "address": address and port parsing. Never a name lookup
-- and never a packet: getaddrinfo always with numeric = true, getnameinfo
-- always with numerichost and numericserv, udp:bind only to what numeric
-- getaddrinfo accepts (or "*"), unix sockets bound to abstract names only
-- (a filesystem path only when it must raise before any system call).
--
-- Input: up to 8 operations, each a byte choosing one of
--   getaddrinfo(host, service, hints)  getnameinfo(addr, port, flags)
--   udp:bind(addr, port)               unix dgram bind("@" .. name)
--   unix bind(path) for a path that must raise (too long, a zero byte)
-- followed by its arguments: strings (fuzzed, or picked from a list of
-- addresses near the parsers' edges), ports of every Lua type.
--
-- Raising is right only where docs/reference.md says it is a programmer
-- error: a port that is not an integer or is out of 0..65535, an unknown
-- hint, getnameinfo of an address that is not numeric, a unix path that is
-- too long or has a zero byte. Any other raise, and any raise that is not
-- "bad argument #N to '...'", is a finding. Results are checked: every
-- answer of getaddrinfo is an inet/inet6 entry with an integer port (the
-- one asked for), which getnameinfo turns back into the same text; a bound
-- socket's getsockname gives its family, the port asked for (unless 0) and
-- the abstract name without trailing zero bytes.
--
-- Outside a network namespace of its own (LSOCK_FUZZ_NETNS=1, set by
-- fuzz/run.sh where `unshare -n` works) a bind never takes a fixed port (a
-- valid nonzero port becomes 0) and abstract names start with "@lsock-fuzz."
-- so that nothing else on the machine sees the fuzzer's sockets.
-- A host, service or address with a zero byte may raise; an answer for
-- one (the name cut at the zero byte) is a finding.
local lsock = require "lsock"
local core = require "lsock.core"
local fuzzdata = require "fuzzdata"
-- The C library is not instrumented: what it answered (an error's text,
-- how many answers) stands in for its coverage.
local feature = require("fuzz.feedback").feature

local NETNS = os.getenv("LSOCK_FUZZ_NETNS") == "1"

local ADDRS = {
  "127.0.0.1", "::1", "*", "0.0.0.0", "::", "127.1", "0x7f.1", "0177.0.0.1", "127.0.0.256",
  "1.2.3.4.5", "::ffff:127.0.0.1", "fe80::1%lo", "fe80::1%1", "fe80::1%", "[::1]", "::1%lo",
  "255.255.255.255", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "::127.0.0.1", " 127.0.0.1",
  "127.0.0.1 ", "", "localhost", "127.0.0.1\0x", "2130706433", "-1", "1e3", "0",
}
local PORTS = { 0, 1, 80, 65535, 65536, -1, 0.5, 1e300, 0 / 0, "0", "80", " 80", "80 ", "0x50",
  "1e2", "http", "", "-0", "65536", "99999999999999999999", true, {}, print }
local FAMILIES = { "inet", "inet6", "unix", "packet", "bogus", 1, true }
local TYPES = { "stream", "dgram", "raw", "seqpacket", "bogus", 2 }

local fail, is_int = fuzzdata.fail, fuzzdata.is_int

local function has_nul(s)
  return type(s) == "string" and s:find("\0", 1, true) ~= nil
end

local function show(v)
  return type(v) == "string" and ("%q"):format(v) or tostring(v)
end

-- A port as lsock reads one: an integer (or a string holding one), or nil.
local function port_value(p)
  local n = tonumber(p)
  if type(p) ~= "number" and type(p) ~= "string" then return nil end
  if not n or n ~= n or n ~= math.floor(n) or n >= 2 ^ 63 or n < -2 ^ 63 then return nil end
  return n
end

local function valid_port(p)
  local n = port_value(p)
  return n ~= nil and n >= 0 and n <= 65535
end

-- Call fn(...) and classify: returns true, results... or false, err after
-- checking that the raise has the shape of an argument error of `fname`.
local function call(fname, allowed, fn, ...)
  local res = { pcall(fn, ...) }
  if res[1] then return table.unpack(res) end
  local err = res[2]
  local where = type(err) == "string" and err:match("^(.-)bad argument #%d+ to '[%w_.]*" .. fname .. "' %(")
  if not where or not (where == "" or where:find("^[^\n]*:%d+: $")) then
    fail("%s raised something that is not an argument error: %s", fname, show(err))
  end
  if not allowed then fail("%s raised: %s", fname, err) end
  return false, err
end

local function str(d)
  if d:byte() % 2 == 0 then return d:pick(ADDRS) end
  return d:str(64)
end

local function port(d)
  local how = d:byte() % 4
  if how == 0 then return d:pick(PORTS) end
  if how == 1 then return d:number() end
  if how == 2 then return tostring(d:uint(2)) end
  return d:uint(2)
end

local function check_gai(host, service, hints, answers)
  if type(answers) ~= "table" then fail("getaddrinfo gave %s", show(answers)) end
  local nul = has_nul(host) or has_nul(service)
  if nul and #answers > 0 then
    fail("getaddrinfo(%s, %s) answered for a name with a zero byte", show(host), show(service))
  end
  for i, ai in ipairs(answers) do
    if ai.family ~= "inet" and ai.family ~= "inet6" then fail("answer %d: family %s", i, show(ai.family)) end
    if hints.family and ai.family ~= hints.family then
      fail("answer %d: family %s with hint %s", i, ai.family, hints.family)
    end
    if type(ai.addr) ~= "string" or not is_int(ai.port) or ai.port < 0 or ai.port > 65535 then
      fail("answer %d: %s port %s", i, show(ai.addr), show(ai.port))
    end
    if not is_int(ai.protocol) then fail("answer %d: protocol %s", i, show(ai.protocol)) end
    local want = port_value(service)
    if want and ai.port ~= want then fail("answer %d: port %d for service %s", i, ai.port, show(service)) end
    -- The answer's text is numeric and canonical: it reads back the same.
    local h, s = lsock.getnameinfo(ai.addr, ai.port, { numerichost = true, numericserv = true })
    if h ~= ai.addr or s ~= tostring(ai.port) then
      fail("getnameinfo(%s, %d) gave %s, %s", ai.addr, ai.port, show(h), show(s))
    end
  end
end

local function op_getaddrinfo(d)
  local host = d:byte() % 5 == 0 and nil or str(d)
  local service = d:byte() % 5 == 0 and nil or port(d)
  local hints = { numeric = true, passive = d:byte() % 2 == 1, canonname = d:byte() % 2 == 1 }
  local f = d:byte()
  if f % 2 == 1 then hints.family = FAMILIES[f % #FAMILIES + 1] end
  local t = d:byte()
  if t % 2 == 1 then hints.type = TYPES[t % #TYPES + 1] end
  -- Raises: no host and no service, a bad port, an unknown or non-inet hint.
  local bad_hint = (hints.family ~= nil and hints.family ~= "inet" and hints.family ~= "inet6")
    or (hints.type ~= nil and hints.type ~= "stream" and hints.type ~= "dgram" and hints.type ~= "raw"
      and hints.type ~= "seqpacket")
  local bad_port = type(service) == "number" and not valid_port(service)
    or (service ~= nil and type(service) ~= "number" and type(service) ~= "string")
  local must = (host == nil and service == nil) or bad_hint or bad_port
  -- A zero byte in a name may raise (as it does in a unix path), and so
  -- may a numeric service string out of range (as the number would).
  -- (Digits alone are a port, however many.)
  local out_of_range = type(service) == "string" and (port_value(service) ~= nil and not valid_port(service)
    or service:match("^%d+$") ~= nil and tonumber(service) > 65535)
  local ok, answers, err = call("getaddrinfo", must or has_nul(host) or has_nul(service) or out_of_range,
    lsock.getaddrinfo, host, service, hints)
  if not ok then return end
  if must then
    fail("getaddrinfo(%s, %s, family %s, type %s) did not raise", show(host), show(service),
      show(hints.family), show(hints.type))
  end
  if answers == nil then
    if type(err) ~= "string" or not err:find("^getaddrinfo ") then fail("getaddrinfo failed with %s", show(err)) end
    feature("gai " .. (err:match(": ([^:]*)$") or ""))
    return
  end
  feature("gai ok " .. #answers .. " " .. (answers[1] and answers[1].family or ""))
  check_gai(host, service, hints, answers)
end

local function op_getnameinfo(d)
  local addr, p = str(d), port(d)
  local flags = { numerichost = true, numericserv = true, namereqd = d:byte() % 2 == 1,
    nofqdn = d:byte() % 2 == 1, dgram = d:byte() % 2 == 1 }
  if d:byte() % 4 == 0 then p = nil end
  -- Raises: an address that is not numeric (inet_pton's forms or "*") or a
  -- bad port; nothing else may.
  local ok, host, serv = call("getnameinfo", true, lsock.getnameinfo, addr, p, flags)
  if not ok then return end
  if p ~= nil and not valid_port(p) then fail("getnameinfo with port %s did not raise", show(p)) end
  if host == nil then
    if type(serv) ~= "string" or not serv:find("^getnameinfo ") then fail("getnameinfo failed with %s", show(serv)) end
    feature("gni " .. (serv:match(": ([^:]*)$") or ""))
    return
  end
  if has_nul(addr) then
    fail("getnameinfo(%s) answered for an address with a zero byte", show(addr))
  end
  if type(host) ~= "string" or serv ~= ("%d"):format(port_value(p) or 0) then
    fail("getnameinfo(%s, %s) gave %s, %s", show(addr), show(p), show(host), show(serv))
  end
end

local function op_bind_udp(d)
  local family = d:byte() % 2 == 0 and "inet" or "inet6"
  local addr, p = str(d), port(d)
  -- Only numeric addresses: anything else would go to the resolver.
  local numeric, answers = pcall(core.getaddrinfo, addr, nil, { numeric = true, family = family })
  if addr ~= "*" and not (numeric and answers) then return end
  if not NETNS and valid_port(p) and port_value(p) ~= 0 then p = 0 end
  local sock = assert(lsock.udp(family))
  local ok, r, err = call("bind", not valid_port(p) or has_nul(addr), function()
    local r, e, n = sock:bind(addr, p) -- not a tail call: the error names 'bind'
    return r, e, n
  end)
  if ok then
    if not valid_port(p) then sock:close(); fail("bind(%s, %s) did not raise", show(addr), show(p)) end
    if r == true then
      if addr:find("\0", 1, true) then
        sock:close()
        fail("bind(%s) bound an address with a zero byte", show(addr))
      end
      local a, bport, fam = sock:getsockname()
      if fam ~= family or type(a) ~= "string" or (port_value(p) ~= 0 and bport ~= port_value(p)) then
        sock:close()
        fail("bound to %s %s, getsockname says %s %s %s", show(addr), show(p), show(a), show(bport), show(fam))
      end
    elseif type(err) == "string" then
      feature("bind " .. family .. " " .. (err:match(": ([^:]*)$") or ""))
    end
    if r ~= true and (r ~= nil or type(err) ~= "string" or not err:find("^bind ")) then
      sock:close()
      fail("bind(%s, %s) gave %s, %s", show(addr), show(p), show(r), show(err))
    end
  end
  sock:close()
end

local function op_bind_abstract(d)
  local name = (NETNS and "@" or "@lsock-fuzz.") .. d:str(120)
  local sock = assert(lsock.socket("unix", "dgram"))
  local ok, r, err = call("bind", #name > 108, function()
    local r, e, n = sock:bind(name)
    return r, e, n
  end)
  if ok then
    if #name > 108 then sock:close(); fail("bind of a %d-byte abstract name did not raise", #name) end
    if r == true then
      local got = sock:getsockname()
      local want = name:gsub("%z+$", "")
      if got ~= want then sock:close(); fail("bound %s, getsockname says %s", show(name), show(got)) end
    elseif r ~= nil or type(err) ~= "string" then
      sock:close()
      fail("bind(%s) gave %s, %s", show(name), show(r), show(err))
    end
  end
  sock:close()
end

local function op_bind_path(d)
  -- Only paths that must raise before any system call touches the disk.
  local path = d:str(40)
  if d:byte() % 2 == 0 then path = path .. "\0" .. d:str(20) else path = ("p"):rep(108) .. path end
  if path:sub(1, 1) == "@" then path = "x" .. path end
  local sock = assert(lsock.socket("unix", "dgram"))
  local ok = call("bind", true, function()
    local r, e = sock:bind(path)
    return r, e
  end)
  sock:close()
  if ok then fail("bind(%s) did not raise", show(path)) end
end

local OPS = { op_getaddrinfo, op_getnameinfo, op_bind_udp, op_bind_abstract, op_bind_path }

return function(data)
  local d = fuzzdata.new(data)
  for _ = 1, 8 do
    if d:left() <= 0 then break end
    d:pick(OPS)(d)
  end
end
