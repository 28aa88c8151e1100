/*
 * scale.c: the C side of the many-connection workloads of the lsock
 * benchmarks (poll_scale, concurrent_echo, idle_memory): the helpers every
 * library runs against, and the C entries of the table, all with epoll.
 * The Lua sides are in bench/scale.lua; keep the protocol in step with it.
 *
 *   scale server hold N PATH             poll_scale's peer: binds a unix stream
 *                                        socket at PATH, prints PATH, accepts
 *                                        and holds N idle connections (any byte
 *                                        on one fails), prints "ok" when all N
 *                                        have closed
 *   scale client poll_scale N PATH       C's poll_scale: N idle connections to
 *                                        PATH in an epoll set with both ends of
 *                                        a socketpair, round trips of 64 bytes
 *                                        (write, epoll_wait, read, write,
 *                                        epoll_wait, read) in batches of
 *                                        BATCH until MIN_SECS have passed;
 *                                        prints "ok SECONDS ROUND_TRIPS"
 *   scale server echo N                  C's echo server: 127.0.0.1 port 0
 *                                        (prints the port), one epoll loop, a
 *                                        line echoed as it comes; the line
 *                                        "MEASURE" is answered "RSS BEFORE
 *                                        AFTER" (VmRSS in kB at start and now);
 *                                        prints "ok LINES" once N connections
 *                                        came and all closed
 *   scale client concurrent_echo N PORT [ROUNDS [SECS]]
 *                                        the load for every echo server: N
 *                                        non-blocking connections in one epoll
 *                                        loop, each sending a 40-byte line and
 *                                        waiting for its echo, at least ROUNDS
 *                                        times and until SECS have passed;
 *                                        every echo is compared; prints "ok
 *                                        SECONDS ROUND_TRIPS"
 *   scale client idle_memory N PORT      N connections, one echo each (checked),
 *                                        then "MEASURE" on the first; prints
 *                                        "ok BEFORE_KB AFTER_KB N"
 *
 * Every wait is bounded (30 s without progress fails). Built by bench/run.sh
 * with cc -O2 -Wall -Wextra -Werror, with bench/baseline_util.c.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"

#define TIMEOUT_MS 30000
#define BATCH 20000       /* poll_scale: round trips between clock checks */
#define MIN_SECS 2.0      /* poll_scale: the least a run lasts */
#define MSG_LEN 64        /* poll_scale: a message */
#define LINE_LEN 40       /* concurrent_echo, idle_memory: a line with its LF */
#define MAX_EVENTS 256

static const char PING_B[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

const char *prog = "scale";

static long parse_long(const char *s, long min, long max) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) fail("bad number '%s' (%ld to %ld)", s, min, max);
    return v;
}

static void set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) fail("fcntl: %s", strerror(errno));
}

static void ep_add(int ep, int fd, void *ptr) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = ptr;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl: %s", strerror(errno));
}

static int ep_wait(int ep, struct epoll_event *evs, int max) {
    int n;
    do n = epoll_wait(ep, evs, max, TIMEOUT_MS); while (n < 0 && errno == EINTR);
    if (n < 0) fail("epoll_wait: %s", strerror(errno));
    if (n == 0) fail("timeout: nothing happened for %d s", TIMEOUT_MS / 1000);
    return n;
}

/* write all of p on a blocking socket (or one whose buffer has room) */
static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            fail("write: %s", errno == EAGAIN ? "timeout or full buffer" : strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
}

/* read exactly n bytes from a blocking socket; fails at the end of stream */
static void read_full(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            fail("read: %s", errno == EAGAIN ? "timeout" : strerror(errno));
        }
        if (k == 0) fail("read: the stream ended");
        p += k;
        n -= (size_t)k;
    }
}

static void unix_addr(struct sockaddr_un *su, const char *path) {
    if (strlen(path) >= sizeof su->sun_path) fail("path too long: %s", path);
    memset(su, 0, sizeof *su);
    su->sun_family = AF_UNIX;
    memcpy(su->sun_path, path, strlen(path));
}

