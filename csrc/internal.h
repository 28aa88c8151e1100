/*
 * internal.h: what the Lua binding files of lsock.core share with each
 * other: the socket object, result helpers and argument checkers.
 */
#ifndef LSOCK_INTERNAL_H
#define LSOCK_INTERNAL_H

#include <sys/socket.h>

#include "compat.h"
#include "net.h"

#if defined(__GNUC__)
#pragma GCC visibility push(hidden) /* see net.h */
#endif

#define LSOCK_SOCKET "lsock.socket"

struct lsk_pollref;

/* The part of an object that the buffered reader and the writer work on:
 * a socket has one, a TLS stream will have one too. */
typedef struct lsk_stream {
    int fd;              /* -1 once closed */
    int pending;         /* LSK_WANT_* of the operation that timed out */
    double deadline;     /* its total deadline (monotonic), or -1 */
    lsk_buffer in;       /* received, not yet returned */
    lsk_timeout tm;
    double created;      /* monotonic seconds */
    unsigned long long received, sent;
    const lsk_io *io;
    struct lsk_pollref *polls; /* the pollsets this object is in (pollset.c) */
    /* The last read found the kernel's queue empty (it returned short or
     * EAGAIN) and no poller has reported input since: a call of the loop
     * waits at once instead of trying a read bound to fail. */
    int drained;
    /* A write failure the FFI path met (ffi.c), -errno style positive
     * errno or LSK_ETRANSPORT: the send it hands over to reports it. */
    int deferred;
    /* Kernel waits (stream.c): LSK_KW_NEVER, LSK_KW_IDLE (allowed, the
     * descriptor non-blocking) or LSK_KW_ON (it is blocking now), and the
     * SO_RCVTIMEO and SO_SNDTIMEO last set, in ms (0: none). */
    int kwait;
    int kwait_ms[2];
} lsk_stream;

enum { LSK_KW_NEVER = 0, LSK_KW_IDLE = 1, LSK_KW_ON = 2 };

/* A socket lsock made itself: its calls may wait in the kernel. */
void lsk_stream_own(lsk_stream *st);
/* The descriptor leaves lsock's hands (getfd, detach, lsock_checkfd,
 * descriptor passing, a TLS stream over it): non-blocking again, and
 * its flags never changed again. */
void lsk_stream_share(lsk_stream *st);
/* Non-blocking again for a call that needs it (sendfile); kernel waits
 * stay allowed. */
void lsk_stream_nonblock(lsk_stream *st);
int lsk_l_kwait(lua_State *L); /* core._kwait */

/* Input a read can return without waiting: buffered here, or held by
 * the transport (decrypted TLS records). */
static inline int lsk_stream_has_input(const lsk_stream *st) {
    return lsk_buffer_len(&st->in) > 0 || (st->io->holds_input != NULL && st->io->holds_input(st));
}

struct lsk_gro;
struct lsk_tls;

/* The first word of every socket object: with the userdata's size it
 * identifies one without a metatable lookup (see check_socket). */
#define LSK_SOCKET_MAGIC 0x6c736f63u

typedef struct lsk_socket {
    lsk_stream st;
    unsigned magic;  /* LSK_SOCKET_MAGIC */
    int family, type, protocol;
    int connecting; /* a non-blocking connect is in progress */
    int no_gso;     /* sendmany: the route refused UDP segmentation offload */
    struct lsk_gro *gro; /* udp_gro state (dgram.c), NULL until it is set */
    struct lsk_tls *tls; /* the TLS stream that owns it (tls_stream.c), or NULL */
} lsk_socket;

/* ---- the loop (sched.c) ---------------------------------------------- */

/* The loop's coroutine that this thread is running, or NULL. Its calls
 * never wait: they answer "timeout" with events() set, and the loop
 * waits for them (per thread: several Lua states may each run a loop). */
