/*
 * tls_stream.c: the lsock.tls object, a TLS connection over a stream
 * socket that it owns. Its transport (lsk_io) is OpenSSL over the
 * socket's descriptor, so the reader, the writer, the timeouts, the
 * pollers and the loop of stream.c, pollset.c and sched.c serve it as
 * they serve a socket: an operation that would wait records whether
 * OpenSSL waits to read or to write and answers "timeout" or parks.
 *
 * OpenSSL talks to the descriptor through a BIO of our own, so writes
 * never raise SIGPIPE, the errno of a failure is kept, and bytes the
 * socket's own reader had buffered before the wrap (a STARTTLS reply
 * read ahead) are the first the TLS layer reads. OpenSSL's error queue
 * is emptied before and after every call, so no failure leaks into the
 * next call or another stream.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* User value slots: what the stream keeps alive. */
enum { UV_SOCKET = 1, UV_CONTEXT, UV_SERVERNAME };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static BIO_METHOD *bio_method = NULL;
static int ex_index = -1;

/* ---- the BIO over the socket's descriptor --------------------------------- */

/* The stream of b, its retry flags cleared; NULL once it is closed. */
static lsk_tls *bio_stream(BIO *b) {
    lsk_tls *t = (lsk_tls *)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (t->st.fd >= 0) return t;
    t->oserr = EBADF;
    return NULL;
}

static int bio_write(BIO *b, const char *p, int n) {
    lsk_tls *t = bio_stream(b);
    long r;
    if (t == NULL) return -1;
    r = lsk_send(t->st.fd, p, (size_t)n);
    if (r >= 0) return (int)r;
    if (r == -EAGAIN || r == -EWOULDBLOCK) BIO_set_retry_write(b);
    else t->oserr = (int)-r;
    return -1;
}

static int bio_read(BIO *b, char *p, int n) {
    lsk_tls *t = bio_stream(b);
    long r;
    if (t == NULL) return -1;
    if (t->sock != NULL && lsk_buffer_len(&t->sock->st.in) > 0) {
        lsk_buffer *in = &t->sock->st.in;
        size_t k = lsk_buffer_len(in) < (size_t)n ? lsk_buffer_len(in) : (size_t)n;
        memcpy(p, lsk_buffer_head(in), k);
        lsk_buffer_consume(in, k);
        if (lsk_buffer_len(in) == 0) lsk_buffer_free(in);
        return (int)k;
    }
    r = lsk_recv(t->st.fd, p, (size_t)n);
    if (r >= 0) return (int)r;
    if (r == -EAGAIN || r == -EWOULDBLOCK) BIO_set_retry_read(b);
    else t->oserr = (int)-r;
    return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static void init_once(void) {
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "lsock socket");
    if (bio_method == NULL) return;
    if (!BIO_meth_set_write(bio_method, bio_write) || !BIO_meth_set_read(bio_method, bio_read) ||
        !BIO_meth_set_ctrl(bio_method, bio_ctrl) || !BIO_meth_set_create(bio_method, bio_create)) {
        BIO_meth_free(bio_method);
        bio_method = NULL;
    }
}

#if defined(__GNUC__)
/* The method lives as long as the module: it is freed when the module
 * is unloaded (lua_close unloads it after every object is collected) or
 * at exit, when nothing uses it any more. */
__attribute__((destructor)) static void free_bio_method(void) {
    BIO_meth_free(bio_method);
    bio_method = NULL;
}
#endif

int lsk_tls_index(void) {
    pthread_once(&once, init_once);
    return ex_index;
}

/* ---- failures ------------------------------------------------------------------ */

/* OpenSSL failed with SSL_get_error's e while doing `what`: the stream's
 * transport result (0 at a clean end, -errno, or -LSK_ETRANSPORT with the
 * words in t->msg). A fatal failure repeats on every later call. */
