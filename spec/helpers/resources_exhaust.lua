-- Child of spec/resources_spec.lua, run under a low `ulimit -n`. It opens
-- TCP sockets until the process has no free descriptor, holding every one
-- (so lsock's collect-and-retry on EMFILE finds nothing to free), then
-- tries the calls of one mode at the limit, frees a few descriptors and
-- tries again. Each call prints one line "what -> results", which the
-- spec compares with what it expects, line by line.
-- Modes: sockets, socketpair, accept, recvmsg:TYPE, poller, loop, require.
local lsock = require "lsock"
local util = require "helpers.util"

local mode = arg[1]
-- Abstract unix names of this process's own, from its process id.
local ABSTRACT
do
  local f = assert(io.open("/proc/self/stat"))
  ABSTRACT = "@lsock-resources-" .. f:read("*l"):match("^%d+")
  f:close()
end

-- Results as text: a value that is an object shows as "ok" (its address
-- would differ from run to run), everything else with tostring.
local function show(what, ...)
  local parts = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    parts[i] = (type(v) == "userdata") and "ok" or tostring(v)
  end
  util.out(what, "->", table.concat(parts, ", "))
end

local held = {}
-- Open sockets until there is no descriptor left; prints how that ended.
local function fill()
  for _ = 1, 100000 do
    local s, err, errno = lsock.tcp()
    if not s then
      show("fill", nil, err, errno)
      return
    end
    held[#held + 1] = s
  end
  error("no descriptor limit reached: is `ulimit -n` low?")
end
-- Close n of the held sockets.
local function free(n)
  for _ = 1, n do table.remove(held):close() end
end
-- Close what a successful call returned, and say "ok".
local function closing(what, ...)
  local obj = ...
  if obj then
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if type(v) == "userdata" then v:close() end
    end
    return show(what, "ok")
  end
  return show(what, ...)
end

if mode == "sockets" then
  -- Every constructor needs one descriptor: all fail at the limit, all
  -- work once one is free (each closed again at once).
  local unix_srv = assert(lsock.unix_listen(ABSTRACT .. "-srv"))
  local tcp_srv = assert(lsock.listen("127.0.0.1", 0))
  local _, port = tcp_srv:getsockname()
  local ctors = {
    { "tcp", function() return lsock.tcp() end },
    { "udp", function() return lsock.udp() end },
    { "unix stream", function() return lsock.socket("unix", "stream") end },
    { "unix dgram", function() return lsock.socket("unix", "dgram") end },
    { "unix seqpacket", function() return lsock.socket("unix", "seqpacket") end },
    { "listen", function() return lsock.listen("127.0.0.1", 0) end },
    { "unix_listen", function() return lsock.unix_listen(ABSTRACT) end },
    { "unix_connect", function() return lsock.unix_connect(ABSTRACT .. "-srv") end },
    { "connect", function() return lsock.connect("127.0.0.1", port, { timeout = 2 }) end },
  }
  fill()
  for _, c in ipairs(ctors) do closing(c[1], c[2]()) end
  free(1)
  for _, c in ipairs(ctors) do closing(c[1], c[2]()) end
  unix_srv:close()
  tcp_srv:close()
elseif mode == "socketpair" then
  -- A pair needs two descriptors: one free slot is not enough.
  fill()
  closing("socketpair", lsock.socketpair())
  closing("socketpair dgram", lsock.socketpair("dgram"))
  closing("socketpair seqpacket", lsock.socketpair("seqpacket"))
  free(1)
  closing("socketpair", lsock.socketpair())
  free(1)
  closing("socketpair", lsock.socketpair())
  closing("socketpair dgram", lsock.socketpair("dgram"))
  closing("socketpair seqpacket", lsock.socketpair("seqpacket"))
elseif mode == "accept" then
  -- A connection waits in the backlog; accept at the limit fails (in
  -- and outside the loop) and leaves it there for the next accept.
  local loop = require "lsock.loop"
  local srv = assert(lsock.listen("127.0.0.1", 0))
  srv:settimeout(2)
  local client = assert(lsock.connect("127.0.0.1", select(2, srv:getsockname()), { timeout = 2 }))
  client:settimeout(2)
  local _, client_port = client:getsockname()
  fill()
  show("accept", srv:accept())
  local r, t0, took = nil, lsock.monotime(), nil
  loop.spawn(function()
    r = { srv:accept() }
    took = lsock.monotime() - t0
  end)
  show("loop run", loop.run(5))
  show("loop accept", r[1], r[2], r[3])
  -- an EMFILE must come back at once, not after the socket's timeout
  show("loop accept at once", took < 1)
  free(1)
  local conn, _, port = srv:accept()
  show("accept", conn, port == client_port and "the waiting client" or port)
  conn:settimeout(2)
  client:send("hello")
  show("receive", conn:receive(5))
elseif mode:match("^recvmsg:") then
  -- Descriptors passed to a process that has no free slot for them: the
  -- kernel installs what fits and drops the rest (MSG_CTRUNC).
  local stype = mode:match(":(%a+)$")
  local a, b = assert(lsock.socketpair())
  local c = assert(lsock.tcp())
  local tx, rx = assert(lsock.socketpair(stype))
  tx:settimeout(2)
  rx:settimeout(2)
  b:settimeout(2)
  local function receive(what)
    local data, fds, trunc = rx:recvmsg()
    if not data then return show(what, data, fds, trunc) end
    show(what, data, #fds .. " fds", "dropped " .. tostring(fds.dropped), trunc)
    return fds
  end
  fill()
  free(1)
  -- one free slot: the first of three descriptors arrives
  show("sendmsg", tx:sendmsg("first", { fds = { a, c, b } }))
  local fds = receive("recvmsg")
  -- nothing else is queued: the bytes came once, whole
  rx:settimeout(0)
  show("recvmsg again", rx:recvmsg())
  rx:settimeout(2)
  -- the one installed is a working duplicate of a (the first sent)
  if fds and fds[1] then
    local dup = assert(lsock.fromfd(fds[1]))
    dup:send("via dup")
    show("through it", b:receive(7))
    dup:close()
    held[#held + 1] = assert(lsock.tcp()) -- its slot is taken again
  end
  -- no free slot at all: the bytes still come, without descriptors
  show("sendmsg", tx:sendmsg("second", { fds = { a } }))
  receive("recvmsg")
  -- with room again, every descriptor arrives and none is reported dropped
  free(3)
  show("sendmsg", tx:sendmsg("third", { fds = { a, c } }))
  fds = receive("recvmsg")
  for _, fd in ipairs(fds or {}) do assert(lsock.fromfd(fd)):close() end
elseif mode == "poller" then
  -- An epoll poller needs a descriptor, a poll poller none; adding to a
  -- poller and waiting on it need none.
  local ep = assert(lsock.poller("epoll"))
  local a, b = assert(lsock.socketpair())
  fill()
  show("poller", lsock.poller())
  show("poller epoll", lsock.poller("epoll"))
  local pp, err = lsock.poller("poll")
  show("poller poll", pp, err)
  show("epoll add", ep:add(a, "r", "a"))
  show("poll add", pp:add(a, "r", "a"))
  b:send("x")
  for _, p in ipairs({ ep, pp }) do
    local seen = {}
    for _, events, value in p:wait(2) do seen[#seen + 1] = value .. " " .. events end
    show(p:backend() .. " wait", table.concat(seen, " "))
  end
  free(1)
  closing("poller", lsock.poller())
elseif mode == "loop" then
  -- The loop's own poller exists already; running it needs no new
  -- descriptor, but a name lookup in a coroutine does (its worker
  -- thread answers on a socketpair).
  local loop = require "lsock.loop"
  local a, b = assert(lsock.socketpair())
  a:settimeout(2)
  b:settimeout(2)
  fill()
  local echoed, looked
  loop.spawn(function() b:send(b:receive(4)) end)
  loop.spawn(function()
    a:send("ping")
    echoed = a:receive(4)
  end)
  loop.spawn(function() looked = { lsock.getaddrinfo("127.0.0.1", 80, { type = "stream" }) } end)
  show("loop run", loop.run(5))
  show("echo", echoed)
  show("getaddrinfo in loop", looked[1], looked[2], looked[3])
  free(2)
  loop.spawn(function() looked = { lsock.getaddrinfo("127.0.0.1", 80, { type = "stream" }) } end)
  show("loop run", loop.run(5))
  show("getaddrinfo in loop", looked[1] and looked[1][1].addr, looked[2])
elseif mode == "require" then
  -- lsock.loop opens its poller when it is loaded. Its file is read
  -- first: at the limit Lua's own searchers cannot open a file either
  -- (require then says "module not found").
  local chunk
  for template in package.path:gmatch("[^;]+") do
    chunk = chunk or loadfile((template:gsub("%?", "lsock/loop")))
  end
  assert(chunk, "lsock/loop.lua not found on package.path")
  fill()
  local ok, err = pcall(chunk, "lsock.loop")
  show("load lsock.loop", ok, (tostring(err):match("loop: too many open files")))
  -- it needs two: its poller, and a moment later a probe socket
  free(1)
  ok, err = pcall(chunk, "lsock.loop")
  show("load lsock.loop", ok, (tostring(err):match("socket: too many open files")))
  free(1)
  ok, err = pcall(chunk, "lsock.loop")
  show("load lsock.loop", ok, type(err) == "table" and type(err.run))
else
  error("unknown mode " .. tostring(mode))
end
util.out("done")
