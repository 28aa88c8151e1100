-- lsock.compat: LuaSocket 3.1's `socket` module on lsock, so that scripts
-- written for LuaSocket, and LuaSocket's own pure-Lua modules
-- (socket.http, socket.smtp, socket.url, ltn12, mime), run unchanged:
--
--   require("lsock.compat").install()   -- socket, socket.core, socket.unix,
--                                        -- mime.core, ssl, ssl.https
--   local socket = require "socket"
--
-- Objects answer LuaSocket's method names, class names (tcp{master},
-- tcp{client}, tcp{server}, udp{unconnected}, udp{connected},
-- unixstream{...}, unixdgram{...}), option names, error strings and
-- partial results. Each holds an lsock socket (`sock:lsock()` returns it);
-- all I/O is lsock's, so the loop, pollers and select take these objects
-- too. The README's "LuaSocket compatibility" section lists every place
-- where this face does better than LuaSocket on purpose.
local lsock = require "lsock"
local core = require "lsock.core"

local socket = {}
socket._VERSION = "LuaSocket 3.1.0 (" .. core._VERSION .. ")"
-- select is built on poll(2): no limit on descriptor numbers.
socket._SETSIZE = 2147483647
socket._SOCKETINVALID = -1
socket._DATAGRAMSIZE = 8192
socket.BLOCKSIZE = 2048

local E = core.errno
local floor = math.floor

-- ---- errors -----------------------------------------------------------------

-- LuaSocket's words for some errno values; every other one is the C
-- library's text as written.
local ERRORS = {
  [E.EADDRINUSE] = "address already in use",
  [E.EISCONN] = "already connected",
  [E.EACCES] = "permission denied",
  [E.ECONNREFUSED] = "connection refused",
  [E.ECONNABORTED] = "closed",
  [E.ECONNRESET] = "closed",
  [E.ETIMEDOUT] = "timeout",
}

local function oserror(err, errno)
  if err == "timeout" or err == "closed" then return err end
  if errno then return ERRORS[errno] or core._strerror(errno) end
  return err
end

-- Resolver failures: lsock says "getaddrinfo HOST: <resolver text>";
-- LuaSocket has its own words for the common codes.
local RESOLVER = {
  ["name or service not known"] = "host or service not provided, or not known",
  ["temporary failure in name resolution"] = "temporary failure in name resolution",
  ["non-recoverable failure in name resolution"] = "non-recoverable failure in name resolution",
  ["servname not supported for ai_socktype"] = "service not supported for socket type",
  ["ai_family not supported"] = "ai_family not supported",
  ["memory allocation failure"] = "memory allocation failure",
}

local function resolver_error(err)
  local text = tostring(err):match(": ([^:]*)$") or tostring(err)
  -- lsock writes the resolver's words in lower case; LuaSocket as written.
  return RESOLVER[text:lower()] or (text:gsub("^%l", string.upper))
end

-- ---- names and numbers ------------------------------------------------------

-- A port as LuaSocket takes it: a number or a numeric string, 0..65535.
local function port_of(port)
  local n = tonumber(port)
  if not n or n ~= floor(n) or n < 0 or n > 65535 then return nil end
  return floor(n)
end

local function numeric(host)
  return lsock.getaddrinfo(host, nil, { numeric = true, type = "stream" }) ~= nil
end

-- The answers for host:port of family (nil: both), in LuaSocket's words
-- on failure.
local function resolve(host, port, family, passive)
  local p = port_of(port)
  if not p then return nil, "service not supported for socket type" end
  if host == "*" then host = nil; passive = true end
  if host ~= nil and type(host) ~= "string" then
    error(("bad argument #2 (string expected, got %s)"):format(type(host)), 3)
  end
  -- Called directly (no pcall): inside lsock.loop the lookup may yield,
  -- which PUC Lua 5.1 cannot do across pcall.
  local answers, err = lsock.getaddrinfo(host, p, { family = family, type = "stream", passive = passive })
  if not answers then return nil, resolver_error(err) end
  return answers
end

-- Unix paths: LuaSocket names an abstract socket with a leading zero
-- byte, lsock with "@"; a file whose name starts with "@" stays a file.
-- A path too long for the address is nil, "path too long", as LuaSocket
-- answers it.
local function to_lsock_path(path)
  if type(path) ~= "string" then
    error(("bad argument #2 (string expected, got %s)"):format(type(path)), 3)
  end
  local abstract = path:sub(1, 1) == "\0"
  if #path > core._UNIX_PATH_MAX + (abstract and 1 or 0) then return nil, "path too long" end
  if abstract then return "@" .. path:sub(2) end
  if path:sub(1, 1) == "@" then
    if #path + 2 > core._UNIX_PATH_MAX then return nil, "path too long" end
    return "./" .. path
  end
  return path
end

local function from_lsock_path(path)
  if type(path) == "string" and path:sub(1, 1) == "@" then return "\0" .. path:sub(2) end
  return path
end

-- ---- options ----------------------------------------------------------------

-- Each option: lsock's name, set (LuaSocket's value to lsock's; raises
-- as LuaSocket does for a value of the wrong type, at the caller of
-- setoption: level 3) and get (lsock's value to LuaSocket's; none: the
-- option cannot be read on the face, as in LuaSocket).
local function boolean_option(name, write_only)
  return {
    name = name,
    write_only = write_only,
    set = function(v)
      if type(v) ~= "boolean" then error("bad argument #3 to 'setoption' (boolean expected)", 3) end
      return v
    end,
    get = function(v) return v end,
  }
