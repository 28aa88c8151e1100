-- lsock: the pure-Lua layer over lsock.core. It re-exports every core
-- function and adds what scripts want: connecting and listening by host
-- name or by unix path, and ping (lsock/icmp.lua).
local core = require "lsock.core"

local lsock = {}
for name, value in pairs(core) do
  lsock[name] = value
end

-- On LuaJIT the hot stream methods go through the FFI (lsock/ffi.lua),
-- unless LSOCK_FFI=0 says not to; lsock.ffi_enabled tells which.
lsock.ffi_enabled = false
if package.loaded.jit and os.getenv("LSOCK_FFI") ~= "0" then
  lsock.ffi_enabled = require("lsock.ffi")
end

-- The result of a setup that ended with `ok`: the socket, or (closing
-- it) nil, err, errno.
local function finish(sock, ok, err, errno)
  if ok then return sock end
  sock:close()
  return nil, err, errno
end

local function check_opts(opts, fname, argn)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #%d to '%s' (table expected, got %s)"):format(argn or 3, fname, type(opts)), 3)
  end
  return opts or {}
end

-- A port number (0..65535) or a service name ("http").
local function check_port(port, fname)
  local n = tonumber(port)
  if type(port) == "string" and not n then return port end
  if not n or n ~= math.floor(n) then
    error(("bad argument #2 to '%s' (port expected, got %s)"):format(fname, type(port)), 3)
  end
  if n < 0 or n > 65535 then
    error(("bad argument #2 to '%s' (port out of range)"):format(fname), 3)
  end
  return n
end

local function check_family(family, fname)
  if family ~= nil and family ~= "inet" and family ~= "inet6" then
    error(("bad argument #3 to '%s' (family must be \"inet\" or \"inet6\")"):format(fname), 3)
  end
  return family
end

-- How a caller waits up to `limit` seconds (nil: forever) for the
-- descriptor fd to become readable. lsock.loop replaces it, so that a
-- coroutine yields instead of blocking the thread.
local wait_readable = function(fd, limit)
  core.select({ fd }, nil, limit)
end
-- Whether the caller runs in a coroutine of lsock.loop.
local in_loop = function() return false end

function lsock._set_waiter(waiter, in_loop_fn)
  wait_readable, in_loop = waiter, in_loop_fn
end

-- Name resolution never stops the loop: in one of its coroutines the
-- lookup runs on a worker thread (core._resolve) while the coroutine
-- waits; elsewhere it blocks as the system's getaddrinfo does.
function lsock.getaddrinfo(host, service, hints)
  if not in_loop() then return core.getaddrinfo(host, service, hints) end
  local q, err, errno = core._resolve(host, service, hints)
  if not q then return nil, err, errno end
  local why = wait_readable(q:getfd(), nil)
  -- (the loop could not wait for the answer: say so, not "timeout")
  if why and why ~= "ready" then return nil, "getaddrinfo: " .. why end
  return q:result()
end

