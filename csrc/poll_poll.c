/*
 * poll_poll.c: the portable backend, over poll(2). The set is an array of
 * pollfd with a token beside each; an index by descriptor number keeps
 * modify and remove O(1). One wait costs O(registered descriptors), as
 * poll(2) itself does.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "poller.h"

typedef struct {
    struct pollfd *fds;
    uintptr_t *tokens;
    size_t n, cap;
    int *where;      /* where[fd]: index in fds, or -1 */
    size_t where_cap;
    size_t next;     /* where the last wait stopped reporting */
} poll_set;

static void *pl_open(int *err) {
    poll_set *s = (poll_set *)calloc(1, sizeof *s);
    if (s == NULL) *err = ENOMEM;
    return s;
}

static void pl_close(void *set) {
    poll_set *s = (poll_set *)set;
    free(s->fds);
    free(s->tokens);
    free(s->where);
    free(s);
}

static short to_poll(int events) {
    return (short)(((events & LSK_WANT_READ) ? POLLIN : 0) | ((events & LSK_WANT_WRITE) ? POLLOUT : 0));
}

/* Room for fd in the index and for one more entry. */
static int grow(poll_set *s, int fd) {
    if ((size_t)fd >= s->where_cap) {
        size_t cap = s->where_cap ? s->where_cap : 64, i;
        int *w;
        while (cap <= (size_t)fd) cap *= 2;
        w = (int *)realloc(s->where, cap * sizeof *w);
        if (w == NULL) return ENOMEM;
        for (i = s->where_cap; i < cap; i++) w[i] = -1;
        s->where = w;
        s->where_cap = cap;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct pollfd *f = (struct pollfd *)realloc(s->fds, cap * sizeof *f);
        uintptr_t *t;
        if (f == NULL) return ENOMEM;
        s->fds = f;
        t = (uintptr_t *)realloc(s->tokens, cap * sizeof *t);
        if (t == NULL) return ENOMEM;
        s->tokens = t;
        s->cap = cap;
    }
    return 0;
}

static int pl_ctl(void *set, int op, int fd, int events, uintptr_t token) {
    poll_set *s = (poll_set *)set;
    int at = (fd >= 0 && (size_t)fd < s->where_cap) ? s->where[fd] : -1;
    if (fd < 0) return EBADF;
    if (op == LSK_POLL_ADD) {
        int err;
        if (at >= 0) return EEXIST;
        if ((err = grow(s, fd)) != 0) return err;
        s->fds[s->n].fd = fd;
        s->fds[s->n].events = to_poll(events);
        s->fds[s->n].revents = 0;
        s->tokens[s->n] = token;
        s->where[fd] = (int)s->n++;
        return 0;
    }
    if (at < 0) return ENOENT;
    if (op == LSK_POLL_MOD) {
        s->fds[at].events = to_poll(events);
        s->tokens[at] = token;
        return 0;
    }
    /* DEL: the last entry takes the freed place. */
    s->n--;
    if ((size_t)at != s->n) {
        s->fds[at] = s->fds[s->n];
        s->tokens[at] = s->tokens[s->n];
        s->where[s->fds[at].fd] = at;
    }
    s->where[fd] = -1;
    return 0;
}

static int pl_wait(void *set, lsk_pevent *out, int max, int ms) {
    poll_set *s = (poll_set *)set;
    size_t i, k;
    int r, got = 0;
    r = poll(s->fds, (nfds_t)s->n, ms);
    if (r < 0) return -errno;
    if (r == 0 || s->n == 0) return 0;
    /* Start where the last report stopped, so that with more ready
     * descriptors than max none waits forever. */
    if (s->next >= s->n) s->next = 0;
    for (k = 0; k < s->n && got < max; k++) {
        short re;
        i = (s->next + k) % s->n;
        re = s->fds[i].revents;
        if (re == 0 || (re & POLLNVAL)) continue;
        out[got].token = s->tokens[i];
        out[got].events = ((re & (POLLIN | POLLERR | POLLHUP)) ? LSK_WANT_READ : 0) |
                          ((re & (POLLOUT | POLLERR | POLLHUP)) ? LSK_WANT_WRITE : 0);
        got++;
    }
    s->next = (s->next + k) % (s->n ? s->n : 1);
    return got;
}

static int pl_fd(void *set) {
    (void)set;
    return -1;
}

const lsk_backend lsk_backend_poll = {"poll", pl_open, pl_close, pl_ctl, pl_wait, pl_fd};
