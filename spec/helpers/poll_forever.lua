-- Child process for spec/poller_spec.lua and spec/select_spec.lua: the waits
-- without a timeout (nil, and a negative number), which would hang the spec
-- run if they did not return. The spec runs this under `timeout`; every wait
-- here has something ready, so it returns at once when lsock is right.
--
-- Modes (one line per wait, "<timeout>: <what was reported>"):
--   poller-ready BACKEND   a writable socket registered for "w", value "s"
--   poller-dirty BACKEND   a socket with buffered input (its kernel queue
--                          empty) registered for "r", value "s"
--   select-dirty           that dirty socket in lsock.select's readers
local lsock = require "lsock"
local util = require "helpers.util"

local mode, backend = arg[1], arg[2]

local a, b = assert(lsock.socketpair())
a:settimeout(5)
b:settimeout(5)

local function make_dirty()
  assert(b:send("a\nb\n"))
  assert(a:receive() == "a")
  assert(a:dirty(), "not dirty")
end

local function poller_waits(events)
  local p = assert(lsock.poller(backend))
  assert(p:add(a, events, "s"))
  for _, timeout in ipairs({ "nil", -1 }) do
    local words, n = {}, 0
    local t = timeout ~= "nil" and timeout or nil
    for obj, ev, val in p:wait(t) do
      n = n + 1
      words[n] = (obj == a and tostring(val) or "other:" .. tostring(obj)) .. " " .. tostring(ev)
      if n > 100 then break end
    end
    util.out(tostring(timeout) .. ":", table.concat(words, ", "))
  end
  p:close()
end

if mode == "poller-ready" then
  poller_waits("w")
elseif mode == "poller-dirty" then
  make_dirty()
  poller_waits("r")
elseif mode == "select-dirty" then
  make_dirty()
  for _, timeout in ipairs({ "nil", -1 }) do
    local t = timeout ~= "nil" and timeout or nil
    local r, w, err = lsock.select({ a }, nil, t)
    util.out(tostring(timeout) .. ":", r[1] == a and "a" or tostring(r[1]), tostring(r[a]),
      tostring(#w), tostring(err))
  end
else
  util.out("unknown mode " .. tostring(mode))
end
a:close()
b:close()
