--- A small HTTP/1.1 server for the lsock.compat specs, written on lsock's
-- native API (lsock.listen, lsock.loop, lsock.tls), run as a child process
-- by helpers.compat_child:
--
--   http_server.lua http                 plain HTTP
--   http_server.lua https CERT KEY       HTTPS with that certificate (the
--                                        handshake runs on the first read)
--
-- It listens on 127.0.0.1 port 0, prints "port N" and serves every
-- connection in a coroutine of lsock.loop, one request per connection
-- (every answer says "Connection: close"). It exits when its standard
-- input ends (the parent closed it) or after LIFETIME seconds. For every
-- request it prints "request METHOD TARGET", and "failed WHAT: ERR" for a
-- connection that went wrong (a handshake the client refused, say).
--
-- Routes (N, K, S are decimal numbers):
--
--   GET  /bytes/N      200, Content-Length N, the first N bytes of the
--                      pattern (util.block); HEAD: the same head, no body
--   GET  /chunked/N    200, Transfer-Encoding: chunked, the first N bytes
--                      of the pattern in chunks of compat_util.CHUNKS
--                      sizes (the first with a chunk extension), then a
--                      trailer "X-Trailer: done"
--   POST /echo         200, text/plain: "method M\nlength L\nadler32 A\n
--   PUT  /echo         pattern P\ncontent-length C\ntransfer-encoding T\n
--                      content-type Y\n", where L and A are the request
--                      body's length and Adler-32, P "ok" when the body is
--                      the first L bytes of the pattern and "no" otherwise,
--                      C, T, Y the request's headers or "none"
--   GET  /headers      200, text/plain: the request line, then one line
--                      "name: value" per request header, names in lower
--                      case, sorted
--   GET  /redirect/K   302 with Location "/redirect/K-1" (relative) while
--                      K > 1, and the absolute "http://HOST/bytes/64" (HOST
--                      from the Host header) for K = 1
--   GET  /status/K     status K with a body "status K\n"
--   GET  /tls          200, text/plain: "tls no\n" on plain HTTP; on HTTPS
--                      "tls yes\nservername S\nversion V\n", S the name
--                      the client sent (SNI, "nil" for none), V "tls1.3"...
--   GET  /slow/S       waits S seconds (at most 5), then as /bytes/16
--   anything else      404 Not Found, body "no such path: TARGET\n"
--
-- Every request body (any method) is read first, by Content-Length or
-- chunked (trailers skipped); one that cannot be read gets 400.
local lsock = require "lsock"
local loop = require "lsock.loop"
local util = require "helpers.util"
local cu = require "helpers.compat_util"

local LIFETIME = 30

local mode = arg[1] or "http"
local ctx
if mode == "https" then
  local tls = require "lsock.tls"
  local err
  ctx, err = tls.context({ mode = "server", cert = arg[2], key = arg[3] })
  if not ctx then
    util.out("context failed:", tostring(err))
    os.exit(1)
  end
elseif mode ~= "http" then
  util.out("unknown mode", mode)
  os.exit(2)
end

local server, lerr = lsock.listen("127.0.0.1", 0)
if not server then
  util.out("listen failed:", tostring(lerr))
  os.exit(1)
end
local _, port = server:getsockname()

local REASONS = {
  [200] = "OK", [204] = "No Content", [301] = "Moved Permanently", [302] = "Found",
  [303] = "See Other", [307] = "Temporary Redirect", [400] = "Bad Request",
  [404] = "Not Found", [500] = "Internal Server Error",
}

