-- Child process for spec/select_spec.lua, run under `ulimit -n 4096`: open
-- sockets until a socketpair has both descriptors above 1024 (beyond
-- select(2)'s FD_SETSIZE), then wait on it with lsock.select and with each
-- poller backend, and print what was reported, one line each:
--   fds above 1024: yes
--   select: readable 1 writable 1 err nil
--   select quiet: readers 0 writers 0 err timeout
--   poller poll: r
--   poller epoll: r          (Linux only)
local lsock = require "lsock"
local util = require "helpers.util"

local held = {}
local a, b
for _ = 1, 1100 do
  local s, err = lsock.tcp()
  if not s then
    util.out("failed to open: " .. tostring(err))
    os.exit(0)
  end
  held[#held + 1] = s
  if s:getfd() > 1030 then break end
end
a, b = assert(lsock.socketpair())
a:settimeout(5)
b:settimeout(5)
util.out("fds above 1024:", (a:getfd() > 1024 and b:getfd() > 1024) and "yes" or
  ("no (" .. a:getfd() .. ", " .. b:getfd() .. ")"))

assert(b:send("x"))
local r, w, err = lsock.select({ a }, { a }, 5)
util.out("select: readable", tostring(r[a]), "writable", tostring(w[a]), "err", tostring(err))

local r2, w2, err2 = lsock.select({ b }, nil, 0)
util.out("select quiet: readers", #r2, "writers", #w2, "err", tostring(err2))

local backends = { "poll" }
if util.output("uname -s") == "Linux" then backends[2] = "epoll" end
for _, backend in ipairs(backends) do
  local p = assert(lsock.poller(backend))
  assert(p:add(a, "r"))
  assert(p:add(b, "r"))
  local words, n = {}, 0
  for obj, ev in p:wait(5) do
    n = n + 1
    words[n] = (obj == a and "" or "other ") .. ev
    if n > 100 then break end
  end
  util.out("poller " .. backend .. ":", table.concat(words, ", "))
  p:close()
end

a:close()
b:close()
for _, s in ipairs(held) do s:close() end
