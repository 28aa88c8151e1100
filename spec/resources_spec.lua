-- spec/resources_spec.lua: what lsock does with the process's resources.
--
-- * Running out of descriptors, every socket held (so lsock's
--   collect-and-retry on EMFILE cannot help): each call that needs one
--   answers `nil, "... too many open files", EMFILE` (or, where it needs
--   none, just works), and the same call works once a few are free. Each
--   mode is a child under `ulimit -n 48` (spec/helpers/resources_exhaust.lua).
--   A descriptor passed to such a process is dropped by the kernel: the
--   bytes still arrive, and recvmsg says so with fds.dropped.
-- * Many create/close cycles of every kind of object, closed and dropped
--   to the collector: the process holds as many descriptors afterwards as
--   before, and Lua's memory is back within a few kilobytes.
--   LSOCK_FULL=1 runs 100,000 cycles of each, 10,000 otherwise (fewer
--   for the costly kinds, as said where they are counted).
-- * The loop's resolver worker threads, in private namespaces with a name
--   server that never answers (as spec/resolve_spec.lua makes it, which
--   covers the lookup itself): the loop serves a socketpair echo all the
--   while, and a script that ends while a lookup is pending exits at once
--   with status 0 (spec/helpers/resources_resolve.lua).
local lsock = require "lsock"
local util = require "helpers.util"
local certs = require "helpers.certs"
local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }

local FULL = os.getenv("LSOCK_FULL") == "1"
-- LSOCK_CYCLES=n sets the count itself (a few hundred under valgrind).
local N = tonumber(os.getenv("LSOCK_CYCLES")) or (FULL and 100000 or 10000)
-- The full-size run (LSOCK_FULL=1) makes every kind N times; the other
-- runs make the costly kinds fewer times, to keep their run time:
-- a connected TCP pair costs a handshake (the client closes with a reset,
-- linger 0, so that no TIME_WAIT entry holds one of the ~28,000 ephemeral
-- ports towards the one listener for 60 s: 100,000 in a row would run out
-- of them); a TLS context about 0.2 ms of OpenSSL set-up (a server's, its
-- key and certificate parsed, more); a TLS stream (OpenSSL's SSL object,
-- and the socketpair under it) about 55 us, 0.15 ms under ASan.
local N_TCP = FULL and N or math.floor(N / 10)
local N_CTX = FULL and N or math.floor(N / 10)
local N_TLS = FULL and N or math.floor(N / 5)
-- Lua memory (KiB) a batch of cycles may leave behind after a full
-- collection: allocator slack, nothing per object (10,000 objects kept
-- would be hundreds of KiB).
local MEMORY_SLACK = 16
-- Cycles run before the first measure.
local WARM_UP = 100

local EMFILE = ": too many open files, " .. lsock.errno.EMFILE

-- ---- descriptor exhaustion --------------------------------------------------

local EXHAUST = util.HELPERS .. "resources_exhaust.lua"

-- The lines the exhaust child prints in `mode`, under a low descriptor limit.
local function exhaust(mode)
  return util.output("ulimit -n 48 && timeout 30 " .. util.lua_command(EXHAUST, mode) .. " 2>&1", true)
end

local function lines(t) return table.concat(t, "\n") end

-- The children name themselves from /proc/self/stat; the behaviour of
-- passed descriptors at the limit (MSG_CTRUNC) is Linux's.
local it_limit = checks.it_proc

