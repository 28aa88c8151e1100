/*
 * stream.c: the buffered reader and the writer shared by every stream
 * object (TCP and Unix sockets today, TLS streams later). They work over
 * the lsk_io interface, find lines with memchr inside the receive buffer
 * and copy each byte once, from that buffer into the Lua string.
 *
 * Every operation is a restartable step: when the transport has nothing
 * it records what it waits for in st->pending and either waits (within
 * the object's timeout) or returns "timeout", so a scheduler can wait on
 * pollfd()/events() and call again.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Room asked for before each read while looking for a line or the end of
 * the stream: reads are never tiny even when the buffer is nearly full. */
#define LSK_READ_MIN 4096
/* Largest block recv() asks the buffer for in one go. */
#define LSK_RECV_ROOM (64 * 1024)

enum { PAT_LINE, PAT_LINE_EOL, PAT_ALL, PAT_COUNT, PAT_UNTIL };

/* The most room a counted receive reserves ahead of the bytes it has. */
#define READ_AHEAD_MAX ((size_t)16 << 20)

/* The first place of d (dlen > 0 bytes) in p[0, len), or NULL. */
static const char *find(const char *p, size_t len, const char *d, size_t dlen) {
    const char *end = p + len;
    while ((size_t)(end - p) >= dlen) {
        const char *c = memchr(p, d[0], (size_t)(end - p) - dlen + 1);
        if (c == NULL) return NULL;
        if (memcmp(c, d, dlen) == 0) return c;
        p = c + 1;
    }
    return NULL;
}

void lsk_stream_init(lsk_stream *st, int fd, const lsk_io *io) {
    memset(st, 0, sizeof *st);
    st->fd = fd;
    st->io = io;
    st->tm.block = -1;
    st->tm.total = -1;
    st->deadline = -1;
    st->created = lsk_monotime();
}

void lsk_push_events(lua_State *L, int want) {
    switch (want & (LSK_WANT_READ | LSK_WANT_WRITE)) {
    case LSK_WANT_READ: lua_pushliteral(L, "r"); break;
    case LSK_WANT_WRITE: lua_pushliteral(L, "w"); break;
    case LSK_WANT_READ | LSK_WANT_WRITE: lua_pushliteral(L, "rw"); break;
    default: lua_pushnil(L);
    }
}

/* prefix .. data[0, n) */
static void push_joined(lua_State *L, const char *prefix, size_t plen,
                        const char *data, size_t n) {
    if (plen == 0) {
        lua_pushlstring(L, data, n);
    } else {
        lua_pushlstring(L, prefix, plen);
        if (n > 0) {
            lua_pushlstring(L, data, n);
            lua_concat(L, 2);
        }
    }
}

/* nil, err, partial: the partial result is the prefix and the first n
 * buffered bytes, which are consumed. */
static int partial_result(lua_State *L, lsk_stream *st, const char *err,
                          const char *prefix, size_t plen, size_t n) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    push_joined(L, prefix, plen, lsk_buffer_head(&st->in), n);
    lsk_buffer_consume(&st->in, n);
    return 3;
}

/* The hot path reads a line per call, so the pattern is classified with
 * as few API calls as possible. */
static int parse_pattern(lua_State *L, int idx, size_t *count) {
    static const char *const method = "receive";
    size_t len;
    const char *p;
    switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL:
        return PAT_LINE;
    case LUA_TSTRING:
        p = lua_tolstring(L, idx, &len);
        if (len == 2 && p[0] == '*') p++, len--;
        if (len == 1) {
            switch (p[0]) {
            case 'l': return PAT_LINE;
            case 'L': return PAT_LINE_EOL;
            case 'a': return PAT_ALL;
            }
        }
        break;
    case LUA_TNUMBER: {
        lua_Integer n;
        if (!lsock_tointeger(L, idx, &n) || n < 0)
            lsk_argerror(L, idx, method, "invalid receive pattern (a count must be a non-negative integer)");
        *count = (size_t)n;
        return PAT_COUNT;
    }
    }
    return lsk_argerror(L, idx, method, "invalid receive pattern (expected 'l', 'L', 'a' or a count)");
}

/* Push the message of the transport failure err (an errno value, or
 * LSK_ETRANSPORT: the transport's own words, TLS's "tls handshake: ..."),
 * "<what>: <os text>" for the system's. */
