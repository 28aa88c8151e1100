/*
 * baseline_udp.c: the udp workloads of the C baseline, the ceiling the Lua
 * libraries are compared with. Same protocol, bytes and checks as
 * bench/dgram.lua (keep the constants in step):
 *
 *   the receiver (server) binds 127.0.0.1 port 0 with a 4 MiB SO_RCVBUF,
 *     prints the port, waits for "HELLO" from the sender, connects to it,
 *     answers "GO" and starts its clock; then receives until the end marker
 *     (or until nothing came for IDLE_MS), checks every datagram and prints
 *     "ok SECONDS RECEIVED LOST";
 *   the sender (client) connects to the port, says "HELLO", waits for "GO",
 *     sends COUNT datagrams and the end marker (3 times), prints "ok".
 *
 * A datagram is 64 bytes: its sequence number in 8 decimal digits, then
 * bytes 9..64 of PAT64. Flow control keeps the receiver's buffer from
 * overflowing: the receiver acks ("A" SEQ) the first datagram it sees of
 * every block of ACK_EVERY, and the sender never has more than WINDOW
 * datagrams beyond the last ack in flight (it waits at most ACK_WAIT_MS for
 * an ack, then goes on: loss is then counted, not hidden).
 *
 * mmsg 0: send() and recv() on connected sockets, one datagram per call;
 * mmsg 1: sendmmsg() and recvmmsg(MSG_WAITFORONE), BATCH at a time.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "baseline.h"

#define DGRAM_LEN 64
#define SEQ_DIGITS 8
#define MAX_COUNT 99999999L
#define BATCH 64
#define WINDOW 4096
#define ACK_EVERY 512
#define IDLE_MS 500
#define ACK_WAIT_MS 200
#define END_TRIES 5 /* END sent at most this often, ACK_WAIT_MS apart */
#define RCVBUF (4 * 1024 * 1024)
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* Linux 4.18 */
#endif
#define RXBUF 2048 /* a receive buffer: longer than any datagram expected */

static const char END_HEAD[] = "LSOCKEND"; /* replaces the sequence number */

/* seq (0 .. MAX_COUNT) in SEQ_DIGITS decimal digits, then PAT64's tail */
static void make_dgram(char *d, long seq) {
    int i;
    for (i = SEQ_DIGITS - 1; i >= 0; i--) {
        d[i] = (char)('0' + seq % 10);
        seq /= 10;
    }
    memcpy(d + SEQ_DIGITS, PAT64 + SEQ_DIGITS, DGRAM_LEN - SEQ_DIGITS);
}

static void make_end(char *d) {
    memcpy(d, END_HEAD, SEQ_DIGITS);
    memcpy(d + SEQ_DIGITS, PAT64 + SEQ_DIGITS, DGRAM_LEN - SEQ_DIGITS);
}

