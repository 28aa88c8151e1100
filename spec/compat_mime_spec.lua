-- spec/compat_mime_spec.lua: lsock.compat.mime, the pure-Lua `mime.core`,
-- against the real one: Debian's LuaSocket 3.1 C module (package
-- lua-socket), loaded from the C search path under no module name, so that
-- both live at once. Every function over fixed edge cases, then over seeded
-- random inputs (binary bytes with zeros, CR/LF mixes, dots at line starts,
-- base64 and quoted-printable with damage) fed in random chunkings, every
-- call's results compared: values, their count, float or integer, errors.
-- Then Debian's mime.lua on top of each (encode/decode base64 and
-- quoted-printable, normalize, stuff, wrap) through ltn12 over a 1 MiB body.
--
-- LSOCK_MIME_SEED=n replays a run; every failure message names its seed.
-- Without Debian's mime.core the comparisons fail, they do not skip.

local ours = require "lsock.compat.mime"

local unpack = table.unpack or unpack
local mtype = math.type -- Lua 5.3+

local SEED = tonumber(os.getenv("LSOCK_MIME_SEED")) or os.time()

---------------------------------------------------------------------------
-- The real mime.core
---------------------------------------------------------------------------

local function find_real()
  local paths = {}
  for template in package.cpath:gmatch("[^;]+") do
    paths[#paths + 1] = (template:gsub("%?", "mime/core"))
  end
  local version = _VERSION:match("%d+%.%d+")
  paths[#paths + 1] = "/usr/lib/x86_64-linux-gnu/lua/" .. version .. "/mime/core.so"
  for _, path in ipairs(paths) do
    local f = io.open(path)
    if f then
      f:close()
      local open = package.loadlib(path, "luaopen_mime_core")
      if open then return open(), path end
    end
  end
end

local real, real_path = find_real()

-- What each exports, before mime.lua (below) adds its own fields to both.
local function exports(t)
  local list = {}
  if t then
    for k, v in pairs(t) do list[#list + 1] = k .. ":" .. type(v) end
  end
  table.sort(list)
  return list
end
local real_exports, our_exports = exports(real), exports(ours)

local function need_real()
  assert(real, "Debian's mime.core (package lua-socket, installed by `make test`) "
    .. "is not on package.cpath: " .. package.cpath)
end

---------------------------------------------------------------------------
-- Calling both and comparing
---------------------------------------------------------------------------

local function pack(...) return { n = select("#", ...), ... } end

-- Error messages without the position and the function's name (the C
-- module's depends on how it was reached); "no value" is an absent
-- argument, which a Lua function cannot tell from nil.
local function clean_error(msg)
  msg = tostring(msg):gsub("^[^\n]-:%d+: ", "")
  return (msg:gsub("to '[^']*'", "to '?'"):gsub("got no value", "got nil"))
end

-- What a call did: { n = count, values... } or { err = message }.
local function outcome(impl, fname, args)
  local r = pack(pcall(impl[fname], unpack(args, 1, args.n)))
  if not r[1] then return { err = clean_error(r[2]) } end
  local values = { n = r.n - 1 }
  for i = 2, r.n do values[i - 1] = r[i] end
  return values
end

local function same_value(x, y)
  if type(x) ~= type(y) then return false end
  if type(x) ~= "number" then return x == y end
  if mtype and mtype(x) ~= mtype(y) then return false end
  if x ~= x then return y ~= y end                  -- NaN
  return x == y and (x ~= 0 or 1 / x == 1 / y)     -- -0.0 is not 0.0
end

local function same(a, b)
  if a.err or b.err then return a.err == b.err end
  if a.n ~= b.n then return false end
  for i = 1, a.n do
    if not same_value(a[i], b[i]) then return false end
  end
  return true
end

local function first_difference(s, t)
  local i = 1
  while i <= #s and s:byte(i) == t:byte(i) do i = i + 1 end
  return i
end

-- A value for a message; a long string as its length and the bytes from
-- its first difference with `other`.
local function show(v, other)
  if type(v) == "number" then
    return (mtype and mtype(v) or "number") .. " " .. (v ~= v and "nan" or string.format("%.17g", v))
  elseif type(v) ~= "string" then
    return tostring(v)
  end
  local prefix = ""
  if #v > 60 then
    local from = type(other) == "string" and first_difference(v, other) or 1
    prefix = #v .. " bytes, from byte " .. from .. ": "
    v = v:sub(from, from + 59)
  end
  return prefix .. '"' .. v:gsub('[%c"\\\128-\255]', function(c)
    return string.format("\\%03d", c:byte())
  end) .. '"'
end

local function show_outcome(a, b)
  if a.err then return "error: " .. a.err end
  local parts = {}
  for i = 1, a.n do parts[i] = show(a[i], b[i]) end
  return "(" .. table.concat(parts, ", ") .. ")"
end

local function show_args(args)
  local parts = {}
  for i = 1, args.n do parts[i] = show(args[i]) end
  return table.concat(parts, ", ")
end

-- Calls fname on both with args; fails (naming label and the seed) unless
-- both did exactly the same. Returns what ours returned.
local function check(fname, args, label)
  need_real()
  local want, got = outcome(real, fname, args), outcome(ours, fname, args)
  if not same(want, got) then
    local shown_want, shown_got = show_outcome(want, got), show_outcome(got, want)
    if shown_want == shown_got then shown_got = shown_got .. " (differs)" end
    assert.are.equal(shown_want, shown_got, string.format("%s: %s(%s), seed %s",
      label or "edge case", fname, show_args(args), SEED))
  end
  return got
end

-- Runs fname over chunks as ltn12.filter.cycle does: fname(ctx, chunk,
-- extra), the context from the previous call, a last call with nil.
local function cycle(fname, ctx, chunks, extra, label)
  for i = 1, #chunks + 1 do
    local got = check(fname, pack(ctx, chunks[i], extra),
      string.format("%s, call %d of %d", label, i, #chunks + 1))
    ctx = got[2]
  end
end

local function check_strings(want, got, label)
  if want ~= got then
    assert.are.equal(show(want, got), show(got, want), label .. ", seed " .. SEED)
  end
end

---------------------------------------------------------------------------
-- Seeded random inputs (Park-Miller: exact in doubles and integers, so a
-- seed gives the same inputs on every Lua)
---------------------------------------------------------------------------

local function rng(seed)
  local x = seed % 2147483646 + 1
  return function(m, n) -- an integer in [m, n]
    x = x * 16807 % 2147483647
    return m + x % (n - m + 1)
  end
end

local function bytes(r, len)
  local t = {}
  for i = 1, len do t[i] = string.char(r(0, 255)) end
  return table.concat(t)
end

-- len pieces drawn from a list of atoms.
local function from(atoms)
  return function(r, len)
    local t = {}
    for i = 1, len do t[i] = atoms[r(1, #atoms)] end
    return table.concat(t)
  end
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64_atoms = {}
for i = 1, #B64 do b64_atoms[i] = B64:sub(i, i) end
for _, a in ipairs { "=", "==", "=", "\r\n", "\n", " ", "!", "\0", "\255", "-", "_", "." } do
  b64_atoms[#b64_atoms + 1] = a
end

local gen = {
  binary = bytes,
  text = from { "a", "b", "Z", "0", "9", "~", "!", "<", ">", " ", " ", "\t", "\r", "\n", "\r\n",
    "\r\n", "\n\r", "\r\r", "\n\n", " \r\n", "\t\r\n", ".", ".", "\r\n.", "\r\n..", "\n.", "\r.",
    "=", "\0", "\127", "\128", "\255", "hello ", "line\r\n" },
  base64 = from(b64_atoms),
  qp = from { "=41", "=4a", "=4A", "=0D=0A", "=3D", "=00", "=", "=4", "=\r\n", "=\r", "=\n", "=g1",
    "=1g", "==", "\r\n", "\r", "\n", "a", "b", " ", "\t", "\0", "\31", "\127", "\200", "x=", ".",
    "A", "~" },
}
local kinds = { "binary", "text", "text", "base64", "qp" }

local function random_input(r, max)
  local kind = kinds[r(1, #kinds)]
  return gen[kind](r, r(0, max)), kind
end

-- s cut into random pieces of at most `most` bytes (by default a random
-- limit), empty ones too.
local function split(r, s, most)
  most = most or ({ 1, 2, 3, 4, 7, 16, 77, 500 })[r(1, 8)]
  local chunks, i = {}, 1
  while i <= #s do
    local len = r(0, most)
    chunks[#chunks + 1] = s:sub(i, i + len - 1)
    i = i + len
  end
  return chunks
end

local markers = { "\r\n", "\r\n", "\n", "", "=0D=0A", "<EOL>", "X\0Y", 7 }
local function random_marker(r)
  local i = r(0, #markers)
  return markers[i] -- nil for 0
end

local ROUNDS = 200

---------------------------------------------------------------------------
-- The specs
---------------------------------------------------------------------------

local E = pack

local edge = {
  b64 = {
    E(), E(nil), E(""), E("", ""), E("", nil), E("a"), E("ab"), E("abc"), E("abcd"), E("a", ""),
    E("ab", "c"), E("", "abcd"), E("abcd", "e"), E("ab", "cdefg"), E(nil, "x"), E(12), E(1.5, ""),
    E(-1 / math.huge), E(1e100, ""), E("x", 3), E("\0"), E("\0\0\0\0"), E("\255\254\253\252"), E({}),
    E(true), E("x", {}), E("x", false), E(nil, {}), E(("\0\1\2\3\4\5\6\7\8\9"):rep(30)),
  },
  unb64 = {
    E(), E(nil), E(""), E("", ""), E("QQ=="), E("QQ="), E("QQ"), E("Q"), E("QUI="), E("QUJD"),
    E("QUJDRA=="), E("QU!JD", ""), E("QU", "JD"), E("Q", "UJDRA"), E("==AA"), E("=A=="), E("A=A="),
    E("AA=A"), E("===="), E("QQ==QQ=="), E("Q Q = =\r\n"), E("\0QQ==\255"), E("abc", "d"),
    E("abcde"), E("abcde", ""), E("*&^%"), E("QUJD", nil), E(1234), E(nil, {}), E({}),
    E("QUJD", {}), E(("QUJD\r\n"):rep(50)),
  },
  qp = {
    E(), E(nil), E(""), E("", ""), E("abc"), E("x a"), E("a "), E("a\t"), E(" "), E("\t"),
    E("a \r\n"), E("a\t\r\nb"), E("a  \r\n"), E("a\r"), E("\r"), E("\n"), E("\r\r\n"),
    E("\n\r\n"), E("\n\n"), E("\r\n\r\n"), E("a =\r\n"), E("="), E("\0\255"), E("a", " "),
    E("a ", "\r"), E("a", " \r"), E(" ", "\r\n"), E(" \r", "\n"), E("a b", "c"), E("\t\r", "\n"),
    E("a\r\nb", nil, "=0D=0A"), E("a\r\nb", nil, ""), E("a\r\nb", nil, "X\0Y"), E("a\r\n", nil, 5),
    E("a\r\nb", "", "M"), E(nil, {}), E(nil, nil, {}), E("x", {}), E({}), E(("x"):rep(200)),
    E(("a \t"):rep(40) .. "\r\n"),
  },
  unqp = {
    E(), E(nil), E(""), E("", ""), E("=00"), E("=00abc"), E("a=00"), E("=41=42"), E("=4"),
    E("=4", ""), E("=", ""), E("a=", "4"), E("ab=4", "1"), E("=\r\n"), E("a=\r\nb"), E("=\r"),
    E("=\r", ""), E("=\n"), E("=\nX"), E("==41"), E("=4g"), E("=g4"), E("=aF=Af"), E("a\rb"),
    E("a\r\nb"), E("a\nb"), E("\r", ""), E("\r"), E("a\r", "\nb"), E("\128x"), E("\t x~"),
    E("=\0\0"), E("=\r\r\n"), E("\r="), E("\r=41"), E(12), E(nil, {}), E({}), E("x", {}),
  },
  wrp = {
    E(76), E(76, nil), E(76, ""), E(3, "abcdefgh", 3), E(0, "ab", 0), E(-1, "ab", -2),
    E(2, nil, 3), E(3, nil, 3), E(4, nil, 3), E(2.7, "abc\r\ndef", 2.5), E("3", "abcd", "2"),
    E(1, "ab", "x"), E(nil, "ab"), E(), E(1, {}), E({}, "a"), E(1, "\n\n\r\r", 3),
    E(5, "ab\ncd\nefghijk", 5), E(10, "", 5), E(0 / 0, "ab", 3), E(2 ^ 40, "abc", 3),
    E(1, "abc", 2 ^ 40), E(1, "abc", -2 ^ 31), E(3, "abc", 1 / 0), E(76, ("x"):rep(300)),
    E(1, "a\rb\r\nc", 1),
  },
  qpwrp = {
    E(76), E(76, nil), E(5, "ab=41cd=42", 5), E(1, "ab", 1), E(76, "a\r\nb"), E(4, "=41", 76),
    E(3, "=41", 76), E(2, "=41", 2), E(1, "====", 1), E(0, "=", 0), E(-5, "ab", -1),
    E(5, nil, 5), E(4, nil, 5), E("x", "a"), E(3, {}, 3), E(3, "a", {}), E(1, "=\r\n=", 3),
    E(1, "abc", -2 ^ 31), E(1, "=a=b", -2 ^ 31), E(76, ("=3D"):rep(100)),
  },
  eol = {
    E(0, "\r\r\n"), E(0, "\r\r\r"), E(0, "\n\r\n\r"), E(0, "\r\n\r\n"), E(13, "\n"), E(13, "\r"),
    E(10, "\n"), E(10, "\r"), E(13, ""), E(13), E(13, nil, "x"), E(13, "a\r"), E(0, "a\r\nb\n"),
    E(0.5, ""), E(13.7, "\n"), E("13", "\n"), E("x", ""), E(nil, ""), E(), E(0, "a\nb", "X\0Y"),
    E(0, "a\nb", ""), E(0, "a\nb", 7), E(0, "a", {}), E(0, {}), E(2 ^ 32 + 13, "\n"),
    E(2 ^ 31 + 13, ""), E(-2 ^ 32 + 10, "\n"), E(65, "\n"), E(0, "\200\r"), E(0 / 0, ""),
    E(1 / 0, ""), E(2 ^ 63, ""), E(0, ("\r\n\n\r\r"):rep(20)),
  },
  dot = {
    E(2, ".a\r\n.b"), E(1, "\n."), E(0, "\n."), E(2, "."), E(0, "."), E(2, ".."), E(1.5, ""),
    E(1.9, "\n."), E(2), E(2, nil), E(5, ""), E("1", "\n."), E("x", ""), E(nil, "a"), E(),
    E(-1, ""), E(-0.5, "."), E(2.5, "."), E(2, "\r"), E(2, "\n"), E(1, "\r"), E(1, "\r\n"),
    E(2, "\r\n.\r\n..\r\n"), E(0, "a\r\n"), E(2, {}), E({}, ""), E(0 / 0, ""), E(1 / 0, ""),
    E(-1 / 0, ""), E(2 ^ 63, ""), E(2 ^ 64, ""), E(-2 ^ 63, ""), E(-2 ^ 70, ""), E(1e300, ""),
    E(2, ("\r\n."):rep(50)),
  },
}

describe("lsock.compat.mime", function()
  it("finds Debian's mime.core to compare with", function()
    need_real()
    assert.is_string(real_path)
  end)

  it("exports what mime.core exports, _VERSION included", function()
    need_real()
    assert.are.same(real_exports, our_exports)
    assert.are.equal(real._VERSION, ours._VERSION)
    assert.are.equal("MIME 1.0.3", ours._VERSION)
  end)

  it("the comparison tells apart what it must", function()
    local negative_zero = -1 / math.huge -- Lua 5.1 folds a -0.0 constant into 0.0
    for _, pair in ipairs {
      { { n = 1, "a" }, { n = 1, "b" } }, { { n = 2, "a" }, { n = 1, "a" } },
      { { n = 1, 0.0 }, { n = 1, negative_zero } }, { { n = 1, false }, { n = 1 } },
      { { err = "x" }, { n = 0 } }, { { n = 1, 0 / 0 }, { n = 1, 0 } },
      { { n = 1, ("x"):rep(100) }, { n = 1, ("x"):rep(99) } },
    } do
      assert.is_false(same(pair[1], pair[2]))
      assert.are_not.equal(show_outcome(pair[1], pair[2]), show_outcome(pair[2], pair[1]))
    end
    if mtype then
      assert.is_false(same({ n = 1, 1 }, { n = 1, 1.0 }))
    end
    assert.is_true(same({ n = 2, "a", 0 / 0 }, { n = 2, "a", 0 / 0 }))
  end)

  for _, fname in ipairs { "b64", "unb64", "qp", "unqp", "wrp", "qpwrp", "eol", "dot" } do
    describe(fname, function()
      it("gives what mime.core gives on the edge cases", function()
        for i, args in ipairs(edge[fname]) do
          check(fname, args, "edge case " .. i)
        end
      end)
    end)
  end

  describe("on seeded random inputs in random chunks", function()
    local r
    before_each(function() r = rng(SEED) end)

    for _, fname in ipairs { "b64", "unb64", "qp", "unqp" } do
      it(fname .. " as a cycled filter, and on two random parts", function()
        for round = 1, ROUNDS do
          local s, kind = random_input(r, 300)
          local marker = fname == "qp" and random_marker(r) or nil
          local label = string.format("round %d (%s input)", round, kind)
          cycle(fname, "", split(r, s), marker, label)
          local a, b = random_input(r, 40), random_input(r, 40)
          check(fname, pack(a, b, marker), label .. ", two parts")
          check(fname, pack(a, nil, marker), label .. ", one part")
        end
      end)
    end

    for _, fname in ipairs { "wrp", "qpwrp" } do
      it(fname .. " with random lengths and room left", function()
        for round = 1, ROUNDS do
          local s, kind = random_input(r, 300)
          local length = ({ 0, 1, 2, 3, 4, 5, 10, 76, 76, r(-3, 100) })[r(1, 10)]
          local left = r(-2, length + 2)
          cycle(fname, left, split(r, s), length,
            string.format("round %d (%s input, length %d, left %d)", round, kind, length, left))
        end
      end)
    end

    it("eol with random markers and contexts", function()
      for round = 1, ROUNDS do
        local s, kind = random_input(r, 300)
        local ctx = ({ 0, 0, 10, 13, r(-20, 300) })[r(1, 5)]
        cycle("eol", ctx, split(r, s), random_marker(r),
          string.format("round %d (%s input, context %d)", round, kind, ctx))
      end
    end)

    it("dot with random states", function()
      for round = 1, ROUNDS do
        local s, kind = random_input(r, 300)
        local state = ({ 0, 1, 2, 2, r(0, 10) })[r(1, 5)]
        cycle("dot", state, split(r, s), nil,
          string.format("round %d (%s input, state %d)", round, kind, state))
      end
    end)
  end)

  describe("under Debian's mime.lua, through ltn12, over 1 MiB", function()
    local saved = {}
    local names = { "mime", "mime.core", "ltn12" }
    local mimes, ltn12, body, pieces

    -- mime.lua on top of core, the way lsock.compat installs it.
    local function load_mime(core)
      package.loaded["mime"], package.loaded["mime.core"] = nil, core
      local mime = require "mime"
      assert.are.equal(core, mime) -- LuaSocket's mime.lua extends mime.core
      return mime
    end

    setup(function()
      for _, name in ipairs(names) do saved[name] = package.loaded[name] end
      need_real()
      ltn12 = require "ltn12"
      local copy = {}
      for k, v in pairs(real) do copy[k] = v end
      mimes = { real = load_mime(copy) }
      package.loaded["mime.core"] = require "lsock.compat.mime"
      package.loaded["mime"] = nil
      mimes.ours = require "mime"

      -- The body: every byte value, then lines of text (CRLF, LF, CR,
      -- trailing blanks, dots at line starts) among runs of binary bytes.
      local r = rng(SEED)
      local ramp = {}
      for c = 0, 255 do ramp[#ramp + 1] = string.char(c) end
      local parts, size = { table.concat(ramp) }, 256
      local ends = { "\r\n", "\r\n", "\r\n", "\n", "\r", " \r\n", "\t\r\n", "" }
      while size < 1024 * 1024 do
        local part
        local pick = r(1, 10)
        if pick <= 6 then
          part = gen.text(r, r(0, 40)) .. ends[r(1, #ends)]
        elseif pick <= 8 then
          part = ".\r\n" .. ("."):rep(r(1, 3)) .. gen.text(r, r(0, 10)) .. "\r\n"
        else
          part = bytes(r, r(1, 300))
        end
        parts[#parts + 1] = part
        size = size + #part
      end
      body = table.concat(parts):sub(1, 1024 * 1024)
      pieces = split(r, body, 5000)
    end)

    teardown(function()
      for _, name in ipairs(names) do package.loaded[name] = saved[name] end
    end)

    -- The output of filter(mime) over input, from ltn12's string source
    -- (2 KiB chunks) or, chunked, from random pieces.
    local function run(mime, make, input, chunked)
      local source
      if chunked then
        local i = 0
        source = function() i = i + 1; return input[i] end
      else
        source = ltn12.source.string(input)
      end
      local out = {}
      assert(ltn12.pump.all(ltn12.source.chain(source, make(mime)), (ltn12.sink.table(out))))
      return table.concat(out)
    end

    -- Both outputs, which must be the same, from the string source and
    -- from random chunks.
    local function both(name, make, input)
      input = input or body
      local want = run(mimes.real, make, input)
      check_strings(want, run(mimes.ours, make, input), name)
      if input == body then
        check_strings(want, run(mimes.ours, make, pieces, true), name .. " (random chunks)")
      end
      return want
    end

    local function chain(...)
      local makers = { ... }
      return function(mime)
        local filters = {}
        for i, make in ipairs(makers) do filters[i] = make(mime) end
        return ltn12.filter.chain(unpack(filters))
      end
    end
    local function encode(...)
      local args = pack(...)
      return function(mime) return mime.encode(unpack(args, 1, args.n)) end
    end
    local function decode(...)
      local args = pack(...)
      return function(mime) return mime.decode(unpack(args, 1, args.n)) end
    end
    local function wrap(...)
      local args = pack(...)
      return function(mime) return mime.wrap(unpack(args, 1, args.n)) end
    end
    local function normalize(...)
      local args = pack(...)
      return function(mime) return mime.normalize(unpack(args, 1, args.n)) end
    end
    local function stuff() return function(mime) return mime.stuff() end end

    it("base64: encode, wrap, decode (a round trip), decode garbage", function()
      both("encode base64", encode("base64"))
      local wrapped = both("encode and wrap base64", chain(encode("base64"), wrap("base64")))
      local back = both("decode base64", decode("base64"), wrapped)
      check_strings(body, back, "base64 round trip")
      both("decode base64 of the raw body", decode("base64"))
    end)

    it("quoted-printable: encode text and binary, wrap, decode (round trips), decode garbage", function()
      both("encode quoted-printable", encode("quoted-printable"))
      local binary = both("encode quoted-printable binary", encode("quoted-printable", "binary"))
      check_strings(body, both("decode quoted-printable binary", decode("quoted-printable"), binary),
        "quoted-printable binary round trip")
      local text = both("normalize, encode and wrap quoted-printable",
        chain(normalize(), encode("quoted-printable"), wrap("quoted-printable")))
      local lines = both("normalize", normalize())
      check_strings(lines, both("decode quoted-printable", decode("quoted-printable"), text),
        "quoted-printable text round trip")
      both("decode quoted-printable of the raw body", decode("quoted-printable"))
    end)

    it("normalize, stuff and wrap", function()
      both("normalize to LF", normalize("\n"))
      both("stuff", stuff())
      both("normalize and stuff", chain(normalize(), stuff()))
      both("wrap text at 50", wrap("text", 50))
      both("wrap", wrap())
    end)
  end)
end)
