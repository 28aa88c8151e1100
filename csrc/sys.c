/*
 * sys.c: descriptor primitives. Every descriptor lsock creates is
 * close-on-exec and non-blocking from birth; every call retries EINTR;
 * no write can raise SIGPIPE. The send and receive calls also pass
 * MSG_DONTWAIT, so they never wait even on a descriptor a kernel wait
 * has made blocking (stream.c); lsk_recv_wait and lsk_send_wait are the
 * calls that may.
 */
#define _GNU_SOURCE /* accept4, SOCK_CLOEXEC, MSG_NOSIGNAL */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "net.h"

static int poll_once(int fd, int want, int ms) {
    struct pollfd p;
    p.fd = fd;
    p.events = (short)(((want & LSK_WANT_READ) ? POLLIN : 0) |
                       ((want & LSK_WANT_WRITE) ? POLLOUT : 0));
    p.revents = 0;
    return poll(&p, 1, ms);
}

int lsk_peer_gone(int fd) {
#ifdef POLLRDHUP
    struct pollfd p;
    int r;
    p.fd = fd;
    p.events = POLLRDHUP;
    p.revents = 0;
    while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR) {
    }
    return r > 0 && (p.revents & (POLLRDHUP | POLLHUP)) != 0;
#else
    (void)fd;
    return 1;
#endif
}

int lsk_ready(int fd, int want) {
    int r;
    while ((r = poll_once(fd, want, 0)) < 0 && errno == EINTR) {
    }
    return r > 0;
}

int lsk_wait(int fd, int want, lsk_deadline *d) {
    /* A zero wait is answered without a system call: the caller has just
     * been told EAGAIN. */
    int ms = lsk_deadline_ms(d), r;
    double end;
    if (ms == 0) return ETIMEDOUT;
    end = ms > 0 ? lsk_monotime() + ms / 1000.0 : -1;
    for (;;) {
        r = poll_once(fd, want, ms);
        if (r > 0) return 0; /* ready, or an error the next call reports */
        if (r == 0) return ETIMEDOUT;
        if (errno != EINTR) return errno;
        /* a signal cut the wait short: it goes on with its time left */
        if (end >= 0 && (ms = lsk_ms_until(end)) == 0) return ETIMEDOUT;
    }
}

int lsk_setup_fd(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
    flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return errno;
#ifdef SO_NOSIGPIPE
    {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    return 0;
}

int lsk_sys_socket(int family, int type, int protocol) {
    int fd, err;
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd >= 0) {
#ifdef SO_NOSIGPIPE
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
        return fd;
    }
    if (errno != EINVAL) return -errno;
#endif
    fd = socket(family, type, protocol);
    if (fd < 0) return -errno;
    if ((err = lsk_setup_fd(fd)) != 0) {
        close(fd);
        return -err;
    }
    return fd;
}

int lsk_sys_socketpair(int family, int type, int protocol, int fds[2]) {
    int err;
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    if (socketpair(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol, fds) == 0) {
#ifdef SO_NOSIGPIPE
        lsk_setup_fd(fds[0]);
        lsk_setup_fd(fds[1]);
#endif
        return 0;
    }
    if (errno != EINVAL) return errno;
#endif
    if (socketpair(family, type, protocol, fds) < 0) return errno;
    if ((err = lsk_setup_fd(fds[0])) != 0 || (err = lsk_setup_fd(fds[1])) != 0) {
        close(fds[0]);
        close(fds[1]);
        return err;
    }
    return 0;
}

int lsk_sys_accept(int fd, struct sockaddr *sa, socklen_t *len) {
    int c, err;
    for (;;) {
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK) && defined(__linux__)
        c = accept4(fd, sa, len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) return c;
#else
        c = accept(fd, sa, len);
        if (c >= 0) {
            if ((err = lsk_setup_fd(c)) != 0) {
                close(c);
                return -err;
            }
            return c;
        }
#endif
        if (errno == EINTR) continue;
        /* A connection reset while still queued is the peer's problem,
         * not the listener's: report it as "nothing yet". */
        if (errno == ECONNABORTED) return -EAGAIN;
        err = errno;
        return -err;
    }
}

int lsk_close(int fd) {
    /* close() is not retried on EINTR: on Linux the descriptor is gone
     * either way and retrying could close a descriptor reused since. */
    return close(fd) == 0 ? 0 : errno;
}

#ifdef MSG_NOSIGNAL
#define LSK_NOSIGNAL MSG_NOSIGNAL
#else
#define LSK_NOSIGNAL 0
#endif
#define LSK_SENDFLAGS (LSK_NOSIGNAL | LSK_DONTWAIT)

long lsk_send(int fd, const char *p, size_t n) {
    for (;;) {
        ssize_t r = send(fd, p, n, LSK_SENDFLAGS);
        if (r >= 0) return (long)r;
        if (errno != EINTR) return -(long)errno;
    }
}

/* These two return -EINTR: the caller knows how much of its timeout is
 * left, and the kernel's timeout starts again with the next call. */
long lsk_send_wait(int fd, const char *p, size_t n) {
    ssize_t r = send(fd, p, n, LSK_NOSIGNAL);
    return r >= 0 ? (long)r : -(long)errno;
}

long lsk_recv_wait(int fd, char *p, size_t n) {
    ssize_t r = recv(fd, p, n, 0);
    return r >= 0 ? (long)r : -(long)errno;
}

int lsk_set_blocking(int fd, int blocking) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
    return fcntl(fd, F_SETFL, flags) < 0 ? errno : 0;
}

int lsk_is_blocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK) == 0;
}

int lsk_set_wait_ms(int fd, int write, int ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return setsockopt(fd, SOL_SOCKET, write ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, sizeof tv) < 0 ? errno : 0;
}

long lsk_sendto(int fd, const char *p, size_t n, const struct sockaddr *sa, socklen_t len) {
    for (;;) {
        ssize_t r = sendto(fd, p, n, LSK_SENDFLAGS, sa, len);
        if (r >= 0) return (long)r;
        if (errno != EINTR) return -(long)errno;
    }
}

long lsk_recvfrom(int fd, char *p, size_t n, struct sockaddr *sa, socklen_t *len) {
    for (;;) {
        ssize_t r = recvfrom(fd, p, n, LSK_DONTWAIT, sa, len);
        if (r >= 0) return (long)r;
        if (errno != EINTR) return -(long)errno;
    }
}

long lsk_recv(int fd, char *p, size_t n) {
    for (;;) {
        ssize_t r = recv(fd, p, n, LSK_DONTWAIT);
        if (r >= 0) return (long)r;
        if (errno != EINTR) return -(long)errno;
    }
}

long lsk_sendmsg(int fd, const struct msghdr *m) {
    for (;;) {
        ssize_t r = sendmsg(fd, m, LSK_SENDFLAGS);
        if (r >= 0) return (long)r;
        if (errno != EINTR) return -(long)errno;
    }
}

#ifdef MSG_CMSG_CLOEXEC
#define LSK_RECVFLAGS MSG_CMSG_CLOEXEC
#else
#define LSK_RECVFLAGS 0
#endif

long lsk_recvmsg(int fd, struct msghdr *m) {
    /* Only a control buffer can bring descriptors, and some families
     * (packet sockets) refuse the flag: ask for it only then. */
    int flags = (m->msg_control != NULL ? LSK_RECVFLAGS : 0) | LSK_DONTWAIT;
    for (;;) {
        ssize_t r = recvmsg(fd, m, flags);
        if (r >= 0) return (long)r;
        if (errno != EINTR) return -(long)errno;
    }
}