static int tcp_connect(int port) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) fail("socket: %s", strerror(errno));
    set_timeouts_ms(fd, TIMEOUT_MS);
    loopback(&sa, port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("connect: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* VmRSS of this process, in kB */
static long vmrss_kb(void) {
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) fail("/proc/self/status: %s", strerror(errno));
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    if (kb < 0) fail("no VmRSS in /proc/self/status");
    return kb;
}

/* ---- poll_scale -------------------------------------------------------- */

static int hold(long n, const char *path) {
    struct sockaddr_un su;
    struct epoll_event evs[MAX_EVENTS];
    long accepted = 0, open = 0;
    int lfd, ep, i;
    static int listener_tag;

    unix_addr(&su, path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0) fail("socket: %s", strerror(errno));
    if (bind(lfd, (struct sockaddr *)&su, sizeof su) < 0) fail("bind %s: %s", path, strerror(errno));
    if (listen(lfd, 4096) < 0) fail("listen: %s", strerror(errno));
    set_nonblock(lfd);
    ep = epoll_create1(0);
    if (ep < 0) fail("epoll_create1: %s", strerror(errno));
    ep_add(ep, lfd, &listener_tag);
    printf("%s\n", path);
    fflush(stdout);
    while (accepted < n || open > 0) {
        int k = ep_wait(ep, evs, MAX_EVENTS);
        for (i = 0; i < k; i++) {
            if (evs[i].data.ptr == &listener_tag) {
                for (;;) {
                    int fd = accept(lfd, NULL, NULL);
                    if (fd < 0) {
                        if (errno == EAGAIN || errno == EINTR) break;
                        fail("accept: %s", strerror(errno));
                    }
                    if (++accepted > n) fail("more than %ld connections", n);
                    open++;
                    ep_add(ep, fd, (void *)(long)fd);
                }
                if (accepted == n) {
                    close(lfd);
                    unlink(path);
                }
            } else {
                int fd = (int)(long)evs[i].data.ptr;
                char c;
                ssize_t r = read(fd, &c, 1);
                if (r > 0) fail("an idle connection sent data");
                if (r < 0 && errno != ECONNRESET) fail("read: %s", strerror(errno));
                close(fd);
                open--;
            }
        }
    }
    printf("ok\n");
    return 0;
}

static void expect_one(int ep, int fd) {
    struct epoll_event evs[4];
    int k = ep_wait(ep, evs, 4);
    if (k != 1 || evs[0].data.fd != fd) fail("epoll_wait: expected the active socket alone, got %d events", k);
}

static int poll_scale(long n, const char *path) {
    struct sockaddr_un su;
    int ep, sv[2];
    long i, rts = 0;
    char got[MSG_LEN];
    double t0, t1;
    struct epoll_event ev;

    unix_addr(&su, path);
    ep = epoll_create1(0);
    if (ep < 0) fail("epoll_create1: %s", strerror(errno));
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    for (i = 0; i < n; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) fail("socket %ld: %s", i + 1, strerror(errno));
        if (connect(fd, (struct sockaddr *)&su, sizeof su) < 0)
            fail("connect %ld: %s", i + 1, strerror(errno));
        ev.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl: %s", strerror(errno));
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) fail("socketpair: %s", strerror(errno));
    set_timeouts_ms(sv[0], TIMEOUT_MS);
    set_timeouts_ms(sv[1], TIMEOUT_MS);
    for (i = 0; i < 2; i++) {
        ev.data.fd = sv[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, sv[i], &ev) < 0) fail("epoll_ctl: %s", strerror(errno));
    }
    t0 = monotime();
    do {
        for (i = 0; i < BATCH; i++) {
            const char *msg = (rts + i) & 1 ? PING_B : PAT64;
            write_all(sv[0], msg, MSG_LEN);
            expect_one(ep, sv[1]);
            read_full(sv[1], got, MSG_LEN);
            write_all(sv[1], got, MSG_LEN);
            expect_one(ep, sv[0]);
            read_full(sv[0], got, MSG_LEN);
            if (memcmp(got, msg, MSG_LEN) != 0) fail("round trip %ld: wrong echo", rts + i + 1);
        }
        rts += BATCH;
        t1 = monotime();
    } while (t1 - t0 < MIN_SECS);
    printf("ok %.6f %ld\n", t1 - t0, rts);
    return 0;
}

