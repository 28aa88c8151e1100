---@meta _
-- LuaLS annotations for lsock.poller (`lsock.poller([backend])`, `__name`
-- "lsock.poller"): readiness of many sockets, TLS streams and descriptors
-- over epoll, kqueue or poll(2). Definitions only; docs/reference.md is
-- the full contract. After `close()` every method answers `nil, "closed"`.
-- Removing or closing any object while iterating over `wait` is safe, and
-- nothing is reported for an object after it was removed or closed.

---@alias lsock.backend
---| "epoll"  # Linux (the default there)
---| "kqueue" # BSD and macOS
---| "poll"   # poll(2), everywhere

---@class lsock.poller
local poller = {}

---Registers `obj` (a socket, TLS stream or integer descriptor) for
---`events`; `value` (any Lua value) comes back with its events. Adding it
---twice raises (use `modify`); a descriptor that is not open:
---`nil, "poller add: bad file descriptor", EBADF`.
---@param obj lsock.socket|lsock.tls|integer
---@param events lsock.events
---@param value? any
---@return true? ok
---@return string? err
---@return integer? errno
function poller:add(obj, events, value) end

---Changes what `obj` is watched for; one not in the poller raises.
---@param obj lsock.socket|lsock.tls|integer
---@param events lsock.events
---@return true? ok
---@return string? err
---@return integer? errno
function poller:modify(obj, events) end

---Forgets `obj`; one not in the poller raises.
---@param obj lsock.socket|lsock.tls|integer
---@return true? ok
---@return string? err
function poller:remove(obj) end

---An iterator over what is ready, waiting at most `timeout` seconds (nil
---or negative: forever; 0: not at all):
---`for obj, events, value in p:wait(t) do ... end`; no table per event.
---A socket with buffered input added for "r" is ready at once. (The
---iterator, or `nil, "closed"`, or `nil, err, errno` when the wait fails.)
---@param timeout? number
---@return fun(): lsock.socket|lsock.tls|integer|nil, lsock.events|nil, any iterator
function poller:wait(timeout) end

---How many objects are registered.
---@return integer? count
---@return string? err
function poller:count() end

---@return lsock.backend? backend
---@return string? err
function poller:backend() end

---A descriptor readable while the poller has events (epoll, kqueue), for
---a host's own loop; the poll backend has none:
---`nil, "poll backend has no descriptor"`.
---@return integer? fd
---@return string? err
function poller:getfd() end

---The same as `getfd`: the polling protocol.
---@return integer? fd
---@return string? err
function poller:pollfd() end

---"r": the polling protocol, so a poller can be waited on like a socket.
---@return "r"? events
---@return string? err
function poller:events() end

---nil: the polling protocol (a poller has no deadline of its own).
---@return nil
---@return string? err
function poller:timeout() end

---Closes (idempotent) and lets the registered objects go.
---@return true
function poller:close() end
