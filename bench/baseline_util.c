/*
 * baseline_util.c: the helpers every C program of the benchmarks shares
 * (baseline, baseline_tls, scale): failing with the program's name, the
 * monotonic clock, counts from the command line, socket timeouts, the
 * loopback address, and the bulk stream with its reader's checks.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "baseline.h"

const char PAT64[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";
const char MARK[] = "-lsock-bench-end";

void fail(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

double monotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long parse_count(const char *s, long min) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min) fail("bad count '%s' (at least %ld)", s, min);
    return v;
}

void set_timeouts_ms(int fd, long ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        fail("setsockopt: %s", strerror(errno));
}

void loopback(struct sockaddr_in *sa, int port) {
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

void bulk_begin(bulk_check *c) { memset(c, 0, sizeof *c); }

void bulk_feed(bulk_check *c, const char *buf, size_t n) {
    if (c->total < 64 && memcmp(buf, PAT64 + c->total, n < (size_t)(64 - c->total) ? n : (size_t)(64 - c->total)) != 0)
        fail("bulk: wrong content at the start");
    c->total += (long long)n;
    if (n >= MARK_LEN) {
        memcpy(c->tail, buf + n - MARK_LEN, MARK_LEN);
    } else {
        memmove(c->tail, c->tail + n, MARK_LEN - n);
        memcpy(c->tail + MARK_LEN - n, buf, n);
    }
}

void bulk_end(const bulk_check *c, long long expected) {
    if (c->total != expected) fail("got %lld bytes, expected %lld", c->total, expected);
    if (memcmp(c->tail, MARK, MARK_LEN) != 0) fail("bulk: wrong end marker");
}
