/*
 * baseline_tls.c: the C baseline of the TLS workloads of the lsock
 * benchmarks: the same two processes, the same bytes on the wire and the
 * same checks as bench/tls.lua, with plain OpenSSL 3 on blocking sockets.
 * It is the ceiling the Lua libraries are compared with.
 *
 *   baseline_tls server WORKLOAD COUNT        prints its port, serves, prints "ok"
 *   baseline_tls client WORKLOAD COUNT PORT   measures, checks, prints "ok SECONDS UNITS"
 *
 * WORKLOAD  tls_handshake  COUNT connections, one after the other: a new TCP
 *                          connection, a full TLS 1.3 handshake (no
 *                          resumption), the server's 16-byte message read
 *                          and compared, and both close with close_notify;
 *                          UNITS: handshakes
 *           tls_bulk       COUNT MiB over one TLS 1.3 connection, written in
 *                          64 KiB SSL_write calls, read with SSL_read into a
 *                          64 KiB buffer until the server's close_notify;
 *                          UNITS: bytes
 *
 * The certificates are in the directory $BENCH_TLS_DIR (default
 * bench/results/tls), made by bench/run.sh: ca.pem (an ECDSA P-256 CA),
 * server.pem and server.key (ECDSA P-256, for localhost). The client
 * verifies the chain against ca.pem and the host name "localhost"
 * (SSL_set1_host; also sent as SNI), as every library does.
 *
 * Built by bench/run.sh with cc -O2 -Wall -Wextra -Werror and OpenSSL's
 * -lssl -lcrypto, with bench/baseline_util.c. Keep the constants in step with bench/tls.lua.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "baseline.h"

#define CHUNK 65536  /* bulk write and read size */
/* MARK, the last 16 bytes of bulk, is also the handshake workload's message. */
static const char HOST[] = "localhost";

const char *prog = "baseline_tls";

/* fail with what OpenSSL says about the last error */
static void fail_ssl(const char *what, SSL *ssl, int r)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;
static void fail_ssl(const char *what, SSL *ssl, int r) {
    unsigned long e = ERR_peek_error();
    char buf[256];
    int err = ssl ? SSL_get_error(ssl, r) : SSL_ERROR_SSL;
    if (err == SSL_ERROR_SYSCALL && e == 0)
        fail("%s: %s", what, errno == EAGAIN ? "timeout" : errno ? strerror(errno) : "closed");
    if (err == SSL_ERROR_ZERO_RETURN) fail("%s: closed", what);
    ERR_error_string_n(e, buf, sizeof buf);
    if (ssl && SSL_get_verify_result(ssl) != X509_V_OK)
        fail("%s: certificate verify failed: %s", what,
             X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
    fail("%s: %s", what, e ? buf : "failed");
}


static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) fail("out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static const char *cert_dir(void) {
    const char *d = getenv("BENCH_TLS_DIR");
    return d && *d ? d : "bench/results/tls";
}

/* TLS 1.3 only, OpenSSL's defaults otherwise (cipher suites, groups,
 * session tickets). */
static SSL_CTX *new_context(int is_server) {
    SSL_CTX *ctx = SSL_CTX_new(is_server ? TLS_server_method() : TLS_client_method());
    const char *dir = cert_dir();
    if (!ctx) fail_ssl("SSL_CTX_new", NULL, 0);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
        fail_ssl("TLS 1.3 only", NULL, 0);
    if (is_server) {
        char *cert = path_in(dir, "server.pem"), *key = path_in(dir, "server.key");
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) fail_ssl(cert, NULL, 0);
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) fail_ssl(key, NULL, 0);
        if (SSL_CTX_check_private_key(ctx) != 1) fail_ssl("the key does not match the certificate", NULL, 0);
        free(cert);
        free(key);
    } else {
        char *ca = path_in(dir, "ca.pem");
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) fail_ssl(ca, NULL, 0);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        free(ca);
    }
    return ctx;
}

