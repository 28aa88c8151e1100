/*
 * baseline.c: the C baseline of the lsock benchmarks. The same two-process
 * shape, the same bytes on the wire and the same checks as bench/stream.lua,
 * with plain blocking POSIX calls: the reader uses read() into a 64 KiB
 * buffer (and memchr for lines), which is about as fast as one can read a
 * TCP stream from user space. It is the ceiling the Lua libraries are
 * compared with, for information.
 *
 *   baseline server lines|bulk COUNT         prints its port, sends, prints "ok"
 *   baseline client lines|bulk COUNT PORT    reads, checks, prints "ok SECONDS UNITS"
 *
 * COUNT is a number of lines (lines) or of MiB (bulk). Built by bench/run.sh
 * with cc -O2 -Wall -Wextra -Werror.
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

/* Keep these in step with bench/stream.lua. */
#define LINE_LEN 39                 /* characters of a line, LF not counted */
#define BATCH_LINES 1600            /* lines per write: 64,000 bytes */
#define CHUNK 65536                 /* bulk write and read size */
#define TIMEOUT_S 30                /* every wait is bounded by this */
static const char LINE[] = "abcdefghijklmnopqrstuvwxyz0123456789ABC";
static const char LAST[] = "zyxwvutsrqponmlkjihgfedcba9876543210XYZ";
static const char PAT64[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";
static const char MARK[] = "-lsock-bench-end"; /* the last 16 bytes of bulk */
#define MARK_LEN 16

static const char *prog = "baseline";

static void fail(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double monotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_count(const char *s, long min) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min) fail("bad count '%s' (at least %ld)", s, min);
    return v;
}

static void set_timeouts(int fd) {
    struct timeval tv;
    tv.tv_sec = TIMEOUT_S;
    tv.tv_usec = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        fail("setsockopt: %s", strerror(errno));
}

static void loopback(struct sockaddr_in *sa, int port) {
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

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

/* read() with EINTR retried; 0 at end of stream; fails on error or timeout. */
static size_t read_some(int fd, char *buf, size_t max) {
    for (;;) {
        ssize_t k = read(fd, buf, max);
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

static int server(int bulk, long count) {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    struct pollfd pfd;
    int one = 1, lfd, fd, r;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) fail("socket: %s", strerror(errno));
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    loopback(&sa, 0);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("bind: %s", strerror(errno));
    if (listen(lfd, 1) < 0) fail("listen: %s", strerror(errno));
    if (getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
        fail("getsockname: %s", strerror(errno));
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    pfd.fd = lfd;
    pfd.events = POLLIN;
    do r = poll(&pfd, 1, TIMEOUT_S * 1000); while (r < 0 && errno == EINTR);
    if (r < 0) fail("poll: %s", strerror(errno));
    if (r == 0) fail("accept: timeout");
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) fail("accept: %s", strerror(errno));
    close(lfd);
    set_timeouts(fd);

    if (bulk) serve_bulk(fd, count);
    else serve_lines(fd, count);
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
    char tail[MARK_LEN];
    long long total = 0, expected = (long long)mib * 1024 * 1024;
    size_t n;
    double t0 = monotime(), t1;

    memset(tail, 0, sizeof tail);
    for (;;) {
        n = read_some(fd, buf, sizeof buf);
        if (n == 0) break;
        if (total < 64 && memcmp(buf, PAT64 + total, n < (size_t)(64 - total) ? n : (size_t)(64 - total)) != 0)
            fail("bulk: wrong content at the start");
        total += (long long)n;
        if (n >= MARK_LEN) {
            memcpy(tail, buf + n - MARK_LEN, MARK_LEN);
        } else {
            memmove(tail, tail + n, MARK_LEN - n);
            memcpy(tail + MARK_LEN - n, buf, n);
        }
    }
    t1 = monotime();
    if (total != expected) fail("got %lld bytes, expected %lld", total, expected);
    if (memcmp(tail, MARK, MARK_LEN) != 0) fail("bulk: wrong end marker");
    return t1 - t0;
}

static int client(int bulk, long count, const char *port_s) {
    struct sockaddr_in sa;
    long port = parse_count(port_s, 1);
    double secs;
    int fd;

    if (port > 65535) fail("bad port '%s'", port_s);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    set_timeouts(fd);
    loopback(&sa, (int)port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("connect: %s", strerror(errno));

    secs = bulk ? read_bulk(fd, count) : read_lines(fd, count);
    close(fd);
    printf("ok %.6f %lld\n", secs, bulk ? (long long)count * 1024 * 1024 : (long long)count);
    return 0;
}

int main(int argc, char **argv) {
    int bulk;
    long count;

    signal(SIGPIPE, SIG_IGN);
    if (argc < 4) {
        fprintf(stderr, "usage: %s server|client lines|bulk COUNT [PORT]\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[2], "lines") == 0) bulk = 0;
    else if (strcmp(argv[2], "bulk") == 0) bulk = 1;
    else fail("unknown workload '%s' (lines, bulk)", argv[2]);
    count = parse_count(argv[3], bulk ? 1 : 2);

    if (strcmp(argv[1], "server") == 0 && argc == 4) {
        prog = "baseline server";
        return server(bulk, count);
    }
    if (strcmp(argv[1], "client") == 0 && argc == 5) {
        prog = "baseline client";
        return client(bulk, count, argv[4]);
    }
    fprintf(stderr, "usage: %s server|client lines|bulk COUNT [PORT]\n", argv[0]);
    return 2;
}
