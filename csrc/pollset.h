/*
 * pollset.h: a set of registrations over one backend (poller.h), in C
 * only. Both Lua-facing waiters are built on it: the lsock.poller object
 * (poller.c) and the loop's scheduler (sched.c). It keeps the promises
 * they share:
 *
 * - a registration is a slot; its token carries the slot's generation,
 *   which changes whenever the slot is freed, so an event harvested for an
 *   old registration never matches a new one;
 * - a socket knows the sets it is in (lsk_pollref), and closing it removes
 *   it from each of them before its descriptor is released, so a recycled
 *   descriptor number is never watched on its behalf; the set's owner
 *   hears of it through on_forget;
 * - a socket with buffered input that is still wanted is reported readable
 *   without asking the kernel.
 */
#ifndef LSOCK_POLLSET_H
#define LSOCK_POLLSET_H

#include "internal.h"
#include "poller.h"

#if defined(__GNUC__)
#pragma GCC visibility push(hidden) /* see net.h */
#endif

/* A growable array of slot numbers. */
typedef struct lsk_slotlist {
    unsigned *v;
    unsigned n, cap;
} lsk_slotlist;

typedef struct lsk_pslot {
    int fd;            /* -1: free, or taken away by a close */
    int events;        /* LSK_WANT_* registered with the kernel */
    unsigned gen;
    lsk_stream *st;    /* NULL for a plain descriptor */
    int queued;        /* in the dirty queue */
    int mark;          /* during a wait: 1 + index of its dirty event */
    /* The scheduler's: first task waiting to read and to write (index +
     * 1, 0: none), and whether the slot is in its list to settle. */
    unsigned rwait, wwait;
    int touched;
} lsk_pslot;

typedef struct lsk_pollset lsk_pollset;
struct lsk_pollset {
    const lsk_backend *be;
    void *set;              /* NULL once closed */
    lsk_pslot *slots;
    unsigned nslots, cap, count;
    lsk_slotlist free_, dirty;
    lsk_pevent *ev;         /* the events of the last wait */
    int nev, pos, evcap;
    /* A close took slot away (already out of the kernel's set, fd -1):
     * the owner frees it with lsk_pollset_free_slot when it may. */
    void (*on_forget)(lsk_pollset *ps, unsigned slot);
};

int lsk_slot_push(lsk_slotlist *l, unsigned s); /* 0 or ENOMEM */

/* The default backend (epoll, kqueue, else poll) or the one named; NULL
 * when that one is not compiled in. */
const lsk_backend *lsk_backend_named(const char *name);
/* 0 or an errno. */
int lsk_pollset_open(lsk_pollset *ps, const lsk_backend *be,
                     void (*on_forget)(lsk_pollset *, unsigned));
void lsk_pollset_close(lsk_pollset *ps);
/* Register fd (st: its stream, or NULL) for events: 0 and *slot, or an
 * errno. */
int lsk_pollset_add(lsk_pollset *ps, int fd, lsk_stream *st, int events,
                    unsigned *slot);
int lsk_pollset_modify(lsk_pollset *ps, unsigned slot, int events);
/* Out of the kernel's set and of the stream's list; the slot is free. */
void lsk_pollset_remove(lsk_pollset *ps, unsigned slot);
void lsk_pollset_free_slot(lsk_pollset *ps, unsigned slot);
/* The slot of st in ps, or -1. */
long lsk_pollset_find(const lsk_pollset *ps, const lsk_stream *st);
/* Wait up to ms (-1: forever) and gather the events: their count, or
 * -errno. A socket with buffered input makes the wait a poll. */
int lsk_pollset_wait(lsk_pollset *ps, int ms);
/* The next gathered event still valid: 1 with its slot and events (those
 * of its interest), or 0 at the end. */
int lsk_pollset_next(lsk_pollset *ps, unsigned *slot, int *events);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
