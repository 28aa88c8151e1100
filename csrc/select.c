/*
 * select.c: lsock.select(readers, writers [, timeout]) with the shapes of
 * LuaSocket's socket.select, built on poll(2) so that descriptor numbers
 * have no limit (select(2) stops at FD_SETSIZE). Input already buffered in
 * a socket counts as readable without waiting.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>

#include "internal.h"

/* One entry of a list: its descriptor (-1: skipped) and whether input is
 * buffered in it. */
typedef struct {
    int fd, dirty;
} entry;

/* The descriptor of the value at idx: an lsock socket, an integer, or an
 * object with getfd() (and dirty()), as LuaSocket objects have. */
static entry entry_of(lua_State *L, int idx) {
    entry e = {-1, 0};
    lsk_stream *st = lsk_tostream(L, idx);
    lua_Integer n;
    if (st != NULL) {
        e.fd = st->fd;
        e.dirty = st->fd >= 0 && lsk_stream_has_input(st);
        return e;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (lsock_tointeger(L, idx, &n) && n >= 0 && n <= 0x7fffffff) e.fd = (int)n;
        return e;
    }
    if (!lua_istable(L, idx) && lua_type(L, idx) != LUA_TUSERDATA) return e;
    lua_getfield(L, idx, "getfd");
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, idx);
        lua_call(L, 1, 1);
        if (lsock_tointeger(L, -1, &n) && n >= 0 && n <= 0x7fffffff) e.fd = (int)n;
    }
    lua_pop(L, 1);
    if (e.fd < 0) return e;
    lua_getfield(L, idx, "dirty");
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, idx);
        lua_call(L, 1, 1);
        e.dirty = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return e;
}

/* Append the value at idx to the result table at t: t[#t+1] = v, t[v] = #t. */
static void add_result(lua_State *L, int t, int idx, int *count) {
    lua_pushvalue(L, idx);
    lua_rawseti(L, t, ++*count);
    lua_pushvalue(L, idx);
    lua_pushinteger(L, *count);
    lua_rawset(L, t);
}

int lsk_select(lua_State *L) {
    int nr = 0, nw = 0, n, i, ms, r, dirty = 0, nout = 0, rcount = 0, wcount = 0;
    struct pollfd *pf;
    entry *es;
    double deadline;

    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        nr = (int)lsock_rawlen(L, 1);
    }
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        nw = (int)lsock_rawlen(L, 2);
    }
    ms = lsk_check_wait_ms(L, 3);
    lua_settop(L, 3);
    /* Both arrays live in one userdata: collected however this ends. */
    pf = (struct pollfd *)lua_newuserdata(L, (size_t)(nr + nw) * (sizeof *pf + sizeof *es) + 1);
    es = (entry *)(pf + nr + nw);
    for (i = 0; i < nr + nw; i++) {
        lua_rawgeti(L, i < nr ? 1 : 2, i < nr ? i + 1 : i - nr + 1);
        es[i] = entry_of(L, lua_gettop(L));
        lua_pop(L, 1);
        pf[i].fd = es[i].fd; /* poll skips a negative descriptor */
        pf[i].events = i < nr ? POLLIN : POLLOUT;
        pf[i].revents = 0;
        if (i < nr && es[i].dirty) dirty = 1;
    }
    if (dirty) ms = 0;
    deadline = ms > 0 ? lsk_monotime() + ms / 1000.0 : 0;
    n = nr + nw;
    while ((r = poll(pf, (nfds_t)n, ms)) < 0) {
        if (errno != EINTR) return lsk_fail(L, errno, "select");
        if (ms > 0) ms = lsk_ms_until(deadline);
    }
    lua_createtable(L, 0, 0); /* readable, at 5 */
    lua_createtable(L, 0, 0); /* writable, at 6 */
    for (i = 0; i < n; i++) {
        int re = pf[i].revents, ready;
        if (es[i].fd < 0 || (re & POLLNVAL)) continue;
        if (i < nr) ready = es[i].dirty || (re & (POLLIN | POLLERR | POLLHUP));
        else ready = re & (POLLOUT | POLLERR | POLLHUP);
        if (!ready) continue;
        lua_rawgeti(L, i < nr ? 1 : 2, i < nr ? i + 1 : i - nr + 1);
        add_result(L, i < nr ? 5 : 6, lua_gettop(L), i < nr ? &rcount : &wcount);
        lua_pop(L, 1);
        nout++;
    }
    if (nout == 0) {
        lua_pushliteral(L, "timeout");
        return 3;
    }
    return 2;
}
