--- Shared helpers for the lsock specs.
--
-- Everything here is generic and may be used by any spec file:
--
-- * `util.listen`, `util.accept`, `util.pair`: sockets on the loopback
--   interface only, each with a timeout (`util.TIMEOUT`) so that a bug
--   fails a spec instead of hanging it;
-- * `util.spawn`: runs `spec/helpers/peer.lua` (or another script) in a
--   child process with the same interpreter and module paths as this one;
--   `util.lua_command` is that command line, for wrapping in other commands;
--   `util.HELPERS` is the directory of the child scripts;
-- * `util.succeeds`, `util.first_line`, `util.output`: run a shell command
--   and see whether it succeeded, or read its output; `util.is_root`;
-- * `util.out`: print one line of words and flush (for the child peers);
-- * `util.block`, `util.send_pattern`, `util.checker`: a deterministic
--   byte stream for transfers checked by content;
-- * `util.tohex`, `util.fromhex`, `util.quote`, `util.is_integer`.
--
-- It is also loaded by the child peers, so it must not depend on busted.
local lsock = require "lsock"

local util = {}

--- Seconds every socket made here waits at most for one operation.
util.TIMEOUT = 5

--- Is x an integer? On Lua 5.3+ it must be of integer subtype, elsewhere an
-- integral number.
function util.is_integer(x)
  if math.type then return math.type(x) == "integer" end
  return type(x) == "number" and x == math.floor(x)
end

--- Start a listener on `host` (default "127.0.0.1"), port 0.
-- An address containing ":" listens with family "inet6". `opts` is passed to
-- `lsock.listen`. Returns the listening socket (timeout `util.TIMEOUT`) and
-- the port it got.
function util.listen(host, opts)
  host = host or "127.0.0.1"
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.family == nil and host:find(":", 1, true) then o.family = "inet6" end
  local server, err = lsock.listen(host, 0, o)
  assert(server, "listen " .. host .. ": " .. tostring(err))
  server:settimeout(util.TIMEOUT)
  local _, port = server:getsockname()
  assert(type(port) == "number" and port > 0, "listener without a port")
  return server, port
end

--- Accept one connection on `server` and give it the timeout `util.TIMEOUT`.
-- Returns the connected socket, the peer address and port.
function util.accept(server)
  local conn, addr, port = server:accept()
  assert(conn, "accept: " .. tostring(addr))
  conn:settimeout(util.TIMEOUT)
  return conn, addr, port
end

--- Two connected TCP sockets in this process, over `host` (default
-- "127.0.0.1"): the connecting one and the accepted one, both with the
-- timeout `util.TIMEOUT`. Good for small exchanges only: nothing reads while
-- this process is blocked in a send.
function util.pair(host)
  host = host or "127.0.0.1"
  local server, port = util.listen(host)
  local client, err = lsock.connect(host, port, { timeout = util.TIMEOUT })
  assert(client, "connect: " .. tostring(err))
  client:settimeout(util.TIMEOUT)
  local conn = util.accept(server)
  server:close()
  return client, conn
end

--- Two connected unix sockets of `kind` (default "stream"), each with the
-- timeout `util.TIMEOUT`; raises naming the setup when the system refuses.
function util.socketpair(kind)
  local a, b = lsock.socketpair(kind)
  if not a then error("setup failed: socketpair: " .. tostring(b), 2) end
  a:settimeout(util.TIMEOUT)
  b:settimeout(util.TIMEOUT)
  return a, b
end

--- A new table with the fields of `base`, then those of `extra` (may be nil)
-- on top: option tables built from defaults.
function util.merged(base, extra)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

--- Quote a string for the POSIX shell.
function util.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- The interpreter that runs this process: `$LSOCK_LUA` if set, else the
-- first word of the command line (`arg` at its lowest index), else "lua".
-- `$LSOCK_LUA` may carry options ("luajit -joff"): it is not quoted.
function util.interpreter()
  local env = os.getenv("LSOCK_LUA")
  if env and env ~= "" then return env end
  if type(arg) == "table" then
    local i = -1
    while arg[i - 1] ~= nil do i = i - 1 end
    if arg[i] then return util.quote(arg[i]) end
  end
  return "lua"
end

