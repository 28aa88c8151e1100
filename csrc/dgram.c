/*
 * dgram.c: message I/O for every socket that is not a byte stream:
 * datagram (UDP, unix dgram, ICMP), seqpacket, raw and packet sockets.
 * One message per call: send and recv on a connected socket, sendto and
 * recvfrom with an address, and the batches sendmany and recvmany
 * (sendmmsg/recvmmsg on Linux, a loop of single calls elsewhere or when
 * built with -DLSOCK_NO_MMSG). On Linux, sendmany hands a run of UDP
 * datagrams of one size to one destination to the kernel as one message
 * with UDP_SEGMENT (segmentation offload): the stack is walked once per
 * run instead of once per datagram, and the datagrams on the wire are the
 * same. The receiving twin, the udp_gro option, lets one read bring up
 * to 64 datagrams of one sender coalesced; they wait in the receive block
 * and recv, recvfrom and recvmany hand them out one by one, so dirty()
 * reports them.
 *
 * Messages are received into the socket's receive block (st.in), used
 * here as scratch space that is kept between calls, so a receiving loop
 * allocates nothing but its Lua strings. A message longer than asked for
 * is reported as truncated, never silently cut: every read asks for one
 * byte more than max, and getting it means the message was longer.
 */
#define _GNU_SOURCE /* sendmmsg, recvmmsg */

#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#ifdef __linux__
#include <linux/if_packet.h>
#include <netinet/udp.h>
#endif

#include "internal.h"

#define MSG_DEFAULT 65535                /* recv/recvfrom/recvmany max */
#define MSG_LIMIT (64 * 1024 * 1024)     /* max (times count) of one call */
#define BATCH_MAX 1024                   /* entries of one sendmany/recvmany */
#define CHUNK 64                         /* messages given to the kernel at once */

#if defined(__linux__) && defined(UDP_SEGMENT)
#define HAVE_GSO 1 /* one message per run, with sendmmsg or the loop */
#endif
#if defined(__linux__) && !defined(LSOCK_NO_MMSG)
#define HAVE_MMSG 1
typedef struct mmsghdr lsk_mmsg;
#else
#define HAVE_MMSG 0
typedef struct {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} lsk_mmsg;
#endif
#ifndef HAVE_GSO
#define HAVE_GSO 0
#endif
/* The most segments, and bytes, the kernel takes in one GSO message. */
#define GSO_SEGMENTS 64
#define GSO_BYTES 65000

/* ---- system calls ------------------------------------------------------ */

/* Send v[0, n): the number sent (>= 1), or -errno when none went. */
static long batch_send(int fd, lsk_mmsg *v, unsigned n) {
#if HAVE_MMSG
    for (;;) {
        int r = sendmmsg(fd, v, n, MSG_NOSIGNAL | LSK_DONTWAIT);
        if (r >= 0) return r;
        if (errno != EINTR) return -(long)errno;
    }
#else
    unsigned i;
    for (i = 0; i < n; i++) {
        long r = lsk_sendmsg(fd, &v[i].msg_hdr);
        if (r < 0) return i > 0 ? (long)i : r;
        v[i].msg_len = (unsigned)r;
    }
    return (long)n;
#endif
}

/* Receive into v[0, n) what is queued: the number received (>= 1), or
 * -errno (-EAGAIN: nothing queued). */
static long batch_recv(int fd, lsk_mmsg *v, unsigned n) {
#if HAVE_MMSG
    for (;;) {
        int r = recvmmsg(fd, v, n, LSK_DONTWAIT, NULL);
        if (r >= 0) return r;
        if (errno != EINTR) return -(long)errno;
    }
#else
    unsigned i;
    for (i = 0; i < n; i++) {
        struct msghdr *m = &v[i].msg_hdr;
        long r = lsk_recvfrom(fd, (char *)m->msg_iov[0].iov_base, m->msg_iov[0].iov_len,
                              (struct sockaddr *)m->msg_name, &m->msg_namelen);
        if (r < 0) return i > 0 ? (long)i : r;
        v[i].msg_len = (unsigned)r;
    }
    return (long)n;
#endif
}

