/*
 * sched.c: the engine under lsock.loop: coroutines, the sockets they wait
 * for, their timers, and resuming them, in C so that a wait costs a few
 * pointer moves instead of table work in Lua.
 *
 * While this scheduler resumes a loop coroutine, lsk_running_task is that
 * coroutine, so a socket method it calls never waits in C. What the
 * coroutine yields says what it waits for:
 *
 * - (op marker, socket[, data]): a method parked in an operation
 *   (lsk_op_yield: accept, receive, recv, send). When the socket is ready
 *   the scheduler makes the next try itself and resumes the coroutine
 *   only with the results, which the method returns.
 * - (call marker, method, arguments...): a method without partial
 *   progress (lsk_park_call: connect, datagram calls), called again.
 * - (socket, first): loop.lua's sendmany and sendmsg, resumed with
 *   "ready", "timeout", "closed" or a message.
 * - (fd, seconds|nil): a plain descriptor, until readable.
 * - (nil, seconds): a sleep. Anything else runs again at the next step.
 *
 * Every wait also has a timer when the socket's own limits ask for one.
 * A method yields only as it returns (as coroutine.yield does), so
 * nothing yields across a C call it made: PUC Lua 5.1 cannot.
 *
 * Registrations outlive a wake-up: a coroutine that wakes usually waits
 * on the same socket again within the step (an echo server reads, writes
 * and reads), and then nothing changes in the kernel; after each step the
 * slots whose waiters left are settled (narrowed or removed), so that a
 * level-triggered backend never reports what nobody waits for.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pollset.h"

#define LSOCK_SCHED "lsock.scheduler"

LSK_THREAD_LOCAL lua_State *lsk_running_task = NULL;

/* What lsk_op_yield hands over: the first value a coroutine yields from
 * an operation is this address, and the operation waits here until the
 * scheduler takes it, at once (no Lua code runs in between). */
static const char op_marker = 0;
static LSK_THREAD_LOCAL lsk_op parked_op;

/* A method parked with its arguments (lsk_park_call) yields this address
 * first, then the method and its arguments. While the scheduler calls it
 * again, `retrying` says not to park but to answer. */
static const char call_marker = 0;
static LSK_THREAD_LOCAL int retrying = 0;

static int is_timeout(lua_State *L, int n) {
    const char *err;
    if (n != 2 || !lua_isnil(L, -2)) return 0;
    err = lua_tostring(L, -1);
    return err != NULL && strcmp(err, "timeout") == 0;
}

int lsk_park_call(lua_State *L, lua_CFunction method, int nargs, int n) {
    lsk_stream *st;
    if (retrying || !lsk_in_task(L) || !is_timeout(L, n)) return n;
    st = lsk_tostream(L, 1);
    if (st == NULL || !lsk_task_nowait(L, &st->tm)) return n;
    lua_settop(L, nargs); /* the arguments, without what the try left */
    lua_pushlightuserdata(L, (void *)&call_marker);
    lua_insert(L, 1);
    lua_pushcfunction(L, method);
    lua_insert(L, 2);
    return lua_yield(L, nargs + 2);
}

int lsk_op_yield(lua_State *L, const lsk_op *op, int keep) {
    parked_op = *op;
    lua_pushlightuserdata(L, (void *)&op_marker);
    lua_pushvalue(L, 1);
    if (keep == 0) return lua_yield(L, 2);
    lua_pushvalue(L, keep);
    return lua_yield(L, 3);
}

enum { WAKE_START, WAKE_READY, WAKE_TIMEOUT, WAKE_CLOSED, WAKE_AGAIN, WAKE_ERROR };

/* Kept small: every idle connection of a server is a parked task. */
typedef struct task {
    lua_State *co;          /* NULL: a free entry */
    int slot;               /* the slot it waits on, or -1 */
    unsigned rnext, wnext;  /* the next waiter on that slot (index + 1) */
    unsigned hpos;          /* its place in the heap + 1, 0: not there */
    int nargs;              /* WAKE_START: its arguments, on its stack;
                             * WAKE_ERROR: the errno */
    unsigned char waiting, wake; /* why it woke */
    unsigned char in_op;    /* parked in op, with nkeep values yielded */
    unsigned char in_call;  /* parked in a method to call again (op.st) */
    int nkeep;
    double at;              /* its key in the heap: at or before `due` */
    double due;             /* when the running wait runs out, or -1 */
    double deadline;        /* the running call's total limit, or -1 */
    lsk_op op;
} task;

