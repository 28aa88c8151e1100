-- spec/compat_socket_spec.lua: lsock.compat against LuaSocket 3.1.
--
-- Every case is a plain LuaSocket script (socket.tcp/bind/listen/accept/
-- connect, socket.udp, socket.select, settimeout, socket.unix, socket.dns,
-- ltn12 sources and sinks), written for and checked against Debian's real
-- LuaSocket 3.1 (package lua-socket, the reference), and run twice: once on
-- LuaSocket ("luasocket") and once on lsock.compat installed as `socket`
-- ("lsock"); spec/helpers/compat.lua loads each fresh. LSOCK_COMPAT_IMPLS
-- restricts the list ("luasocket" or "lsock").
--
-- The values asserted are LuaSocket 3.1's, quirks included (the exact error
-- strings, `"*l"` dropping every CR, getsockname's port as a string, a
-- failed connect turning the master into tcp{client}, ...). Where lsock
-- deliberately differs, because the reference has a bug, the case is split
-- and labelled "[LuaSocket 3.1 bug]" (what the reference really does) and
-- "[lsock fixes LuaSocket]" (the correct behaviour lsock.compat must have):
--
--   * abstract Unix names ("\0name"): LuaSocket binds an unnamed autobind
--     address instead and cannot connect to the name at all;
--   * ipv6-multicast-hops: LuaSocket sets (and reads) the unicast hops;
--   * socket.select above FD_SETSIZE: LuaSocket raises "descriptor too large
--     for set size" (a child process under `ulimit -n 4096`); with it,
--     socket._SETSIZE (1024 there, at least 1024 on lsock).
--
-- Everything else is pinned to the reference on both, so that a difference
-- that is not one of these shows up as a failure of the lsock run.
--
-- Sockets on 127.0.0.1, ::1 and Unix paths in a temporary directory only;
-- every wait is bounded by a timeout of at most 5 s. Peers that one process
-- cannot play (data that arrives later, a trickle, 4 MiB transfers, many
-- descriptors) run as child processes of the same Lua, through
-- spec/helpers/compat_peer.lua, which is itself a LuaSocket script on the
-- same implementation. IPv6 multicast, which lo cannot carry, runs in a
-- private network namespace over a veth pair (root, `unshare -n`); it is
-- pending with the reason where that is not possible.

local compat = require "helpers.compat"
local util = require "helpers.util"
local lsock = require "lsock" -- only for its monotonic clock, to time the waits

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each, teardown = teardown }
local track, must = checks.tracker(), checks.must
local tmp = checks.temp_dir("/tmp/lsock-compat.XXXXXX")

local WAIT = 5 -- seconds: the longest any single wait here may take
local PEER = util.HELPERS .. "compat_peer.lua"
local now = lsock.monotime
local MiB = 1024 * 1024

local it_ipv6 = checks.it_ipv6
local it_lua53 = checks.it_if(math.type ~= nil,
  "number subtypes exist from Lua 5.3 on, this is " .. _VERSION)

-- The hard open-file limit: `ulimit -n 4096` must be allowed for the child
-- that opens descriptors above FD_SETSIZE.
local function hard_limit()
  local text = util.output("ulimit -Hn")
  if text == "unlimited" then return math.huge end
  return tonumber(text) or 0
end
local it_high = checks.it_if(hard_limit() >= 4096,
  "needs `ulimit -n 4096`, the hard limit is " .. tostring(hard_limit()))

-- n results of a call, as a table with the count in t.n.
local function pack(...)
  return { n = select("#", ...), ... }
end

-- Seconds a call took, its results as an array, and how many there were.
local function timed(fn, ...)
  local t0 = now()
  local r = pack(fn(...))
  local took = now() - t0
  local n = r.n
  r.n = nil
  return took, r, n
end

