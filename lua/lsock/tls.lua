-- lsock.tls: TLS streams (OpenSSL) over lsock's stream sockets. The
-- work is in C (lsock.core: tls_context, tls_wrap); this adds contexts
-- made from option tables and tls.connect.
local core = require "lsock.core"

local tls = {}

-- tls.connect's own options; every other one is the context's.
local connect_only = { timeout = true, servername = true, context = true, family = true }

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

function tls.context(opts)
  if type(opts) ~= "table" then argerror(1, "context", "table expected, got " .. type(opts)) end
  return core.tls_context(opts)
end

-- A context, or one made from an option table (nil, err when that fails).
local function to_context(ctx, n, fname)
  local kind = type(ctx)
  if kind == "table" then return core.tls_context(ctx) end
  if kind ~= "userdata" then argerror(n, fname, "context or option table expected, got " .. kind) end
  return ctx
end

function tls.wrap(sock, ctx, servername)
  local err
  ctx, err = to_context(ctx, 2, "wrap")
  if not ctx then return nil, err end
  return core.tls_wrap(sock, ctx, servername)
end

-- The context of every tls.connect that names no context options:
-- shared, so that reconnecting to a server resumes its session.
local default_client

local function connect_context(opts)
  local ctxopts
  for k, v in pairs(opts) do
    if not connect_only[k] then
      ctxopts = ctxopts or {}
      ctxopts[k] = v
    end
  end
  if opts.context ~= nil then
    if ctxopts then argerror(3, "connect", "give either context or context options") end
    return to_context(opts.context, 3, "connect")
  end
  if ctxopts then
    if ctxopts.mode == "server" then argerror(3, "connect", "a client context expected") end
    return core.tls_context(ctxopts)
  end
  if not default_client then
    local ctx, err = core.tls_context({})
    if not ctx then return nil, err end
    default_client = ctx
  end
  return default_client
end

function tls.connect(host, port, opts)
  if opts ~= nil and type(opts) ~= "table" then argerror(3, "connect", "table expected, got " .. type(opts)) end
  opts = opts or {}
  local ctx, err = connect_context(opts)
  if not ctx then return nil, err end
  local sock, errno
  sock, err, errno = require("lsock").connect(host, port, { timeout = opts.timeout, family = opts.family })
  if not sock then return nil, err, errno end
  local ok, t, werr = pcall(core.tls_wrap, sock, ctx, opts.servername or host)
  if not ok or not t then
    sock:close()
    if not ok then error(t, 2) end
    return nil, werr
  end
  ok, err = t:handshake()
  if not ok then
    t:close()
    return nil, err
  end
  return t
end

return tls
