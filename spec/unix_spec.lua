-- Unix stream sockets: the same stream engine over a path address.
local lsock = require "lsock"

local function tmp_path()
  local path = os.tmpname()
  os.remove(path)
  return path
end

describe("unix stream socket", function()
  local path, server, client, conn

  before_each(function()
    path = tmp_path()
    server = assert(lsock.socket("unix", "stream"))
    assert(server:bind(path))
    assert(server:listen())
    client = assert(lsock.socket("unix", "stream"))
    client:settimeout(5)
    assert(client:connect(path))
    server:settimeout(5)
    conn = assert(server:accept())
    conn:settimeout(5)
  end)

  after_each(function()
    for _, s in ipairs({ conn, client, server }) do s:close() end
    os.remove(path)
  end)

  it("reports its family and type", function()
    assert.equal("unix", conn:family())
    assert.equal("stream", conn:type())
  end)

  it("names the bound path in getsockname and getpeername", function()
    assert.equal(path, server:getsockname())
    assert.equal(path, client:getpeername())
  end)

  it("returns the (empty) path of an unnamed peer from accept", function()
    local c2 = assert(lsock.socket("unix", "stream"))
    assert(c2:connect(path))
    local a, peer = assert(server:accept())
    assert.equal("", peer)
    a:close()
    c2:close()
  end)

  it("carries lines and binary data both ways", function()
    assert.equal(10, client:send("one\r\n\0two\n"))
    assert.equal("one", conn:receive("l"))
    assert.equal("\0two", conn:receive("l"))
    conn:send("back\n")
    assert.equal("back", client:receive())
  end)

  it("describes itself with its path", function()
    assert.matches("^lsock%.socket: unix stream " .. path:gsub("%p", "%%%0") .. " %(fd %d+%)$", tostring(server))
  end)

  it("refuses a connection to a path nobody listens on", function()
    local s = assert(lsock.socket("unix", "stream"))
    local ok, err, errno = s:connect(path .. "-none")
    assert.is_nil(ok)
    assert.matches("^connect .*: no such file or directory$", err)
    assert.equal(lsock.errno.ENOENT, errno)
    s:close()
  end)

  it("raises when the path does not fit in a unix address", function()
    local s = assert(lsock.socket("unix", "stream"))
    assert.has_error(function() s:bind("/" .. string.rep("x", 200)) end,
      "bad argument #1 to 'bind' (path too long for a unix socket)")
    s:close()
  end)
end)

describe("unix abstract namespace (Linux)", function()
  it("binds and connects to an @name", function()
    local f = io.open("/proc/version")
    if not f then
      pending("not Linux: no abstract namespace")
      return
    end
    f:close()
    local name = "@lsock-spec-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e6))
    local server = assert(lsock.socket("unix", "stream"))
    assert(server:bind(name))
    assert(server:listen())
    assert.equal(name, server:getsockname())
    local client = assert(lsock.socket("unix", "stream"))
    assert(client:connect(name))
    local conn = assert(server:accept())
    client:send("x\n")
    conn:settimeout(5)
    assert.equal("x", conn:receive())
    for _, s in ipairs({ conn, client, server }) do s:close() end
  end)
end)