/* ---- arguments and results --------------------------------------------- */

/* Named as a method call names it (lsk_argerror): LuaJIT's FFI path calls
 * recv, recvfrom and send from a wrapper. */
static size_t check_max(lua_State *L, int idx, const char *method) {
    lua_Integer m = MSG_DEFAULT;
    if (!lua_isnoneornil(L, idx) && (!lsock_tointeger(L, idx, &m) || m < 1))
        lsk_argerror(L, idx, method, "max must be a positive integer");
    if (m > MSG_LIMIT) lsk_argerror(L, idx, method, "max too large (at most 64 MiB)");
    return (size_t)m;
}

/* The block messages are received into, at least n bytes. It stays with
 * the socket (getstats reports it) and is freed when the socket closes. */
static char *scratch(lua_State *L, lsk_socket *s, size_t n) {
    if (lsk_buffer_prepare(&s->st.in, n) == 0)
        luaL_error(L, "not enough memory for a %d-byte receive block", (int)n);
    return s->st.in.data;
}

int lsk_addr_flags(const lsk_socket *s) {
    if (s->type == SOCK_RAW) return LSK_ADDR_NOPORT;
    if ((s->family == AF_INET || s->family == AF_INET6) &&
        (s->protocol == IPPROTO_ICMP || s->protocol == IPPROTO_ICMPV6))
        return LSK_ADDR_NOPORT;
    return 0;
}

/* The address argument at idx for this socket (packet sockets also get
 * their protocol); 0 or the number of failure results pushed. */
static int get_addr(lua_State *L, lsk_socket *s, int idx, const char *what, lsk_addr *a) {
    int n = lsk_get_addr(L, idx, s->family, lsk_addr_flags(s), what, a);
#ifdef AF_PACKET
    if (n == 0 && s->family == AF_PACKET)
        ((struct sockaddr_ll *)&a->ss)->sll_protocol = (unsigned short)s->protocol;
#endif
    return n;
}

/* Push a sender's address: addr, port (inet, inet6, packet) or the path
 * (unix, "" for an unnamed sender). Returns the count. */
static int push_from(lua_State *L, const lsk_socket *s, const lsk_addr *a) {
    if (a->len < sizeof(sa_family_t)) {
        /* No address from the kernel: an unnamed unix peer, or a
         * connection-oriented socket. */
        if (s->family == AF_UNIX) {
            lua_pushliteral(L, "");
            return 1;
        }
        lua_pushnil(L);
        lua_pushnil(L);
        return 2;
    }
    return lsk_push_addr_port(L, (const struct sockaddr *)&a->ss, a->len);
}

/* A connected seqpacket socket reads a reset or an end like a stream. A
 * read of zero bytes is either an empty message or the end: the end when
 * the peer has shut down its side. */
static int is_closed(const lsk_socket *s, long r) {
    if (s->type != SOCK_SEQPACKET) return 0;
    if (r == 0) return lsk_peer_gone(s->st.fd);
    return r < 0 && lsk_is_reset((int)-r);
}

/* The failure results of a message operation: "timeout", "closed" on a
 * connection that ended, or "<what>[ <addr>]: <os text>", with errno. */
static int failure(lua_State *L, const lsk_socket *s, long r, const char *what,
                   const lsk_addr *a) {
    if (r == -ETIMEDOUT) return lsk_timeout_result(L);
    if (is_closed(s, r)) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        if (r == 0) return 2;
        lua_pushinteger(L, -r);
        return 3;
    }
    if (a != NULL) return lsk_fail_at(L, (int)-r, what, a);
    return lsk_fail(L, (int)-r, what);
}

/* ---- coalesced receives (udp_gro) ---------------------------------------- */

/* Datagrams the kernel coalesced wait in st.in[start, end): runs of `seg`
 * bytes (the last may be shorter), all from `from`. */
typedef struct lsk_gro {
    int on;
    size_t seg;
    lsk_addr from;
} lsk_gro;

/* The most one coalesced read brings (a UDP length field's worth). */
#define GRO_READ 65536