typedef struct sched {
    lsk_pollset ps; /* first: on_forget is given &ps */
    task *t;
    unsigned nt, tcap, alive;
    lsk_slotlist tfree, ready, run, touched;
    unsigned *heap; /* task indices, a binary heap on at */
    unsigned nheap;
    int stepping;
} sched;

/* ---- lists with room reserved ----------------------------------------------- */

/* Room for n entries, so that pushing up to n never fails later (wakes
 * happen where no error can be reported: in a socket's close). */
static int reserve(lsk_slotlist *l, unsigned n) {
    unsigned *v, cap;
    if (l->cap >= n) return 0;
    cap = l->cap ? l->cap : 16;
    while (cap < n) cap *= 2;
    v = (unsigned *)realloc(l->v, cap * sizeof *v);
    if (v == NULL) return ENOMEM;
    l->v = v;
    l->cap = cap;
    return 0;
}

/* ---- timers ----------------------------------------------------------------- */

/* A task has at most one entry in the heap, which may be early: a wait
 * sets `due` and moves the entry only when it must come sooner, and a
 * wake-up leaves it where it is. When an entry comes up, a task still
 * waiting with a later `due` is put back at that time, and one that no
 * longer waits leaves the heap. So a coroutine that waits and wakes again
 * and again (a socket's 30 s timeout around every read) costs no heap
 * work at all, and the heap never holds more entries than there are
 * coroutines. */

static int earlier(const sched *S, unsigned a, unsigned b) {
    return S->t[a].at < S->t[b].at;
}

static void place(sched *S, unsigned i, unsigned ti) {
    S->heap[i] = ti;
    S->t[ti].hpos = i + 1;
}

static void sift_up(sched *S, unsigned i) {
    unsigned ti = S->heap[i];
    while (i > 0) {
        unsigned p = (i - 1) / 2;
        if (!earlier(S, ti, S->heap[p])) break;
        place(S, i, S->heap[p]);
        i = p;
    }
    place(S, i, ti);
}

static void sift_down(sched *S, unsigned i) {
    unsigned ti = S->heap[i];
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        unsigned best = ti;
        if (l < S->nheap && earlier(S, S->heap[l], best)) m = l, best = S->heap[l];
        if (r < S->nheap && earlier(S, S->heap[r], best)) m = r;
        if (m == i) break;
        place(S, i, S->heap[m]);
        i = m;
    }
    place(S, i, ti);
}

/* The running wait of ti ends at `due`. */
static void timer_set(sched *S, unsigned ti, double due) {
    task *t = &S->t[ti];
    t->due = due;
    if (t->hpos != 0 && t->at <= due) return;
    t->at = due;
    if (t->hpos == 0) {
        S->heap[S->nheap++] = ti; /* room: one entry per task, reserved */
        sift_up(S, S->nheap - 1);
    } else {
        sift_up(S, t->hpos - 1);
    }
}

static void timer_remove(sched *S, unsigned ti) {
    unsigned i = S->t[ti].hpos - 1, last = S->heap[--S->nheap];
    S->t[ti].hpos = 0;
    if (i == S->nheap) return;
    place(S, i, last);
    sift_up(S, i);
    sift_down(S, S->t[last].hpos - 1);
}

/* ---- waking ------------------------------------------------------------------- */

static void unlink_waiter(sched *S, unsigned *head, unsigned ti, int write) {
    while (*head != 0) {
        task *w = &S->t[*head - 1];
        unsigned *next = write ? &w->wnext : &w->rnext;
        if (*head - 1 == ti) {
            *head = *next;
            *next = 0;
            return;
        }
        head = next;
    }
}

static void touch(sched *S, unsigned slot) {
    lsk_pslot *s = &S->ps.slots[slot];
    if (s->touched || s->fd < 0) return;
    if (lsk_slot_push(&S->touched, slot) == 0) s->touched = 1; /* room is reserved */
}

