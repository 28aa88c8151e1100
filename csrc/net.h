/*
 * net.h: the plain C layer under the Lua binding. Nothing declared here
 * knows about Lua: descriptors, waiting, deadlines, the read buffer and
 * addresses. Functions return 0 or a positive errno value; they never
 * block longer than the deadline they are given and retry EINTR.
 */
#ifndef LSOCK_NET_H
#define LSOCK_NET_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

/* What this header declares is internal to the module: hidden, whatever
 * flags build it (LuaRocks builds without -fvisibility=hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Storage of one per thread (several Lua states may run on several
 * threads): the GNU keyword that C99 compilers have, or C11's. The GNU
 * one asks for the initial-exec model: a plain load, where the general
 * model costs a call on every access from a shared object (a few per
 * round trip of the loop); lsock's thread-local data is under 100 bytes,
 * well within what the C library keeps for modules loaded later. */
#if defined(__GNUC__)
#define LSK_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))
#define LSK_HAVE_TLS 1
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define LSK_THREAD_LOCAL _Thread_local
#define LSK_HAVE_TLS 1
#else
#define LSK_THREAD_LOCAL /* none: run loops on one thread only */
#endif

/* ---- clocks and deadlines (timeout.c) ------------------------------- */

double lsk_monotime(void);
double lsk_walltime(void);
void lsk_sleep(double seconds);

/* A socket's configured limits; a negative value means "no limit". */
typedef struct lsk_timeout {
    double block; /* longest single wait for readiness */
    double total; /* longest whole call */
} lsk_timeout;

/* The clock of one call: its start, read only when a total limit is set,
 * so that a call that never has to wait never reads the clock otherwise. */
typedef struct lsk_deadline {
    const lsk_timeout *tm;
    double start; /* < 0: not needed */
    int nowait;   /* never wait at all: a scheduler waits instead */
} lsk_deadline;

void lsk_deadline_init(lsk_deadline *d, const lsk_timeout *tm, int nowait);
/* Milliseconds the next wait may last: -1 forever, 0 do not wait. */
int lsk_deadline_ms(lsk_deadline *d);
/* Whole milliseconds until `end` (monotonic seconds), rounded up; 0 once
 * it has passed. For a wait a signal cut short: it goes on with what it
 * has left, so that signals neither restart a timeout nor end it early. */
int lsk_ms_until(double end);
/* When the whole call must end (monotonic seconds), or -1 for never. */
double lsk_deadline_end(const lsk_deadline *d);

/* ---- descriptors (sys.c) -------------------------------------------- */

#define LSK_WANT_READ 1
#define LSK_WANT_WRITE 2

/* Wait until fd is ready for `want`; 0 when ready, ETIMEDOUT when the
 * deadline passed, another errno on failure. */
int lsk_wait(int fd, int want, lsk_deadline *d);
/* Whether fd is ready for `want` right now (a zero-timeout poll). */
int lsk_ready(int fd, int want);
/* Whether the peer of a connected fd has shut down its sending side
 * (POLLRDHUP); where that cannot be told, 1. */
int lsk_peer_gone(int fd);

/* socket(2)/accept(2) with close-on-exec and non-blocking set atomically
 * where the system allows it. Return the descriptor or -errno. */
int lsk_sys_socket(int family, int type, int protocol);
int lsk_sys_accept(int fd, struct sockaddr *sa, socklen_t *len);
/* socketpair(2) the same way; returns 0 or an errno value. */
int lsk_sys_socketpair(int family, int type, int protocol, int fds[2]);
int lsk_setup_fd(int fd); /* non-blocking + close-on-exec + no SIGPIPE */
int lsk_close(int fd);

/* Passed by every send and receive call that must not wait: with it a
 * call does not wait even on a blocking descriptor (a kernel wait in
 * stream.c may have made one blocking). Where it does not exist,
 * lsk_kernel_waits is 0 and descriptors stay non-blocking. */
#ifdef MSG_DONTWAIT
#define LSK_DONTWAIT MSG_DONTWAIT
#define lsk_kernel_waits 1
#else
#define LSK_DONTWAIT 0
#define lsk_kernel_waits 0
#endif

/* send/recv that never raise SIGPIPE and never wait; >= 0 bytes or
 * -errno. */
long lsk_send(int fd, const char *p, size_t n);
long lsk_recv(int fd, char *p, size_t n);
/* The same, waiting as a blocking descriptor does: for a kernel wait,
 * with SO_SNDTIMEO/SO_RCVTIMEO set by lsk_set_wait_ms. A signal gives
 * -EINTR (not retried here: see stream.c). */
