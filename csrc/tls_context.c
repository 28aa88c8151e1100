/*
 * tls_context.c: the lsock.tlscontext object, an SSL_CTX with lsock's
 * defaults: clients verify the chain (against the system store unless a
 * CA is given) and, in tls_stream.c, the host name; TLS 1.2 at least;
 * renegotiation off. It also holds what every stream made from it
 * shares: server name selection (sni), ALPN, and the client's sessions
 * for resumption.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls.h"

static const char *const option_names[] = {
    "mode", "cert", "key", "password", "ca", "verify", "min_version", "max_version",
    "ciphers", "ciphersuites", "alpn", "sni", "sessions", NULL};

static const char *const version_names[] = {"tls1.2", "tls1.3", NULL};
static const int version_values[] = {TLS1_2_VERSION, TLS1_3_VERSION};

static int bad_option(lua_State *L, const char *name, const char *why) {
    return luaL_error(L, "bad option '%s' to 'tls.context' (%s)", name, why);
}

/* opts[name] as a string, or NULL when absent; raises on another type. */
static const char *opt_string(lua_State *L, const char *name, size_t *len) {
    const char *s;
    lua_getfield(L, 1, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING) bad_option(L, name, "string expected");
    s = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* still referenced by the options table */
    return s;
}

static int opt_name(lua_State *L, const char *name, const char *const names[], int def) {
    const char *s = opt_string(L, name, NULL);
    int i;
    if (s == NULL) return def;
    if ((i = lsk_find_name(names, s)) < 0) {
        lua_pushfstring(L, "unknown value '%s'", s);
        bad_option(L, name, lua_tostring(L, -1));
    }
    return i;
}

/* ---- the object ------------------------------------------------------- */

lsk_tlsctx *lsk_tlsctx_test(lua_State *L, int idx) {
    lsk_tlsctx *c = (lsk_tlsctx *)luaL_testudata(L, idx, LSOCK_TLSCONTEXT);
    return c != NULL && c->ctx != NULL ? c : NULL;
}

static void drop_session(lsk_tls_session *e);

static int ctx_gc(lua_State *L) {
    lsk_tlsctx *c = (lsk_tlsctx *)luaL_checkudata(L, 1, LSOCK_TLSCONTEXT);
    unsigned i;
    for (i = 0; i < LSK_TLS_SESSIONS; i++) drop_session(&c->sessions[i]);
    /* Streams made from it hold their own references to the SSL_CTX. */
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
    free(c->alpn);
    c->alpn = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, c->sni_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c->thread_ref);
    c->sni_ref = c->thread_ref = LUA_NOREF;
    c->sni_thread = NULL;
    return 0;
}

static int ctx_tostring(lua_State *L) {
    lsk_tlsctx *c = (lsk_tlsctx *)luaL_checkudata(L, 1, LSOCK_TLSCONTEXT);
    lua_pushfstring(L, "%s: %s", LSOCK_TLSCONTEXT, c->server ? "server" : "client");
    return 1;
}

/* ---- client sessions ---------------------------------------------------- */

/* A TLS 1.3 ticket is used once (RFC 8446, C.4: a ticket used twice
 * links the two connections; OpenSSL's client also gives up a ticket
 * once it resumed with it), and a server sends a few per connection, so
 * a handful is kept per server; a TLS 1.2 session may be resumed again
 * and again. */
#define SESSIONS_PER_KEY 4

static void drop_session(lsk_tls_session *e) {
    free(e->key);
    SSL_SESSION_free(e->sess);
    e->key = NULL;
    e->sess = NULL;
}

int lsk_tlsctx_resume(lsk_tlsctx *c, const char *key, SSL *ssl) {
    lsk_tls_session *best = NULL;
    unsigned i;
    for (i = 0; i < LSK_TLS_SESSIONS; i++) {
        lsk_tls_session *e = &c->sessions[i];
        if (e->key == NULL || strcmp(e->key, key) != 0) continue;
        if (!SSL_SESSION_is_resumable(e->sess)) drop_session(e);
        else if (best == NULL || e->seq > best->seq) best = e;
    }
    if (best == NULL || SSL_set_session(ssl, best->sess) != 1) return 0;
    if (SSL_SESSION_get_protocol_version(best->sess) >= TLS1_3_VERSION) drop_session(best);
    return 1;
}