void lsk_msg_gro(lua_State *L, lsk_socket *s, int on) {
    if (s->gro == NULL) {
        if (!on) return;
        s->gro = (lsk_gro *)calloc(1, sizeof *s->gro);
        if (s->gro == NULL) luaL_error(L, "not enough memory for udp_gro");
    }
    s->gro->on = on;
}

void lsk_msg_free(lsk_socket *s) {
    free(s->gro);
    s->gro = NULL;
}

static int gro_queued(const lsk_socket *s) {
    return s->gro != NULL && lsk_buffer_len(&s->st.in) > 0;
}

/* One coalesced read, waiting within d (not at all when d is NULL): 0
 * (the queue holds what came, possibly one datagram of zero bytes: then
 * *empty is set) or -errno. */
static long gro_read(lua_State *L, lsk_socket *s, lsk_deadline *d, int *empty) {
    lsk_buffer *b = &s->st.in;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr m;
    struct iovec iov;
    struct cmsghdr *c;
    char *buf;
    long r;
    b->start = b->end = 0;
    buf = scratch(L, s, GRO_READ);
    for (;;) {
        int w;
        memset(&m, 0, sizeof m);
        iov.iov_base = buf;
        iov.iov_len = GRO_READ;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_name = &s->gro->from.ss;
        m.msg_namelen = sizeof s->gro->from.ss;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        r = lsk_recvmsg(s->st.fd, &m);
        if (r >= 0) break;
        if (r != -EAGAIN && r != -EWOULDBLOCK) return r;
        if (d == NULL) return r;
        if ((w = lsk_stream_wait(&s->st, LSK_WANT_READ, d)) != 0) return -w;
    }
    s->gro->from.len = m.msg_namelen;
    s->gro->seg = (size_t)r;
    for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
#ifdef UDP_GRO
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int seg;
            memcpy(&seg, CMSG_DATA(c), sizeof seg);
            if (seg > 0) s->gro->seg = (size_t)seg;
        }
#endif
    }
    s->st.received += (unsigned long long)r;
    b->end = (size_t)r;
    *empty = r == 0;
    return 0;
}

/* The next queued datagram: its bytes (at most max of them) and whether it
 * was longer. */
static const char *gro_pop(lsk_socket *s, size_t max, size_t *len, int *trunc) {
    lsk_buffer *b = &s->st.in;
    const char *p = lsk_buffer_head(b);
    size_t n = lsk_buffer_len(b) < s->gro->seg ? lsk_buffer_len(b) : s->gro->seg;
    b->start += n;
    if (b->start >= b->end) b->start = b->end = 0; /* the block stays */
    *trunc = n > max;
    *len = n > max ? max : n;
    return p;
}

/* recv/recvfrom on a udp_gro socket: a queued datagram, or one read. */
static int gro_receive_one(lua_State *L, lsk_socket *s, size_t max, int with_from) {
    lsk_deadline d;
    size_t len;
    int trunc, n = 1, empty = 0;
    const char *p;
    if (!gro_queued(s)) {
        long r;
        lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
        r = gro_read(L, s, &d, &empty);
        if (r < 0) return failure(L, s, r, with_from ? "recvfrom" : "recv", NULL);
    }
    if (empty) {
        p = "";
        len = 0;
        trunc = 0;
    } else {
        p = gro_pop(s, max, &len, &trunc);
    }
    lua_pushlstring(L, p, len);
    if (with_from) n += push_from(L, s, &s->gro->from);
    if (trunc) {
        lua_pushboolean(L, 1);
        n++;
    }
    return n;
}

/* ---- one message --------------------------------------------------------- */

/* Send p[0, n) as one message to a (the connected peer when NULL),
 * waiting within d: bytes sent, or -errno (-ETIMEDOUT). */