/* SSL_write all of p (blocking: OpenSSL writes it all or fails) */
static void ssl_write_all(SSL *ssl, const char *p, int n) {
    int r = SSL_write(ssl, p, n);
    if (r != n) fail_ssl("SSL_write", ssl, r);
}

/* SSL_read; 0 after the peer's close_notify, fails otherwise */
static size_t ssl_read_some(SSL *ssl, char *buf, int max) {
    int r = SSL_read(ssl, buf, max);
    if (r > 0) return (size_t)r;
    if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN) return 0;
    fail_ssl("SSL_read", ssl, r);
}

/* ---- server ------------------------------------------------------------ */

static int accept_one(int lfd) {
    struct pollfd pfd;
    int r, fd;
    pfd.fd = lfd;
    pfd.events = POLLIN;
    do r = poll(&pfd, 1, TIMEOUT_S * 1000); while (r < 0 && errno == EINTR);
    if (r < 0) fail("poll: %s", strerror(errno));
    if (r == 0) fail("accept: timeout");
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) fail("accept: %s", strerror(errno));
    set_timeouts_ms(fd, TIMEOUT_S * 1000L);
    return fd;
}

static SSL *server_handshake(SSL_CTX *ctx, int fd, long i) {
    SSL *ssl = SSL_new(ctx);
    int r;
    char what[64];
    if (!ssl || !SSL_set_fd(ssl, fd)) fail_ssl("SSL_new", NULL, 0);
    r = SSL_accept(ssl);
    if (r != 1) {
        snprintf(what, sizeof what, "handshake %ld", i);
        fail_ssl(what, ssl, r);
    }
    return ssl;
}

/* close_notify, then close the socket */
static void ssl_close(SSL *ssl, int fd) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
    if (close(fd) < 0) fail("close: %s", strerror(errno));
}

static int server(int bulk, long count) {
    SSL_CTX *ctx = new_context(1);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int one = 1, lfd;
    long i;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) fail("socket: %s", strerror(errno));
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    loopback(&sa, 0);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("bind: %s", strerror(errno));
    if (listen(lfd, 64) < 0) fail("listen: %s", strerror(errno));
    if (getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) fail("getsockname: %s", strerror(errno));
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    if (bulk) {
        static char chunk[CHUNK];
        long chunks = count * (1024 * 1024 / CHUNK);
        int fd = accept_one(lfd);
        SSL *ssl = server_handshake(ctx, fd, 1);
        for (i = 0; i < CHUNK; i += 64) memcpy(chunk + i, PAT64, 64);
        for (i = 0; i < chunks - 1; i++) ssl_write_all(ssl, chunk, CHUNK);
        memcpy(chunk + CHUNK - MARK_LEN, MARK, MARK_LEN);
        ssl_write_all(ssl, chunk, CHUNK);
        ssl_close(ssl, fd);
    } else {
        /* one connection after the other: handshake, the message, close */
        for (i = 1; i <= count; i++) {
            int fd = accept_one(lfd);
            SSL *ssl = server_handshake(ctx, fd, i);
            ssl_write_all(ssl, MARK, MARK_LEN);
            ssl_close(ssl, fd);
        }
    }
    close(lfd);
    SSL_CTX_free(ctx);
    printf("ok\n");
    return 0;
}

/* ---- client ------------------------------------------------------------ */

static int connect_to(int port) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    set_timeouts_ms(fd, TIMEOUT_S * 1000L);
    loopback(&sa, port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("connect: %s", strerror(errno));
    return fd;
}

/* SNI and host name check for "localhost", the handshake, and the checks
 * every library makes: TLS 1.3, verified, not resumed. */