static long failure(lsk_tls *t, int e, const char *what) {
    unsigned long q = ERR_peek_error();
    long r;
    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return 0; /* the peer's close_notify */
    }
    if (e == SSL_ERROR_SYSCALL && q == 0) {
        /* The system failed, or the peer closed without close_notify. */
        r = t->oserr != 0 ? -t->oserr : -ECONNRESET;
    } else if (ERR_GET_LIB(q) == ERR_LIB_SSL && ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        /* A close without close_notify: the data may have been cut short,
         * so it ends the stream as a reset does, not as an end. */
        r = -ECONNRESET;
    } else if (ERR_GET_LIB(q) == ERR_LIB_SSL && ERR_GET_REASON(q) == SSL_R_PROTOCOL_IS_SHUTDOWN) {
        /* Sending after shutdown("send"): that direction only is closed. */
        ERR_clear_error();
        return -EPIPE;
    } else if (t->own_msg) {
        r = -LSK_ETRANSPORT; /* the SNI selection's own words */
    } else {
        long verify = t->state != TLS_DONE ? SSL_get_verify_result(t->ssl) : X509_V_OK;
        lsk_tls_error(t->msg, sizeof t->msg, t->state != TLS_DONE ? "tls handshake" : what, verify);
        r = -LSK_ETRANSPORT;
    }
    ERR_clear_error();
    t->fatal = 1;
    t->fail = (int)r;
    if (t->state != TLS_DONE) t->state = TLS_FAILED;
    return r;
}

/* SSL_get_error's "try again" answers as a want, or 0 for the others. */
static int want_of(int e) {
    if (e == SSL_ERROR_WANT_READ) return LSK_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE) return LSK_WANT_WRITE;
    return 0;
}

/* One try at the handshake: 0 when done, -EAGAIN with *want, or a
 * failure as failure() gives it. */
static long handshake_step(lsk_tls *t, int *want) {
    int r, e;
    if (t->state == TLS_DONE) return 0;
    if (t->fatal) return t->fail;
    ERR_clear_error();
    t->oserr = 0;
    r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->state = TLS_DONE;
        return 0;
    }
    e = SSL_get_error(t->ssl, r);
    if ((*want = want_of(e)) != 0) {
        ERR_clear_error();
        return -EAGAIN;
    }
    r = (int)failure(t, e, "tls handshake");
    return r == 0 ? -ECONNRESET : r; /* a close_notify instead of a handshake */
}

/* ---- the transport ------------------------------------------------------------- */

/* Reads as many records as OpenSSL already holds, up to n bytes, so that
 * what is left inside OpenSSL is at most a record still arriving (or
 * more than n bytes, which holds_input reports). */
static long tls_read(void *obj, char *dst, size_t n, int *want) {
    lsk_tls *t = (lsk_tls *)obj;
    size_t got = 0, k;
    long h;
    int e;
    if ((h = handshake_step(t, want)) != 0) return h;
    if (t->fatal) return t->fail;
    ERR_clear_error();
    t->oserr = 0;
    for (;;) {
        if (SSL_read_ex(t->ssl, dst + got, n - got, &k) == 1) {
            got += k;
            if (got == n || !SSL_has_pending(t->ssl)) return (long)got;
            continue;
        }
        e = SSL_get_error(t->ssl, 0);
        if ((*want = want_of(e)) != 0) {
            ERR_clear_error();
            return got > 0 ? (long)got : -EAGAIN;
        }
        h = failure(t, e, "tls receive");
        /* Bytes before the failure are returned first; a fatal failure
         * is repeated by the next call, an end by OpenSSL itself. */
        return got > 0 ? (long)got : h;
    }
}

static long tls_write(void *obj, const char *src, size_t n, int *want) {
    lsk_tls *t = (lsk_tls *)obj;
    size_t k;
    long h;
    int e;
    if ((h = handshake_step(t, want)) != 0) return h;
    if (t->fatal) return t->fail;
    if (t->held > 0 && (n < t->held || memcmp(src, t->held_head, t->held < 16 ? t->held : 16) != 0)) {
        /* OpenSSL has encrypted the bytes of the write that had to wait
         * and sends them whatever comes next: other bytes now would be
         * counted as sent and never go. */
        snprintf(t->msg, sizeof t->msg,
                 "tls send: after a timeout, send must go on with the same data (from the index it returned + 1)");
        return -LSK_ETRANSPORT;
    }
    ERR_clear_error();
    t->oserr = 0;
    if (SSL_write_ex(t->ssl, src, n, &k) == 1) {
        t->held = 0;
        return (long)k;
    }
    e = SSL_get_error(t->ssl, 0);
    if ((*want = want_of(e)) != 0) {
        ERR_clear_error();
        if (t->held == 0) {
            t->held = n; /* at most one record: the writer's pieces are 16 KiB */
            memcpy(t->held_head, src, n < 16 ? n : 16);
        }
        return -EAGAIN;
    }
    h = failure(t, e, "tls send");
    return h == 0 ? -EPIPE : h;
}