void lsk_tlsctx_keep_session(lsk_tlsctx *c, const char *key, SSL_SESSION *sess) {
    lsk_tls_session *e = NULL, *oldest_same = NULL, *oldest = NULL;
    unsigned i, same = 0;
    for (i = 0; i < LSK_TLS_SESSIONS; i++) {
        lsk_tls_session *x = &c->sessions[i];
        if (x->key == NULL) {
            if (e == NULL) e = x;
            continue;
        }
        if (oldest == NULL || x->seq < oldest->seq) oldest = x;
        if (strcmp(x->key, key) == 0) {
            same++;
            if (oldest_same == NULL || x->seq < oldest_same->seq) oldest_same = x;
        }
    }
    /* Room: a free entry, unless this server has its share; else the
     * oldest of this server, or of all. */
    if (same >= SESSIONS_PER_KEY) e = oldest_same;
    else if (e == NULL) e = oldest;
    drop_session(e);
    if ((e->key = strdup(key)) == NULL) {
        SSL_SESSION_free(sess);
        return;
    }
    e->sess = sess;
    e->seq = ++c->session_seq;
}

/* OpenSSL hands over every session (a TLS 1.3 ticket may come at any
 * time after the handshake): keep it under the stream's key. */
static int new_session(SSL *ssl, SSL_SESSION *sess) {
    lsk_tls *t = (lsk_tls *)SSL_get_ex_data(ssl, lsk_tls_index());
    if (t == NULL || t->ctx == NULL || t->sesskey == NULL || t->ctx->ctx == NULL) return 0;
    lsk_tlsctx_keep_session(t->ctx, t->sesskey, sess);
    return 1; /* the reference is ours */
}

/* ---- server callbacks -------------------------------------------------- */

/* ALPN, the server's preference first; no protocol in common ends the
 * handshake (RFC 7301). */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    lsk_tlsctx *c = (lsk_tlsctx *)arg;
    unsigned char *o = NULL;
    (void)ssl;
    if (c->alpn == NULL) return SSL_TLSEXT_ERR_NOACK;
    if (SSL_select_next_proto(&o, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/* sni_choose(sni, name): the context for name from a table (exact name,
 * then "*.rest") or a function; run protected by choose_context. */
static int sni_choose(lua_State *L) {
    size_t len;
    const char *name = lua_tolstring(L, 2, &len);
    if (lua_type(L, 1) == LUA_TFUNCTION) {
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 2);
        lua_call(L, 1, 1);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, 1);
    if (lua_isnil(L, -1)) {
        const char *dot = memchr(name, '.', len);
        lua_pop(L, 1);
        if (dot == NULL) {
            lua_pushnil(L);
            return 1;
        }
        lua_pushfstring(L, "*%s", dot);
        lua_rawget(L, 1);
    }
    return 1;
}

static int choose_context(SSL *ssl, int *alert, void *arg) {
    lsk_tlsctx *c = (lsk_tlsctx *)arg, *chosen;
    lsk_tls *t = (lsk_tls *)SSL_get_ex_data(ssl, lsk_tls_index());
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char lower[256];
    size_t i, n;
    lua_State *L = c->sni_thread;
    int top, ok = SSL_TLSEXT_ERR_OK;

    if (name == NULL || L == NULL || t == NULL) return SSL_TLSEXT_ERR_OK;
    n = strlen(name);
    if (n >= sizeof lower || !lua_checkstack(L, 4)) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    for (i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    lower[n] = '\0';
    top = lua_gettop(L);
    lua_pushcfunction(L, sni_choose);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->sni_ref);
    lua_pushlstring(L, lower, n);
    if (lua_pcall(L, 2, 1, 0) != 0) {
        /* The error is the handshake's failure (tls_stream.c reads it). */
        snprintf(t->msg, sizeof t->msg, "tls handshake: sni: %s",
                 lua_tostring(L, -1) != NULL ? lua_tostring(L, -1) : "error");
        t->own_msg = 1;
        *alert = SSL_AD_INTERNAL_ERROR;
        ok = SSL_TLSEXT_ERR_ALERT_FATAL;
    } else if (!lua_isnil(L, -1)) {
        if ((chosen = lsk_tlsctx_test(L, -1)) == NULL || !chosen->server) {
            snprintf(t->msg, sizeof t->msg, "tls handshake: sni: a server context expected for '%.100s'", lower);
            t->own_msg = 1;
            *alert = SSL_AD_INTERNAL_ERROR;
            ok = SSL_TLSEXT_ERR_ALERT_FATAL;
        } else if (chosen != c) {
            /* OpenSSL takes the certificate, key and ALPN from the chosen
             * context; its client-certificate policy is set here. The
             * versions and ciphers were settled by the first context. */
            if (SSL_set_SSL_CTX(ssl, chosen->ctx) == NULL) {
                *alert = SSL_AD_INTERNAL_ERROR;
                ok = SSL_TLSEXT_ERR_ALERT_FATAL;
            } else {
                SSL_set_verify(ssl, SSL_CTX_get_verify_mode(chosen->ctx), NULL);
                SSL_set_client_CA_list(ssl, SSL_dup_CA_list(SSL_CTX_get_client_CA_list(chosen->ctx)));
            }
        }
    }
    lua_settop(L, top);
    return ok;
}

/* ---- loading certificates and keys ---------------------------------------- */

/* A value is PEM text rather than a path when it carries a PEM header. */
static int is_pem(const char *s, size_t len) {
    return len >= 10 && strstr(s, "-----BEGIN") != NULL;
}

/* nil, "tls context: <what>: <OpenSSL's reason>" */
static int load_failed(lua_State *L, const char *what) {
    char msg[256];
    char head[64];
    snprintf(head, sizeof head, "tls context: %s", what);
    lsk_tls_error(msg, sizeof msg, head, X509_V_OK);
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

static BIO *open_source(const char *s, size_t len) {
    return is_pem(s, len) ? BIO_new_mem_buf(s, (int)len) : BIO_new_file(s, "r");
}

/* The certificate and the chain after it; 0 or the results pushed. */
static int load_cert(lua_State *L, SSL_CTX *ctx, const char *s, size_t len) {
    BIO *b;
    X509 *x;
    ERR_clear_error();
    if (!is_pem(s, len)) return SSL_CTX_use_certificate_chain_file(ctx, s) == 1 ? 0 : load_failed(L, "cert");
    if ((b = open_source(s, len)) == NULL) return load_failed(L, "cert");
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
        X509_free(x);
        BIO_free(b);
        return load_failed(L, "cert");
    }
    X509_free(x);
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, x) != 1) { /* takes x when it succeeds */
            X509_free(x);
            BIO_free(b);
            return load_failed(L, "cert");
        }
    }
    BIO_free(b);
    ERR_clear_error(); /* the end of the text */
    return 0;
}

