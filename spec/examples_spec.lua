-- The runnable examples: each one runs to the end and shows what it says.
local util = require "helpers.util"

local function run(script)
  local handle = util.spawn_script(script)
  return handle.wait()
end

describe("examples/tour.lua", function()
  local out

  setup(function()
    out = run("examples/tour.lua")
  end)

  it("runs to the end and closes everything", function()
    assert.matches("closed:      lsock%.socket: closed$", out)
  end)

  it("shows a line read with its CR LF dropped and one with its EOL kept", function()
    assert.matches('line:        "HELLO lsock"', out, 1, true)
    assert.matches('line + EOL:  "second line\\\n"', out, 1, true)
  end)

  it("shows a timed-out read resumed with its partial result", function()
    assert.matches('timeout:     nil, timeout, partial "partial li"', out, 1, true)
    assert.matches('resumed:     "partial line"', out, 1, true)
  end)

  it("shows the max guard, half-close and a refused connection", function()
    assert.matches("max 16:      too long", out, 1, true)
    assert.matches('until close: "last words"', out, 1, true)
    assert.matches('client got:  "bye"', out, 1, true)
    assert.matches("refused:     nil, connect 127%.0%.0%.1:%d+: connection refused, errno %d+", out)
  end)
end)

describe("examples/udp_echo.lua", function()
  local out

  setup(function()
    out = run("examples/udp_echo.lua")
  end)

  it("runs to the end and closes everything", function()
    assert.matches("closed:      lsock%.socket: closed$", out)
  end)

  it("echoes each datagram, the empty one and binary data included", function()
    assert.matches('echo:        "hello" %(5 bytes%) from 127%.0%.0%.1:%d+', out)
    assert.matches('echo:        "" %(0 bytes%) from 127%.0%.0%.1:%d+', out)
    assert.matches('echo:        "binary\\0safe" (11 bytes)', out, 1, true)
  end)

  it("shows a truncated datagram", function()
    assert.matches("truncated:   10 of 100 bytes, true", out, 1, true)
  end)

  it("echoes a batch with sendmany/recvmany", function()
    assert.matches("batch sent:  4", out, 1, true)
    assert.matches("server got:  one two three four", out, 1, true)
    assert.matches("echoed:      4", out, 1, true)
    assert.matches("client got:  one two three four", out, 1, true)
  end)

  it("ends an idle wait with a timeout", function()
    assert.matches("idle:        nil, timeout", out, 1, true)
  end)
end)

describe("examples/pass_fd.lua", function()
  local out

  setup(function()
    out = run("examples/pass_fd.lua")
  end)

  it("runs to the end and closes everything", function()
    assert.matches("closed:      lsock%.socket: closed$", out)
  end)

  it("hands an accepted connection to the worker as a new descriptor", function()
    assert.matches("acceptor:    accepted 127%.0%.0%.1:%d+ as fd %d+", out)
    assert.matches('worker got:  "conn" with 1 descriptor%(s%), fd %d+', out)
    assert.matches("worker has:  lsock%.socket: tcp 127%.0%.0%.1:%d+ %-> 127%.0%.0%.1:%d+ %(fd %d+%)", out)
  end)

  it("lets the worker serve the connection after the acceptor closed its copy", function()
    assert.matches('worker read: "hello worker"', out, 1, true)
    assert.matches('client got:  "HELLO WORKER"', out, 1, true)
  end)

  it("shows the channel's peer credentials", function()
    assert.matches("peercred:    pid %d+, uid %d+, gid %d+", out)
  end)
end)

describe("examples/echo_server.lua", function()
  local out

  setup(function()
    out = run("examples/echo_server.lua")
  end)

  it("runs to the end with every coroutine finished and closes the server", function()
    assert.matches("loop:        every coroutine finished", out, 1, true)
    assert.matches("closed:      lsock%.socket: closed$", out)
  end)

  it("serves its 100 clients at once and echoes every line", function()
    assert.matches("server:      lsock%.socket: tcp 127%.0%.0%.1:%d+ %(fd %d+%)", out)
    assert.matches("clients:     100 ok, 0 failed", out, 1, true)
    assert.matches("accepted:    100, at most 100 open at once", out, 1, true)
    assert.matches("echoed:      300 lines, %d+ bytes", out)
  end)

  it("takes less time than the clients' pauses added up (they run side by side)", function()
    local elapsed, pauses = out:match("elapsed:     (%S+) s %(the clients' pauses alone add up to (%S+) s%)")
    assert.is_string(elapsed, out)
    assert.is_true(tonumber(elapsed) < tonumber(pauses), out)
  end)
end)

