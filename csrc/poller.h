/*
 * poller.h: the interface every readiness backend implements (epoll in
 * poll_epoll.c, kqueue in poll_kqueue.c, poll(2) in poll_poll.c), in plain
 * C. A backend watches descriptors, each registered with a token it hands
 * back with every event; poller.c maps tokens to Lua objects.
 */
#ifndef LSOCK_POLLER_H
#define LSOCK_POLLER_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#pragma GCC visibility push(hidden) /* see net.h */
#endif

#define LSK_POLL_ADD 1
#define LSK_POLL_MOD 2
#define LSK_POLL_DEL 3

/* One ready descriptor: its token and LSK_WANT_* readiness. */
typedef struct lsk_pevent {
    uintptr_t token;
    int events;
} lsk_pevent;

typedef struct lsk_backend {
    const char *name;
    /* A new set, or NULL with *err set. */
    void *(*open)(int *err);
    void (*close)(void *set);
    /* Register (ADD), change (MOD) or drop (DEL) fd; 0 or an errno. DEL
     * is given the same token and events the descriptor had. */
    int (*ctl)(void *set, int op, int fd, int events, uintptr_t token);
    /* Up to max ready descriptors within ms (-1: forever): the count, or
     * -errno. EINTR is returned, not retried: the caller keeps time. */
    int (*wait)(void *set, lsk_pevent *out, int max, int ms);
    /* A descriptor readable when events are pending, or -1. */
    int (*fd)(void *set);
} lsk_backend;

extern const lsk_backend lsk_backend_poll;
#ifdef __linux__
#define LSK_HAVE_EPOLL 1
extern const lsk_backend lsk_backend_epoll;
#endif
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#define LSK_HAVE_KQUEUE 1
extern const lsk_backend lsk_backend_kqueue;
#endif

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