/* recv() with EINTR retried; -1 on timeout; fails on any other error. */
static ssize_t recv_or_timeout(int fd, char *buf, size_t max) {
    for (;;) {
        ssize_t n = recv(fd, buf, max, 0);
        if (n >= 0) return n;
        /* ECONNREFUSED: an ack or END reached a socket that was gone (an
         * ICMP error, reported once); what is queued is still there */
        if (errno == EINTR || errno == ECONNREFUSED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
        fail("recv: %s", strerror(errno));
    }
}

static void send_dgram(int fd, const char *d, size_t n) {
    for (;;) {
        ssize_t k = send(fd, d, n, 0);
        if (k == (ssize_t)n) return;
        if (k < 0 && errno == EINTR) continue;
        fail("send: %s", k < 0 ? (errno == EAGAIN ? "timeout" : strerror(errno)) : "short send");
    }
}

/* ---- receiver ---------------------------------------------------------- */

struct rx {
    int fd;
    long count, received, last, next_ack;
    char last_dgram[DGRAM_LEN];
};

/* Checks one datagram; 1 for the end marker. */
static int take(struct rx *r, const char *d, size_t n) {
    long seq = 0;
    int i;
    if (n != DGRAM_LEN) fail("datagram %ld: %zu bytes, expected %d", r->received + 1, n, DGRAM_LEN);
    for (i = 0; i < SEQ_DIGITS && d[i] >= '0' && d[i] <= '9'; i++) seq = seq * 10 + (d[i] - '0');
    if (i < SEQ_DIGITS) {
        char end[DGRAM_LEN];
        make_end(end);
        if (memcmp(d, end, DGRAM_LEN) == 0) return 1;
        fail("datagram %ld: wrong content", r->received + 1);
    }
    if (seq <= r->last)
        fail("datagram %ld: seq %ld after seq %ld: duplicated or out of order", r->received + 1, seq, r->last);
    if (seq >= r->count) fail("datagram %ld: seq %ld, only %ld were sent", r->received + 1, seq, r->count);
    if (r->received == 0) {
        char want[DGRAM_LEN];
        make_dgram(want, seq);
        if (memcmp(d, want, DGRAM_LEN) != 0) fail("first datagram: wrong content");
    }
    r->received++;
    r->last = seq;
    memcpy(r->last_dgram, d, DGRAM_LEN);
    if (seq >= r->next_ack) {
        char ack[24];
        int k = snprintf(ack, sizeof ack, "A%ld", seq);
        (void)send(r->fd, ack, (size_t)k, 0); /* a lost ack only slows the sender */
        r->next_ack = seq - seq % ACK_EVERY + ACK_EVERY;
    }
    return 0;
}

int udp_receiver(int mmsg, long count) {
    static char bufs[BATCH][RXBUF];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in sa, peer;
    socklen_t len = sizeof sa, plen = sizeof peer;
    struct rx r;
    double t0, t1 = 0;
    int v = RCVBUF, fd, i, ended = 0;
    ssize_t n;

    if (count > MAX_COUNT) fail("at most %ld datagrams", MAX_COUNT);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) < 0) fail("SO_RCVBUF: %s", strerror(errno));
    loopback(&sa, 0);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("bind: %s", strerror(errno));
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) fail("getsockname: %s", strerror(errno));
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    set_timeouts_ms(fd, TIMEOUT_S * 1000L);
    for (;;) {
        n = recvfrom(fd, bufs[0], RXBUF, 0, (struct sockaddr *)&peer, &plen);
        if (n >= 0 || errno != EINTR) break;
    }
    if (n < 0) fail("waiting for the sender: %s", errno == EAGAIN ? "timeout" : strerror(errno));
    if (n != 5 || memcmp(bufs[0], "HELLO", 5) != 0) fail("expected HELLO from the sender");
    if (connect(fd, (struct sockaddr *)&peer, plen) < 0) fail("connect: %s", strerror(errno));
    set_timeouts_ms(fd, IDLE_MS);
    send_dgram(fd, "GO", 2);

    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.count = count;
    r.last = -1;
    for (i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = RXBUF;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    t0 = monotime();
    while (!ended) {
        if (mmsg) {
            int got = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
            if (got < 0) {
                if (errno == EINTR || errno == ECONNREFUSED) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) fail("recvmmsg: %s", strerror(errno));
                t1 = monotime() - IDLE_MS / 1000.0; /* nothing for IDLE_MS: the end */
                break;
            }
            for (i = 0; i < got && !ended; i++) {
                if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) fail("datagram %ld: truncated", r.received + 1);
                ended = take(&r, bufs[i], msgs[i].msg_len);
            }
        } else {
            n = recv_or_timeout(fd, bufs[0], RXBUF);
            if (n < 0) {
                t1 = monotime() - IDLE_MS / 1000.0;
                break;
            }
            ended = take(&r, bufs[0], (size_t)n);
        }
    }
    if (ended) {
        t1 = monotime();
        (void)send(fd, "BYE", 3, 0); /* the sender may go */
    }
    if (r.received == 0) fail("no datagram arrived");
    {
        char want[DGRAM_LEN];
        make_dgram(want, r.last);
        if (memcmp(r.last_dgram, want, DGRAM_LEN) != 0) fail("last datagram: wrong content");
    }
    close(fd);
    printf("ok %.6f %ld %ld\n", t1 - t0, r.received, count - r.received);
    return 0;
}