static void push_io_message(lua_State *L, lsk_stream *st, void *obj, int err, const char *what) {
    char msg[200];
    const char *m;
    if (err == LSK_ETRANSPORT && st->io->message != NULL && (m = st->io->message(obj)) != NULL) {
        lua_pushstring(L, m);
        return;
    }
    lsk_strerror(err, msg, sizeof msg);
    lua_pushfstring(L, "%s: %s", what, msg);
}

int lsk_stream_fail(lua_State *L, lsk_stream *st, void *obj, int err, const char *what) {
    if (err != LSK_ETRANSPORT) return lsk_fail(L, err, what);
    lua_pushnil(L);
    push_io_message(L, st, obj, err, what);
    lua_pushnil(L);
    return 3;
}

/* An operation that waited for want ran out of time: what events() and
 * timeout() report until the next call, however it waited. */
static void timed_out(lsk_stream *st, int want, const lsk_deadline *d) {
    st->pending = want;
    st->deadline = lsk_deadline_end(d);
}

int lsk_stream_wait(lsk_stream *st, int want, lsk_deadline *d) {
    int w = lsk_wait(st->fd, want, d);
    if (w == ETIMEDOUT) timed_out(st, want, d);
    return w;
}

/* ---- kernel waits ------------------------------------------------------
 * A C program waits for its peer inside a blocking recv or send; lsock's
 * descriptors are non-blocking, and a wait built with poll costs a
 * system call more each time: a request and its answer cost three calls
 * a side instead of two. So a plain socket that lsock made itself waits
 * the C way when a call outside the loop may wait with a block timeout,
 * a total timeout or none (not both: see kwait_usable): its descriptor
 * is made blocking once, and SO_RCVTIMEO / SO_SNDTIMEO hold the timeout,
 * set again only when it changes: a block timeout exactly, a total one
 * up to 1/16 short of the time left (a wait that ends early waits again
 * for the rest), so that the calls of one conversation reuse one
 * setting. A kernel wait that runs out answers EAGAIN, which is the
 * timeout. Every call that must not wait passes MSG_DONTWAIT (sys.c),
 * so the loop, timeouts of 0 and the FFI path never block, whatever the
 * descriptor's flag. A descriptor another holder may use (adopted with
 * fromfd or lsock_pushfd, handed out with getfd, detach, lsock_checkfd or
 * in a message, or under TLS) is left non-blocking and never changed:
 * lsk_stream_share. */

void lsk_stream_own(lsk_stream *st) { st->kwait = lsk_kernel_waits ? LSK_KW_IDLE : LSK_KW_NEVER; }

void lsk_stream_nonblock(lsk_stream *st) {
    if (st->kwait == LSK_KW_ON && st->fd >= 0) {
        (void)lsk_set_blocking(st->fd, 0);
        st->kwait = LSK_KW_IDLE;
    }
}

void lsk_stream_share(lsk_stream *st) {
    lsk_stream_nonblock(st);
    st->kwait = LSK_KW_NEVER;
}

/* core._kwait(obj): for the specs, the object's kernel-wait state
 * ("never", "idle", "on") and whether its descriptor is blocking now. */
int lsk_l_kwait(lua_State *L) {
    static const char *const names[] = {"never", "idle", "on"};
    lsk_stream *st = lsk_tostream(L, 1);
    if (st == NULL) return luaL_argerror(L, 1, "lsock socket or TLS stream expected");
    lua_pushstring(L, names[st->kwait]);
    lua_pushboolean(L, st->fd >= 0 && lsk_is_blocking(st->fd));
    return 2;
}

/* Whether this call waits in the kernel; *ms: how long (-1: forever).
 * Not with both timeouts set: a wait then ends at the sooner of two
 * limits, and one that ended could not tell which. */
static int kwait_usable(const lsk_stream *st, lsk_deadline *d, int *ms) {
    if (st->kwait == LSK_KW_NEVER || d->nowait || st->tm.block == 0 || st->tm.total == 0) return 0;
    if (st->tm.total > 0 && st->tm.block > 0) return 0;
    *ms = lsk_deadline_ms(d);
    return *ms != 0;
}

/* The descriptor blocking with the timeout of one direction for a wait
 * of ms; false when that fails: then kernel waits stop for this socket. */
