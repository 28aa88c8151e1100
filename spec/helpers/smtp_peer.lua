--- A small SMTP server for spec/compat_smtp_spec.lua, written on lsock's
-- native API (lsock.listen, lsock.loop), run as a child process by
-- helpers.compat_child: `smtp_peer.lua`. It listens on 127.0.0.1 port 0,
-- prints "port N" and serves every connection in a coroutine of lsock.loop
-- with enough of RFC 5321 for socket.smtp:
--
--   220 greeting; EHLO (250-lines: 8BITMIME, AUTH PLAIN LOGIN, HELP) or
--   HELO; AUTH LOGIN (334 prompts) and AUTH PLAIN; MAIL FROM; RCPT TO (a
--   recipient with "reject" in it gets "550 5.1.1 no such user"); DATA
--   (354, then lines until a line ".", each line with one leading dot
--   removed: dot-unstuffing); RSET; NOOP; QUIT (221, then it closes);
--   anything else "500 5.5.1 unknown command".
--
-- What it received goes to standard output, one line per event, values in
-- hex (util.tohex) so that any byte survives:
--
--   session K                     connection K (1, 2, ...) opened
--   helo VERB HEX                 EHLO or HELO and its argument
--   auth MECH HEX...              AUTH and the base64 texts it got
--   mail HEX / rcpt HEX           the whole argument ("FROM:<a@b>")
--   data HEX                      the message as received: the lines
--                                 before ".", unstuffed, each followed
--                                 by CR LF
--   raw HEX                       the same lines as they came (stuffed)
--   quit                          QUIT
--   end K ERR                     connection K ended (ERR "quit" or the
--                                 error that ended it)
--
-- It exits when its standard input ends (the parent closed it) or after
-- LIFETIME seconds.
local lsock = require "lsock"
local util = require "helpers.util"

local LIFETIME = 30
local hex, out = util.tohex, util.out

local server, lerr = lsock.listen("127.0.0.1", 0)
if not server then
  out("listen failed:", tostring(lerr))
  os.exit(1)
end
local _, port = server:getsockname()

local sessions = 0

-- One SMTP session on c; returns how it ended: "quit", or the error of the
-- read that failed (the client went away).
local function session(c)
  local function reply(text) return c:send(text .. "\r\n") end
  reply("220 127.0.0.1 lsock test SMTP ready")
  for _ = 1, 1000 do
    local l, err = c:receive("l")
    if not l then return err end
    local verb, rest = l:match("^(%a+)%s?(.*)$")
    verb = verb and verb:upper()
    if verb == "EHLO" then
      out("helo", "EHLO", hex(rest))
      reply("250-127.0.0.1 hello " .. rest)
      reply("250-8BITMIME")
      reply("250-AUTH PLAIN LOGIN")
      reply("250 HELP")
    elseif verb == "HELO" then
      out("helo", "HELO", hex(rest))
      reply("250 127.0.0.1 hello " .. rest)
    elseif verb == "AUTH" then
      local mech, initial = rest:match("^(%S+)%s*(.*)$")
      mech = mech and mech:upper()
      if mech == "LOGIN" then
        reply("334 VXNlcm5hbWU6")
        local user, uerr = c:receive("l")
        if not user then return uerr end
        reply("334 UGFzc3dvcmQ6")
        local password, perr = c:receive("l")
        if not password then return perr end
        out("auth", "LOGIN", hex(user), hex(password))
        reply("235 2.7.0 authenticated")
      elseif mech == "PLAIN" then
        out("auth", "PLAIN", hex(initial))
        reply("235 2.7.0 authenticated")
      else
        reply("504 5.5.4 unknown mechanism")
      end
    elseif verb == "MAIL" then
      out("mail", hex(rest))
      reply("250 2.1.0 sender ok")
    elseif verb == "RCPT" then
      out("rcpt", hex(rest))
      if rest:find("reject", 1, true) then
        reply("550 5.1.1 no such user")
      else
        reply("250 2.1.5 recipient ok")
      end
    elseif verb == "DATA" then
      reply("354 end data with <CR><LF>.<CR><LF>")
      local data, raw = {}, {}
      for _ = 1, 1e6 do
        local dl, derr = c:receive("l")
        if not dl then return derr end
        if dl == "." then break end
        raw[#raw + 1] = dl .. "\r\n"
        data[#data + 1] = (dl:sub(1, 1) == "." and dl:sub(2) or dl) .. "\r\n"
      end
      out("data", hex(table.concat(data)))
      out("raw", hex(table.concat(raw)))
      reply("250 2.0.0 queued")
    elseif verb == "RSET" or verb == "NOOP" then
      reply("250 2.0.0 ok")
    elseif verb == "QUIT" then
      out("quit")
      reply("221 2.0.0 bye")
      return "quit"
    else
      reply("500 5.5.1 unknown command")
    end
  end
  return "too many commands"
end

local function serve(conn)
  sessions = sessions + 1
  local k = sessions
  out("session", k)
  conn:settimeout(util.TIMEOUT)
  out("end", k, tostring(session(conn)))
  conn:close()
end

util.serve_children(server, port, serve, LIFETIME)