static long send_one(lsk_socket *s, const char *p, size_t n, const lsk_addr *a,
                     lsk_deadline *d) {
    for (;;) {
        /* send/sendto rather than sendmsg: the kernel does less per call. */
        long r = a != NULL ? lsk_sendto(s->st.fd, p, n, (const struct sockaddr *)&a->ss, a->len)
                           : lsk_send(s->st.fd, p, n);
        int w;
        if (r >= 0) {
            s->st.sent += (unsigned long long)r;
            return r;
        }
        if (r != -EAGAIN && r != -EWOULDBLOCK) return r;
        if ((w = lsk_stream_wait(&s->st, LSK_WANT_WRITE, d)) != 0) return -w;
    }
}

/* Receive one message of at most max bytes into the scratch block,
 * waiting within d: its length (*trunc set when it was longer), or -errno
 * (-ETIMEDOUT). `from` may be NULL.
 *
 * One byte more than max is asked for: when it arrives, the message was
 * longer. That needs neither recvmsg (dearer than recvfrom per call) nor
 * MSG_TRUNC, which not every family honours. */
static long recv_one(lua_State *L, lsk_socket *s, size_t max, lsk_addr *from,
                     int *trunc, lsk_deadline *d) {
    char *buf = scratch(L, s, max + 1);
    for (;;) {
        long r;
        int w;
        if (from != NULL) {
            from->ss.ss_family = AF_UNSPEC;
            from->len = sizeof from->ss;
            r = lsk_recvfrom(s->st.fd, buf, max + 1, (struct sockaddr *)&from->ss, &from->len);
        } else {
            r = lsk_recv(s->st.fd, buf, max + 1);
        }
        if (r >= 0) {
            *trunc = (size_t)r > max;
            if (*trunc) r = (long)max;
            s->st.received += (unsigned long long)r;
            return r;
        }
        if (r != -EAGAIN && r != -EWOULDBLOCK) return r;
        if ((w = lsk_stream_wait(&s->st, LSK_WANT_READ, d)) != 0) return -w;
    }
}

/* The failure the FFI path met just before handing this call over
 * (ffi.c): reported as the call's own, once. */
static int deferred_failure(lua_State *L, lsk_socket *s, const char *what) {
    long r = -(long)s->st.deferred;
    s->st.deferred = 0;
    return failure(L, s, r, what, NULL);
}

int lsk_msg_send(lua_State *L, lsk_socket *s) {
    size_t len;
    const char *data = lsk_checklstring(L, 2, "send", &len);
    lua_Integer i, j;
    lsk_deadline d;
    long r;

    lsk_send_range(L, "send", len, &i, &j);
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    if (s->st.deferred) return deferred_failure(L, s, "send");
    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    /* i > j is an empty message, which is still a message. */
    r = send_one(s, data + (i - 1), i > j ? 0 : (size_t)(j - i + 1), NULL, &d);
    if (r < 0) return failure(L, s, r, "send", NULL);
    lua_pushinteger(L, i - 1 + (lua_Integer)r);
    return 1;
}

int lsk_msg_sendto(lua_State *L, lsk_socket *s) {
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    lsk_addr a;
    lsk_deadline d;
    long r;
    int n = get_addr(L, s, 3, "sendto", &a);
    if (n) return n;
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    r = send_one(s, data, len, &a, &d);
    if (r < 0) return failure(L, s, r, "sendto", &a);
    lua_pushinteger(L, (lua_Integer)r);
    return 1;
}

/* recv (from = 0) and recvfrom (from = 1). */
static int receive_one(lua_State *L, lsk_socket *s, int with_from) {
    size_t max = check_max(L, 2, with_from ? "recvfrom" : "recv");
    lsk_addr from;
    lsk_deadline d;
    int trunc = 0, n = 1;
    long r;
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    if (s->st.deferred) return deferred_failure(L, s, with_from ? "recvfrom" : "recv");
    if (s->gro != NULL && (s->gro->on || gro_queued(s))) return gro_receive_one(L, s, max, with_from);
    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    r = recv_one(L, s, max, with_from ? &from : NULL, &trunc, &d);
    if (r < 0 || is_closed(s, r)) return failure(L, s, r, with_from ? "recvfrom" : "recv", NULL);
    lua_pushlstring(L, s->st.in.data, (size_t)r);
    if (with_from) n += push_from(L, s, &from);
    if (trunc) {
        lua_pushboolean(L, 1);
        n++;
    }
    return n;
}