long lsk_send_wait(int fd, const char *p, size_t n);
long lsk_recv_wait(int fd, char *p, size_t n);
/* O_NONBLOCK off (blocking != 0) or on; 0 or errno. */
int lsk_set_blocking(int fd, int blocking);
/* Whether the descriptor is blocking now (O_NONBLOCK clear). */
int lsk_is_blocking(int fd);
/* SO_SNDTIMEO (write != 0) or SO_RCVTIMEO to ms (0: no limit); 0 or errno. */
int lsk_set_wait_ms(int fd, int write, int ms);
long lsk_sendto(int fd, const char *p, size_t n, const struct sockaddr *sa, socklen_t len);
long lsk_recvfrom(int fd, char *p, size_t n, struct sockaddr *sa, socklen_t *len);
struct msghdr;
/* sendmsg/recvmsg the same way (sendmsg with MSG_NOSIGNAL; recvmsg with
 * a control buffer takes received descriptors close-on-exec where the
 * system can do it atomically). */
long lsk_sendmsg(int fd, const struct msghdr *m);
long lsk_recvmsg(int fd, struct msghdr *m);

/* ---- the read buffer (buffer.c) -------------------------------------
 * Bytes received and not yet handed to Lua live in data[start, end).
 * The block is allocated when a read needs it and released when it is
 * drained, so an idle connection holds no buffer at all. One exception
 * keeps bulk reads from allocating a block per call: when the last read
 * filled all the room it had (`more`: the kernel very likely holds more),
 * a drained block is kept for the next read, and the reader frees it as
 * soon as a read finds nothing. */
typedef struct lsk_buffer {
    char *data;
    size_t start, end, cap;
    int more;
} lsk_buffer;

#define lsk_buffer_len(b) ((b)->end - (b)->start)
/* (No block, no offset: NULL + 0 is undefined behaviour in C.) */
#define lsk_buffer_head(b) ((b)->data != NULL ? (const char *)(b)->data + (b)->start : "")

void lsk_buffer_consume(lsk_buffer *b, size_t n);
void lsk_buffer_free(lsk_buffer *b);
/* Free the block when it holds nothing (nothing more is coming now). */
void lsk_buffer_release(lsk_buffer *b);
/* Put n bytes in front of the unread ones; 0 when memory ran out. */
int lsk_buffer_prepend(lsk_buffer *b, const char *p, size_t n);
/* Make room for at least `room` more bytes after end; returns the free
 * space at end (>= room) or 0 when memory is exhausted. */
size_t lsk_buffer_prepare(lsk_buffer *b, size_t room);

/* ---- transports ------------------------------------------------------
 * The reader and the writer in stream.c work over this interface, so a
 * TLS stream reuses them with its own read/write. Each returns bytes
 * moved (> 0), 0 at end of stream (read only), or -errno; on -EAGAIN it
 * stores in *want which readiness to wait for (a TLS read may need the
 * descriptor writable). The stream's fd is what is waited on. */
struct lsk_stream;
typedef struct lsk_io {
    long (*read)(void *obj, char *dst, size_t n, int *want);
    long (*write)(void *obj, const char *src, size_t n, int *want);
    /* A read that returned less than asked emptied the kernel's queue
     * (true of a plain socket; not of TLS, which returns a record at a
     * time and may hold more). */
    int short_read_drains;
    /* Whether the transport itself holds input that a read can return
     * without waiting (TLS: records read from the kernel and not yet
     * returned), so that pollers report it readable; NULL: never. It is
     * given the object's stream, the first member of every object. */
    int (*holds_input)(const struct lsk_stream *st);
    /* The message of the last -LSK_ETRANSPORT (NULL when it has none). */
    const char *(*message)(void *obj);
} lsk_io;

/* What a transport's read or write returns (negated) for a failure of
 * its own protocol rather than of the system: io->message says what. */
#define LSK_ETRANSPORT 0x10000

/* ---- errors (errors.c) ---------------------------------------------- */

/* The operating system's text for err, with a lower-case first letter. */
void lsk_strerror(int err, char *buf, size_t len);
/* Lower-case the first letter of a message, unless it starts an acronym. */
void lsk_lower_first(char *msg);
/* Whether err means the connection is gone (reset, or shut down): what
 * connection-oriented sockets report as "closed". */
int lsk_is_reset(int err);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
