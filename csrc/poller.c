/*
 * poller.c: the lsock.poller object over one backend (poller.h). It maps
 * the backend's tokens to Lua objects, reports sockets with buffered input
 * as readable without waiting, and keeps the promise that no event is
 * ever delivered for an object that was removed or closed:
 *
 * - a registration is a slot; its token carries the slot's generation,
 *   which changes whenever the slot is freed, so an event harvested for an
 *   old registration never matches a new one;
 * - a socket knows the pollers it is in (lsk_pollref), and closing it
 *   removes it from each of them before its descriptor is released, so a
 *   recycled descriptor number is never watched on its behalf.
 *
 * The Lua side of a registration (the object and its value) lives in two
 * tables in the poller's user value: reg[2*slot+1], reg[2*slot+2] and
 * index[object] = slot.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "poller.h"

#define LSOCK_POLLER "lsock.poller"
#define WAIT_BATCH 256

/* Tokens: the slot in the low half of a word, its generation above. */
#define HALF (sizeof(uintptr_t) * 4)
#define SLOT_MASK (((uintptr_t)1 << HALF) - 1)

typedef struct pslot {
    int fd;            /* -1: free, or closed under us */
    int events;        /* LSK_WANT_* of interest */
    unsigned gen;
    lsk_stream *st;    /* NULL for a plain descriptor */
    int queued;        /* in the dirty queue */
    int mark;          /* during a wait: 1 + index of its dirty event */
} pslot;

/* A growable array of slot numbers. */
typedef struct slotlist {
    unsigned *v;
    unsigned n, cap;
} slotlist;

struct lsk_poller {
    const lsk_backend *be;
    void *set;             /* NULL once closed */
    pslot *slots;
    unsigned nslots, cap, count;
    slotlist free_, dirty, dead; /* dead: closed by their socket, Lua side to clear */
    lsk_pevent *ev;        /* the events of the last wait */
    int nev, pos, evcap;
};

typedef struct lsk_pollref {
    struct lsk_poller *p;
    unsigned slot;
    struct lsk_pollref *next;
} lsk_pollref;

typedef struct lsk_poller lsk_poller;