int lsk_msg_recv(lua_State *L, lsk_socket *s) { return receive_one(L, s, 0); }
int lsk_msg_recvfrom(lua_State *L, lsk_socket *s) { return receive_one(L, s, 1); }

/* ---- batches ------------------------------------------------------------- */

/* Check every entry of the list at index 2 before anything is sent, so a
 * programmer error never leaves a batch half sent. Returns its length. */
static int check_list(lua_State *L, const lsk_socket *s) {
    int is_unix = s->family == AF_UNIX, n, i;
    int need_port = (s->family == AF_INET || s->family == AF_INET6) && lsk_addr_flags(s) == 0;
    lsk_checktable(L, 2, "sendmany");
    n = (int)lsock_rawlen(L, 2);
    if (n > BATCH_MAX) lsk_argerror(L, 2, "sendmany", "too many datagrams (at most 1024)");
    for (i = 1; i <= n; i++) {
        int t;
        lua_rawgeti(L, 2, i);
        t = lua_type(L, -1);
        if (t == LUA_TTABLE) {
            lua_getfield(L, -1, "data");
            if (lua_type(L, -1) != LUA_TSTRING)
                lsk_argerror(L, 2, "sendmany", lua_pushfstring(L, "entry %d: field 'data' (a string) expected", i));
            lua_getfield(L, -2, is_unix ? "path" : "addr");
            if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
                lsk_argerror(L, 2, "sendmany", lua_pushfstring(L, "entry %d: field '%s' must be a string", i,
                                                    is_unix ? "path" : "addr"));
            if (!lua_isnil(L, -1)) {
                size_t len;
                const char *text = lua_tolstring(L, -1, &len);
                const char *problem = lsk_addr_text_problem(s->family, text, len);
                if (problem != NULL)
                    lsk_argerror(L, 2, "sendmany", lua_pushfstring(L, "entry %d: %s", i, problem));
            }
            if (!lua_isnil(L, -1) && need_port) {
                lua_Integer port;
                lua_getfield(L, -3, "port");
                if (lua_type(L, -1) != LUA_TNUMBER && lua_type(L, -1) != LUA_TSTRING)
                    lsk_argerror(L, 2, "sendmany", lua_pushfstring(L, "entry %d: field 'port' expected", i));
                if (!lsock_tointeger(L, -1, &port) || port < 0 || port > 65535)
                    lsk_argerror(L, 2, "sendmany", lua_pushfstring(L, "entry %d: field 'port' out of range", i));
                lua_pop(L, 1);
            }
            lua_pop(L, 2);
        } else if (t != LUA_TSTRING) {
            lsk_argerror(L, 2, "sendmany", lua_pushfstring(L, "entry %d: string or table expected, got %s", i,
                                                luaL_typename(L, -1)));
        }
        lua_pop(L, 1);
    }
    return n;
}

/* The data (iov) and destination (dest: def, a filled from the entry's
 * own address, or NULL for the connected peer) of list entry i. The
 * strings stay referenced by the list, so their pointers outlive the
 * call. Returns 0 or the number of failure results pushed (an address
 * that does not resolve). */
static int fill_entry(lua_State *L, lsk_socket *s, int i, const lsk_addr *def,
                      lsk_addr *a, const lsk_addr **dest, struct iovec *iov) {
    const lsk_addr *to = def;
    size_t len;
    int top = lua_gettop(L), n = 0;
    lua_rawgeti(L, 2, i);
    if (lua_type(L, -1) == LUA_TSTRING) {
        iov->iov_base = (void *)lua_tolstring(L, -1, &len);
    } else {
        lua_getfield(L, -1, "data");
        iov->iov_base = (void *)lua_tolstring(L, -1, &len);
        if (s->family == AF_UNIX) {
            lua_getfield(L, -2, "path");
        } else {
            lua_getfield(L, -2, "addr");
            lua_getfield(L, -3, "port");
        }
        if (!lua_isnil(L, s->family == AF_UNIX ? -1 : -2)) {
            n = get_addr(L, s, s->family == AF_UNIX ? lua_gettop(L) : lua_gettop(L) - 1,
                         "sendmany", a);
            if (n) {
                /* Keep only the failure results: move them down over the
                 * entry's values (always below them), then drop the rest. */
                int k, first = lua_gettop(L) - n + 1;
                for (k = 0; k < n; k++) {
                    lua_pushvalue(L, first + k);
                    lua_replace(L, top + 1 + k);
                }
                lua_settop(L, top + n);
                return n;
            }
            to = a;
        }
    }
    iov->iov_len = len;
    *dest = to;
    lua_settop(L, top);
    return 0;
}