/* ---- sender ------------------------------------------------------------ */

/* Waits until sending up to seq `top` keeps at most WINDOW datagrams in
 * flight beyond the last ack. */
static void wait_window(int fd, long *acked, long top) {
    char buf[RXBUF];
    while (top - *acked > WINDOW) {
        ssize_t n = recv_or_timeout(fd, buf, sizeof buf - 1);
        long seq;
        char *end;
        if (n < 0) { /* no ack for ACK_WAIT_MS: go on, loss is counted */
            *acked = top - WINDOW;
            return;
        }
        buf[n] = 0;
        if (n < 2 || buf[0] != 'A') fail("expected an ack");
        seq = strtol(buf + 1, &end, 10);
        if (*end) fail("bad ack '%s'", buf);
        if (seq > *acked) *acked = seq;
    }
}

int udp_sender(int mmsg, long count, const char *port_s) {
    static char gso[BATCH * DGRAM_LEN];
    static char bufs[BATCH][DGRAM_LEN];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in sa;
    long port = parse_count(port_s, 1), seq, acked = -1;
    char buf[RXBUF];
    ssize_t n;
    int fd, i;

    if (port > 65535) fail("bad port '%s'", port_s);
    if (count > MAX_COUNT) fail("at most %ld datagrams", MAX_COUNT);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    loopback(&sa, (int)port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("connect: %s", strerror(errno));
    set_timeouts_ms(fd, TIMEOUT_S * 1000L);
    send_dgram(fd, "HELLO", 5);
    n = recv_or_timeout(fd, buf, sizeof buf);
    if (n < 0) fail("waiting for GO: timeout");
    if (n != 2 || memcmp(buf, "GO", 2) != 0) fail("expected GO from the receiver");
    set_timeouts_ms(fd, ACK_WAIT_MS);

    for (i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = DGRAM_LEN;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    if (mmsg == 2) {
        int seg = DGRAM_LEN;
        if (setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0)
            fail("UDP_SEGMENT: %s", strerror(errno));
    }
    for (seq = 0; seq < count;) {
        if (mmsg == 2) { /* one send of up to BATCH datagrams, cut by the kernel */
            int k = count - seq < BATCH ? (int)(count - seq) : BATCH;
            wait_window(fd, &acked, seq + k - 1);
            for (i = 0; i < k; i++) make_dgram(gso + i * DGRAM_LEN, seq + i);
            send_dgram(fd, gso, (size_t)k * DGRAM_LEN);
            seq += k;
        } else if (mmsg) {
            int k = count - seq < BATCH ? (int)(count - seq) : BATCH, done = 0;
            wait_window(fd, &acked, seq + k - 1);
            for (i = 0; i < k; i++) make_dgram(bufs[i], seq + i);
            while (done < k) {
                int sent = sendmmsg(fd, msgs + done, (unsigned)(k - done), 0);
                if (sent < 0) {
                    if (errno == EINTR) continue;
                    fail("sendmmsg: %s", strerror(errno));
                }
                done += sent;
            }
            seq += k;
        } else {
            wait_window(fd, &acked, seq);
            make_dgram(bufs[0], seq);
            send_dgram(fd, bufs[0], DGRAM_LEN);
            seq++;
        }
    }
    /* the end marker, until the receiver says BYE (its acks come first);
     * after END_TRIES the receiver has timed out on its own */
    make_end(bufs[0]);
    for (i = 0; i < END_TRIES; i++) {
        send_dgram(fd, bufs[0], DGRAM_LEN);
        while ((n = recv_or_timeout(fd, buf, sizeof buf)) >= 0)
            if (n == 3 && memcmp(buf, "BYE", 3) == 0) break;
        if (n >= 0) break;
    }
    close(fd);
    printf("ok\n");
    return 0;
}