static void wake(sched *S, unsigned ti, int why, int err) {
    task *t = &S->t[ti];
    if (!t->waiting) return;
    t->waiting = 0;
    t->wake = (unsigned char)why;
    if (why == WAKE_ERROR) t->nargs = err;
    if (t->slot >= 0) {
        unsigned slot = (unsigned)t->slot;
        lsk_pslot *s = &S->ps.slots[slot];
        unlink_waiter(S, &s->rwait, ti, 0);
        unlink_waiter(S, &s->wwait, ti, 1);
        t->slot = -1;
        /* A plain descriptor leaves at once: its owner may close it as
         * soon as this coroutine runs. */
        if (s->fd >= 0 && s->st == NULL && s->rwait == 0 && s->wwait == 0)
            lsk_pollset_remove(&S->ps, slot);
        else
            touch(S, slot);
    }
    t->due = -1;
    S->ready.v[S->ready.n++] = ti; /* room: every task at most once, reserved */
}

static void wake_all(sched *S, unsigned *head, int why) {
    while (*head != 0) wake(S, *head - 1, why, 0);
}

/* A socket closed while coroutines wait on it: they wake with "closed". */
static void sched_forget(lsk_pollset *ps, unsigned slot) {
    sched *S = (sched *)ps;
    wake_all(S, &ps->slots[slot].rwait, WAKE_CLOSED);
    wake_all(S, &ps->slots[slot].wwait, WAKE_CLOSED);
    lsk_pollset_free_slot(ps, slot);
}

static void wake_now(sched *S, unsigned ti, int why, int err) {
    S->t[ti].waiting = 1;
    S->t[ti].slot = -1;
    wake(S, ti, why, err);
}

/* ---- parking ------------------------------------------------------------------ */

/* Park task ti on slot for events, with a timer of `limit` seconds (< 0:
 * none); a limit of 0 wakes it with "timeout" at once. */
static void park(sched *S, unsigned ti, long slot, int events, double limit, double now) {
    task *t = &S->t[ti];
    if (limit == 0) {
        wake_now(S, ti, WAKE_TIMEOUT, 0);
        return;
    }
    t->waiting = 1;
    t->slot = (int)slot;
    if (slot >= 0) {
        lsk_pslot *s = &S->ps.slots[slot];
        if (events & LSK_WANT_READ) {
            t->rnext = s->rwait;
            s->rwait = ti + 1;
        }
        if (events & LSK_WANT_WRITE) {
            t->wnext = s->wwait;
            s->wwait = ti + 1;
        }
    }
    if (limit > 0) timer_set(S, ti, (now < 0 ? lsk_monotime() : now) + limit);
}

/* The slot of st with at least `events` registered: 0, or an errno. */
static int watch(sched *S, lsk_stream *st, int events, long *slot) {
    int err;
    *slot = lsk_pollset_find(&S->ps, st);
    if (*slot < 0) {
        unsigned s;
        if ((err = lsk_pollset_add(&S->ps, st->fd, st, events, &s)) != 0) return err;
        *slot = (long)s;
        /* Slots are only made here and in wait_fd: room to settle each. */
        if ((err = reserve(&S->touched, S->ps.nslots)) != 0) lsk_pollset_remove(&S->ps, s);
        return err;
    }
    if ((S->ps.slots[*slot].events & events) != events)
        return lsk_pollset_modify(&S->ps, (unsigned)*slot, S->ps.slots[*slot].events | events);
    return 0;
}

/* The coroutine's call on st answered "timeout": wait for what it wants,
 * as long as the socket's limits allow. `first`: the call just began, so
 * its total limit starts now. */
static void wait_stream(sched *S, unsigned ti, lsk_stream *st, int first) {
    int events = st->pending & (LSK_WANT_READ | LSK_WANT_WRITE), err;
    double limit = st->tm.block, now = -1;
    long slot;
    if (st->fd < 0) {
        wake_now(S, ti, WAKE_CLOSED, 0);
        return;
    }
    if (st->tm.total >= 0) {
        double left;
        now = lsk_monotime();
        if (first) S->t[ti].deadline = now + st->tm.total;
        left = S->t[ti].deadline - now;
        if (left < 0) left = 0;
        if (limit < 0 || left < limit) limit = left;
    }
    if (limit == 0) {
        wake_now(S, ti, WAKE_TIMEOUT, 0);
        return;
    }
    if ((err = watch(S, st, events ? events : LSK_WANT_READ, &slot)) != 0) {
        wake_now(S, ti, WAKE_ERROR, err);
        return;
    }
    park(S, ti, slot, events ? events : LSK_WANT_READ, limit, now);
}