/* What OpenSSL holds can be read now, unless the last read waited for
 * more: then it is part of a record still arriving (a read returns
 * every complete record OpenSSL holds before it waits), and reporting it
 * would make select and pollers spin until the record is whole. */
static int tls_holds_input(const lsk_stream *st) {
    const lsk_tls *t = (const lsk_tls *)st;
    return t->ssl != NULL && !(st->pending & LSK_WANT_READ) && SSL_has_pending(t->ssl);
}

static const char *tls_message(void *obj) {
    lsk_tls *t = (lsk_tls *)obj;
    return t->msg[0] != '\0' ? t->msg : NULL;
}

static const lsk_io tls_io = {tls_read, tls_write, 0, tls_holds_input, tls_message};

/* ---- the object ---------------------------------------------------------------- */

lsk_tls *lsk_tls_test(lua_State *L, int idx) {
    lsk_tls *t = (lsk_tls *)lua_touserdata(L, idx);
    if (t == NULL || lsock_rawlen(L, idx) != sizeof *t) return NULL;
    return t->magic == LSK_TLS_MAGIC ? t : NULL;
}

static lsk_tls *check_tls(lua_State *L) {
    lsk_tls *t = lsk_tls_test(L, 1);
    return t != NULL ? t : (lsk_tls *)luaL_checkudata(L, 1, LSOCK_TLS);
}

/* Let go of OpenSSL's state; the socket is left to the caller. */
static void release(lsk_tls *t) {
    lsk_poll_forget(&t->st);
    if (t->ssl != NULL) {
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    free(t->sesskey);
    t->sesskey = NULL;
    t->ctx = NULL;
    t->st.fd = -1;
    t->st.pending = 0;
    lsk_buffer_free(&t->st.in);
}

void lsk_tls_detach(lsk_tls *t) {
    t->sock = NULL;
    release(t);
}

/* Input nobody will read is thrown away before the descriptor is
 * closed: closing a TCP socket with unread input resets the connection,
 * and the peer loses what it had not read yet. A TLS 1.3 client that
 * only sends always has some: the server's session tickets. */
static void drop_input(int fd) {
    char scratch[4096];
    int i;
    for (i = 0; i < 64 && lsk_recv(fd, scratch, sizeof scratch) > 0; i++) {
    }
}

/* close(): a close_notify when it can go at once, then the socket. */
static void close_tls(lsk_tls *t, int notify) {
    lsk_socket *s = t->sock;
    if (t->st.fd >= 0) drop_input(t->st.fd);
    if (notify && t->ssl != NULL && t->state == TLS_DONE && !t->fatal && t->st.fd >= 0 && !t->notified) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    release(t);
    t->sock = NULL;
    if (s != NULL) {
        s->tls = NULL;
        lsk_socket_close(s);
    }
}

static int tls_gc(lua_State *L) {
    close_tls((lsk_tls *)luaL_checkudata(L, 1, LSOCK_TLS), 0);
    return 0;
}

static int tls_close(lua_State *L) {
    close_tls(check_tls(L), 1);
    lua_pushboolean(L, 1);
    return 1;
}

/* "name|peer address": whose sessions a client may resume. */
static char *session_key(lsk_socket *s, const char *servername) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[160];
    size_t n;
    char *key;
    addr[0] = '\0';
    memset(&ss, 0, sizeof ss);
    if (getpeername(s->st.fd, (struct sockaddr *)&ss, &len) == 0)
        lsk_format_addr((struct sockaddr *)&ss, len, addr, sizeof addr);
    n = strlen(servername) + strlen(addr) + 2;
    if ((key = (char *)malloc(n)) != NULL) snprintf(key, n, "%s|%s", servername, addr);
    return key;
}