extern LSK_THREAD_LOCAL lua_State *lsk_running_task;
#define lsk_in_task(L) ((L) == lsk_running_task)
/* Whether a call from L on an object with limits tm must not wait: L is
 * a loop coroutine and the limits are not zero (a zero timeout answers
 * "timeout" at once, in the loop as outside it). */
#define lsk_task_nowait(L, tm) (lsk_in_task(L) && (tm)->block != 0 && (tm)->total != 0)

/* An operation a loop coroutine is parked in, done by the scheduler: the
 * method that would have waited describes it here and returns
 * lsk_op_yield(); when the object is ready the scheduler calls step,
 * which pushes the results (on the scheduler's own stack: it must not
 * read arguments) and returns their count, or returns -1 to wait again
 * (for st->pending); the results become the method's return values in
 * the coroutine. With why LSK_OP_TIMEOUT or LSK_OP_CLOSED, step pushes
 * what the method returns when its limit ran out or the object was
 * closed while it waited. */
#define LSK_OP_READY 0
#define LSK_OP_TIMEOUT 1
#define LSK_OP_CLOSED 2
typedef struct lsk_op lsk_op;
struct lsk_op {
    int (*step)(lua_State *L, lsk_op *op, int why);
    void *obj;
    lsk_stream *st;
    union {
        struct {
            size_t count, max; /* receive's pattern (receiveuntil: the
                                * delimiter's length); recv's max */
            int pat, has_max;
            const char *delim; /* receiveuntil: kept alive at index 2 */
        } rd;
        struct {
            const char *data; /* send: the bytes, what went, the first index */
            size_t len, done;
            lua_Integer first;
        } wr;
    } u;
};
/* Park the calling coroutine (lsk_task_nowait was true) in op, keeping
 * the object at index 1 and the value at index keep (0: none) alive on
 * its stack. Use as `return lsk_op_yield(L, &op, keep);`. */
int lsk_op_yield(lua_State *L, const lsk_op *op, int keep);
/* For methods without partial progress (a datagram goes whole or not at
 * all): `return lsk_park_call(L, method, nargs, n)` after the method,
 * called with nargs arguments, left n results. When they are nil, "timeout" because a loop coroutine must
 * not wait, the coroutine parks with the method's arguments, and the
 * scheduler calls method again with them once the object is ready;
 * otherwise the results are returned as they are. */
int lsk_park_call(lua_State *L, lua_CFunction method, int nargs, int n);

int lsk_scheduler_new(lua_State *L); /* core._scheduler([backend]) */
int lsk_intask(lua_State *L);        /* core._intask() */
void lsk_scheduler_open(lua_State *L);

/* ---- classes (core.c) ------------------------------------------------ */

/* Register the metatable `name` of an object type: its __name, the
 * metamethods in meta and the methods (__index) in methods. */
void lsk_new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

/* ---- results (errors.c) --------------------------------------------- */

/* Push nil, "<what>: <os text>", errno and return 3. */
int lsk_fail(lua_State *L, int err, const char *what);
int lsk_l_strerror(lua_State *L); /* core._strerror */
int lsk_ffi_table(lua_State *L);  /* core._ffi (ffi.c) */
/* "bad argument #<arg - 1> to '<method>' (<msg>)": arg counts self, the
 * message does not, as a method call reads. */
int lsk_argerror(lua_State *L, int arg, const char *method, const char *msg);
/* luaL_checklstring / luaL_optlstring ("" when none) with that message. */
const char *lsk_checklstring(lua_State *L, int arg, const char *method, size_t *len);
const char *lsk_optlstring(lua_State *L, int arg, const char *method, size_t *len);
void lsk_checktable(lua_State *L, int arg, const char *method);
/* Push nil, "timeout" / nil, "closed" and return 2. */
int lsk_timeout_result(lua_State *L);
int lsk_closed_result(lua_State *L);
/* Index of name in the NULL-terminated names, or -1. */
int lsk_find_name(const char *const names[], const char *name);
/* The index of the name argument at idx among names (def when absent and
 * def is not NULL); raises "unknown <what> 'x'" otherwise. */