/* ---- the echo server ----------------------------------------------------- */

struct conn {
    int fd;
    unsigned have;
    char buf[120];
};

static int echo_server(long n) {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    struct epoll_event evs[MAX_EVENTS];
    long accepted = 0, open = 0, lines = 0, before;
    int lfd, ep, i, one = 1;
    static int listener_tag;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) fail("socket: %s", strerror(errno));
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    loopback(&sa, 0);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("bind: %s", strerror(errno));
    if (listen(lfd, 4096) < 0) fail("listen: %s", strerror(errno));
    if (getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) fail("getsockname: %s", strerror(errno));
    set_nonblock(lfd);
    ep = epoll_create1(0);
    if (ep < 0) fail("epoll_create1: %s", strerror(errno));
    ep_add(ep, lfd, &listener_tag);
    before = vmrss_kb();
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    while (accepted < n || open > 0) {
        int k = ep_wait(ep, evs, MAX_EVENTS);
        for (i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r;
            char *nl, *start;
            if (evs[i].data.ptr == &listener_tag) {
                for (;;) {
                    int fd = accept(lfd, NULL, NULL);
                    if (fd < 0) {
                        if (errno == EAGAIN || errno == EINTR) break;
                        fail("accept: %s", strerror(errno));
                    }
                    if (++accepted > n) fail("more than %ld connections", n);
                    open++;
                    set_nonblock(fd);
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = malloc(sizeof *c);
                    if (!c) fail("out of memory");
                    c->fd = fd;
                    c->have = 0;
                    ep_add(ep, fd, c);
                }
                if (accepted == n) close(lfd);
                continue;
            }
            r = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                if (errno != ECONNRESET) fail("read: %s", strerror(errno));
                r = 0;
            }
            if (r == 0) {
                if (c->have) fail("the stream ended inside a line");
                close(c->fd);
                free(c);
                open--;
                continue;
            }
            c->have += (unsigned)r;
            start = c->buf;
            while ((nl = memchr(start, '\n', c->have - (unsigned)(start - c->buf))) != NULL) {
                size_t l = (size_t)(nl - start) + 1;
                if (l == 8 && memcmp(start, "MEASURE\n", 8) == 0) {
                    char reply[64];
                    int m = snprintf(reply, sizeof reply, "RSS %ld %ld\n", before, vmrss_kb());
                    write_all(c->fd, reply, (size_t)m);
                } else {
                    write_all(c->fd, start, l);
                    lines++;
                }
                start = nl + 1;
            }
            c->have -= (unsigned)(start - c->buf);
            memmove(c->buf, start, c->have);
            if (c->have == sizeof c->buf) fail("a line longer than %zu bytes", sizeof c->buf);
        }
    }
    printf("ok %ld\n", lines);
    return 0;
}

/* ---- the clients of the echo servers ------------------------------------- */

/* the line of connection i, round r: 39 characters and LF */
static void make_line(char *p, long i, long r) {
    int k = snprintf(p, LINE_LEN + 1, "c%05ld r%08ld ", i, r);
    memcpy(p + k, PAT64, (size_t)(LINE_LEN - 1 - k));
    p[LINE_LEN - 1] = '\n';
}

struct client {
    int fd;
    unsigned have;
    long rounds;
    char sent[LINE_LEN];
    char got[LINE_LEN];
};