static void wait_fd(sched *S, unsigned ti, int fd, double limit) {
    unsigned slot;
    int err;
    if (limit == 0) {
        wake_now(S, ti, WAKE_TIMEOUT, 0);
        return;
    }
    if ((err = lsk_pollset_add(&S->ps, fd, NULL, LSK_WANT_READ, &slot)) != 0) {
        wake_now(S, ti, WAKE_ERROR, err);
        return;
    }
    if ((err = reserve(&S->touched, S->ps.nslots)) != 0) {
        lsk_pollset_remove(&S->ps, slot);
        wake_now(S, ti, WAKE_ERROR, err);
        return;
    }
    park(S, ti, (long)slot, LSK_WANT_READ, limit, -1);
}

/* What the coroutine yielded (nres values at the top of its stack). */
static void on_yield(sched *S, unsigned ti, lua_State *co, int nres) {
    int base = lua_gettop(co) - nres + 1;
    lsk_stream *st;
    lua_Integer fd;
    if (nres >= 2 && lua_touserdata(co, base) == (void *)&op_marker) {
        /* A method parked in an operation: what it yielded stays on the
         * stack (the object and the data it sends stay alive). */
        task *t = &S->t[ti];
        t->in_op = 1;
        t->nkeep = nres;
        t->op = parked_op;
        wait_stream(S, ti, t->op.st, 1);
        return;
    }
    if (nres >= 3 && lua_touserdata(co, base) == (void *)&call_marker &&
        (st = lsk_tostream(co, base + 2)) != NULL) {
        task *t = &S->t[ti];
        t->in_call = 1;
        t->nkeep = nres;
        t->op.st = st;
        wait_stream(S, ti, st, 1);
        return;
    }
    st = nres >= 1 ? lsk_tostream(co, base) : NULL;
    if (st != NULL) {
        wait_stream(S, ti, st, lua_toboolean(co, base + 1));
    } else if (nres >= 1 && lua_type(co, base) == LUA_TNUMBER && lsock_tointeger(co, base, &fd) &&
               fd >= 0 && fd <= 0x7fffffff) {
        double limit = lua_type(co, base + 1) == LUA_TNUMBER ? lua_tonumber(co, base + 1) : -1;
        wait_fd(S, ti, (int)fd, limit < 0 ? -1 : limit);
    } else if (nres >= 2 && lua_isnil(co, base) && lua_type(co, base + 1) == LUA_TNUMBER) {
        double s = lua_tonumber(co, base + 1);
        park(S, ti, -1, 0, s > 0 ? s : 0, -1); /* a sleep */
    } else {
        wake_now(S, ti, WAKE_AGAIN, 0);
    }
    lua_pop(co, nres);
}

/* ---- the object ----------------------------------------------------------------- */

static sched *check_sched(lua_State *L) {
    sched *S = (sched *)luaL_checkudata(L, 1, LSOCK_SCHED);
    if (S->ps.set == NULL) luaL_error(L, "the loop's scheduler is closed");
    return S;
}

/* The user value: {threads, error handler}; threads[i + 1] is task i. */
static void push_threads(lua_State *L, int idx) {
    lsock_getuservalue(L, idx);
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
}

static int new_task(sched *S, unsigned *out) {
    unsigned ti;
    if (S->tfree.n > 0) {
        ti = S->tfree.v[--S->tfree.n];
    } else {
        if (S->nt == S->tcap) {
            unsigned cap = S->tcap ? S->tcap * 2 : 64;
            task *t = (task *)realloc(S->t, cap * sizeof *t);
            unsigned *h;
            if (t == NULL) return ENOMEM;
            S->t = t;
            if ((h = (unsigned *)realloc(S->heap, cap * sizeof *h)) == NULL) return ENOMEM;
            S->heap = h;
            S->tcap = cap;
        }
        if (reserve(&S->ready, S->tcap) || reserve(&S->run, S->tcap) || reserve(&S->tfree, S->tcap))
            return ENOMEM;
        ti = S->nt++;
    }
    memset(&S->t[ti], 0, sizeof S->t[ti]);
    S->t[ti].slot = -1;
    S->t[ti].deadline = -1;
    S->t[ti].due = -1;
    *out = ti;
    return 0;
}

