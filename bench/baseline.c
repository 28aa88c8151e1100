/*
 * baseline.c: the C baseline of the lsock benchmarks. The same two-process
 * shape, the same bytes on the wire and the same checks as bench/stream.lua,
 * with plain blocking POSIX calls: the reader uses read() into a 64 KiB
 * buffer (and memchr for lines), which is about as fast as one can read a
 * TCP stream from user space. It is the ceiling the Lua libraries are
 * compared with, for information.
 *
 *   baseline server WORKLOAD COUNT [PATH]    prints its port (or PATH), serves, prints "ok"
 *                                            (file_serve: PATH is the file, the port is printed)
 *   baseline client WORKLOAD COUNT ADDR      reads, checks, prints "ok SECONDS UNITS"
 *
 * WORKLOAD  lines           TCP, COUNT lines of 40 bytes
 *           bulk            TCP, COUNT MiB
 *           unix_bulk       the same as bulk over a unix stream socket bound
 *                           at PATH (the server's argument, the client's ADDR)
 *           unix_pingpong   COUNT round trips of 64 bytes over a unix stream
 *                           socket: the client writes a message and reads the
 *                           server's echo of it, one at a time
 *           tcp_pingpong    the same over TCP
 *           tcp_pingpong_poll
 *                           tcp_pingpong making the calls a library over
 *                           non-blocking descriptors makes: a poll() before
 *                           every read; for the analysis in RESULTS.md, not
 *                           a row of the table
 *           file_serve      TCP: the server sends the file at PATH (COUNT MiB
 *                           of the bulk stream) with sendfile(2); the client
 *                           reads it as bulk
 *           udp, udp_mmsg   bench/baseline_udp.c (the server is the receiver
 *                           and the measured side there)
 *           udp_gso         a sender only (client): bench/baseline_udp.c
 *
 * For TCP, ADDR is the port the server printed. Built by bench/run.sh with
 * cc -O2 -Wall -Wextra -Werror from this file, bench/baseline_udp.c and
 * bench/baseline_util.c.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"

/* Keep these in step with bench/stream.lua. */
#define LINE_LEN 39                 /* characters of a line, LF not counted */
#define BATCH_LINES 1600            /* lines per write: 64,000 bytes */
#define CHUNK 65536                 /* bulk write and read size */
#define PING_LEN 64                 /* a message of the pingpong workloads */
static const char LINE[] = "abcdefghijklmnopqrstuvwxyz0123456789ABC";
static const char LAST[] = "zyxwvutsrqponmlkjihgfedcba9876543210XYZ";
/* the pingpong workloads: odd round trips carry PAT64, even ones PING_B; the last one
 * PAT64 with MARK as its last 16 bytes */