describe("running out of descriptors, every socket held", function()
  it_limit("fails every socket constructor with EMFILE as a value, and each works once one is free", function()
    local names = { "tcp", "udp", "unix stream", "unix dgram", "unix seqpacket",
      "listen", "unix_listen", "unix_connect", "connect" }
    local want = { "fill -> nil, socket" .. EMFILE }
    for _, name in ipairs(names) do want[#want + 1] = name .. " -> nil, socket" .. EMFILE end
    for _, name in ipairs(names) do want[#want + 1] = name .. " -> ok" end
    want[#want + 1] = "done"
    assert.equal(lines(want), exhaust("sockets"))
  end)

  it_limit("fails socketpair until two descriptors are free", function()
    assert.equal(lines({
      "fill -> nil, socket" .. EMFILE,
      "socketpair -> nil, socketpair" .. EMFILE,
      "socketpair dgram -> nil, socketpair" .. EMFILE,
      "socketpair seqpacket -> nil, socketpair" .. EMFILE,
      "socketpair -> nil, socketpair" .. EMFILE, -- one free is not enough
      "socketpair -> ok",
      "socketpair dgram -> ok",
      "socketpair seqpacket -> ok",
      "done",
    }), exhaust("socketpair"))
  end)

  it_limit("fails accept at once, in and outside the loop, and keeps the connection for the next accept", function()
    assert.equal(lines({
      "fill -> nil, socket" .. EMFILE,
      "accept -> nil, accept" .. EMFILE,
      "loop run -> true",
      "loop accept -> nil, accept" .. EMFILE,
      "loop accept at once -> true",
      "accept -> ok, the waiting client",
      "receive -> hello",
      "done",
    }), exhaust("accept"))
  end)

  -- The kernel installs the passed descriptors that fit and drops the
  -- rest, setting MSG_CTRUNC: the bytes must still arrive whole, once,
  -- and fds.dropped must say that some did not.
  for _, stype in ipairs({ "stream", "dgram", "seqpacket" }) do
    it_limit("recvmsg over " .. stype .. " keeps the bytes and reports descriptors it had no room for", function()
      assert.equal(lines({
        "fill -> nil, socket" .. EMFILE,
        "sendmsg -> 5",
        "recvmsg -> first, 1 fds, dropped true, nil", -- one free slot, three sent
        "recvmsg again -> nil, timeout",
        "through it -> via dup",
        "sendmsg -> 6",
        "recvmsg -> second, 0 fds, dropped true, nil", -- no free slot
        "sendmsg -> 5",
        "recvmsg -> third, 2 fds, dropped nil, nil", -- room again: all, no flag
        "done",
      }), exhaust("recvmsg:" .. stype))
    end)
  end

  it_limit("fails a new epoll poller, not a poll one, nor adding or waiting", function()
    assert.equal(lines({
      "fill -> nil, socket" .. EMFILE,
      "poller -> nil, poller" .. EMFILE,
      "poller epoll -> nil, poller" .. EMFILE,
      "poller poll -> ok, nil",
      "epoll add -> true",
      "poll add -> true",
      "epoll wait -> a r",
      "poll wait -> a r",
      "poller -> ok",
      "done",
    }), exhaust("poller"))
  end)

  it_limit("keeps the loop running, and fails a lookup in it (its worker needs two) until two are free", function()
    assert.equal(lines({
      "fill -> nil, socket" .. EMFILE,
      "loop run -> true",
      "echo -> ping",
      "getaddrinfo in loop -> nil, getaddrinfo" .. EMFILE,
      "loop run -> true",
      "getaddrinfo in loop -> 127.0.0.1, nil",
      "done",
    }), exhaust("loop"))
  end)

  it_limit("fails loading lsock.loop with a raised error naming EMFILE, until two descriptors are free", function()
    assert.equal(lines({
      "fill -> nil, socket" .. EMFILE,
      "load lsock.loop -> false, loop: too many open files",
      "load lsock.loop -> false, socket: too many open files",
      "load lsock.loop -> true, function",
      "done",
    }), exhaust("require"))
  end)
end)

-- ---- create/close cycles ----------------------------------------------------

-- The descriptors this process holds: the entries of /proc/<pid>/fd,
-- listed by a child `ls`, without pipes (io.popen's own shows up there).
-- Returns the count and the first 20, for failure messages.
local function descriptors()
  local p = assert(io.popen("ls -l /proc/" .. checks.our_pid() .. "/fd"))
  local n, seen = 0, {}
  for line in p:lines() do
    local target = line:match("%d+ %-> (.*)$")
    if target and not target:find("^pipe:") then
      n = n + 1
      if n <= 20 then seen[n] = target end
    end
  end
  p:close()
  return n, table.concat(seen, " ") .. (n > 20 and " ..." or "")
end

-- Lua's memory in KiB after a full collection (twice: objects with a
-- finalizer are freed by the cycle after the one that finalized them).
local function memory()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count")
end

-- n times make(i): "close" closes every object it returns, "drop" lets
-- them go to the collector. Lua's memory and the descriptor count are
-- taken after a first batch (metatables, caches and the like exist by
-- then) and a full collection, and again after the n cycles and another.
local function cycle(n, how, make)
  local function run(count)
    for i = 1, count do
      if how == "close" then
        local objs = { make(i) }
        assert(objs[1], objs[2])
        for j = #objs, 1, -1 do objs[j]:close() end
      else
        assert(make(i))
      end
    end
  end
  run(WARM_UP)
  local mem0 = memory()
  local fds0, list0 = descriptors()
  run(n)
  local mem1 = memory()
  local fds1, list1 = descriptors()
  assert.equal(fds0, fds1, ("descriptors before: %s\nafter: %s"):format(list0, list1))
  assert.is_true(mem1 - mem0 < MEMORY_SLACK,
    ("Lua memory grew by %.1f KiB over %d cycles"):format(mem1 - mem0, n))
end

-- A unique abstract name for this process (a dropped listener keeps its
-- name until it is collected, so the dropped ones get one each).
local ABSTRACT = ("@lsock-resources-%d"):format(checks.HAVE_PROC and checks.our_pid() or os.time())

-- The kinds of object: name, count, make(i, how, extra), the `it` to use
-- (default checks.it_proc), and prepare(n), which makes `extra`.
local kinds = {
  { "lsock.tcp()", N, function() return lsock.tcp() end },
  { "lsock.tcp(\"inet6\")", N, function() return lsock.tcp("inet6") end, checks.it_ipv6 },
  { "lsock.udp()", N, function() return lsock.udp() end },
  { "lsock.udp(\"inet6\")", N, function() return lsock.udp("inet6") end, checks.it_ipv6 },
  { "unix stream sockets", N, function() return lsock.socket("unix", "stream") end },
  { "unix dgram sockets", N, function() return lsock.socket("unix", "dgram") end },
  { "unix seqpacket sockets", N, function() return lsock.socket("unix", "seqpacket") end },
  { "socketpairs", N, function() return lsock.socketpair() end },
  { "dgram socketpairs", N, function() return lsock.socketpair("dgram") end },
  { "listeners on 127.0.0.1 port 0", N, function() return lsock.listen("127.0.0.1", 0) end },
  { "unix_listen on an abstract name", N, function(i, how, names)
    return lsock.unix_listen(how == "close" and ABSTRACT or names[i])
  end, nil, function(n)
    -- made before the count, so that 10,000 new strings (and the string
    -- table grown for them) do not read as memory the listeners kept
    local names = {}
    for i = 1, n do names[i] = ABSTRACT .. "-" .. i end
    return names
  end },
  { "sockets wrapped again with fromfd", N, function()
    return lsock.fromfd(assert(lsock.tcp()):detach())
  end },
}

describe("create/close cycles", function()
  for _, how in ipairs({ "close", "drop" }) do
    local verb = how == "close" and "closed" or "dropped without close()"
    for _, kind in ipairs(kinds) do
      local name, count, make, it_kind, prepare = kind[1], kind[2], kind[3], kind[4] or checks.it_proc, kind[5]
      if not checks.HAVE_PROC then it_kind = checks.it_proc end
      it_kind(("%d %s, %s, leave descriptors and Lua memory as they were"):format(count, name, verb), function()
        local extra = prepare and prepare(count + WARM_UP)
        cycle(count, how, function(i) return make(i, how, extra) end)
      end)
    end

    checks.it_proc(("%d connected TCP pairs, %s, leave descriptors and Lua memory as they were")
      :format(N_TCP, verb), function()
      local server, port = util.listen("127.0.0.1")
      cycle(N_TCP, how, function()
        local client = assert(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT }))
        assert(client:setoption("linger", 0))
        local conn = assert(server:accept())
        return client, conn
      end)
      server:close()
    end)

    -- Each poller gets a socket registered, so that letting the poller go
    -- must also undo the registration the socket knows of.
    for _, backend in ipairs({ "epoll", "kqueue", "poll" }) do
      local probe = lsock.poller(backend)
      local it_backend = probe and checks.it_proc or checks.it_if(false, backend .. " is not available here")
      if probe then probe:close() end
      it_backend(("%d %s pollers with a socket in each, %s, leave descriptors and Lua memory as they were")
        :format(N, backend, verb), function()
        local a, b = util.socketpair()
        cycle(N, how, function()
          local p = lsock.poller(backend)
          assert(p:add(a, "r"))
          return p
        end)
        -- the socket still works with a poller, and closing it must not
        -- reach for one of the pollers that are gone (ASan would see it)
        local p = lsock.poller(backend)
        assert.is_true(p:add(a, "r"))
        assert.is_true(b:send("x") == 1)
        local ready = {}
        for obj, events in p:wait(util.TIMEOUT) do ready[#ready + 1] = (obj == a and "a " or "? ") .. events end
        assert.same({ "a r" }, ready)
        a:close()
        assert.equal(0, p:count())
        p:close()
        b:close()
      end)
    end
  end
end)

describe("TLS object cycles", function()
  local HAVE_CERTS = certs.available()
  local it_tls = checks.it_if(checks.HAVE_PROC and HAVE_CERTS, "no /proc, or no OpenSSL 3 tool for certificates")
  local tls = require "lsock.tls"
  local C
  setup(function() if HAVE_CERTS then C = certs.get() end end)
  teardown(function() certs.cleanup() end)

  -- Contexts have no close(): the collector frees them.
  it_tls(("%d client and %d server TLS contexts, dropped, leave descriptors and Lua memory as they were")
    :format(N_CTX, N_CTX), function()
    cycle(N_CTX, "drop", function() return tls.context({ verify = false }) end)
    cycle(N_CTX, "drop", function()
      return tls.context({ mode = "server", cert = C.server.cert_pem, key = C.server.key_pem })
    end)
  end)

  for _, how in ipairs({ "close", "drop" }) do
    it_tls(("%d TLS streams over socketpairs, no handshake, %s, leave descriptors and Lua memory as they were")
      :format(N_TLS, how == "close" and "closed" or "dropped without close()"), function()
      local ctx = tls.context({ verify = false })
      cycle(N_TLS, how, function()
        local a, b = assert(lsock.socketpair())
        return tls.wrap(a, ctx), b
      end)
    end)
  end
end)

-- ---- the resolver's worker threads ------------------------------------------

local WHY = util.no_netns()
local it_ns = checks.it_if(WHY == nil, tostring(WHY))

-- Run resources_resolve.lua `mode` in the namespaces, with the resolver's
-- timeout `seconds`: its output, "status N" (its exit status) last, and the
-- seconds the whole run took.
local function run_resolve(mode, seconds)
  local conf = os.tmpname()
  local f = assert(io.open(conf, "w"))
  f:write(("nameserver 127.0.0.1\noptions timeout:%d attempts:1\n"):format(seconds))
  f:close()
  local inner = ("ip link set lo up && mount --bind %s /etc/resolv.conf && timeout 20 %s; echo status $?")
    :format(util.quote(conf), util.lua_command(util.HELPERS .. "resources_resolve.lua", mode))
  local t0 = lsock.monotime()
  local out = util.output("timeout 60 unshare -n -m sh -c " .. util.quote(inner) .. " 2>&1", true)
  local took = lsock.monotime() - t0
  os.remove(conf)
  return out, took
end

describe("the resolver's worker threads", function()
  it_ns("leave the loop serving a socketpair echo while a lookup hangs, which ends with its error", function()
    local out = run_resolve("echo", 1)
    local result, took, echoes, bad = out:match("^result (.-) took ([%d.]+) echoes (%d+) bad (%d+)\nstatus 0$")
    assert.is_truthy(result, out)
    assert.matches("^error getaddrinfo lsock%-slow%.example: ", result)
    -- the lookup lasted the resolver's 1 s, and the echo went on meanwhile
    -- (one every 10 ms or so: well over 30), every line coming back right
    assert.is_true(tonumber(took) >= 0.8 and tonumber(took) < 10, out)
    assert.is_true(tonumber(echoes) >= 30, out)
    assert.equal("0", bad, out)
  end)

  -- The lookup would take 3 s: a script that ends while it is pending
  -- must neither wait for it nor crash on the way out.
  local ends = {
    exit = "calls os.exit(0)",
    ["exit-close"] = "calls os.exit(0, true) (lua_close on 5.2+)",
    ["return"] = "returns from its main chunk (lua_close)",
  }
  for _, mode in ipairs({ "exit", "exit-close", "return" }) do
    it_ns("let a script that " .. ends[mode] .. " while a lookup is pending exit at once, status 0", function()
      local out, took = run_resolve(mode, 3)
      assert.equal("pending\nstatus 0", out)
      assert.is_true(took < 2.5, ("the run took %.2f s"):format(took))
    end)
  end
end)
