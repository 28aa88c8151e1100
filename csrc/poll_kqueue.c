/*
 * poll_kqueue.c: the BSD and macOS backend. A descriptor's read and write
 * interests are two kqueue filters; both carry its token. Compiled only
 * where <sys/event.h> exists; the project's test machines are Linux, so
 * this file is built and run by no test here (the README says so).
 */
#include "poller.h"

#ifdef LSK_HAVE_KQUEUE
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "net.h"

typedef struct {
    int fd;
} kq_set;

static void *kq_open(int *err) {
    kq_set *s = (kq_set *)malloc(sizeof *s);
    if (s == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    s->fd = kqueue();
    if (s->fd < 0 || fcntl(s->fd, F_SETFD, FD_CLOEXEC) < 0) {
        *err = errno;
        if (s->fd >= 0) close(s->fd);
        free(s);
        return NULL;
    }
    return s;
}

static void kq_close(void *set) {
    kq_set *s = (kq_set *)set;
    lsk_close(s->fd);
    free(s);
}

static int kq_ctl(void *set, int op, int fd, int events, uintptr_t token) {
    kq_set *s = (kq_set *)set;
    struct kevent ch[2];
    int n = 0;
    int want_r = op != LSK_POLL_DEL && (events & LSK_WANT_READ);
    int want_w = op != LSK_POLL_DEL && (events & LSK_WANT_WRITE);
    /* Every filter is set on or off, so MOD and DEL need no memory of
     * what was there; deleting an absent filter is not an error. */
    EV_SET(&ch[n++], fd, EVFILT_READ, want_r ? EV_ADD | EV_ENABLE : EV_DELETE, 0, 0, (void *)token);
    EV_SET(&ch[n++], fd, EVFILT_WRITE, want_w ? EV_ADD | EV_ENABLE : EV_DELETE, 0, 0, (void *)token);
    if (kevent(s->fd, ch, n, NULL, 0, NULL) < 0 && errno != ENOENT) return errno;
    return 0;
}

#define KQ_BATCH 256

static int kq_wait(void *set, lsk_pevent *out, int max, int ms) {
    kq_set *s = (kq_set *)set;
    struct kevent evs[KQ_BATCH];
    struct timespec ts, *tp = NULL;
    int n, i;
    if (max > KQ_BATCH) max = KQ_BATCH;
    if (ms >= 0) {
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (long)(ms % 1000) * 1000000L;
        tp = &ts;
    }
    n = kevent(s->fd, NULL, 0, evs, max, tp);
    if (n < 0) return -errno;
    for (i = 0; i < n; i++) {
        out[i].token = (uintptr_t)evs[i].udata;
        out[i].events = evs[i].filter == EVFILT_READ ? LSK_WANT_READ : LSK_WANT_WRITE;
        if (evs[i].flags & EV_ERROR) out[i].events = LSK_WANT_READ | LSK_WANT_WRITE;
    }
    return n;
}

static int kq_fd(void *set) { return ((kq_set *)set)->fd; }

const lsk_backend lsk_backend_kqueue = {"kqueue", kq_open, kq_close, kq_ctl, kq_wait, kq_fd};

#else
typedef int lsk_no_kqueue;
#endif
