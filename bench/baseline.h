/*
 * baseline.h: what the two files of the C baseline share (bench/baseline.c:
 * main, TCP and unix streams; bench/baseline_udp.c: UDP datagrams).
 */
#ifndef LSOCK_BENCH_BASELINE_H
#define LSOCK_BENCH_BASELINE_H

#define TIMEOUT_S 30 /* every wait is bounded by this */

extern const char *prog;

void fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 1, 2)))
#endif
    ;
double monotime(void);
long parse_count(const char *s, long min);
/* SO_RCVTIMEO and SO_SNDTIMEO, in milliseconds */
void set_timeouts_ms(int fd, long ms);

/* baseline_udp.c: the udp workloads, batched with sendmmsg/recvmmsg when
 * mmsg is 1. The receiver is the server: it prints its port, receives,
 * prints "ok SECONDS RECEIVED LOST"; the sender prints "ok". */
int udp_receiver(int mmsg, long count);
int udp_sender(int mmsg, long count, const char *port_s);

#endif
