-- spec/options_spec.lua: setoption / getoption on TCP sockets. Every option
-- of docs/reference.md that applies to a TCP socket round-trips; options the
-- kernel refuses on TCP answer nil and a message instead of raising or
-- crashing; names and value types are checked. Real sockets on 127.0.0.1
-- and ::1 only.

local lsock = require "lsock"

local LOCAL4 = "127.0.0.1"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track, must = checks.tracker(), checks.must
local assert_raises, assert_integer = checks.assert_raises, checks.assert_integer
local it_ipv6, it_integers = checks.it_ipv6, checks.it_integers

local function tcp(family)
  local s = track(lsock.tcp(family))
  s:settimeout(5)
  return s
end

local function assert_refused(what, ok, err, errno)
  assert.is_nil(ok, what .. " should answer nil")
  assert.is_string(err, what .. " should give a message")
  assert.is_number(errno, what .. " should give an errno")
end

-- For options whose fate on TCP differs between kernels: either the value
-- round-trips, or setoption answers nil, a message and an errno.
local function assert_round_trip_or_refused(s, name, value)
  local ok, err, errno = s:setoption(name, value)
  if ok then
    assert.is_true(ok)
    assert.same(value, s:getoption(name))
  else
    assert_refused("setoption " .. name, ok, err, errno)
  end
end


