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