static int concurrent_echo(long n, int port, long min_rounds, double secs) {
    struct client *cs = calloc((size_t)n, sizeof *cs);
    struct epoll_event evs[MAX_EVENTS];
    long i, active = n, total = 0;
    double t0, t1 = 0, until;
    int ep = epoll_create1(0);

    if (!cs) fail("out of memory");
    if (ep < 0) fail("epoll_create1: %s", strerror(errno));
    for (i = 0; i < n; i++) {
        cs[i].fd = tcp_connect(port);
        set_nonblock(cs[i].fd);
        ep_add(ep, cs[i].fd, &cs[i]);
    }
    t0 = monotime();
    until = t0 + secs;
    for (i = 0; i < n; i++) {
        make_line(cs[i].sent, i, 0);
        write_all(cs[i].fd, cs[i].sent, LINE_LEN);
    }
    while (active > 0) {
        int k = ep_wait(ep, evs, MAX_EVENTS), j;
        for (j = 0; j < k; j++) {
            struct client *c = evs[j].data.ptr;
            ssize_t r = read(c->fd, c->got + c->have, LINE_LEN - c->have);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                fail("connection %ld: read: %s", (long)(c - cs), strerror(errno));
            }
            if (r == 0) fail("connection %ld: the server closed it", (long)(c - cs));
            c->have += (unsigned)r;
            if (c->have < LINE_LEN) continue;
            if (memcmp(c->got, c->sent, LINE_LEN) != 0)
                fail("connection %ld, round %ld: wrong echo", (long)(c - cs), c->rounds + 1);
            c->have = 0;
            c->rounds++;
            total++;
            if (c->rounds >= min_rounds && (t1 = monotime()) >= until) {
                close(c->fd); /* closing removes it from the epoll set */
                active--;
                continue;
            }
            make_line(c->sent, (long)(c - cs), c->rounds);
            write_all(c->fd, c->sent, LINE_LEN);
        }
    }
    for (i = 0; i < n; i++)
        if (cs[i].rounds < min_rounds) fail("connection %ld: %ld rounds", i, cs[i].rounds);
    printf("ok %.6f %ld\n", t1 - t0, total);
    return 0;
}

static int idle_memory(long n, int port) {
    int *fds = calloc((size_t)n, sizeof *fds);
    char line[LINE_LEN], got[LINE_LEN], reply[64];
    long i, before, after;
    size_t have = 0;

    if (!fds) fail("out of memory");
    for (i = 0; i < n; i++) {
        fds[i] = tcp_connect(port);
        make_line(line, i, 0);
        write_all(fds[i], line, LINE_LEN);
        read_full(fds[i], got, LINE_LEN);
        if (memcmp(got, line, LINE_LEN) != 0) fail("connection %ld: wrong echo", i);
    }
    write_all(fds[0], "MEASURE\n", 8);
    while (have == 0 || reply[have - 1] != '\n') {
        ssize_t r = read(fds[0], reply + have, sizeof reply - 1 - have);
        if (r <= 0) fail("MEASURE: no answer");
        have += (size_t)r;
        if (have == sizeof reply - 1) fail("MEASURE: answer too long");
    }
    reply[have] = 0;
    if (sscanf(reply, "RSS %ld %ld", &before, &after) != 2) fail("MEASURE: bad answer '%s'", reply);
    for (i = 0; i < n; i++) close(fds[i]);
    printf("ok %ld %ld %ld\n", before, after, n);
    return 0;
}

#define USAGE                                                                             \
    "usage: %s server hold N PATH | client poll_scale N PATH | server echo N |\n"         \
    "       client concurrent_echo N PORT [ROUNDS [SECS]] | client idle_memory N PORT\n"

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 4) {
        long n = parse_long(argv[3], 1, 1000000);
        int server = strcmp(argv[1], "server") == 0;
        const char *w = argv[2];
        prog = server ? "scale server" : "scale client";
        if (server && strcmp(w, "hold") == 0 && argc == 5) return hold(n, argv[4]);
        if (server && strcmp(w, "echo") == 0 && argc == 4) return echo_server(n);
        if (!server && strcmp(argv[1], "client") == 0 && argc >= 5) {
            if (strcmp(w, "poll_scale") == 0 && argc == 5) return poll_scale(n, argv[4]);
            if (strcmp(w, "concurrent_echo") == 0 && argc <= 7)
                return concurrent_echo(n, (int)parse_long(argv[4], 1, 65535),
                                       argc > 5 ? parse_long(argv[5], 1, 100000000) : 200,
                                       argc > 6 ? (double)parse_long(argv[6], 0, 100) : 2.0);
            if (strcmp(w, "idle_memory") == 0 && argc == 5)
                return idle_memory(n, (int)parse_long(argv[4], 1, 65535));
        }
    }
    fprintf(stderr, USAGE, argv[0]);
    return 2;
}