static int push_slot(slotlist *l, unsigned s) {
    if (l->n == l->cap) {
        unsigned cap = l->cap ? l->cap * 2 : 16;
        unsigned *v = (unsigned *)realloc(l->v, cap * sizeof *v);
        if (v == NULL) return ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static uintptr_t token_of(const lsk_poller *p, unsigned slot) {
    return ((uintptr_t)p->slots[slot].gen << HALF) | (uintptr_t)slot;
}

/* ---- what sockets call (internal.h) ------------------------------------- */

static void queue_dirty(lsk_poller *p, unsigned slot) {
    pslot *ps = &p->slots[slot];
    if (ps->queued || !(ps->events & LSK_WANT_READ)) return;
    if (push_slot(&p->dirty, slot) == 0) ps->queued = 1;
}

void lsk_poll_dirty(lsk_stream *st) {
    lsk_pollref *r;
    for (r = st->polls; r != NULL; r = r->next) queue_dirty(r->p, r->slot);
}

/* The slot is released at once for the kernel and the tokens, and its Lua
 * entries are cleared by the poller's next call (it has no lua_State). */
static void release_slot(lsk_poller *p, unsigned slot) {
    pslot *ps = &p->slots[slot];
    if (p->set != NULL && ps->fd >= 0) p->be->ctl(p->set, LSK_POLL_DEL, ps->fd, ps->events, token_of(p, slot));
    ps->fd = -1;
    ps->st = NULL;
    ps->gen++;
    p->count--;
}

void lsk_poll_forget(lsk_stream *st) {
    while (st->polls != NULL) {
        lsk_pollref *r = st->polls;
        st->polls = r->next;
        release_slot(r->p, r->slot);
        if (push_slot(&r->p->dead, r->slot) != 0) {
            /* Without room to remember it the slot is never reused: its
             * Lua entries stay until the poller goes, which is harmless. */
        }
        free(r);
    }
}

static void unlink_ref(lsk_stream *st, const lsk_poller *p, unsigned slot) {
    lsk_pollref **rp;
    for (rp = &st->polls; *rp != NULL; rp = &(*rp)->next) {
        if ((*rp)->p == p && (*rp)->slot == slot) {
            lsk_pollref *r = *rp;
            *rp = r->next;
            free(r);
            return;
        }
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
        if (push_slot(&p->free_, s) != 0) break;
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

static int new_slot(lsk_poller *p, unsigned *out) {
    if (p->free_.n > 0) {
        *out = p->free_.v[--p->free_.n];
        return 0;
    }
    if (p->nslots == p->cap) {
        unsigned cap = p->cap ? p->cap * 2 : 64;
        pslot *v;
        if ((uintptr_t)cap - 1 >= SLOT_MASK) return ENOSPC; /* 32-bit words: 64 Ki slots */
        v = (pslot *)realloc(p->slots, cap * sizeof *v);
        if (v == NULL) return ENOMEM;
        p->slots = v;
        p->cap = cap;
    }
    memset(&p->slots[p->nslots], 0, sizeof p->slots[0]);
    p->slots[p->nslots].fd = -1;
    *out = p->nslots++;
    return 0;
}

static int po_add(lua_State *L) {
    lsk_poller *p = check_poller(L);
    lsk_stream *st;
    lsk_pollref *ref = NULL;
    unsigned slot;
    int fd, events, err, closed;
    lua_settop(L, 4); /* the value is nil when not given */
    closed = check_object(L, 2, &st, &fd);
    events = check_events(L, 3);
    if (p->set == NULL || closed) return lsk_closed_result(L);
    clear_dead(L, p);
    push_tables(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) luaL_argerror(L, 2, "already registered in this poller (use modify)");
    lua_pop(L, 1);
    if (fcntl(fd, F_GETFD) < 0) return lsk_fail(L, errno, "poller add");
    if (st != NULL && (ref = (lsk_pollref *)malloc(sizeof *ref)) == NULL)
        return luaL_error(L, "not enough memory");
    if ((err = new_slot(p, &slot)) != 0) {
        free(ref);
        return lsk_fail(L, err, "poller add");
    }
    p->slots[slot].fd = fd;
    p->slots[slot].events = events;
    p->slots[slot].st = st;
    p->slots[slot].queued = 0;
    if ((err = p->be->ctl(p->set, LSK_POLL_ADD, fd, events, token_of(p, slot))) != 0) {
        p->slots[slot].fd = -1;
        p->slots[slot].gen++;
        push_slot(&p->free_, slot);
        free(ref);
        return lsk_fail(L, err, "poller add");
    }
    p->count++;
    if (ref != NULL) {
        ref->p = p;
        ref->slot = slot;
        ref->next = st->polls;
        st->polls = ref;
        if (lsk_buffer_len(&st->in) > 0) queue_dirty(p, slot);
    }
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
    if (p->set == NULL || closed) return lsk_closed_result(L);
    clear_dead(L, p);
    slot = registered_slot(L, 2, "modify");
    err = p->be->ctl(p->set, LSK_POLL_MOD, p->slots[slot].fd, events, token_of(p, slot));
    if (err != 0) return lsk_fail(L, err, "poller modify");
    p->slots[slot].events = events;
    if (st != NULL && lsk_buffer_len(&st->in) > 0) queue_dirty(p, slot);
    lua_pushboolean(L, 1);
    return 1;
}

static int po_remove(lua_State *L) {
    lsk_poller *p = check_poller(L);
    lsk_stream *st;
    unsigned slot;
    int fd;
    check_object(L, 2, &st, &fd);
    if (p->set == NULL) return lsk_closed_result(L);
    clear_dead(L, p);
    slot = registered_slot(L, 2, "remove");
    if (p->slots[slot].st != NULL) unlink_ref(p->slots[slot].st, p, slot);
    release_slot(p, slot);
    push_tables(L, 1);
    lua_pushvalue(L, 2);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pushnil(L);
    lua_rawseti(L, -3, (int)(2 * slot + 1));
    lua_pushnil(L);
    lua_rawseti(L, -3, (int)(2 * slot + 2));
    push_slot(&p->free_, slot);
    lua_pushboolean(L, 1);
    return 1;
}

/* Sockets whose input is buffered (and still wanted) become events; the
 * others leave the queue. Returns the number of events made. */
static int collect_dirty(lsk_poller *p) {
    unsigned i, keep = 0;
    int n = 0;
    for (i = 0; i < p->dirty.n; i++) {
        unsigned s = p->dirty.v[i];
        pslot *ps = &p->slots[s];
        if (ps->fd < 0 || ps->st == NULL || !(ps->events & LSK_WANT_READ) ||
            lsk_buffer_len(&ps->st->in) == 0) {
            ps->queued = 0;
            continue;
        }
        p->dirty.v[keep++] = s;
        p->ev[n].token = token_of(p, s);
        p->ev[n].events = LSK_WANT_READ;
        ps->mark = ++n;
    }
    p->dirty.n = keep;
    return n;
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
    int ms = lsk_check_wait_ms(L, 2), ndirty, n, i, k;
    double deadline;
    if (p->set == NULL) return lsk_closed_result(L);
    clear_dead(L, p);
    if ((unsigned)p->evcap < WAIT_BATCH + p->dirty.n) {
        int cap = (int)(WAIT_BATCH + p->dirty.n);
        lsk_pevent *ev = (lsk_pevent *)realloc(p->ev, (size_t)cap * sizeof *ev);
        if (ev == NULL) return luaL_error(L, "not enough memory");
        p->ev = ev;
        p->evcap = cap;
    }
    ndirty = collect_dirty(p);
    if (ndirty > 0) ms = 0;
    deadline = ms > 0 ? lsk_monotime() + ms / 1000.0 : 0;
    for (;;) {
        n = p->be->wait(p->set, p->ev + ndirty, WAIT_BATCH, ms);
        if (n != -EINTR) break;
        if (ms > 0) {
            double left = deadline - lsk_monotime();
            ms = left > 0 ? (int)ceil(left * 1000.0) : 0;
        }
    }
    if (n < 0) {
        for (i = 0; i < ndirty; i++) p->slots[p->ev[i].token & SLOT_MASK].mark = 0;
        return lsk_fail(L, -n, "poller wait");
    }
    /* A socket reported dirty and by the kernel too is one event. */
    k = ndirty;
    for (i = ndirty; i < ndirty + n; i++) {
        unsigned s = (unsigned)(p->ev[i].token & SLOT_MASK);
        if (s < p->nslots && p->slots[s].mark && p->ev[i].token == token_of(p, s))
            p->ev[p->slots[s].mark - 1].events |= p->ev[i].events;
        else
            p->ev[k++] = p->ev[i];
    }
    for (i = 0; i < ndirty; i++) p->slots[p->ev[i].token & SLOT_MASK].mark = 0;
    p->nev = k;
    p->pos = 0;
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
    while (p->set != NULL && p->pos < p->nev) {
        lsk_pevent e = p->ev[p->pos++];
        unsigned s = (unsigned)(e.token & SLOT_MASK);
        int events;
        if (s >= p->nslots || p->slots[s].fd < 0 || e.token != token_of(p, s)) continue;
        events = e.events & p->slots[s].events;
        if (events == 0) continue;
        lua_rawgeti(L, lua_upvalueindex(2), (int)(2 * s + 1));
        lsk_push_events(L, events);
        lua_rawgeti(L, lua_upvalueindex(2), (int)(2 * s + 2));
        return 3;
    }
    return 0;
}

static void close_poller(lsk_poller *p) {
    unsigned i;
    if (p->set == NULL) return;
    for (i = 0; i < p->nslots; i++)
        if (p->slots[i].fd >= 0 && p->slots[i].st != NULL) unlink_ref(p->slots[i].st, p, i);
    p->be->close(p->set);
    p->set = NULL;
    free(p->slots);
    free(p->free_.v);
    free(p->dirty.v);
    free(p->dead.v);
    free(p->ev);
    p->slots = NULL;
    p->free_.v = p->dirty.v = p->dead.v = NULL;
    p->ev = NULL;
    p->nslots = p->cap = p->count = 0;
    p->nev = p->pos = p->evcap = 0;
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
    if (p->set == NULL) return lsk_closed_result(L);
    lua_pushstring(L, p->be->name);
    return 1;
}

static int po_getfd(lua_State *L) {
    lsk_poller *p = check_poller(L);
    int fd;
    if (p->set == NULL) return lsk_closed_result(L);
    fd = p->be->fd(p->set);
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s backend has no descriptor", p->be->name);
        return 2;
    }
    lua_pushinteger(L, fd);
    return 1;
}

static int po_count(lua_State *L) {
    lsk_poller *p = check_poller(L);
    if (p->set == NULL) return lsk_closed_result(L);
    lua_pushinteger(L, (lua_Integer)p->count);
    return 1;
}

static int po_events(lua_State *L) {
    if (check_poller(L)->set == NULL) return lsk_closed_result(L);
    lua_pushliteral(L, "r");
    return 1;
}

static int po_timeout(lua_State *L) {
    if (check_poller(L)->set == NULL) return lsk_closed_result(L);
    lua_pushnil(L);
    return 1;
}

static int po_tostring(lua_State *L) {
    lsk_poller *p = check_poller(L);
    if (p->set == NULL) lua_pushliteral(L, "lsock.poller: closed");
    else lua_pushfstring(L, "lsock.poller: %s (%d registered)", p->be->name, (int)p->count);
    return 1;
}

static const lsk_backend *const backends[] = {
#ifdef LSK_HAVE_EPOLL
    &lsk_backend_epoll,
#endif
#ifdef LSK_HAVE_KQUEUE
    &lsk_backend_kqueue,
#endif
    &lsk_backend_poll,
    NULL,
};

int lsk_poller_new(lua_State *L) {
    static const char *const names[] = {"epoll", "kqueue", "poll", NULL};
    const lsk_backend *be = backends[0];
    lsk_poller *p;
    int err = 0, i;
    if (!lua_isnoneornil(L, 1)) {
        const char *want = names[lsk_check_name(L, 1, "backend", names, NULL)];
        for (be = NULL, i = 0; backends[i] != NULL; i++)
            if (strcmp(backends[i]->name, want) == 0) be = backends[i];
        if (be == NULL) {
            lua_pushnil(L);
            lua_pushfstring(L, "poller: backend '%s' is not available here", want);
            return 2;
        }
    }
    p = (lsk_poller *)lsock_newuserdata(L, sizeof *p);
    memset(p, 0, sizeof *p);
    p->be = be;
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
    p->set = be->open(&err);
    if (p->set == NULL) return lsk_fail(L, err, "poller");
    return 1;
}

static const luaL_Reg methods[] = {
    {"add", po_add},         {"modify", po_modify},   {"remove", po_remove},
    {"wait", po_wait},       {"backend", po_backend}, {"getfd", po_getfd},
    {"pollfd", po_getfd},    {"events", po_events},   {"timeout", po_timeout},
    {"count", po_count},     {"close", po_close},     {NULL, NULL},
};

void lsk_poller_open(lua_State *L) {
    luaL_newmetatable(L, LSOCK_POLLER);
    lua_pushliteral(L, LSOCK_POLLER);
    lua_setfield(L, -2, "__name");
    lua_pushcfunction(L, po_gc);
    lua_setfield(L, -2, "__gc");
#if LSOCK_HAVE_CLOSE
    lua_pushcfunction(L, po_close);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushcfunction(L, po_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlibtable(L, methods);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