int lsk_check_name(lua_State *L, int idx, const char *what,
                   const char *const names[], const char *def);
/* Push the errno table. */
void lsk_push_errno_table(lua_State *L);

/* ---- names and addresses (addr.c) ----------------------------------- */

int lsk_check_family(lua_State *L, int idx, int def);
int lsk_check_type(lua_State *L, int idx, int def);
const char *lsk_family_name(int family);
const char *lsk_type_name(int type);
int lsk_check_port(lua_State *L, int idx);

typedef struct lsk_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} lsk_addr;

/* Flags of lsk_get_addr. */
#define LSK_ADDR_PASSIVE 1 /* resolve for bind (AI_PASSIVE) */
#define LSK_ADDR_NOPORT 2  /* the port may be omitted (raw sockets): 0 */

/* Read an address for a socket of `family` from the arguments at idx
 * (host and port for inet/inet6, a path for unix, an interface name for
 * packet). On success returns 0 and fills out; on a failure the caller
 * should report (resolution, unknown interface) pushes nil, message
 * [, errno] and returns the number of results pushed. `what` names the
 * operation for messages. Raises on malformed arguments. */
int lsk_get_addr(lua_State *L, int idx, int family, int flags,
                 const char *what, lsk_addr *out);
/* Write "127.0.0.1:80", "[::1]:80" into buf. */
void lsk_format_addr(const struct sockaddr *sa, socklen_t salen, char *buf,
                     size_t len);
/* Push addr, port, family (3 values) for sa; returns the count: 3 for
 * inet, inet6 and packet (interface name, ethertype, "packet"), 1 for
 * unix (the path). */
int lsk_push_addr(lua_State *L, const struct sockaddr *sa, socklen_t len);
/* The same without the family: 2 values (addr, port) or 1 (the path). */
int lsk_push_addr_port(lua_State *L, const struct sockaddr *sa, socklen_t len);
/* An inet or inet6 address as lsk_push_addr_port writes it, into host
 * (LSK_HOST_TEXT bytes are enough): its port, or -1 for another family. */
#define LSK_HOST_TEXT 64
int lsk_inet_text(const struct sockaddr *sa, char *host, size_t len);
/* A string argument that C reads up to its terminator (an address, a
 * name, a path): one with a zero byte inside raises ("<what> contains a
 * zero byte") rather than being cut short there, which would name
 * something else. */
const char *lsk_check_cstring(lua_State *L, int idx, const char *what);
/* What is wrong with the text of an address for a family-socket (a unix
 * path too long or with a zero byte, an inet address with a zero byte),
 * or NULL: the checks lsk_get_addr raises for, for callers that name the
 * error themselves. */
const char *lsk_addr_text_problem(int family, const char *text, size_t len);
/* getaddrinfo's arguments (host, service [, hints] at 1..3), read once,
 * and its results pushed as lsock.getaddrinfo returns them; resolve.c
 * runs the same query on a worker thread. The strings point into the
 * Lua arguments. */
struct addrinfo;
typedef struct lsk_gai_query {
    const char *host, *service;
    char portstr[8];
    int family, socktype, flags; /* the hints */
} lsk_gai_query;
void lsk_gai_args(lua_State *L, lsk_gai_query *q);
int lsk_gai_results(lua_State *L, const lsk_gai_query *q, int err, struct addrinfo *res);
/* Module functions */
int lsk_getaddrinfo(lua_State *L);
int lsk_resolve(lua_State *L);       /* core._resolve(host, service [, hints]) */
void lsk_resolve_open(lua_State *L); /* creates the query metatable */
int lsk_getnameinfo(lua_State *L);

/* ---- the stream engine (stream.c) ----------------------------------- */

/* Largest piece handed to one write. Over loopback TCP, 16 KiB writes
 * moved about 1.4x the bytes per second of 64 KiB ones (the receiving
 * core copies one piece out while the sender copies the next in) at a few
 * more system calls; unix sockets were the same either way. */
