--- A LuaSocket-script peer for spec/compat_socket_spec.lua, run as a child
-- process by `util.spawn_script(util.HELPERS .. "compat_peer.lua", IMPL,
-- COMMAND, ...)`. It loads IMPL's `socket` module ("luasocket" or "lsock",
-- through spec/helpers/compat.lua), so the child is the same kind of
-- LuaSocket script as the spec itself, does one thing, prints one line per
-- step and exits. Every wait is bounded by a socket timeout of 5 s, so the
-- peer always ends on its own.
--
-- Commands:
--
--   later HOST PORT DELAY HEX     connect, wait DELAY seconds, send HEX
--                                 (nothing when HEX is empty), close;
--                                 prints "sent N"
--   trickle HOST PORT DELAY HEX   connect and send the bytes of HEX one at a
--                                 time with DELAY seconds before each, then
--                                 close; prints "trickled N" (or "stopped at
--                                 I ERR" when a send fails)
--   send HOST PORT N              connect, send the first N bytes of the
--                                 pattern (util.block) in blocks, close;
--                                 prints "sent N" (or "send failed ...")
--   verify HOST PORT N            connect, read until the other side closes
--                                 (receive(util.BLOCK) until "closed") and
--                                 check the data against the pattern; prints
--                                 "ok N", "short N" or "mismatch at X"
--   high                          (under `ulimit -n 4096`) open UDP sockets
--                                 until one has a descriptor above 1030, then
--                                 a TCP pair above it; prints
--                                   fds above 1024: yes
--                                   select: readable yes writable yes err nil
--                                     (or "select: raised MESSAGE")
--                                   receive: DATA ERR
--   mcast6 IFNAME                 (in a network namespace where IFNAME is one
--                                 end of a veth pair) IPv6 multicast to the
--                                 link-local group ff02::1:3 on IFNAME; one line
--                                 per step, `WORD results...` (integral
--                                 numbers without a fraction):
--                                   dad READY      the link-local address is usable
--                                   join R...      ipv6-add-membership
--                                   joinagain R... the same once more
--                                   loop R...      ipv6-multicast-loop true
--                                   send R...      sendto("hello6", "ff02::1:3%IFNAME", port)
--                                   recv DATA ADDR receivefrom()
--                                   drop R...      ipv6-drop-membership
--                                   dropagain R... the same once more
--                                   after R...     receivefrom() after the drop (0.3 s)
local util = require "helpers.util"
local compat = require "helpers.compat"

local impl, command = arg[1], arg[2]
local socket = compat.load(impl)
local out = util.out
local WAIT = util.TIMEOUT

local function connect(host, port)
  local sock = assert(socket.tcp())
  sock:settimeout(WAIT)
  local ok, err = sock:connect(host, tonumber(port))
  if not ok then
    out("connect failed:", tostring(err))
    os.exit(1)
  end
  return sock
end

if command == "later" then
  local sock = connect(arg[3], arg[4])
  local delay, data = tonumber(arg[5]), util.fromhex(arg[6] or "")
  socket.sleep(delay)
  if #data > 0 then sock:send(data) end
  sock:close()
  out("sent", #data)

elseif command == "trickle" then
  local sock = connect(arg[3], arg[4])
  local delay, data = tonumber(arg[5]), util.fromhex(arg[6])
  sock:setoption("tcp-nodelay", true)
  for i = 1, #data do
    socket.sleep(delay)
    local last, err = sock:send(data, i, i)
    if last ~= i then
      out("stopped at", i, tostring(err))
      os.exit(0)
    end
  end
  sock:close()
  out("trickled", #data)

elseif command == "send" then
  local sock = connect(arg[3], arg[4])
  local n = tonumber(arg[5])
  local ok, err, _, count = util.send_pattern(sock, n)
  sock:close()
  if ok then out("sent", n) else out("send failed after", count, err) end

elseif command == "verify" then
  local sock = connect(arg[3], arg[4])
  local n = tonumber(arg[5])
  local check = util.checker()
  for _ = 1, 1e6 do
    local data, err, partial = sock:receive(util.BLOCK)
    local chunk = data or partial
    if chunk and #chunk > 0 then
      local good, at = check.feed(chunk)
      if not good then
        out("mismatch at", at)
        os.exit(0)
      end
    end
    if err == "closed" then break end
    if err then
      out("error", err, "after", check.count())
      os.exit(0)
    end
  end
  sock:close()
  if check.count() == n then out("ok", n) else out("short", check.count()) end

elseif command == "high" then
  local held = {}
  for _ = 1, 1100 do
    local u = socket.udp4()
    if not u then break end
    held[#held + 1] = u
    if u:getfd() > 1030 then break end
  end
  local server = assert(socket.tcp4())
  assert(server:bind("127.0.0.1", 0))
  assert(server:listen())
  server:settimeout(WAIT)
  local _, port = server:getsockname()
  local client = connect("127.0.0.1", port)
  local conn = assert(server:accept())
  conn:settimeout(WAIT)
  out("fds above 1024:", (client:getfd() > 1024 and conn:getfd() > 1024) and "yes" or
    ("no (" .. tostring(client:getfd()) .. ", " .. tostring(conn:getfd()) .. ")"))
  assert(client:send("x"))
  local ok, r, w, err = pcall(socket.select, { conn }, { client }, WAIT)
  if ok then
    out("select: readable", r[conn] == 1 and "yes" or tostring(r[conn]),
      "writable", w[client] == 1 and "yes" or tostring(w[client]), "err", tostring(err))
  else
    out("select: raised", tostring(r))
  end
  local data, rerr = conn:receive(1)
  out("receive:", tostring(data), tostring(rerr))
  client:close()
  conn:close()
  server:close()
  for _, u in ipairs(held) do u:close() end

elseif command == "mcast6" then
  local ifname = arg[3]
  local function show(...)
    local t = {}
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if type(v) == "number" and v == math.floor(v) then v = string.format("%d", v) end
      t[i] = tostring(v)
    end
    return table.concat(t, " ")
  end
  local function step(word, ...) out(word, show(...)) end
  local function command_output(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local text = p:read("*a")
    p:close()
    return text
  end
  -- Duplicate address detection keeps the new link-local address
  -- "tentative" for a second or two; a multicast sent before has no source.
  local ready = false
  for _ = 1, 50 do
    if not command_output("ip -6 addr show dev " .. ifname .. " tentative"):find("inet6", 1, true) then
      ready = true
      break
    end
    socket.sleep(0.1)
  end
  step("dad", ready)
  local index = tonumber(command_output("ip -o link show dev " .. ifname):match("^(%d+):"))
  local group = "ff02::1:3"
  local membership = { multiaddr = group, interface = index }
  local rx = assert(socket.udp6())
  assert(rx:setsockname("::", 0))
  rx:settimeout(WAIT)
  local _, port = rx:getsockname()
  step("join", rx:setoption("ipv6-add-membership", membership))
  step("joinagain", rx:setoption("ipv6-add-membership", membership))
  local tx = assert(socket.udp6())
  tx:settimeout(WAIT)
  step("loop", tx:setoption("ipv6-multicast-loop", true))
  step("send", tx:sendto("hello6", group .. "%" .. ifname, tonumber(port)))
  local data, addr = rx:receivefrom()
  step("recv", data, addr)
  step("drop", rx:setoption("ipv6-drop-membership", membership))
  step("dropagain", rx:setoption("ipv6-drop-membership", membership))
  tx:sendto("again", group .. "%" .. ifname, tonumber(port))
  rx:settimeout(0.3)
  step("after", rx:receivefrom())
  rx:close()
  tx:close()

else
  out("unknown command", tostring(command))
  os.exit(1)
end
