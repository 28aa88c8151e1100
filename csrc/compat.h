/*
 * compat.h: the one place that knows how Lua 5.1, 5.2, 5.3, 5.4 and
 * LuaJIT 2.1 differ. Everything else in csrc/ is written against the 5.4
 * API names and includes this header instead of the Lua headers.
 */
#ifndef LSOCK_COMPAT_H
#define LSOCK_COMPAT_H

#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h> /* LUA_FILEHANDLE on 5.1 and LuaJIT */

#if LUA_VERSION_NUM < 502
/* Lua 5.1 and LuaJIT. LuaJIT 2.1's lauxlib.h already has the 5.2 names
 * (luaL_setfuncs, luaL_newlib, ...); PUC 5.1's has none of them, and
 * luaL_newlibtable tells the two apart. */
#ifndef luaL_newlibtable
#define luaL_newlibtable(L, l) lua_createtable(L, 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
static inline void *luaL_testudata(lua_State *L, int idx, const char *tname) {
    void *p = lua_touserdata(L, idx);
    int same;
    if (p == NULL || !lua_getmetatable(L, idx)) return NULL;
    luaL_getmetatable(L, tname);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}
#endif
#endif /* LUA_VERSION_NUM < 502 */

/* Is the value at idx an integer-valued number (or a string holding one,
 * as luaL_checkinteger accepts on every version)? Floats with an
 * integral value count too. */
static inline int lsock_tointeger(lua_State *L, int idx, lua_Integer *out) {
#if LUA_VERSION_NUM >= 503
    int ok = 0;
    *out = 0;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok) return 0;
    *out = v;
    return 1;
#else
    lua_Number n;
    *out = 0;
    if (!lua_isnumber(L, idx)) return 0; /* numbers and numeric strings */
    n = lua_tonumber(L, idx);
    if (n != n || n < -9007199254740992.0 || n > 9007199254740992.0) return 0;
    if ((lua_Number)(lua_Integer)n != n) return 0;
    *out = (lua_Integer)n;
    return 1;
#endif
}

/* The length of the table at idx without metamethods. */
#if LUA_VERSION_NUM >= 502
#define lsock_rawlen(L, idx) lua_rawlen(L, idx)
#else
#define lsock_rawlen(L, idx) lua_objlen(L, idx)
#endif

/* One Lua value attached to a userdata (a table here): the environment
 * on 5.1/LuaJIT, the user value on 5.2/5.3, user value 1 on 5.4. */
#if LUA_VERSION_NUM >= 504
#define lsock_newuserdata(L, size) lua_newuserdatauv(L, size, 1)
#define lsock_setuservalue(L, idx) lua_setiuservalue(L, idx, 1)
#define lsock_getuservalue(L, idx) ((void)lua_getiuservalue(L, idx, 1))
#elif LUA_VERSION_NUM >= 502
#define lsock_newuserdata(L, size) lua_newuserdata(L, size)
#define lsock_setuservalue(L, idx) lua_setuservalue(L, idx)
#define lsock_getuservalue(L, idx) ((void)lua_getuservalue(L, idx))
#else
#define lsock_newuserdata(L, size) lua_newuserdata(L, size)
#define lsock_setuservalue(L, idx) ((void)lua_setfenv(L, idx))
#define lsock_getuservalue(L, idx) lua_getfenv(L, idx)
#endif

/* A full collection from C, used when the process runs out of
 * descriptors so that sockets dropped without close() give theirs back. */
static inline void lsock_fullgc(lua_State *L) {
    lua_gc(L, LUA_GCCOLLECT, 0);
}

/* Resume co from L with nargs values on its stack; *nres: how many
 * values it yielded or returned (at the top of its stack). */
static inline int lsock_resume(lua_State *co, lua_State *L, int nargs, int *nres) {
#if LUA_VERSION_NUM >= 504
    return lua_resume(co, L, nargs, nres);
#elif LUA_VERSION_NUM >= 502
    int r = lua_resume(co, L, nargs);
    *nres = lua_gettop(co);
    return r;
#else
    int r = lua_resume(co, nargs);
    (void)L;
    *nres = lua_gettop(co);
    return r;
#endif
}

/* After a coroutine died of an error: close its pending to-be-closed
 * variables (5.4; earlier versions have none). */
#if LUA_VERSION_NUM >= 504 && LUA_VERSION_RELEASE_NUM >= 50406
#define lsock_closethread(co, L) ((void)lua_closethread(co, L))
#elif LUA_VERSION_NUM >= 504
#define lsock_closethread(co, L) ((void)(L), (void)lua_resetthread(co))
#else
#define lsock_closethread(co, L) ((void)(co), (void)(L))
#endif

/* __close exists from 5.4 on; registering it earlier is harmless but
 * pointless, so the method table only carries it there. */
#if LUA_VERSION_NUM >= 504
#define LSOCK_HAVE_CLOSE 1
#else
#define LSOCK_HAVE_CLOSE 0
#endif

/* The FILE of the Lua file handle at idx: NULL when the value is not
 * one, and when it has been closed. 5.2+ handles are a luaL_Stream, whose
 * f stays set after close (closef is cleared); 5.1's and LuaJIT's hold
 * the FILE pointer first, cleared on close. */
static inline FILE *lsock_tofile(lua_State *L, int idx) {
    void *ud = luaL_testudata(L, idx, LUA_FILEHANDLE);
    if (ud == NULL) return NULL;
#if LUA_VERSION_NUM >= 502
    return ((luaL_Stream *)ud)->closef == NULL ? NULL : ((luaL_Stream *)ud)->f;
#else
    return *(FILE **)ud;
#endif
}

#endif