-- t is exactly the array `items` and the set of them (t[item] = index).
local function assert_array_set(t, items, what)
  assert.is_table(t, what)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  assert.equal(2 * #items, n, what .. ": the array and the set, nothing else")
  for i, item in ipairs(items) do
    assert.equal(item, t[i], what .. "[" .. i .. "]")
    assert.equal(i, t[item], what .. "[object " .. i .. "]")
  end
end

local function assert_empty(t, what)
  assert.is_table(t, what)
  assert.is_nil(next(t), what .. " is empty")
end

-- fn must raise an error whose message contains `text` (plain).
local function assert_raises_with(text, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error containing " .. text)
  assert.is_truthy(tostring(err):find(text, 1, true),
    ("error %q does not contain %q"):format(tostring(err), text))
  return err
end

-- Why the network namespace case cannot run here, or nil when it can.
local function netns_unavailable()
  if not util.is_root() then return "not root: unshare -n needs root" end
  if not util.succeeds("command -v unshare") then return "no unshare command" end
  if not util.succeeds("command -v ip") then return "no ip command" end
  if not util.succeeds("command -v timeout") then return "no timeout command" end
  if not util.succeeds("unshare -n true") then return "unshare -n fails here (no permission for namespaces)" end
  return nil
end
local NETNS_WHY = netns_unavailable()
local it_netns = checks.it_if(NETNS_WHY == nil, tostring(NETNS_WHY))

-- Run `script` with arguments `...` in a child Lua (util.lua_command) inside
-- a new network namespace where a veth pair v0/v1 and lo are up; killed
-- after 60 s at most. Returns the output lines as a table keyed by the first
-- word of each line (the rest of the line as the value), and the output.
local function run_in_netns(script, ...)
  local inner = "ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up; "
    .. "ip link set lo up; " .. util.lua_command(script, ...)
  local p = assert(io.popen("timeout 60 unshare -n sh -c " .. util.quote(inner) .. " 2>&1", "r"))
  local output = p:read("*a")
  p:close()
  local lines = {}
  for line in output:gmatch("[^\n]+") do
    local word, rest = line:match("^(%S+) ?(.*)$")
    if word and lines[word] == nil then lines[word] = rest end
  end
  return lines, output
end

-- A unique abstract Unix name (Linux): "\0" followed by a name of our own.
local function abstract_name()
  return "\0lsock-compat-" .. tostring(checks.our_pid()) .. "-" .. tmp.serial()
end

for _, impl in ipairs(compat.impls) do
  describe(impl, function()
    local socket = compat.load(impl)
    local unix = compat.require(impl, "socket.unix")
    local ltn12 = compat.require(impl, "ltn12")

    local function spawn(command, ...)
      return util.spawn_script(PEER, impl, command, ...)
    end

    -- A listening tcp{server} on host (default 127.0.0.1), port 0, with the
    -- timeout WAIT; returns it and its port as a number.
    local function listener(host)
      local server = track(must(socket.tcp()))
      must(server:bind(host or "127.0.0.1", 0))
      must(server:listen(32))
      server:settimeout(WAIT)
      local _, port = server:getsockname()
      return server, must(tonumber(port))
    end

    -- Two connected TCP sockets over host: the connecting client and the
    -- accepted one, each with the timeout WAIT.
    local function tcp_pair(host)
      host = host or "127.0.0.1"
      local server, port = listener(host)
      local client = track(must(socket.tcp()))
      client:settimeout(WAIT)
      must(client:connect(host, port))
      local conn = track(must(server:accept()))
      conn:settimeout(WAIT)
      server:close()
      return client, conn
    end

    -- A UDP socket bound to host (default 127.0.0.1), port 0, with the
    -- timeout WAIT; returns it and its port as a number.
    local function udp_bound(host)
      local u = track(must(socket.udp()))
      must(u:setsockname(host or "127.0.0.1", 0))
      u:settimeout(WAIT)
      local _, port = u:getsockname()
      return u, must(tonumber(port))
    end

    -- An unused TCP port on 127.0.0.1: bound, then closed (nothing listens).
    local function closed_port()
      local s = must(socket.tcp())
      must(s:bind("127.0.0.1", 0))
      local _, port = s:getsockname()
      s:close()
      return must(tonumber(port))
    end

    -- The two cases of a deliberate difference: `ref` documents what
    -- LuaSocket 3.1 really does (run on luasocket), `fix` the correct
    -- behaviour that lsock.compat has instead (run on lsock).
    local function it_differs(what, ref_title, ref, fix_title, fix, it_fn)
      it_fn = it_fn or it
      if impl == "luasocket" then
        it_fn(what .. " [LuaSocket 3.1 bug: " .. ref_title .. "]", ref)
      else
        it_fn(what .. " [lsock fixes LuaSocket: " .. fix_title .. "]", fix)
      end
    end

    -- The same for a difference that is not a LuaSocket bug, but a choice
    -- lsock.compat makes (integers, tables, "LuaSocket 3.1.0 (lsock ...)").
    local function it_unlike(what, ref_title, ref, own_title, own, it_fn)
      it_fn = it_fn or it
      if impl == "luasocket" then
        it_fn(what .. " [LuaSocket 3.1: " .. ref_title .. "]", ref)
      else
        it_fn(what .. " [lsock differs: " .. own_title .. "]", own)
      end
    end

    ---------------------------------------------------------------------------
    describe("the module", function()
      it("has LuaSocket's functions and tables", function()
        for _, name in ipairs { "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "select",
            "connect", "connect4", "connect6", "bind", "gettime", "sleep", "skip",
            "newtry", "protect", "try", "choose", "sink", "source" } do
          assert.is_function(socket[name], "socket." .. name)
        end
        for _, name in ipairs { "dns", "sinkt", "sourcet" } do
          assert.is_table(socket[name], "socket." .. name)
        end
        for _, name in ipairs { "toip", "tohostname", "getaddrinfo", "getnameinfo", "gethostname" } do
          assert.is_function(socket.dns[name], "socket.dns." .. name)
        end
      end)

      it_unlike("_VERSION", "'LuaSocket 3.0.0' (3.1 never changed the string)", function()
        assert.equal("LuaSocket 3.0.0", socket._VERSION)
      end, "'LuaSocket 3.1.0 (lsock x.y.z)', which says what it is", function()
        assert.truthy(socket._VERSION:match("^LuaSocket 3%.1%.0 %(lsock %d+%.%d+%.%d+%)$"), socket._VERSION)
      end)

      it("has BLOCKSIZE 2048 and _DATAGRAMSIZE 8192", function()
        assert.equal(2048, socket.BLOCKSIZE)
        assert.equal(8192, socket._DATAGRAMSIZE)
      end)

      it_differs("_SETSIZE",
        "1024, FD_SETSIZE, the limit of its select",
        function() assert.equal(1024, socket._SETSIZE) end,
        "a number of at least 1024 (select has no limit)",
        function()
          assert.is_number(socket._SETSIZE)
          assert.is_true(socket._SETSIZE >= 1024, "_SETSIZE " .. tostring(socket._SETSIZE))
        end)

      it("has sink and source kinds by LuaSocket's names", function()
        assert.is_function(socket.sinkt["close-when-done"])
        assert.is_function(socket.sinkt["keep-open"])
        assert.is_function(socket.sinkt["default"])
        assert.is_function(socket.sourcet["by-length"])
        assert.is_function(socket.sourcet["until-closed"])
        assert.is_function(socket.sourcet["default"])
      end)

      it("answers require 'socket.unix' with a callable table of stream and dgram", function()
        assert.is_table(unix)
        assert.is_function(unix.stream)
        assert.is_function(unix.dgram)
        assert.equal(unix.stream, unix.tcp)
        assert.equal(unix.dgram, unix.udp)
        local s = track(unix())
        assert.truthy(tostring(s):match("^unixstream{master}"), tostring(s))
      end)
    end)

    ---------------------------------------------------------------------------
    describe("tcp receive", function()
      it("'*l' returns a line without its LF and drops every CR in it", function()
        local client, conn = tcp_pair()
        must(client:send("a\rb\r\nc\n\r\r\nd\n"))
        assert.same({ "ab", nil, nil }, { conn:receive("*l") })
        assert.same({ "c", nil, nil }, { conn:receive("*l") })
        assert.same({ "", nil, nil }, { conn:receive("*l") })
        assert.same({ "d", nil, nil }, { conn:receive("*l") })
      end)

      it("reads a line when no pattern is given", function()
        local client, conn = tcp_pair()
        must(client:send("one\r\ntwo\n"))
        assert.equal("one", conn:receive())
        assert.equal("two", conn:receive(nil))
      end)

      it("'*l' answers nil, 'closed', the unterminated last line, then ''", function()
        local client, conn = tcp_pair()
        must(client:send("full\nlast"))
        client:close()
        assert.equal("full", conn:receive("*l"))
        assert.same({ nil, "closed", "last" }, { conn:receive("*l") })
        assert.same({ nil, "closed", "" }, { conn:receive("*l") })
      end)

      it("rejects '*L' and the Lua 5.3 style patterns 'l', 'L', 'a' (3.1 has none of them)", function()
        local _, conn = tcp_pair()
        for _, pattern in ipairs { "*L", "L", "l", "a", "*x", "" } do
          assert_raises_with("invalid receive pattern", conn.receive, conn, pattern)
        end
      end)

      it("rejects a negative count", function()
        local _, conn = tcp_pair()
        assert_raises_with("invalid receive pattern", conn.receive, conn, -1)
      end)

      it("'*a' returns everything up to the close, with no error", function()
        local client, conn = tcp_pair()
        must(client:send("line one\nline two\r\nrest"))
        client:close()
        assert.same({ "line one\nline two\r\nrest", nil, nil }, { conn:receive("*a") })
      end)

      it("'*a' with nothing left before the close answers nil, 'closed', ''", function()
        local client, conn = tcp_pair()
        must(client:send("x"))
        client:close()
        assert.equal("x", conn:receive("*a"))
        assert.same({ nil, "closed", "" }, { conn:receive("*a") })
      end)

      it("a number returns exactly that many bytes and keeps the rest buffered", function()
        local client, conn = tcp_pair()
        must(client:send("abcdefgh"))
        assert.same({ "abc", nil, nil }, { conn:receive(3) })
        assert.is_true(conn:dirty())
        assert.equal("defgh", conn:receive(5))
        assert.is_false(conn:dirty())
      end)

      it("takes a numeric string as a count", function()
        local client, conn = tcp_pair()
        must(client:send("abcdef"))
        assert.equal("abc", conn:receive("3"))
      end)

      it("counts the prefix towards a number", function()
        local client, conn = tcp_pair()
        must(client:send("abcdef"))
        assert.equal("prab", conn:receive(4, "pr"))
        assert.equal("cd", conn:receive(2))
      end)

      it("returns a prefix at least as long as the count at once, without waiting or reading", function()
        local client, conn = tcp_pair()
        conn:settimeout(0.2)
        local took, r = timed(conn.receive, conn, 2, "pref")
        assert.same({ "pref" }, r, "on an empty buffer")
        assert.is_true(took < 0.15, "took " .. took .. " s")
        conn:settimeout(WAIT)
        must(client:send("xy"))
        must(socket.select({ conn }, nil, WAIT)[1])
        assert.equal("pref", conn:receive(2, "pref"))
        assert.equal("pref", conn:receive(0, "pref"))
        assert.equal("xy", conn:receive(2))
      end)

      it("puts the prefix before a line and before '*a'", function()
        local client, conn = tcp_pair()
        must(client:send("line\nrest"))
        client:close()
        assert.equal("preline", conn:receive("*l", "pre"))
        assert.equal("prerest", conn:receive("*a", "pre"))
        assert.same({ nil, "closed", "pre" }, { conn:receive("*a", "pre") })
        assert.same({ nil, "closed", "pre" }, { conn:receive("*l", "pre") })
        assert.same({ "pre", nil, nil }, { conn:receive(3, "pre") })
      end)

      it("answers nil, 'timeout', partial for a line, a count and '*a'", function()
        local client, conn = tcp_pair()
        conn:settimeout(0.1)
        must(client:send("part"))
        assert.same({ nil, "timeout", "part" }, { conn:receive("*l") })
        must(client:send("part"))
        assert.same({ nil, "timeout", "part" }, { conn:receive(10) })
        must(client:send("part"))
        assert.same({ nil, "timeout", "part" }, { conn:receive("*a") })
        assert.same({ nil, "timeout", "" }, { conn:receive(2) })
      end)

      it("includes the prefix in the partial result", function()
        local client, conn = tcp_pair()
        conn:settimeout(0.1)
        must(client:send("abc"))
        assert.same({ nil, "timeout", "preabc" }, { conn:receive(10, "pre") })
      end)

      it("resumes a line and a count with the partial result as the prefix", function()
        local client, conn = tcp_pair()
        conn:settimeout(0.1)
        must(client:send("hel"))
        local _, err, partial = conn:receive("*l")
        assert.equal("timeout", err)
        must(client:send("lo\n0123"))
        assert.equal("hello", conn:receive("*l", partial))
        _, err, partial = conn:receive(6)
        assert.equal("timeout", err)
        assert.equal("0123", partial)
        must(client:send("45"))
        assert.equal("012345", conn:receive(6, partial))
      end)

      it("answers nil, 'closed', partial for a count cut by the close", function()
        local client, conn = tcp_pair()
        must(client:send("abc"))
        client:close()
        assert.same({ nil, "closed", "abc" }, { conn:receive(10) })
        assert.same({ nil, "closed", "" }, { conn:receive(1) })
      end)

      it("receive(0) with bytes in the kernel returns '' at once and buffers them", function()
        local client, conn = tcp_pair()
        must(client:send("abc"))
        assert.equal("a", conn:receive(1))
        assert.equal("", conn:receive(0))
        assert.equal("bc", conn:receive(2))
        must(client:send("xyz"))
        must(socket.select({ conn }, nil, WAIT)[1])
        assert.is_false(conn:dirty())
        local took, r = timed(conn.receive, conn, 0)
        assert.same({ "", nil, nil }, r)
        assert.is_true(took < 1, "took " .. took .. " s")
        assert.is_true(conn:dirty(), "the bytes are buffered now")
        assert.equal("xyz", conn:receive(3))
      end)

      it("receive(0) on an empty buffer waits for data", function()
        local server, port = listener()
        local child = spawn("later", "127.0.0.1", port, 0.3, util.tohex("late"))
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        local took, r = timed(conn.receive, conn, 0)
        assert.same({ "", nil, nil }, r)
        assert.is_true(took >= 0.2, "returned after " .. took .. " s, before the data came")
        assert.is_true(took < WAIT - 1, "took " .. took .. " s")
        assert.is_true(conn:dirty())
        assert.equal("late", conn:receive(4))
        assert.equal("sent 4", child.wait())
      end)

      it("receive(0) on an empty buffer waits for the close", function()
        local server, port = listener()
        local child = spawn("later", "127.0.0.1", port, 0.3, "")
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        local took, r = timed(conn.receive, conn, 0)
        assert.same({ nil, "closed", "" }, r)
        assert.is_true(took >= 0.2, "returned after " .. took .. " s, before the close")
        assert.is_true(took < WAIT - 1, "took " .. took .. " s")
        assert.equal("sent 0", child.wait())
      end)

      it("receive(0) on an empty buffer answers nil, 'timeout', '' at its timeout", function()
        local _, conn = tcp_pair()
        conn:settimeout(0.2)
        local took, r = timed(conn.receive, conn, 0)
        assert.same({ nil, "timeout", "" }, r)
        assert.is_true(took >= 0.15 and took < 2, "took " .. took .. " s")
        conn:settimeout(0)
        assert.same({ nil, "timeout", "" }, { conn:receive(0) })
      end)

      it("receive(0) after the close answers nil, 'closed', '' (and the prefix alone with one)", function()
        local client, conn = tcp_pair()
        client:close()
        assert.same({ nil, "closed", "" }, { conn:receive(0) })
        assert.same({ "p", nil, nil }, { conn:receive(0, "p") })
      end)

      it("answers 'closed' with the bytes read before a reset", function()
        local client, conn = tcp_pair()
        must(conn:send("abc"))
        must(conn:setoption("linger", { on = true, timeout = 0 }))
        conn:close()
        must(socket.select({ client }, nil, WAIT)[1])
        socket.sleep(0.05)
        assert.same({ nil, "closed", "abc" }, { client:receive("*l") })
        assert.same({ nil, "closed", "" }, { client:receive("*l") })
      end)

      it("receives 4 MiB from a peer with one receive(n), checked by content", function()
        local server, port = listener()
        local child = spawn("send", "127.0.0.1", port, 4 * MiB)
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        local data, err = conn:receive(4 * MiB)
        assert.is_nil(err)
        assert.equal(4 * MiB, #data)
        local check = util.checker()
        assert.same({ true }, { check.feed(data) })
        assert.same({ nil, "closed", "" }, { conn:receive(1) })
        assert.equal("sent " .. 4 * MiB, child.wait())
      end)

      it("receives 4 MiB from a peer with '*a', checked by content", function()
        local server, port = listener()
        local child = spawn("send", "127.0.0.1", port, 4 * MiB)
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        local data, err = conn:receive("*a")
        assert.is_nil(err)
        assert.equal(4 * MiB, #data)
        assert.same({ true }, { util.checker().feed(data) })
        assert.equal("sent " .. 4 * MiB, child.wait())
      end)
    end)

    ---------------------------------------------------------------------------
    describe("tcp send", function()
      it("returns the index of the last byte sent, then nil, nil", function()
        local client, conn = tcp_pair()
        assert.same({ 12, nil, nil }, { client:send("hello world\n") })
        assert.equal("hello world", conn:receive())
      end)

      it("sends bytes i to j and returns j", function()
        local client, conn = tcp_pair()
        assert.equal(5, client:send("0123456789", 3, 5))
        assert.equal("234", conn:receive(3))
      end)

      it("counts a negative i from the end", function()
        local client, conn = tcp_pair()
        assert.equal(10, client:send("0123456789", -3))
        assert.equal("789", conn:receive(3))
      end)

      it("sends from i to the end without j", function()
        local client, conn = tcp_pair()
        assert.equal(10, client:send("0123456789", 4))
        assert.equal("3456789", conn:receive(7))
      end)

      it("clamps i below 1 and j beyond the end", function()
        local client, conn = tcp_pair()
        assert.equal(2, client:send("0123456789", 0, 2))
        assert.equal(10, client:send("0123456789", 9, 20))
        assert.equal(1, client:send("0123456789", -20, 1))
        assert.equal("01890", conn:receive(5))
      end)

      it("sends nothing and returns i - 1 when i > j", function()
        local client, conn = tcp_pair()
        assert.equal(4, client:send("0123456789", 5, 4))
        assert.equal(0, client:send(""))
        assert.equal(3, client:send("abc", 4))
        conn:settimeout(0.1)
        assert.same({ nil, "timeout", "" }, { conn:receive(1) })
      end)

      it("sends a number as its string, and raises for other types", function()
        local client, conn = tcp_pair()
        assert.equal(2, client:send(12))
        assert.equal("12", conn:receive(2))
        assert.is_false(pcall(client.send, client, nil))
        assert.is_false(pcall(client.send, client, {}))
      end)

      it("answers nil, 'closed', the index of the last byte sent, to a closed peer", function()
        local client, conn = tcp_pair()
        conn:close()
        must(socket.select({ client }, nil, WAIT)[1])
        local big = string.rep("z", 200000)
        local result
        for _ = 1, 5 do
          result = pack(client:send(big, 101))
          if result[1] == nil then break end
        end
        assert.is_nil(result[1], "a send failed at last")
        assert.equal("closed", result[2])
        assert.is_number(result[3])
        assert.is_true(result[3] >= 100 and result[3] < #big,
          "the partial index " .. tostring(result[3]) .. " is between i - 1 and j")
        assert.same({ nil, "closed", 0 }, { client:send("abc") })
        assert.same({ nil, "closed", 2 }, { client:send("abc", 3) })
      end)

      it("answers nil, 'closed', 0 after our own close", function()
        local client = tcp_pair()
        client:close()
        assert.same({ nil, "closed", 0 }, { client:send("x") })
      end)

      it("sends 4 MiB in one call to a peer that checks the content", function()
        local server, port = listener()
        local child = spawn("verify", "127.0.0.1", port, 4 * MiB)
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        assert.same({ 4 * MiB, nil, nil }, { conn:send(util.pattern(4 * MiB)) })
        conn:close()
        assert.equal("ok " .. 4 * MiB, child.wait())
      end)
    end)

    ---------------------------------------------------------------------------
    describe("tcp over ::1", function()
      it_ipv6("exchanges lines and names the family inet6", function()
        local client, conn = tcp_pair("::1")
        must(client:send("six\n"))
        assert.equal("six", conn:receive())
        local addr, port, family = client:getpeername()
        assert.same({ "::1", "inet6" }, { addr, family })
        assert.is_number(port)
        addr, port, family = conn:getsockname()
        assert.same({ "::1", "inet6" }, { addr, family })
        assert.is_string(port)
        assert.equal("inet6", client:getfamily())
      end)

      it_ipv6("socket.bind and socket.connect work on ::1", function()
        local server = track(must(socket.bind("::1", 0)))
        local _, port = server:getsockname()
        local client = track(must(socket.connect("::1", tonumber(port))))
        assert.truthy(tostring(client):match("^tcp{client}"))
        assert.equal("inet6", server:getfamily())
      end)
    end)

    ---------------------------------------------------------------------------
    describe("object classes", function()
      local TCP_METHODS = { "accept", "bind", "close", "connect", "dirty", "getfamily", "getfd",
        "getoption", "getpeername", "getsockname", "getstats", "gettimeout", "listen", "receive",
        "send", "setfd", "setoption", "setpeername", "setsockname", "setstats", "settimeout",
        "shutdown" }
      local UDP_METHODS = { "close", "dirty", "getfamily", "getfd", "getoption", "getpeername",
        "getsockname", "gettimeout", "receive", "receivefrom", "send", "sendto", "setfd",
        "setoption", "setpeername", "setsockname", "settimeout" }

      local function assert_class(class, s)
        local text = tostring(s)
        assert.truthy(text:match("^" .. class:gsub("[{}]", "%%%0") .. ": %S+$"),
          ("tostring %q is not %q followed by an address"):format(text, class .. ": "))
        assert.equal(class, s.class)
      end

      local function assert_methods(names, s)
        for _, name in ipairs(names) do
          assert.is_function(s[name], tostring(s) .. " has " .. name)
        end
      end

      local function kinds_of_objects()
        local client, conn = tcp_pair()
        local kinds = {}
        for _, s in ipairs { track(socket.tcp()), (listener()), client, conn, track(socket.udp()),
            track(unix.stream()), track(unix.dgram()) } do
          kinds[#kinds + 1] = type(s)
        end
        return kinds, client
      end

      it_unlike("type() of every object", "a userdata", function()
        assert.same({ "userdata", "userdata", "userdata", "userdata", "userdata", "userdata", "userdata" },
          (kinds_of_objects()))
      end, "a table (pure Lua over lsock's sockets), whose lsock() is the lsock socket", function()
        local kinds, client = kinds_of_objects()
        assert.same({ "table", "table", "table", "table", "table", "table", "table" }, kinds)
        assert.truthy(tostring(client:lsock()):match("^lsock%.socket: tcp "), tostring(client:lsock()))
        assert.equal(client:getfd(), client:lsock():getfd())
      end)

      it("tcp() is tcp{master}, bind keeps it, listen makes tcp{server}", function()
        local m = track(socket.tcp())
        assert_class("tcp{master}", m)
        assert.equal(1, m:bind("127.0.0.1", 0))
        assert_class("tcp{master}", m)
        assert.equal(1, m:listen())
        assert_class("tcp{server}", m)
      end)

      it("connect makes tcp{client}, and accept returns one tcp{client} and nothing else", function()
        local server, port = listener()
        local c = track(socket.tcp())
        c:settimeout(WAIT)
        assert.equal(1, c:connect("127.0.0.1", port))
        assert_class("tcp{client}", c)
        local r = pack(server:accept())
        assert.equal(1, r.n)
        track(r[1])
        assert_class("tcp{client}", r[1])
      end)

      it_unlike("a failed connect", "turns the master into tcp{client} as well", function()
        local c = track(socket.tcp())
        assert.same({ nil, "connection refused" }, { c:connect("127.0.0.1", closed_port()) })
        assert_class("tcp{client}", c)
      end, "leaves a tcp{master}, which may connect again", function()
        local c = track(socket.tcp())
        c:settimeout(WAIT)
        assert.same({ nil, "connection refused" }, { c:connect("127.0.0.1", closed_port()) })
        assert_class("tcp{master}", c)
        local _, port = listener()
        assert.same({ 1 }, { c:connect("127.0.0.1", port) })
        assert_class("tcp{client}", c)
      end)

      it("tcp4() and tcp6() are tcp{master} too, listening gives tcp{server}", function()
        assert_class("tcp{master}", track(socket.tcp4()))
        assert_class("tcp{master}", track(socket.tcp6()))
        assert_class("tcp{server}", track(must(socket.bind("127.0.0.1", 0))))
      end)

      it("tostring(s):match('^tcp{client}') and friends tell the kinds apart", function()
        local client, conn = tcp_pair()
        local kinds = {}
        for _, s in ipairs { track(socket.tcp()), (listener()), client, conn, track(socket.udp()) } do
          kinds[#kinds + 1] = tostring(s):match("^(%a+{%a+})")
        end
        assert.same({ "tcp{master}", "tcp{server}", "tcp{client}", "tcp{client}", "udp{unconnected}" }, kinds)
      end)

      it("udp() is udp{unconnected}; setsockname keeps it, setpeername connects, " ..
        "setpeername('*') unconnects", function()
        local u = track(socket.udp())
        assert_class("udp{unconnected}", u)
        assert.equal(1, u:setsockname("127.0.0.1", 0))
        assert_class("udp{unconnected}", u)
        assert.equal(1, u:setpeername("127.0.0.1", 9))
        assert_class("udp{connected}", u)
        assert.equal(1, u:setpeername("*"))
        assert_class("udp{unconnected}", u)
        assert_class("udp{unconnected}", track(socket.udp4()))
        assert_class("udp{unconnected}", track(socket.udp6()))
      end)

      it("every tcp class has every tcp method", function()
        local client = tcp_pair()
        assert_methods(TCP_METHODS, track(socket.tcp()))
        assert_methods(TCP_METHODS, (listener()))
        assert_methods(TCP_METHODS, client)
      end)

      it("both udp classes have every udp method, and none of connect, bind, listen, accept, getstats", function()
        local u = track(socket.udp())
        local c = track(socket.udp())
        must(c:setpeername("127.0.0.1", 9))
        for _, s in ipairs { u, c } do
          assert_methods(UDP_METHODS, s)
          for _, name in ipairs { "connect", "bind", "listen", "accept", "getstats", "setstats" } do
            assert.is_nil(s[name], tostring(s) .. "." .. name)
          end
        end
        assert_raises_with("attempt to call", function() return u:connect("127.0.0.1", 9) end)
      end)

      it("a method called on the wrong class raises naming the class it needs", function()
        local client = tcp_pair()
        local server = listener()
        local master = track(socket.tcp())
        master:settimeout(1) -- none of these calls may wait, but a wrong one must not hang
        assert_raises_with("tcp{server} expected", function() return client:accept() end)
        assert_raises_with("tcp{server} expected", function() return master:accept() end)
        assert_raises_with("tcp{client} expected", function() return master:send("x") end)
        assert_raises_with("tcp{client} expected", function() return server:receive() end)
        assert_raises_with("tcp{master} expected", function() return server:listen() end)
        assert_raises_with("tcp{master} expected", function() return client:bind("127.0.0.1", 0) end)
        local u = track(socket.udp())
        local c = track(socket.udp())
        u:settimeout(1)
        c:settimeout(1)
        must(c:setpeername("127.0.0.1", 9))
        assert_raises_with("udp{connected} expected", function() return u:send("x") end)
        assert_raises_with("udp{connected} expected", function() return u:getpeername() end)
        assert_raises_with("udp{unconnected} expected", function() return c:sendto("x", "127.0.0.1", 9) end)
        assert_raises_with("udp{unconnected} expected", function() return c:receivefrom() end)
      end)

      it("a closed object keeps its class", function()
        local client = tcp_pair()
        client:close()
        assert_class("tcp{client}", client)
        local u = track(socket.udp())
        u:close()
        assert_class("udp{unconnected}", u)
      end)
    end)

    ---------------------------------------------------------------------------
    describe("timeouts", function()
      it("settimeout returns 1, gettimeout the block and total timeouts (-1: none)", function()
        local c = track(socket.tcp())
        assert.same({ -1, -1 }, { c:gettimeout() })
        assert.equal(1, c:settimeout(1))
        assert.same({ 1, -1 }, { c:gettimeout() })
        assert.equal(1, c:settimeout(2, "t"))
        assert.same({ 1, 2 }, { c:gettimeout() })
        assert.equal(1, c:settimeout(3, "b"))
        assert.same({ 3, 2 }, { c:gettimeout() })
        assert.equal(1, c:settimeout(nil))
        assert.same({ -1, 2 }, { c:gettimeout() })
        assert.equal(1, c:settimeout(-5, "t"))
        assert.same({ -1, -5 }, { c:gettimeout() }, "a negative timeout is kept as given")
      end)

      it("raises for an unknown timeout mode", function()
        local c = track(socket.tcp())
        assert_raises_with("invalid timeout mode", c.settimeout, c, 1, "x")
      end)

      -- A peer sends "0123456789" one byte every 0.25 s; a receive(10) with
      -- the timeouts set by `setup` must end after about 0.6 s with 1 to 3
      -- bytes.
      local function trickle_cut(setup)
        local server, port = listener()
        local child = spawn("trickle", "127.0.0.1", port, 0.25, util.tohex("0123456789"))
        local conn = track(must(server:accept()))
        setup(conn)
        local took, r = timed(conn.receive, conn, 10)
        assert.is_nil(r[1])
        assert.equal("timeout", r[2])
        assert.is_string(r[3])
        assert.is_true(#r[3] >= 1 and #r[3] <= 3, "partial " .. r[3])
        assert.equal(("0123456789"):sub(1, #r[3]), r[3])
        assert.is_true(took >= 0.5 and took < 2, "took " .. took .. " s")
        conn:close()
        local out = child.wait()
        assert.truthy(out:match("^stopped at %d+ closed$") or out == "trickled 10", out)
      end

      it("'t' bounds the whole call, so a trickle ends in nil, 'timeout', partial", function()
        trickle_cut(function(conn) conn:settimeout(0.6, "t") end)
      end)

      it("'b' alone also bounds the whole call, counted from its start", function()
        trickle_cut(function(conn) conn:settimeout(0.6) end)
      end)

      it("with a total timeout set too, 'b' bounds each wait, so a slower trickle completes", function()
        local server, port = listener()
        local child = spawn("trickle", "127.0.0.1", port, 0.1, util.tohex("0123456"))
        local conn = track(must(server:accept()))
        conn:settimeout(0.4)
        conn:settimeout(WAIT, "t")
        local took, r = timed(conn.receive, conn, 7)
        assert.same({ "0123456", nil, nil }, r)
        assert.is_true(took >= 0.5, "took " .. took .. " s, longer than the block timeout")
        assert.equal("trickled 7", child.wait())
      end)

      it_unlike("a master with timeout 0", "answers connect nil, 'timeout', then connects", function()
        local server, port = listener()
        local c = track(socket.tcp())
        assert.equal(1, c:settimeout(0))
        assert.same({ nil, "timeout" }, { c:connect("127.0.0.1", port) })
        assert.truthy(tostring(c):match("^tcp{client}"))
        local _, w, err = socket.select(nil, { c }, WAIT)
        assert.is_nil(err)
        assert.equal(1, w[c])
        assert.same({ 1 }, { c:connect("127.0.0.1", port) })
        assert.same({ nil, "already connected" }, { c:connect("127.0.0.1", port) })
        local addr, peer_port = c:getpeername()
        assert.same({ "127.0.0.1", port }, { addr, peer_port })
        c:settimeout(WAIT)
        must(c:send("hi\n"))
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        assert.equal("hi", conn:receive())
      end, "connects at once when the connection is made at once (loopback), else as LuaSocket", function()
        local server, port = listener()
        local c = track(socket.tcp())
        assert.equal(1, c:settimeout(0))
        local r = { c:connect("127.0.0.1", port) }
        if r[1] == nil then
          assert.same({ nil, "timeout" }, r)
          local _, w = socket.select(nil, { c }, WAIT)
          assert.equal(1, w[c])
          assert.same({ 1 }, { c:connect("127.0.0.1", port) })
        else
          assert.same({ 1 }, r)
        end
        assert.truthy(tostring(c):match("^tcp{client}"))
        assert.same({ nil, "already connected" }, { c:connect("127.0.0.1", port) })
        local addr, peer_port = c:getpeername()
        assert.same({ "127.0.0.1", port }, { addr, peer_port })
        c:settimeout(WAIT)
        must(c:send("hi\n"))
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        assert.equal("hi", conn:receive())
      end)

      it_unlike("a master with timeout 0 and a closed port", "learns 'connection refused' on the next connect",
        function()
          local port = closed_port()
          local c = track(socket.tcp())
          c:settimeout(0)
          assert.same({ nil, "timeout" }, { c:connect("127.0.0.1", port) })
          socket.select(nil, { c }, WAIT)
          assert.same({ nil, "connection refused" }, { c:connect("127.0.0.1", port) })
        end, "learns it on the first connect when the refusal is there at once, else on the next", function()
          local port = closed_port()
          local c = track(socket.tcp())
          c:settimeout(0)
          local r = { c:connect("127.0.0.1", port) }
          if r[2] == "timeout" then
            socket.select(nil, { c }, WAIT)
            r = { c:connect("127.0.0.1", port) }
          end
          assert.same({ nil, "connection refused" }, r)
        end)

      it("connect answers nil, 'timeout' at its timeout when the listener's queue is full", function()
        local server = track(socket.tcp())
        must(server:bind("127.0.0.1", 0))
        must(server:listen(0))
        local _, port = server:getsockname()
        local first = track(socket.tcp())
        first:settimeout(WAIT)
        must(first:connect("127.0.0.1", tonumber(port)))
        local c = track(socket.tcp())
        c:settimeout(0.3)
        local took, r = timed(c.connect, c, "127.0.0.1", tonumber(port))
        assert.same({ nil, "timeout" }, r)
        assert.is_true(took >= 0.25 and took < 2, "took " .. took .. " s")
      end)

      it("accept answers nil, 'timeout' at its timeout, and at once with 0", function()
        local server = listener()
        server:settimeout(0.2)
        local took, r = timed(server.accept, server)
        assert.same({ nil, "timeout" }, r)
        assert.is_true(took >= 0.15 and took < 2, "took " .. took .. " s")
        server:settimeout(0)
        took, r = timed(server.accept, server)
        assert.same({ nil, "timeout" }, r)
        assert.is_true(took < 0.5, "took " .. took .. " s")
      end)

      it("a receive waits about its timeout", function()
        local _, conn = tcp_pair()
        conn:settimeout(0.2)
        local took, r = timed(conn.receive, conn)
        assert.same({ nil, "timeout", "" }, r)
        assert.is_true(took >= 0.15 and took < 2, "took " .. took .. " s")
      end)

      it("gettime is the wall clock in seconds with a fraction", function()
        local t = socket.gettime()
        assert.is_number(t)
        assert.is_true(math.abs(t - os.time()) < 2, "gettime " .. t .. ", os.time " .. os.time())
        local frac = false
        for _ = 1, 100 do
          if socket.gettime() % 1 ~= 0 then frac = true break end
        end
        assert.is_true(frac, "gettime has a fraction")
      end)

      it("sleep waits that long and returns nothing", function()
        local took, _, n = timed(socket.sleep, 0.1)
        assert.equal(0, n)
        assert.is_true(took >= 0.09 and took < 1, "took " .. took .. " s")
      end)
    end)

    ---------------------------------------------------------------------------
    describe("error strings", function()
      it("'connection refused' from socket.connect and connect", function()
        local port = closed_port()
        assert.same({ nil, "connection refused" }, { socket.connect("127.0.0.1", port) })
        local c = track(socket.tcp())
        c:settimeout(WAIT)
        assert.same({ nil, "connection refused" }, { c:connect("127.0.0.1", port) })
      end)

      it("'address already in use' from bind, socket.bind and setsockname", function()
        local _, port = listener()
        local m = track(socket.tcp())
        assert.same({ nil, "address already in use" }, { m:bind("127.0.0.1", port) })
        assert.same({ nil, "address already in use" }, { socket.bind("127.0.0.1", port) })
        local _, uport = udp_bound()
        local u = track(socket.udp())
        assert.same({ nil, "address already in use" }, { u:setsockname("127.0.0.1", uport) })
      end)

      it("'address already in use' from socket.connect with a local port taken", function()
        local _, port = listener()
        local first = track(must(socket.connect("127.0.0.1", port, "127.0.0.1", 0)))
        local _, lport = first:getsockname()
        assert.same({ nil, "address already in use" },
          { socket.connect("127.0.0.1", port, "127.0.0.1", tonumber(lport)) })
      end)

      it("a name under .invalid: getaddrinfo's 'host or service not provided, or not known'", function()
        local msg = "host or service not provided, or not known"
        assert.same({ nil, msg }, { socket.connect("nonexistent.invalid", 80) })
        assert.same({ nil, msg }, { track(socket.tcp()):connect("nonexistent.invalid", 80) })
        assert.same({ nil, msg }, { track(socket.tcp()):bind("nonexistent.invalid", 80) })
        assert.same({ nil, msg }, { socket.bind("nonexistent.invalid", 80) })
        assert.same({ nil, msg }, { track(socket.udp()):setpeername("nonexistent.invalid", 9) })
        assert.same({ nil, msg }, { track(socket.udp()):setsockname("nonexistent.invalid", 9) })
        assert.same({ nil, msg }, { socket.dns.getaddrinfo("nonexistent.invalid") })
        assert.same({ nil, msg }, { socket.dns.getnameinfo("nonexistent.invalid") })
      end)

      it("a name under .invalid: sendto's 'Name or service not known' (gai_strerror)", function()
        assert.same({ nil, "Name or service not known" },
          { track(socket.udp()):sendto("x", "nonexistent.invalid", 9) })
      end)

      it("a name under .invalid: toip and tohostname's 'host not found'", function()
        assert.same({ nil, "host not found" }, { socket.dns.toip("nonexistent.invalid") })
        assert.same({ nil, "host not found" }, { socket.dns.tohostname("nonexistent.invalid") })
      end)

      it("tcp6() connecting to an IPv4 literal: 'Address family for hostname not supported'", function()
        local _, port = listener()
        local c = track(socket.tcp6())
        c:settimeout(WAIT)
        assert.same({ nil, "Address family for hostname not supported" }, { c:connect("127.0.0.1", port) })
      end)

      it("'timeout' and 'closed' are the bare words", function()
        local client, conn = tcp_pair()
        conn:settimeout(0)
        assert.equal("timeout", select(2, conn:receive()))
        client:close()
        assert.equal("closed", select(2, conn:receive()))
      end)

      it("getpeername and getsockname of a fresh tcp() master: nil, 'Bad file descriptor' " ..
        "(no descriptor yet)", function()
        local m = track(socket.tcp())
        assert.same({ nil, "Bad file descriptor" }, { m:getpeername() })
        assert.same({ nil, "Bad file descriptor" }, { m:getsockname() })
      end)

      it("getpeername of a server or a bound master: nil, 'Transport endpoint is not connected'", function()
        local server = listener()
        assert.same({ nil, "Transport endpoint is not connected" }, { server:getpeername() })
        local m = track(socket.tcp())
        must(m:bind("127.0.0.1", 0))
        assert.same({ nil, "Transport endpoint is not connected" }, { m:getpeername() })
      end)

      it("getsockname of an unused udp(): nil, 'Bad file descriptor'", function()
        assert.same({ nil, "Bad file descriptor" }, { track(socket.udp()):getsockname() })
      end)

      it("a closed tcp object: receive nil, 'closed', ''; names 'Bad file descriptor'; fd -1; close 1", function()
        local client = tcp_pair()
        assert.equal(1, client:close())
        assert.same({ nil, "closed", "" }, { client:receive() })
        assert.same({ nil, "closed", 0 }, { client:send("x") })
        assert.same({ nil, "Bad file descriptor" }, { client:getpeername() })
        assert.same({ nil, "Bad file descriptor" }, { client:getsockname() })
        assert.equal(-1, client:getfd())
        assert.is_false(client:dirty())
        assert.equal(1, client:settimeout(1))
        assert.same({ nil, "setsockopt failed" }, { client:setoption("tcp-nodelay", true) })
        assert.same({ nil, "getsockopt failed" }, { client:getoption("tcp-nodelay") })
        assert.equal(1, client:shutdown())
        assert.equal(1, client:close())
      end)

      it_differs("a closed udp object",
        "send nil, 'refused'; receive ''; receivefrom nil, 'ai_family not supported'", function()
          local c = track(socket.udp())
          c:settimeout(1)
          must(c:setpeername("127.0.0.1", 9))
          assert.equal(1, c:close())
          assert.same({ nil, "refused" }, { c:send("x") })
          assert.same({ "" }, { c:receive() })
          local u = udp_bound()
          assert.equal(1, u:close())
          assert.same({ nil, "refused" }, { u:sendto("x", "127.0.0.1", 9) })
          assert.same({ nil, "ai_family not supported" }, { u:receivefrom() })
          assert.same({ "" }, { u:receive() })
          assert.equal(-1, u:getfd())
        end, "every call answers nil, 'closed'", function()
          local c = track(socket.udp())
          c:settimeout(1)
          must(c:setpeername("127.0.0.1", 9))
          assert.equal(1, c:close())
          assert.same({ nil, "closed" }, { c:send("x") })
          assert.same({ nil, "closed" }, { c:receive() })
          local u = udp_bound()
          assert.equal(1, u:close())
          assert.same({ nil, "closed" }, { u:sendto("x", "127.0.0.1", 9) })
          assert.same({ nil, "closed" }, { u:receivefrom() })
          assert.same({ nil, "closed" }, { u:receive() })
          assert.equal(-1, u:getfd())
        end)

      it("a udp socket connected to a closed port learns 'connection refused' once", function()
        local c = track(socket.udp())
        c:settimeout(WAIT)
        must(c:setpeername("127.0.0.1", closed_port()))
        assert.equal(1, c:send("x"))
        assert.same({ nil, "connection refused" }, { c:receive() })
        assert.equal(1, c:send("x"))
      end)
    end)

    ---------------------------------------------------------------------------
    describe("options", function()
      local function roundtrip(s, name, on, off)
        assert.equal(1, s:setoption(name, on), "setoption " .. name)
        assert.equal(on, s:getoption(name), "getoption " .. name)
        assert.equal(1, s:setoption(name, off), "setoption " .. name)
        assert.equal(off, s:getoption(name), "getoption " .. name)
      end

      it("tcp-nodelay, keepalive, reuseaddr, reuseport: booleans, default false", function()
        local client = tcp_pair()
        for _, name in ipairs { "tcp-nodelay", "keepalive", "reuseaddr", "reuseport" } do
          assert.is_false(client:getoption(name), name)
          roundtrip(client, name, true, false)
        end
      end)

      it("tcp-keepidle, tcp-keepcnt, tcp-keepintvl: numbers", function()
        local client = tcp_pair()
        roundtrip(client, "tcp-keepidle", 30, 60)
        roundtrip(client, "tcp-keepcnt", 3, 5)
        roundtrip(client, "tcp-keepintvl", 10, 20)
      end)

      local function linger_round_trip()
        local client = tcp_pair()
        assert.same({ on = false, timeout = 0 }, client:getoption("linger"))
        assert.equal(1, client:setoption("linger", { on = true, timeout = 5 }))
        assert.same({ on = true, timeout = 5 }, client:getoption("linger"))
        assert.equal(1, client:setoption("linger", { on = false, timeout = 0 }))
        return client:getoption("linger")
      end

      it_unlike("linger takes and gives {on=, timeout=}; switched off",
        "reports the last timeout (Linux keeps it)", function()
          assert.same({ on = false, timeout = 5 }, linger_round_trip())
        end, "reports timeout 0", function()
          assert.same({ on = false, timeout = 0 }, linger_round_trip())
        end)

      it("linger raises for a value that is not such a table", function()
        local client = tcp_pair()
        assert_raises_with("table expected", client.setoption, client, "linger", true)
        assert_raises_with("'timeout' field", client.setoption, client, "linger", { on = true })
        assert_raises_with("'on' field", client.setoption, client, "linger", { on = 1, timeout = 1 })
      end)

      it("a boolean option raises for a value that is not a boolean", function()
        local client = tcp_pair()
        assert_raises_with("boolean expected", client.setoption, client, "tcp-nodelay", 1)
        assert_raises_with("boolean expected", client.setoption, client, "tcp-nodelay", "yes")
        assert_raises_with("boolean expected", client.setoption, client, "tcp-nodelay")
      end)

      it("send-buffer-size and recv-buffer-size: numbers (the kernel may round up)", function()
        local client = tcp_pair()
        for _, name in ipairs { "send-buffer-size", "recv-buffer-size" } do
          assert.is_number(client:getoption(name), name)
          assert.equal(1, client:setoption(name, 65536), name)
          local got = client:getoption(name)
          assert.is_true(got >= 65536, name .. " " .. tostring(got))
        end
        local u = udp_bound()
        assert.equal(1, u:setoption("recv-buffer-size", 65536))
        assert.is_true(u:getoption("recv-buffer-size") >= 65536)
      end)

      it("an unknown option raises 'unsupported option'", function()
        local client = tcp_pair()
        assert_raises_with("unsupported option `bogus'", client.setoption, client, "bogus", true)
        assert_raises_with("unsupported option `bogus'", client.getoption, client, "bogus")
        local u = udp_bound()
        assert_raises_with("unsupported option `bogus'", u.setoption, u, "bogus", true)
      end)

      it("an option of the other protocol raises 'unsupported option'", function()
        local client = tcp_pair()
        assert_raises_with("unsupported option `broadcast'", client.setoption, client, "broadcast", true)
        assert_raises_with("unsupported option `ip-multicast-loop'", client.getoption, client, "ip-multicast-loop")
        local u = udp_bound()
        assert_raises_with("unsupported option `tcp-nodelay'", u.setoption, u, "tcp-nodelay", true)
        assert_raises_with("unsupported option `linger'", u.getoption, u, "linger")
      end)

      it("ipv6-v6only on an IPv4 socket: nil, 'setsockopt failed' (every setsockopt failure says that)", function()
        local client = tcp_pair()
        assert.same({ nil, "setsockopt failed" }, { client:setoption("ipv6-v6only", true) })
        local u = udp_bound()
        assert.same({ nil, "setsockopt failed" }, { u:setoption("ipv6-v6only", true) })
      end)

      it("ipv6-v6only can be set on tcp but not read (3.1 has no getter there)", function()
        local m = track(socket.tcp6())
        assert.equal(1, m:setoption("ipv6-v6only", false))
        assert_raises_with("unsupported option `ipv6-v6only'", m.getoption, m, "ipv6-v6only")
      end)

      it_ipv6("tcp6 starts with ipv6-v6only on: an IPv4 client is refused on '::'", function()
        local m = track(socket.tcp6())
        must(m:bind("::", 0))
        must(m:listen())
        local _, port = m:getsockname()
        assert.same({ nil, "connection refused" }, { socket.connect("127.0.0.1", tonumber(port)) })
      end)

      it_ipv6("tcp6 with ipv6-v6only false accepts an IPv4 client on '::' as ::ffff:127.0.0.1", function()
        local m = track(socket.tcp6())
        assert.equal(1, m:setoption("ipv6-v6only", false))
        must(m:bind("::", 0))
        must(m:listen())
        m:settimeout(WAIT)
        local _, port = m:getsockname()
        track(must(socket.connect("127.0.0.1", tonumber(port))))
        local conn = track(must(m:accept()))
        local addr, _, family = conn:getpeername()
        assert.same({ "::ffff:127.0.0.1", "inet6" }, { addr, family })
      end)

      it_ipv6("udp6 starts with ipv6-v6only true, and it can be turned off", function()
        local u = track(socket.udp6())
        assert.is_true(u:getoption("ipv6-v6only"))
        assert.equal(1, u:setoption("ipv6-v6only", false))
        assert.is_false(u:getoption("ipv6-v6only"))
      end)

      it("udp broadcast, dontroute, reuseaddr, reuseport: booleans", function()
        local u = udp_bound()
        for _, name in ipairs { "broadcast", "dontroute", "reuseaddr", "reuseport" } do
          assert.is_false(u:getoption(name), name)
          roundtrip(u, name, true, false)
        end
      end)

      it("ip-multicast-ttl can be set but not read (3.1 has no getter)", function()
        local u = udp_bound()
        assert.equal(1, u:setoption("ip-multicast-ttl", 3))
        assert_raises_with("unsupported option `ip-multicast-ttl'", u.getoption, u, "ip-multicast-ttl")
      end)

      it("ip-multicast-loop (default true) and ip-multicast-if (default 0.0.0.0)", function()
        local u = udp_bound()
        assert.is_true(u:getoption("ip-multicast-loop"))
        roundtrip(u, "ip-multicast-loop", false, true)
        assert.equal("0.0.0.0", u:getoption("ip-multicast-if"))
        assert.equal(1, u:setoption("ip-multicast-if", "127.0.0.1"))
        assert.equal("127.0.0.1", u:getoption("ip-multicast-if"))
      end)

      it("ip-add-membership and ip-drop-membership on lo: the group's datagrams come, then stop", function()
        local group = "239.255.77." .. (checks.our_pid() % 200 + 1)
        local rx = track(socket.udp4())
        must(rx:setoption("reuseaddr", true))
        must(rx:setsockname(group, 0))
        local _, port = rx:getsockname()
        port = tonumber(port)
        rx:settimeout(WAIT)
        local membership = { multiaddr = group, interface = "127.0.0.1" }
        assert.equal(1, rx:setoption("ip-add-membership", membership))
        assert.same({ nil, "setsockopt failed" }, { rx:setoption("ip-add-membership", membership) })
        local tx = track(socket.udp4())
        must(tx:setoption("ip-multicast-if", "127.0.0.1"))
        must(tx:setoption("ip-multicast-loop", true))
        must(tx:setoption("ip-multicast-ttl", 1))
        assert.equal(5, tx:sendto("group", group, port))
        local data, addr = rx:receivefrom()
        assert.same({ "group", "127.0.0.1" }, { data, addr })
        assert.equal(1, rx:setoption("ip-drop-membership", membership))
        assert.same({ nil, "setsockopt failed" }, { rx:setoption("ip-drop-membership", membership) })
        must(tx:sendto("after", group, port))
        rx:settimeout(0.2)
        assert.same({ nil, "timeout" }, { rx:receivefrom() })
      end)

      it("ip-add-membership raises for a bad table", function()
        local u = udp_bound()
        assert_raises_with("table expected", u.setoption, u, "ip-add-membership", "239.1.1.1")
        assert_raises_with("'multiaddr' field", u.setoption, u, "ip-add-membership", { interface = "127.0.0.1" })
        assert_raises_with("invalid 'multiaddr' ip address", u.setoption, u, "ip-add-membership",
          { multiaddr = "nonsense", interface = "127.0.0.1" })
      end)

      -- lo has no MULTICAST flag (sending to ff02:: gives "Network is
      -- unreachable"), so this one runs in a private network namespace of
      -- its own over a veth pair, which touches nothing outside it.
      it_netns("ipv6-add-membership and ipv6-drop-membership on a veth pair in a namespace of our own", function()
        local lines, output = run_in_netns(PEER, impl, "mcast6", "v0")
        assert.equal("true", lines.dad, output)
        assert.equal("1", lines.join, output)
        assert.equal("nil setsockopt failed", lines.joinagain, output)
        assert.equal("1", lines.loop, output)
        assert.equal("6", lines.send, output)
        assert.truthy(lines.recv and lines.recv:match("^hello6 fe80:[%x:]+%%v0$"), output)
        assert.equal("1", lines.drop, output)
        assert.equal("nil setsockopt failed", lines.dropagain, output)
        assert.equal("nil timeout", lines.after, output)
      end)

      it_ipv6("ipv6-multicast-loop (default true) and ipv6-unicast-hops (default 64)", function()
        local u = track(socket.udp6())
        assert.is_true(u:getoption("ipv6-multicast-loop"))
        roundtrip(u, "ipv6-multicast-loop", false, true)
        assert.equal(64, u:getoption("ipv6-unicast-hops"))
        assert.equal(1, u:setoption("ipv6-unicast-hops", 7))
        assert.equal(7, u:getoption("ipv6-unicast-hops"))
      end)

      it_differs("ipv6-multicast-hops",
        "it sets and reads the unicast hops",
        function()
          local u = track(socket.udp6())
          assert.equal(64, u:getoption("ipv6-multicast-hops"), "reads the unicast default")
          assert.equal(1, u:setoption("ipv6-multicast-hops", 5))
          assert.equal(5, u:getoption("ipv6-unicast-hops"), "the unicast hops changed")
          assert.equal(5, u:getoption("ipv6-multicast-hops"))
        end,
        "it sets and reads the multicast hops, the unicast hops stay",
        function()
          local u = track(socket.udp6())
          assert.equal(1, u:getoption("ipv6-multicast-hops"), "the kernel's multicast default")
          assert.equal(1, u:setoption("ipv6-multicast-hops", 5))
          assert.equal(5, u:getoption("ipv6-multicast-hops"))
          assert.equal(64, u:getoption("ipv6-unicast-hops"), "the unicast hops did not change")
        end, it_ipv6)

      it("getoption('error') gives nil, then a pending error once as LuaSocket's string", function()
        local u = track(socket.udp4())
        u:settimeout(WAIT)
        must(u:setpeername("127.0.0.1", closed_port()))
        assert.same({ nil }, { u:getoption("error") })
        must(u:send("x"))
        must(socket.select({ u }, nil, WAIT)[1]) -- the ICMP error makes it readable
        assert.equal("connection refused", u:getoption("error"))
        assert.is_nil(u:getoption("error"))
        local client = tcp_pair()
        assert.is_nil(client:getoption("error"))
      end)

      it_differs("a tcp() or udp() with no descriptor yet",
        "fails setoption (the option is lost) and getoption", function()
          local t = track(socket.tcp())
          assert.same({ nil, "setsockopt failed" }, { t:setoption("reuseaddr", true) })
          assert.same({ nil, "getsockopt failed" }, { t:getoption("reuseaddr") })
          local u = track(socket.udp())
          assert.same({ nil, "setsockopt failed" }, { u:setoption("broadcast", true) })
          assert.same({ nil, "getsockopt failed" }, { u:getoption("broadcast") })
        end, "keeps setoption's value and sets it when bind or connect makes the descriptor", function()
          local t = track(socket.tcp())
          assert.same({ 1 }, { t:setoption("reuseaddr", true) })
          assert.same({ nil, "getsockopt failed" }, { t:getoption("reuseaddr") })
          assert.equal(1, t:bind("127.0.0.1", 0))
          assert.is_true(t:getoption("reuseaddr"))
          local u = track(socket.udp())
          assert.same({ 1 }, { u:setoption("broadcast", true) })
          assert.equal(1, u:setsockname("127.0.0.1", 0))
          assert.is_true(u:getoption("broadcast"))
        end)

      it("tcp4() and udp4() have a descriptor at once, so their options work before bind", function()
        local t = track(socket.tcp4())
        assert.equal(1, t:setoption("reuseaddr", true))
        assert.is_true(t:getoption("reuseaddr"))
        local u = track(socket.udp4())
        assert.equal(1, u:setoption("broadcast", true))
        assert.is_true(u:getoption("broadcast"))
      end)

      it("socket.bind turns reuseaddr on", function()
        local server = track(must(socket.bind("127.0.0.1", 0)))
        assert.is_true(server:getoption("reuseaddr"))
      end)
    end)

    ---------------------------------------------------------------------------
    describe("descriptors, buffers, statistics, names", function()
      it("getfd: a descriptor once there is one; -1 for a fresh tcp() or udp()", function()
        local client = tcp_pair()
        local fd = client:getfd()
        assert.is_number(fd)
        assert.is_true(fd >= 0)
        assert.equal(-1, track(socket.tcp()):getfd())
        assert.equal(-1, track(socket.udp()):getfd())
        assert.is_true(track(socket.tcp4()):getfd() >= 0)
        assert.is_true(track(socket.udp4()):getfd() >= 0)
      end)

      it("setfd(-1) detaches the descriptor from the object, setfd(fd) puts it back", function()
        local client, conn = tcp_pair()
        local fd = client:getfd()
        assert.equal(0, pack(client:setfd(-1)).n)
        assert.equal(-1, client:getfd())
        client:close()
        conn:settimeout(0.1)
        assert.same({ nil, "timeout", "" }, { conn:receive() }, "the connection is still open")
        client:setfd(fd)
        assert.equal(fd, client:getfd())
        must(client:send("back\n"))
        conn:settimeout(WAIT)
        assert.equal("back", conn:receive())
        client:close()
        assert.same({ nil, "closed", "" }, { conn:receive() })
      end)

      it("dirty is true while received bytes are buffered", function()
        local client, conn = tcp_pair()
        assert.is_false(conn:dirty())
        must(client:send("a\nb\n"))
        assert.equal("a", conn:receive())
        assert.is_true(conn:dirty())
        assert.equal("b", conn:receive())
        assert.is_false(conn:dirty())
      end)

      it("getstats gives bytes received, bytes sent and the age in seconds", function()
        local client, conn = tcp_pair()
        must(client:send("0123456789"))
        assert.equal("0123456789", conn:receive(10))
        local received, sent, age = client:getstats()
        assert.same({ 0, 10 }, { received, sent })
        assert.is_number(age)
        assert.is_true(age >= 0 and age < 5, "age " .. tostring(age))
        received, sent = conn:getstats()
        assert.same({ 10, 0 }, { received, sent })
      end)

      it("setstats sets the counts and the age and returns 1", function()
        local client = tcp_pair()
        assert.equal(1, client:setstats(10, 20, 30))
        local received, sent, age = client:getstats()
        assert.same({ 10, 20 }, { received, sent })
        assert.is_true(age >= 30 and age < 31, "age " .. tostring(age))
      end)

      it("getsockname gives addr, port as a string, 'inet'; getpeername the port as a number", function()
        local client, conn = tcp_pair()
        local addr, port, family = conn:getsockname()
        assert.same({ "127.0.0.1", "string", "inet" }, { addr, type(port), family })
        local paddr, pport, pfamily = client:getpeername()
        assert.same({ "127.0.0.1", "number", "inet" }, { paddr, type(pport), pfamily })
        assert.equal(tonumber(port), pport)
        local caddr, cport = client:getsockname()
        local qaddr, qport = conn:getpeername()
        assert.same({ caddr, tonumber(cport) }, { qaddr, qport })
      end)

      it("getfamily says inet4 or inet6 (inet4 for a tcp() without descriptor)", function()
        assert.equal("inet4", track(socket.tcp()):getfamily())
        assert.equal("inet4", track(socket.tcp4()):getfamily())
        assert.equal("inet6", track(socket.tcp6()):getfamily())
        assert.equal("inet4", track(socket.udp()):getfamily())
        assert.equal("inet6", track(socket.udp6()):getfamily())
        local client = tcp_pair()
        assert.equal("inet4", client:getfamily())
      end)

      it_ipv6("a tcp() bound to ::1 becomes inet6", function()
        local m = track(socket.tcp())
        must(m:bind("::1", 0))
        assert.equal("inet6", m:getfamily())
        local _, _, family = m:getsockname()
        assert.equal("inet6", family)
      end)

      it("shutdown('send') ends the peer's reading, we can still receive; it returns 1", function()
        local client, conn = tcp_pair()
        assert.equal(1, client:shutdown("send"))
        assert.same({ nil, "closed", "" }, { conn:receive() })
        must(conn:send("still\n"))
        assert.equal("still", client:receive())
        assert.equal(1, client:shutdown("receive"))
        assert.equal(1, client:shutdown())
        assert.equal(1, client:shutdown("both"))
      end)

      it("shutdown raises for an unknown way", function()
        local client = tcp_pair()
        assert_raises_with("invalid option 'bogus'", client.shutdown, client, "bogus")
      end)

      it("bind, listen, connect, setsockname, setpeername and close return 1", function()
        local m = track(socket.tcp())
        assert.same({ 1 }, { m:bind("127.0.0.1", 0) })
        assert.same({ 1 }, { m:listen(5) })
        local _, port = m:getsockname()
        local c = track(socket.tcp())
        c:settimeout(WAIT)
        assert.same({ 1 }, { c:connect("127.0.0.1", tonumber(port)) })
        local u = track(socket.udp())
        assert.same({ 1 }, { u:setsockname("127.0.0.1", 0) })
        assert.same({ 1 }, { u:setpeername("127.0.0.1", 9) })
        assert.same({ 1 }, { u:close() })
        assert.same({ 1 }, { c:close() })
        assert.same({ 1 }, { m:close() })
      end)

      it("listen on an unbound master binds the wildcard", function()
        local m = track(socket.tcp4())
        assert.equal(1, m:listen())
        assert.truthy(tostring(m):match("^tcp{server}"))
        local addr, port = m:getsockname()
        assert.equal("0.0.0.0", addr)
        assert.is_true(tonumber(port) > 0)
      end)

      local function number_subtypes(float)
        local server, port = listener()
        local c = track(socket.tcp())
        c:settimeout(WAIT)
        local function subtype(v) return math.type(v) end
        assert.equal(float, subtype(c:connect("127.0.0.1", port)), "connect")
        local conn = track(must(server:accept()))
        assert.equal(float, subtype(c:send("abc")), "send")
        assert.equal(float, subtype(c:getfd()), "getfd")
        assert.equal(float, subtype(c:settimeout(1)), "settimeout")
        assert.equal(float, subtype((c:getstats())), "getstats")
        assert.equal(float, subtype((c:gettimeout())), "gettimeout")
        assert.equal(float, subtype(c:setoption("tcp-nodelay", true)), "setoption")
        assert.equal("integer", subtype(select(2, c:getpeername())), "getpeername port")
        assert.equal("integer", subtype(c:getoption("linger").timeout), "linger timeout")
        assert.equal(float, subtype(c:getoption("tcp-keepidle")), "tcp-keepidle")
        conn:close()
        assert.equal(float, subtype(c:close()), "close")
        local u = udp_bound()
        local _, uport = u:getsockname()
        local v = track(socket.udp())
        assert.equal(float, subtype(v:sendto("x", "127.0.0.1", tonumber(uport))), "sendto")
        local _, _, from_port = u:receivefrom()
        assert.equal("integer", subtype(from_port), "receivefrom port")
      end

      it_unlike("number subtypes (Lua 5.3+)", "floats where LuaSocket's C code pushes lua_Number", function()
        number_subtypes("float")
      end, "integers: every count, index, descriptor and 1, and a timeout given as one", function()
        number_subtypes("integer")
      end, it_lua53)
    end)

    ---------------------------------------------------------------------------
    -- How many values each call returns (trailing nils included), as a
    -- script sees with print(sock:receive()) or select("#", ...).
    describe("result counts", function()
      local function count(...) return select("#", ...) end

      it("tcp receive and send give three results, on success too ('data nil nil')", function()
        local client, conn = tcp_pair()
        assert.equal(3, count(client:send("x\n")), "send")
        assert.equal(3, count(conn:receive()), "receive")
        conn:settimeout(0)
        assert.equal(3, count(conn:receive()), "receive timeout")
        client:close()
        assert.equal(3, count(conn:receive()), "receive closed")
        assert.equal(3, count(client:send("x")), "send closed")
      end)

      it("bind, listen, connect, close, settimeout, setoption, shutdown: one result, two on failure", function()
        local m = track(socket.tcp())
        assert.equal(1, count(m:bind("127.0.0.1", 0)), "bind")
        assert.equal(1, count(m:listen()), "listen")
        local _, port = m:getsockname()
        local c = track(socket.tcp())
        assert.equal(1, count(c:settimeout(WAIT)), "settimeout")
        assert.equal(1, count(c:connect("127.0.0.1", tonumber(port))), "connect")
        assert.equal(1, count(c:setoption("tcp-nodelay", true)), "setoption")
        assert.equal(1, count(c:getoption("tcp-nodelay")), "getoption")
        assert.equal(1, count(c:shutdown("send")), "shutdown")
        assert.equal(1, count(c:close()), "close")
        local refused = track(socket.tcp())
        refused:settimeout(WAIT)
        assert.equal(2, count(refused:connect("127.0.0.1", closed_port())), "connect refused")
        assert.equal(2, count(track(socket.tcp()):bind("127.0.0.1", tonumber(port))), "bind in use")
        assert.equal(2, count(socket.connect("127.0.0.1", closed_port())), "socket.connect refused")
      end)

      it("getsockname, getpeername and getstats: three results", function()
        local client = tcp_pair()
        assert.equal(3, count(client:getsockname()), "getsockname")
        assert.equal(3, count(client:getpeername()), "getpeername")
        assert.equal(3, count(client:getstats()), "getstats")
      end)

      it("accept: one result, two on a timeout", function()
        local server, port = listener()
        track(must(socket.connect("127.0.0.1", port)))
        local r = pack(server:accept())
        track(r[1])
        assert.equal(1, r.n, "accept")
        server:settimeout(0)
        assert.equal(2, count(server:accept()), "accept timeout")
      end)

      it("udp: send, sendto, setsockname, setpeername one; receive one (two on failure); " ..
        "receivefrom three (two on failure)", function()
        local u = track(socket.udp())
        u:settimeout(0.1)
        assert.equal(1, count(u:setsockname("127.0.0.1", 0)), "setsockname")
        local _, port = u:getsockname()
        assert.equal(1, count(u:sendto("x", "127.0.0.1", tonumber(port))), "sendto")
        assert.equal(3, count(u:receivefrom()), "receivefrom")
        assert.equal(2, count(u:receivefrom()), "receivefrom timeout")
        assert.equal(1, count(u:setpeername("127.0.0.1", tonumber(port))), "setpeername")
        assert.equal(1, count(u:send("x")), "send")
        assert.equal(1, count(u:receive()), "receive")
        assert.equal(2, count(u:receive()), "receive timeout")
      end)

      it("select: three results, whether something is ready or not", function()
        local server = listener()
        assert.equal(3, count(socket.select(nil, { server }, 0)), "select ready")
        assert.equal(3, count(socket.select({ server }, nil, 0)), "select timeout")
      end)
    end)

    ---------------------------------------------------------------------------
    describe("udp", function()
      it("sendto returns the size; receivefrom the data, the address and the port as a number", function()
        local rx, port = udp_bound()
        local tx, tport = udp_bound()
        assert.same({ 5 }, { tx:sendto("hello", "127.0.0.1", port) })
        assert.same({ "hello", "127.0.0.1", tport }, { rx:receivefrom() })
      end)

      it("an unbound udp() gets a wildcard address with its first sendto", function()
        local rx, port = udp_bound()
        local tx = track(socket.udp())
        must(tx:sendto("x", "127.0.0.1", port))
        local addr, tport, family = tx:getsockname()
        assert.same({ "0.0.0.0", "inet" }, { addr, family })
        assert.equal(select(3, rx:receivefrom()), tonumber(tport))
      end)

      it("setsockname('*', 0) binds the wildcard", function()
        local u = track(socket.udp())
        assert.equal(1, u:setsockname("*", 0))
        assert.equal("0.0.0.0", (u:getsockname()))
      end)

      it("a connected socket sends and receives with send and receive", function()
        local a, aport = udp_bound()
        local b, bport = udp_bound()
        assert.equal(1, a:setpeername("127.0.0.1", bport))
        assert.same({ "127.0.0.1", bport, "inet" }, { a:getpeername() })
        assert.same({ 4 }, { a:send("ping") })
        assert.same({ "ping", "127.0.0.1", aport }, { b:receivefrom() })
        must(b:sendto("pong", "127.0.0.1", aport))
        assert.same({ "pong" }, { a:receive() })
      end)

      it("receive(size) and receivefrom(size) truncate, and the rest is lost", function()
        local rx, port = udp_bound()
        local tx = udp_bound()
        must(tx:sendto("0123456789", "127.0.0.1", port))
        must(tx:sendto("abcdefghij", "127.0.0.1", port))
        assert.equal("0123", rx:receive(4))
        assert.equal("abcd", (rx:receivefrom(4)))
        rx:settimeout(0.1)
        assert.same({ nil, "timeout" }, { rx:receive() })
      end)

      local function big_datagrams(without_size)
        local rx, port = udp_bound()
        local tx = udp_bound()
        local big = string.rep("x", 9000)
        must(tx:sendto(big, "127.0.0.1", port))
        assert.equal(without_size, #rx:receive())
        must(tx:sendto(big, "127.0.0.1", port))
        assert.equal(without_size, #rx:receivefrom())
        must(tx:sendto(big, "127.0.0.1", port))
        assert.equal(9000, #rx:receive(65535))
        must(tx:sendto(big, "127.0.0.1", port))
        assert.equal(100, #rx:receive(100)) -- a size asked for cuts, on both
      end

      it_differs("a datagram longer than 8192 bytes, received without a size",
        "is cut to _DATAGRAMSIZE (8192) without a word", function()
          big_datagrams(8192)
        end, "comes whole (the default size is the largest datagram)", function()
          big_datagrams(9000)
        end)

      it("sends and receives an empty datagram", function()
        local rx, port = udp_bound()
        local tx, tport = udp_bound()
        assert.same({ 0 }, { tx:sendto("", "127.0.0.1", port) })
        assert.same({ "", "127.0.0.1", tport }, { rx:receivefrom() })
        must(rx:setpeername("127.0.0.1", tport))
        must(tx:sendto("", "127.0.0.1", port))
        assert.same({ "" }, { rx:receive() })
      end)

      it("answers nil, 'timeout' from receive and receivefrom", function()
        local rx = udp_bound()
        rx:settimeout(0.1)
        local took, r = timed(rx.receivefrom, rx)
        assert.same({ nil, "timeout" }, r)
        assert.is_true(took >= 0.05 and took < 2, "took " .. took .. " s")
        rx:settimeout(0)
        assert.same({ nil, "timeout" }, { rx:receive() })
      end)

      it("a datagram over 65507 bytes: nil, 'Message too long'", function()
        local _, port = udp_bound()
        local tx = udp_bound()
        assert.same({ nil, "Message too long" }, { tx:sendto(string.rep("x", 65508), "127.0.0.1", port) })
        assert.equal(65507, tx:sendto(string.rep("x", 65507), "127.0.0.1", port))
      end)

      it("sendto raises without a port", function()
        local tx = udp_bound()
        assert.is_false(pcall(tx.sendto, tx, "x", "127.0.0.1"))
      end)

      it_ipv6("udp6 on ::1: sendto, receivefrom, getsockname 'inet6'", function()
        local rx = track(socket.udp6())
        must(rx:setsockname("::1", 0))
        rx:settimeout(WAIT)
        local addr, port, family = rx:getsockname()
        assert.same({ "::1", "inet6" }, { addr, family })
        local tx = track(socket.udp6())
        must(tx:setsockname("::1", 0))
        local _, tport = tx:getsockname()
        assert.equal(3, tx:sendto("six", "::1", tonumber(port)))
        assert.same({ "six", "::1", tonumber(tport) }, { rx:receivefrom() })
        local w = track(socket.udp6())
        must(w:setsockname("*", 0))
        assert.equal("::", (w:getsockname()))
      end)

      it_ipv6("an unbound udp() takes the family of the first address it sends to", function()
        local rx = track(socket.udp6())
        must(rx:setsockname("::1", 0))
        rx:settimeout(WAIT)
        local _, port = rx:getsockname()
        local tx = track(socket.udp())
        assert.equal(1, tx:sendto("x", "::1", tonumber(port)))
        assert.equal("inet6", tx:getfamily())
        assert.equal("x", rx:receive())
      end)
    end)

    ---------------------------------------------------------------------------
    describe("select", function()
      it("returns the readable ones of 50 pairs, as an array in the order given and a set", function()
        local server, port = listener()
        local conns, clients = {}, {}
        for i = 1, 50 do
          local c = track(socket.tcp())
          c:settimeout(WAIT)
          must(c:connect("127.0.0.1", port))
          clients[i] = c
          conns[i] = track(must(server:accept()))
        end
        local want = {}
        for i = 1, 50 do
          if i % 7 == 3 then
            must(clients[i]:send("x"))
            want[#want + 1] = conns[i]
          end
        end
        socket.sleep(0.05)
        local r, w, err = socket.select(conns, nil, WAIT)
        assert.is_nil(err)
        assert_array_set(r, want, "readable")
        assert_empty(w, "writable")
      end)

      it("returns the writable ones as an array and a set", function()
        local a, b = tcp_pair()
        local r, w, err = socket.select(nil, { a, b }, WAIT)
        assert.is_nil(err)
        assert_empty(r, "readable")
        assert_array_set(w, { a, b }, "writable")
      end)

      it("answers {}, {}, 'timeout' at its timeout", function()
        local _, conn = tcp_pair()
        local took, res = timed(socket.select, { conn }, nil, 0.2)
        assert_empty(res[1], "readable")
        assert_empty(res[2], "writable")
        assert.equal("timeout", res[3])
        assert.is_true(took >= 0.15 and took < 2, "took " .. took .. " s")
      end)

      it("waits out its timeout with empty or nil lists", function()
        for _, lists in ipairs { { {}, {} }, { {}, nil }, { nil, nil } } do
          local took, res = timed(socket.select, lists[1], lists[2], 0.1)
          assert_empty(res[1], "readable")
          assert_empty(res[2], "writable")
          assert.equal("timeout", res[3])
          assert.is_true(took >= 0.08 and took < 2, "took " .. took .. " s")
        end
      end)

      it("reports a dirty socket readable at once, though the kernel has nothing", function()
        local client, conn = tcp_pair()
        must(client:send("a\nb\n"))
        assert.equal("a", conn:receive())
        assert.is_true(conn:dirty())
        local took, res = timed(socket.select, { conn }, nil, WAIT)
        assert_array_set(res[1], { conn }, "readable")
        assert.is_nil(res[3])
        assert.is_true(took < 1, "took " .. took .. " s")
      end)

      it("reports a listening socket with a pending connection readable", function()
        local server, port = listener()
        local r, _, err = socket.select({ server }, nil, 0)
        assert_empty(r, "readable")
        assert.equal("timeout", err)
        track(must(socket.connect("127.0.0.1", port)))
        r, _, err = socket.select({ server }, nil, WAIT)
        assert.is_nil(err)
        assert_array_set(r, { server }, "readable")
      end)

      it("takes any table with getfd, and dirty", function()
        local client, conn = tcp_pair()
        local fake_dirty = { getfd = function() return conn:getfd() end, dirty = function() return true end }
        local took, res = timed(socket.select, { fake_dirty }, nil, WAIT)
        assert_array_set(res[1], { fake_dirty }, "readable")
        assert.is_true(took < 1, "took " .. took .. " s")
        local writer = { getfd = function() return client:getfd() end }
        local _, w = socket.select(nil, { writer }, WAIT)
        assert_array_set(w, { writer }, "writable")
      end)

      it("ignores entries without a descriptor: strings, plain tables, closed and fresh sockets", function()
        local closed = tcp_pair()
        closed:close()
        local r, w, err = socket.select({ "x", {}, closed, track(socket.tcp()) }, nil, 0)
        assert_empty(r, "readable")
        assert_empty(w, "writable")
        assert.equal("timeout", err)
      end)

      it("works with the sinks and sources of socket.sink and socket.source", function()
        local client, conn = tcp_pair()
        local sink = socket.sink("keep-open", client)
        local source = socket.source("until-closed", conn)
        local _, w = socket.select(nil, { sink }, WAIT)
        assert_array_set(w, { sink }, "writable")
        must(client:send("x"))
        local r = socket.select({ source }, nil, WAIT)
        assert_array_set(r, { source }, "readable")
      end)

      it_differs("descriptors above FD_SETSIZE (a child under `ulimit -n 4096`)",
        "select raises 'descriptor too large for set size'; receive still works",
        function()
          local prefix = util.succeeds("timeout 1 true") and "timeout 60 " or ""
          local out = util.output(("ulimit -n 4096 && %s%s 2>&1"):format(prefix,
            util.lua_command(PEER, impl, "high")))
          local lines = {}
          for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
          assert.equal("fds above 1024: yes", lines[1], out)
          assert.truthy(lines[2] and lines[2]:match("^select: raised .*descriptor too large for set size"), out)
          assert.equal("receive: x nil", lines[3], out)
        end,
        "select waits on them like any other",
        function()
          local prefix = util.succeeds("timeout 1 true") and "timeout 60 " or ""
          local out = util.output(("ulimit -n 4096 && %s%s 2>&1"):format(prefix,
            util.lua_command(PEER, impl, "high")))
          assert.equal(table.concat({
            "fds above 1024: yes",
            "select: readable yes writable yes err nil",
            "receive: x nil",
          }, "\n"), out)
        end, it_high)
    end)

    ---------------------------------------------------------------------------
    describe("socket.dns", function()
      it("toip('localhost') gives an address and {name=, alias={}, ip={...}}", function()
        local ip, info = socket.dns.toip("localhost")
        assert.is_string(ip)
        assert.truthy(ip:match("^%d+%.%d+%.%d+%.%d+$"), ip)
        assert.is_table(info)
        assert.is_string(info.name)
        assert.is_table(info.alias)
        assert.is_table(info.ip)
        assert.equal(ip, info.ip[1])
      end)

      it("toip of a dotted address gives it back", function()
        local ip, info = socket.dns.toip("127.0.0.1")
        assert.equal("127.0.0.1", ip)
        assert.same({ "127.0.0.1" }, info.ip)
      end)

      it("toip of an IPv6 literal: nil, 'host not found' (gethostbyname is IPv4 only)", function()
        assert.same({ nil, "host not found" }, { socket.dns.toip("::1") })
      end)

      it("tohostname('127.0.0.1') gives a name and the same kind of table", function()
        local name, info = socket.dns.tohostname("127.0.0.1")
        assert.is_string(name)
        assert.is_table(info)
        assert.equal(name, info.name)
        assert.is_table(info.alias)
        assert.is_table(info.ip)
        assert.equal("127.0.0.1", info.ip[1])
      end)

      it("getaddrinfo('localhost') gives an array of {family=, addr=}", function()
        local list = socket.dns.getaddrinfo("localhost")
        assert.is_table(list)
        assert.is_true(#list >= 1)
        for _, entry in ipairs(list) do
          local keys = {}
          for k in pairs(entry) do keys[#keys + 1] = k end
          table.sort(keys)
          assert.same({ "addr", "family" }, keys)
          assert.truthy(entry.family == "inet" or entry.family == "inet6", entry.family)
          assert.is_string(entry.addr)
        end
      end)

      it("getaddrinfo of literals", function()
        assert.same({ { family = "inet", addr = "127.0.0.1" } }, socket.dns.getaddrinfo("127.0.0.1"))
        assert.same({ { family = "inet6", addr = "::1" } }, socket.dns.getaddrinfo("::1"))
      end)

      it("getnameinfo gives an array of names, and the service name with a port", function()
        local names, service = socket.dns.getnameinfo("127.0.0.1")
        assert.is_table(names)
        assert.is_string(names[1])
        assert.is_nil(service)
        names, service = socket.dns.getnameinfo("127.0.0.1", 80)
        assert.is_string(names[1])
        assert.equal("http", service)
        names, service = socket.dns.getnameinfo(nil, 22)
        assert.same({}, names)
        assert.equal("ssh", service)
      end)

      it("gethostname gives a non-empty string", function()
        local name = socket.dns.gethostname()
        assert.is_string(name)
        assert.is_true(#name > 0)
      end)

      it("raises without a name", function()
        assert.is_false(pcall(socket.dns.toip))
        assert.is_false(pcall(socket.dns.getaddrinfo))
      end)
    end)

    ---------------------------------------------------------------------------
    describe("socket.unix", function()
      local function stream_pair()
        local path = tmp.path("u")
        local server = track(unix.stream())
        assert.equal(1, server:bind(path))
        assert.equal(1, server:listen())
        server:settimeout(WAIT)
        local client = track(unix.stream())
        client:settimeout(WAIT)
        assert.equal(1, client:connect(path))
        local conn = track(must(server:accept()))
        conn:settimeout(WAIT)
        return client, conn, server, path
      end

      it("stream classes: master, bind keeps it, listen makes server, connect and accept make client", function()
        local path = tmp.path("u")
        local s = track(unix.stream())
        assert.truthy(tostring(s):match("^unixstream{master}: "), tostring(s))
        must(s:bind(path))
        assert.truthy(tostring(s):match("^unixstream{master}: "), tostring(s))
        must(s:listen())
        assert.truthy(tostring(s):match("^unixstream{server}: "), tostring(s))
        s:settimeout(WAIT)
        local c = track(unix.stream())
        c:settimeout(WAIT)
        must(c:connect(path))
        assert.truthy(tostring(c):match("^unixstream{client}: "), tostring(c))
        local r = pack(s:accept())
        assert.equal(1, r.n)
        track(r[1])
        assert.truthy(tostring(r[1]):match("^unixstream{client}: "), tostring(r[1]))
        assert.equal("unixstream{client}", r[1].class)
      end)

      it("stream sockets exchange lines, counts and '*a' over a path", function()
        local client, conn = stream_pair()
        assert.equal(11, client:send("hello\nworld"))
        assert.equal("hello", conn:receive())
        assert.equal("wor", conn:receive(3))
        client:close()
        assert.equal("ld", conn:receive("*a"))
        assert.same({ nil, "closed", "" }, { conn:receive() })
      end)

      it("stream getsockname gives the path (the connecting side '')", function()
        local client, conn, server, path = stream_pair()
        assert.same({ path }, { server:getsockname() })
        assert.same({ path }, { conn:getsockname() })
        assert.same({ "" }, { client:getsockname() })
      end)

      it("a stream socket has no getpeername and no gettimeout; a dgram socket no getpeername", function()
        local s = track(unix.stream())
        assert.is_nil(s.getpeername)
        assert.is_nil(s.gettimeout)
        assert.is_function(s.getstats)
        local d = track(unix.dgram())
        assert.is_nil(d.getpeername)
        assert.is_function(d.gettimeout)
      end)

      it("stream errors: a taken path, a missing path, a path nobody listens on, a long path", function()
        local _, _, server, path = stream_pair()
        assert.same({ nil, "address already in use" }, { track(unix.stream()):bind(path) })
        assert.same({ nil, "No such file or directory" },
          { track(unix.stream()):connect(tmp.dir .. "/missing") })
        server:close()
        assert.same({ nil, "connection refused" }, { track(unix.stream()):connect(path) })
        assert.same({ nil, "path too long" }, { track(unix.stream()):connect(string.rep("x", 200)) })
      end)

      it("dgram: unconnected, sendto and receivefrom with paths, then connected", function()
        local dpath, epath = tmp.path("d"), tmp.path("e")
        local d = track(unix.dgram())
        assert.truthy(tostring(d):match("^unixdgram{unconnected}: "), tostring(d))
        assert.equal(1, d:bind(dpath))
        local e = track(unix.dgram())
        assert.equal(1, e:bind(epath))
        d:settimeout(WAIT)
        e:settimeout(WAIT)
        assert.same({ 3 }, { e:sendto("dg1", dpath) })
        assert.same({ "dg1", epath }, { d:receivefrom() })
        assert.equal(1, e:connect(dpath))
        assert.truthy(tostring(e):match("^unixdgram{connected}: "), tostring(e))
        assert.equal(3, e:send("dg2"))
        assert.equal("dg2", d:receive())
        assert.equal(10, e:send("0123456789"))
        assert.equal("0123", d:receive(4))
        assert.equal(0, e:send(""))
        assert.equal("", d:receive())
        d:settimeout(0.1)
        assert.same({ nil, "timeout" }, { d:receivefrom() })
        assert.same({ epath }, { e:getsockname() })
      end)

      it("dgram from an unbound socket: the sender's path is ''", function()
        local dpath = tmp.path("d")
        local d = track(unix.dgram())
        must(d:bind(dpath))
        d:settimeout(WAIT)
        local u = track(unix.dgram())
        assert.equal(1, u:sendto("x", dpath))
        assert.same({ "x", "" }, { d:receivefrom() })
        assert.same({ "" }, { u:getsockname() })
      end)

      it("dgram sendto a path nobody has bound: nil, 'connection refused'", function()
        local d = track(unix.dgram())
        local path = tmp.path("d")
        local gone = track(unix.dgram())
        must(gone:bind(path))
        gone:close()
        assert.same({ nil, "connection refused" }, { d:sendto("x", path) })
      end)

      it_differs("abstract names ('\\0name', Linux)",
        "bind('\\0name') returns 1 but binds an unnamed autobind address, connect fails 'Invalid argument'",
        function()
          local name = abstract_name()
          local s = track(unix.stream())
          assert.equal(1, s:bind(name))
          assert.equal(1, s:listen())
          assert.same({ "" }, { s:getsockname() }, "not the name")
          local c = track(unix.stream())
          c:settimeout(WAIT)
          assert.same({ nil, "Invalid argument" }, { c:connect(name) })
        end,
        "bind, listen and connect use the whole name, and getsockname gives it",
        function()
          local name = abstract_name()
          local s = track(unix.stream())
          assert.equal(1, s:bind(name))
          assert.equal(1, s:listen())
          s:settimeout(WAIT)
          assert.same({ name }, { s:getsockname() })
          local c = track(unix.stream())
          c:settimeout(WAIT)
          assert.equal(1, c:connect(name))
          local conn = track(must(s:accept()))
          conn:settimeout(WAIT)
          must(c:send("abstract\n"))
          assert.equal("abstract", conn:receive())
          assert.same({ nil, "address already in use" }, { track(unix.stream()):bind(name) })
        end, checks.it_proc)
    end)

    ---------------------------------------------------------------------------
    describe("helpers", function()
      it("socket.skip drops the first n arguments", function()
        assert.same({ "b", "c" }, { socket.skip(1, "a", "b", "c") })
        assert.same({ "a", "b", "c" }, { socket.skip(0, "a", "b", "c") })
        assert.equal(0, select("#", socket.skip(5, "a", "b")))
        assert.is_false(pcall(socket.skip, "x", 1))
      end)

      it("socket.try returns its arguments or raises a table holding the message", function()
        assert.same({ 1, 2, 3 }, { socket.try(1, 2, 3) })
        local ok, err = pcall(socket.try, nil, "boom")
        assert.is_false(ok)
        assert.is_table(err)
        assert.equal("boom", err[1])
        ok, err = pcall(socket.try, false, "no")
        assert.is_false(ok)
        assert.equal("no", err[1])
      end)

      it("socket.protect turns a try into nil, message and passes real errors on", function()
        assert.same({ nil, "inner" }, { socket.protect(function() socket.try(nil, "inner") end)() })
        assert.same({ 3, "x" }, { socket.protect(function(a, b) return a + b, "x" end)(1, 2) })
        local ok, err = pcall(socket.protect(function() error("real") end))
        assert.is_false(ok)
        assert.truthy(tostring(err):find("real", 1, true))
        local tab = {}
        ok, err = pcall(socket.protect(function() error(tab) end))
        assert.is_false(ok)
        assert.equal(tab, err)
      end)

      it("socket.newtry calls the finalizer, with no arguments, before raising", function()
        local calls, nargs = 0, nil
        local try = socket.newtry(function(...) calls, nargs = calls + 1, select("#", ...) end)
        assert.same({ 5 }, { try(5) })
        assert.equal(0, calls)
        assert.same({ nil, "x" }, { socket.protect(function() try(nil, "x") end)() })
        assert.same({ 1, 0 }, { calls, nargs })
      end)

      it("newtry and protect close a socket on failure, as LuaSocket's own modules use them", function()
        local client, conn = tcp_pair()
        local fetch = socket.protect(function()
          local try = socket.newtry(function() client:close() end)
          try(client:send("q\n"))
          return try(client:receive())
        end)
        conn:settimeout(WAIT)
        must(conn:send("answer\n"))
        assert.same({ "answer" }, { fetch() })
        conn:close()
        assert.same({ nil, "closed" }, { fetch() })
        assert.equal(-1, client:getfd(), "the finalizer closed the client")
      end)

      it("socket.choose dispatches on a name, 'default' for a non-string first argument", function()
        local choose = socket.choose {
          a = function(x, y) return "A", x, y end,
          default = function(x, y) return "D", x, y end,
        }
        assert.same({ "A", 1, 2 }, { choose("a", 1, 2) })
        assert.same({ "D", 7 }, { choose(7) })
        assert.same({ "D", nil, 3 }, { choose(nil, 3) })
        assert_raises_with("unknown key (zz)", choose, "zz")
      end)

      it("socket.sink('close-when-done') with ltn12.pump.all sends everything and closes", function()
        local client, conn = tcp_pair()
        local data = string.rep("0123456789", 500)
        assert.equal(1, ltn12.pump.all(ltn12.source.string(data), socket.sink("close-when-done", client)))
        assert.equal(-1, client:getfd())
        assert.equal(data, conn:receive("*a"))
      end)

      it("socket.sink('keep-open') (the default) leaves the socket open", function()
        local client, conn = tcp_pair()
        assert.equal(1, ltn12.pump.all(ltn12.source.string("hello\n"), socket.sink("keep-open", client)))
        assert.is_true(client:getfd() >= 0)
        assert.equal("hello", conn:receive())
        local sink = socket.sink(client)
        assert.equal(3, sink("xyz"))
        assert.equal(1, sink(nil))
        assert.equal("xyz", conn:receive(3))
        assert.equal(client:getfd(), sink.getfd())
        assert.is_false(sink.dirty())
      end)

      it("socket.source('until-closed') (the default) reads to the close and closes", function()
        local client, conn = tcp_pair()
        local data = string.rep("abcdefghij", 700)
        must(client:send(data))
        client:close()
        local t = {}
        assert.equal(1, ltn12.pump.all(socket.source("until-closed", conn), (ltn12.sink.table(t))))
        assert.equal(data, table.concat(t))
        assert.is_true(#t >= 4, "read in BLOCKSIZE chunks: " .. #t)
        assert.equal(-1, conn:getfd())
      end)

      it("socket.source('by-length') reads that many bytes", function()
        local client, conn = tcp_pair()
        must(client:send("hello world"))
        local t = {}
        assert.equal(1, ltn12.pump.all(socket.source("by-length", conn, 5), (ltn12.sink.table(t))))
        assert.equal("hello", table.concat(t))
        assert.equal(" world", conn:receive(6))
      end)

      it("socket.source('by-length') answers nil, 'timeout' and drops the partial chunk", function()
        local client, conn = tcp_pair()
        must(client:send("abc"))
        conn:settimeout(0.1)
        local t = {}
        assert.same({ nil, "timeout" },
          { ltn12.pump.all(socket.source("by-length", conn, 5), (ltn12.sink.table(t))) })
        assert.equal("", table.concat(t))
      end)

      it("socket.sink and socket.source raise for an unknown kind", function()
        local client = tcp_pair()
        assert_raises_with("unknown key (bogus)", socket.sink, "bogus", client)
        assert_raises_with("unknown key (bogus)", socket.source, "bogus", client)
      end)

      it("socket.connect(host, port, laddr, lport) binds the local side first", function()
        local _, port = listener()
        local c = track(must(socket.connect("127.0.0.1", port, "127.0.0.1", 0)))
        assert.truthy(tostring(c):match("^tcp{client}"))
        local other = track(must(socket.connect("127.0.0.1", port, "127.0.0.2")))
        assert.equal("127.0.0.2", (other:getsockname()))
      end)

      it("socket.connect4 asks for IPv4", function()
        local _, port = listener()
        local c = track(must(socket.connect4("127.0.0.1", port)))
        assert.equal("inet4", c:getfamily())
      end)

      it_ipv6("socket.connect6 asks for IPv6", function()
        local _, port = listener("::1")
        local c = track(must(socket.connect6("::1", port)))
        assert.equal("inet6", c:getfamily())
      end)

      it("socket.bind(host, port) listens; '*' is 0.0.0.0", function()
        local server = track(must(socket.bind("127.0.0.1", 0)))
        assert.truthy(tostring(server):match("^tcp{server}"))
        local any = track(must(socket.bind("*", 0)))
        assert.equal("0.0.0.0", (any:getsockname()))
        local backlog = track(must(socket.bind("127.0.0.1", 0, 3)))
        assert.truthy(tostring(backlog):match("^tcp{server}"))
      end)
    end)
  end)
end
