-- The library itself must run on every Lua: only what all versions share.
std = "min"
files["spec"] = { std = "max+busted" }
files["bench"] = { std = "max" }
files["examples"] = { std = "max" }
-- LuaLS definition files: stubs whose arguments are never used, on tables
-- that only carry the definitions.
files["types"] = { unused_args = false, ignore = { "241" } }
-- The fuzz targets run in fuzz/harness.c, on Lua 5.4 only.
files["fuzz"] = { std = "lua54" }
