-- spec/helpers/checks.lua: assertions and guards shared by the spec files
-- (busted only; the child peers use spec/helpers/util.lua instead).
--
-- busted gives each spec file its own `it`, `assert`, `pending` and
-- `after_each` (and `teardown`), which a required module cannot see, so a
-- spec file passes them in:
--   local checks = require "helpers.checks" {
--     it = it, assert = assert, pending = pending, after_each = after_each }
-- A file that uses `checks.temp_dir` passes `teardown = teardown` too.
local lsock = require "lsock"
local util = require "helpers.util"

local function ipv6_available()
  local ok, s = pcall(lsock.tcp, "inet6")
  if not ok or not s then return false end
  local bound = s:bind("::1", 0)
  s:close()
  return bound == true
end
local HAVE_IPV6 = ipv6_available()

-- Is there a /proc filesystem (Linux)? The probe is closed at once, so that
-- no open file waits for the collector (a spec that compares descriptor
-- numbers would see it go).
local function proc_available()
  local f = io.open("/proc/self/stat")
  if not f then return false end
  f:close()
  return true
end
local HAVE_PROC = proc_available()

--- This process's id, read from /proc/self/stat (Linux).
local function our_pid()
  local f = assert(io.open("/proc/self/stat"))
  local line = f:read("*l")
  f:close()
  return assert(tonumber(line:match("^(%d+)")))
end

--- The socket descriptors this process holds: the entries of
-- /proc/<our pid>/fd that are sockets, listed by a child `ls` (which sees our
-- table, not its own). Only sockets count, because the pipe of io.popen
-- itself shows up once or, for a moment while the child starts, twice.
-- Returns the count and the listing (for failure messages).
local function count_sockets()
  local p = assert(io.popen("ls -l /proc/" .. our_pid() .. "/fd"))
  local n, lines = 0, {}
  for line in p:lines() do
    local entry = line:match("(%d+ %-> .*)$")
    if entry then
      lines[#lines + 1] = entry
      if entry:find("-> socket:", 1, true) then n = n + 1 end
    end
  end
  p:close()
  return n, table.concat(lines, "\n")
end

return function(busted)
  local it, assert, pending, after_each = busted.it, busted.assert, busted.pending, busted.after_each
  local teardown = busted.teardown -- only given by the files that use temp_dir
  local checks = {}

  --- A tracker for sockets opened by the running spec: `track(s, ...)`
  -- remembers s and returns its arguments; after each spec every tracked
  -- socket is closed, so a failing assertion never leaks a descriptor into
  -- the next spec. Call at the top level of a spec file.
  function checks.tracker()
    local opened = {}
    after_each(function()
      for i = #opened, 1, -1 do
        pcall(opened[i].close, opened[i])
        opened[i] = nil
      end
    end)
    return function(s, ...)
      if s then opened[#opened + 1] = s end
      return s, ...
    end
  end

  --- One temporary directory for the spec file, made now by
  -- `mktemp -d TEMPLATE` and removed with all it holds at the end of the file
  -- (`teardown`). Returns a table `tmp`:
  -- * `tmp.dir`, the directory;
  -- * `tmp.path(prefix)`, a fresh path in it, `prefix` (default "s")
  --   followed by a number, removed after the running spec;
  -- * `tmp.remember(p)`, remove p too after the running spec, and return it;
  -- * `tmp.serial()`, the next number of the counter that `tmp.path` uses,
  --   for other unique names.
  -- Call at the top level of a spec file.
  function checks.temp_dir(template)
    assert(teardown, "checks.temp_dir needs `teardown = teardown` in the table given to helpers.checks")
    local dir = assert(util.first_line("mktemp -d " .. template, true), "mktemp -d failed")
    local made, counter = {}, 0
    local tmp = { dir = dir }
    function tmp.serial()
      counter = counter + 1
      return counter
    end
    function tmp.remember(p)
      made[#made + 1] = p
      return p
    end
    function tmp.path(prefix)
      return tmp.remember(("%s/%s%d"):format(dir, prefix or "s", tmp.serial()))
    end
    after_each(function()
      for i = #made, 1, -1 do
        os.remove(made[i])
        made[i] = nil
      end
    end)
    teardown(function()
      util.succeeds("rm -rf " .. util.quote(dir))
    end)
    return tmp
  end

  --- A setup step that must work for the spec to mean anything.
  function checks.must(v, ...)
    if v == nil or v == false then error("setup failed: " .. tostring((...)), 2) end
    return v, ...
  end

  --- fn must raise, and the message must name the argument: contain at least
  -- one of the plain strings in `names` (its name, or its position "#n" as
  -- luaL_argerror writes it). Returns the message.
  function checks.assert_raises(names, fn)
    local ok, err = pcall(fn)
    assert.is_false(ok, "expected an error to be raised, but the call returned")
    err = tostring(err)
    local named = false
    for _, name in ipairs(names) do
      if err:find(name, 1, true) then named = true end
    end
    assert.is_true(named, ("error %q names none of: %s"):format(err, table.concat(names, ", ")))
    return err
  end

  --- v is an integer (Lua 5.3+), or at least integral (5.1, 5.2, LuaJIT).
  function checks.assert_integer(v, what)
    assert.is_number(v, what)
    if math.type then
      assert.equal("integer", math.type(v), what .. " is an integer")
    else
      assert.equal(math.floor(v), v, what .. " is integral")
    end
  end

  --- `it` when cond holds, otherwise a pending spec that says why.
  function checks.it_if(cond, reason)
    if cond then return it end
    return function(name) pending(name .. " (skipped: " .. reason .. ")") end
  end

  checks.our_pid, checks.count_sockets = our_pid, count_sockets
  checks.HAVE_PROC = HAVE_PROC
  checks.it_proc = checks.it_if(HAVE_PROC, "no /proc filesystem (not Linux)")
  checks.it_ipv6 = checks.it_if(HAVE_IPV6, "no IPv6 loopback here")
  checks.it_integers = checks.it_if(math.type ~= nil, "integers need Lua 5.3+, this is " .. _VERSION)
  checks.it_lua54 = checks.it_if(_VERSION >= "Lua 5.4", "<close> needs Lua 5.4+, this is " .. _VERSION)

  return checks
end
