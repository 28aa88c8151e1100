/*
 * ffi.c: the fast paths of stream objects as plain C functions, for
 * LuaJIT's FFI (lua/lsock/ffi.lua). LuaJIT never compiles a call of a Lua
 * C function, so a loop around receive("l") runs interpreted; a call
 * through the FFI is compiled. Each function here does the part of a
 * method that needs no Lua state, on the same buffer and engine: a line,
 * a count or what is buffered, or a write that needs no wait. When it
 * cannot (nothing buffered, a wait, an error, anything unusual) it
 * answers 0 and the Lua side calls the method itself, which does all the
 * rest: waits, timeouts, partial results, errors, the loop.
 *
 * obj is the payload of a userdata whose metatable the Lua side checked:
 * an lsock.socket (kind 0) or an lsock.tls (kind 1), both of which begin
 * with their lsk_stream. The datagram functions take sockets only.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* The stream of obj when a stream method may run on it now. */
static lsk_stream *usable(void *obj, int kind) {
    lsk_stream *st = (lsk_stream *)obj;
    if (kind == 0) {
        const lsk_socket *s = (const lsk_socket *)obj;
        if (s->type != SOCK_STREAM || s->tls != NULL) return NULL;
    }
    return st->fd >= 0 ? st : NULL;
}

/* n bytes were taken: 1, or 2 when that emptied the buffer, whose block
 * then waits for lsk_ffi_drained (the caller copies the bytes first). */
static int taken(lsk_stream *st, size_t n) {
    st->pending = 0;
    st->in.start += n;
    if (st->in.start < st->in.end) {
        lsk_read_done(st, 0);
        return 1;
    }
    return 2;
}

/* A line (eol: with its end of line) of at most max bytes of content
 * (max < 0: any) in the buffer: *p, *n. */
static int lsk_ffi_line(void *obj, int kind, int eol, long long max, const char **p, size_t *n) {
    lsk_stream *st = usable(obj, kind);
    const char *head, *nl;
    size_t len, k, content;
    if (st == NULL || (len = lsk_buffer_len(&st->in)) == 0) return 0;
    head = lsk_buffer_head(&st->in);
    if ((nl = memchr(head, '\n', len)) == NULL) return 0;
    k = (size_t)(nl - head);
    content = k > 0 && head[k - 1] == '\r' ? k - 1 : k;
    if (max >= 0 && content > (unsigned long long)max) return 0; /* "too long": the method says it */
    *p = head;
    *n = eol ? k + 1 : content;
    return taken(st, k + 1);
}

/* Exactly count (> 0) bytes, when buffered: *p. */
static int lsk_ffi_count(void *obj, int kind, size_t count, const char **p) {
    lsk_stream *st = usable(obj, kind);
    if (st == NULL || count == 0 || lsk_buffer_len(&st->in) < count) return 0;
    *p = lsk_buffer_head(&st->in);
    return taken(st, count);
}

/* recv(max): what is buffered, 1..max bytes: *p, *n. */
static int lsk_ffi_recv(void *obj, int kind, size_t max, const char **p, size_t *n) {
    lsk_stream *st = usable(obj, kind);
    size_t len;
    if (st == NULL || max == 0 || (len = lsk_buffer_len(&st->in)) == 0) return 0;
    *p = lsk_buffer_head(&st->in);
    *n = len < max ? len : max;
    return taken(st, *n);
}

/* After a 2: the emptied block goes or stays as the engine's policy says. */
static void lsk_ffi_drained(void *obj) {
    lsk_stream *st = (lsk_stream *)obj;
    lsk_buffer_consume(&st->in, 0);
    lsk_read_done(st, 0);
}

/* send(data): as much as the transport takes without waiting (what went,
 * 0..len); the method goes on from there when it is not all. */
static size_t lsk_ffi_send(void *obj, int kind, const char *data, size_t len) {
    lsk_stream *st = usable(obj, kind);
    size_t done = 0;
    if (st == NULL) return 0;
    while (done < len) {
        int want = LSK_WANT_WRITE;
        size_t step = len - done < LSK_WRITE_STEP ? len - done : LSK_WRITE_STEP;
        long r = st->io->write(obj, data + done, step, &want);
        if (r <= 0) {
            /* A failure (not a wait) is the method's to report, as the
             * write that met it would have: the error is not lost to a
             * second write (a reset read once would become EPIPE). */
            if (r < 0 && r != -EAGAIN && r != -EWOULDBLOCK) st->deferred = (int)-r;
            break;
        }
        done += (size_t)r;
        st->sent += (unsigned long long)r;
    }
    if (done == len) st->pending = 0;
    return done;
}

