-- spec/types_spec.lua: the LuaLS annotations under types/ against the real
-- modules and objects, both ways, so that they cannot drift. Every public
-- (non-underscore) member of each module in SUBJECTS, and every method in
-- the __index of each object class there, must be annotated; every
-- annotated one must exist. Every types/*.lua file must load.
--
-- The annotated side is read from the text of types/*.lua with patterns:
--   ---@meta NAME          the file is module NAME; `return V` at its end
--                          names the local table that holds the module
--   ---@class NAME         a class; when the next line is `local V = {}`,
--                          V holds its methods
--   ---@field NAME[?] ...  a field of the class above (`?`: it may be absent
--                          on some systems)
--   function V.f( / function V:m( / V.f = ...   a member of V's module or
--                          class (module functions with ".", methods ":")
-- The real side comes from real objects: require(module) for a module, and
-- for a class the __index of objects made here (sockets of every kind this
-- process may open, a TLS stream over a socketpair without a handshake, a
-- TLS context, pollers of every backend), whose __name must be the class's
-- name. The LuaSocket and LuaSec faces' objects are tables whose
-- metatables have no __name: their rows match each object by a predicate
-- (`match`) or by the prefix of the `class` field of its metatable
-- (`class_prefix`, "tcp{" for tcp{master}, tcp{client} and tcp{server})
-- instead. No member name is written in this file: only the subjects are.
local lsock = require "lsock"
local tls = require "lsock.tls"

-- The repository's root: this file is spec/types_spec.lua.
local ROOT = (debug.getinfo(1, "S").source:match("^@(.-)spec/[^/]*$")) or ""
local TYPES = ROOT .. "types/"

---- the real side --------------------------------------------------------------

local function public(name)
  return type(name) == "string" and name:sub(1, 1) ~= "_"
end

-- The methods of obj (its metatable's __index) merged into into; returns
-- the metatable's __name.
local function merge_index(into, obj)
  local mt = getmetatable(obj)
  assert(type(mt) == "table" and type(mt.__index) == "table",
    tostring(obj) .. ": no __index table in its metatable")
  for k, v in pairs(mt.__index) do into[k] = v end
  return mt.__name
end

-- The methods of every object in objs, their one __name, and objs.
local function methods_of(objs, what)
  assert(#objs > 0, "could not make any " .. what)
  local methods, name = {}, nil
  for _, obj in ipairs(objs) do
    local n = merge_index(methods, obj)
    assert(name == nil or n == name,
      what .. ": objects of two metatables, " .. tostring(name) .. " and " .. tostring(n))
    name = n
  end
  return methods, name, objs
end

-- Every kind of socket this process may open (raw and packet sockets need
-- root, inet6 an IPv6 stack, packet Linux: the others are skipped).
local function socket_methods()
  local kinds = {
    { "inet", "stream" }, { "inet", "dgram" }, { "inet6", "stream" }, { "inet6", "dgram" },
    { "unix", "stream" }, { "unix", "dgram" }, { "unix", "seqpacket" },
    { "inet", "raw", "icmp" }, { "inet6", "raw", "icmpv6" }, { "inet", "dgram", "icmp" },
    { "packet", "raw" },
  }
  local socks = {}
  for _, k in ipairs(kinds) do
    local ok, s = pcall(lsock.socket, k[1], k[2], k[3])
    if ok and s then socks[#socks + 1] = s end
  end
  local a, b = assert(lsock.socketpair())
  socks[#socks + 1], socks[#socks + 2] = a, b
  local methods, name = methods_of(socks, "socket")
  for _, s in ipairs(socks) do s:close() end
  return methods, name
end

-- A client stream over a socketpair: wrapping needs no handshake, and a
-- context that does not verify needs no certificates.
local function tls_stream_methods()
  local a, b = assert(lsock.socketpair())
  local t = assert(tls.wrap(a, { verify = false }))
  local methods, name = methods_of({ t }, "TLS stream")
  t:close()
  b:close()
  return methods, name
end

local function tls_context_methods()
  return methods_of({ assert(tls.context({ verify = false })) }, "TLS context")
end

local function poller_methods()
  local pollers = {}
  for _, backend in ipairs({ "epoll", "kqueue", "poll" }) do
    local p = lsock.poller(backend) -- nil, err where it is not built
    if p then pollers[#pollers + 1] = p end
  end
  local methods, name = methods_of(pollers, "poller")
  for _, p in ipairs(pollers) do p:close() end
  return methods, name
end

---- the LuaSocket and LuaSec faces ---------------------------------------------

local compat = require "lsock.compat"
local compat_ssl = require "lsock.compat.ssl"

-- What a LuaSocket or LuaSec script may have loaded (as spec/helpers/compat.lua
-- counts them), and the face's modules that LuaSocket's modules load or
-- change: lsock.compat.https holds the socket.http it loaded, and mime.lua
-- adds its functions to mime.core's table, lsock.compat.mime.
local function faced(name)
  return name == "socket" or name:match("^socket%.") or name == "ltn12"
    or name == "mime" or name:match("^mime%.") or name == "ssl" or name:match("^ssl%.")
    or name == "lsock.compat.https" or name == "lsock.compat.mime"
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- t holds exactly what its copy c held.
local function reset(t, c)
  local extra = {}
  for k in pairs(t) do
    if c[k] == nil then extra[#extra + 1] = k end
  end
  for _, k in ipairs(extra) do t[k] = nil end
  for k, v in pairs(c) do t[k] = v end
end

-- f() with the face installed and every module above loaded fresh.
-- Afterwards package.loaded and package.preload hold exactly what they
-- held before, and so do the face's table and its tables (socket.http
-- writes socket.http, socket.url, socket.headers and sinkt/sourcet
-- entries into them), so nothing else sees the face's install or the
-- modules loaded on it.
local function with_face(f)
  local saved = {}
  local function save(t) saved[#saved + 1] = { t, copy(t) } end
  save(package.loaded)
  save(package.preload)
  save(compat)
  for _, v in pairs(compat) do
    if type(v) == "table" then save(v) end
  end
  for _, t in ipairs({ package.loaded, package.preload }) do
    local names = {}
    for name in pairs(t) do
      if faced(name) then names[#names + 1] = name end
    end
    for _, name in ipairs(names) do t[name] = nil end
  end
  compat.install()
  local ok, res = pcall(f)
  for _, tc in ipairs(saved) do reset(tc[1], tc[2]) end
  if not ok then error(res, 0) end
  return res
end

-- A unix socket path that does not exist yet.
local function unix_path()
  local path = os.tmpname()
  os.remove(path)
  return path
end

-- Objects of every kind of the face in every class it has: masters (of
-- no family yet, and of each family), servers, clients from connect and
-- from accept, unconnected and connected datagram objects, on loopback
-- and on unix paths. The ones this process cannot make (tcp6 without
-- IPv6) are skipped; every other step must work.
local function compat_objects()
  local objs = {}
  local function keep(obj, err)
    if obj then objs[#objs + 1] = obj end
    return obj, err
  end
  local function must(what, ok, err)
    assert(ok, what .. ": " .. tostring(err))
    return ok
  end
  keep(compat.tcp())
  keep(compat.tcp4())
  keep(compat.tcp6())
  local server = must("bind", keep(compat.bind("127.0.0.1", 0)))
  local _, port = server:getsockname()
  must("connect", keep(compat.connect("127.0.0.1", port)))
  must("accept", keep(server:accept()))

  keep(compat.udp())
  keep(compat.udp6())
  local u = must("udp4", keep(compat.udp4()))
  must("setsockname", u:setsockname("127.0.0.1", 0))
  local _, uport = u:getsockname()
  local c = must("udp4", keep(compat.udp4()))
  must("setpeername", c:setpeername("127.0.0.1", uport))

  local paths = { unix_path(), unix_path() }
  keep(compat.unix())
  local us = must("unix.stream", keep(compat.unix.stream()))
  must("bind", us:bind(paths[1]))
  must("listen", us:listen())
  local uc = must("unix.stream", keep(compat.unix.stream()))
  must("connect", uc:connect(paths[1]))
  must("accept", keep(us:accept()))
  local ud = must("unix.dgram", keep(compat.unix.dgram()))
  must("bind", ud:bind(paths[2]))
  local udc = must("unix.dgram", keep(compat.unix.dgram()))
  must("connect", udc:connect(paths[2]))
  return objs, paths
end

-- The methods of the face's objects of `kind` (the prefix of their
-- `class`, "tcp"), which must be the same in each of its classes: one
-- annotated class stands for all of them.
local function compat_methods(kind)
  return function()
    local all, paths = compat_objects()
    local objs, classes, first = {}, {}, nil
    for _, obj in ipairs(all) do
      local class = getmetatable(obj).class
      if class:sub(1, #kind + 1) == kind .. "{" then
        objs[#objs + 1] = obj
        classes[#classes + 1] = class
        local names = {}
        for k in pairs(getmetatable(obj).__index) do names[#names + 1] = k end
        table.sort(names)
        names = table.concat(names, " ")
        if first and names ~= first[2] then
          error(("%s and %s have different methods:\n%s\n%s"):format(first[1], class, first[2], names))
        end
        first = first or { class, names }
      end
    end
    local methods, name = methods_of(objs, kind .. " objects (" .. table.concat(classes, ", ") .. ")")
    for _, obj in ipairs(all) do obj:close() end
    for _, path in ipairs(paths) do os.remove(path) end
    return methods, name, objs
  end
end

-- Runs the handshakes of a LuaSec connection `conn` (client) and an lsock
-- TLS stream `t` (server), both with timeout 0, stepping them in turn.
local function handshake_both(conn, t)
  local cdone, sdone, cerr, serr
  local deadline = lsock.monotime() + 10
  while not (cdone and sdone) do
    assert(lsock.monotime() < deadline, "the handshakes did not end in 10 s")
    if not cdone then
      local ok, err = conn:dohandshake()
      if ok then cdone = true elseif err ~= "wantread" and err ~= "wantwrite" then cerr = err; cdone = true end
    end
    if not sdone then
      local ok, err = t:handshake()
      if ok then sdone = true elseif err ~= "timeout" then serr = err; sdone = true end
    end
    if not (cdone and sdone) then lsock.sleep(0.001) end
  end
  assert(not cerr and not serr, "handshake: client " .. tostring(cerr) .. ", server " .. tostring(serr))
end

-- LuaSec objects: a context, a connection from ssl.wrap over a loopback
-- tcp{client} of the face (which shakes hands with an lsock TLS server
-- holding helpers.certs' server certificate), and the certificate the
-- connection then has of its peer. Made once.
local ssl_made
local function ssl_objects()
  if ssl_made then return ssl_made end
  local certs = require "helpers.certs"
  local C = certs.get()
  local server = assert(compat.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  local client = assert(compat.connect("127.0.0.1", port))
  local accepted = assert(server:accept())
  server:close()
  local ctx = assert(compat_ssl.newcontext({ mode = "client", verify = "none" }))
  local conn = assert(compat_ssl.wrap(client, ctx))
  local t = assert(tls.wrap(accepted:lsock(), { mode = "server", cert = C.server.cert, key = C.server.key }))
  conn:settimeout(0)
  t:settimeout(0)
  handshake_both(conn, t)
  local cert = assert(conn:getpeercertificate(), "no peer certificate after the handshake")
  ssl_made = { conns = { conn }, certs = { cert }, contexts = { ctx } }
  conn:close()
  t:close()
  certs.cleanup()
  return ssl_made
end

local function ssl_methods(which)
  return function()
    return methods_of(ssl_objects()[which], "LuaSec " .. which)
  end
end

-- lsock.compat.https requires "socket", "ssl" and LuaSocket's socket.http.
local function require_https()
  return require "lsock.compat.https"
end

local function tostring_is(prefix)
  return function(obj) return tostring(obj):sub(1, #prefix) == prefix end
end

-- What types/ must describe. A module row: its members are require(module)
-- (or what `load` returns). A class row: `get` returns its members, the
-- __name of the objects they came from (nil for a plain table) and, for a
-- row with `match` (a predicate of an object and its metatable) or
-- `class_prefix` (of the `class` field of its metatable), those objects,
-- each of which must pass it. A new module is one more line.
local SUBJECTS = {
  { module = "lsock" },
  { module = "lsock.core" },
  { module = "lsock.loop" },
  { module = "lsock.tls" },
  { module = "lsock.icmp" },
  { class = "lsock.errno", get = function() return lsock.errno end },
  { class = "lsock.socket", get = socket_methods },
  { class = "lsock.tls", get = tls_stream_methods },
  { class = "lsock.tlscontext", get = tls_context_methods },
  { class = "lsock.poller", get = poller_methods },
  { module = "lsock.compat" },
  { class = "lsock.compat.unix", get = function() return compat.unix end },
  { class = "lsock.compat.dns", get = function() return compat.dns end },
  { class = "lsock.compat.tcp", get = compat_methods("tcp"), class_prefix = "tcp{" },
  { class = "lsock.compat.udp", get = compat_methods("udp"), class_prefix = "udp{" },
  { class = "lsock.compat.unixstream", get = compat_methods("unixstream"), class_prefix = "unixstream{" },
  { class = "lsock.compat.unixdgram", get = compat_methods("unixdgram"), class_prefix = "unixdgram{" },
  { module = "lsock.compat.ssl" },
  { class = "lsock.compat.ssl.connection", get = ssl_methods("conns"), match = tostring_is("SSL connection: ") },
  { class = "lsock.compat.ssl.certificate", get = ssl_methods("certs"), match = tostring_is("X509 certificate: ") },
  { class = "lsock.compat.ssl.context", get = ssl_methods("contexts"),
    match = function(_, mt) return mt == compat_ssl.context end },
  { module = "lsock.compat.https", load = function() return with_face(require_https) end },
  { module = "lsock.compat.mime" },
}

---- the annotated side ---------------------------------------------------------

local function type_files()
  local files = {}
  local p = assert(io.popen('ls "' .. TYPES .. '" 2>/dev/null'))
  for name in p:lines() do
    if name:match("%.lua$") then files[#files + 1] = name end
  end
  p:close()
  table.sort(files)
  return files
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- declared["module lsock"] / declared["class lsock.socket"] =
--   { file =, members = { name = { kind = "function"|"method"|"field", optional =, where = } } }
-- problems: what is malformed, as "types/file.lua:line: text".
local function parse_all()
  local declared, problems = {}, {}
  local function declare(key, file, where)
    local d = declared[key]
    if d then
      problems[#problems + 1] = ("%s: %s is declared again (first in types/%s)"):format(where, key, d.file)
      return d
    end
    d = { file = file, members = {} }
    declared[key] = d
    return d
  end
  local function add(d, key, name, member)
    if d.members[name] then
      problems[#problems + 1] = ("%s: %s.%s is annotated twice (also at %s)"):format(
        member.where, key, name, d.members[name].where)
    end
    d.members[name] = member
  end

  for _, file in ipairs(type_files()) do
    local text = read(TYPES .. file)
    local module = text:match("^%-%-%-@meta[ \t]*([^\r\n]*)")
    module = module and module:match("^(%S*)")
    if not module then
      problems[#problems + 1] = ("types/%s:1: the file does not start with ---@meta"):format(file)
    elseif module == "" or module == "_" then
      module = nil
    end
    local locals, defs, returned = {}, {}, nil
    local block_class -- the ---@class of the current run of --- lines
    local n = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      line = line:gsub("\r$", "")
      local where = ("types/%s:%d"):format(file, n)
      if line:match("^%-%-%-") then
        local rest = line:match("^%-%-%-@class%s+(.*)$")
        if rest then
          local name = rest:gsub("^%b()%s*", ""):match("^([%w_%.]+)")
          block_class = name
          if name then declare("class " .. name, file, where) end
        end
        rest = block_class and line:match("^%-%-%-@field%s+(.*)$")
        if rest then
          rest = rest:gsub("^public%s+", ""):gsub("^private%s+", ""):gsub("^protected%s+", "")
          local name, optional = rest:match("^([%w_]+)(%??)")
          if name then
            add(declared["class " .. block_class], block_class, name,
              { kind = "field", optional = optional == "?", where = where })
          end
        end
      else
        local v = block_class and line:match("^local%s+([%w_]+)%s*=%s*{%s*}")
        if v then locals[v] = block_class end
        block_class = nil
        local owner, sep, name = line:match("^function%s+([%w_]+)([%.:])([%w_]+)%s*%(")
        if owner then
          defs[#defs + 1] = { owner = owner, name = name, kind = sep == ":" and "method" or "function", where = where }
        else
          owner, name = line:match("^([%w_]+)%.([%w_]+)%s*=")
          if owner then defs[#defs + 1] = { owner = owner, name = name, kind = "field", where = where } end
        end
        returned = line:match("^return%s+([%w_]+)%s*$") or returned
      end
    end
    if module and not returned then
      problems[#problems + 1] = ("types/%s: module %s returns no table (end it with `return <its table>`)")
        :format(file, module)
    end
    local mod = module and returned and declare("module " .. module, file, "types/" .. file)
    for _, def in ipairs(defs) do
      local targets = {}
      if mod and def.owner == returned then targets[#targets + 1] = { mod, module, "function" } end
      if locals[def.owner] then
        targets[#targets + 1] = { declared["class " .. locals[def.owner]], locals[def.owner], "method" }
      end
      if #targets == 0 then
        problems[#problems + 1] = ("%s: %s is neither the module's returned table nor a ---@class table")
          :format(def.where, def.owner)
      end
      for _, t in ipairs(targets) do
        if def.kind ~= "field" and def.kind ~= t[3] then
          problems[#problems + 1] = ("%s: %s.%s: declare %s with '%s'"):format(
            def.where, t[2], def.name, t[3] == "method" and "a method" or "a module function",
            t[3] == "method" and ":" or ".")
        end
        add(t[1], t[2], def.name, { kind = def.kind, where = def.where })
      end
    end
  end
  return declared, problems
end

local function key_of(subject)
  return subject.module and "module " .. subject.module or "class " .. subject.class
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local declared, problems = parse_all()

describe("types/ (LuaLS annotations)", function()
  it("has its files, and every one loads", function()
    local files = type_files()
    assert(#files > 0, "no types/*.lua files under " .. TYPES)
    for _, file in ipairs(files) do
      local fn, err = loadfile(TYPES .. file)
      assert(fn, "types/" .. file .. " does not load: " .. tostring(err))
    end
  end)

  it("parse: one declaration per module, class and member", function()
    assert(#problems == 0, "\n" .. table.concat(problems, "\n"))
  end)

  it("checks every annotated module, and every class with methods", function()
    local checked, unchecked = {}, {}
    for _, s in ipairs(SUBJECTS) do checked[key_of(s)] = true end
    for _, key in ipairs(sorted_keys(declared)) do
      local d = declared[key]
      local has_functions = false
      for _, m in pairs(d.members) do
        if m.kind ~= "field" then has_functions = true end
      end
      if not checked[key] and (key:match("^module ") or has_functions) then
        unchecked[#unchecked + 1] = ("%s (types/%s): add a row for it to SUBJECTS in spec/types_spec.lua")
          :format(key, d.file)
      end
    end
    assert(#unchecked == 0, "\n" .. table.concat(unchecked, "\n"))
  end)

  for _, subject in ipairs(SUBJECTS) do
    local key = key_of(subject)
    it(key .. " matches the real one", function()
      local real, name, objs
      if subject.module then
        real = subject.load and subject.load() or require(subject.module)
      else
        real, name, objs = subject.get()
        assert(name == nil or name == subject.class,
          ("the objects of %s have __name %s: the class should be named so"):format(key, tostring(name)))
      end
      if subject.match or subject.class_prefix then
        -- Objects with no __name: each one is the class's by the predicate
        -- or by its metatable's `class` field.
        assert(type(objs) == "table" and #objs > 0, key .. ": get() returned no objects to match")
        for _, obj in ipairs(objs) do
          local mt = getmetatable(obj)
          local ok
          if subject.match then
            ok = subject.match(obj, mt)
          else
            local c = type(mt) == "table" and mt.class
            ok = type(c) == "string" and c:sub(1, #subject.class_prefix) == subject.class_prefix
          end
          assert(ok, ("%s: %s is not an object of the class (%s)"):format(key, tostring(obj),
            subject.match and "its predicate" or "class " .. subject.class_prefix .. "...}"))
        end
      end
      local d = declared[key]
      assert(d, ("no types/*.lua declares %s (%s)"):format(key, subject.module
        and "a file with `---@meta " .. subject.module .. "` that returns its table"
        or "`---@class " .. subject.class .. "`"))
      local msgs = {}
      local missing, extra, wrong = {}, {}, {}
      -- Real to annotated: every public member.
      for _, k in ipairs(sorted_keys(real)) do
        if public(k) and not d.members[k] then missing[#missing + 1] = k end
      end
      -- Annotated to real: indexing, so that lazily loaded members count
      -- (lsock.tls comes from lsock's __index).
      for _, k in ipairs(sorted_keys(d.members)) do
        local m, v = d.members[k], real[k]
        if not public(k) then
          msgs[#msgs + 1] = ("%s: %s is internal (a leading underscore) and must not be annotated"):format(m.where, k)
        elseif v == nil and not m.optional then
          extra[#extra + 1] = ("%s (%s)"):format(k, m.where)
        elseif v ~= nil and m.kind ~= "field" and type(v) ~= "function" then
          wrong[#wrong + 1] = ("%s is annotated as a function (%s) but is a %s"):format(k, m.where, type(v))
        end
      end
      if #missing > 0 then
        msgs[#msgs + 1] = ("not annotated in types/%s: %s"):format(d.file, table.concat(missing, ", "))
      end
      if #extra > 0 then
        msgs[#msgs + 1] = ("annotated, but the real %s has no such member: %s")
          :format(subject.module and "module" or "object", table.concat(extra, ", "))
      end
      for _, w in ipairs(wrong) do msgs[#msgs + 1] = w end
      assert(#msgs == 0, key .. ":\n" .. table.concat(msgs, "\n"))
    end)
  end
end)