describe("socket options", function()
  describe("booleans", function()
    for _, name in ipairs({ "reuseaddr", "reuseport", "keepalive", "nodelay", "broadcast", "dontroute",
                            "multicast_loop" }) do
      it(name .. " round-trips true and false", function()
        local s = tcp()
        assert.is_true(s:setoption(name, true))
        assert.is_true(s:getoption(name))
        assert.is_true(s:setoption(name, false))
        assert.is_false(s:getoption(name))
      end)
    end

    for _, name in ipairs({ "reuseaddr", "keepalive", "nodelay", "broadcast" }) do
      it(name .. " reads false on a fresh socket", function()
        assert.is_false(tcp():getoption(name))
      end)
    end

    it("multicast_loop reads true on a fresh socket", function()
      assert.is_true(tcp():getoption("multicast_loop"))
    end)

    it("nodelay round-trips on an accepted socket", function()
      local server = tcp()
      must(server:bind(LOCAL4, 0))
      must(server:listen())
      local client = tcp()
      must(client:connect(LOCAL4, (select(2, server:getsockname()))))
      local peer = track(must(server:accept()))
      assert.is_true(peer:setoption("nodelay", true))
      assert.is_true(peer:getoption("nodelay"))
    end)
  end)

  describe("integers", function()
    local cases = {
      { "keepidle", 30 },
      { "keepintvl", 7 },
      { "keepcnt", 4 },
      { "ttl", 10 },
      { "tos", 16 }, -- IPTOS_LOWDELAY; the low two bits (ECN) are the kernel's
    }
    for _, case in ipairs(cases) do
      local name, value = case[1], case[2]
      it(name .. " round-trips " .. value .. " on inet", function()
        local s = tcp()
        assert.is_true(s:setoption(name, value))
        assert.equal(value, s:getoption(name))
      end)

      it_ipv6(name .. " round-trips " .. value .. " on inet6", function()
        local s = tcp("inet6")
        assert.is_true(s:setoption(name, value))
        assert.equal(value, s:getoption(name))
      end)

      it_integers(name .. " reads back as an integer", function()
        local s = tcp()
        s:setoption(name, value)
        assert_integer(s:getoption(name), name)
      end)
    end

    it("ttl reads the kernel default on a fresh socket", function()
      local ttl = tcp():getoption("ttl")
      assert.is_number(ttl)
      assert.is_true(ttl >= 1 and ttl <= 255, "ttl " .. tostring(ttl))
    end)

    -- Linux doubles the size asked for (bookkeeping overhead) and has a
    -- floor, so only "at least what was asked" is portable.
    for _, name in ipairs({ "rcvbuf", "sndbuf" }) do
      it(name .. " reads back at least the size set", function()
        local s = tcp()
        assert.is_true(s:setoption(name, 65536))
        local size = s:getoption(name)
        assert.is_number(size)
        assert.is_true(size >= 65536, name .. " " .. tostring(size))
      end)

      it_integers(name .. " reads back as an integer", function()
        assert_integer(tcp():getoption(name), name)
      end)
    end
  end)

  describe("linger", function()
    it("reads false on a fresh socket", function()
      assert.is_false(tcp():getoption("linger"))
    end)

    it("round-trips a number of seconds", function()
      local s = tcp()
      assert.is_true(s:setoption("linger", 5))
      assert.equal(5, s:getoption("linger"))
    end)

    it("round-trips zero seconds, which is on (reset at close), not off", function()
      local s = tcp()
      assert.is_true(s:setoption("linger", 0))
      assert.equal(0, s:getoption("linger"))
    end)

    it("turns off with false", function()
      local s = tcp()
      s:setoption("linger", 5)
      assert.is_true(s:setoption("linger", false))
      assert.is_false(s:getoption("linger"))
    end)

    it_integers("reads seconds as an integer", function()
      local s = tcp()
      s:setoption("linger", 3)
      assert_integer(s:getoption("linger"), "linger")
    end)
  end)

  describe("read-only options", function()
    it("error reads 0 on a fresh socket", function()
      local e = tcp():getoption("error")
      assert.equal(0, e)
    end)

    it_integers("error reads as an integer", function()
      assert_integer(tcp():getoption("error"), "error")
    end)

    it("error reports a refused non-blocking connect once, then 0", function()
      local probe = lsock.tcp()
      must(probe:bind(LOCAL4, 0))
      local _, port = probe:getsockname()
      probe:close() -- nothing listens on port now
      local s = tcp()
      s:settimeout(0)
      local ok, err, errno = s:connect(LOCAL4, port)
      assert.is_nil(ok)
      if err == "timeout" then
        -- in progress: the refusal lands in SO_ERROR
        local e = 0
        for _ = 1, 500 do -- at most ~5 s
          e = s:getoption("error")
          if e ~= 0 then break end
          lsock.sleep(0.01)
        end
        assert.equal(lsock.errno.ECONNREFUSED, e)
      else
        -- refused at once: connect consumed it
        assert.equal(lsock.errno.ECONNREFUSED, errno)
      end
      assert.equal(0, s:getoption("error"))
    end)

    it("type reads 'stream' on inet", function()
      assert.equal("stream", tcp():getoption("type"))
    end)

    it_ipv6("type reads 'stream' on inet6", function()
      assert.equal("stream", tcp("inet6"):getoption("type"))
    end)

    it("acceptconn is false before listen", function()
      local s = tcp()
      must(s:bind(LOCAL4, 0))
      assert.is_false(s:getoption("acceptconn"))
    end)

    it("acceptconn is true after listen", function()
      local s = tcp()
      must(s:bind(LOCAL4, 0))
      must(s:listen())
      assert.is_true(s:getoption("acceptconn"))
    end)

    -- docs/reference.md calls them read only without saying whether setting
    -- one raises or answers nil, err; either way it must not succeed.
    local read_only = { { "error", 0 }, { "type", "stream" }, { "acceptconn", true } }
    for _, case in ipairs(read_only) do
      it(case[1] .. " cannot be set", function()
        local s = tcp()
        local ok, result, err = pcall(s.setoption, s, case[1], case[2])
        if ok then
          assert.is_nil(result, "setoption " .. case[1] .. " succeeded")
          assert.is_string(err)
        end
      end)
    end
  end)

  describe("v6only", function()
    it_ipv6("round-trips on an inet6 socket", function()
      local s = tcp("inet6")
      assert.is_true(s:setoption("v6only", true))
      assert.is_true(s:getoption("v6only"))
      assert.is_true(s:setoption("v6only", false))
      assert.is_false(s:getoption("v6only"))
    end)

    it("answers nil and a message on an inet socket", function()
      local s = tcp()
      assert_refused("setoption v6only", s:setoption("v6only", true))
      assert_refused("getoption v6only", s:getoption("v6only"))
    end)
  end)

  describe("options that do not apply to TCP", function()
    -- Linux: IP_HDRINCL is for raw sockets; reading it on TCP gives 0.
    it("hdrincl reads false", function()
      assert.is_false(tcp():getoption("hdrincl"))
    end)

    it("hdrincl cannot be set on a TCP socket", function()
      local s = tcp()
      assert_refused("setoption hdrincl", s:setoption("hdrincl", true))
    end)

    -- Linux refuses IP_MULTICAST_TTL and IP_MULTICAST_IF on SOCK_STREAM with
    -- EINVAL, and their IPv6 forms with ENOPROTOOPT, but reads them.
    it("multicast_ttl reads the default of 1 on inet", function()
      assert.equal(1, tcp():getoption("multicast_ttl"))
    end)

    it_ipv6("multicast_ttl reads the default of 1 on inet6", function()
      assert.equal(1, tcp("inet6"):getoption("multicast_ttl"))
    end)

    it("multicast_ttl is refused or round-trips on inet", function()
      assert_round_trip_or_refused(tcp(), "multicast_ttl", 3)
    end)

    it_ipv6("multicast_ttl is refused or round-trips on inet6", function()
      assert_round_trip_or_refused(tcp("inet6"), "multicast_ttl", 3)
    end)

    it_ipv6("multicast_loop round-trips on inet6", function()
      local s = tcp("inet6")
      assert.is_true(s:setoption("multicast_loop", false))
      assert.is_false(s:getoption("multicast_loop"))
      assert.is_true(s:setoption("multicast_loop", true))
      assert.is_true(s:getoption("multicast_loop"))
    end)

    it("multicast_if reads an address string on inet", function()
      local addr = tcp():getoption("multicast_if")
      assert.is_string(addr)
      assert.matches("^%d+%.%d+%.%d+%.%d+$", addr)
    end)

    it("multicast_if is refused or round-trips on inet", function()
      assert_round_trip_or_refused(tcp(), "multicast_if", LOCAL4)
    end)

    it_ipv6("multicast_if reads an interface index on inet6", function()
      local index = tcp("inet6"):getoption("multicast_if")
      assert.is_number(index)
      assert.is_true(index >= 0)
    end)

    it_ipv6("multicast_if is refused or round-trips on inet6", function()
      local s = tcp("inet6")
      local ok, err, errno = s:setoption("multicast_if", "lo")
      if ok then
        assert.is_number(s:getoption("multicast_if"))
      else
        assert_refused("setoption multicast_if", ok, err, errno)
      end
    end)
  end)

  describe("membership", function()
    -- write only; docs/reference.md does not say whether reading raises or
    -- answers nil, err: either way it gives no value.
    for _, name in ipairs({ "add_membership", "drop_membership" }) do
      it(name .. " gives no value to getoption", function()
        local s = tcp()
        local ok, value, err = pcall(s.getoption, s, name)
        if ok then
          assert.is_nil(value)
          assert.is_string(err)
        end
      end)

      it(name .. " raises when the value is not a table", function()
        local s = tcp()
        assert_raises({ name, "#2" }, function() s:setoption(name, "224.0.0.1") end)
      end)
    end
  end)

  describe("arguments", function()
    it("setoption returns exactly true", function()
      assert.equal(true, tcp():setoption("nodelay", true))
    end)

    it("setoption raises naming an unknown option", function()
      local s = tcp()
      assert_raises({ "bogus" }, function() s:setoption("bogus", 1) end)
    end)

    it("getoption raises naming an unknown option", function()
      local s = tcp()
      assert_raises({ "bogus" }, function() s:getoption("bogus") end)
    end)

    it("raises when the option name is not a string", function()
      local s = tcp()
      assert_raises({ "name", "#1" }, function() s:getoption({}) end)
    end)

    it("raises when a boolean option gets a string", function()
      local s = tcp()
      assert_raises({ "nodelay", "#2" }, function() s:setoption("nodelay", "yes") end)
    end)

    it("raises when an integer option gets a string", function()
      local s = tcp()
      assert_raises({ "rcvbuf", "#2" }, function() s:setoption("rcvbuf", "big") end)
    end)

    it("raises when an integer option gets a table", function()
      local s = tcp()
      assert_raises({ "ttl", "#2" }, function() s:setoption("ttl", {}) end)
    end)

    it("raises when linger gets a string", function()
      local s = tcp()
      assert_raises({ "linger", "#2" }, function() s:setoption("linger", "long") end)
    end)

    it("raises when multicast_if gets a table", function()
      local s = tcp()
      assert_raises({ "multicast_if", "#2" }, function() s:setoption("multicast_if", {}) end)
    end)

    it("answers nil, 'closed' on a closed socket instead of reading", function()
      local s = lsock.tcp()
      s:close()
      local value, err = s:getoption("nodelay")
      assert.is_nil(value)
      assert.equal("closed", err)
    end)
  end)
end)