static int kwait_arm(lsk_stream *st, int write, int ms) {
    int have = st->kwait_ms[write], want;
    if (ms < 0) want = 0;
    else if (st->tm.total < 0) want = ms; /* a block timeout: exactly */
    else if (have > 0 && have <= ms && have >= ms - ms / 16) want = have;
    else want = ms - ms / 32 > 0 ? ms - ms / 32 : 1;
    if (st->kwait == LSK_KW_IDLE) {
        if (lsk_set_blocking(st->fd, 1) != 0) goto off;
        st->kwait = LSK_KW_ON;
    }
    if (st->kwait_ms[write] != want) {
        if (lsk_set_wait_ms(st->fd, write, want) != 0) goto off;
        st->kwait_ms[write] = want;
    }
    return 1;
off:
    lsk_stream_share(st);
    return 0;
}

enum { KW_POLL, KW_AGAIN, KW_TIMEDOUT };

/* A kernel wait answered EAGAIN. KW_TIMEDOUT: the timeout ran out
 * (recorded by timed_out, as a poll wait's is). KW_AGAIN: a total timeout
 * has time left (the wait ended early, by design), *ms: how much.
 * KW_POLL: another holder made the descriptor non-blocking; kernel waits
 * stop and the caller waits with poll. */
static int kwait_expired(lsk_stream *st, int want, lsk_deadline *d, int *ms) {
    if (!lsk_is_blocking(st->fd)) {
        st->kwait = LSK_KW_NEVER;
        return KW_POLL;
    }
    if (st->tm.total > 0 && (*ms = lsk_deadline_ms(d)) != 0) return KW_AGAIN;
    timed_out(st, want, d);
    return KW_TIMEDOUT;
}

/* When a kernel wait under a block timeout begins (-1: no block timeout
 * limits it), for kwait_interrupted. */
static double kwait_began(const lsk_stream *st) {
    return st->tm.total < 0 && st->tm.block > 0 ? lsk_monotime() : -1;
}

/* A signal interrupted a kernel wait (its timeout would start again):
 * KW_AGAIN, with *ms the time left, or KW_TIMEDOUT when none is. A total
 * timeout has what the call has left; a block timeout what the wait that
 * began at `began` has left: a signal neither restarts nor ends it. */
static int kwait_interrupted(lsk_stream *st, int want, lsk_deadline *d, double began, int *ms) {
    if (st->tm.total > 0) *ms = lsk_deadline_ms(d);
    else if (began >= 0) *ms = lsk_ms_until(began + st->tm.block);
    else return KW_AGAIN; /* no limit */
    if (*ms != 0) return KW_AGAIN;
    timed_out(st, want, d);
    return KW_TIMEDOUT;
}

/* A read brought r > 0 bytes into space bytes of room. */
static void took(lsk_stream *st, long r, size_t space) {
    st->in.end += (size_t)r;
    st->in.more = (size_t)r == space;
    st->drained = !st->in.more && st->io->short_read_drains;
    st->received += (unsigned long long)r;
}

/* Read what the transport has into the buffer. Returns > 0 on data, 0 at
 * end of stream, or -errno; on a wait that ran out returns -ETIMEDOUT. */