#define LSK_WRITE_STEP (16 * 1024)

void lsk_stream_init(lsk_stream *st, int fd, const lsk_io *io);
/* Lua-facing operations on the stream of the object at index 1; the
 * arguments start at index 2. Each returns the number of results. */
int lsk_stream_receive(lua_State *L, lsk_stream *st, void *obj);
/* receiveuntil(delimiter [, prefix [, max]]): receive's rules, the bytes
 * before the delimiter, which is consumed. */
int lsk_stream_receiveuntil(lua_State *L, lsk_stream *st, void *obj);
int lsk_stream_recv(lua_State *L, lsk_stream *st, void *obj);
/* recv without consuming: the bytes stay buffered for the next read. */
int lsk_stream_peek(lua_State *L, lsk_stream *st, void *obj);
int lsk_stream_send(lua_State *L, lsk_stream *st, void *obj);
/* sendfile(file [, offset [, count]]) (sendfile.c); plain: st writes to
 * the socket itself, so the kernel may copy the file (sendfile(2)). */
int lsk_stream_sendfile(lua_State *L, lsk_stream *st, void *obj, int plain);
/* The results of a write that failed with err (ETIMEDOUT for a wait that
 * ran out) after `last` bytes (send: the index of the last byte sent):
 * nil, "timeout" | "closed" | "<what>: <text>", errno, last. */
int lsk_write_result(lua_State *L, lsk_stream *st, void *obj, int err, const char *what,
                     lua_Integer last);
int lsk_stream_settimeout(lua_State *L, lsk_stream *st);
/* nil, message, errno for the transport failure err of st (obj its
 * object): "<what>: <os text>", or for LSK_ETRANSPORT the transport's own
 * message and no errno. */
int lsk_stream_fail(lua_State *L, lsk_stream *st, void *obj, int err, const char *what);
/* getfd(), dirty(), getstats(), events() and timeout() of every stream
 * object. */
int lsk_stream_getfd(lua_State *L, lsk_stream *st);
int lsk_stream_dirty(lua_State *L, lsk_stream *st);
int lsk_stream_getstats(lua_State *L, lsk_stream *st);
int lsk_stream_events(lua_State *L, lsk_stream *st);
int lsk_stream_timeout(lua_State *L, lsk_stream *st);
void lsk_push_events(lua_State *L, int want);
/* Wait for `want` within d; on a wait that ran out records `want` as the
 * pending operation's events. Returns what lsk_wait returns. */
int lsk_stream_wait(lsk_stream *st, int want, lsk_deadline *d);
/* The i, j of send(data, i, j) at arguments 3 and 4, normalized as
 * string.sub does (i > j: nothing to send). */
void lsk_send_range(lua_State *L, const char *method, size_t len, lua_Integer *pi, lua_Integer *pj);

/* ---- sockets (socket.c, options.c) ---------------------------------- */

void lsk_socket_open(lua_State *L);   /* creates the metatable */
int lsk_socket_new(lua_State *L);     /* lsock.socket(...) */
int lsk_socket_tcp(lua_State *L);     /* lsock.tcp([family]) */
int lsk_socket_fromfd(lua_State *L);  /* lsock.fromfd(fd, ...) */
/* err (an errno value) says descriptors ran out (EMFILE, ENFILE): then
 * sockets dropped without close() may hold the ones needed, so this
 * collects them (a full collection) and returns 1: the caller tries once
 * more. Otherwise 0. Every call that makes a descriptor goes through it. */
int lsk_collected_for_fds(lua_State *L, int err);
/* Push a socket object owning fd; raises only on memory exhaustion. */
lsk_socket *lsk_socket_push(lua_State *L, int fd, int family, int type,
                            int protocol);