static int is_ip_literal(const char *name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* The client's name: sent as SNI (not for an address, RFC 6066), and
 * checked against the certificate's DNS or IP names. The check is made
 * even when verification is off, so that verified() tells the truth. */
static int set_servername(lsk_tls *t, const char *name) {
    X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
    if (is_ip_literal(name)) return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set_tlsext_host_name(t->ssl, name) == 1 && SSL_set1_host(t->ssl, name) == 1;
}

/* core.tls_wrap(sock, context [, servername]) */
int lsk_tls_wrap(lua_State *L) {
    lsk_socket *s = lsk_tosocket(L, 1);
    lsk_tlsctx *c = lsk_tlsctx_test(L, 2);
    const char *name = luaL_optstring(L, 3, NULL);
    lsk_tls *t;
    BIO *bio;
    char msg[256];

    if (s == NULL) luaL_argerror(L, 1, "lsock socket expected");
    if (c == NULL) luaL_argerror(L, 2, "lsock.tlscontext expected");
    if (s->type != SOCK_STREAM) lsk_wrong_kind(L, s, "wrap", "stream");
    if (s->tls != NULL) luaL_argerror(L, 1, "the socket already belongs to a TLS stream");
    if (!c->server && c->verify && (name == NULL || name[0] == '\0'))
        luaL_argerror(L, 3, "a client that verifies needs the server's name (or verify = false)");
    if (name != NULL && strlen(name) > 255) luaL_argerror(L, 3, "server name longer than 255 bytes");
    if (s->st.fd < 0) return lsk_closed_result(L);
    /* OpenSSL's records go through MSG_DONTWAIT calls and poll waits */
    lsk_stream_share(&s->st);
    if (pthread_once(&once, init_once) != 0 || bio_method == NULL || ex_index < 0)
        return luaL_error(L, "tls: OpenSSL could not be set up");

    lua_settop(L, 3);
    t = (lsk_tls *)lsock_newuserdata(L, sizeof *t);
    memset(t, 0, sizeof *t);
    lsk_stream_init(&t->st, -1, &tls_io);
    t->magic = LSK_TLS_MAGIC;
    t->st.tm = s->st.tm;
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, UV_SOCKET);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, UV_CONTEXT);
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, UV_SERVERNAME);
    lsock_setuservalue(L, -2);
    luaL_getmetatable(L, LSOCK_TLS);
    lua_setmetatable(L, -2);

    ERR_clear_error();
    if ((t->ssl = SSL_new(c->ctx)) == NULL || (bio = BIO_new(bio_method)) == NULL) {
        lsk_tls_error(msg, sizeof msg, "tls wrap", X509_V_OK);
        release(t);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_ex_data(t->ssl, ex_index, t);
    t->ctx = c;
    if (c->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (name != NULL && name[0] != '\0' && !set_servername(t, name)) {
            lsk_tls_error(msg, sizeof msg, "tls wrap: server name", X509_V_OK);
            release(t);
            lua_pushnil(L);
            lua_pushstring(L, msg);
            return 2;
        }
        if (c->keep_sessions && (t->sesskey = session_key(s, name != NULL ? name : "")) != NULL)
            lsk_tlsctx_resume(c, t->sesskey, t->ssl);
    }
    ERR_clear_error();
    /* The socket is the stream's from now on: out of the pollers (the
     * stream is what waits on its descriptor), its timeout the stream's. */
    lsk_poll_forget(&s->st);
    t->st.fd = s->st.fd;
    t->sock = s;
    s->tls = t;
    return 1;
}

/* ---- methods ---------------------------------------------------------------------- */

static int tls_receive(lua_State *L) {
    lsk_tls *t = check_tls(L);
    return lsk_read_done(&t->st, lsk_stream_receive(L, &t->st, t));
}

static int tls_sendfile(lua_State *L) {
    lsk_tls *t = check_tls(L);
    return lsk_stream_sendfile(L, &t->st, t, 0); /* OpenSSL encrypts: no kernel copy */
}