/* The failure results of a batch, with the count that did go out. */
static int batch_failure(lua_State *L, int pushed, int done) {
    if (pushed == 2) lua_pushnil(L); /* no errno */
    lua_pushinteger(L, done);
    return pushed + (pushed == 2 ? 2 : 1);
}

/* Control space for one UDP_SEGMENT value. */
typedef union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(unsigned short))];
} gso_control;

static int same_dest(const lsk_addr *a, const lsk_addr *b) {
    if (a == b) return 1;
    if (a == NULL || b == NULL || a->len != b->len) return 0;
    return memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Group the datagrams iov[0, c) into messages v[]: one per datagram, or
 * with gso, runs to one destination of one size (the last may be
 * shorter) as one message each. runs[m] is how many datagrams message m
 * carries. Returns the number of messages. */
static int group(lsk_mmsg *v, int *runs, struct iovec *iov, const lsk_addr **dest,
                 int c, int gso, gso_control *ctl) {
    int k = 0, m = 0;
    while (k < c) {
        int j = k + 1;
        size_t size = iov[k].iov_len, total = size;
        if (gso && size > 0) {
            while (j < c && j - k < GSO_SEGMENTS && same_dest(dest[j], dest[k]) &&
                   iov[j].iov_len <= size && iov[j].iov_len > 0 &&
                   total + iov[j].iov_len <= GSO_BYTES) {
                total += iov[j].iov_len;
                if (iov[j++].iov_len < size) break; /* a shorter one ends the run */
            }
        }
        memset(&v[m].msg_hdr, 0, sizeof v[m].msg_hdr);
        v[m].msg_hdr.msg_iov = &iov[k];
        v[m].msg_hdr.msg_iovlen = (size_t)(j - k);
        if (dest[k] != NULL) {
            v[m].msg_hdr.msg_name = (void *)&dest[k]->ss;
            v[m].msg_hdr.msg_namelen = dest[k]->len;
        }
#if HAVE_GSO
        if (j - k > 1) {
            struct cmsghdr *cm;
            unsigned short seg = (unsigned short)size;
            memset(&ctl[m], 0, sizeof ctl[m]); /* the padding goes to the kernel too */
            v[m].msg_hdr.msg_control = ctl[m].buf;
            v[m].msg_hdr.msg_controllen = sizeof ctl[m].buf;
            cm = CMSG_FIRSTHDR(&v[m].msg_hdr);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof seg);
            memcpy(CMSG_DATA(cm), &seg, sizeof seg);
        }
#else
        (void)ctl;
#endif
        runs[m++] = j - k;
        k = j;
    }
    return m;
}

