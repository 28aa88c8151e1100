-- LuaSocket's own SMTP client (socket.smtp, with smtp.message, ltn12 and
-- mime from Debian's lua-socket), as a script written for it uses it, run
-- on each implementation of helpers.compat: "luasocket" (Debian's LuaSocket
-- 3.1: the reference) and "lsock" (lsock.compat).
--
-- The server is spec/helpers/smtp_peer.lua, a child process on lsock's
-- native API on 127.0.0.1 that prints what it received; each case stops
-- it (closing its standard input) and reads that. socket.smtp.TIMEOUT is
-- 10 s here; the peer ends after 30 s at most.
local util = require "helpers.util"
local compat = require "helpers.compat"
local child = require "helpers.compat_child"

local PEER = util.HELPERS .. "smtp_peer.lua"

-- What the peer printed, as a list of events { kind, values... } with the
-- hex values decoded.
local function events(output)
  local list = {}
  for line in output:gmatch("[^\n]+") do
    local words = {}
    for w in line:gmatch("%S+") do words[#words + 1] = w end
    local kind = words[1]
    if kind == "mail" or kind == "rcpt" or kind == "data" or kind == "raw" then
      list[#list + 1] = { kind, util.fromhex(words[2] or "") }
    elseif kind == "helo" then
      list[#list + 1] = { kind, words[2], util.fromhex(words[3] or "") }
    elseif kind == "auth" then
      local e = { kind, words[2] }
      for i = 3, #words do e[#e + 1] = util.fromhex(words[i]) end
      list[#list + 1] = e
    elseif kind ~= "port" then
      list[#list + 1] = words
    end
  end
  return list
end

-- The first event of `kind` (and all of them as a second result).
local function find(list, kind)
  local all = {}
  for _, e in ipairs(list) do
    if e[1] == kind then all[#all + 1] = e end
  end
  return all[1], all
end

-- The header block and body of a message (CR LF line ends): headers as a
-- table by lower-case name, and the body after the empty line.
local function split_message(msg)
  local head, body = msg:match("^(.-)\r\n\r\n(.*)$")
  assert.is_string(head, "no empty line after the headers in:\n" .. msg)
  local h = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    assert.is_string(name, "bad header line " .. line)
    h[name:lower()] = value
  end
  return h, body
end

for _, impl in ipairs(compat.impls) do
  describe(impl .. ": socket.smtp", function()
    local socket, smtp, ltn12, mime
    local peer

    setup(function()
      socket = compat.load(impl)
      smtp = compat.require(impl, "socket.smtp")
      ltn12 = compat.require(impl, "ltn12")
      mime = compat.require(impl, "mime")
      smtp.TIMEOUT = 10
    end)

    before_each(function()
      peer = child.start(PEER)
    end)

    after_each(function()
      child.stop_all()
    end)

    -- Send `mailt` (server and port added) to the peer, stop it; returns
    -- the (two) results of smtp.send as a table and the events the peer
    -- saw.
    local function send(mailt)
      mailt.server, mailt.port = "127.0.0.1", peer.port
      local ok, r1, r2 = pcall(smtp.send, mailt)
      local list = events(peer.stop())
      assert.is_true(ok, "smtp.send raised: " .. tostring(r1))
      return { r1, r2 }, list
    end

    it("runs on " .. impl .. "'s socket module", function()
      local src = debug.getinfo(socket.bind, "S").source
      if impl == "luasocket" then
        assert.matches("^@/usr/share/lua/[%d.]+/socket%.lua$", src)
      else
        assert.matches("lua/lsock/compat%.lua$", src)
      end
      assert.equal(socket, package.loaded.socket)
      peer.stop()
    end)

    it("sends a multipart message from smtp.message: envelope, headers, parts, dot-stuffing", function()
      local binary = ("\0\1\2\255"):rep(100)
      local text = "first part\r\n.leading dot\r\n.\r\n..two dots\r\nend"
      local source = smtp.message {
        headers = { from = "Alice <alice@example.test>", to = "Bob <bob@example.test>",
          cc = "carol@example.test", subject = "compat test" },
        body = {
          preamble = "This is a multipart message.",
          [1] = { body = text },
          [2] = { headers = { ["content-type"] = 'application/octet-stream; name="data.bin"',
                              ["content-transfer-encoding"] = "BASE64" },
                  body = ltn12.source.chain(ltn12.source.string(binary),
                    ltn12.filter.chain(mime.encode("base64"), mime.wrap())) },
          epilogue = "The end.",
        },
      }
      local r, list = send { from = "<alice@example.test>",
        rcpt = { "<bob@example.test>", "<carol@example.test>" }, source = source }
      assert.same({ 1 }, r)

      assert.same({ "helo", "EHLO", "localhost" }, find(list, "helo"))
      assert.same({ "mail", "FROM:<alice@example.test>" }, find(list, "mail"))
      local _, rcpts = find(list, "rcpt")
      assert.same({ { "rcpt", "TO:<bob@example.test>" }, { "rcpt", "TO:<carol@example.test>" } }, rcpts)
      assert.is_table(find(list, "quit"))
      assert.same({ "end", "1", "quit" }, find(list, "end"))

      local data = assert(find(list, "data"))[2]
      local raw = assert(find(list, "raw"))[2]
      local h, body = split_message(data)
      assert.equal("Alice <alice@example.test>", h.from)
      assert.equal("Bob <bob@example.test>", h.to)
      assert.equal("carol@example.test", h.cc)
      assert.equal("compat test", h.subject)
      assert.equal("1.0", h["mime-version"])
      assert.equal(socket._VERSION, h["x-mailer"])
      assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d %-0000$", h.date)
      local boundary = h["content-type"]:match('^multipart/mixed; boundary="([^"]+)"$')
      assert.is_string(boundary, "content-type " .. tostring(h["content-type"]))

      -- the body: preamble, two parts, the closing boundary, the epilogue,
      -- then the CR LF that socket.smtp puts before the final dot
      local b = "\r\n--" .. boundary
      local want = "This is a multipart message.\r\n"
        .. b .. "\r\n" .. 'Content-Type: text/plain; charset="iso-8859-1"' .. "\r\n\r\n" .. text
        .. b .. "\r\n"
      assert.equal(want, body:sub(1, #want))
      local part2 = body:sub(#want + 1)
      local p2h, p2body = split_message(part2)
      assert.equal('application/octet-stream; name="data.bin"', p2h["content-type"])
      assert.equal("BASE64", p2h["content-transfer-encoding"])
      local b64, rest = p2body:match("^(.-)" .. b:gsub("%p", "%%%0") .. "%-%-\r\n(.*)$")
      assert.is_string(b64, "no closing boundary in:\n" .. p2body)
      assert.equal("\r\nThe end.\r\n\r\n", rest)
      assert.equal(binary, (mime.unb64((b64:gsub("\r\n", "")))))

      -- dot-stuffing on the wire, undone by the peer
      assert.matches("\r\n..leading dot\r\n..\r\n...two dots\r\n", raw, 1, true)
      assert.matches("\r\n.leading dot\r\n.\r\n..two dots\r\n", data, 1, true)
      assert.not_matches("\r\n%.leading", raw)
    end)

    it("delivers a message string byte for byte, lines of dots and a leading dot included", function()
      local msg = ".starts with a dot\r\nSubject: not a header, no empty line before\r\n"
        .. "\r\n.\r\n..\r\n...\r\n. \r\nx.\r\n.x\r\nlast line without an end of line"
      local r, list = send { from = "<a@example.test>", rcpt = "<b@example.test>",
        source = ltn12.source.string(msg) }
      assert.same({ 1 }, r)
      local data = assert(find(list, "data"))[2]
      local raw = assert(find(list, "raw"))[2]
      -- the message, and the CR LF socket.smtp sends before "."
      assert.equal(msg .. "\r\n", data)
      assert.equal("..starts with a dot\r\nSubject: not a header, no empty line before\r\n"
        .. "\r\n..\r\n...\r\n....\r\n.. \r\nx.\r\n..x\r\nlast line without an end of line\r\n", raw)
    end)

    it("sends a message in many small chunks from a source", function()
      local lines = {}
      for i = 1, 2000 do lines[i] = (i % 3 == 0 and "." or "") .. "line " .. i end
      local msg = table.concat(lines, "\r\n") .. "\r\n"
      local chunks, i = {}, 1
      while i <= #msg do
        local n = (i % 13) + 1
        chunks[#chunks + 1] = msg:sub(i, i + n - 1)
        i = i + n
      end
      local k = 0
      local source = function()
        k = k + 1
        return chunks[k]
      end
      local r, list = send { from = "<a@example.test>", rcpt = "<b@example.test>", source = source }
      assert.same({ 1 }, r)
      local data = assert(find(list, "data"))[2]
      assert.equal(msg .. "\r\n", data)
    end)

    it("logs in with AUTH LOGIN when the server offers it, with the domain given", function()
      local r, list = send { from = "<a@example.test>", rcpt = "<b@example.test>",
        source = ltn12.source.string("hi"), user = "alice", password = "s3cret", domain = "client.test" }
      assert.same({ 1 }, r)
      assert.same({ "helo", "EHLO", "client.test" }, find(list, "helo"))
      assert.same({ "auth", "LOGIN", "YWxpY2U=", "czNjcmV0" }, find(list, "auth"))
      assert.equal("hi\r\n", assert(find(list, "data"))[2])
    end)

    it("a refused recipient: nil and the server's reply, no DATA, no QUIT", function()
      local r, list = send { from = "<a@example.test>", rcpt = { "<b@example.test>", "<reject@example.test>" },
        source = ltn12.source.string("never sent") }
      assert.same({ nil, "550 5.1.1 no such user" }, r)
      local _, rcpts = find(list, "rcpt")
      assert.equal(2, #rcpts)
      assert.is_nil(find(list, "data"))
      assert.is_nil(find(list, "quit"))
      assert.same({ "end", "1", "closed" }, find(list, "end"))
    end)

    it("a server that is not there: nil, \"connection refused\"", function()
      local port = peer.port
      peer.stop()
      local r = { smtp.send { from = "<a@example.test>", rcpt = "<b@example.test>",
        source = ltn12.source.string("x"), server = "127.0.0.1", port = port } }
      assert.same({ nil, "connection refused" }, r)
    end)

    it("the low-level API: open, greet, send, quit, close", function()
      local s = smtp.open("127.0.0.1", peer.port)
      local ext = s:greet("low.test")
      assert.is_string(ext)
      assert.matches("AUTH PLAIN LOGIN", ext, 1, true)
      s:send { from = "<x@example.test>", rcpt = "<y@example.test>", source = ltn12.source.string("low") }
      local code = s:quit()
      assert.equal(221, code)
      assert.equal(1, s:close())
      local list = events(peer.stop())
      assert.same({ "helo", "EHLO", "low.test" }, find(list, "helo"))
      assert.equal("low\r\n", assert(find(list, "data"))[2])
    end)
  end)
end