static const char PING_B[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

const char *prog = "baseline";


static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, 0);
        if (k < 0) {
            if (errno == EINTR) continue;
            fail("send: %s", errno == EAGAIN ? "timeout" : strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
}

/* tcp_pingpong_poll: read_some waits in poll() first */
static int poll_first = 0;

/* read() with EINTR retried; 0 at end of stream; fails on error or timeout. */
static size_t read_some(int fd, char *buf, size_t max) {
    for (;;) {
        ssize_t k;
        if (poll_first) {
            struct pollfd p;
            p.fd = fd;
            p.events = POLLIN;
            if (poll(&p, 1, TIMEOUT_S * 1000) == 0) fail("read: timeout");
        }
        k = read(fd, buf, max);
        if (k >= 0) return (size_t)k;
        if (errno == EINTR) continue;
        fail("read: %s", errno == EAGAIN ? "timeout" : strerror(errno));
    }
}

static void fill_chunk(char *chunk) {
    size_t i;
    for (i = 0; i < CHUNK; i += 64) memcpy(chunk + i, PAT64, 64);
}

/* ---- server ------------------------------------------------------------ */

static void serve_lines(int fd, long count) {
    static char batch[BATCH_LINES * (LINE_LEN + 1)];
    long k = count % BATCH_LINES ? count % BATCH_LINES : BATCH_LINES;
    long full = (count - k) / BATCH_LINES, i;
    char *p = batch;
    for (i = 0; i < BATCH_LINES; i++) {
        memcpy(p, LINE, LINE_LEN);
        p[LINE_LEN] = '\n';
        p += LINE_LEN + 1;
    }
    for (i = 0; i < full; i++) send_all(fd, batch, sizeof batch);
    /* the final block: k - 1 ordinary lines and the distinct last one */
    memcpy(batch + (k - 1) * (LINE_LEN + 1), LAST, LINE_LEN);
    send_all(fd, batch, (size_t)k * (LINE_LEN + 1));
}

static void serve_bulk(int fd, long mib) {
    static char chunk[CHUNK];
    long chunks = mib * (1024 * 1024 / CHUNK), i;
    fill_chunk(chunk);
    for (i = 0; i < chunks - 1; i++) send_all(fd, chunk, CHUNK);
    memcpy(chunk + CHUNK - MARK_LEN, MARK, MARK_LEN);
    send_all(fd, chunk, CHUNK);
}

/* read() until exactly n bytes arrived; 0 when the stream ended before the
 * first byte, fails when it ends in the middle. */
static int read_full(int fd, char *buf, size_t n) {
    size_t have = 0;
    while (have < n) {
        size_t k = read_some(fd, buf + have, n - have);
        if (k == 0) {
            if (have == 0) return 0;
            fail("the stream ended inside a message (%zu of %zu bytes)", have, n);
        }
        have += k;
    }
    return 1;
}

/* the pingpong workloads, server side: echo every 64-byte message until the client
 * closes; checks the number of messages and the last one. */
static void serve_pingpong(int fd, long count) {
    char msg[PING_LEN], last[PING_LEN];
    long got = 0;
    while (read_full(fd, msg, PING_LEN)) {
        send_all(fd, msg, PING_LEN);
        got++;
    }
    if (got != count) fail("echoed %ld messages, expected %ld", got, count);
    memcpy(last, PAT64, PING_LEN);
    memcpy(last + PING_LEN - MARK_LEN, MARK, MARK_LEN);
    if (memcmp(msg, last, PING_LEN) != 0) fail("last message: wrong content");
}

/* file_serve: the file at path, which must be the mib MiB of the bulk
 * stream, with sendfile(2) until all of it went: the kernel copies from
 * the page cache to the socket. */
static void serve_file(int fd, long mib, const char *path) {
    long long size = (long long)mib * 1024 * 1024;
    off_t off = 0;
    struct stat sb;
    int f = open(path, O_RDONLY);
    if (f < 0) fail("open %s: %s", path, strerror(errno));
    if (fstat(f, &sb) < 0) fail("fstat %s: %s", path, strerror(errno));
    if ((long long)sb.st_size != size) fail("%s: %lld bytes, expected %lld", path, (long long)sb.st_size, size);
    while (off < sb.st_size) {
        ssize_t k = sendfile(fd, f, &off, (size_t)(sb.st_size - off));
        if (k < 0) {
            if (errno == EINTR) continue;
            fail("sendfile: %s", errno == EAGAIN ? "timeout" : strerror(errno));
        }
        if (k == 0) fail("sendfile: %s ended after %lld bytes", path, (long long)off);
    }
    close(f);
}

enum workload {
    W_LINES, W_BULK, W_UNIX_BULK, W_PINGPONG, W_UDP, W_UDP_MMSG, W_UDP_GSO, W_FILE_SERVE, W_TCP_PINGPONG,
    W_TCP_PINGPONG_POLL
};

/* A listening socket: TCP on 127.0.0.1 port 0 (the port is printed), or
 * unix at path (the path is printed). */
static int listen_on(const char *path) {
    int lfd;
    if (path) {
        struct sockaddr_un su;
        if (strlen(path) >= sizeof su.sun_path) fail("path too long: %s", path);
        memset(&su, 0, sizeof su);
        su.sun_family = AF_UNIX;
        memcpy(su.sun_path, path, strlen(path));
        lfd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (lfd < 0) fail("socket: %s", strerror(errno));
        if (bind(lfd, (struct sockaddr *)&su, sizeof su) < 0) fail("bind %s: %s", path, strerror(errno));
        if (listen(lfd, 1) < 0) fail("listen: %s", strerror(errno));
        printf("%s\n", path);
    } else {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        int one = 1;
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (lfd < 0) fail("socket: %s", strerror(errno));
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        loopback(&sa, 0);
        if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("bind: %s", strerror(errno));
        if (listen(lfd, 1) < 0) fail("listen: %s", strerror(errno));
        if (getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
            fail("getsockname: %s", strerror(errno));
        printf("%d\n", ntohs(sa.sin_port));
    }
    fflush(stdout);
    return lfd;
}

/* path: the unix socket's (unix workloads) or the file's (file_serve) */
static int server(enum workload w, long count, const char *path) {
    struct pollfd pfd;
    int lfd, fd, r;
    const char *file = w == W_FILE_SERVE ? path : NULL;

    if (file) path = NULL;
    lfd = listen_on(path);
    pfd.fd = lfd;
    pfd.events = POLLIN;
    do r = poll(&pfd, 1, TIMEOUT_S * 1000); while (r < 0 && errno == EINTR);
    if (r < 0) fail("poll: %s", strerror(errno));
    if (r == 0) fail("accept: timeout");
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) fail("accept: %s", strerror(errno));
    close(lfd);
    if (path) unlink(path);
    set_timeouts_ms(fd, TIMEOUT_S * 1000L);

    if (w == W_LINES) serve_lines(fd, count);
    else if (w == W_PINGPONG || w == W_TCP_PINGPONG || w == W_TCP_PINGPONG_POLL) serve_pingpong(fd, count);
    else if (file) serve_file(fd, count, file);
    else serve_bulk(fd, count);
    if (close(fd) < 0) fail("close: %s", strerror(errno));
    printf("ok\n");
    return 0;
}

/* ---- client ------------------------------------------------------------ */

/* Reads lines with one 64 KiB buffer and memchr; checks the count, the length
 * of every line and the content of the first and the last. */
static double read_lines(int fd, long count) {
    static char buf[CHUNK];
    size_t have = 0, start, n;
    long lines = 0;
    char last[LINE_LEN];
    double t0 = monotime(), t1;

    for (;;) {
        n = read_some(fd, buf + have, sizeof buf - have);
        if (n == 0) break;
        have += n;
        start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', have - start);
            size_t len;
            if (!nl) break;
            len = (size_t)(nl - (buf + start));
            if (len != LINE_LEN) fail("line %ld: %zu bytes, expected %d", lines + 1, len, LINE_LEN);
            if (lines == 0 && memcmp(buf + start, LINE, LINE_LEN) != 0)
                fail("line 1: wrong content");
            memcpy(last, buf + start, LINE_LEN);
            lines++;
            start += len + 1;
        }
        /* keep the incomplete line at the front of the buffer */
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf) fail("line %ld longer than the buffer", lines + 1);
    }
    t1 = monotime();
    if (have) fail("%zu bytes after the last LF", have);
    if (lines != count) fail("got %ld lines, expected %ld", lines, count);
    if (memcmp(last, LAST, LINE_LEN) != 0) fail("last line: wrong content");
    return t1 - t0;
}