int lsk_msg_sendmany(lua_State *L, lsk_socket *s) {
    lsk_addr def, addrs[CHUNK];
    const lsk_addr *dest[CHUNK];
    struct iovec iov[CHUNK];
    lsk_mmsg v[CHUNK];
    gso_control ctl[CHUNK];
    int runs[CHUNK];
    lsk_deadline d;
    int total = check_list(L, s), done = 0, have_def = 0, n;
    int udp = HAVE_GSO && (s->family == AF_INET || s->family == AF_INET6) &&
              s->type == SOCK_DGRAM && (s->protocol == 0 || s->protocol == IPPROTO_UDP);

    if (!lua_isnoneornil(L, 3)) {
        if ((n = get_addr(L, s, 3, "sendmany", &def)) != 0) return batch_failure(L, n, 0);
        have_def = 1;
    }
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    while (done < total) {
        int c = total - done < CHUNK ? total - done : CHUNK, k, off = 0, msgs, first = done;
        for (k = 0; k < c; k++) {
            n = fill_entry(L, s, done + k + 1, have_def ? &def : NULL, &addrs[k], &dest[k],
                           &iov[k]);
            if (n) return batch_failure(L, n, done);
        }
        msgs = group(v, runs, iov, dest, c, udp && !s->no_gso, ctl);
        while (off < msgs) {
            long r = batch_send(s->st.fd, v + off, (unsigned)(msgs - off));
            int w;
            if (r > 0) {
                for (k = off; k < off + r; k++) {
                    s->st.sent += v[k].msg_len;
                    done += runs[k];
                }
                off += (int)r;
                continue;
            }
            if (runs[off] > 1 && (r == -EIO || r == -EINVAL)) {
                /* A device without checksum offload, or a route whose MTU
                 * is too small for the segments: send one by one from
                 * now on. */
                s->no_gso = 1;
                break;
            }
            if (r == -EAGAIN || r == -EWOULDBLOCK) {
                w = lsk_stream_wait(&s->st, LSK_WANT_WRITE, &d);
                if (w == 0) continue;
                r = -w;
            }
            return batch_failure(L, failure(L, s, r, "sendmany", dest[done - first]), done);
        }
    }
    lua_pushinteger(L, done);
    return 1;
}

/* recvmany builds many small tables, so the keys are pushed once and the
 * address values of the previous entry are reused while the sender stays
 * the same (always, on a connected socket). Stack slots from `base`: */
enum { KEY_DATA, KEY_ADDR, KEY_PORT, KEY_PATH, KEY_TRUNCATED, SLOT_RESULT, SLOT_ADDR,
       SLOT_PORT, SLOT_COUNT };

typedef struct last_from {
    lsk_addr a;
    int n; /* values of the cached address (1: path, 2: addr and port); 0: none */
} last_from;

/* The keys, then the result: the table at `into` or a new one. */
static void push_keys(lua_State *L, int into, int size) {
    lua_pushliteral(L, "data");
    lua_pushliteral(L, "addr");
    lua_pushliteral(L, "port");
    lua_pushliteral(L, "path");
    lua_pushliteral(L, "truncated");
    if (into) lua_pushvalue(L, into);
    else lua_createtable(L, size, 0);
    lua_pushnil(L);
    lua_pushnil(L);
}

static void set_slot(lua_State *L, int base, int key, int slot) {
    lua_pushvalue(L, base + key);
    lua_pushvalue(L, base + slot);
    lua_rawset(L, -3);
}

/* Push {data=, addr=, port=} (unix: {data=, path=}) [, truncated = true]
 * for result index i: the table already at that index of the result when
 * it is one (a caller's earlier result handed back: no allocation), a new
 * one otherwise. */
static void push_entry(lua_State *L, const lsk_socket *s, const lsk_addr *a, const char *data,
                       size_t len, int trunc, int base, last_from *last, int i) {
    lua_rawgeti(L, base + SLOT_RESULT, i);
    if (lua_type(L, -1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);
    }
    lua_pushvalue(L, base + KEY_DATA);
    lua_pushlstring(L, data, len);
    lua_rawset(L, -3);
    if (last->n == 0 || a->len != last->a.len || memcmp(&a->ss, &last->a.ss, a->len) != 0) {
        int n = push_from(L, s, a);
        if (n == 2) lua_replace(L, base + SLOT_PORT);
        lua_replace(L, base + SLOT_ADDR);
        last->a = *a;
        last->n = n;
    }
    if (last->n == 2) {
        set_slot(L, base, KEY_ADDR, SLOT_ADDR);
        set_slot(L, base, KEY_PORT, SLOT_PORT);
    } else {
        set_slot(L, base, KEY_PATH, SLOT_ADDR);
    }
    lua_pushvalue(L, base + KEY_TRUNCATED);
    if (trunc) lua_pushboolean(L, 1);
    else lua_pushnil(L);
    lua_rawset(L, -3);
}