/* ---- datagram sockets ------------------------------------------------ */

/* A plain datagram socket (inet, inet6, unix; not under udp_gro, whose
 * reads hold several datagrams) the FFI may read or write now. */
static lsk_socket *dgram_usable(void *obj) {
    lsk_socket *s = (lsk_socket *)obj;
    if (s->type != SOCK_DGRAM || s->tls != NULL || s->st.fd < 0 || s->gro != NULL) return NULL;
    if (s->family != AF_INET && s->family != AF_INET6 && s->family != AF_UNIX) return NULL;
    return s;
}

/* A failure is the method's to report (as for streams); a wait is its to
 * do. Either way: -1, the method takes over. */
static long dgram_handover(lsk_socket *s, long r) {
    if (r != -EAGAIN && r != -EWOULDBLOCK) s->st.deferred = (int)-r;
    return -1;
}

/* recv (from == 0) or recvfrom of one datagram into the socket's receive
 * block, which must already have room for max + 1 bytes (the method
 * makes it): its length, *p and *trunc, and for recvfrom the sender in
 * host and *port (inet and inet6 only); -1 to leave it to the method. */
static long dgram_recv(void *obj, size_t max, int from, const char **p, int *trunc, char *host,
                       int *port) {
    lsk_socket *s = dgram_usable(obj);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    long r;
    if (s == NULL || max == 0 || (from && s->family == AF_UNIX)) return -1;
    if (s->st.in.data == NULL || s->st.in.cap < max + 1) return -1;
    r = from ? lsk_recvfrom(s->st.fd, s->st.in.data, max + 1, (struct sockaddr *)&ss, &len)
             : lsk_recv(s->st.fd, s->st.in.data, max + 1);
    if (r < 0) return dgram_handover(s, r);
    if (from && (len < sizeof(sa_family_t) ||
                 (*port = lsk_inet_text((struct sockaddr *)&ss, host, LSK_HOST_TEXT)) < 0)) {
        /* Read, but not an address this path writes: cannot happen on an
         * inet socket; the datagram must not be lost, so fail loudly. */
        s->st.deferred = EAFNOSUPPORT;
        return -1;
    }
    *trunc = (size_t)r > max;
    if (*trunc) r = (long)max;
    s->st.received += (unsigned long long)r;
    s->st.pending = 0;
    *p = s->st.in.data;
    return r;
}

/* send of one datagram on a connected socket: the bytes sent, or -1. */
static long dgram_send(void *obj, const char *data, size_t len) {
    lsk_socket *s = dgram_usable(obj);
    long r;
    if (s == NULL) return -1;
    if ((r = lsk_send(s->st.fd, data, len)) < 0) return dgram_handover(s, r);
    s->st.sent += (unsigned long long)r;
    s->st.pending = 0;
    return r;
}

/* The table the Lua side casts (ffi.cast("struct lsk_ffi_api *", ...)).
 * It is written once, here: the same text declares it to C and, as a
 * string, to the FFI (core._ffi's second result), so the two cannot
 * drift apart. */
#define LSK_STRING(...) #__VA_ARGS__
#define LSK_EXPANDED_STRING(...) LSK_STRING(__VA_ARGS__) /* the macro's text, not its name */
#define LSK_FFI_API                                                                               \
    struct lsk_ffi_api {                                                                          \
        int (*line)(void *obj, int kind, int eol, long long max, const char **p, size_t *n);      \
        int (*count)(void *obj, int kind, size_t count, const char **p);                          \
        int (*recv)(void *obj, int kind, size_t max, const char **p, size_t *n);                  \
        void (*drained)(void *obj);                                                               \
        size_t (*send)(void *obj, int kind, const char *data, size_t len);                        \
        long (*dgram_recv)(void *obj, size_t max, int from, const char **p, int *trunc,           \
                           char *host, int *port);                                                \
        long (*dgram_send)(void *obj, const char *data, size_t len);                              \
    };

LSK_FFI_API

static const struct lsk_ffi_api api = {
    lsk_ffi_line, lsk_ffi_count, lsk_ffi_recv, lsk_ffi_drained, lsk_ffi_send,
    dgram_recv, dgram_send,
};

/* core._ffi(): the address of that table, as a light userdata, its
 * declaration for ffi.cdef, and the room dgram_recv's host needs. */
int lsk_ffi_table(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&api);
    lua_pushliteral(L, LSK_EXPANDED_STRING(LSK_FFI_API));
    lua_pushinteger(L, LSK_HOST_TEXT);
    return 3;
}
