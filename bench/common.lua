-- bench/common.lua: what every Lua side of a benchmark run shares: failing
-- with a message that names the run, finding lsock.core, and the checked
-- bulk stream of the stream and TLS workloads. Each driver (stream.lua,
-- dgram.lua, luv.lua, tls.lua) puts its own directory on package.path and
-- requires this.
local common = {}

--- The bulk stream: chunks of CHUNK bytes of PAT64 repeated; the last
-- chunk ends with MARK. bench/baseline.c and baseline_tls.c keep the same.
common.CHUNK = 65536
common.PAT64 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
common.MARK = "-lsock-bench-end"

--- One chunk of the bulk stream.
function common.bulk_chunk()
  local t = {}
  for i = 1, common.CHUNK / 64 do t[i] = common.PAT64 end
  return table.concat(t)
end

--- What a failed read gave, for the message (`show`: the data itself).
function common.got(data, err, show)
  if data then return "wrong content" .. (show and (": " .. data) or "") end
  return tostring(err or "end of stream")
end

--- Read `mib` MiB of the bulk stream from conn with receive(conn, CHUNK),
-- checking the first and the last chunk's content and every chunk's size;
-- calls fail (which does not return) otherwise. Returns the seconds from
-- before the first read to after the last, on clock.
function common.read_chunks(receive, conn, mib, clock, fail)
  local CHUNK, got = common.CHUNK, common.got
  local chunks = mib * (1024 * 1024 / CHUNK)
  local chunk = common.bulk_chunk()
  local t0 = clock()
  local data, err = receive(conn, CHUNK)
  if data ~= chunk then fail("chunk 1: %s", got(data, err)) end
  for i = 2, chunks - 1 do
    data, err = receive(conn, CHUNK)
    if not data then fail("chunk %d: %s", i, got(data, err)) end
    if #data ~= CHUNK then fail("chunk %d: %d bytes, expected %d", i, #data, CHUNK) end
  end
  data, err = receive(conn, CHUNK)
  local t1 = clock()
  if data ~= chunk:sub(1, CHUNK - #common.MARK) .. common.MARK then
    fail("last chunk: %s", got(data, err))
  end
  return t1 - t0
end

--- fail(fmt, ...) and check(v, what, ...) for one driver: fail prints
-- "<name>: <message>" to stderr and exits 1; check fails when v is falsy,
-- with what and the error that came with it, and returns its arguments
-- otherwise.
function common.reporter(name)
  local function fail(fmt, ...)
    io.stderr:write(name, ": ", string.format(fmt, ...), "\n")
    os.exit(1)
  end
  local function check(v, what, ...)
    if not v then fail("%s: %s", what, tostring((...))) end
    return v, ...
  end
  return fail, check
end

--- lsock.core, from $LSOCK_CPATH when it is set (a package.cpath template).
-- lsock.core from LSOCK_CPATH, with the repository's Lua layer loaded
-- first (require "lsock"), as a script would: on LuaJIT that puts the
-- hot methods on the FFI path (lua/lsock/ffi.lua).
function common.lsock_core()
  local cpath = os.getenv("LSOCK_CPATH")
  if cpath and cpath ~= "" then
    package.cpath = cpath .. ";" .. package.cpath
  end
  local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
  require "lsock"
  return require "lsock.core"
end

return common