static long fill(lua_State *L, lsk_stream *st, void *obj, size_t room,
                 lsk_deadline *d) {
    int kms = 0, kw = kwait_usable(st, d, &kms);
    double began = -1;
    while (kw && (st->kwait == LSK_KW_ON || st->drained)) {
        /* One recv that returns data at once or waits for it. */
        size_t space;
        long r;
        if (!kwait_arm(st, 0, kms)) {
            kw = 0;
            break;
        }
        space = lsk_buffer_prepare(&st->in, room);
        if (space == 0) luaL_error(L, "not enough memory for the receive buffer");
        if (began < 0) began = kwait_began(st);
        r = lsk_recv_wait(st->fd, st->in.data + st->in.end, space);
        if (r > 0) {
            took(st, r, space);
            return r;
        }
        st->in.more = 0;
        lsk_buffer_release(&st->in);
        if (r == -EINTR) {
            if (kwait_interrupted(st, LSK_WANT_READ, d, began, &kms) == KW_TIMEDOUT) return -ETIMEDOUT;
            continue;
        }
        if (r != -EAGAIN && r != -EWOULDBLOCK) return r;
        st->drained = 1;
        switch (kwait_expired(st, LSK_WANT_READ, d, &kms)) {
        case KW_TIMEDOUT: return -ETIMEDOUT;
        case KW_AGAIN: continue;
        default: kw = 0; /* another holder changed the descriptor: poll below */
        }
    }
    if (d->nowait && st->drained) {
        /* Nothing came since the queue was found empty: the loop waits for
         * its poller's word instead of making a read bound to fail (what
         * lsk_stream_wait answers a call that must not wait). */
        st->pending = LSK_WANT_READ;
        st->deadline = -1;
        return -ETIMEDOUT;
    }
    if (!kw && st->drained && st->io->short_read_drains && st->tm.block != 0 && st->tm.total != 0) {
        /* The same outside the loop, for a plain socket that may wait:
         * the last read emptied the kernel's queue, so wait for the
         * socket first and read once, instead of a read that fails, the
         * wait and the read again (a request and its answer cost one
         * system call less on each side). A transport that keeps input of
         * its own (TLS) and a timeout of 0 read first. */
        int w;
        lsk_buffer_release(&st->in);
        if ((w = lsk_stream_wait(st, LSK_WANT_READ, d)) != 0) return -w;
    }
    for (;;) {
        int want = LSK_WANT_READ, w;
        size_t space = lsk_buffer_prepare(&st->in, room);
        long r;
        if (space == 0) luaL_error(L, "not enough memory for the receive buffer");
        r = st->io->read(obj, st->in.data + st->in.end, space, &want);
        if (r > 0) {
            took(st, r, space);
            return r;
        }
        st->in.more = 0;
        st->drained = (r == -EAGAIN || r == -EWOULDBLOCK) && want == LSK_WANT_READ;
        /* Nothing to read now: an empty block is not kept while waiting. */
        lsk_buffer_release(&st->in);
        if (r != -EAGAIN && r != -EWOULDBLOCK) return r;
        /* The queue is empty and the call may wait in the kernel. */
        if (kw && st->drained) return fill(L, st, obj, room, d);
        w = lsk_stream_wait(st, want, d);
        if (w != 0) return -w;
    }
}

/* Whether a delimiter that p[0, len) does not hold may still start at an
 * index <= max (< len): p then ends with the first bytes of one there. */
static int delim_may_start(const char *p, size_t len, size_t max, const char *delim, size_t dlen) {
    size_t j = len >= dlen ? len - dlen + 1 : 0;
    for (; j <= max && j < len; j++)
        if (memcmp(p + j, delim, len - j) == 0) return 1;
    return 0;
}

/* One try at receive: the results and their count, or -1 when it has to
 * wait and d says not to (a loop coroutine parks instead): then the prefix
 * has joined the buffered bytes, so the next try starts from them alone. */