/* A password for an encrypted key; without one, none (never a prompt). */
static int give_password(char *buf, int size, int rwflag, void *u) {
    size_t n;
    (void)rwflag;
    if (u == NULL || size <= 0) return 0;
    n = strlen((const char *)u);
    if (n > (size_t)size) n = (size_t)size;
    memcpy(buf, u, n);
    return (int)n;
}

static int load_key(lua_State *L, SSL_CTX *ctx, const char *s, size_t len, const char *password) {
    BIO *b;
    EVP_PKEY *k;
    ERR_clear_error();
    if ((b = open_source(s, len)) == NULL) return load_failed(L, "key");
    k = PEM_read_bio_PrivateKey(b, NULL, give_password, (void *)password);
    BIO_free(b);
    if (k == NULL) {
        unsigned long e = ERR_peek_last_error();
        if (password == NULL && ERR_GET_REASON(e) == PEM_R_BAD_PASSWORD_READ) {
            ERR_clear_error();
            lua_pushnil(L);
            lua_pushliteral(L, "tls context: key: the key is encrypted and no password was given");
            return 2;
        }
        return load_failed(L, "key");
    }
    if (SSL_CTX_use_PrivateKey(ctx, k) != 1) {
        EVP_PKEY_free(k);
        return load_failed(L, "key");
    }
    EVP_PKEY_free(k);
    if (SSL_CTX_check_private_key(ctx) != 1) return load_failed(L, "key");
    return 0;
}

/* Trusted certificates from PEM text, a file or a directory (hashed
 * names, as `openssl rehash` makes them). A server also names them to
 * its clients as the CAs it accepts. */
static int load_ca(lua_State *L, lsk_tlsctx *c, const char *s, size_t len) {
    struct stat sb;
    ERR_clear_error();
    if (is_pem(s, len)) {
        X509_STORE *store = SSL_CTX_get_cert_store(c->ctx);
        BIO *b = BIO_new_mem_buf(s, (int)len);
        X509 *x;
        int n = 0;
        if (b == NULL) return load_failed(L, "ca");
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            int ok = X509_STORE_add_cert(store, x) == 1 &&
                     (!c->server || SSL_CTX_add_client_CA(c->ctx, x) == 1);
            X509_free(x);
            if (!ok) {
                BIO_free(b);
                return load_failed(L, "ca");
            }
            n++;
        }
        BIO_free(b);
        if (n == 0) return load_failed(L, "ca");
        ERR_clear_error();
        return 0;
    }
    if (stat(s, &sb) == 0 && S_ISDIR(sb.st_mode))
        return SSL_CTX_load_verify_locations(c->ctx, NULL, s) == 1 ? 0 : load_failed(L, "ca");
    if (SSL_CTX_load_verify_locations(c->ctx, s, NULL) != 1) return load_failed(L, "ca");
    if (c->server) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s);
        if (names != NULL) SSL_CTX_set_client_CA_list(c->ctx, names);
    }
    ERR_clear_error();
    return 0;
}

