---@meta lsock.loop
-- LuaLS annotations for `require "lsock.loop"`: a coroutine scheduler over
-- one poller, written in C. Once it is loaded, every socket method that can
-- wait (accept, connect, receive, recv, send, sendto, recvfrom, sendmany,
-- recvmany, sendmsg, recvmsg, and a TLS stream's I/O and handshake) parks
-- its coroutine when called inside a coroutine started with `loop.spawn`,
-- and the loop resumes it with the call's results; the socket's timeouts
-- still hold. Outside such a coroutine the methods block as before. Name
-- lookups run on a worker thread. On PUC Lua 5.1 a call that would wait
-- inside `pcall` raises "attempt to yield across metamethod/C-call
-- boundary". Definitions only; docs/reference.md is the full contract.

local loop = {}

---A new coroutine running `fn(...)`, started at the next `step` or `run`.
---An error raised in it is written to stderr ("lsock.loop: ..." and its
---traceback) and ends that coroutine only.
---@param fn fun(...: any)
---@param ... any
---@return thread co
function loop.spawn(fn, ...) end

---Runs until no coroutine is left: `true`; with a timeout (seconds),
---`nil, "timeout"` when some are still alive after it. Raises inside a
---loop coroutine.
---@param timeout? number
---@return true? done
---@return "timeout"? err
function loop.run(timeout) end

---Runs what is ready, waiting at most `timeout` seconds (default 0;
---negative: no limit) for sockets and timers: how many coroutines are
---alive. For a host program that owns its main loop.
---@param timeout? number
---@return integer? alive
---@return string? err
---@return integer? errno
function loop.step(timeout) end

---Inside a loop coroutine: yields for `s` seconds; outside: `lsock.sleep(s)`.
---@param s number
function loop.sleep(s) end

---The monotonic clock, seconds (`lsock.monotime`).
---@return number seconds
function loop.now() end

---How many coroutines are alive.
---@return integer
function loop.count() end

---The loop poller's descriptor, readable when a waited-on socket is
---ready: a host's own poll loop can wait on it and call `loop.step(0)`.
---@return integer? fd
---@return string? err
function loop.getfd() end

---Seconds a host may wait on `getfd()` before it must call `step(0)` even
---though no socket became ready: 0 when coroutines wait to run, else the
---time to the loop's next timer (0 once due), else nil (no timer).
---@return number? seconds
function loop.timeout() end

return loop
