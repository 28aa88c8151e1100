/*
 * baseline.h: what the C programs of the benchmarks share: the helpers of
 * bench/baseline_util.c (every program), and the UDP workloads of
 * bench/baseline_udp.c (the C baseline, bench/baseline.c).
 */
#ifndef LSOCK_BENCH_BASELINE_H
#define LSOCK_BENCH_BASELINE_H

#define TIMEOUT_S 30 /* every wait is bounded by this */

extern const char *prog; /* each program defines its name */

void fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 1, 2)))
#endif
    ;
double monotime(void);
long parse_count(const char *s, long min);
/* SO_RCVTIMEO and SO_SNDTIMEO, in milliseconds */
void set_timeouts_ms(int fd, long ms);
/* The bulk stream, as bench/common.lua has it: CHUNK-sized pieces of
 * PAT64 repeated, the last MARK_LEN bytes MARK. */
extern const char PAT64[]; /* 64 bytes and a terminator */
extern const char MARK[];
#define MARK_LEN 16

/* A bulk reader's checks: feed it every read; at the end it fails unless
 * the stream started with PAT64, had `expected` bytes and ended with MARK. */
typedef struct bulk_check {
    long long total;
    char tail[MARK_LEN];
} bulk_check;
void bulk_begin(bulk_check *c);
void bulk_feed(bulk_check *c, const char *buf, size_t n);
void bulk_end(const bulk_check *c, long long expected);

struct sockaddr_in;
/* 127.0.0.1:port */
void loopback(struct sockaddr_in *sa, int port);

/* baseline_udp.c: the udp workloads, batched with sendmmsg/recvmmsg when
 * mmsg is 1. The receiver is the server: it prints its port, receives,
 * prints "ok SECONDS RECEIVED LOST"; the sender prints "ok". */
int udp_receiver(int mmsg, long count);
int udp_sender(int mmsg, long count, const char *port_s);

#endif
