/*
 * tls.h: what the TLS files share: the context object (tls_context.c),
 * the stream object (tls_stream.c) and the certificate and error helpers
 * (tls_cert.c). OpenSSL 3 is the only library they know.
 */
#ifndef LSOCK_TLS_H
#define LSOCK_TLS_H

#include <openssl/ssl.h>

#include "internal.h"

#if defined(__GNUC__)
#pragma GCC visibility push(hidden) /* see net.h */
#endif

#define LSOCK_TLS "lsock.tls"
#define LSOCK_TLSCONTEXT "lsock.tlscontext"

/* Client sessions kept per context for resumption, by server name and
 * address: a handful of servers is what a client talks to. */
#define LSK_TLS_SESSIONS 32

typedef struct lsk_tls_session {
    char *key;           /* "name|addr:port", NULL: a free entry */
    SSL_SESSION *sess;
    unsigned long seq;   /* when it came: the newest is used first */
} lsk_tls_session;

typedef struct lsk_tlsctx {
    SSL_CTX *ctx;        /* NULL once collected */
    int server;
    int verify;          /* client: check chain and name; server: SSL_VERIFY_* */
    int sni_ref;         /* server: the sni table or function (registry), or LUA_NOREF */
    lua_State *sni_thread; /* where it runs (any caller may be a parked coroutine) */
    int thread_ref;      /* that thread in the registry */
    unsigned char *alpn; /* the protocols in wire format, or NULL */
    size_t alpn_len;
    int keep_sessions;   /* client: the sessions option (default on) */
    lsk_tls_session sessions[LSK_TLS_SESSIONS];
    unsigned long session_seq;
} lsk_tlsctx;

/* The first word after a TLS stream's lsk_stream (see lsk_tostream). */
#define LSK_TLS_MAGIC 0x6c74736cu

/* Where the handshake is. */
enum { TLS_START, TLS_DONE, TLS_FAILED };

typedef struct lsk_tls {
    lsk_stream st;       /* first: pollers and the loop see this stream */
    unsigned magic;      /* LSK_TLS_MAGIC */
    SSL *ssl;            /* NULL once closed */
    lsk_socket *sock;    /* the socket it owns (its user value keeps it), or NULL */
    lsk_tlsctx *ctx;     /* the context it was made with (kept the same way) */
    int state;           /* TLS_* */
    int fatal;           /* OpenSSL failed for good: no close_notify, the error repeats */
    int fail;            /* the failure that repeats: -errno, -LSK_ETRANSPORT */
    int oserr;           /* errno of the last failed read or write of the BIO */
    int notified;        /* our close_notify went out */
    int own_msg;         /* msg was written by the SNI selection, not OpenSSL */
    char *sesskey;       /* client: its key in the context's session list */
    size_t held;         /* bytes of a record OpenSSL holds from a write that had to wait */
    unsigned char held_head[16]; /* their first bytes: a retry must bring the same */
    char msg[256];       /* the words of the last -LSK_ETRANSPORT */
} lsk_tls;

/* ---- tls_context.c ---- */
void lsk_tlsctx_open(lua_State *L);
int lsk_tlsctx_new(lua_State *L);                 /* core.tls_context(opts) */
lsk_tlsctx *lsk_tlsctx_test(lua_State *L, int idx); /* a context at idx, or NULL */
/* Client resumption: offer ssl a session kept under key (1: one was
 * found), and keep sess (taking its reference) under key. */
int lsk_tlsctx_resume(lsk_tlsctx *c, const char *key, SSL *ssl);
void lsk_tlsctx_keep_session(lsk_tlsctx *c, const char *key, SSL_SESSION *sess);
/* The ex_data index that finds the lsk_tls of an SSL. */
int lsk_tls_index(void);

/* ---- tls_stream.c ---- */
void lsk_tls_open(lua_State *L);
int lsk_tls_wrap(lua_State *L);                   /* core.tls_wrap(sock, ctx [, servername]) */
/* The TLS stream at idx, or NULL (as lsk_tostream for sockets). */
lsk_tls *lsk_tls_test(lua_State *L, int idx);
/* The socket s is closing: the TLS stream over it is done too. */
void lsk_tls_detach(lsk_tls *t);

/* ---- tls_cert.c ---- */
/* Push the table peercert() returns for x. */
void lsk_push_cert(lua_State *L, X509 *x);
/* Write "<what>: <reason>" for the failure at the head of OpenSSL's error
 * queue into buf, and empty the queue. verify is the verification result
 * of the connection (X509_V_OK when it is not the cause). */
void lsk_tls_error(char *buf, size_t len, const char *what, long verify);
int lsk_cert_digest(lua_State *L); /* core._cert_digest */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