local function here()
  local source = debug.getinfo(1, "S").source
  return (source:sub(1, 1) == "@" and source:sub(2):match("^(.*/)")) or "spec/helpers/"
end

--- The directory of this file (spec/helpers/, with the slash), where the
-- child scripts live.
util.HELPERS = here()

--- The path of the peer script, `peer.lua` beside this file.
util.PEER = util.HELPERS .. "peer.lua"

--- Run the shell command `cmd` with its standard output and error thrown
-- away; true when it exited with status 0. (os.execute's result is a number
-- on 5.1/LuaJIT and a boolean on 5.2+.)
function util.succeeds(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- Open `cmd` for reading; its standard error is thrown away unless
-- `keep_stderr` is true, then it goes where this process's goes.
local function popen(cmd, keep_stderr)
  return io.popen(keep_stderr and cmd or cmd .. " 2>/dev/null")
end

--- The first line the shell command `cmd` prints, or nil (no output, or
-- no process). Its standard error is thrown away unless `keep_stderr`.
function util.first_line(cmd, keep_stderr)
  local p = popen(cmd, keep_stderr)
  local line = p and p:read("*l")
  if p then p:close() end
  return line
end

--- Everything the shell command `cmd` prints, without trailing white space
-- ("" when it could not run). Its standard error is thrown away unless
-- `keep_stderr`.
function util.output(cmd, keep_stderr)
  local p = popen(cmd, keep_stderr)
  if not p then return "" end
  local text = p:read("*a") or ""
  p:close()
  return (text:gsub("%s+$", ""))
end

--- Does this process run as root (`id -u` is 0)?
function util.is_root()
  return util.output("id -u") == "0"
end

--- Why `unshare -n -m` (a private network and mount namespace, for a
-- resolver that never answers) cannot run here, or nil when it can.
function util.no_netns()
  if not util.is_root() then return "not root: unshare -n -m needs root" end
  if not util.succeeds("command -v unshare") then return "no unshare command" end
  if not util.succeeds("command -v ip") then return "no ip command" end
  if not util.succeeds("unshare -n -m true") then return "unshare -n -m fails here" end
  return nil
end

--- A coroutine of lsock.loop counting ticks of 0.01 s (in t.ticks) until
-- t.stop is set, `most` ticks at most: a call that waited in the loop let
-- it run. Returns t.
function util.ticker(most)
  local loop = require "lsock.loop"
  local t = { ticks = 0, stop = false }
  loop.spawn(function()
    while not t.stop and t.ticks < most do
      loop.sleep(0.01)
      t.ticks = t.ticks + 1
    end
  end)
  return t
end

--- The main loop of a child peer that serves connections (http_server.lua,
-- smtp_peer.lua): every connection `server` accepts gets a coroutine of
-- lsock.loop running serve(conn); the child prints "port PORT", and ends
-- when the parent closes its standard input, or after `lifetime` seconds.
-- Does not return.
function util.serve_children(server, port, serve, lifetime)
  local loop = require "lsock.loop"
  loop.spawn(function()
    local p = lsock.poller()
    local watching = p:add(0, "r")
    local deadline = lsock.monotime() + lifetime
    while lsock.monotime() < deadline do
      if watching then
        for _ in p:wait(0) do
          if io.stdin:read(1) == nil then os.exit(0) end
        end
      end
      loop.sleep(0.05)
    end
    os.exit(0)
  end)
  loop.spawn(function()
    for _ = 1, 1e6 do
      local conn, err = server:accept()
      if conn then
        loop.spawn(serve, conn)
      else
        util.out("failed accept:", tostring(err))
        loop.sleep(0.05)
      end
    end
  end)
  util.out("port", port)
  loop.run(lifetime + 1)
  os.exit(0)
end

--- Write the words `...` (strings or numbers) on one line of standard output,
-- separated by spaces, and flush: how the child peers report.
function util.out(...)
  io.stdout:write(table.concat({ ... }, " "), "\n")
  io.stdout:flush()
end

local HAVE_TIMEOUT = util.succeeds("timeout 1 true")

--- The command line that runs `script` with arguments `...` (turned into
-- strings and quoted) under the interpreter of `util.interpreter()` and this
-- process's `package.path` and `package.cpath`, for `util.spawn_script` and
-- for wrapping in other commands (timeout, unshare, setpriv).
function util.lua_command(script, ...)
  local words = {}
  for i = 1, select("#", ...) do
    words[#words + 1] = util.quote(tostring((select(i, ...))))
  end
  local setup = string.format("package.path = %q; package.cpath = %q",
    package.path, package.cpath)
  return string.format("%s -e %s %s %s", util.interpreter(), util.quote(setup),
    util.quote(script), table.concat(words, " "))
end

--- Start `script` (default `util.PEER`) in a child process with arguments
-- `...`, run as `util.lua_command(script, ...)`. Standard output and
-- standard error are captured together. As a safety net the child is killed
-- after 60 s where the `timeout` command exists; the peers exit on their own
-- long before.
--
-- Returns a handle whose `wait()` reads everything the child printed, waits
-- for it to exit and returns the output without trailing white space.
function util.spawn_script(script, ...)
  return util.spawn_script_within(60, script, ...)
end

--- `util.spawn_script`, with the child killed after `seconds` instead.
function util.spawn_script_within(seconds, script, ...)
  local prefix = HAVE_TIMEOUT and ("timeout " .. seconds .. " ") or ""
  local cmd = prefix .. util.lua_command(script, ...) .. " 2>&1"
  local f = assert(io.popen(cmd, "r"))
  local handle, output = {}, nil
  function handle.wait()
    if output == nil then
      output = f:read("*a"):gsub("%s+$", "")
      f:close()
    end
    return output
  end
  return handle
end

--- `util.spawn_script(util.PEER, ...)`: see peer.lua for its commands.
function util.spawn(...)
  return util.spawn_script(util.PEER, ...)
end

--- Hex encoding, for passing binary data on a command line.
function util.tohex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function util.fromhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

--- The deterministic pattern: a stream of blocks of `util.BLOCK` bytes;
-- block k (0-based) is its number in 8 hex digits followed by pseudo-random
-- bytes, so that a lost, repeated, reordered or shifted chunk never matches.
util.BLOCK = 65536

local BASE
do
  local t, x = {}, 12345
  for i = 1, util.BLOCK do
    x = (x * 75 + 74) % 65537
    t[i] = string.char(x % 256)
  end
  BASE = table.concat(t)
end

local cached_k, cached_block
--- Block k (0-based) of the pattern.
function util.block(k)
  if k ~= cached_k then
    cached_k, cached_block = k, string.format("%08x", k) .. BASE:sub(9)
  end
  return cached_block
end

--- The first n bytes of the pattern as one string (for small n).
function util.pattern(n)
  local t, k = {}, 0
  while n > 0 do
    local b = util.block(k)
    t[#t + 1] = b:sub(1, n)
    n, k = n - #b, k + 1
  end
  return table.concat(t)
end

--- Send the first n bytes of the pattern on `sock`, block by block.
-- Returns n, or nil, err, errno and the number of bytes that went out.
function util.send_pattern(sock, n)
  local sent, k = 0, 0
  while sent < n do
    local b = util.block(k)
    local len = math.min(#b, n - sent)
    local last, err, errno, partial = sock:send(b, 1, len)
    if last ~= len then
      return nil, tostring(err), errno, sent + (partial or 0)
    end
    sent, k = sent + len, k + 1
  end
  return n
end

--- A checker for a received pattern. `c.feed(data)` compares the next bytes
-- of the stream and returns true, or false and the offset (0-based) of the
-- first wrong byte; `c.count()` is the number of bytes found right so far.
function util.checker()
  local pos = 0
  local c = {}
  function c.feed(data)
    local i = 1
    while i <= #data do
      local k = math.floor(pos / util.BLOCK)
      local off = pos % util.BLOCK
      local n = math.min(util.BLOCK - off, #data - i + 1)
      local want = util.block(k):sub(off + 1, off + n)
      local got = data:sub(i, i + n - 1)
      if got ~= want then
        for j = 1, n do
          if got:byte(j) ~= want:byte(j) then return false, pos + j - 1 end
        end
      end
      pos, i = pos + n, i + n
    end
    return true
  end
  function c.count() return pos end
  return c
end

return util