/* The socket at idx, or NULL. */
lsk_socket *lsk_tosocket(lua_State *L, int idx);
/* Close s (idempotent), and the TLS stream over it. */
void lsk_socket_close(lsk_socket *s);
int lsk_socket_udp(lua_State *L);     /* lsock.udp([family]) */
int lsk_socketpair(lua_State *L);     /* lsock.socketpair([type]) */
int lsk_setoption(lua_State *L, lsk_socket *s);
int lsk_getoption(lua_State *L, lsk_socket *s);
/* A programmer error: method called on the wrong kind of socket. */
int lsk_wrong_kind(lua_State *L, const lsk_socket *s, const char *method,
                   const char *expected);
/* nil, "<verb> <address>: <os text>", errno */
int lsk_fail_at(lua_State *L, int err, const char *verb, const lsk_addr *a);

/* ---- messages (dgram.c): dgram, seqpacket, raw and packet sockets ---- */

/* lsk_get_addr flags for a destination of s: raw and ICMP sockets have
 * no ports, so the port may be left out. */
int lsk_addr_flags(const lsk_socket *s);
int lsk_msg_send(lua_State *L, lsk_socket *s);  /* send on a connected one */
int lsk_msg_recv(lua_State *L, lsk_socket *s);  /* recv([max]) */
int lsk_msg_sendto(lua_State *L, lsk_socket *s);
int lsk_msg_recvfrom(lua_State *L, lsk_socket *s);
int lsk_msg_sendmany(lua_State *L, lsk_socket *s);
int lsk_msg_recvmany(lua_State *L, lsk_socket *s);
/* setoption("udp_gro", on) calls this before it asks the kernel: the
 * state that splits coalesced reads exists before any can arrive. Raises
 * on memory exhaustion. */
void lsk_msg_gro(lua_State *L, lsk_socket *s, int on);
void lsk_msg_free(lsk_socket *s); /* at close */

/* ---- pollers (poller.c over pollset.c) and select (select.c) ----------- */

void lsk_poller_open(lua_State *L);   /* creates the metatable */
struct lsk_backend;
/* The backend named by the argument at idx (nil: the default), or NULL
 * after pushing nil and "<what>: backend 'x' is not available here". */
const struct lsk_backend *lsk_check_backend(lua_State *L, int idx, const char *what);
int lsk_poller_new(lua_State *L);     /* lsock.poller([backend]) */
int lsk_select(lua_State *L);         /* lsock.select(r, w [, timeout]) */
/* A wait's timeout argument in seconds as milliseconds for poll/epoll:
 * nil or negative -1 (forever), rounded up, capped. */
int lsk_check_wait_ms(lua_State *L, int idx);
/* A read left input buffered in st: pollers and the loop report it
 * readable (pollset.c). */
void lsk_poll_dirty(lsk_stream *st);
/* After a read: input left for later is readable for the pollers at
 * once. Returns nresults, the read's results. */
static inline int lsk_read_done(lsk_stream *st, int nresults) {
    if (st->polls != NULL && lsk_stream_has_input(st)) lsk_poll_dirty(st);
    return nresults;
}
/* st is closing: remove it from every poller and from the loop, while its
 * descriptor is still open (pollset.c). */
void lsk_poll_forget(lsk_stream *st);
/* The stream of an lsock socket or TLS stream at idx, or NULL. */
lsk_stream *lsk_tostream(lua_State *L, int idx);

/* ---- ancillary data (ancillary.c): unix sockets ---------------------- */

int lsk_unix_sendmsg(lua_State *L, lsk_socket *s);
int lsk_unix_recvmsg(lua_State *L, lsk_socket *s);
/* The descriptors of the SCM_RIGHTS messages in a recvmsg control buffer
 * of len bytes (msg_control, msg_controllen): up to cap of them are stored
 * in fds; returns how many. Every header length is checked against len,
 * so any bytes at all are safe to walk (a fuzz target feeds it some). */
size_t lsk_cmsg_fds(const void *control, size_t len, int *fds, size_t cap);
int lsk_unix_peercred(lua_State *L, lsk_socket *s);
int lsk_is_socket_file(lua_State *L); /* core._issocket(path) */
int lsk_chmod_socket_file(lua_State *L); /* core._chmod(path, mode) */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