static int receive_run(lua_State *L, lsk_stream *st, void *obj, const char *prefix,
                       size_t plen, const lsk_op *a, lsk_deadline *d) {
    size_t scanned = 0, count = a->u.rd.count, max = a->u.rd.max;
    int pat = a->u.rd.pat, has_max = a->u.rd.has_max;

    for (;;) {
        size_t len = lsk_buffer_len(&st->in), room = LSK_READ_MIN;
        const char *p = lsk_buffer_head(&st->in);
        long r;

        if (pat == PAT_LINE || pat == PAT_LINE_EOL) {
            const char *nl = len > scanned ? memchr(p + scanned, '\n', len - scanned) : NULL;
            if (nl != NULL) {
                size_t k = (size_t)(nl - p), keep = k + 1, pkeep = plen;
                /* A CR just before the LF belongs to the end of line, even
                 * when it came back earlier inside a partial result. */
                size_t cr = (k > 0 && p[k - 1] == '\r') ? 1 : 0;
                size_t pcr = (k == 0 && plen > 0 && prefix[plen - 1] == '\r') ? 1 : 0;
                if (has_max && plen - pcr + k - cr > max) goto too_long;
                if (pat == PAT_LINE) {
                    keep = k - cr;
                    pkeep = plen - pcr;
                }
                push_joined(L, prefix, pkeep, p, keep);
                lsk_buffer_consume(&st->in, k + 1);
                return 1;
            }
            scanned = len;
            /* One byte of slack: a CR that the next LF may drop. */
            if (has_max && plen + len > max + 1) goto too_long;
        } else if (pat == PAT_UNTIL) {
            /* The prefix is in the buffer already (receiveuntil put it
             * there), so a delimiter may straddle it. Search again only
             * where a delimiter could end in the new bytes. */
            const char *delim = a->u.rd.delim;
            size_t dlen = count, from = scanned >= dlen ? scanned - dlen + 1 : 0;
            const char *hit = len > from ? find(p + from, len - from, delim, dlen) : NULL;
            if (hit != NULL) {
                size_t k = (size_t)(hit - p);
                if (has_max && k > max) goto too_long;
                lua_pushlstring(L, p, k);
                lsk_buffer_consume(&st->in, k + dlen);
                return 1;
            }
            scanned = len;
            /* Longer than max, and no delimiter can start within it. */
            if (has_max && len > max && !delim_may_start(p, len, max, delim, dlen)) goto too_long;
        } else if (pat == PAT_COUNT) {
            if (plen >= count) {
                lua_pushlstring(L, prefix, plen);
                return 1;
            }
            if (len >= count - plen) {
                push_joined(L, prefix, plen, p, count - plen);
                lsk_buffer_consume(&st->in, count - plen);
                return 1;
            }
            /* Room for the rest at once, up to READ_AHEAD_MAX: a count
             * far beyond what comes (receive(2^40)) must not reserve it
             * all before a byte has arrived; past it the buffer doubles
             * as bytes come. */
            if (count - plen - len > room) room = count - plen - len;
            if (room > READ_AHEAD_MAX) room = READ_AHEAD_MAX;
        } else if (has_max && plen + len > max) {
            goto too_long;
        }

        r = fill(L, st, obj, room, d);
        if (r > 0) continue;
        len = lsk_buffer_len(&st->in);
        if (r == 0) {
            if (pat != PAT_ALL) return partial_result(L, st, "closed", prefix, plen, len);
            push_joined(L, prefix, plen, lsk_buffer_head(&st->in), len);
            lsk_buffer_consume(&st->in, len);
            return 1;
        }
        if (r == -ETIMEDOUT) {
            if (!d->nowait) return partial_result(L, st, "timeout", prefix, plen, len);
            if (plen > 0 && !lsk_buffer_prepend(&st->in, prefix, plen))
                luaL_error(L, "not enough memory for the receive buffer");
            return -1;
        }
        if (lsk_is_reset((int)-r)) return partial_result(L, st, "closed", prefix, plen, len);
        push_io_message(L, st, obj, (int)-r, "receive");
        return partial_result(L, st, lua_tostring(L, -1), prefix, plen, len);
    }

too_long: {
        size_t len = lsk_buffer_len(&st->in), take = max > plen ? max - plen : 0;
        if (take > len) take = len;
        if (plen > max) {
            /* The prefix alone is longer (a line's partial result may hold
             * one byte more: a CR that an LF would have dropped). Its rest
             * goes back before the buffered bytes, so that the answer is
             * the one the same bytes give in one piece. */
            if (!lsk_buffer_prepend(&st->in, prefix + max, plen - max))
                luaL_error(L, "not enough memory for the receive buffer");
            plen = max;
        }
        return partial_result(L, st, "too long", prefix, plen, take);
    }
}

/* The next try of a parked receive, or its end (see lsk_op). */
static int receive_step(lua_State *L, lsk_op *op, int why) {
    lsk_stream *st = op->st;
    lsk_deadline d;
    if (st->fd < 0 || why == LSK_OP_CLOSED) return lsk_closed_result(L);
    if (why == LSK_OP_TIMEOUT) return partial_result(L, st, "timeout", "", 0, lsk_buffer_len(&st->in));
    st->pending = 0;
    lsk_deadline_init(&d, &st->tm, 1);
    return receive_run(L, st, op->obj, "", 0, op, &d);
}

/* receive's and receiveuntil's prefix (index 3, *plen bytes) and max
 * (index 4) into op. */
static const char *prefix_and_max(lua_State *L, const char *method, lsk_op *op, size_t *plen) {
    int top = lua_gettop(L);
    const char *prefix = top >= 3 ? lsk_optlstring(L, 3, method, plen) : "";
    op->u.rd.max = 0;
    op->u.rd.has_max = top >= 4 && !lua_isnil(L, 4);
    if (op->u.rd.has_max) {
        lua_Integer m;
        if (!lsock_tointeger(L, 4, &m) || m < 0)
            lsk_argerror(L, 4, method, "max must be a non-negative integer");
        op->u.rd.max = (size_t)m;
    }
    return prefix;
}