/* scheduler:spawn(fn, ...) -> the coroutine */
static int sc_spawn(lua_State *L) {
    sched *S = check_sched(L);
    int n = lua_gettop(L) - 2, err;
    unsigned ti;
    lua_State *co;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if ((err = new_task(S, &ti)) != 0) return luaL_error(L, "spawn: not enough memory");
    co = lua_newthread(L);
    push_threads(L, 1);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (int)ti + 1);
    lua_pop(L, 1);
    lua_insert(L, 2);               /* the thread below fn and the arguments */
    lua_xmove(L, co, n + 1);        /* fn and its arguments onto its stack */
    S->t[ti].co = co;
    S->t[ti].nargs = n;
    S->t[ti].wake = WAKE_START;
    S->ready.v[S->ready.n++] = ti;
    S->alive++;
    return 1;
}

static void end_task(lua_State *L, sched *S, unsigned ti) {
    if (S->t[ti].hpos != 0) timer_remove(S, ti);
    push_threads(L, 1);
    lua_pushnil(L);
    lua_rawseti(L, -2, (int)ti + 1);
    lua_pop(L, 1);
    S->t[ti].co = NULL;
    S->tfree.v[S->tfree.n++] = ti;
    S->alive--;
}

/* "wait: <os text>": why the poller could not take a wait (WAKE_ERROR),
 * e.g. EEXIST: another object on the same descriptor waits already. The
 * methods' results add the errno, as every failure does. */
static void push_wait_error(lua_State *L, int err) {
    char msg[160];
    lsk_strerror(err, msg, sizeof msg);
    lua_pushfstring(L, "wait: %s", msg);
}

/* A method's results for such a wait: nil, "wait: ...", errno. */
static int wait_failure(lua_State *L, int err) {
    lua_pushnil(L);
    push_wait_error(L, err);
    lua_pushinteger(L, err);
    return 3;
}

/* The results of task ti's operation, on L: their count, or -1 when it
 * waits again. */
static int finish_op(lua_State *L, sched *S, unsigned ti) {
    task *t = &S->t[ti];
    lsk_stream *st = t->op.st;
    int n;
    switch (t->wake) {
    case WAKE_READY: n = t->op.step(L, &t->op, LSK_OP_READY); break;
    case WAKE_TIMEOUT: n = t->op.step(L, &t->op, LSK_OP_TIMEOUT); break;
    case WAKE_CLOSED: n = t->op.step(L, &t->op, LSK_OP_CLOSED); break;
    default: n = wait_failure(L, t->nargs);
    }
    if (n < 0) {
        wait_stream(S, ti, st, 0);
        return -1;
    }
    /* Input left buffered is readable for whoever else waits on it. */
    return lsk_read_done(st, n);
}

/* Call the parked method of task ti again (its arguments are what the
 * coroutine yielded): the results on L and their count, or -1 when it
 * waits again. */
static int finish_call(lua_State *L, sched *S, unsigned ti) {
    task *t = &S->t[ti];
    lua_State *co = t->co, *prev;
    int nk = t->nkeep, base = lua_gettop(co) - nk + 1, top = lua_gettop(L), i, status;
    switch (t->wake) {
    case WAKE_READY: break;
    case WAKE_TIMEOUT: return lsk_timeout_result(L);
    case WAKE_CLOSED: return lsk_closed_result(L);
    default: return wait_failure(L, t->nargs);
    }
    if (!lua_checkstack(co, nk) || !lua_checkstack(L, nk + LUA_MINSTACK))
        return luaL_error(L, "loop: stack overflow");
    for (i = base + 1; i < base + nk; i++) lua_pushvalue(co, i); /* the method, its arguments */
    lua_xmove(co, L, nk - 1);
    prev = lsk_running_task;
    lsk_running_task = L;
    retrying = 1;
    status = lua_pcall(L, nk - 2, LUA_MULTRET, 0);
    retrying = 0;
    lsk_running_task = prev;
    if (status != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2; /* nil, the error */
    }
    if (is_timeout(L, lua_gettop(L) - top)) {
        lua_settop(L, top);
        wait_stream(S, ti, t->op.st, 0);
        return -1;
    }
    return lua_gettop(L) - top;
}

