-- TCP streams: receive patterns, recv, timeouts, resets, half-close, send,
-- statistics and large transfers, over real sockets on 127.0.0.1 (and ::1).
--
-- Where data must arrive in tiny pieces, or where both sides must run at
-- once, the other side is a child process (spec/helpers/peer.lua) that uses
-- lsock too. Every socket has a timeout and every loop a bound, so a bug
-- fails a spec instead of hanging the run.
local lsock = require "lsock"
local util = require "helpers.util"
local loop = require "lsock.loop"

local MiB = 1024 * 1024

-- The first result of a call that must succeed.
local function must(v, err)
  assert(v ~= nil, tostring(err))
  return v
end

-- A seeded generator of integers in [lo, hi], the same on every Lua.
local function random(seed)
  local state = seed % 2147483647
  if state == 0 then state = 1 end
  return function(lo, hi)
    state = state * 16807 % 2147483647
    return lo + state % (hi - lo + 1)
  end
end

-- The first three results of a call, as a table for assert.same (a nil
-- leaves a hole, so {nil, "closed", "x"} matches `nil, "closed", "x"`).
local function three(a, b, c)
  return { a, b, c }
end

-- Connect a peer child process back to a fresh listener on host and return
-- the accepted connection (timeout util.TIMEOUT) and the peer's handle.
local function with_peer(host, command, ...)
  local server, port = util.listen(host)
  local peer = util.spawn(command, host, port, ...)
  local conn = util.accept(server)
  server:close()
  return conn, peer
end

-- A connection on which the peer sends `payload` one byte at a time, with
-- `delay` seconds (default 5 ms) between bytes, and then closes.
local function trickled(payload, delay)
  return with_peer("127.0.0.1", "trickle", delay or 0.005, util.tohex(payload))
end

-- Close a connection and wait for its peer, returning what the peer printed.
local function finish(conn, peer)
  conn:close()
  return peer.wait()
end

