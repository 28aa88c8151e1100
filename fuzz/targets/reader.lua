-- fuzz target "reader": the buffered reader (receive's patterns and
-- receiveuntil, with prefix and max) over arbitrary chunking.
--
-- Input layout (every byte optional; missing ones read as 0):
--   [1] pattern: % 9 -> "*l" "l" "*L" "L" "*a" "a" number until mixed
--       ("mixed": every read picks "l", "L" or a number from the next
--       chunk's length byte, so the reader switches patterns mid-stream)
--   [2] max: 0 -> none, else max = (byte - 1) % 40 (0 included)
--   [3] number pattern: n = byte % 24 + 1; until: delimiter length % 4 + 1,
--       the delimiter's bytes following
--   then chunks: a length byte (% 48) and that many bytes, until the input
--   ends (the last chunk takes what is left).
--
-- Each chunk is written into one end of a socketpair; between writes the
-- other end reads with timeout 0 until a read times out, resuming a
-- timed-out read with its partial result as the prefix. Then the writer
-- shuts down and the reader drains to the end of the stream.
--
-- Invariants (a violation is error(), a finding):
-- * the pieces returned (results, "too long" partials and the final
--   partial) reassemble to exactly the bytes written, where each line
--   result of "l" stands for the bytes up to and including the next LF with
--   that LF and at most one CR just before it removed, an "L" line is the
--   bytes through the LF, an until result is the bytes before the first
--   occurrence of the delimiter (which follows it and is consumed);
-- * max holds: a result's content (a line without its end of line, an
--   until result) is at most max bytes; a "too long" partial is exactly the
--   first max bytes, and the content really was longer;
-- * the same bytes written in one piece give the same pieces (chunking
--   must not change the answers);
-- * after the end: receive answers nil, "closed", "" ("a": ""), forever.
local lsock = require "lsock"

local PATTERNS = { "*l", "l", "*L", "L", "*a", "a", "number", "until", "mixed" }