static void resume(lua_State *L, sched *S, unsigned ti) {
    lua_State *co = S->t[ti].co, *prev;
    int nargs = 0, nres = 0, status, top = lua_gettop(L);
    if (S->t[ti].in_op || S->t[ti].in_call) {
        int n = S->t[ti].in_op ? finish_op(L, S, ti) : finish_call(L, S, ti);
        if (n < 0) {
            lua_settop(L, top);
            return;
        }
        S->t[ti].in_op = S->t[ti].in_call = 0;
        lua_pop(co, S->t[ti].nkeep);
        lua_xmove(L, co, n);
        if (lua_gettop(L) != top) lua_settop(L, top); /* what a step left under its results */
        S->t[ti].wake = WAKE_AGAIN; /* nothing more to push */
        nargs = n;
    }
    switch (S->t[ti].wake) {
    case WAKE_START: nargs = S->t[ti].nargs; break;
    case WAKE_READY: lua_pushliteral(co, "ready"); nargs = 1; break;
    case WAKE_TIMEOUT: lua_pushliteral(co, "timeout"); nargs = 1; break;
    case WAKE_CLOSED: lua_pushliteral(co, "closed"); nargs = 1; break;
    case WAKE_ERROR: push_wait_error(co, S->t[ti].nargs); nargs = 1; break;
    default: break;
    }
    prev = lsk_running_task;
    lsk_running_task = co;
    status = lsock_resume(co, L, nargs, &nres);
    lsk_running_task = prev;
    if (status == LUA_YIELD) {
        on_yield(S, ti, co, nres); /* works on co's stack only */
        return;
    }
    if (status != 0) {
        /* The handler writes the traceback (the coroutine's stack is still
         * there); an error in the handler itself is dropped. */
        lsock_getuservalue(L, 1);
        lua_rawgeti(L, -1, 2);
        lua_remove(L, -2);
        push_threads(L, 1);
        lua_rawgeti(L, -1, (int)ti + 1);
        lua_remove(L, -2);
        lua_xmove(co, L, 1);
        if (lua_pcall(L, 2, 0, 0) != 0) lua_pop(L, 1);
    }
    lsock_closethread(co, L);
    end_task(L, S, ti);
    lua_settop(L, top);
}

/* Milliseconds until the first timer (or ms if that is sooner). */
static int until_timer(const sched *S, int ms) {
    double left, t;
    if (S->nheap == 0) return ms;
    left = S->t[S->heap[0]].at - lsk_monotime();
    if (left <= 0) return 0;
    t = ceil(left * 1000.0);
    if (t > 2147483647.0) t = 2147483647.0;
    return ms < 0 || (int)t < ms ? (int)t : ms;
}

static void settle(sched *S) {
    unsigned i;
    for (i = 0; i < S->touched.n; i++) {
        unsigned slot = S->touched.v[i];
        lsk_pslot *s = &S->ps.slots[slot];
        int want;
        s->touched = 0;
        if (s->fd < 0) continue;
        want = (s->rwait ? LSK_WANT_READ : 0) | (s->wwait ? LSK_WANT_WRITE : 0);
        if (want == 0) lsk_pollset_remove(&S->ps, slot);
        else if (want != s->events && lsk_pollset_modify(&S->ps, slot, want) != 0)
            lsk_pollset_remove(&S->ps, slot); /* its waiters' timers still hold */
    }
    S->touched.n = 0;
}

/* scheduler:step([timeout]) -> coroutines alive: wait up to timeout
 * seconds (nil: forever, default 0 from loop.step) for sockets and timers,
 * then run every coroutine that is ready. */
static int sc_step(lua_State *L) {
    sched *S = check_sched(L);
    int ms = lsk_check_wait_ms(L, 2), n;
    unsigned slot, i;
    int events;
    double now;
    lsk_slotlist batch;
    if (S->stepping) return luaL_error(L, "the loop cannot be stepped from inside one of its coroutines");
    if (S->ready.n > 0) ms = 0;
    ms = until_timer(S, ms);
    n = lsk_pollset_wait(&S->ps, ms);
    if (n < 0) return lsk_fail(L, -n, "loop wait");
    while (lsk_pollset_next(&S->ps, &slot, &events)) {
        lsk_pslot *s = &S->ps.slots[slot];
        if (events & LSK_WANT_READ) wake_all(S, &s->rwait, WAKE_READY);
        if (events & LSK_WANT_WRITE) wake_all(S, &s->wwait, WAKE_READY);
    }
    if (S->nheap > 0) {
        now = lsk_monotime();
        while (S->nheap > 0 && S->t[S->heap[0]].at <= now) {
            unsigned ti = S->heap[0];
            task *t = &S->t[ti];
            if (t->waiting && t->due > now) {
                t->at = t->due; /* it waits again, until later */
                sift_down(S, 0);
            } else {
                timer_remove(S, ti);
                if (t->waiting && t->due >= 0) wake(S, ti, WAKE_TIMEOUT, 0);
            }
        }
    }
    /* What became ready from here on runs at the next step. */
    batch = S->ready;
    S->ready = S->run;
    S->run = batch;
    S->ready.n = 0;
    S->stepping = 1;
    for (i = 0; i < S->run.n; i++) resume(L, S, S->run.v[i]);
    S->run.n = 0;
    S->stepping = 0;
    settle(S);
    lua_pushinteger(L, (lua_Integer)S->alive);
    return 1;
}

