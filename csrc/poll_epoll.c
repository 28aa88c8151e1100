/*
 * poll_epoll.c: the Linux backend. Level-triggered epoll, so a descriptor
 * stays reported for as long as it is ready, as poll(2) reports it.
 */
#ifdef __linux__
#define _GNU_SOURCE /* epoll_create1 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net.h"
#include "poller.h"

typedef struct {
    int fd;
} epoll_set;

static void *ep_open(int *err) {
    epoll_set *s = (epoll_set *)malloc(sizeof *s);
    if (s == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    s->fd = epoll_create1(EPOLL_CLOEXEC);
    if (s->fd < 0) {
        *err = errno;
        free(s);
        return NULL;
    }
    return s;
}

static void ep_close(void *set) {
    epoll_set *s = (epoll_set *)set;
    lsk_close(s->fd);
    free(s);
}

static int ep_ctl(void *set, int op, int fd, int events, uintptr_t token) {
    epoll_set *s = (epoll_set *)set;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((events & LSK_WANT_READ) ? EPOLLIN : 0) | ((events & LSK_WANT_WRITE) ? EPOLLOUT : 0);
    ev.data.u64 = (uint64_t)token;
    if (epoll_ctl(s->fd, op == LSK_POLL_ADD ? EPOLL_CTL_ADD : op == LSK_POLL_MOD ? EPOLL_CTL_MOD
                                                                               : EPOLL_CTL_DEL,
                  fd, &ev) < 0)
        return errno;
    return 0;
}

#define EP_BATCH 256

static int ep_wait(void *set, lsk_pevent *out, int max, int ms) {
    epoll_set *s = (epoll_set *)set;
    struct epoll_event evs[EP_BATCH];
    int n, i;
    if (max > EP_BATCH) max = EP_BATCH;
    n = epoll_wait(s->fd, evs, max, ms);
    if (n < 0) return -errno;
    for (i = 0; i < n; i++) {
        unsigned e = evs[i].events;
        out[i].token = (uintptr_t)evs[i].data.u64;
        /* An error or hang-up is ready for whatever was asked: the next
         * operation reports it. The caller masks with the interest. */
        out[i].events = ((e & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? LSK_WANT_READ : 0) |
                        ((e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ? LSK_WANT_WRITE : 0);
    }
    return n;
}

static int ep_fd(void *set) { return ((epoll_set *)set)->fd; }

const lsk_backend lsk_backend_epoll = {"epoll", ep_open, ep_close, ep_ctl, ep_wait, ep_fd};

#else
/* ISO C wants a translation unit to declare something. */
typedef int lsk_no_epoll;
#endif
