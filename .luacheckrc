-- The library itself must run on every Lua: only what all versions share.
std = "min"
files["spec"] = { std = "max+busted" }
files["bench"] = { std = "max" }
files["examples"] = { std = "max" }