/* ---- options --------------------------------------------------------------- */

static void check_option_names(lua_State *L) {
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad option to 'tls.context' (names are strings, got %s)", luaL_typename(L, -1));
        if (lsk_find_name(option_names, lua_tostring(L, -1)) < 0)
            luaL_error(L, "unknown option '%s' to 'tls.context'", lua_tostring(L, -1));
    }
}

static void set_verify(lua_State *L, lsk_tlsctx *c) {
    static const char *const server_modes[] = {"none", "optional", "require", NULL};
    static const int server_values[] = {SSL_VERIFY_NONE, SSL_VERIFY_PEER,
                                        SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT};
    lua_getfield(L, 1, "verify");
    if (c->server) {
        if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
            c->verify = SSL_VERIFY_NONE;
        } else {
            int i = lua_type(L, -1) == LUA_TSTRING ? lsk_find_name(server_modes, lua_tostring(L, -1)) : -1;
            if (i < 0) bad_option(L, "verify", "a server's is \"none\", \"optional\" or \"require\"");
            c->verify = server_values[i];
        }
    } else if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1))) {
        c->verify = 1;
    } else if ((lua_type(L, -1) == LUA_TBOOLEAN) ||
               (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "none") == 0)) {
        c->verify = 0; /* false or "none": the caller asked for no verification */
    } else {
        bad_option(L, "verify", "a client's is true or false");
    }
    lua_pop(L, 1);
    if (c->server) SSL_CTX_set_verify(c->ctx, c->verify, NULL);
    else SSL_CTX_set_verify(c->ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
}

/* alpn = {"h2", "http/1.1"} in the wire format: length-prefixed names. */
static void set_alpn(lua_State *L, lsk_tlsctx *c) {
    size_t i, n, total = 0, len;
    lua_getfield(L, 1, "alpn");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (lua_type(L, -1) != LUA_TTABLE) bad_option(L, "alpn", "array of protocol names expected");
    n = lsock_rawlen(L, -1);
    if (n == 0) bad_option(L, "alpn", "at least one protocol name expected");
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        if (lua_type(L, -1) != LUA_TSTRING) bad_option(L, "alpn", "protocol names are strings");
        lua_tolstring(L, -1, &len);
        if (len == 0 || len > 255) bad_option(L, "alpn", "a protocol name has 1 to 255 bytes");
        total += len + 1;
        lua_pop(L, 1);
    }
    if (total > 0xffff || (c->alpn = (unsigned char *)malloc(total)) == NULL)
        bad_option(L, "alpn", "too long");
    for (i = 1; i <= n; i++) {
        const char *p;
        lua_rawgeti(L, -1, (int)i);
        p = lua_tolstring(L, -1, &len);
        c->alpn[c->alpn_len++] = (unsigned char)len;
        memcpy(c->alpn + c->alpn_len, p, len);
        c->alpn_len += len;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (c->server) SSL_CTX_set_alpn_select_cb(c->ctx, select_alpn, c);
    else if (SSL_CTX_set_alpn_protos(c->ctx, c->alpn, (unsigned)c->alpn_len) != 0)
        bad_option(L, "alpn", "not accepted by OpenSSL");
}

/* sessions (default true): a client keeps what servers give it to resume
 * with; a server gives tickets and keeps sessions. false: neither. */
static void set_sessions(lua_State *L, lsk_tlsctx *c) {
    int on = 1;
    lua_getfield(L, 1, "sessions");
    if (lua_type(L, -1) == LUA_TBOOLEAN) on = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1)) bad_option(L, "sessions", "true or false expected");
    lua_pop(L, 1);
    c->keep_sessions = on;
    if (c->server) {
        /* Needed for resumption whenever client certificates are asked for. */
        SSL_CTX_set_session_id_context(c->ctx, (const unsigned char *)"lsock", 5);
        if (!on) {
            SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_num_tickets(c->ctx, 0);
            SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
        }
    } else if (on) {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ctx, new_session);
    } else {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
    }
}

