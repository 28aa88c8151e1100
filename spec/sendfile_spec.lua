-- sock:sendfile(file [, offset [, count]]): a file given as a path, a
-- Lua file handle or a descriptor, to TCP and unix stream sockets (the
-- kernel's sendfile(2)) and to TLS streams (spec/tls_spec.lua has those),
-- checked by content; offsets and counts; timeouts that resume; the loop;
-- errors. Loopback and socketpairs only; every wait is bounded.
local lsock = require "lsock"
local loop = require "lsock.loop"
local util = require "helpers.util"

local MiB = 1024 * 1024

local function pack(...) return { n = select("#", ...), ... } end

-- A file of n bytes of util.pattern (deterministic), and its contents.
local function make_file(n)
  local path = os.tmpname()
  local data = util.pattern(n)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  f:close()
  return path, data
end

-- Send with sendfile in one coroutine and read n bytes in another; the
-- bytes read (or nil and why).
local function through_loop(b, n, send)
  local got, result
  loop.spawn(function() result = pack(send()) end)
  loop.spawn(function() got = { b:receive(n) } end)
  assert.is_true(loop.run(20))
  return result, got
end

-- Each kind of stream socket sendfile works on, as a connected pair.
local pairs_of = {
  tcp = function() return util.pair() end,
  unix = function() return util.socketpair("stream") end,
}

describe("sendfile", function()
  local files = {}
  local function file(n)
    local path, data = make_file(n)
    files[#files + 1] = path
    return path, data
  end
  teardown(function()
    for _, p in ipairs(files) do os.remove(p) end
  end)

  for kind, make_pair in pairs(pairs_of) do
    describe("over " .. kind, function()
      it("sends a whole file named by its path, 8 MiB checked by content", function()
        local path, data = file(8 * MiB)
        local a, b = make_pair()
        local result, got = through_loop(b, #data, function() return a:sendfile(path) end)
        assert.same({ n = 1, #data }, result)
        assert.is_true(got[1] == data, "the bytes received differ from the file's")
        a:close()
        b:close()
      end)

      it("sends from an offset and a count", function()
        local path, data = file(100000)
        local a, b = make_pair()
        assert.equal(1000, a:sendfile(path, 500, 1000))
        assert.equal(data:sub(501, 1500), b:receive(1000))
        -- the count may run past the end: what the file has is sent
        assert.equal(100, a:sendfile(path, #data - 100, 5000))
        assert.equal(data:sub(-100), b:receive(100))
        -- the end of the file, or past it: nothing to send
        assert.same({ n = 1, 0 }, pack(a:sendfile(path, #data)))
        assert.same({ n = 1, 0 }, pack(a:sendfile(path, #data + 10)))
        a:close()
        b:close()
      end)

      it("takes a Lua file handle from its position and moves the position on", function()
        local path, data = file(50000)
        local a, b = make_pair()
        local f = assert(io.open(path, "rb"))
        assert.equal(data:sub(1, 10), f:read(10)) -- the handle read ahead into its buffer
        assert.equal(20000, a:sendfile(f, nil, 20000))
        assert.equal(data:sub(11, 20010), b:receive(20000))
        assert.equal(20010, f:seek())
        assert.equal(data:sub(20011, 20020), f:read(10))
        -- with an offset, from there; the position ends after what went
        assert.equal(5, a:sendfile(f, 0, 5))
        assert.equal(data:sub(1, 5), b:receive(5))
        assert.equal(5, f:seek())
        f:close()
        -- (inside lsock.loop's wrapper the argument's number and the
        -- function's name in the message are the wrapper's)
        local ok, msg = pcall(a.sendfile, a, f)
        assert.is_false(ok)
        assert.matches("attempt to use a closed file", msg, 1, true)
        a:close()
        b:close()
      end)

      it("with timeout 0 answers nil, 'timeout', nil, sent, and resumes at offset + sent", function()
        local path, data = file(4 * MiB)
        local a, b = make_pair()
        a:settimeout(0)
        b:settimeout(0)
        local offset, got, calls, timeouts = 0, {}, 0, 0
        while offset < #data and calls < 100000 do
          calls = calls + 1
          local n, err, errno, sent = a:sendfile(path, offset)
          if n then
            offset = offset + n
          else
            assert.equal("timeout", err)
            assert.is_nil(errno)
            timeouts = timeouts + 1
            offset = offset + sent
          end
          -- drain what is there, so the next call has room
          while true do
            local chunk = b:recv()
            if not chunk then break end
            got[#got + 1] = chunk
          end
        end
        b:settimeout(util.TIMEOUT)
        local so_far = table.concat(got)
        local rest = #data - #so_far
        if rest > 0 then so_far = so_far .. b:receive(rest) end
        assert.is_true(timeouts > 0, "the socket never filled up")
        assert.is_true(so_far == data, "the bytes received differ from the file's")
        a:close()
        b:close()
      end)
    end)
  end

  it("sends from a descriptor, which it neither moves nor closes", function()
    local path, data = file(100000)
    local server, port = util.listen("127.0.0.1")
    -- The child's shell opens the file on descriptor 7 for it.
    local cmd = ("exec 7<%s; %s"):format(util.quote(path),
      util.lua_command(util.HELPERS .. "sendfile_fd.lua", port, 7, 10, 5000))
    local child = io.popen("timeout 20 sh -c " .. util.quote(cmd) .. " 2>&1")
    local conn = util.accept(server)
    assert.equal(data:sub(11, 5010), conn:receive(5000))
    assert.same({ nil, "closed", "" }, { conn:receive(1) })
    local out = child:read("*a")
    child:close()
    assert.equal("sent 5000", (out:gsub("%s+$", "")))
    conn:close()
    server:close()
  end)

  it("counts what it sent in getstats", function()
    local path, data = file(30000)
    local a, b = util.socketpair("stream")
    local _, before = a:getstats()
    local result = through_loop(b, #data, function() return a:sendfile(path) end)
    assert.same({ n = 1, #data }, result)
    local _, after = a:getstats()
    assert.equal(#data, after - before)
    a:close()
    b:close()
  end)

  it("sends an empty file as 0 bytes", function()
    local path = file(0)
    local a, b = util.socketpair("stream")
    assert.same({ n = 1, 0 }, pack(a:sendfile(path)))
    a:close()
    b:close()
  end)

  it("answers a peer that went away with nil, 'closed', errno, sent", function()
    local path = file(8 * MiB)
    local a, b = util.socketpair("stream")
    b:close()
    local r = pack(a:sendfile(path))
    assert.is_nil(r[1])
    assert.equal("closed", r[2])
    assert.equal(lsock.errno.EPIPE, r[3])
    assert.equal(0, r[4])
    a:close()
  end)

  it("reports a file it cannot open, and raises for bad arguments", function()
    local a, b = util.socketpair("stream")
    local r = pack(a:sendfile("/nonexistent/lsock-file"))
    assert.same({ n = 3, nil, "sendfile /nonexistent/lsock-file: no such file or directory",
                  lsock.errno.ENOENT }, r)
    assert.has_error(function() a:sendfile({}) end)
    assert.has_error(function() a:sendfile("x", -1) end)
    assert.has_error(function() a:sendfile("x", 0, -1) end)
    local u = lsock.udp()
    local ok, msg = pcall(u.sendfile, u, "x")
    assert.is_false(ok)
    assert.matches("stream socket expected, got inet dgram socket", msg, 1, true)
    u:close()
    a:close()
    assert.same({ n = 2, nil, "closed" }, pack(a:sendfile("/nonexistent/lsock-file")))
    b:close()
  end)

  it("parks in the loop while a slow reader takes 8 MiB, with a timeout that holds per wait", function()
    local path, data = file(8 * MiB)
    local a, b = util.pair()
    a:settimeout(2) -- each wait; the reader below never stops for that long
    local result, got = nil, {}
    loop.spawn(function() result = pack(a:sendfile(path)) end)
    loop.spawn(function()
      local have = 0
      while have < #data do
        local chunk = assert(b:recv(256 * 1024))
        got[#got + 1] = chunk
        have = have + #chunk
        loop.sleep(0.001)
      end
    end)
    assert.is_true(loop.run(30))
    assert.same({ n = 1, #data }, result)
    assert.is_true(table.concat(got) == data, "the bytes received differ from the file's")
    a:close()
    b:close()
  end)
end)