/* Reads the stream with read() into a 64 KiB buffer until the peer closes;
 * checks the byte count, the first 64 bytes and the end marker. */
static double read_bulk(int fd, long mib) {
    static char buf[CHUNK];
    bulk_check check;
    size_t n;
    double t0 = monotime(), t1;

    bulk_begin(&check);
    while ((n = read_some(fd, buf, sizeof buf)) > 0) bulk_feed(&check, buf, n);
    t1 = monotime();
    bulk_end(&check, (long long)mib * 1024 * 1024);
    return t1 - t0;
}

/* the pingpong workloads, client side: COUNT round trips of one 64-byte message,
 * each echo compared with what was sent; the last message is distinct. */
static double pingpong(int fd, long count) {
    char a[PING_LEN], b[PING_LEN], last[PING_LEN], reply[PING_LEN];
    long i;
    double t0, t1;
    memcpy(a, PAT64, PING_LEN);
    memcpy(b, PING_B, PING_LEN);
    memcpy(last, PAT64, PING_LEN);
    memcpy(last + PING_LEN - MARK_LEN, MARK, MARK_LEN);
    t0 = monotime();
    for (i = 1; i <= count; i++) {
        const char *msg = i == count ? last : (i & 1) ? a : b;
        send_all(fd, msg, PING_LEN);
        if (!read_full(fd, reply, PING_LEN)) fail("round trip %ld: the stream ended", i);
        if (memcmp(reply, msg, PING_LEN) != 0) fail("round trip %ld: wrong echo", i);
    }
    t1 = monotime();
    return t1 - t0;
}