describe("tcp stream", function()

  describe("receive patterns, with data arriving one byte at a time", function()

    it("'l' returns a line without its LF", function()
      local conn, peer = trickled("one\ntwo\n")
      assert.same({ "one" }, three(conn:receive("l")))
      assert.same({ "two" }, three(conn:receive("l")))
      assert.same({ nil, "closed", "" }, three(conn:receive("l")))
      assert.equal("trickled 8", finish(conn, peer))
    end)

    it("'l' drops the CR of a CRLF and keeps any other CR", function()
      local conn, peer = trickled("crlf\r\nbare\rcr\n\r\r\n")
      assert.same({ "crlf" }, three(conn:receive("l")))
      assert.same({ "bare\rcr" }, three(conn:receive("l")))
      assert.same({ "\r" }, three(conn:receive("l")))
      assert.equal("trickled 17", finish(conn, peer))
    end)

    it("'l' returns an empty string for an empty line", function()
      local conn, peer = trickled("\n\r\n\nx\n")
      assert.same({ "" }, three(conn:receive("l")))
      assert.same({ "" }, three(conn:receive("l")))
      assert.same({ "" }, three(conn:receive("l")))
      assert.same({ "x" }, three(conn:receive("l")))
      finish(conn, peer)
    end)

    it("'l' keeps zero bytes inside a line", function()
      local conn, peer = trickled("a\0b\n\0\n\0\r\n")
      assert.same({ "a\0b" }, three(conn:receive("l")))
      assert.same({ "\0" }, three(conn:receive("l")))
      assert.same({ "\0" }, three(conn:receive("l")))
      finish(conn, peer)
    end)

    it("'l' returns nil, 'closed' and the last line when it has no LF at close", function()
      local conn, peer = trickled("done\nlast")
      assert.same({ "done" }, three(conn:receive("l")))
      assert.same({ nil, "closed", "last" }, three(conn:receive("l")))
      finish(conn, peer)
    end)

    it("'*l' is the same as 'l'", function()
      local conn, peer = trickled("a\r\nb\n\nc")
      assert.same({ "a" }, three(conn:receive("*l")))
      assert.same({ "b" }, three(conn:receive("*l")))
      assert.same({ "" }, three(conn:receive("*l")))
      assert.same({ nil, "closed", "c" }, three(conn:receive("*l")))
      finish(conn, peer)
    end)

    it("reads a line when no pattern is given", function()
      local conn, peer = trickled("first\r\nsecond\n")
      assert.same({ "first" }, three(conn:receive()))
      assert.same({ "second" }, three(conn:receive()))
      finish(conn, peer)
    end)

    it("'L' returns a line with its EOL, CRLF kept whole", function()
      local conn, peer = trickled("one\ntwo\r\n\n\0\r\n")
      assert.same({ "one\n" }, three(conn:receive("L")))
      assert.same({ "two\r\n" }, three(conn:receive("L")))
      assert.same({ "\n" }, three(conn:receive("L")))
      assert.same({ "\0\r\n" }, three(conn:receive("L")))
      finish(conn, peer)
    end)

    it("'L' returns nil, 'closed' and the last line when it has no LF at close", function()
      local conn, peer = trickled("done\r\nlast\r")
      assert.same({ "done\r\n" }, three(conn:receive("L")))
      assert.same({ nil, "closed", "last\r" }, three(conn:receive("L")))
      finish(conn, peer)
    end)

    it("'*L' is the same as 'L'", function()
      local conn, peer = trickled("a\r\nb\nc")
      assert.same({ "a\r\n" }, three(conn:receive("*L")))
      assert.same({ "b\n" }, three(conn:receive("*L")))
      assert.same({ nil, "closed", "c" }, three(conn:receive("*L")))
      finish(conn, peer)
    end)

    it("'a' returns everything until the peer closes, byte for byte", function()
      local bytes = {}
      for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
      local payload = "line\r\n\0\0zero\n\n" .. table.concat(bytes) .. "\r"
      local conn, peer = trickled(payload, 0.001)
      assert.same({ payload }, three(conn:receive("a")))
      assert.equal("trickled " .. #payload, finish(conn, peer))
    end)

    it("'*a' is the same as 'a'", function()
      local conn, peer = trickled("x\0y\r\nz")
      assert.same({ "x\0y\r\nz" }, three(conn:receive("*a")))
      finish(conn, peer)
    end)

    it("'a' at end of stream returns an empty string", function()
      local conn, peer = trickled("abc")
      assert.same({ "abc" }, three(conn:receive("a")))
      assert.same({ "" }, three(conn:receive("a")))
      finish(conn, peer)
    end)

    it("a number n returns exactly n bytes", function()
      local conn, peer = trickled("hello\0world\r\n!")
      assert.same({ "hello" }, three(conn:receive(5)))
      assert.same({ "\0" }, three(conn:receive(1)))
      assert.same({ "world\r\n" }, three(conn:receive(7)))
      assert.same({ "!" }, three(conn:receive(1)))
      finish(conn, peer)
    end)

    it("a number n beyond the end of stream returns nil, 'closed' and what arrived", function()
      local conn, peer = trickled("abc")
      assert.same({ nil, "closed", "abc" }, three(conn:receive(10)))
      finish(conn, peer)
    end)

    it("mixes patterns on one stream", function()
      local conn, peer = trickled("HEAD 3\r\nabcrest\nof it")
      assert.same({ "HEAD 3" }, three(conn:receive("l")))
      assert.same({ "abc" }, three(conn:receive(3)))
      assert.same({ "rest\n" }, three(conn:receive("L")))
      assert.same({ "of it" }, three(conn:receive("a")))
      finish(conn, peer)
    end)

    describe("with a prefix", function()

      it("puts the prefix in front of a line", function()
        local conn, peer = trickled("tail\nnext\n")
        assert.same({ "head-tail" }, three(conn:receive("l", "head-")))
        assert.same({ "next\n" }, three(conn:receive("L", "")))
        finish(conn, peer)
      end)

      it("puts the prefix in front of an 'a' read", function()
        local conn, peer = trickled("body\0")
        assert.same({ "pre\0body\0" }, three(conn:receive("a", "pre\0")))
        finish(conn, peer)
      end)

      it("counts the prefix toward n with a number pattern", function()
        local conn, peer = trickled("12345")
        assert.same({ "ab123" }, three(conn:receive(5, "ab")))
        assert.same({ "45" }, three(conn:receive(2)))
        finish(conn, peer)
      end)

      it("includes the prefix in the partial result of a failure", function()
        local conn, peer = trickled("xy")
        assert.same({ nil, "closed", "p:xy" }, three(conn:receive("l", "p:")))
        finish(conn, peer)
      end)
    end)

    describe("with a max", function()

      it("fails a line longer than max with nil, 'too long' and its first max bytes", function()
        local conn, peer = trickled("0123456789abcdef\nnext\n")
        assert.same({ nil, "too long", "0123456789" }, three(conn:receive("l", nil, 10)))
        finish(conn, peer)
      end)

      it("leaves the rest of a line that was too long unread", function()
        local conn, peer = trickled("0123456789abcdef\nnext\n")
        assert.same({ nil, "too long", "0123456789" }, three(conn:receive("l", nil, 10)))
        assert.same({ "abcdef" }, three(conn:receive("l")))
        assert.same({ "next" }, three(conn:receive("l", nil, 10)))
        finish(conn, peer)
      end)

      it("returns a line of exactly max bytes", function()
        local conn, peer = trickled("0123456789\nabc\n")
        assert.same({ "0123456789" }, three(conn:receive("l", nil, 10)))
        assert.same({ "abc" }, three(conn:receive("l", nil, 10)))
        finish(conn, peer)
      end)

      it("fails an 'a' read longer than max with nil, 'too long' and its first max bytes", function()
        local data = "0123456789abcdefghijklmnopqrst"
        local conn, peer = trickled(data)
        assert.same({ nil, "too long", "0123456789" }, three(conn:receive("a", nil, 10)))
        assert.same({ data:sub(11) }, three(conn:receive("a")))
        finish(conn, peer)
      end)

      it("returns an 'a' read within max whole", function()
        local conn, peer = trickled("short\n")
        assert.same({ "short\n" }, three(conn:receive("a", nil, 10)))
        finish(conn, peer)
      end)
    end)
  end)

  describe("recv", function()

    it("returns between 1 and max bytes, in stream order", function()
      local a, b = util.pair()
      local data = util.pattern(100)
      assert.equal(100, a:send(data))
      local got = {}
      for _ = 1, 100 do
        local chunk, err = b:recv(7)
        assert.is_string(chunk, err)
        assert.is_true(#chunk >= 1 and #chunk <= 7, "recv(7) returned " .. #chunk .. " bytes")
        got[#got + 1] = chunk
        if #table.concat(got) >= 100 then break end
      end
      assert.equal(data, table.concat(got))
      a:close()
      b:close()
    end)

    it("returns what has arrived without waiting for max bytes", function()
      local payload = "abcdefghijklmnopqrst"
      local conn, peer = trickled(payload, 0.05)
      local first, err = conn:recv(100)
      assert.is_string(first, err)
      assert.is_true(#first >= 1 and #first < #payload, "first recv returned " .. #first .. " bytes")
      local got = first
      for _ = 1, 100 do
        local chunk = conn:recv(100)
        if not chunk then break end
        got = got .. chunk
      end
      assert.equal(payload, got)
      assert.equal("trickled 20", finish(conn, peer))
    end)

    it("returns buffered data first", function()
      local a, b = util.pair()
      assert.equal(16, a:send("line\nrest of it\n"))
      assert.same({ "line" }, three(b:receive("l")))
      assert.is_true(b:dirty())
      b:settimeout(0)
      assert.same({ "rest of it\n" }, three(b:recv()))
      a:close()
      b:close()
    end)

    it("takes at most max bytes from the buffer", function()
      local a, b = util.pair()
      assert.equal(16, a:send("line\nrest of it\n"))
      assert.same({ "line" }, three(b:receive("l")))
      b:settimeout(0)
      assert.same({ "res" }, three(b:recv(3)))
      assert.same({ "t of it\n" }, three(b:recv()))
      a:close()
      b:close()
    end)

    it("returns nil, 'closed' at end of stream", function()
      local a, b = util.pair()
      assert.equal(3, a:send("bye"))
      a:close()
      local got, err
      for _ = 1, 10 do
        local chunk
        chunk, err = b:recv()
        if not chunk then break end
        got = (got or "") .. chunk
      end
      assert.equal("bye", got)
      assert.equal("closed", err)
      local r = { b:recv() }
      assert.same({ nil, "closed" }, { r[1], r[2] })
      b:close()
    end)
  end)

  describe("receiveuntil", function()

    it("returns the bytes before each delimiter and consumes the delimiter", function()
      local a, b = util.pair()
      must(a:send("h1: x\r\nh2: y\r\n\r\nbody--B--\r\n\r\n--B--tail"))
      assert.same(three("h1: x\r\nh2: y"), three(b:receiveuntil("\r\n\r\n")))
      assert.same(three("body"), three(b:receiveuntil("--B--")))
      assert.same(three(""), three(b:receiveuntil("\r\n\r\n")))
      assert.same(three(""), three(b:receiveuntil("--B--")))
      assert.equal("tail", b:receive(4))
      a:close()
      b:close()
    end)

    it("finds the delimiter across every split of the bytes into two sends", function()
      local msg, delim = "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\n"
      for cut = 1, #msg - 1 do
        local a, b = util.pair()
        local got
        loop.spawn(function() got = { b:receiveuntil(delim) } end)
        loop.spawn(function()
          must(a:send(msg:sub(1, cut)))
          loop.sleep(0.001) -- the reader sees the first part alone
          must(a:send(msg:sub(cut + 1) .. "next"))
        end)
        assert.is_true(loop.run(5))
        assert.same({ "GET / HTTP/1.1\r\nHost: x" }, got, "cut at " .. cut)
        assert.equal("next", b:receive(4))
        a:close()
        b:close()
      end
    end)

    it("finds delimiters in bytes that arrive in random pieces (seeded)", function()
      local seed = tonumber(os.getenv("LSOCK_SEED")) or os.time()
      local rnd = random(seed)
      local delim = "--boundary\r\n"
      local parts, stream = {}, {}
      for i = 1, 60 do
        -- parts with pieces of the delimiter in them, but never all of it
        local p = ("x"):rep(rnd(0, 30)) .. delim:sub(1, rnd(0, #delim - 1)) .. tostring(i)
        parts[i] = p
        stream[#stream + 1] = p .. delim
      end
      local data = table.concat(stream)
      local a, b = util.pair()
      local got = {}
      loop.spawn(function()
        for i = 1, #parts do got[i] = b:receiveuntil(delim) end
      end)
      loop.spawn(function()
        local i = 1
        while i <= #data do
          local n = rnd(1, 17)
          must(a:send(data:sub(i, i + n - 1)))
          i = i + n
          loop.sleep(0)
        end
      end)
      assert.is_true(loop.run(10))
      assert.same(parts, got, "seed " .. seed)
      a:close()
      b:close()
    end)

    it("resumes after a timeout with the partial result as prefix, a delimiter straddling both", function()
      local a, b = util.pair()
      b:settimeout(0.05)
      must(a:send("abc\r\n\r"))
      local data, err, partial = b:receiveuntil("\r\n\r\n")
      assert.same(three(nil, "timeout", "abc\r\n\r"), three(data, err, partial))
      must(a:send("\nrest"))
      b:settimeout(util.TIMEOUT)
      assert.same(three("abc"), three(b:receiveuntil("\r\n\r\n", partial)))
      assert.equal("rest", b:receive(4))
      a:close()
      b:close()
    end)

    it("with max refuses longer content, keeps the rest unread, and allows exactly max", function()
      local a, b = util.pair()
      b:settimeout(0.05)
      must(a:send("12345;123456;"))
      assert.same(three("12345"), three(b:receiveuntil(";", nil, 5)))
      assert.same(three(nil, "too long", "12345"), three(b:receiveuntil(";", nil, 5)))
      assert.same(three("6"), three(b:receiveuntil(";", nil, 5)))
      -- an endless line without the delimiter: the error comes once max
      -- bytes (and room for a delimiter) are there, not at the timeout
      must(a:send(("z"):rep(100)))
      assert.same(three(nil, "too long", ("z"):rep(10)), three(b:receiveuntil("END", nil, 10)))
      a:close()
      b:close()
    end)

    it("answers nil, 'closed', partial when the peer closes first", function()
      local a, b = util.pair()
      must(a:send("no delimiter"))
      a:close()
      assert.same(three(nil, "closed", "no delimiter"), three(b:receiveuntil("\n\n")))
      assert.same(three(nil, "closed", ""), three(b:receiveuntil("\n\n")))
      b:close()
      assert.same(three(nil, "closed"), three(b:receiveuntil("x")))
    end)

    it("keeps its delimiter alive while parked in the loop", function()
      local a, b = util.pair()
      local got
      loop.spawn(function() got = b:receiveuntil(("<" .. "end>"):rep(2)) end)
      loop.step(0)
      collectgarbage()
      collectgarbage()
      must(a:send("payload<end><end>"))
      assert.is_true(loop.run(5))
      assert.equal("payload", got)
      a:close()
      b:close()
    end)

    it("rejects an empty delimiter, a bad max and a datagram socket", function()
      local a, b = util.pair()
      assert.has_error(function() b:receiveuntil("") end,
        "bad argument #1 to 'receiveuntil' (the delimiter must not be empty)")
      assert.has_error(function() b:receiveuntil(";", nil, -1) end)
      local u = lsock.udp()
      assert.has_error(function() u:receiveuntil(";") end,
        "bad argument #1 to 'receiveuntil' (stream socket expected, got inet dgram socket)")
      u:close()
      a:close()
      b:close()
    end)
  end)

  describe("peek", function()

    it("returns buffered and arriving bytes without consuming them", function()
      local a, b = util.pair()
      assert.equal(5, a:send("hello"))
      assert.equal("he", b:peek(2))
      assert.equal("hello", b:peek())
      assert.is_true(b:dirty())
      assert.equal("hel", b:receive(3))
      assert.equal("lo", b:peek())
      assert.equal("lo", b:recv())
      a:close()
      b:close()
    end)

    it("waits within the timeout, and tells the end of stream", function()
      local a, b = util.pair()
      b:settimeout(0.05)
      assert.same(three(nil, "timeout"), three(b:peek()))
      assert.equal("r", b:events())
      a:close()
      assert.same(three(nil, "closed"), three(b:peek()))
      b:close()
      assert.same(three(nil, "closed"), three(b:peek()))
    end)

    it("rejects a bad max and a datagram socket", function()
      local a, b = util.pair()
      assert.has_error(function() a:peek(0) end)
      local u = lsock.udp()
      assert.has_error(function() u:peek() end,
        "bad argument #1 to 'peek' (stream socket expected, got inet dgram socket)")
      u:close()
      a:close()
      b:close()
    end)
  end)

  describe("detach", function()

    it("hands the descriptor over and leaves the object closed", function()
      local a, b = util.pair()
      local fd = a:getfd()
      assert.equal(fd, a:detach())
      assert.equal("lsock.socket: closed", tostring(a))
      assert.same(three(nil, "closed"), three(a:detach()))
      a:close() -- the descriptor is not the object's any more
      local c = lsock.fromfd(fd)
      assert.equal(3, c:send("abc"))
      b:settimeout(util.TIMEOUT)
      assert.equal("abc", b:receive(3))
      c:close()
      b:close()
    end)
  end)

  describe("after close()", function()

    it("receive and recv return nil, 'closed'", function()
      local a, b = util.pair()
      assert.equal(2, a:send("x\n"))
      assert.is_true(b:close())
      local r = { b:receive() }
      assert.same({ nil, "closed" }, { r[1], r[2] })
      r = { b:recv() }
      assert.same({ nil, "closed" }, { r[1], r[2] })
      a:close()
    end)
  end)

  describe("dirty", function()

    it("is true while data is buffered after a line read, false once it is consumed", function()
      local a, b = util.pair()
      assert.equal(4, a:send("a\nb\n"))
      assert.same({ "a" }, three(b:receive()))
      assert.is_true(b:dirty())
      assert.same({ "b" }, three(b:receive()))
      assert.is_false(b:dirty())
      a:close()
      b:close()
    end)
  end)

  describe("timeouts", function()

    it("receive(n) returns nil, 'timeout' and the bytes that did arrive", function()
      local a, b = util.pair()
      assert.equal(5, a:send("12345"))
      b:settimeout(0.2)
      assert.same({ nil, "timeout", "12345" }, three(b:receive(10)))
      a:close()
      b:close()
    end)

    it("completes with receive(n - #partial) after a timeout", function()
      local a, b = util.pair()
      assert.equal(5, a:send("12345"))
      b:settimeout(0.2)
      local _, err, partial = b:receive(10)
      assert.equal("timeout", err)
      assert.equal("12345", partial)
      assert.equal(5, a:send("67890"))
      b:settimeout(util.TIMEOUT)
      assert.same({ "67890" }, three(b:receive(10 - #partial)))
      a:close()
      b:close()
    end)

    it("completes with receive(n, partial) after a timeout", function()
      local a, b = util.pair()
      assert.equal(5, a:send("12345"))
      b:settimeout(0.2)
      local _, err, partial = b:receive(10)
      assert.equal("timeout", err)
      assert.equal(5, a:send("67890"))
      b:settimeout(util.TIMEOUT)
      assert.same({ "1234567890" }, three(b:receive(10, partial)))
      a:close()
      b:close()
    end)

    it("'a' returns nil, 'timeout' and what arrived while the peer stays open", function()
      local a, b = util.pair()
      assert.equal(4, a:send("ab\0c"))
      b:settimeout(0.2)
      assert.same({ nil, "timeout", "ab\0c" }, three(b:receive("a")))
      a:close()
      b:settimeout(util.TIMEOUT)
      assert.same({ "" }, three(b:receive("a")))
      b:close()
    end)

    it("returns the partial line on timeout, and the line completes with it as prefix", function()
      local a, b = util.pair()
      assert.equal(3, a:send("abc"))
      b:settimeout(0.2)
      local r = three(b:receive())
      assert.same({ nil, "timeout", "abc" }, r)
      assert.equal(4, a:send("def\n"))
      b:settimeout(util.TIMEOUT)
      assert.same({ "abcdef" }, three(b:receive("l", r[3])))
      a:close()
      b:close()
    end)

    -- The peer sends one byte every 50 ms: 41 bytes take at least 2 s.
    local steady = "#abcdefghijklmnopqrstuvwxyz0123456789ABCD"

    it("in block mode limits each wait, so a slow but steady peer completes", function()
      local conn, peer = trickled(steady, 0.05)
      assert.same({ "#" }, three(conn:receive(1)))   -- the peer is under way
      conn:settimeout(0.5)
      -- 20 bytes take at least 0.95 s, longer than the timeout, but no gap
      -- between two bytes comes near 0.5 s
      assert.same({ steady:sub(2, 21) }, three(conn:receive(20)))
      finish(conn, peer)
    end)

    it("in total mode limits the whole call, progress or not", function()
      local conn, peer = trickled(steady, 0.05)
      assert.same({ "#" }, three(conn:receive(1)))   -- the peer is under way
      conn:settimeout(0.3, "t")
      local data, err, partial = conn:receive(20)
      assert.is_nil(data)
      assert.equal("timeout", err)
      assert.is_string(partial)
      assert.is_true(#partial > 0 and #partial < 20, "partial of " .. #partial .. " bytes")
      assert.equal(steady:sub(2, 1 + #partial), partial)
      finish(conn, peer)
    end)

    -- The peer waits 1 s before it sends "late\n": a receive that waited
    -- would get the line instead of "timeout".
    it("of 0 makes receive on an empty socket return nil, 'timeout' at once", function()
      local conn, peer = with_peer("127.0.0.1", "later", 1, util.tohex("late\n"))
      conn:settimeout(0)
      assert.same({ nil, "timeout", "" }, three(conn:receive()))
      conn:settimeout(util.TIMEOUT)
      assert.same({ "late" }, three(conn:receive()))
      assert.equal("sent 5", finish(conn, peer))
    end)

    it("of 0 makes recv on an empty socket return nil, 'timeout' at once", function()
      local conn, peer = with_peer("127.0.0.1", "later", 1, util.tohex("late\n"))
      conn:settimeout(0)
      local r = three(conn:recv())
      assert.same({ nil, "timeout" }, { r[1], r[2] })
      conn:settimeout(util.TIMEOUT)
      assert.same({ "late" }, three(conn:receive()))
      finish(conn, peer)
    end)

    it("makes events() say 'r' after a receive timed out", function()
      local conn, peer = with_peer("127.0.0.1", "later", 1, util.tohex("late\n"))
      conn:settimeout(0)
      local _, err = conn:receive()
      assert.equal("timeout", err)
      assert.equal("r", conn:events())
      finish(conn, peer)
    end)
  end)

  describe("when the peer resets the connection", function()

    -- The peer sends "hello", waits 0.3 s while we are blocked reading (and
    -- have sent it data it never reads), then closes with linger 0.
    it("receive returns nil, 'closed' with the data that arrived before", function()
      local conn, peer = with_peer("127.0.0.1", "reset", 0.3, util.tohex("hello"))
      assert.equal(6, conn:send("unread"))
      assert.same({ nil, "closed", "hello" }, three(conn:receive(100)))
      assert.equal("reset", finish(conn, peer))
    end)

    it("recv returns the data that arrived, then nil, 'closed'", function()
      local conn, peer = with_peer("127.0.0.1", "reset", 0.3, util.tohex("hello"))
      assert.equal(6, conn:send("unread"))
      local got, err = "", nil
      for _ = 1, 10 do
        local chunk
        chunk, err = conn:recv()
        if not chunk then break end
        got = got .. chunk
      end
      assert.equal("hello", got)
      assert.equal("closed", err)
      assert.equal("reset", finish(conn, peer))
    end)
  end)

  describe("half-close", function()

    it("lets the peer read everything after shutdown('send') and still answer", function()
      local conn, peer = with_peer("127.0.0.1", "reply")
      assert.equal(100000, util.send_pattern(conn, 100000))
      assert.is_true(conn:shutdown("send"))
      assert.same({ "ok 100000\n" }, three(conn:receive("a")))
      assert.equal("replied", finish(conn, peer))
    end)
  end)

  describe("send", function()

    it("returns the index of the last byte, the length when all was sent", function()
      local a, b = util.pair()
      local last = a:send("hello")
      assert.equal(5, last)
      assert.is_true(util.is_integer(last))
      assert.same({ "hello" }, three(b:receive(5)))
      a:close()
      b:close()
    end)

    it("send(data, i, j) sends the substring and returns j", function()
      local a, b = util.pair()
      assert.equal(6, a:send("0123456789", 3, 6))
      assert.equal(10, a:send("0123456789", 8))
      assert.same({ "2345789" }, three(b:receive(7)))
      a:close()
      b:close()
    end)

    it("takes negative indices as string.sub does", function()
      local a, b = util.pair()
      assert.equal(10, a:send("0123456789", -3))
      assert.equal(9, a:send("0123456789", -5, -2))
      assert.same({ "7895678" }, three(b:receive(7)))
      a:close()
      b:close()
    end)

    it("sends zero bytes intact", function()
      local a, b = util.pair()
      assert.equal(5, a:send("\0a\0\0b"))
      assert.same({ "\0a\0\0b" }, three(b:receive(5)))
      a:close()
      b:close()
    end)

    -- Run in a child process so that a SIGPIPE kills the child, not busted.
    it("to a closed peer does not kill the process with SIGPIPE", function()
      local conn, peer = with_peer("127.0.0.1", "sendclosed")
      local output = finish(conn, peer)
      local errno, last = output:match("^result nil closed (%d+) (%d+)\nalive$")
      assert.is_truthy(errno, output)
      errno = tonumber(errno)
      assert.is_true(errno == lsock.errno.EPIPE or errno == lsock.errno.ECONNRESET,
        "errno " .. errno)
      assert.is_true(tonumber(last) < util.BLOCK)
    end)

    it("to a closed peer returns nil, 'closed', an errno and the index of the last byte sent", function()
      local a, b = util.pair()
      b:close()
      local data = util.block(0)
      local r, err, errno, last
      for _ = 1, 200 do
        r, err, errno, last = a:send(data)
        if not r then break end
        lsock.sleep(0.01)
      end
      assert.is_nil(r)
      assert.equal("closed", err)
      assert.is_true(errno == lsock.errno.EPIPE or errno == lsock.errno.ECONNRESET,
        "errno " .. tostring(errno))
      assert.is_true(util.is_integer(last), "last is " .. tostring(last))
      assert.is_true(last >= 0 and last < #data, "last is " .. tostring(last))
      a:close()
    end)
  end)

  describe("getstats", function()

    it("reports no receive buffer while nothing received is pending", function()
      local a, b = util.pair()
      assert.equal(0, select(4, b:getstats()))
      a:send("one\ntwo\n")
      assert.equal("one", b:receive())
      assert.is_true(select(4, b:getstats()) > 0, "the rest of the read is held")
      assert.equal("two", b:receive())
      assert.equal(0, select(4, b:getstats()))
      a:close()
      b:close()
    end)

    it("keeps its one block across a bulk read and frees it once the connection is quiet", function()
      local a, b = util.pair()
      -- 100,000 bytes fit in the loopback queues, so one read of 64 KiB
      -- fills the block and more is known to be waiting.
      assert.equal(100000, a:send(string.rep("x", 100000)))
      assert.equal(65536, #b:receive(65536))
      local held = select(4, b:getstats())
      assert.is_true(held >= 65536, "a drained block is kept while more is queued: " .. held)
      assert.equal(100000 - 65536, #b:receive(100000 - 65536))
      b:settimeout(0)
      local none, err = b:receive(1)
      assert.is_nil(none)
      assert.equal("timeout", err)
      assert.equal(0, select(4, b:getstats()))
      a:close()
      b:close()
    end)

    it("keeps 200 idle connections that have read data at zero buffer memory", function()
      local server = util.listen("127.0.0.1")
      local port = select(2, server:getsockname())
      local conns = {}
      for i = 1, 200 do
        local c = assert(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT }))
        local s = assert(server:accept())
        s:settimeout(util.TIMEOUT)
        c:send(string.rep("x", 1000) .. "\n")
        assert.equal(1000, #s:receive())
        conns[i] = { c, s }
      end
      local held = 0
      for _, pair in ipairs(conns) do
        held = held + select(4, pair[2]:getstats())
        pair[1]:close()
        pair[2]:close()
      end
      server:close()
      assert.equal(0, held)
    end)

    it("counts the bytes received and sent, and the age", function()
      local a, b = util.pair()
      assert.equal(5, a:send("hello"))
      assert.same({ "hello" }, three(b:receive(5)))
      assert.equal(3, b:send("ab\n"))
      assert.same({ "ab" }, three(a:receive()))
      local received, sent, age = a:getstats()
      assert.same({ 3, 5 }, { received, sent })
      assert.is_true(util.is_integer(received) and util.is_integer(sent))
      assert.is_number(age)
      assert.is_true(age >= 0)
      received, sent = b:getstats()
      assert.same({ 5, 3 }, { received, sent })
      a:close()
      b:close()
    end)
  end)

  describe("large transfers", function()

    it("receives 64 MiB from a peer, checked block by block", function()
      local total = 64 * MiB
      local conn, peer = with_peer("127.0.0.1", "send", total)
      for k = 0, 64 * MiB / util.BLOCK - 1 do
        local block, err = conn:receive(util.BLOCK)
        if block ~= util.block(k) then
          assert.is_true(false, string.format("block %d: %s", k, block and "differs" or err))
        end
      end
      assert.same({ nil, "closed", "" }, three(conn:receive(1)))
      assert.equal(total, (conn:getstats()))
      assert.equal("sent " .. total, finish(conn, peer))
    end)

    it("returns 16 MiB from one receive(n), with no cap on a single read", function()
      local total = 16 * MiB
      local conn, peer = with_peer("127.0.0.1", "send", total)
      local data = conn:receive(total)
      assert.equal(total, data and #data)
      local check = util.checker()
      assert.is_true(check.feed(data), "data differs")
      assert.equal("sent " .. total, finish(conn, peer))
    end)

    it("sends 64 MiB to a peer, which checks every byte", function()
      local total = 64 * MiB
      local conn, peer = with_peer("127.0.0.1", "verify", total)
      assert.equal(total, util.send_pattern(conn, total))
      local _, sent = conn:getstats()
      assert.equal(total, sent)
      assert.equal("ok " .. total, finish(conn, peer))
    end)

    it("moves data over IPv6 on ::1", function()
      local total = 4 * MiB
      local conn, peer = with_peer("::1", "send", total)
      local addr, _, family = conn:getpeername()
      assert.same({ "::1", "inet6" }, { addr, family })
      assert.equal("inet6", conn:family())
      local check = util.checker()
      for _ = 1, total do
        local chunk, err = conn:recv()
        if not chunk then
          assert.equal("closed", err)
          break
        end
        assert.is_true(check.feed(chunk), "data differs")
      end
      assert.equal(total, check.count())
      assert.equal("sent " .. total, finish(conn, peer))
    end)
  end)

  describe("lsock.listen and lsock.connect", function()

    it("lsock.listen('127.0.0.1', 0) picks a port and accepts connections", function()
      local server = assert(lsock.listen("127.0.0.1", 0))
      server:settimeout(util.TIMEOUT)
      local addr, port, family = server:getsockname()
      assert.same({ "127.0.0.1", "inet" }, { addr, family })
      assert.is_true(util.is_integer(port) and port > 0, "port " .. tostring(port))
      local client = assert(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT }))
      local conn, peer_addr, peer_port = server:accept()
      assert.is_truthy(conn, peer_addr)
      conn:settimeout(util.TIMEOUT)
      assert.equal("127.0.0.1", peer_addr)
      assert.equal(select(2, client:getsockname()), peer_port)
      assert.equal(5, client:send("ping\n"))
      assert.same({ "ping" }, three(conn:receive()))
      assert.equal(5, conn:send("pong\n"))
      assert.same({ "pong" }, three(client:receive()))
      client:close()
      conn:close()
      server:close()
    end)

    it("lsock.connect('127.0.0.1', port) connects to the listener", function()
      local server, port = util.listen("127.0.0.1")
      local client = assert(lsock.connect("127.0.0.1", port, { timeout = util.TIMEOUT }))
      local conn = util.accept(server)
      local addr, peer_port = client:getpeername()
      assert.same({ "127.0.0.1", port }, { addr, peer_port })
      assert.equal(3, client:send("hi\n"))
      assert.same({ "hi" }, three(conn:receive()))
      client:close()
      conn:close()
      server:close()
    end)

    it("lsock.connect('localhost', port) reaches a listener on 127.0.0.1", function()
      local server, port = util.listen("127.0.0.1")
      local client = assert(lsock.connect("localhost", port, { timeout = util.TIMEOUT }))
      client:settimeout(util.TIMEOUT)
      local conn = util.accept(server)
      local addr, peer_port = client:getpeername()
      assert.same({ "127.0.0.1", port }, { addr, peer_port })
      assert.equal(6, conn:send("hello\n"))
      assert.same({ "hello" }, three(client:receive()))
      client:close()
      conn:close()
      server:close()
    end)
  end)
end)
