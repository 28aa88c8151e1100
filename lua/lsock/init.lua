-- lsock: the pure-Lua layer over lsock.core. It re-exports every core
-- function and adds what scripts want: connecting and listening by host
-- name.
local core = require "lsock.core"

local lsock = {}
for name, value in pairs(core) do
  lsock[name] = value
end

local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #3 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
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

-- Connect to host:port, trying every resolver answer in order. A timeout
-- bounds the whole call; the socket keeps it afterwards.
function lsock.connect(host, port, opts)
  opts = check_opts(opts, "connect")
  if type(host) ~= "string" then
    error(("bad argument #1 to 'connect' (string expected, got %s)"):format(type(host)), 2)
  end
  port = check_port(port, "connect")
  local family = check_family(opts.family, "connect")
  local answers, err = core.getaddrinfo(host, port, { family = family, type = "stream" })
  if not answers then return nil, err end
  local deadline = opts.timeout and core.monotime() + opts.timeout
  local errno
  err = "connect " .. host .. ": no address"
  for _, ai in ipairs(answers) do
    local left = deadline and deadline - core.monotime()
    if left and left <= 0 then return nil, "timeout" end
    local sock, serr, serrno = core.socket(ai.family, "stream")
    if not sock then return nil, serr, serrno end
    local ok = true
    if opts.bind then
      ok, err, errno = sock:bind(opts.bind[1] or opts.bind.addr or "*", opts.bind[2] or opts.bind.port or 0)
    end
    if ok and opts.nodelay then ok, err, errno = sock:setoption("nodelay", true) end
    if ok then
      sock:settimeout(left)
      ok, err, errno = sock:connect(ai.addr, ai.port)
    end
    if ok then
      sock:settimeout(opts.timeout)
      return sock
    end
    sock:close()
  end
  return nil, err, errno
end

-- Listen on host:port. "*" (or nil) is the wildcard of opts.family.
function lsock.listen(host, port, opts)
  opts = check_opts(opts, "listen")
  port = check_port(port, "listen")
  local family = check_family(opts.family, "listen")
  if host == nil or host == "*" then
    host, family = "*", family or "inet"
  end
  local answers, err = core.getaddrinfo(host, port, { family = family, type = "stream", passive = true })
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
  if not ok then
    sock:close()
    return nil, err, errno
  end
  return sock
end

return lsock