static int tls_receiveuntil(lua_State *L) {
    lsk_tls *t = check_tls(L);
    return lsk_read_done(&t->st, lsk_stream_receiveuntil(L, &t->st, t));
}

static int tls_recv(lua_State *L) {
    lsk_tls *t = check_tls(L);
    return lsk_read_done(&t->st, lsk_stream_recv(L, &t->st, t));
}

static int tls_peek(lua_State *L) {
    lsk_tls *t = check_tls(L);
    return lsk_read_done(&t->st, lsk_stream_peek(L, &t->st, t));
}

static int tls_send(lua_State *L) {
    lsk_tls *t = check_tls(L);
    return lsk_stream_send(L, &t->st, t);
}

/* The results of the failed transport result r. */
static int push_failure(lua_State *L, lsk_tls *t, long r, const char *what) {
    if (r == 0 || lsk_is_reset((int)-r)) return lsk_closed_result(L);
    return lsk_stream_fail(L, &t->st, t, (int)-r, what);
}

/* A step that may have to wait: the handshake, the close_notify. */
typedef long (*tls_step)(lsk_tls *t, int *want);

static int run_step(lua_State *L, lsk_tls *t, tls_step step, const char *what) {
    lsk_deadline d;
    if (t->st.fd < 0 || t->ssl == NULL) return lsk_closed_result(L);
    t->st.pending = 0;
    lsk_deadline_init(&d, &t->st.tm, lsk_task_nowait(L, &t->st.tm));
    for (;;) {
        int want = 0, w;
        long r = step(t, &want);
        if (r == 0) {
            lua_pushboolean(L, 1);
            return 1;
        }
        if (r == -EAGAIN) {
            if ((w = lsk_stream_wait(&t->st, want, &d)) == 0) continue;
            if (w == ETIMEDOUT) return lsk_timeout_result(L);
            r = -w;
        }
        return push_failure(L, t, r, what);
    }
}

static int tls_handshake(lua_State *L) {
    int top = lua_gettop(L);
    return lsk_park_call(L, tls_handshake, top, run_step(L, check_tls(L), handshake_step, "tls handshake"));
}

/* Send close_notify (once), without waiting for the peer's. A call
 * after one that had to wait finishes writing it. */
static long notify_step(lsk_tls *t, int *want) {
    int r, e;
    long h;
    if (t->notified) return 0;
    if (t->fatal) return t->fail;
    ERR_clear_error();
    t->oserr = 0;
    r = SSL_shutdown(t->ssl);
    if (r >= 0) {
        ERR_clear_error();
        t->notified = 1;
        return 0;
    }
    e = SSL_get_error(t->ssl, r);
    if ((*want = want_of(e)) != 0) {
        ERR_clear_error();
        return -EAGAIN;
    }
    h = failure(t, e, "tls shutdown");
    return h == 0 ? 0 : h;
}

