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
-- name. No member name is written in this file: only the subjects are.
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

-- The methods of every object in objs, and their one __name.
local function methods_of(objs, what)
  assert(#objs > 0, "could not make any " .. what)
  local methods, name = {}, nil
  for _, obj in ipairs(objs) do
    local n = merge_index(methods, obj)
    assert(name == nil or n == name,
      what .. ": objects of two metatables, " .. tostring(name) .. " and " .. tostring(n))
    name = n
  end
  return methods, name
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

-- What types/ must describe. A module row: its members are require(module).
-- A class row: `get` returns its members and the __name of the objects
-- they came from (nil for a plain table). A new module is one more line.
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
      local real, name
      if subject.module then
        real = require(subject.module)
      else
        real, name = subject.get()
        assert(name == nil or name == subject.class,
          ("the objects of %s have __name %s: the class should be named so"):format(key, tostring(name)))
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