end

local function integer_option(name, write_only)
  return {
    name = name,
    write_only = write_only,
    set = function(v)
      local n = tonumber(v)
      if not n then error("bad argument #3 to 'setoption' (number expected)", 3) end
      return floor(n)
    end,
    get = function(v) return v end,
  }
end

local linger = {
  name = "linger",
  set = function(v)
    if type(v) ~= "table" then error("bad argument #3 to 'setoption' (table expected)", 3) end
    if type(v.on) ~= "boolean" then error("bad argument #3 to 'setoption' (boolean 'on' field expected)", 3) end
    if type(v.timeout) ~= "number" then
      error("bad argument #3 to 'setoption' (number 'timeout' field expected)", 3)
    end
    if not v.on then return false end
    return floor(v.timeout)
  end,
  get = function(v)
    if v == false then return { on = false, timeout = 0 } end
    return { on = true, timeout = v }
  end,
}

local function membership(name, iface_default)
  return {
    name = name,
    write_only = true,
    set = function(v)
      if type(v) ~= "table" then error("bad argument #3 to 'setoption' (table expected)", 3) end
      if type(v.multiaddr) ~= "string" then
        error("bad argument #3 to 'setoption' (string 'multiaddr' field expected)", 3)
      end
      if not numeric(v.multiaddr) then
        error("bad argument #3 to 'setoption' (invalid 'multiaddr' ip address)", 3)
      end
      local iface = v.interface
      if iface == "*" or iface == nil then iface = iface_default end
      return { group = v.multiaddr, interface = iface }
    end,
  }
end

local multicast_if = {
  name = "multicast_if",
  set = function(v) return v == "*" and "0.0.0.0" or v end,
  get = function(v) return v end,
}

local error_option = {
  name = "error",
  read_only = true,
  get = function(v)
    if v == 0 then return nil end
    return oserror(nil, v)
  end,
}

local COMMON = {
  ["reuseaddr"] = boolean_option("reuseaddr"),
  ["reuseport"] = boolean_option("reuseport"),
  ["send-buffer-size"] = integer_option("sndbuf"),
  ["recv-buffer-size"] = integer_option("rcvbuf"),
  ["error"] = error_option,
}

local function with_common(t)
  for k, v in pairs(COMMON) do t[k] = t[k] or v end
  return t
end

local TCP_OPTIONS = with_common {
  ["keepalive"] = boolean_option("keepalive"),
  ["linger"] = linger,
  ["tcp-nodelay"] = boolean_option("nodelay"),
  ["tcp-keepidle"] = integer_option("keepidle"),
  ["tcp-keepcnt"] = integer_option("keepcnt"),
  ["tcp-keepintvl"] = integer_option("keepintvl"),
  ["ipv6-v6only"] = boolean_option("v6only", true),
}

local UDP_OPTIONS = with_common {
  ["broadcast"] = boolean_option("broadcast"),
  ["dontroute"] = boolean_option("dontroute"),
  ["ip-multicast-if"] = multicast_if,
  ["ip-multicast-ttl"] = integer_option("multicast_ttl", true),
  ["ip-multicast-loop"] = boolean_option("multicast_loop"),
  ["ip-add-membership"] = membership("add_membership", "0.0.0.0"),
  ["ip-drop-membership"] = membership("drop_membership", "0.0.0.0"),
  ["ipv6-unicast-hops"] = integer_option("unicast_hops"),
  -- LuaSocket sets the unicast hop limit here; this is the multicast one.
  ["ipv6-multicast-hops"] = integer_option("multicast_hops"),
  ["ipv6-multicast-loop"] = boolean_option("multicast_loop"),
  ["ipv6-add-membership"] = membership("add_membership", 0),
  ["ipv6-drop-membership"] = membership("drop_membership", 0),
  ["ipv6-v6only"] = boolean_option("v6only"),
}

local UNIX_OPTIONS = {
  ["keepalive"] = TCP_OPTIONS["keepalive"],
  ["reuseaddr"] = COMMON["reuseaddr"],
  ["linger"] = linger,
  ["send-buffer-size"] = COMMON["send-buffer-size"],
  ["recv-buffer-size"] = COMMON["recv-buffer-size"],
  ["error"] = error_option,
}

-- ---- the object -------------------------------------------------------------

-- One object: { s = lsock socket or false, kind = "tcp"|"udp"|"unixstream"
-- |"unixdgram", family = "inet"|"inet6"|nil, class = "tcp{client}", ... }.
-- Every class has its own metatable; a transition (connect, listen,
-- setpeername) swaps it, as LuaSocket swaps the class of its userdata.
local classes = {}
local methods = {}      -- kind -> name -> function

local function new_object(kind, class, s, family)
  local self = { s = s or false, kind = kind, family = family, stats = false }
  self.id = tostring(self):match("0x%x+") or tostring(self):match("%x+$")
  return setmetatable(self, classes[class])
end

local function set_class(self, class)
  setmetatable(self, classes[class])
end

local function class_of(self)
  return getmetatable(self).class
end