static int shutdown_once(lua_State *L) {
    static const char *const names[] = {"receive", "send", "both", NULL};
    static const int values[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    lsk_tls *t = check_tls(L);
    int how = lsk_check_name(L, 2, "shutdown mode", names, "both"), n;
    if (t->st.fd < 0 || t->ssl == NULL) return lsk_closed_result(L);
    if (values[how] != SHUT_RD && t->state == TLS_DONE && !t->fatal) {
        n = run_step(L, t, notify_step, "tls shutdown");
        if (!lua_toboolean(L, -n)) return n;
        lua_pop(L, n);
    }
    if (shutdown(t->st.fd, values[how]) < 0 && errno != ENOTCONN) return lsk_fail(L, errno, "shutdown");
    lua_pushboolean(L, 1);
    return 1;
}

static int tls_shutdown(lua_State *L) {
    int top = lua_gettop(L);
    return lsk_park_call(L, tls_shutdown, top, shutdown_once(L));
}

static int tls_settimeout(lua_State *L) { return lsk_stream_settimeout(L, &check_tls(L)->st); }
static int tls_getstats(lua_State *L) { return lsk_stream_getstats(L, &check_tls(L)->st); }
static int tls_events(lua_State *L) { return lsk_stream_events(L, &check_tls(L)->st); }
static int tls_timeout(lua_State *L) { return lsk_stream_timeout(L, &check_tls(L)->st); }

static int tls_getfd(lua_State *L) { return lsk_stream_getfd(L, &check_tls(L)->st); }
static int tls_dirty(lua_State *L) { return lsk_stream_dirty(L, &check_tls(L)->st); }

/* The socket under the stream (nil once closed). */
static int tls_socket(lua_State *L) {
    lsk_tls *t = check_tls(L);
    if (t->sock == NULL) return lsk_closed_result(L);
    lsock_getuservalue(L, 1);
    lua_rawgeti(L, -1, UV_SOCKET);
    return 1;
}

/* getsockname, getpeername, setoption, getoption: the socket's. */
static int call_socket(lua_State *L, const char *method) {
    int n = lua_gettop(L);
    lsk_tls *t = check_tls(L);
    if (t->sock == NULL) return lsk_closed_result(L);
    lsock_getuservalue(L, 1);
    lua_rawgeti(L, -1, UV_SOCKET);
    lua_remove(L, -2);
    lua_replace(L, 1);            /* socket, arguments... */
    lua_getfield(L, 1, method);
    lua_insert(L, 1);             /* method, socket, arguments... */
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int tls_getsockname(lua_State *L) { return call_socket(L, "getsockname"); }
static int tls_getpeername(lua_State *L) { return call_socket(L, "getpeername"); }
static int tls_setoption(lua_State *L) { return call_socket(L, "setoption"); }
static int tls_getoption(lua_State *L) { return call_socket(L, "getoption"); }

/* ---- what was negotiated ------------------------------------------------------------ */

/* The stream's SSL once the handshake is done, or NULL after pushing nil. */
static SSL *negotiated(lua_State *L, lsk_tls *t) {
    if (t->ssl == NULL || t->state != TLS_DONE) {
        lua_pushnil(L);
        return NULL;
    }
    return t->ssl;
}

static int tls_peercert(lua_State *L) {
    SSL *ssl = negotiated(L, check_tls(L));
    X509 *x;
    if (ssl == NULL) return 1;
    if ((x = SSL_get1_peer_certificate(ssl)) == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lsk_push_cert(L, x);
    X509_free(x);
    return 1;
}

/* The certificates the peer sent, its own first. */
static int tls_peerchain(lua_State *L) {
    lsk_tls *t = check_tls(L);
    SSL *ssl = negotiated(L, t);
    STACK_OF(X509) *chain;
    X509 *leaf;
    int i, n = 0;
    if (ssl == NULL) return 1;
    lua_newtable(L);
    chain = SSL_get_peer_cert_chain(ssl);
    leaf = SSL_get0_peer_certificate(ssl);
    /* A client's chain starts with the server's own certificate; a
     * server's lacks the client's. */
    if (leaf != NULL && (chain == NULL || sk_X509_num(chain) == 0 || X509_cmp(sk_X509_value(chain, 0), leaf) != 0)) {
        lsk_push_cert(L, leaf);
        lua_rawseti(L, -2, ++n);
    }
    for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        lsk_push_cert(L, sk_X509_value(chain, i));
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static int tls_verified(lua_State *L) {
    lsk_tls *t = check_tls(L);
    long r;
    if (t->ssl == NULL || t->state != TLS_DONE) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, t->ssl == NULL ? "closed" : "no handshake yet");
        return 2;
    }
    if (SSL_get0_peer_certificate(t->ssl) == NULL) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "no certificate");
        return 2;
    }
    if ((r = SSL_get_verify_result(t->ssl)) != X509_V_OK) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, X509_verify_cert_error_string(r));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int tls_alpn(lua_State *L) {
    SSL *ssl = negotiated(L, check_tls(L));
    const unsigned char *p = NULL;
    unsigned n = 0;
    if (ssl == NULL) return 1;
    SSL_get0_alpn_selected(ssl, &p, &n);
    if (p == NULL || n == 0) lua_pushnil(L);
    else lua_pushlstring(L, (const char *)p, n);
    return 1;
}