static SSL *client_handshake(SSL_CTX *ctx, int fd, long i) {
    SSL *ssl = SSL_new(ctx);
    char what[64];
    int r;
    if (!ssl || !SSL_set_fd(ssl, fd)) fail_ssl("SSL_new", NULL, 0);
    if (!SSL_set_tlsext_host_name(ssl, HOST) || !SSL_set1_host(ssl, HOST)) fail_ssl("host name", NULL, 0);
    r = SSL_connect(ssl);
    snprintf(what, sizeof what, "handshake %ld", i);
    if (r != 1) fail_ssl(what, ssl, r);
    if (SSL_get_verify_result(ssl) != X509_V_OK) fail("%s: not verified", what);
    if (SSL_version(ssl) != TLS1_3_VERSION) fail("%s: %s, expected TLSv1.3", what, SSL_get_version(ssl));
    if (SSL_session_reused(ssl)) fail("%s: the session was resumed", what);
    return ssl;
}

static double handshakes(SSL_CTX *ctx, int port, long count) {
    char msg[MARK_LEN];
    double t0 = monotime(), t1;
    long i;
    for (i = 1; i <= count; i++) {
        int fd = connect_to(port);
        SSL *ssl = client_handshake(ctx, fd, i);
        size_t have = 0;
        while (have < MARK_LEN) {
            size_t k = ssl_read_some(ssl, msg + have, (int)(MARK_LEN - have));
            if (k == 0) fail("connection %ld: closed before the message", i);
            have += k;
        }
        if (memcmp(msg, MARK, MARK_LEN) != 0) fail("connection %ld: wrong message", i);
        ssl_close(ssl, fd);
    }
    t1 = monotime();
    return t1 - t0;
}

/* SSL_read into a 64 KiB buffer until close_notify; checks the byte count,
 * the first 64 bytes and the end marker. The clock starts after the
 * handshake. */
static double read_bulk(SSL_CTX *ctx, int port, long mib) {
    static char buf[CHUNK];
    long long expected = (long long)mib * 1024 * 1024;
    int fd = connect_to(port);
    SSL *ssl = client_handshake(ctx, fd, 1);
    bulk_check check;
    size_t n;
    double t0 = monotime(), t1;

    bulk_begin(&check);
    while (check.total <= expected && (n = ssl_read_some(ssl, buf, sizeof buf)) > 0) bulk_feed(&check, buf, n);
    t1 = monotime();
    bulk_end(&check, expected);
    SSL_free(ssl);
    close(fd);
    return t1 - t0;
}

static int client(int bulk, long count, const char *port_s) {
    SSL_CTX *ctx = new_context(0);
    long port = parse_count(port_s, 1);
    double secs;
    if (port > 65535) fail("bad port '%s'", port_s);
    secs = bulk ? read_bulk(ctx, (int)port, count) : handshakes(ctx, (int)port, count);
    SSL_CTX_free(ctx);
    printf("ok %.6f %lld\n", secs, bulk ? (long long)count * 1024 * 1024 : (long long)count);
    return 0;
}

#define USAGE "usage: %s server|client tls_handshake|tls_bulk COUNT [PORT]\n"

int main(int argc, char **argv) {
    int bulk;
    long count;

    signal(SIGPIPE, SIG_IGN);
    if (argc < 4) {
        fprintf(stderr, USAGE, argv[0]);
        return 2;
    }
    if (strcmp(argv[2], "tls_handshake") == 0) bulk = 0;
    else if (strcmp(argv[2], "tls_bulk") == 0) bulk = 1;
    else fail("unknown workload '%s' (tls_handshake, tls_bulk)", argv[2]);
    count = parse_count(argv[3], 1);
    if (strcmp(argv[1], "server") == 0 && argc == 4) {
        prog = "baseline_tls server";
        return server(bulk, count);
    }
    if (strcmp(argv[1], "client") == 0 && argc == 5) {
        prog = "baseline_tls client";
        return client(bulk, count, argv[4]);
    }
    fprintf(stderr, USAGE, argv[0]);
    return 2;
}
