--- The openssl command-line programs as TLS peers for spec/compat_ssl_spec.lua
-- and spec/tls_interop_spec.lua, on 127.0.0.1, each under `timeout 20` and
-- without LD_PRELOAD (the sanitizer runtimes a sanitized run preloads).
--
--   local ossl = require "helpers.compat_openssl"
--   local srv = ossl.s_server(C, "-www -naccept 1")  -- started, ACCEPT seen
--   ossl.s_server(C, "-www", C.other)                -- another certificate
--   srv.port; srv.stop()                             -- kill; all it printed
--   local wait = ossl.s_client(C, port, "input\n", "-servername localhost")
--   wait()                                           -- all it printed
--   ossl.stop_all()                                  -- after_each
--
-- `C` is helpers.certs.get(). Does not depend on busted.
local util = require "helpers.util"

local M = {}
local q = util.quote
local running = {}

local function free_port()
  local l, port = util.listen("127.0.0.1")
  l:close()
  return port
end

--- `openssl s_server` on a port found free (bound to port 0 by lsock, then
-- closed) with the certificate `item` of C (default C.server, the
-- localhost one) and the extra arguments `args`, waited for until it
-- prints ACCEPT (50 lines at most). Returns { port =, stop = }; raises
-- "setup failed: ..." if it did not start. Another process may take the
-- port between its closing and s_server's bind: then it tries another
-- (five times at most).
local function s_server_once(C, args, item)
  item = item or C.server
  local port = free_port()
  local cmd = ("echo $$; exec env -u LD_PRELOAD timeout 20 openssl s_server -accept 127.0.0.1:%d " ..
    "-cert %s -key %s %s </dev/null 2>&1"):format(port, q(item.cert), q(item.key), args or "")
  local f = assert(io.popen(cmd, "r"))
  local pid = f:read("*l")
  local seen = {}
  for _ = 1, 50 do
    local line = f:read("*l")
    if not line then break end
    seen[#seen + 1] = line
    if line == "ACCEPT" then break end
  end
  local h = { port = port }
  local output
  function h.stop()
    if output == nil then
      if pid and pid:match("^%d+$") then os.execute("kill " .. pid .. " 2>/dev/null") end
      output = table.concat(seen, "\n") .. "\n" .. (f:read("*a") or "")
      f:close()
      for i = #running, 1, -1 do
        if running[i] == h then table.remove(running, i) end
      end
    end
    return output
  end
  running[#running + 1] = h
  if seen[#seen] ~= "ACCEPT" then
    local out = h.stop()
    if out:find("Address already in use", 1, true) then return h, true end
    error("setup failed: openssl s_server did not start:\n" .. out, 3) -- M.s_server's caller
  end
  return h
end

function M.s_server(C, args, item)
  for _ = 1, 5 do
    local h, taken = s_server_once(C, args, item)
    if not taken then return h end
  end
  error("setup failed: openssl s_server found its port taken five times", 2)
end

--- `openssl s_client` to 127.0.0.1:port trusting the test CA, sending
-- `input` and then waiting for the server to close (-ign_eof), with the
-- extra arguments `args`. Returns a function that waits for it and returns
-- all it printed.
function M.s_client(C, port, input, args)
  local cmd = ("printf %%s %s | env -u LD_PRELOAD timeout 20 openssl s_client -connect 127.0.0.1:%d "
    .. "-CAfile %s -ign_eof %s 2>&1"):format(q(input), port, q(C.ca.cert), args or "")
  local f = assert(io.popen(cmd, "r"))
  local output
  local h = {}
  function h.stop()
    if output == nil then
      output = f:read("*a") or ""
      f:close()
      for i = #running, 1, -1 do
        if running[i] == h then table.remove(running, i) end
      end
    end
    return output
  end
  running[#running + 1] = h
  return h.stop
end

--- Stop every program still running (s_server killed, s_client waited
-- for: it ends within its timeout).
function M.stop_all()
  for i = #running, 1, -1 do running[i].stop() end
end

return M