int lsk_msg_recvmany(lua_State *L, lsk_socket *s) {
    lsk_addr addrs[CHUNK];
    struct iovec iov[CHUNK];
    lsk_mmsg v[CHUNK];
    lsk_deadline d;
    lua_Integer want;
    size_t max;
    char *buf;
    int chunk, got = 0, base, into = 0, old = 0;
    last_from last;

    if (!lsock_tointeger(L, 2, &want) || want < 1 || want > BATCH_MAX)
        luaL_argerror(L, 2, "count must be an integer from 1 to 1024");
    max = check_max(L, 3, "recvmany");
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        into = 4;
        old = (int)lsock_rawlen(L, 4);
    }
    chunk = want < CHUNK ? (int)want : CHUNK;
    if (max + 1 > MSG_LIMIT / (size_t)chunk)
        luaL_argerror(L, 3, "max too large for this count (count * max at most 64 MiB)");
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    /* Each datagram gets max + 1 bytes: a full one was longer than max. */
    last.n = 0;
    base = lua_gettop(L) + 1;
    push_keys(L, into, chunk);
    if (s->gro != NULL && (s->gro->on || gro_queued(s))) {
        /* Hand out what is queued, reading more (without waiting once
         * something is in hand) while the option is on. */
        while (got < want) {
            size_t len = 0;
            int trunc = 0, empty = 0;
            const char *p = "";
            if (!gro_queued(s)) {
                long r;
                if (!s->gro->on) break;
                r = gro_read(L, s, got > 0 ? NULL : &d, &empty);
                if (r < 0) {
                    if (got > 0) break;
                    return failure(L, s, r, "recvmany", NULL);
                }
            }
            if (!empty) p = gro_pop(s, max, &len, &trunc);
            push_entry(L, s, &s->gro->from, p, len, trunc, base, &last, ++got);
            lua_rawseti(L, base + SLOT_RESULT, got);
        }
        goto done;
    }
    buf = scratch(L, s, (size_t)chunk * (max + 1));
    while (got < want) {
        int c = want - got < chunk ? (int)(want - got) : chunk, k, w;
        long r;
        for (k = 0; k < c; k++) {
            iov[k].iov_base = buf + (size_t)k * (max + 1);
            iov[k].iov_len = max + 1;
            memset(&v[k].msg_hdr, 0, sizeof v[k].msg_hdr);
            v[k].msg_hdr.msg_iov = &iov[k];
            v[k].msg_hdr.msg_iovlen = 1;
            v[k].msg_hdr.msg_name = &addrs[k].ss;
            v[k].msg_hdr.msg_namelen = sizeof addrs[k].ss;
        }
        r = batch_recv(s->st.fd, v, (unsigned)c);
        if (r > 0) {
            for (k = 0; k < r; k++) {
                /* An empty seqpacket message is the end of the connection. */
                if (is_closed(s, (long)v[k].msg_len)) break;
                size_t len = v[k].msg_len > max ? max : v[k].msg_len;
                s->st.received += len;
                addrs[k].len = v[k].msg_hdr.msg_namelen;
                push_entry(L, s, &addrs[k], (const char *)iov[k].iov_base, len,
                           v[k].msg_len > max, base, &last, ++got);
                lua_rawseti(L, base + SLOT_RESULT, got);
            }
            if (k < r) break;
            if (r < c) break; /* the queue is empty */
            continue;
        }
        if (got > 0) break; /* what is there now; an error shows next time */
        if (r == -EAGAIN || r == -EWOULDBLOCK) {
            w = lsk_stream_wait(&s->st, LSK_WANT_READ, &d);
            if (w == 0) continue;
            r = -w;
        }
        return failure(L, s, r, "recvmany", NULL);
    }
    if (got == 0) return lsk_closed_result(L); /* seqpacket end */
done:
    /* A reused result ends where this batch ends. */
    for (; old > got; old--) {
        lua_pushnil(L);
        lua_rawseti(L, base + SLOT_RESULT, old);
    }
    lua_pushvalue(L, base + SLOT_RESULT);
    return 1;
}
