---@meta lsock.compat.mime
-- LuaLS annotations for `require "lsock.compat.mime"` (after
-- `require("lsock.compat").install()`, also `require "mime.core"`):
-- LuaSocket's C module mime.core written in Lua ("MIME 1.0.3" is its
-- `_VERSION`), under LuaSocket's own mime.lua. Definitions only;
-- spec/types_spec.lua checks them against the real module.
--
-- Every function is a low-level filter in LuaSocket's chunked convention,
-- with the C module's results, quirks included. b64, unb64, qp and unqp
-- work on `chunk .. more` and return what they could process and the
-- bytes held back for the next call; a nil `more` is the end of the data:
-- what was held back is flushed (padded), and an empty result is nil. A
-- nil chunk returns `nil, nil`. wrp, qpwrp, eol and dot take a context
-- and return the new one (a float on Lua 5.3 and 5.4, as the C module's
-- lua_pushnumber gives); a nil chunk flushes. Arguments of the wrong type
-- raise as the C module's do.

local mime = {}

---Base64: `encoded, held_back` (the 0..2 bytes of an unfinished triplet);
---at the end (`more` nil) `encoded` padded with "=", or nil when empty.
---@param chunk? string
---@param more? string
---@return string? encoded
---@return string? held_back
function mime.b64(chunk, more) end

---Base64 decoding; bytes that are not digits or "=" are skipped:
---`decoded, held_back` (an unfinished quad); at the end an unfinished
---quad is dropped and an empty result is nil.
---@param chunk? string
---@param more? string
---@return string? decoded
---@return string? held_back
function mime.unb64(chunk, more) end

---Quoted-printable: `encoded, held_back` (bytes whose encoding depends on
---what follows); CRLF becomes `marker` (default "\r\n"); at the end, what
---was held back is quoted and followed by a soft break.
---@param chunk? string
---@param more? string
---@param marker? string
---@return string? encoded
---@return string? held_back
function mime.qp(chunk, more, marker) end

---Quoted-printable decoding: `decoded, held_back` (an unfinished "=XX"
---or CR); soft breaks vanish; at the end an empty result (or one that
---starts with a zero byte) is nil.
---@param chunk? string
---@param more? string
---@return string? decoded
---@return string? held_back
function mime.unqp(chunk, more) end

---Breaks lines with CRLF at `length` bytes (default 76); `left` is the
---room left on the current line. `wrapped, left`; a nil chunk ends an
---unfinished line: "\r\n" (or nil when the line is empty) and `length`.
---@param left number
---@param chunk? string
---@param length? number
---@return string? wrapped
---@return number left
function mime.wrp(left, chunk, length) end

---`wrp` for quoted-printable text: soft breaks ("=\r\n") that fit in
---`length` and never split an "=XX"; a nil chunk: "=\r\n" (or nil) and
---`length`.
---@param left number
---@param chunk? string
---@param length? number
---@return string? wrapped
---@return number left
function mime.qpwrp(left, chunk, length) end

---Normalizes ends of line: every CR or LF alone, CRLF or LFCR becomes one
---`marker` (default "\r\n"), CRCR and LFLF two. `ctx` is the code of a CR
---or LF that ended the last chunk and may pair with the next byte, else
---0 (start with 0). `converted, ctx`; a nil chunk: `nil, 0`.
---@param ctx number
---@param chunk? string
---@param marker? string
---@return string? converted
---@return number ctx
function mime.eol(ctx, chunk, marker) end

---SMTP dot-stuffing: doubles every "." that starts a line. `state`: 2
---after a CRLF (start a message with 2), 1 after a CR, else 0.
---`stuffed, state`; a nil chunk: `nil, 2`.
---@param state number
---@param chunk? string
---@return string? stuffed
---@return number state
function mime.dot(state, chunk) end

return mime