int lsk_stream_receive(lua_State *L, lsk_stream *st, void *obj) {
    size_t plen = 0;
    int n;
    lsk_op op;
    const char *prefix;
    lsk_deadline d;

    op.u.rd.count = 0;
    op.u.rd.delim = NULL;
    op.u.rd.pat = parse_pattern(L, 2, &op.u.rd.count);
    prefix = prefix_and_max(L, "receive", &op, &plen);
    if (st->fd < 0) return lsk_closed_result(L);
    st->pending = 0;
    lsk_deadline_init(&d, &st->tm, lsk_task_nowait(L, &st->tm));
    if ((n = receive_run(L, st, obj, prefix, plen, &op, &d)) >= 0) return n;
    op.step = receive_step;
    op.obj = obj;
    op.st = st;
    return lsk_op_yield(L, &op, 0);
}

int lsk_stream_receiveuntil(lua_State *L, lsk_stream *st, void *obj) {
    size_t dlen, plen = 0;
    int n;
    const char *prefix;
    lsk_op op;
    lsk_deadline d;

    op.u.rd.pat = PAT_UNTIL;
    op.u.rd.delim = lsk_checklstring(L, 2, "receiveuntil", &dlen);
    if (dlen == 0) lsk_argerror(L, 2, "receiveuntil", "the delimiter must not be empty");
    op.u.rd.count = dlen;
    prefix = prefix_and_max(L, "receiveuntil", &op, &plen);
    if (st->fd < 0) return lsk_closed_result(L);
    /* The prefix goes in front of the buffered bytes: one search then
     * finds a delimiter that begins in it. */
    if (plen > 0 && !lsk_buffer_prepend(&st->in, prefix, plen))
        luaL_error(L, "not enough memory for the receive buffer");
    st->pending = 0;
    lsk_deadline_init(&d, &st->tm, lsk_task_nowait(L, &st->tm));
    if ((n = receive_run(L, st, obj, "", 0, &op, &d)) >= 0) return n;
    op.step = receive_step;
    op.obj = obj;
    op.st = st;
    return lsk_op_yield(L, &op, 2); /* the delimiter stays alive */
}

/* One try at recv (or at peek, which leaves the bytes buffered): as
 * receive_run. */
static int recv_run(lua_State *L, lsk_stream *st, void *obj, size_t max, int peek,
                    lsk_deadline *d) {
    size_t len = lsk_buffer_len(&st->in);
    if (len == 0) {
        size_t room = LSK_RECV_ROOM < max ? LSK_RECV_ROOM : max;
        long r = fill(L, st, obj, room, d);
        if (r == 0 || lsk_is_reset((int)-r)) {
            lua_pushnil(L);
            lua_pushliteral(L, "closed");
            if (r == 0) return 2;
            lua_pushinteger(L, -r);
            return 3;
        }
        if (r < 0) {
            if (r != -ETIMEDOUT) return lsk_stream_fail(L, st, obj, (int)-r, peek ? "peek" : "recv");
            return d->nowait ? -1 : lsk_timeout_result(L);
        }
        len = lsk_buffer_len(&st->in);
    }
    if (len > max) len = max;
    lua_pushlstring(L, lsk_buffer_head(&st->in), len);
    if (!peek) lsk_buffer_consume(&st->in, len);
    return 1;
}

static int recv_step(lua_State *L, lsk_op *op, int why) {
    lsk_deadline d;
    if (op->st->fd < 0 || why == LSK_OP_CLOSED) return lsk_closed_result(L);
    if (why == LSK_OP_TIMEOUT) return lsk_timeout_result(L);
    op->st->pending = 0;
    lsk_deadline_init(&d, &op->st->tm, 1);
    return recv_run(L, op->st, op->obj, op->u.rd.max, op->u.rd.pat, &d);
}

/* recv, and peek (peek != 0): the same wait, without consuming. */
static int recv_or_peek(lua_State *L, lsk_stream *st, void *obj, int peek) {
    lua_Integer max = 65536;
    lsk_deadline d;
    lsk_op op;
    int n;

    if (!lua_isnoneornil(L, 2) && (!lsock_tointeger(L, 2, &max) || max < 1))
        lsk_argerror(L, 2, peek ? "peek" : "recv", "max must be a positive integer");
    if (st->fd < 0) return lsk_closed_result(L);
    st->pending = 0;
    lsk_deadline_init(&d, &st->tm, lsk_task_nowait(L, &st->tm));
    n = recv_run(L, st, obj, (size_t)max, peek, &d);
    if (n >= 0) return n;
    op.step = recv_step;
    op.obj = obj;
    op.st = st;
    op.u.rd.max = (size_t)max;
    op.u.rd.pat = peek;
    return lsk_op_yield(L, &op, 0);
}

