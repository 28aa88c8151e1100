/*
 * poller.c: the lsock.poller object: a pollset (pollset.h) whose
 * registrations carry Lua objects. The Lua side of a registration (the
 * object and its value) lives in two tables in the poller's user value:
 * reg[2*slot+1], reg[2*slot+2] and index[object] = slot.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pollset.h"

#define LSOCK_POLLER "lsock.poller"

typedef struct lsk_poller {
    lsk_pollset ps;      /* first: on_forget is given &ps */
    lsk_slotlist dead;   /* closed by their socket, Lua side to clear */
} lsk_poller;

/* A socket closed while registered: its slot is out of the kernel's set
 * already; its Lua entries are cleared by the poller's next call (there
 * is no lua_State here), and only then is the slot reused. */
static void poller_forget(lsk_pollset *ps, unsigned slot) {
    lsk_poller *p = (lsk_poller *)ps;
    if (lsk_slot_push(&p->dead, slot) != 0) {
        /* Without room to remember it the slot is never reused: its Lua
         * entries stay until the poller goes, which is harmless. */
    }
}

/* ---- the object ------------------------------------------------------------ */

static lsk_poller *check_poller(lua_State *L) {
    return (lsk_poller *)luaL_checkudata(L, 1, LSOCK_POLLER);
}

/* The user value's tables at the top of the stack: reg (at -2) and index
 * (at -1). */
static void push_tables(lua_State *L, int idx) {
    lsock_getuservalue(L, idx);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    lua_remove(L, -3);
}

/* Clear the Lua entries of slots whose sockets closed, and free them. */
static void clear_dead(lua_State *L, lsk_poller *p) {
    int reg, index;
    if (p->dead.n == 0) return;
    push_tables(L, 1);
    reg = lua_gettop(L) - 1;
    index = reg + 1;
    while (p->dead.n > 0) {
        unsigned s = p->dead.v[--p->dead.n];
        lua_rawgeti(L, reg, (int)(2 * s + 1));
        lua_pushnil(L);
        lua_rawset(L, index);
        lua_pushnil(L);
        lua_rawseti(L, reg, (int)(2 * s + 1));
        lua_pushnil(L);
        lua_rawseti(L, reg, (int)(2 * s + 2));
        lsk_pollset_free_slot(&p->ps, s);
    }
    lua_pop(L, 2);
}

/* Which descriptor (and stream) obj at idx stands for. Returns 1 when it
 * is a closed socket. Raises for anything but a socket or a descriptor. */
static int check_object(lua_State *L, int idx, lsk_stream **st, int *fd) {
    lua_Integer n;
    *st = lsk_tostream(L, idx);
    if (*st != NULL) {
        *fd = (*st)->fd;
        return *fd < 0;
    }
    if (lua_type(L, idx) == LUA_TNUMBER && lsock_tointeger(L, idx, &n) && n >= 0 && n <= 0x7fffffff) {
        *fd = (int)n;
        return 0;
    }
    return luaL_argerror(L, idx, "socket or descriptor (non-negative integer) expected");
}

static int check_events(lua_State *L, int idx) {
    static const char *const names[] = {"r", "w", "rw", NULL};
    static const int values[] = {LSK_WANT_READ, LSK_WANT_WRITE, LSK_WANT_READ | LSK_WANT_WRITE};
    return values[lsk_check_name(L, idx, "events", names, NULL)];
}

/* The slot of the object at idx, or raises naming the method. */
static unsigned registered_slot(lua_State *L, int idx, const char *method) {
    lua_Integer s = -1;
    push_tables(L, 1);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    if (!lsock_tointeger(L, -1, &s))
        luaL_argerror(L, idx, lua_pushfstring(L, "not registered in this poller (%s)", method));
    lua_pop(L, 3);
    return (unsigned)s;
}

