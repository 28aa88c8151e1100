-- spec/addr_spec.lua: name and address functions (getaddrinfo,
-- getnameinfo), the errno table and the clocks (gettime, monotime, sleep).
-- Resolution only of "localhost", numeric addresses and well-known service
-- names, so no spec depends on DNS or the network.

local lsock = require "lsock"

local checks = require "helpers.checks" {
  it = it, assert = assert, pending = pending, after_each = after_each }
local assert_raises, assert_integer = checks.assert_raises, checks.assert_integer
local it_integers = checks.it_integers

local function find_entry(list, fields)
  for _, entry in ipairs(list) do
    local all = true
    for k, v in pairs(fields) do
      if entry[k] ~= v then all = false end
    end
    if all then return entry end
  end
end

describe("lsock.getaddrinfo", function()
  it("resolves localhost to 127.0.0.1", function()
    local list = assert(lsock.getaddrinfo("localhost", 80))
    assert.is_table(list)
    assert.is_truthy(find_entry(list, { family = "inet", addr = "127.0.0.1", port = 80 }),
      "no inet entry for 127.0.0.1:80")
  end)

  it("fills family, type, protocol, addr and port in every entry", function()
    local list = assert(lsock.getaddrinfo("localhost", 80))
    assert.is_true(#list >= 1)
    for _, entry in ipairs(list) do
      assert.is_truthy(entry.family == "inet" or entry.family == "inet6", tostring(entry.family))
      assert.is_string(entry.type)
      assert.is_not_nil(entry.protocol)
      assert.is_string(entry.addr)
      assert.equal(80, entry.port)
    end
  end)

  it("takes a numeric host", function()
    local list = assert(lsock.getaddrinfo("127.0.0.1", 8080, { type = "stream" }))
    assert.equal(1, #list)
    assert.equal("inet", list[1].family)
    assert.equal("stream", list[1].type)
    assert.equal("127.0.0.1", list[1].addr)
    assert.equal(8080, list[1].port)
  end)

  it("takes a numeric IPv6 host", function()
    local list = assert(lsock.getaddrinfo("::1", 443, { type = "stream" }))
    assert.equal(1, #list)
    assert.equal("inet6", list[1].family)
    assert.equal("::1", list[1].addr)
    assert.equal(443, list[1].port)
  end)

  it("resolves a service name to its port", function()
    local list = assert(lsock.getaddrinfo("127.0.0.1", "http"))
    assert.is_true(#list >= 1)
    for _, entry in ipairs(list) do
      assert.equal(80, entry.port)
    end
  end)

  it("takes a service given as a numeric string", function()
    local list = assert(lsock.getaddrinfo("127.0.0.1", "8080", { type = "stream" }))
    assert.equal(8080, list[1].port)
  end)

  it("keeps to the family asked for", function()
    local list = assert(lsock.getaddrinfo("localhost", 80, { family = "inet" }))
    assert.is_true(#list >= 1)
    for _, entry in ipairs(list) do
      assert.equal("inet", entry.family)
    end
  end)

  it("keeps to the type asked for", function()
    local list = assert(lsock.getaddrinfo("localhost", 80, { type = "stream" }))
    assert.is_true(#list >= 1)
    for _, entry in ipairs(list) do
      assert.equal("stream", entry.type)
    end
  end)

  it("gives each socket type its own entry without a type hint", function()
    local list = assert(lsock.getaddrinfo("127.0.0.1", 80))
    assert.is_truthy(find_entry(list, { type = "stream" }), "no stream entry")
    assert.is_truthy(find_entry(list, { type = "dgram" }), "no dgram entry")
  end)

  it("fails with nil and a message when the family cannot hold the address", function()
    local list, err, errno = lsock.getaddrinfo("127.0.0.1", 80, { family = "inet6" })
    assert.is_nil(list)
    assert.matches("^getaddrinfo 127%.0%.0%.1: .+", err)
    assert.is_nil(errno)
  end)

  it("fails with nil and a message for a name when numeric is asked for", function()
    local list, err, errno = lsock.getaddrinfo("localhost", 80, { numeric = true })
    assert.is_nil(list)
    assert.matches("^getaddrinfo localhost: .+", err)
    assert.is_nil(errno)
  end)

  it("resolves a numeric host when numeric is asked for", function()
    local list = assert(lsock.getaddrinfo("127.0.0.1", 80, { numeric = true, type = "stream" }))
    assert.equal("127.0.0.1", list[1].addr)
    assert.equal(80, list[1].port)
  end)

  it("fails with nil and a message for a service name when numeric is asked for", function()
    local list, err = lsock.getaddrinfo("127.0.0.1", "http", { numeric = true })
    assert.is_nil(list)
    assert.matches("^getaddrinfo 127%.0%.0%.1: .+", err)
  end)

  it("fails with nil and a message for an unknown service name", function()
    local list, err = lsock.getaddrinfo("127.0.0.1", "no-such-service-lsock")
    assert.is_nil(list)
    assert.matches("^getaddrinfo 127%.0%.0%.1: .+", err)
  end)

  it("gives the inet wildcard for a nil host with passive", function()
    local list = assert(lsock.getaddrinfo(nil, 80, { passive = true, family = "inet", type = "stream" }))
    assert.equal("0.0.0.0", list[1].addr)
    assert.equal(80, list[1].port)
  end)

  it("gives the inet6 wildcard for a nil host with passive and family inet6", function()
    local list = assert(lsock.getaddrinfo(nil, 80, { passive = true, family = "inet6", type = "stream" }))
    assert.equal("::", list[1].addr)
    assert.equal("inet6", list[1].family)
  end)

  it("gives a canonical name on the first entry only, when asked", function()
    local list = assert(lsock.getaddrinfo("localhost", 80, { canonname = true }))
    assert.equal("localhost", list[1].canonname)
    for i = 2, #list do
      assert.is_nil(list[i].canonname)
    end
  end)

  it("gives no canonical name unless asked", function()
    local list = assert(lsock.getaddrinfo("localhost", 80))
    for _, entry in ipairs(list) do
      assert.is_nil(entry.canonname)
    end
  end)

  it_integers("returns ports as integers", function()
    local list = assert(lsock.getaddrinfo("127.0.0.1", "http"))
    for _, entry in ipairs(list) do
      assert_integer(entry.port, "port")
    end
  end)

  it("raises naming the argument when hints.family is unknown", function()
    assert_raises({ "family", "#3" }, function() lsock.getaddrinfo("localhost", 80, { family = "bogus" }) end)
  end)

  it("raises naming the argument when hints.type is unknown", function()
    assert_raises({ "type", "#3" }, function() lsock.getaddrinfo("localhost", 80, { type = "bogus" }) end)
  end)

  it("raises naming the argument when the port is 65536", function()
    assert_raises({ "port", "service", "#2" }, function() lsock.getaddrinfo("127.0.0.1", 65536) end)
  end)

  it("raises naming the argument when the port is -1", function()
    assert_raises({ "port", "service", "#2" }, function() lsock.getaddrinfo("127.0.0.1", -1) end)
  end)

  it("raises naming the argument when the host is a table", function()
    assert_raises({ "host", "#1" }, function() lsock.getaddrinfo({}, 80) end)
  end)

  it("raises naming the argument when hints is not a table", function()
    assert_raises({ "hints", "#3" }, function() lsock.getaddrinfo("localhost", 80, "inet") end)
  end)
end)

describe("lsock.getnameinfo", function()
  it("gives the numeric host and service when asked", function()
    local host, service = lsock.getnameinfo("127.0.0.1", 80, { numerichost = true, numericserv = true })
    assert.equal("127.0.0.1", host)
    assert.equal("80", service)
  end)

  it("gives the numeric IPv6 host and service when asked", function()
    local host, service = lsock.getnameinfo("::1", 443, { numerichost = true, numericserv = true })
    assert.equal("::1", host)
    assert.equal("443", service)
  end)

  it("names a well-known port", function()
    local host, service = lsock.getnameinfo("127.0.0.1", 80, { numerichost = true })
    assert.equal("127.0.0.1", host)
    assert.equal("http", service)
  end)

  it("names the datagram service when dgram is set", function()
    local _, service = lsock.getnameinfo("127.0.0.1", 53, { numerichost = true, dgram = true })
    assert.equal("domain", service)
  end)

  it("names 127.0.0.1 localhost", function()
    local host = lsock.getnameinfo("127.0.0.1", 80)
    assert.equal("localhost", host)
  end)

  it("gives the name with namereqd when there is one", function()
    assert.equal("localhost", (lsock.getnameinfo("127.0.0.1", 80, { namereqd = true })))
  end)

  it("gives the short name with nofqdn", function()
    assert.equal("localhost", (lsock.getnameinfo("127.0.0.1", 80, { nofqdn = true })))
  end)

  -- docs/reference.md does not say whether a host name in place of the
  -- address raises or answers nil, err; either way it gives no host.
  it("gives no host for something that is not a numeric address", function()
    local ok, host, err = pcall(lsock.getnameinfo, "not-an-address", 80, { numerichost = true })
    if ok then
      assert.is_nil(host)
      assert.is_string(err)
    else
      assert.matches("addr", tostring(host))
    end
  end)

  it("works without a port", function()
    local host = lsock.getnameinfo("127.0.0.1", nil, { numerichost = true })
    assert.equal("127.0.0.1", host)
  end)

  it("raises naming the argument when the port is 65536", function()
    assert_raises({ "port", "#2" }, function() lsock.getnameinfo("127.0.0.1", 65536) end)
  end)

  it("raises naming the argument when the port is -1", function()
    assert_raises({ "port", "#2" }, function() lsock.getnameinfo("127.0.0.1", -1) end)
  end)

  it("raises naming the argument when the address is a table", function()
    assert_raises({ "addr", "#1" }, function() lsock.getnameinfo({}, 80) end)
  end)
end)

describe("lsock.errno", function()
  it("maps ECONNREFUSED to a number", function()
    assert.is_number(lsock.errno.ECONNREFUSED)
  end)

  it("maps the errors sockets report to distinct positive numbers", function()
    local names = { "ECONNREFUSED", "ECONNRESET", "EPIPE", "EBADF", "ENOTCONN", "EADDRINUSE",
      "EINPROGRESS", "ETIMEDOUT", "EINTR", "EMFILE", "EINVAL" }
    local seen = {}
    for _, name in ipairs(names) do
      local n = lsock.errno[name]
      assert.is_number(n, name)
      assert.is_true(n > 0, name)
      assert.is_nil(seen[n], name .. " shares its number with " .. tostring(seen[n]))
      seen[n] = name
    end
  end)

  it("has EAGAIN", function()
    assert.is_number(lsock.errno.EAGAIN)
  end)

  it("answers nil for a name it does not know", function()
    assert.is_nil(lsock.errno.ENOTANERRNO)
  end)

  it_integers("holds integers", function()
    assert_integer(lsock.errno.ECONNREFUSED, "ECONNREFUSED")
  end)
end)

describe("clocks", function()
  it("gettime is near os.time()", function()
    local t = lsock.gettime()
    assert.is_number(t)
    assert.is_true(math.abs(t - os.time()) < 2, "gettime " .. t .. ", os.time " .. os.time())
  end)

  it("gettime has sub-second resolution", function()
    -- some reading in a handful has a fractional part (bounded: 50 x 1 ms)
    local fractional = false
    for _ = 1, 50 do
      local t = lsock.gettime()
      if t ~= math.floor(t) then fractional = true break end
      lsock.sleep(0.001)
    end
    assert.is_true(fractional)
  end)

  it("monotime is a number that increases across a sleep", function()
    local t1 = lsock.monotime()
    assert.is_number(t1)
    lsock.sleep(0.01)
    local t2 = lsock.monotime()
    assert.is_true(t2 > t1, ("monotime %s then %s"):format(t1, t2))
  end)

  it("monotime never goes back", function()
    local last = lsock.monotime()
    for _ = 1, 1000 do
      local now = lsock.monotime()
      assert.is_true(now >= last)
      last = now
    end
  end)

  it("sleep(0.05) sleeps at least about 0.05 s by the monotonic clock", function()
    local t1 = lsock.monotime()
    lsock.sleep(0.05)
    local elapsed = lsock.monotime() - t1
    assert.is_true(elapsed >= 0.04, "slept " .. elapsed .. " s")
  end)

  it("sleep(0) returns", function()
    assert.has_no.errors(function() lsock.sleep(0) end)
  end)

  it("sleep with a negative time returns", function()
    assert.has_no.errors(function() lsock.sleep(-1) end)
  end)

  it("raises naming the argument when sleep gets a non-number", function()
    assert_raises({ "seconds", "#1" }, function() lsock.sleep("a while") end)
  end)
end)