-- The lsock socket of an object whose kind needs one now; creating it
-- (with the settings kept so far) for an object of no family yet.
-- LuaSocket's timeouts on an lsock stream s. LuaSocket measures the
-- block timeout from the start of each call, so alone it limits the whole
-- call (lsock's "t"); with a total timeout too, it limits each wait.
local function apply_timeouts(tb, tt, s)
  tb = tb and tb >= 0 and tb or nil
  tt = tt and tt >= 0 and tt or nil
  if tt then
    s:settimeout(tb, "b")
    s:settimeout(tt, "t")
  else
    s:settimeout(nil, "b")
    s:settimeout(tb, "t")
  end
end

local function apply_settings(self, s)
  if self.tb or self.tt then apply_timeouts(self.tb, self.tt, s) end
  if self.kind == "tcp" and self.family == "inet6" then s:setoption("v6only", true) end
  for _, o in ipairs(self.options or {}) do s:setoption(o[1], o[2]) end
end

local function open(self, family)
  local stype = (self.kind == "tcp" or self.kind == "unixstream") and "stream" or "dgram"
  local s, err, errno = core.socket(family, stype)
  if not s then return nil, oserror(err, errno) end
  self.s, self.family = s, family
  apply_settings(self, s)
  return s
end

local function define(kind, name, allowed, fn)
  methods[kind] = methods[kind] or {}
  local set = {}
  for class in allowed:gmatch("%S+") do set[kind .. "{" .. class .. "}"] = true end
  local expected = allowed:find(" ") and (kind .. "{any}") or (kind .. "{" .. allowed .. "}")
  methods[kind][name] = function(self, ...)
    local mt = getmetatable(self)
    if type(self) ~= "table" or not mt or not set[mt.class] then
      error(("bad argument #1 to '%s' (%s expected)"):format(name, expected), 2)
    end
    return fn(self, ...)
  end
end

-- The methods LuaSocket 3.1 gives each kind (every class of a kind has
-- them all, and each checks the class it needs), plus lsock().
local METHODS = {
  tcp = "accept bind close connect dirty getfamily getfd getoption getpeername getsockname getstats "
    .. "gettimeout listen receive send setfd setoption setpeername setsockname setstats settimeout shutdown",
  udp = "close dirty getfamily getfd getoption getpeername getsockname gettimeout receive receivefrom "
    .. "send sendto setfd setoption setpeername setsockname settimeout",
  unixstream = "accept bind close connect dirty getfd getsockname getstats listen receive send setfd "
    .. "setoption setpeername setsockname setstats settimeout shutdown",
  unixdgram = "bind close connect dirty getfd getsockname gettimeout receive receivefrom send sendto "
    .. "setfd setoption setpeername setsockname settimeout",
}

local function make_class(kind, class)
  local index = { class = class, lsock = methods[kind].lsock }
  for name in METHODS[kind]:gmatch("%S+") do
    index[name] = assert(methods[kind][name], name)
  end
  classes[class] = {
    class = class,
    __index = index,
    __tostring = function(self) return class .. ": " .. self.id end,
    __close = function(self) if self.s then self.s:close() end end,
  }
end

-- Settings every kind shares ------------------------------------------------

local ALL_KINDS = { "tcp", "udp", "unixstream", "unixdgram" }

local function define_common(name, allowed, fn)
  for _, kind in ipairs(ALL_KINDS) do
    local a = allowed
    if type(allowed) == "table" then a = allowed[kind] end
    define(kind, name, a, fn)
  end
end

local STREAM_ANY = "master client server"
local DGRAM_ANY = "connected unconnected"
local ANY = { tcp = STREAM_ANY, unixstream = STREAM_ANY, udp = DGRAM_ANY, unixdgram = DGRAM_ANY }

define_common("close", ANY, function(self)
  if self.s then self.s:close() end
  return 1
end)

define_common("getfd", ANY, function(self)
  if not self.s then return -1 end
  local fd = self.s:getfd()
  return (fd and fd >= 0) and fd or -1
end)

-- setfd(fd): the object takes descriptor fd (LuaSocket's way to hand
-- one over); setfd(-1) lets go of the current one without closing it.
define_common("setfd", ANY, function(self, fd)
  fd = tonumber(fd)
  if not fd then error("bad argument #2 to 'setfd' (number expected)", 2) end
  if self.s then
    if self.s:getfd() >= 0 then self.s:detach() end
    self.s = false
  end
  if fd >= 0 then
    local s, err, errno = core.fromfd(floor(fd))
    if not s then return nil, oserror(err, errno) end
    self.s = s
    apply_settings(self, s)
  end
end)

define_common("dirty", ANY, function(self)
  return self.s and self.s:dirty() or false
end)

define_common("settimeout", ANY, function(self, t, mode)
  t = tonumber(t) or -1
  if mode == nil or mode == "b" or mode == "r" then
    self.tb = t
  elseif mode == "t" then
    self.tt = t
  else
    error("bad argument #3 to 'settimeout' (invalid timeout mode)", 2)
  end
  if self.s then apply_timeouts(self.tb, self.tt, self.s) end
  return 1
end)

define_common("gettimeout", ANY, function(self)
  return self.tb or -1, self.tt or -1
end)

define_common("getfamily", ANY, function(self)
  if self.family == "inet6" then return "inet6" end
  if self.kind == "unixstream" or self.kind == "unixdgram" then return "unix" end
  return "inet4"
end)

-- A name failure in LuaSocket's words; a closed object, or one with no
-- descriptor yet, has a bad descriptor.
local function name_error(err, errno)
  if err == "closed" then return nil, core._strerror(E.EBADF) end
  return nil, oserror(err, errno)
end

-- getsockname gives the port as a string (LuaSocket reads it back with
-- getnameinfo), getpeername as a number.
define_common("getsockname", ANY, function(self)
  if not self.s then return name_error("closed") end
  local a, p, f = self.s:getsockname()
  if not a then return name_error(p, f) end
  if self.kind == "unixstream" or self.kind == "unixdgram" then return from_lsock_path(a) end
  return a, tostring(p), f
end)

local function getpeername(self)
  if not self.s then return name_error("closed") end
  local a, p, f = self.s:getpeername()
  if not a then return name_error(p, f) end
  if self.kind == "unixstream" or self.kind == "unixdgram" then return from_lsock_path(a) end
  return a, p, f
end

local function options_of(self)
  if self.kind == "tcp" then return TCP_OPTIONS end
  if self.kind == "udp" then return UDP_OPTIONS end
  return UNIX_OPTIONS
end

define_common("setoption", ANY, function(self, name, value)
  local o = options_of(self)[name]
  if not o or o.read_only then
    error(("bad argument #2 to 'setoption' (unsupported option `%s')"):format(tostring(name)), 2)
  end
  local v = o.set(value)
  if not self.s then
    -- No descriptor yet (socket.tcp() and socket.udp() choose the family
    -- when they bind or connect): kept and applied then.
    self.options = self.options or {}
    self.options[#self.options + 1] = { o.name, v }
    return 1
  end
  -- LuaSocket says the same for every failure.
  if not self.s:setoption(o.name, v) then return nil, "setsockopt failed" end
  -- Kept, for the socket a failed connect makes anew.
  self.options = self.options or {}
  self.options[#self.options + 1] = { o.name, v }
  return 1
end)

define_common("getoption", ANY, function(self, name)
  local o = options_of(self)[name]
  if not o or o.write_only then
    error(("bad argument #2 to 'getoption' (unsupported option `%s')"):format(tostring(name)), 2)
  end
  if not self.s then return nil, "getsockopt failed" end
  local v = self.s:getoption(o.name)
  if v == nil then return nil, "getsockopt failed" end
  return o.get(v)
end)

-- received, sent, age; setstats moves the counters (LuaSocket's way to
-- account for bytes a layer above handled). obj.stats holds the offsets,
-- lsock_obj (a socket or TLS stream; nil: none yet) the counters. The
-- LuaSec face keeps its counters the same way.
local function get_stats(obj, lsock_obj)
  local r, s, age = 0, 0, 0
  if lsock_obj then r, s, age = lsock_obj:getstats() end
  local b = obj.stats
  if b then return r - b[1], s - b[2], age - b[3] end
  return r, s, age
end

local function set_stats(obj, lsock_obj, r, s, age)
  obj.stats = nil
  local r0, s0, a0 = get_stats(obj, lsock_obj)
  obj.stats = { r0 - (tonumber(r) or r0), s0 - (tonumber(s) or s0), a0 - (tonumber(age) or a0) }
  return 1
end

define_common("getstats", ANY, function(self)
  return get_stats(self, self.s)
end)

define_common("setstats", ANY, function(self, r, s, age)
  return set_stats(self, self.s, r, s, age)
end)

-- The lsock socket inside (false until it has a descriptor).
define_common("lsock", ANY, function(self) return self.s end)

-- ---- streams: tcp and unixstream --------------------------------------------

local STREAMS = { "tcp", "unixstream" }

local function define_stream(name, allowed, fn)
  for _, kind in ipairs(STREAMS) do define(kind, name, allowed, fn) end
end

-- Lines: LuaSocket drops every CR of a line, not only the one before LF.
local function nocr(s)
  if s and s:find("\r", 1, true) then return (s:gsub("\r", "")) end
  return s
end

-- receive on the lsock stream s (a socket or a TLS stream) with
-- LuaSocket's rules; the TLS face uses it too.
local function stream_receive(s, pattern, prefix)
  if prefix ~= nil and type(prefix) ~= "string" then
    if type(prefix) ~= "number" then
      error(("bad argument #3 to 'receive' (string expected, got %s)"):format(type(prefix)), 2)
    end
    prefix = tostring(prefix)
  end
  if not s then return nil, "closed", "" end
  pattern = pattern or "*l"
  local data, err, partial
  if pattern == "*l" then
    data, err, partial = s:receive("l", prefix)
    if data then return nocr(data), nil, nil end
    return nil, err, nocr(partial) or ""
  elseif pattern == "*a" then
    data, err, partial = s:receive("a", prefix)
    if not data then return nil, err, partial or "" end
    -- LuaSocket: no byte before the close reads as "closed".
    if #data == #(prefix or "") then return nil, "closed", data end
    return data, nil, nil
  elseif type(pattern) == "number" or (type(pattern) == "string" and tonumber(pattern)) then
    local n = tonumber(pattern)
    if n < 0 then error("bad argument #2 to 'receive' (invalid receive pattern)", 2) end
    n = floor(n)
    if prefix and prefix ~= "" and #prefix >= n then return prefix, nil, nil end
    if n == 0 then
      -- LuaSocket waits for data (or the close) even when it takes none.
      if s:dirty() then return prefix or "", nil, nil end
      local got, perr = s:peek(1)
      if got then return prefix or "", nil, nil end
      return nil, perr, prefix or ""
    end
    data, err, partial = s:receive(n, prefix)
    if data then return data, nil, nil end
    return nil, err, partial or ""
  end
  error("bad argument #2 to 'receive' (invalid receive pattern)", 2)
end

local function stream_send(s, data, i, j)
  if not s then return nil, "closed", 0 end
  if type(data) ~= "string" then
    if type(data) ~= "number" then
      error(("bad argument #2 to 'send' (string expected, got %s)"):format(type(data)), 2)
    end
    data = tostring(data)
  end
  local last, err, errno, sent = s:send(data, i, j)
  if last then return last, nil, nil end
  if not sent then
    local first = tonumber(i) or 1
    sent = first > 0 and first - 1 or 0
  end
  return nil, oserror(err, errno), sent
end

define_stream("receive", "client", function(self, pattern, prefix)
  return stream_receive(self.s, pattern, prefix)
end)

define_stream("send", "client", function(self, data, i, j)
  return stream_send(self.s, data, i, j)
end)

define_stream("shutdown", "client", function(self, how)
  how = how or "both"
  if how ~= "both" and how ~= "send" and how ~= "receive" then
    error("bad argument #2 to 'shutdown' (invalid option '" .. tostring(how) .. "')", 2)
  end
  if self.s then self.s:shutdown(how) end
  return 1
end)

define_stream("listen", "master", function(self, backlog)
  if not self.s then return nil, core._strerror(E.EBADF) end
  local ok, err, errno = self.s:listen(floor(tonumber(backlog) or 32))
  if not ok then return nil, oserror(err, errno) end
  set_class(self, self.kind .. "{server}")
  return 1
end)

define_stream("accept", "server", function(self)
  if not self.s then return nil, "closed" end
  local c, err, errno = self.s:accept()
  if not c then return nil, oserror(err, errno) end
  return new_object(self.kind, self.kind .. "{client}", c, self.family)
end)

-- tcp: bind and connect by name, trying every answer --------------------------

define("tcp", "bind", "master", function(self, host, port)
  if type(host) ~= "string" then
    error(("bad argument #2 to 'bind' (string expected, got %s)"):format(type(host)), 2)
  end
  local answers, err = resolve(host, port, self.family, true)
  if not answers then return nil, err end
  local errno
  for _, ai in ipairs(answers) do
    if not self.s then open(self, ai.family) end
    if self.s and self.family == ai.family then
      local ok
      ok, err, errno = self.s:bind(ai.addr, ai.port)
      if ok then
        self.bound = true
        return 1
      end
      err = oserror(err, errno)
    end
  end
  return nil, err or "address family not supported"
end)

-- A socket whose connect failed answers the next connect with a stale
-- error (Linux: ECONNABORTED), so an unbound one is replaced: by nothing
-- for socket.tcp() (the next answer picks the family), by a fresh socket
-- of its family (with its options and timeouts) for tcp4/tcp6.
local function after_failure(self)
  self.connecting = nil
  if self.bound or not self.s then return end
  self.s:close()
  self.s = false
  if self.fixed then open(self, self.family) end
end

local function connect_one(self, ai)
  local ok, err, errno = self.s:connect(ai.addr, ai.port)
  if ok then
    self.connecting = nil
    set_class(self, "tcp{client}")
    return 1
  end
  if err == "timeout" then
    self.connecting = ai
    return nil, "timeout"
  end
  after_failure(self)
  return nil, oserror(err, errno)
end

define("tcp", "connect", STREAM_ANY, function(self, host, port)
  local class = class_of(self)
  if class ~= "tcp{master}" then return nil, "already connected" end
  if type(host) ~= "string" then
    error(("bad argument #2 to 'connect' (string expected, got %s)"):format(type(host)), 2)
  end
  if port == nil then error("bad argument #3 to 'connect' (string expected, got no value)", 2) end
  -- The connection a timeout left going on.
  if self.connecting and self.s then return connect_one(self, self.connecting) end
  local answers, err = resolve(host, port, self.family)
  if not answers then return nil, err end
  self.host = host
  for _, ai in ipairs(answers) do
    -- A socket of the other family, made by an earlier answer, goes
    -- (unless socket.tcp4/tcp6 fixed the family: that answer is skipped).
    if self.s and self.family ~= ai.family and not self.fixed then
      self.s:close()
      self.s = false
    end
    local oerr
    if not self.s then oerr = select(2, open(self, ai.family)) end
    if not self.s then
      err = oerr
    elseif self.family == ai.family then
      local ok, cerr = connect_one(self, ai)
      if ok then return 1 end
      if cerr == "timeout" then return nil, cerr end
      err = cerr
    end
  end
  return nil, err
end)

-- unixstream: paths -----------------------------------------------------------

define("unixstream", "bind", "master", function(self, path)
  local lpath, perr = to_lsock_path(path)
  if not lpath then return nil, perr end
  local ok, err, errno = self.s:bind(lpath)
  if not ok then return nil, oserror(err, errno) end
  return 1
end)

define("unixstream", "connect", STREAM_ANY, function(self, path)
  if class_of(self) ~= "unixstream{master}" then return nil, "already connected" end
  local lpath, perr = to_lsock_path(path)
  if not lpath then return nil, perr end
  local ok, err, errno = self.s:connect(lpath)
  if ok then
    set_class(self, "unixstream{client}")
    return 1
  end
  return nil, oserror(err, errno)
end)

-- ---- datagrams: udp and unixdgram --------------------------------------------

define("udp", "setsockname", "unconnected", function(self, host, port)
  local answers, err = resolve(host, port, self.family, true)
  if not answers then return nil, err end
  local ai = answers[1]
  if not self.s then
    local _, oerr = open(self, ai.family)
    if not self.s then return nil, oerr end
  end
  local ok, berr, errno = self.s:bind(ai.addr, ai.port)
  if not ok then return nil, oserror(berr, errno) end
  return 1
end)

define("udp", "setpeername", DGRAM_ANY, function(self, host, port)
  if host == "*" then
    if class_of(self) == "udp{connected}" and self.s then
      local ok, err, errno = self.s:connect()
      if not ok then return nil, oserror(err, errno) end
    end
    set_class(self, "udp{unconnected}")
    return 1
  end
  if class_of(self) ~= "udp{unconnected}" then
    error("bad argument #1 to 'setpeername' (udp{unconnected} expected)", 2)
  end
  local answers, err = resolve(host, port, self.family)
  if not answers then return nil, err end
  for _, ai in ipairs(answers) do
    if not self.s then open(self, ai.family) end
    if self.s and self.family == ai.family then
      local ok, cerr, errno = self.s:connect(ai.addr, ai.port)
      if ok then
        set_class(self, "udp{connected}")
        return 1
      end
      err = oserror(cerr, errno)
    end
  end
  return nil, err
end)

-- LuaSocket's sendto takes numeric addresses only.
define("udp", "sendto", "unconnected", function(self, data, host, port)
  if type(data) ~= "string" then
    error(("bad argument #2 to 'sendto' (string expected, got %s)"):format(type(data)), 2)
  end
  if type(host) ~= "string" then
    error(("bad argument #3 to 'sendto' (string expected, got %s)"):format(type(host)), 2)
  end
  if port == nil then error("bad argument #4 to 'sendto' (string expected, got no value)", 2) end
  local p = port_of(port)
  if not p then return nil, "service not supported for socket type" end
  local answers = lsock.getaddrinfo(host, p, { numeric = true, type = "dgram", family = self.family })
  if not answers then return nil, "Name or service not known" end
  local ai = answers[1]
  if not self.s then
    local _, oerr = open(self, ai.family)
    if not self.s then return nil, oerr end
  end
  local n, serr, errno = self.s:sendto(data, ai.addr, ai.port)
  if not n then return nil, oserror(serr, errno) end
  return n
end)

local function dgram_send(self, data)
  if type(data) ~= "string" then
    error(("bad argument #2 to 'send' (string expected, got %s)"):format(type(data)), 2)
  end
  local j, err, errno = self.s:send(data)
  if not j then return nil, oserror(err, errno) end
  return #data
end

-- receive(size): LuaSocket's default is 8192 bytes and a longer datagram
-- is cut silently; here the default is the largest datagram (nothing is
-- cut unless the caller asks for fewer bytes).
local function dgram_size(size)
  if size == nil then return 65535 end
  local n = tonumber(size)
  if not n then error("bad argument #2 (number expected)", 3) end
  n = floor(n)
  return n < 1 and 1 or n
end

local function dgram_receive(self, size)
  if not self.s then return nil, "closed" end
  local data, err, errno = self.s:recv(dgram_size(size))
  if not data then return nil, oserror(err, errno) end
  return data
end

local function dgram_receivefrom(self, size)
  if not self.s then return nil, "closed" end
  local data, a, p = self.s:recvfrom(dgram_size(size))
  if not data then return nil, oserror(a, p) end
  if self.kind == "unixdgram" then return data, from_lsock_path(a) end
  return data, a, p
end

for _, kind in ipairs({ "udp", "unixdgram" }) do
  define(kind, "send", "connected", dgram_send)
  define(kind, "receive", DGRAM_ANY, dgram_receive)
  define(kind, "receivefrom", "unconnected", dgram_receivefrom)
end
define("udp", "getpeername", "connected", getpeername)
define("tcp", "getpeername", STREAM_ANY, getpeername)

define("unixdgram", "setsockname", "unconnected", function(self, path)
  local lpath, perr = to_lsock_path(path)
  if not lpath then return nil, perr end
  local ok, err, errno = self.s:bind(lpath)
  if not ok then return nil, oserror(err, errno) end
  return 1
end)
methods.unixdgram.bind = methods.unixdgram.setsockname

define("unixdgram", "setpeername", DGRAM_ANY, function(self, path)
  if path == "*" then
    local ok, err, errno = self.s:connect()
    if not ok then return nil, oserror(err, errno) end
    set_class(self, "unixdgram{unconnected}")
    return 1
  end
  local lpath, perr = to_lsock_path(path)
  if not lpath then return nil, perr end
  local ok, err, errno = self.s:connect(lpath)
  if not ok then return nil, oserror(err, errno) end
  set_class(self, "unixdgram{connected}")
  return 1
end)
methods.unixdgram.connect = methods.unixdgram.setpeername

define("unixdgram", "sendto", "unconnected", function(self, data, path)
  if type(data) ~= "string" then
    error(("bad argument #2 to 'sendto' (string expected, got %s)"):format(type(data)), 2)
  end
  local lpath, perr = to_lsock_path(path)
  if not lpath then return nil, perr end
  local n, err, errno = self.s:sendto(data, lpath)
  if not n then return nil, oserror(err, errno) end
  return n
end)

-- LuaSocket's other names for bind and connect.
for _, kind in ipairs(STREAMS) do
  methods[kind].setsockname = methods[kind].bind
  methods[kind].setpeername = methods[kind].connect
end

for _, c in ipairs({ "master", "client", "server" }) do
  make_class("tcp", "tcp{" .. c .. "}")
  make_class("unixstream", "unixstream{" .. c .. "}")
end
for _, c in ipairs({ "connected", "unconnected" }) do
  make_class("udp", "udp{" .. c .. "}")
  make_class("unixdgram", "unixdgram{" .. c .. "}")
end

-- ---- constructors -----------------------------------------------------------

local function new_tcp(family)
  local self = new_object("tcp", "tcp{master}", nil, family)
  if family then
    self.fixed = true
    local s, err = open(self, family)
    if not s then return nil, err end
  end
  return self
end

function socket.tcp() return new_tcp(nil) end
function socket.tcp4() return new_tcp("inet") end
function socket.tcp6() return new_tcp("inet6") end

local function new_udp(family)
  local self = new_object("udp", "udp{unconnected}", nil, family)
  if family then
    local s, err = open(self, family)
    if not s then return nil, err end
    if family == "inet6" then s:setoption("v6only", true) end
  end
  return self
end

function socket.udp() return new_udp(nil) end
function socket.udp4() return new_udp("inet") end
function socket.udp6() return new_udp("inet6") end

-- socket.unix (require "socket.unix"): callable, with stream and dgram.
local unix = {}
function unix.stream()
  local self = new_object("unixstream", "unixstream{master}")
  local s, err = open(self, "unix")
  if not s then return nil, err end
  return self
end
function unix.dgram()
  local self = new_object("unixdgram", "unixdgram{unconnected}")
  local s, err = open(self, "unix")
  if not s then return nil, err end
  return self
end
unix.tcp, unix.udp = unix.stream, unix.dgram
setmetatable(unix, { __call = function(_, ...) return unix.stream(...) end })
socket.unix = unix

-- socket.connect(address, port [, laddress [, lport [, family]]])
function socket.connect(address, port, laddress, lport, family)
  local fam = family == "inet" and "inet" or family == "inet6" and "inet6" or nil
  local sock, err = new_tcp(fam)
  if not sock then return nil, err end
  if laddress then
    local ok, berr = sock:bind(laddress, lport or 0)
    if not ok then sock:close() return nil, berr end
  end
  local ok, cerr = sock:connect(address, port)
  if not ok then sock:close() return nil, cerr end
  return sock
end

function socket.connect4(address, port, laddress, lport)
  return socket.connect(address, port, laddress, lport, "inet")
end

function socket.connect6(address, port, laddress, lport)
  return socket.connect(address, port, laddress, lport, "inet6")
end

-- socket.bind(host, port [, backlog]): a listening tcp{server}.
function socket.bind(host, port, backlog)
  if host == "*" then host = "0.0.0.0" end
  local answers, err = resolve(host, port, nil, true)
  if not answers then return nil, err end
  for _, ai in ipairs(answers) do
    local sock
    sock, err = new_tcp(ai.family)
    if not sock then return nil, err end
    sock:setoption("reuseaddr", true)
    local ok
    ok, err = sock:bind(ai.addr, ai.port)
    if ok then ok, err = sock:listen(backlog) end
    if ok then return sock end
    sock:close()
  end
  return nil, err
end

-- select(recvt, sendt [, timeout]): lsock's select takes these objects
-- as they are (it asks getfd and dirty) and has no descriptor limit.
function socket.select(recvt, sendt, timeout)
  if recvt ~= nil and type(recvt) ~= "table" then
    error("bad argument #1 to 'select' (table expected)", 2)
  end
  if sendt ~= nil and type(sendt) ~= "table" then
    error("bad argument #2 to 'select' (table expected)", 2)
  end
  local r, w, err = core.select(recvt, sendt, tonumber(timeout))
  if err then return r, w, err end
  return r, w
end

socket.gettime = core.gettime

function socket.sleep(n)
  n = tonumber(n)
  if n and n > 0 then core.sleep(n) end
end

function socket.skip(d, ...)
  return select(d + 1, ...)
end

-- ---- try, protect, newtry ---------------------------------------------------

-- An error raised by a `try` function: protect turns it into nil, message.
local Exception = {}
Exception.__index = Exception
Exception.__tostring = function(e) return tostring(e[1]) end

function socket.newtry(finalizer)
  return function(...)
    local ok = ...
    if ok then return ... end
    if finalizer then pcall(finalizer) end
    error(setmetatable({ (select(2, ...)) }, Exception), 0)
  end
end

local function protected(ok, ...)
  if ok then return ... end
  local e = ...
  if getmetatable(e) == Exception then return nil, e[1] end
  error(e, 0)
end

function socket.protect(f)
  return function(...)
    return protected(pcall(f, ...))
  end
end

socket.try = socket.newtry()

function socket.choose(t)
  return function(name, opt1, opt2)
    if type(name) ~= "string" then
      name, opt1, opt2 = "default", name, opt1
    end
    local f = t[name or "nil"]
    if not f then error("unknown key (" .. tostring(name) .. ")", 3) end
    return f(opt1, opt2)
  end
end

-- ---- LTN12 sinks and sources over sockets -----------------------------------

local sinkt, sourcet = {}, {}
socket.sinkt, socket.sourcet = sinkt, sourcet

-- A sink or source is a callable table that select takes as the socket:
-- it answers getfd and dirty.
local function callable(sock, f)
  return setmetatable({
    getfd = function() return sock:getfd() end,
    dirty = function() return sock:dirty() end,
  }, { __call = function(_, ...) return f(...) end })
end

sinkt["close-when-done"] = function(sock)
  return callable(sock, function(chunk)
    if not chunk then
      sock:close()
      return 1
    end
    return sock:send(chunk)
  end)
end

sinkt["keep-open"] = function(sock)
  return callable(sock, function(chunk)
    if chunk then return sock:send(chunk) end
    return 1
  end)
end

sinkt["default"] = sinkt["keep-open"]
socket.sink = socket.choose(sinkt)

sourcet["by-length"] = function(sock, length)
  return callable(sock, function()
    if length <= 0 then return nil end
    local chunk, err = sock:receive(math.min(socket.BLOCKSIZE, length))
    if err then return nil, err end
    length = length - #chunk
    return chunk
  end)
end

sourcet["until-closed"] = function(sock)
  local done = false
  return callable(sock, function()
    if done then return nil end
    local chunk, err, partial = sock:receive(socket.BLOCKSIZE)
    if not err then return chunk end
    if err == "closed" then
      sock:close()
      done = true
      return partial
    end
    return nil, err
  end)
end

sourcet["default"] = sourcet["until-closed"]
socket.source = socket.choose(sourcet)

-- ---- dns --------------------------------------------------------------------

local dns = {}
socket.dns = dns

local function addresses(name, family)
  return lsock.getaddrinfo(name, nil, { family = family, type = "stream", canonname = true })
end

-- toip(name): the first IPv4 address and {name=, alias=, ip=}.
function dns.toip(name)
  if type(name) ~= "string" then error("bad argument #1 to 'toip' (string expected)", 2) end
  local answers = addresses(name, "inet")
  if not answers or #answers == 0 then return nil, "host not found" end
  local ips = {}
  for _, ai in ipairs(answers) do ips[#ips + 1] = ai.addr end
  return ips[1], { name = answers[1].canonname or name, alias = {}, ip = ips }
end

-- tohostname(address or name): the name of the address.
function dns.tohostname(addr)
  if type(addr) ~= "string" then error("bad argument #1 to 'tohostname' (string expected)", 2) end
  local ip = addr
  if not numeric(addr) then
    ip = dns.toip(addr)
    if not ip then return nil, "host not found" end
  end
  local host = lsock.getnameinfo(ip, 0, { namereqd = true })
  if not host then return nil, "host not found" end
  return host, { name = host, alias = {}, ip = { ip } }
end

function dns.getaddrinfo(host)
  if type(host) ~= "string" then error("bad argument #1 to 'getaddrinfo' (string expected)", 2) end
  local answers, err = lsock.getaddrinfo(host, nil, { type = "stream" })
  if not answers then return nil, resolver_error(err) end
  local t = {}
  for _, ai in ipairs(answers) do t[#t + 1] = { family = ai.family, addr = ai.addr } end
  return t
end

function dns.getnameinfo(host, port)
  local service
  if host == nil then
    local p = port_of(port)
    if not p then return nil, "service not supported for socket type" end
    local _, s = lsock.getnameinfo("127.0.0.1", p)
    return {}, s
  end
  local answers, err = resolve(host, port or 0)
  if not answers then return nil, err end
  local names = {}
  for _, ai in ipairs(answers) do
    local h, s = lsock.getnameinfo(ai.addr, ai.port)
    if not h then return nil, resolver_error(s) end
    names[#names + 1] = h
    service = s
  end
  return names, port ~= nil and service or nil
end

function dns.gethostname()
  local name, err, errno = core.gethostname()
  if not name then return nil, oserror(err, errno) end
  return name
end

-- For lsock.compat.ssl, which gives TLS streams the same face.
socket._face = { receive = stream_receive, send = stream_send, oserror = oserror,
                 timeouts = apply_timeouts, get_stats = get_stats, set_stats = set_stats }

-- ---- installing the face ----------------------------------------------------

-- install(): make `require "socket"` (and socket.core, socket.unix),
-- `require "mime.core"`, `require "ssl"` and `require "ssl.https"` answer
-- with lsock's faces. LuaSocket's pure-Lua modules (socket.http, ltn12,
-- mime, ...) still come from package.path.
function socket.install()
  package.loaded["socket"] = socket
  package.loaded["socket.core"] = socket
  package.loaded["socket.unix"] = unix
  -- Loaded when first required, and in place of whatever was loaded.
  for name, face in pairs({ ["mime.core"] = "lsock.compat.mime", ["ssl"] = "lsock.compat.ssl",
                            ["ssl.https"] = "lsock.compat.https" }) do
    package.loaded[name] = nil
    package.preload[name] = function() return require(face) end
  end
  return socket
end

return socket