describe("examples/port_check.lua", function()
  -- Every "open: PORT" line, and the ports marked as the script's own.
  local function open_ports(out)
    local all, ours = {}, {}
    for port, mark in out:gmatch("open:        (%d+)([^\n]*)") do
      all[#all + 1] = tonumber(port)
      if mark == " (ours)" then ours[#ours + 1] = tonumber(port) end
    end
    return all, ours
  end

  it("checks the default range and finds its own three listeners", function()
    local out = run("examples/port_check.lua")
    assert.matches("checking:    127.0.0.1 ports 20000-20999", out, 1, true)
    local all, ours = open_ports(out)
    assert.equal(3, #ours, out)
    local checked, open = out:match("checked:     (%d+) ports in %S+ s, (%d+) open")
    assert.is_string(checked, out)
    assert.is_true(tonumber(checked) >= 1000, out)
    assert.equal(#all, tonumber(open))
    assert.matches("loop:        every coroutine finished", out, 1, true)
  end)

  it("takes a range argument and reports a bad one", function()
    local out = util.spawn_script("examples/port_check.lua", "30000-30099").wait()
    assert.matches("checking:    127.0.0.1 ports 30000-30099", out, 1, true)
    local _, ours = open_ports(out)
    assert.equal(3, #ours, out)
    assert.matches("checked:     %d+ ports", out)
    local bad = util.spawn_script("examples/port_check.lua", "9-3").wait()
    assert.matches("usage: lua examples/port_check.lua FIRST-LAST", bad, 1, true)
  end)
end)

describe("examples/tls_echo.lua", function()
  local out
  setup(function() out = run("examples/tls_echo.lua") end)

  it("verifies the server it made a certificate for", function()
    assert.matches("client 1: tls1.3, [%w_]+, verified: true", out)
    assert.matches("server certificate CN=localhost, issued by CN=lsock-demo-CA, " ..
      "names DNS:localhost IP:127.0.0.1", out, 1, true)
  end)

  it("echoes every line of its 20 clients, all served at once", function()
    assert.matches("clients:  20 ok, 0 failed, 60 lines echoed", out, 1, true)
  end)

  it("resumes the session on every reconnection with the same context", function()
    assert.matches("connect 0: full handshake\nconnect 1: resumed the session\n" ..
      "connect 2: resumed the session\nconnect 3: resumed the session", out, 1, true)
  end)
end)

describe("examples/https_get.lua", function()
  local tls = require "lsock.tls"
  local certs = require "helpers.certs"
  local C

  setup(function() C = certs.get() end)

  -- Serve one HTTPS request with `reply` while the example runs.
  local function get(reply, ...)
    local listener, port = util.listen()
    local child = util.spawn_script("examples/https_get.lua", ("https://localhost:%d/hello"):format(port), ...)
    local ctx = assert(tls.context({ mode = "server", cert = C.server.cert, key = C.server.key,
      alpn = { "http/1.1" } }))
    local conn = listener:accept()
    listener:close()
    local request = {}
    if conn then
      local t = assert(tls.wrap(conn, ctx))
      if t:handshake() then
        repeat
          local line = t:receive()
          request[#request + 1] = line
        until not line or line == ""
        t:send(reply)
      end
      t:close()
    end
    return child.wait(), request
  end

  it("gets a body framed by Content-Length from a server it verified", function()
    local out, request = get("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", C.ca.cert)
    assert.equal("GET /hello HTTP/1.1", request[1])
    assert.matches("HTTP/1.1 200 OK\ntls1.3, [%w_]+, ALPN http/1.1, 5 bytes", out)
  end)

  it("decodes a chunked body", function()
    local out = get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", C.ca.cert)
    assert.matches("ALPN http/1.1, 7 bytes", out, 1, true)
  end)

  it("refuses a server whose certificate the system store does not trust", function()
    local out = get("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert.matches("connect: tls handshake: certificate verify failed: " ..
      "unable to get local issuer certificate", out, 1, true)
  end)

  it("says how to call it", function()
    assert.matches("usage: lua examples/https_get.lua", util.spawn_script("examples/https_get.lua").wait(), 1, true)
  end)
end)

describe("examples/luasocket_face.lua", function()
  local out
  setup(function() out = run("examples/luasocket_face.lua") end)

  it("runs LuaSocket's own socket.http on lsock's socket face", function()
    assert.matches("socket:  LuaSocket 3.1.0 (lsock ", out, 1, true)
    assert.matches("http:    [^\n]*/socket/http%.lua\n", out)
  end)

  it("gets and posts with socket.http.request, from its child server", function()
    assert.matches("GET:     200, 29 bytes: hello from a LuaSocket server", out, 1, true)
    assert.matches("POST:    HTTP/1.0 200 OK, 22 bytes: LSOCK SPEAKS LUASOCKET", out, 1, true)
    assert.matches("server:  GET / HTTP/1.1, 0 body bytes\nserver:  POST /upper HTTP/1.1, 22 body bytes",
      out, 1, true)
  end)

  it("shows socket.select and socket.dns.toip, and ends without a failure", function()
    assert.matches('select:  1 of 2 ready, the one sent to: "ping" from 127%.0%.0%.1:%d+', out)
    assert.matches("toip:    localhost is 127%.%d+%.%d+%.%d+ %(", out)
    assert.not_matches("luasocket_face:", out, 1, true)
  end)
end)
