-- What fuzzing found (fuzz/README.md, "What fuzzing found"), each as the
-- Lua calls its input made, so that every Lua checks it and not only the
-- fuzz targets' Lua 5.4. The inputs themselves are in fuzz/corpus/ and run
-- on every `make test` (fuzz/replay.sh).
local lsock = require "lsock"
local util = require "helpers.util"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local track = checks.tracker()

local function pair()
  local a, b = util.socketpair()
  track(a)
  track(b)
  b:settimeout(0)
  return a, b
end

describe("fuzz findings", function()
  it("reader/line-cr-prefix: a line resumed with a partial longer than max gives what one piece gives", function()
    local a, b = pair()
    assert(a:send("abc\r"))
    -- the partial may hold max + 1 bytes: the CR an LF would drop
    assert.same({ nil, "timeout", "abc\r" }, { b:receive("*l", nil, 3) })
    assert(a:send("x\n"))
    assert.same({ nil, "too long", "abc" }, { b:receive("*l", "abc\r", 3) })
    assert.equal("\rx", b:receive("*l"))
    -- the same bytes in one piece
    assert(a:send("abc\rx\n"))
    assert.same({ nil, "too long", "abc" }, { b:receive("*l", nil, 3) })
    assert.equal("\rx", b:receive("*l"))
  end)

  it("reader/line-slack-prefix: the same with max 0", function()
    local a, b = pair()
    assert(a:send("\1"))
    assert.same({ nil, "timeout", "\1" }, { b:receive("*l", nil, 0) })
    assert(a:send("\176\n"))
    assert.same({ nil, "too long", "" }, { b:receive("*l", "\1", 0) })
    assert.equal("\1\176", b:receive("*l"))
  end)

  -- The finding was undefined behaviour that only clang's sanitizer
  -- reports (fuzz/run.sh); here the same calls are checked for their
  -- results, under gcc's sanitizers in make test.
  it("reader/null-offset: reads of an empty buffer (no block yet) give empty partials", function()
    local a, b = pair()
    assert.same({ nil, "timeout", "" }, { b:receive("*l") })
    assert.same({ nil, "timeout", "" }, { b:receive(5) })
    assert.same({ nil, "timeout", "" }, { b:receiveuntil("--") })
    assert.same({ nil, "timeout", "pre" }, { b:receive("*a", "pre") })
    a:close()
    assert.same({ nil, "closed", "" }, { b:receive("*l") })
  end)

  it("address/service-wrap: a numeric service string above 65535 raises, as a number does", function()
    for _, service in ipairs({ "65536", "65617", "99999999999" }) do
      local ok, err = pcall(lsock.getaddrinfo, "127.0.0.1", service, { numeric = true })
      assert.is_false(ok)
      assert.matches("bad argument #2 to '[%w.?]*' %(port out of range%)$", err)
    end
    assert.equal(80, lsock.getaddrinfo("127.0.0.1", "080", { numeric = true })[1].port)
    assert.equal(65535, lsock.getaddrinfo("127.0.0.1", "65535", { numeric = true })[1].port)
  end)

  it("address/scoped-getnameinfo: getnameinfo reads the scoped addresses getaddrinfo answers", function()
    local res = lsock.getaddrinfo("fe80::1%lo", 80, { numeric = true, family = "inet6" })
    if not res then
      pending("skipped: no interface lo to scope an IPv6 address to")
      return
    end
    assert.equal("fe80::1%lo", res[1].addr)
    assert.same({ "fe80::1%lo", "80" },
      { lsock.getnameinfo(res[1].addr, res[1].port, { numerichost = true, numericserv = true }) })
    local ok, err = pcall(lsock.getnameinfo, "fe80::1%no-such-interface")
    assert.is_false(ok)
    -- (how the function is named depends on the Lua: "?" on 5.1)
    assert.matches("^bad argument #1 to '[%w.?]*' %(numeric address expected%)$", err)
  end)
end)
