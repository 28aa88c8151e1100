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