int lsk_stream_recv(lua_State *L, lsk_stream *st, void *obj) {
    return recv_or_peek(L, st, obj, 0);
}

int lsk_stream_peek(lua_State *L, lsk_stream *st, void *obj) {
    return recv_or_peek(L, st, obj, 1);
}

void lsk_send_range(lua_State *L, const char *method, size_t len, lua_Integer *pi, lua_Integer *pj) {
    lua_Integer i = 1, j = -1, l = (lua_Integer)len;
    if (lua_gettop(L) < 3) { /* send(data): the common call, at no cost */
        *pi = 1;
        *pj = l;
        return;
    }
    if (!lua_isnoneornil(L, 3) && !lsock_tointeger(L, 3, &i))
        lsk_argerror(L, 3, method, "integer expected");
    if (!lua_isnoneornil(L, 4) && !lsock_tointeger(L, 4, &j))
        lsk_argerror(L, 4, method, "integer expected");
    if (i < 0) i = (-i > l) ? 1 : l + i + 1;
    if (i == 0) i = 1;
    if (j < 0) j = (-j > l) ? 0 : l + j + 1;
    if (j > l) j = l;
    *pi = i;
    *pj = j;
}

/* send's nil, "timeout", nil, the index of the last byte sent. */
static int send_timeout(lua_State *L, lua_Integer first, size_t done) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    lua_pushnil(L);
    lua_pushinteger(L, first - 1 + (lua_Integer)done);
    return 4;
}

int lsk_write_result(lua_State *L, lsk_stream *st, void *obj, int err, const char *what,
                     lua_Integer last) {
    if (err == ETIMEDOUT) return send_timeout(L, last + 1, 0);
    if (lsk_is_reset(err)) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        lua_pushinteger(L, err);
    } else {
        lsk_stream_fail(L, st, obj, err, what);
    }
    lua_pushinteger(L, last);
    return 4;
}

/* One try at sending data[done, len) (what send(data, i, j) chose, i the
 * first index): the results and their count, or -1 when it has to wait
 * and d says not to; *done counts what went. */
static int send_run(lua_State *L, lsk_stream *st, void *obj, const char *data, size_t len,
                    size_t *done, lua_Integer i, lsk_deadline *d) {
    int kms = 0, kw = kwait_usable(st, d, &kms);
    double began = -1;
    while (*done < len) {
        int want = LSK_WANT_WRITE, w;
        size_t step = len - *done < LSK_WRITE_STEP ? len - *done : LSK_WRITE_STEP;
        long r;
        if (st->deferred) {
            r = -(long)st->deferred;
        } else if (kw && st->kwait == LSK_KW_ON && (st->tm.total < 0 || kwait_usable(st, d, &kms)) &&
                   kwait_arm(st, 1, kms)) {
            /* (a total timeout's time left shrinks: it is read again) */
            /* a send that waits in the kernel for room (see above) */
            if (began < 0) began = kwait_began(st);
            r = lsk_send_wait(st->fd, data + *done, step);
            if (r == -EINTR) {
                if (kwait_interrupted(st, LSK_WANT_WRITE, d, began, &kms) == KW_TIMEDOUT)
                    return send_timeout(L, i, *done);
                continue;
            }
            if (r == -EAGAIN || r == -EWOULDBLOCK) {
                int e = kwait_expired(st, LSK_WANT_WRITE, d, &kms);
                if (e == KW_TIMEDOUT) return send_timeout(L, i, *done);
                if (e == KW_AGAIN) continue;
            }
        } else {
            r = st->io->write(obj, data + *done, step, &want);
        }
        st->deferred = 0;
        if (r > 0) {
            *done += (size_t)r;
            st->sent += (unsigned long long)r;
            if (began >= 0) {
                /* progress: the next wait has the whole block timeout */
                began = -1;
                kms = lsk_deadline_ms(d);
            }
            continue;
        }
        if (r == -EAGAIN || r == -EWOULDBLOCK) {
            /* no room: wait in the kernel from now on, if the call may */
            if (kw && st->kwait == LSK_KW_IDLE && kwait_arm(st, 1, kms)) continue;
            kw = 0;
            w = lsk_stream_wait(st, want, d);
            if (w == 0) continue;
            if (w == ETIMEDOUT) return d->nowait ? -1 : send_timeout(L, i, *done);
            r = -w;
        }
        if (r == 0) r = -EPIPE;
        return lsk_write_result(L, st, obj, (int)-r, "send", i - 1 + (lua_Integer)*done);
    }
    lua_pushinteger(L, i - 1 + (lua_Integer)*done);
    return 1;
}