static int po_add(lua_State *L) {
    lsk_poller *p = check_poller(L);
    lsk_stream *st;
    unsigned slot;
    int fd, events, err, closed;
    lua_settop(L, 4); /* the value is nil when not given */
    closed = check_object(L, 2, &st, &fd);
    events = check_events(L, 3);
    if (p->ps.set == NULL || closed) return lsk_closed_result(L);
    clear_dead(L, p);
    push_tables(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) luaL_argerror(L, 2, "already registered in this poller (use modify)");
    lua_pop(L, 1);
    if (fcntl(fd, F_GETFD) < 0) return lsk_fail(L, errno, "poller add");
    if ((err = lsk_pollset_add(&p->ps, fd, st, events, &slot)) != 0) return lsk_fail(L, err, "poller add");
    /* reg and index are at -2 and -1 */
    lua_pushvalue(L, 2);
    lua_rawseti(L, -3, (int)(2 * slot + 1));
    lua_pushvalue(L, 4);
    lua_rawseti(L, -3, (int)(2 * slot + 2));
    lua_pushvalue(L, 2);
    lua_pushinteger(L, (lua_Integer)slot);
    lua_rawset(L, -3);
    lua_pushboolean(L, 1);
    return 1;
}

static int po_modify(lua_State *L) {
    lsk_poller *p = check_poller(L);
    lsk_stream *st;
    unsigned slot;
    int fd, events, err, closed = check_object(L, 2, &st, &fd);
    events = check_events(L, 3);
    if (p->ps.set == NULL || closed) return lsk_closed_result(L);
    clear_dead(L, p);
    slot = registered_slot(L, 2, "modify");
    if ((err = lsk_pollset_modify(&p->ps, slot, events)) != 0) return lsk_fail(L, err, "poller modify");
    lua_pushboolean(L, 1);
    return 1;
}

static int po_remove(lua_State *L) {
    lsk_poller *p = check_poller(L);
    lsk_stream *st;
    unsigned slot;
    int fd;
    check_object(L, 2, &st, &fd);
    if (p->ps.set == NULL) return lsk_closed_result(L);
    clear_dead(L, p);
    slot = registered_slot(L, 2, "remove");
    lsk_pollset_remove(&p->ps, slot);
    push_tables(L, 1);
    lua_pushvalue(L, 2);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pushnil(L);
    lua_rawseti(L, -3, (int)(2 * slot + 1));
    lua_pushnil(L);
    lua_rawseti(L, -3, (int)(2 * slot + 2));
    lua_pushboolean(L, 1);
    return 1;
}

int lsk_check_wait_ms(lua_State *L, int idx) {
    lua_Number t;
    if (lua_isnoneornil(L, idx)) return -1;
    t = luaL_checknumber(L, idx);
    if (t != t) luaL_argerror(L, idx, "timeout is not a number");
    if (t < 0) return -1;
    t = ceil(t * 1000.0);
    return t > 2147483647.0 ? 2147483647 : (int)t;
}

static int po_wait(lua_State *L) {
    lsk_poller *p = check_poller(L);
    int ms = lsk_check_wait_ms(L, 2), n;
    if (p->ps.set == NULL) return lsk_closed_result(L);
    clear_dead(L, p);
    n = lsk_pollset_wait(&p->ps, ms);
    if (n == -ENOMEM) return luaL_error(L, "not enough memory");
    if (n < 0) return lsk_fail(L, -n, "poller wait");
    lsock_getuservalue(L, 1);
    lua_rawgeti(L, -1, 3); /* the iterator */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* The iterator of wait: obj, events, value for the next event still
 * valid. Upvalues: the poller, its reg table. */
static int po_next(lua_State *L) {
    lsk_poller *p = (lsk_poller *)lua_touserdata(L, lua_upvalueindex(1));
    unsigned s;
    int events;
    if (!lsk_pollset_next(&p->ps, &s, &events)) return 0;
    lua_rawgeti(L, lua_upvalueindex(2), (int)(2 * s + 1));
    lsk_push_events(L, events);
    lua_rawgeti(L, lua_upvalueindex(2), (int)(2 * s + 2));
    return 3;
}

static void close_poller(lsk_poller *p) {
    lsk_pollset_close(&p->ps);
    free(p->dead.v);
    p->dead.v = NULL;
    p->dead.n = p->dead.cap = 0;
}

static int po_gc(lua_State *L) {
    close_poller(check_poller(L));
    return 0;
}

static int po_close(lua_State *L) {
    lsk_poller *p = check_poller(L);
    close_poller(p);
    /* Let go of the registered objects and values. */
    lua_createtable(L, 3, 0);
    lsock_setuservalue(L, 1);
    lua_pushboolean(L, 1);
    return 1;
}

static int po_backend(lua_State *L) {
    lsk_poller *p = check_poller(L);
    if (p->ps.set == NULL) return lsk_closed_result(L);
    lua_pushstring(L, p->ps.be->name);
    return 1;
}

static int po_getfd(lua_State *L) {
    lsk_poller *p = check_poller(L);
    int fd;
    if (p->ps.set == NULL) return lsk_closed_result(L);
    fd = p->ps.be->fd(p->ps.set);
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s backend has no descriptor", p->ps.be->name);
        return 2;
    }
    lua_pushinteger(L, fd);
    return 1;
}