local function decode(data)
  local b = { data:byte(1, 3) }
  local kind = PATTERNS[(b[1] or 0) % #PATTERNS + 1]
  local max = b[2] and b[2] > 0 and (b[2] - 1) % 40 or nil
  local pos, n, delim = 4, nil, nil
  if kind == "until" then
    local dlen = (b[3] or 0) % 4 + 1
    delim = data:sub(4, 3 + dlen)
    if #delim == 0 then delim = "\n" end
    pos = 4 + dlen
  else
    n = (b[3] or 0) % 24 + 1
  end
  local chunks = {}
  while pos <= #data do
    local len = data:byte(pos) % 48
    chunks[#chunks + 1] = { data:sub(pos + 1, pos + len), data:byte(pos) }
    pos = pos + 1 + len
  end
  return kind, max, n, delim, chunks
end

local fail = require("fuzzdata").fail

-- One read of `kind` resuming `prefix`. Returns the piece kind and data:
-- "ok", "long", "closed", "timeout" (data = the partial to resume with).
local function pattern(kind, n, sel)
  if kind == "number" then return n end
  if kind == "mixed" then return ({ "l", "L", (sel or 0) % 7 + 1 })[(sel or 0) % 3 + 1] end
  return kind
end

local function read_one(sock, kind, prefix, max, n, delim, sel)
  local pat = pattern(kind, n, sel)
  local r, err, partial
  if kind == "until" then
    r, err, partial = sock:receiveuntil(delim, prefix, max)
  else
    r, err, partial = sock:receive(pat, prefix, max)
  end
  if r then return "ok", r, pat end
  if err == "too long" then return "long", partial, pat end
  if err == "timeout" or err == "closed" then return err, partial, pat end
  fail("receive(%s): unexpected error %s", tostring(pat), tostring(err))
end

-- Reads until a read times out (or the stream ends); appends the pieces to
-- `out`. Returns the prefix to resume with and whether the end was seen.
local function read_available(sock, kind, max, n, delim, out, prefix, sel, eof_expected)
  for _ = 1, 100000 do
    -- "mixed": a partial resumes only a read of the pattern that left it
    -- (a prefix is put in front as it is: a count read's partial may hold
    -- an LF that a line read would not look for); else it is a piece.
    if prefix ~= "" and out.prefix_pat ~= pattern(kind, n, sel) then
      out[#out + 1] = { "raw", prefix }
      prefix = ""
    end
    out.prefix_pat = pattern(kind, n, sel)
    local what, piece, pat = read_one(sock, kind, prefix, max, n, delim, sel)
    if what == "timeout" then
      if eof_expected then fail("timeout after the writer shut down (partial %q)", piece) end
      if #piece < #prefix or piece:sub(1, #prefix) ~= prefix then
        fail("timeout partial %q does not start with the prefix %q", piece, prefix)
      end
      return piece, false
    end
    prefix = ""
    out[#out + 1] = { what, piece, pat }
    if what == "closed" then
      if not eof_expected then fail("closed before the writer shut down") end
      return "", true
    end
    -- "a" succeeds only at the end of the stream.
    if what == "ok" and (pat == "a" or pat == "*a") then
      if not eof_expected then fail("receive(%q) returned before the end", pat) end
      return "", true
    end
    if what == "long" and #piece == 0 then
      -- max 0: no progress possible with this pattern; take one byte.
      local byte = sock:recv(1)
      if not byte then fail("recv(1) after an empty 'too long' failed") end
      out[#out + 1] = { "raw", byte }
    end
  end
  fail("no end to the reads")
end

local function new_pair()
  local a, b = lsock.socketpair()
  if not a then fail("socketpair: %s", tostring(b)) end
  a:settimeout(0)
  b:settimeout(0)
  return a, b
end

local function send_all(a, s)
  if #s == 0 then return end
  local last, err = a:send(s)
  if last ~= #s then fail("send: %s (%s of %d)", tostring(err), tostring(last), #s) end
end

-- The pieces of reading `chunks` one at a time (or all at once).
local function run(kind, max, n, delim, chunks, at_once)
  local a, b = new_pair()
  local out, prefix = {}, ""
  if at_once then
    local all = {}
    for i, c in ipairs(chunks) do all[i] = c[1] end
    send_all(a, table.concat(all))
  else
    for _, c in ipairs(chunks) do
      send_all(a, c[1])
      prefix = read_available(b, kind, max, n, delim, out, prefix, c[2], false)
    end
  end
  a:shutdown("send")
  local sel = #chunks > 0 and chunks[#chunks][2] or 0
  read_available(b, kind, max, n, delim, out, prefix, sel, true)
  -- After the end, the end again, with nothing consumed.
  local last = kind == "until" and "*l" or kind == "number" and n or kind == "mixed" and "l" or kind
  local r, err, partial = b:receive(last)
  if kind == "a" or kind == "*a" then
    if r ~= "" then fail("receive(%q) after the end: %s, %s", kind, tostring(r), tostring(err)) end
  elseif r ~= nil or err ~= "closed" or partial ~= "" then
    fail("after the end: %s, %s, %q", tostring(r), tostring(err), tostring(partial))
  end
  a:close()
  b:close()
  return out
end

local function check(kind, max, delim, written, pieces)
  local c = 1 -- the next byte of `written` a piece must account for
  for i, p in ipairs(pieces) do
    local what, s, pat = p[1], p[2], p[3]
    local function here(len)
      return written:sub(c, c + len - 1)
    end
    if here(#s) ~= s then fail("piece %d (%s) %q is not the bytes at %d: %q", i, what, s, c, here(#s)) end
    if what == "raw" then
      c = c + #s
    elseif what == "closed" then
      if s ~= written:sub(c) then fail("closed partial %q is not the rest %q", s, written:sub(c)) end
      c = #written + 1
    elseif pat == "l" or pat == "*l" or pat == "L" or pat == "*L" then
      local lf = written:find("\n", c, true)
      local line = lf and written:sub(c, lf - 1)
      local content = line and line:gsub("\r$", "")
      if what == "ok" then
        if not lf then fail("line %q without an LF in the stream", s) end
        local want = (pat == "L" or pat == "*L") and written:sub(c, lf) or content
        if s ~= want then fail("line %q, expected %q", s, want) end
        if max and #content > max then fail("line of %d bytes with max %d", #content, max) end
        c = lf + 1
      else -- too long
        if not max or #s ~= max then fail("too long partial of %d bytes with max %s", #s, tostring(max)) end
        if s:find("\n", 1, true) then fail("too long partial %q holds an LF", s) end
        local longer = lf and #content > max or (not lf and #written - c + 1 > max + 1)
        if not longer then fail("too long at %d with max %d: the line is %q", c, max, line or written:sub(c)) end
        c = c + #s
      end
    elseif pat == "a" or pat == "*a" then
      if what == "ok" then
        if s ~= written:sub(c) then fail("receive(a) %q is not the rest", s) end
        if max and #s > max then fail("receive(a) of %d bytes with max %d", #s, max) end
        c = #written + 1
      else
        if not max or #s ~= max or #written - c + 1 <= max then
          fail("receive(a) too long: %d bytes, max %s, %d left", #s, tostring(max), #written - c + 1)
        end
        c = c + #s
      end
    elseif type(pat) == "number" then
      if what ~= "ok" or #s ~= pat then
        fail("receive(%d) gave %s %q", pat, what, s)
      end
      c = c + #s
    else -- until
      local at = written:find(delim, c, true)
      if what == "ok" then
        if at ~= c + #s then fail("until %q: %q, but the delimiter is at %s", delim, s, tostring(at)) end
        if max and #s > max then fail("until result of %d bytes with max %d", #s, max) end
        c = at + #delim
      else
        if not max or #s ~= max then fail("until too long partial of %d bytes, max %s", #s, tostring(max)) end
        if at and at - c <= max then fail("until too long, but the delimiter is %d bytes on", at - c) end
        c = c + #s
      end
    end
  end
  if c ~= #written + 1 then fail("%d bytes written, the pieces account for %d", #written, c - 1) end
  -- A stream that ends without its delimiter leaves what was after the
  -- last piece in the closed partial, checked above.
  return kind
end

local function same(x, y)
  if #x ~= #y then return false end
  for i = 1, #x do
    if x[i][1] ~= y[i][1] or x[i][2] ~= y[i][2] then return false end
  end
  return true
end

local function show(pieces)
  local t = {}
  for i, p in ipairs(pieces) do t[i] = ("%s %q"):format(p[1], p[2]) end
  return table.concat(t, ", ")
end

return function(data)
  local kind, max, n, delim, chunks = decode(data)
  local all = {}
  for i, c in ipairs(chunks) do all[i] = c[1] end
  local written = table.concat(all)
  local chunked = run(kind, max, n, delim, chunks, false)
  check(kind, max, delim, written, chunked)
  -- "mixed" picks its pattern from the chunk bytes: not comparable.
  if kind ~= "mixed" and not chunked.incomparable then
    local whole = run(kind, max, n, delim, chunks, true)
    if not same(chunked, whole) then
      fail("chunked reads differ from one write:\n  chunked: %s\n  whole:   %s", show(chunked), show(whole))
    end
  end
end