-- The resolver's answers with the families interleaved, the first
-- answer's family first (RFC 8305, section 4).
local function interleave(answers)
  if #answers < 2 then return answers end
  local first, other = {}, {}
  for _, ai in ipairs(answers) do
    local list = ai.family == answers[1].family and first or other
    list[#list + 1] = ai
  end
  local out = {}
  for i = 1, math.max(#first, #other) do
    out[#out + 1] = first[i]
    out[#out + 1] = other[i]
  end
  return out
end

local ATTEMPT_DELAY = 0.25 -- RFC 8305: start the next address after 250 ms

-- One attempt: a non-blocking connect to ai. Returns the socket and
-- "done" (connected), "pending", or nil, err, errno.
local function attempt(ai, opts)
  local sock, err, errno = core.socket(ai.family, "stream")
  if not sock then return nil, err, errno end
  local ok = true
  if opts.bind then
    ok, err, errno = sock:bind(opts.bind[1] or opts.bind.addr or "*", opts.bind[2] or opts.bind.port or 0)
  end
  if ok and opts.nodelay then ok, err, errno = sock:setoption("nodelay", true) end
  if ok then
    sock:settimeout(0)
    ok, err, errno = sock:connect(ai.addr, ai.port)
  end
  if ok then return sock, "done" end
  if err == "timeout" then return sock, "pending" end
  sock:close()
  return nil, err, errno
end

-- Connect to host:port, racing the resolver's answers as RFC 8305 (Happy
-- Eyeballs) says: the next address is tried when the previous one failed
-- or has not answered within 250 ms, the first to connect wins and the
-- others are closed. A timeout bounds the whole call; the socket keeps it
-- afterwards.
function lsock.connect(host, port, opts)
  opts = check_opts(opts, "connect")
  if type(host) ~= "string" then
    error(("bad argument #1 to 'connect' (string expected, got %s)"):format(type(host)), 2)
  end
  port = check_port(port, "connect")
  local family = check_family(opts.family, "connect")
  local answers, err = lsock.getaddrinfo(host, port, { family = family, type = "stream" })
  if not answers then return nil, err end
  answers = interleave(answers)
  if #answers == 1 then
    -- Nothing to race: the socket's own connect waits (and yields in the
    -- loop) under the timeout.
    local ai = answers[1]
    local sock, state, aerrno = attempt(ai, opts)
    if not sock then return nil, state, aerrno end
    sock:settimeout(opts.timeout)
    if state == "pending" then
      local ok, cerr, cerrno = sock:connect(ai.addr, ai.port)
      if not ok then
        sock:close()
        return nil, cerr, cerrno
      end
    end
    return sock
  end
  local deadline = opts.timeout and core.monotime() + opts.timeout
  local poller, perr, perrno = core.poller()
  if not poller then return nil, perr, perrno end
  local pending, npending, next_i, next_at = {}, 0, 1, 0
  local errno
  err = "connect " .. host .. ": no address"
  local function finish_with(winner, ...)
    for s in pairs(pending) do
      if s ~= winner then s:close() end
    end
    poller:close()
    if winner then
      winner:settimeout(opts.timeout)
      return winner
    end
    return ...
  end
  while true do
    local now = core.monotime()
    if deadline and now >= deadline then return finish_with(nil, nil, "timeout") end
    if next_i <= #answers and (npending == 0 or now >= next_at) then
      local sock, state, aerrno = attempt(answers[next_i], opts)
      next_i = next_i + 1
      if state == "done" then return finish_with(sock) end
      if sock then
        pending[sock] = answers[next_i - 1]
        npending = npending + 1
        poller:add(sock, "w")
        next_at = now + ATTEMPT_DELAY
      else
        err, errno = state, aerrno
      end
    elseif npending == 0 then
      return finish_with(nil, nil, err, errno)
    else
      local limit = deadline and deadline - now
      if next_i <= #answers and (not limit or next_at - now < limit) then limit = next_at - now end
      if limit and limit < 0 then limit = 0 end
      local fd = poller:getfd()
      if fd then wait_readable(fd, limit) end
      for sock in poller:wait(fd and 0 or limit) do
        local ai = pending[sock]
        local ok, cerr, cerrno = sock:connect(ai.addr, ai.port)
        if ok then return finish_with(sock) end
        if cerr ~= "timeout" then
          pending[sock] = nil
          npending = npending - 1
          sock:close()
          err, errno = cerr, cerrno
          next_at = 0 -- a failed attempt starts the next one at once
        end
      end
    end
  end
end

-- Listen on host:port. "*" (or nil) is the wildcard of opts.family.
function lsock.listen(host, port, opts)
  opts = check_opts(opts, "listen")
  port = check_port(port, "listen")
  local family = check_family(opts.family, "listen")
  if host == nil or host == "*" then
    host, family = "*", family or "inet"
  end
  local answers, err = lsock.getaddrinfo(host, port, { family = family, type = "stream", passive = true })
  if not answers then return nil, err end
  local ai = answers[1]
  if not ai then return nil, "listen " .. host .. ": no address" end
  local sock, serr, errno = core.socket(ai.family, "stream")
  if not sock then return nil, serr, errno end
  local ok = true
  if opts.reuseaddr ~= false then ok, err, errno = sock:setoption("reuseaddr", true) end
  if ok and opts.reuseport then ok, err, errno = sock:setoption("reuseport", true) end
  if ok and opts.v6only ~= nil and ai.family == "inet6" then
    ok, err, errno = sock:setoption("v6only", opts.v6only and true or false)
  end
  if ok then ok, err, errno = sock:bind(host == "*" and "*" or ai.addr, ai.port) end
  if ok then ok, err, errno = sock:listen(opts.backlog) end
  return finish(sock, ok, err, errno)
end

-- A unix path argument: a string that fits in a unix address ("@name",
-- the Linux abstract namespace, has no terminator and may be one longer).
local function check_path(path, fname)
  if type(path) ~= "string" then
    error(("bad argument #1 to '%s' (path expected, got %s)"):format(fname, type(path)), 3)
  end
  local abstract = path:sub(1, 1) == "@"
  local limit = core._UNIX_PATH_MAX + (abstract and 1 or 0)
  if #path > limit then
    error(("bad argument #1 to '%s' (path too long for a unix socket)"):format(fname), 3)
  end
  if not abstract and path:find("\0", 1, true) then
    error(("bad argument #1 to '%s' (unix socket path contains a zero byte)"):format(fname), 3)
  end
end

local UNIX_TYPES = { stream = true, dgram = true, seqpacket = true }

local function check_unix_type(stype, fname, argn)
  if stype ~= nil and not UNIX_TYPES[stype] then
    error(("bad argument #%d to '%s' (unix socket type expected: stream, dgram or seqpacket)")
      :format(argn, fname), 3)
  end
  return stype or "stream"
end

-- A connected unix socket of `stype` (stream by default).
function lsock.unix_connect(path, stype)
  check_path(path, "unix_connect")
  stype = check_unix_type(stype, "unix_connect", 2)
  local sock, err, errno = core.socket("unix", stype)
  if not sock then return nil, err, errno end
  return finish(sock, sock:connect(path))
end

-- A socket file nobody accepts on: a connection to it is refused. A live
-- listener answers (or is too busy to: EAGAIN), and is left alone.
local function is_stale(path, stype)
  local probe = core.socket("unix", stype)
  if not probe then return false end
  probe:settimeout(0)
  local ok, _, errno = probe:connect(path)
  probe:close()
  return not ok and errno == core.errno.ECONNREFUSED
end

local function in_use(path, why)
  return nil, ("unix_listen %s: address already in use%s"):format(path, why or ""), core.errno.EADDRINUSE
end

-- opts.mode: permissions as an integer (tonumber("600", 8)) or a string
-- of octal digits ("600", "0660"); nil leaves them to the umask.
local function check_mode(mode, path)
  if mode == nil then return nil end
  local m = type(mode) == "string" and mode:match("^0?[0-7][0-7][0-7]$") and tonumber(mode, 8)
    or (type(mode) == "number" and mode >= 0 and mode <= 511 and mode % 1 == 0 and mode)
  if not m then
    error("bad argument #2 to 'unix_listen' (opts.mode: permissions from 0 to 0777 expected, "
      .. "as an integer or a string of octal digits)", 3)
  end
  if path:sub(1, 1) == "@" then
    error("bad argument #2 to 'unix_listen' (opts.mode: an abstract name has no permissions)", 3)
  end
  return m
end

-- A unix socket bound to `path`, listening unless it is a dgram socket. A
-- socket file left by a server that died is replaced; a live socket, or a
-- file that is not a socket, is never removed. opts.mode is set between
-- bind and listen, so no client can connect before it holds.
function lsock.unix_listen(path, opts)
  check_path(path, "unix_listen")
  opts = check_opts(opts, "unix_listen", 2)
  local stype = check_unix_type(opts.type, "unix_listen", 2)
  local mode = check_mode(opts.mode, path)
  local sock, err, errno = core.socket("unix", stype)
  if not sock then return nil, err, errno end
  local ok
  ok, err, errno = sock:bind(path)
  if not ok and errno == core.errno.EADDRINUSE and path:sub(1, 1) ~= "@" then
    local is_socket = core._issocket(path)
    if is_socket and is_stale(path, stype) then
      os.remove(path)
      ok, err, errno = sock:bind(path)
    else
      return finish(sock, in_use(path, is_socket == false and " (not a socket)" or nil))
    end
  end
  if ok and mode then
    ok, err, errno = core._chmod(path, mode)
    if not ok then
      os.remove(path) -- the file is this call's own: nothing listens on it yet
      err = "unix_listen " .. err
    end
  end
  if ok and stype ~= "dgram" then ok, err, errno = sock:listen(opts.backlog) end
  return finish(sock, ok, err, errno)
end

-- lsock.tls (lsock/tls.lua), loaded on first use: it needs lsock itself.
setmetatable(lsock, {
  __index = function(t, k)
    if k ~= "tls" then return nil end
    local m = require "lsock.tls"
    rawset(t, "tls", m)
    return m
  end,
})

-- One ICMP echo: see lsock/icmp.lua, loaded on first use.
function lsock.ping(host, opts)
  return require("lsock.icmp").ping(host, opts)
end

return lsock