static int po_count(lua_State *L) {
    lsk_poller *p = check_poller(L);
    if (p->ps.set == NULL) return lsk_closed_result(L);
    lua_pushinteger(L, (lua_Integer)p->ps.count);
    return 1;
}

static int po_events(lua_State *L) {
    if (check_poller(L)->ps.set == NULL) return lsk_closed_result(L);
    lua_pushliteral(L, "r");
    return 1;
}

static int po_timeout(lua_State *L) {
    if (check_poller(L)->ps.set == NULL) return lsk_closed_result(L);
    lua_pushnil(L);
    return 1;
}

static int po_tostring(lua_State *L) {
    lsk_poller *p = check_poller(L);
    if (p->ps.set == NULL) lua_pushliteral(L, "lsock.poller: closed");
    else lua_pushfstring(L, "lsock.poller: %s (%d registered)", p->ps.be->name, (int)p->ps.count);
    return 1;
}

/* The backend named by the argument at idx (nil: the default), or NULL
 * after pushing nil and a message. */
const lsk_backend *lsk_check_backend(lua_State *L, int idx, const char *what) {
    static const char *const names[] = {"epoll", "kqueue", "poll", NULL};
    const char *want = NULL;
    const lsk_backend *be;
    if (!lua_isnoneornil(L, idx)) want = names[lsk_check_name(L, idx, "backend", names, NULL)];
    be = lsk_backend_named(want);
    if (be == NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: backend '%s' is not available here", what, want);
    }
    return be;
}

int lsk_poller_new(lua_State *L) {
    const lsk_backend *be = lsk_check_backend(L, 1, "poller");
    lsk_poller *p;
    int err;
    if (be == NULL) return 2;
    p = (lsk_poller *)lsock_newuserdata(L, sizeof *p);
    memset(p, 0, sizeof *p);
    luaL_getmetatable(L, LSOCK_POLLER);
    lua_setmetatable(L, -2);
    /* The user value: {reg, index, iterator}. */
    lua_createtable(L, 3, 0);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, 1);
    lua_newtable(L);
    lua_rawseti(L, -3, 2);
    lua_pushvalue(L, -3); /* the poller */
    lua_insert(L, -2);    /* poller, reg */
    lua_pushcclosure(L, po_next, 2);
    lua_rawseti(L, -2, 3);
    lsock_setuservalue(L, -2);
    err = lsk_pollset_open(&p->ps, be, poller_forget);
    if (lsk_collected_for_fds(L, err)) err = lsk_pollset_open(&p->ps, be, poller_forget);
    if (err != 0) return lsk_fail(L, err, "poller");
    return 1;
}
static const luaL_Reg methods[] = {
    {"add", po_add},         {"modify", po_modify},   {"remove", po_remove},
    {"wait", po_wait},       {"backend", po_backend}, {"getfd", po_getfd},
    {"pollfd", po_getfd},    {"events", po_events},   {"timeout", po_timeout},
    {"count", po_count},     {"close", po_close},     {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", po_gc},
#if LSOCK_HAVE_CLOSE
    {"__close", po_close},
#endif
    {"__tostring", po_tostring},
    {NULL, NULL},
};

void lsk_poller_open(lua_State *L) { lsk_new_class(L, LSOCK_POLLER, metamethods, methods); }