static void set_versions(lua_State *L, lsk_tlsctx *c) {
    int lo = opt_name(L, "min_version", version_names, 0);
    int hi = opt_name(L, "max_version", version_names, 1);
    if (lo > hi) bad_option(L, "min_version", "above max_version");
    SSL_CTX_set_min_proto_version(c->ctx, version_values[lo]);
    SSL_CTX_set_max_proto_version(c->ctx, version_values[hi]);
}

static void set_ciphers(lua_State *L, lsk_tlsctx *c) {
    const char *s;
    if ((s = opt_string(L, "ciphers", NULL)) != NULL && SSL_CTX_set_cipher_list(c->ctx, s) != 1) {
        ERR_clear_error();
        bad_option(L, "ciphers", "no cipher matches");
    }
    if ((s = opt_string(L, "ciphersuites", NULL)) != NULL && SSL_CTX_set_ciphersuites(c->ctx, s) != 1) {
        ERR_clear_error();
        bad_option(L, "ciphersuites", "no cipher suite matches");
    }
}

static void set_sni(lua_State *L, lsk_tlsctx *c) {
    lua_getfield(L, 1, "sni");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!c->server) bad_option(L, "sni", "only a server context chooses by name");
    if (lua_type(L, -1) != LUA_TTABLE && lua_type(L, -1) != LUA_TFUNCTION)
        bad_option(L, "sni", "table or function expected");
    c->sni_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* The selection runs on a thread of its own: the handshake may be
     * going on inside the loop's scheduler for a parked coroutine. */
    c->sni_thread = lua_newthread(L);
    c->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    SSL_CTX_set_tlsext_servername_callback(c->ctx, choose_context);
    SSL_CTX_set_tlsext_servername_arg(c->ctx, c);
}

/* The certificate, key and trust: 0, or the failure's results pushed. */
static int load_files(lua_State *L, lsk_tlsctx *c) {
    size_t certlen = 0, keylen = 0, calen = 0;
    const char *cert = opt_string(L, "cert", &certlen);
    const char *key = opt_string(L, "key", &keylen);
    const char *password = opt_string(L, "password", NULL);
    const char *ca = opt_string(L, "ca", &calen);
    int n;
    if ((cert == NULL) != (key == NULL)) bad_option(L, cert ? "key" : "cert", "cert and key go together");
    if (c->server && cert == NULL) bad_option(L, "cert", "a server context needs cert and key");
    if (cert != NULL && ((n = load_cert(L, c->ctx, cert, certlen)) != 0 ||
                         (n = load_key(L, c->ctx, key, keylen, password)) != 0))
        return n;
    if (ca != NULL) return load_ca(L, c, ca, calen);
    /* Clients trust the system's store unless told otherwise; so does a
     * server that asks for client certificates without naming a CA. */
    if ((!c->server && c->verify) || (c->server && c->verify != SSL_VERIFY_NONE)) {
        if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) return load_failed(L, "ca");
    }
    return 0;
}

int lsk_tlsctx_new(lua_State *L) {
    static const char *const modes[] = {"client", "server", NULL};
    lsk_tlsctx *c;
    int n;

    luaL_checktype(L, 1, LUA_TTABLE);
    check_option_names(L);
    lua_settop(L, 1);
    c = (lsk_tlsctx *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    c->sni_ref = c->thread_ref = LUA_NOREF;
    luaL_getmetatable(L, LSOCK_TLSCONTEXT);
    lua_setmetatable(L, -2);
    c->server = opt_name(L, "mode", modes, 0);
    ERR_clear_error();
    c->ctx = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
    if (c->ctx == NULL) return load_failed(L, "SSL_CTX_new");
    /* A write that could not finish is retried with the rest of the same
     * string at another address (the stream engine's pieces); buffers
     * are given back while a connection is idle; input is read ahead in
     * big reads; renegotiation, a source of attacks, is refused. */
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(c->ctx, 1);
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    set_sessions(L, c);
    set_versions(L, c);
    set_verify(L, c);
    set_ciphers(L, c);
    set_alpn(L, c);
    set_sni(L, c);
    if ((n = load_files(L, c)) != 0) return n;
    lua_settop(L, 2);
    return 1;
}

void lsk_tlsctx_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__gc", ctx_gc},
        {"__tostring", ctx_tostring},
        {NULL, NULL},
    };
    static const luaL_Reg none[] = {{NULL, NULL}};
    lsk_new_class(L, LSOCK_TLSCONTEXT, meta, none);
}