local function head(c, code, fields)
  local t = { ("HTTP/1.1 %d %s\r\n"):format(code, REASONS[code] or "Other") }
  for _, f in ipairs(fields) do t[#t + 1] = f .. "\r\n" end
  t[#t + 1] = "Connection: close\r\n\r\n"
  return c:send(table.concat(t))
end

local function answer(c, req, code, body, ctype)
  local ok, err = head(c, code, { "Content-Type: " .. (ctype or "text/plain"),
    "Content-Length: " .. #body })
  if ok and req.method ~= "HEAD" and #body > 0 then ok, err = c:send(body) end
  return ok, err
end

-- The pattern, N bytes, in the chunk sizes of cu.CHUNKS.
local function send_chunked(c, n)
  local data = util.pattern(n)
  local pos, k = 1, 1
  while pos <= n do
    local size = math.min(cu.CHUNKS[k], n - pos + 1)
    local ext = pos == 1 and ";name=value" or ""
    local ok, err = c:send(("%x%s\r\n"):format(size, ext) .. data:sub(pos, pos + size - 1) .. "\r\n")
    if not ok then return nil, err end
    pos, k = pos + size, k % #cu.CHUNKS + 1
  end
  return c:send("0\r\nX-Trailer: done\r\n\r\n")
end

-- The request body, by Content-Length or chunked; nil, err on failure.
local function read_body(c, headers)
  local te = headers["transfer-encoding"]
  if te and te:lower():find("chunked", 1, true) then
    local parts = {}
    for _ = 1, 1e6 do
      local line, err = c:receive("l")
      if not line then return nil, "chunk size: " .. tostring(err) end
      local size = tonumber((line:gsub(";.*", "")), 16)
      if not size then return nil, "bad chunk size line " .. line end
      if size == 0 then
        for _ = 1, 100 do -- trailers
          local t, terr = c:receive("l")
          if not t then return nil, "trailer: " .. tostring(terr) end
          if t == "" then return table.concat(parts) end
        end
        return nil, "too many trailers"
      end
      local chunk, cerr = c:receive(size)
      if not chunk then return nil, "chunk: " .. tostring(cerr) end
      parts[#parts + 1] = chunk
      local crlf, eerr = c:receive("l")
      if crlf ~= "" then return nil, "chunk end: " .. tostring(crlf or eerr) end
    end
    return nil, "too many chunks"
  end
  local len = tonumber(headers["content-length"])
  if len then return c:receive(len) end
  return ""
end

local function route(c, req)
  local method, target, h = req.method, req.target, req.headers
  local n = tonumber(target:match("^/bytes/(%d+)$"))
  if n and (method == "GET" or method == "HEAD") then
    local ok, err = head(c, 200, { "Content-Type: application/octet-stream", "Content-Length: " .. n })
    if ok and method == "GET" then ok, err = util.send_pattern(c, n) end
    return ok, err
  end
  n = tonumber(target:match("^/chunked/(%d+)$"))
  if n and method == "GET" then
    local ok, err = head(c, 200, { "Content-Type: application/octet-stream",
      "Transfer-Encoding: chunked", "Trailer: X-Trailer" })
    if ok then ok, err = send_chunked(c, n) end
    return ok, err
  end
  if target == "/echo" and (method == "POST" or method == "PUT") then
    local body = req.body
    return answer(c, req, 200, table.concat({
      "method " .. method,
      "length " .. #body,
      "adler32 " .. cu.adler32(body),
      "pattern " .. (body == util.pattern(#body) and "ok" or "no"),
      "content-length " .. (h["content-length"] or "none"),
      "transfer-encoding " .. (h["transfer-encoding"] or "none"),
      "content-type " .. (h["content-type"] or "none"), "" }, "\n"))
  end
  if target == "/headers" then
    local lines = {}
    for name, value in pairs(h) do lines[#lines + 1] = name .. ": " .. value end
    table.sort(lines)
    table.insert(lines, 1, req.line)
    lines[#lines + 1] = ""
    return answer(c, req, 200, table.concat(lines, "\n"))
  end
  local k = tonumber(target:match("^/redirect/(%d+)$"))
  if k then
    local location = k > 1 and ("/redirect/" .. (k - 1)) or ("http://" .. (h.host or "127.0.0.1") .. "/bytes/64")
    local body = "redirect to " .. location .. "\n"
    return head(c, 302, { "Location: " .. location, "Content-Type: text/plain",
      "Content-Length: " .. #body }) and (method == "HEAD" or c:send(body))
  end
  if target == "/tls" then
    local tls_info = { "tls " .. (c.version and "yes" or "no") }
    if c.version then
      tls_info[2] = "servername " .. tostring(c:servername())
      tls_info[3] = "version " .. tostring(c:version())
    end
    tls_info[#tls_info + 1] = ""
    return answer(c, req, 200, table.concat(tls_info, "\n"))
  end
  k = tonumber(target:match("^/status/(%d+)$"))
  if k then return answer(c, req, k, "status " .. k .. "\n") end
  local s = tonumber(target:match("^/slow/([%d.]+)$"))
  if s then
    loop.sleep(math.min(s, 5))
    local body = util.pattern(16)
    return answer(c, req, 200, body, "application/octet-stream")
  end
  return answer(c, req, 404, "no such path: " .. target .. "\n")
end

local function serve(conn)
  conn:settimeout(util.TIMEOUT)
  local c = conn
  if ctx then
    local tls = require "lsock.tls"
    c = tls.wrap(conn, ctx)
  end
  local line, err = c:receive("l")
  if not line then
    util.out("failed request line:", tostring(err))
    c:close()
    return
  end
  local method, target = line:match("^(%u+) (%S+) HTTP/1%.%d$")
  local req = { line = line, method = method, target = target, headers = {} }
  for _ = 1, 200 do
    local hl, herr = c:receive("l")
    if not hl then
      util.out("failed headers:", tostring(herr))
      c:close()
      return
    end
    if hl == "" then break end
    local name, value = hl:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      req.headers[name] = req.headers[name] and (req.headers[name] .. ", " .. value) or value
    end
  end
  util.out("request", tostring(method), tostring(target))
  local ok, rerr
  local body, berr = read_body(c, req.headers)
  req.body = body
  if not method then
    ok, rerr = answer(c, { method = "GET" }, 400, "bad request line\n")
  elseif not body then
    ok, rerr = answer(c, req, 400, "bad body: " .. tostring(berr) .. "\n")
  else
    ok, rerr = route(c, req)
  end
  if not ok then util.out("failed answer:", tostring(rerr)) end
  if c.shutdown then c:shutdown() end
  c:close()
end

util.serve_children(server, port, serve, LIFETIME)