static int send_step(lua_State *L, lsk_op *op, int why) {
    lsk_deadline d;
    if (op->st->fd < 0 || why == LSK_OP_CLOSED) return lsk_closed_result(L);
    if (why == LSK_OP_TIMEOUT) return send_timeout(L, op->u.wr.first, op->u.wr.done);
    op->st->pending = 0;
    lsk_deadline_init(&d, &op->st->tm, 1);
    return send_run(L, op->st, op->obj, op->u.wr.data, op->u.wr.len, &op->u.wr.done, op->u.wr.first, &d);
}

int lsk_stream_send(lua_State *L, lsk_stream *st, void *obj) {
    size_t len, done = 0;
    const char *data = lsk_checklstring(L, 2, "send", &len);
    lua_Integer i, j;
    lsk_deadline d;
    lsk_op op;
    int n;

    lsk_send_range(L, "send", len, &i, &j);
    if (st->fd < 0) return lsk_closed_result(L);
    st->pending = 0;
    if (i > j) {
        lua_pushinteger(L, i - 1);
        return 1;
    }
    lsk_deadline_init(&d, &st->tm, lsk_task_nowait(L, &st->tm));
    n = send_run(L, st, obj, data + i - 1, (size_t)(j - i + 1), &done, i, &d);
    if (n >= 0) return n;
    op.step = send_step;
    op.obj = obj;
    op.st = st;
    op.u.wr.data = data + i - 1; /* the string stays on the parked coroutine's stack */
    op.u.wr.len = (size_t)(j - i + 1);
    op.u.wr.done = done;
    op.u.wr.first = i;
    return lsk_op_yield(L, &op, 2);
}

int lsk_stream_settimeout(lua_State *L, lsk_stream *st) {
    double t = -1;
    const char *mode = luaL_optstring(L, 3, "b");
    if (!lua_isnoneornil(L, 2)) t = luaL_checknumber(L, 2);
    if (t != t) luaL_argerror(L, 2, "timeout is not a number");
    if (t < 0) t = -1;
    switch (mode[0] != '\0' && mode[1] == '\0' ? mode[0] : '?') {
    case 'b': st->tm.block = t; break;
    case 't': st->tm.total = t; break;
    default: luaL_argerror(L, 3, "invalid timeout mode (expected 'b' or 't')");
    }
    lua_pushboolean(L, 1);
    return 1;
}

int lsk_stream_getfd(lua_State *L, lsk_stream *st) {
    if (st->fd < 0) return lsk_closed_result(L);
    lsk_stream_share(st); /* the caller may hand it to anyone */
    lua_pushinteger(L, st->fd);
    return 1;
}

int lsk_stream_dirty(lua_State *L, lsk_stream *st) {
    lua_pushboolean(L, st->fd >= 0 && lsk_stream_has_input(st));
    return 1;
}

int lsk_stream_getstats(lua_State *L, lsk_stream *st) {
    lua_pushinteger(L, (lua_Integer)st->received);
    lua_pushinteger(L, (lua_Integer)st->sent);
    lua_pushnumber(L, lsk_monotime() - st->created);
    /* The memory the receive buffer holds: 0 for an idle connection. */
    lua_pushinteger(L, (lua_Integer)st->in.cap);
    return 4;
}

int lsk_stream_events(lua_State *L, lsk_stream *st) {
    if (st->fd < 0) return lsk_closed_result(L);
    lsk_push_events(L, st->pending);
    return 1;
}

/* The seconds left until the deadline of the operation that answered
 * "timeout" and waits for events(): nil when nothing waits with a
 * deadline, so a loop that waits on it never spins on an object whose
 * own timeout is 0. */
int lsk_stream_timeout(lua_State *L, lsk_stream *st) {
    double left;
    if (st->fd < 0) return lsk_closed_result(L);
    if (st->pending == 0 || st->deadline < 0) {
        lua_pushnil(L);
        return 1;
    }
    left = st->deadline - lsk_monotime();
    lua_pushnumber(L, left > 0 ? left : 0);
    return 1;
}