static int sc_onerror(lua_State *L) {
    check_sched(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lsock_getuservalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 2);
    return 0;
}

static int sc_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)check_sched(L)->alive);
    return 1;
}

/* scheduler:timeout() -> seconds until the loop has work without any
 * socket becoming ready: 0 when coroutines wait to run, else the time to
 * the first timer (0 once it is due), else nil. A host that waits on
 * getfd() for at most this long, then steps, misses nothing. */
static int sc_timeout(lua_State *L) {
    sched *S = check_sched(L);
    double left;
    if (S->ready.n > 0) {
        lua_pushnumber(L, 0);
        return 1;
    }
    if (S->nheap == 0) {
        lua_pushnil(L);
        return 1;
    }
    left = S->t[S->heap[0]].at - lsk_monotime();
    lua_pushnumber(L, left > 0 ? left : 0);
    return 1;
}

static int sc_timers(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)check_sched(L)->nheap);
    return 1;
}

/* Sockets and descriptors registered with the kernel (for specs). */
static int sc_watched(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)check_sched(L)->ps.count);
    return 1;
}

static int sc_getfd(lua_State *L) {
    sched *S = check_sched(L);
    int fd = S->ps.be->fd(S->ps.set);
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s backend has no descriptor", S->ps.be->name);
        return 2;
    }
    lua_pushinteger(L, fd);
    return 1;
}

static int sc_gc(lua_State *L) {
    sched *S = (sched *)luaL_checkudata(L, 1, LSOCK_SCHED);
    lsk_pollset_close(&S->ps);
    free(S->t);
    free(S->heap);
    free(S->tfree.v);
    free(S->ready.v);
    free(S->run.v);
    free(S->touched.v);
    memset((char *)S + sizeof S->ps, 0, sizeof *S - sizeof S->ps);
    return 0;
}

/* core._intask([socket]): whether the caller is a coroutine the loop is
 * running, so that a "timeout" answer means "wait"; with a socket whose
 * timeout is 0 it is a final answer, as outside the loop. */
int lsk_intask(lua_State *L) {
    lsk_stream *st = lua_isnoneornil(L, 1) ? NULL : lsk_tostream(L, 1);
    lua_pushboolean(L, st == NULL ? lsk_in_task(L) : lsk_task_nowait(L, &st->tm));
    return 1;
}

int lsk_scheduler_new(lua_State *L) {
    const lsk_backend *be = lsk_check_backend(L, 1, "loop");
    sched *S;
    int err;
    if (be == NULL) return 2;
    S = (sched *)lsock_newuserdata(L, sizeof *S);
    memset(S, 0, sizeof *S);
    luaL_getmetatable(L, LSOCK_SCHED);
    lua_setmetatable(L, -2);
    lua_createtable(L, 2, 0);
    lua_newtable(L);
    lua_rawseti(L, -2, 1);
    lsock_setuservalue(L, -2);
    err = lsk_pollset_open(&S->ps, be, sched_forget);
    if (lsk_collected_for_fds(L, err)) err = lsk_pollset_open(&S->ps, be, sched_forget);
    if (err != 0) return lsk_fail(L, err, "loop");
    return 1;
}

static const luaL_Reg methods[] = {
    {"spawn", sc_spawn},     {"step", sc_step},         {"onerror", sc_onerror},
    {"count", sc_count},     {"timers", sc_timers},     {"watched", sc_watched},
    {"getfd", sc_getfd},     {"timeout", sc_timeout},   {NULL, NULL},
};

void lsk_scheduler_open(lua_State *L) {
    static const luaL_Reg meta[] = {{"__gc", sc_gc}, {NULL, NULL}};
    lsk_new_class(L, LSOCK_SCHED, meta, methods);
}