static int client(enum workload w, long count, const char *addr) {
    double secs;
    int pingpong_w = w == W_PINGPONG || w == W_TCP_PINGPONG || w == W_TCP_PINGPONG_POLL;
    long long units = w == W_LINES || pingpong_w ? count : (long long)count * 1024 * 1024;
    char c;
    int fd;

    if (w == W_UNIX_BULK || w == W_PINGPONG) {
        struct sockaddr_un su;
        if (strlen(addr) >= sizeof su.sun_path) fail("path too long: %s", addr);
        memset(&su, 0, sizeof su);
        su.sun_family = AF_UNIX;
        memcpy(su.sun_path, addr, strlen(addr));
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) fail("socket: %s", strerror(errno));
        set_timeouts_ms(fd, TIMEOUT_S * 1000L);
        if (connect(fd, (struct sockaddr *)&su, sizeof su) < 0) fail("connect %s: %s", addr, strerror(errno));
    } else {
        struct sockaddr_in sa;
        long port = parse_count(addr, 1);
        if (port > 65535) fail("bad port '%s'", addr);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) fail("socket: %s", strerror(errno));
        set_timeouts_ms(fd, TIMEOUT_S * 1000L);
        loopback(&sa, (int)port);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("connect: %s", strerror(errno));
    }

    if (w == W_LINES) secs = read_lines(fd, count);
    else if (pingpong_w) secs = pingpong(fd, count);
    else secs = read_bulk(fd, count);
    /* the pingpong client closes first; the readers make sure nothing follows */
    if (!pingpong_w && read_some(fd, &c, 1) != 0) fail("unexpected data after the end of the stream");
    close(fd);
    printf("ok %.6f %lld\n", secs, units);
    return 0;
}

#define USAGE "usage: %s server|client lines|bulk|unix_bulk|unix_pingpong|tcp_pingpong|tcp_pingpong_poll|udp|udp_mmsg|udp_gso|file_serve COUNT [ADDR]\n"

int main(int argc, char **argv) {
    static const char *const names[] = {"lines", "bulk", "unix_bulk", "unix_pingpong", "udp", "udp_mmsg", "udp_gso",
                                        "file_serve", "tcp_pingpong", "tcp_pingpong_poll", NULL};
    enum workload w = W_LINES;
    long count;
    int i, is_server, is_unix;

    signal(SIGPIPE, SIG_IGN);
    if (argc < 4) {
        fprintf(stderr, USAGE, argv[0]);
        return 2;
    }
    for (i = 0; names[i] && strcmp(argv[2], names[i]) != 0; i++) {}
    if (!names[i])
        fail("unknown workload '%s' (lines, bulk, unix_bulk, unix_pingpong, tcp_pingpong, tcp_pingpong_poll, udp, udp_mmsg, udp_gso, file_serve)", argv[2]);
    w = (enum workload)i;
    poll_first = w == W_TCP_PINGPONG_POLL;
    count = parse_count(argv[3], w == W_LINES ? 2 : 1);
    is_server = strcmp(argv[1], "server") == 0;
    is_unix = w == W_UNIX_BULK || w == W_PINGPONG;

    if (is_server && argc == (is_unix || w == W_FILE_SERVE ? 5 : 4)) {
        prog = "baseline server";
        if (w == W_UDP_GSO) fail("udp_gso is a sender (client) only");
        if (w == W_UDP || w == W_UDP_MMSG) return udp_receiver(w == W_UDP_MMSG, count);
        return server(w, count, argc == 5 ? argv[4] : NULL);
    }
    if (strcmp(argv[1], "client") == 0 && argc == 5) {
        prog = "baseline client";
        if (w == W_UDP || w == W_UDP_MMSG || w == W_UDP_GSO)
            return udp_sender(w == W_UDP ? 0 : w == W_UDP_MMSG ? 1 : 2, count, argv[4]);
        return client(w, count, argv[4]);
    }
    fprintf(stderr, USAGE, argv[0]);
    return 2;
}
