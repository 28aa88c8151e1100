-- Loads one implementation of LuaSocket's `socket` module (and LuaSec's
-- `ssl`) fresh, so one spec file can run the same LuaSocket script on
-- Debian's LuaSocket (the reference: what a script written for LuaSocket
-- expects) and on lsock.compat (what this project ships).
--
--   local compat = require "spec.helpers.compat"
--   for _, impl in ipairs(compat.impls) do
--     describe(impl, function()
--       local socket = compat.load(impl)          -- require "socket"
--       local http = compat.require(impl, "socket.http")
--     end)
--   end
--
-- LSOCK_COMPAT_IMPLS="luasocket" (or "lsock") restricts the list.
local M = {}

M.impls = {}
for name in (os.getenv("LSOCK_COMPAT_IMPLS") or "luasocket lsock"):gmatch("%S+") do
  M.impls[#M.impls + 1] = name
end

local function faced(name)
  return name == "socket" or name:match("^socket%.") or name == "ltn12"
    or name == "mime" or name:match("^mime%.") or name == "ssl" or name:match("^ssl%.")
end

-- Every module a LuaSocket or LuaSec script may have loaded, and the
-- loaders lsock.compat's install() left in package.preload (busted keeps
-- package.preload from one spec file to the next).
local function forget()
  for _, t in ipairs({ package.loaded, package.preload }) do
    local names = {}
    for name in pairs(t) do
      if faced(name) then names[#names + 1] = name end
    end
    for _, name in ipairs(names) do t[name] = nil end
  end
end

local current

-- compat.load(impl): the `socket` table of that implementation, with
-- everything loaded before forgotten.
function M.load(impl)
  forget()
  if impl == "lsock" then
    require("lsock.compat").install()
  elseif impl ~= "luasocket" then
    error("unknown implementation " .. tostring(impl))
  end
  current = impl
  return require "socket"
end

-- compat.require(impl, name): require name with impl's socket in place
-- (socket.http, socket.smtp, ltn12, mime, ssl, ssl.https).
function M.require(impl, name)
  if current ~= impl then M.load(impl) end
  return require(name)
end

return M