static int tls_version(lua_State *L) {
    SSL *ssl = negotiated(L, check_tls(L));
    if (ssl == NULL) return 1;
    switch (SSL_version(ssl)) {
    case TLS1_3_VERSION: lua_pushliteral(L, "tls1.3"); break;
    case TLS1_2_VERSION: lua_pushliteral(L, "tls1.2"); break;
    default: lua_pushstring(L, SSL_get_version(ssl));
    }
    return 1;
}

static int tls_cipher(lua_State *L) {
    SSL *ssl = negotiated(L, check_tls(L));
    const SSL_CIPHER *c;
    if (ssl == NULL) return 1;
    if ((c = SSL_get_current_cipher(ssl)) == NULL) lua_pushnil(L);
    else lua_pushstring(L, SSL_CIPHER_get_name(c));
    return 1;
}

static int tls_servername(lua_State *L) {
    lsk_tls *t = check_tls(L);
    const char *name;
    if (t->ssl != NULL && SSL_is_server(t->ssl)) {
        name = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
        if (name != NULL) lua_pushstring(L, name);
        else lua_pushnil(L);
        return 1;
    }
    lsock_getuservalue(L, 1);
    lua_rawgeti(L, -1, UV_SERVERNAME);
    return 1;
}

static int tls_resumed(lua_State *L) {
    lsk_tls *t = check_tls(L);
    lua_pushboolean(L, t->ssl != NULL && t->state == TLS_DONE && SSL_session_reused(t->ssl));
    return 1;
}

/* "lsock.tls: client tls1.3 over tcp 127.0.0.1:5000 -> ... (fd 7)" */
static int tls_tostring(lua_State *L) {
    lsk_tls *t = check_tls(L);
    if (t->ssl == NULL || t->st.fd < 0 || t->sock == NULL) {
        lua_pushliteral(L, "lsock.tls: closed");
        return 1;
    }
    lua_pushfstring(L, "%s: %s ", LSOCK_TLS, SSL_is_server(t->ssl) ? "server" : "client");
    if (t->state == TLS_DONE) tls_version(L);
    else lua_pushstring(L, t->state == TLS_FAILED ? "failed" : "handshake pending");
    lua_pushliteral(L, " over ");
    lsock_getuservalue(L, 1);
    lua_rawgeti(L, -1, UV_SOCKET);
    lua_remove(L, -2);
    lua_getglobal(L, "tostring");
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    {
        /* "lsock.socket: tcp ..." without its type name */
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        size_t skip = sizeof LSOCK_SOCKET + 1;
        if (s != NULL && len > skip && strncmp(s, LSOCK_SOCKET ": ", skip) == 0) {
            lua_pushlstring(L, s + skip, len - skip);
            lua_remove(L, -2);
        }
    }
    lua_concat(L, 4);
    return 1;
}

static const luaL_Reg methods[] = {
    {"handshake", tls_handshake},
    {"send", tls_send},
    {"receive", tls_receive},
    {"receiveuntil", tls_receiveuntil},
    {"sendfile", tls_sendfile},
    {"recv", tls_recv},
    {"peek", tls_peek},
    {"settimeout", tls_settimeout},
    {"shutdown", tls_shutdown},
    {"close", tls_close},
    {"getfd", tls_getfd},
    {"pollfd", tls_getfd},
    {"events", tls_events},
    {"timeout", tls_timeout},
    {"dirty", tls_dirty},
    {"getstats", tls_getstats},
    {"socket", tls_socket},
    {"getsockname", tls_getsockname},
    {"getpeername", tls_getpeername},
    {"setoption", tls_setoption},
    {"getoption", tls_getoption},
    {"peercert", tls_peercert},
    {"peerchain", tls_peerchain},
    {"verified", tls_verified},
    {"alpn", tls_alpn},
    {"version", tls_version},
    {"cipher", tls_cipher},
    {"servername", tls_servername},
    {"resumed", tls_resumed},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", tls_gc},
    {"__tostring", tls_tostring},
#if LSOCK_HAVE_CLOSE
    {"__close", tls_close},
#endif
    {NULL, NULL},
};

void lsk_tls_open(lua_State *L) {
    lsk_new_class(L, LSOCK_TLS, metamethods, methods);
    lsk_tlsctx_open(L);
}
