/*
 * pollset.c: registrations, tokens, back-references from sockets and the
 * dirty queue, shared by lsock.poller (poller.c) and the loop's scheduler
 * (sched.c). See pollset.h for what it promises.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pollset.h"

#define WAIT_BATCH 256

/* Tokens: the slot in the low half of a word, its generation above. */
#define HALF (sizeof(uintptr_t) * 4)
#define SLOT_MASK (((uintptr_t)1 << HALF) - 1)

typedef struct lsk_pollref {
    lsk_pollset *ps;
    unsigned slot;
    struct lsk_pollref *next;
} lsk_pollref;

int lsk_slot_push(lsk_slotlist *l, unsigned s) {
    if (l->n == l->cap) {
        unsigned cap = l->cap ? l->cap * 2 : 16;
        unsigned *v = (unsigned *)realloc(l->v, cap * sizeof *v);
        if (v == NULL) return ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static uintptr_t token_of(const lsk_pollset *ps, unsigned slot) {
    return ((uintptr_t)ps->slots[slot].gen << HALF) | (uintptr_t)slot;
}

static const lsk_backend *const backends[] = {
#ifdef LSK_HAVE_EPOLL
    &lsk_backend_epoll,
#endif
#ifdef LSK_HAVE_KQUEUE
    &lsk_backend_kqueue,
#endif
    &lsk_backend_poll,
    NULL,
};

const lsk_backend *lsk_backend_named(const char *name) {
    int i;
    if (name == NULL) return backends[0];
    for (i = 0; backends[i] != NULL; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

/* ---- what sockets call (internal.h) ------------------------------------- */

static void queue_dirty(lsk_pollset *ps, unsigned slot) {
    lsk_pslot *s = &ps->slots[slot];
    if (s->queued || !(s->events & LSK_WANT_READ)) return;
    if (lsk_slot_push(&ps->dirty, slot) == 0) s->queued = 1;
}

void lsk_poll_dirty(lsk_stream *st) {
    lsk_pollref *r;
    for (r = st->polls; r != NULL; r = r->next) queue_dirty(r->ps, r->slot);
}

/* Out of the kernel's set; the token dies with the generation. */
static void release_slot(lsk_pollset *ps, unsigned slot) {
    lsk_pslot *s = &ps->slots[slot];
    if (ps->set != NULL && s->fd >= 0) ps->be->ctl(ps->set, LSK_POLL_DEL, s->fd, s->events, token_of(ps, slot));
    s->fd = -1;
    s->st = NULL;
    s->gen++;
    ps->count--;
}

void lsk_poll_forget(lsk_stream *st) {
    while (st->polls != NULL) {
        lsk_pollref *r = st->polls;
        st->polls = r->next;
        release_slot(r->ps, r->slot);
        r->ps->on_forget(r->ps, r->slot);
        free(r);
    }
}

static void unlink_ref(lsk_stream *st, const lsk_pollset *ps, unsigned slot) {
    lsk_pollref **rp;
    for (rp = &st->polls; *rp != NULL; rp = &(*rp)->next) {
        if ((*rp)->ps == ps && (*rp)->slot == slot) {
            lsk_pollref *r = *rp;
            *rp = r->next;
            free(r);
            return;
        }
    }
}

long lsk_pollset_find(const lsk_pollset *ps, const lsk_stream *st) {
    const lsk_pollref *r;
    for (r = st->polls; r != NULL; r = r->next)
        if (r->ps == ps) return (long)r->slot;
    return -1;
}

/* ---- the set ------------------------------------------------------------------ */

int lsk_pollset_open(lsk_pollset *ps, const lsk_backend *be,
                     void (*on_forget)(lsk_pollset *, unsigned)) {
    int err = 0;
    memset(ps, 0, sizeof *ps);
    ps->be = be;
    ps->on_forget = on_forget;
    ps->set = be->open(&err);
    return ps->set != NULL ? 0 : err;
}

void lsk_pollset_close(lsk_pollset *ps) {
    unsigned i;
    if (ps->set == NULL) return;
    for (i = 0; i < ps->nslots; i++)
        if (ps->slots[i].fd >= 0 && ps->slots[i].st != NULL) unlink_ref(ps->slots[i].st, ps, i);
    ps->be->close(ps->set);
    ps->set = NULL;
    free(ps->slots);
    free(ps->free_.v);
    free(ps->dirty.v);
    free(ps->ev);
    ps->slots = NULL;
    ps->free_.v = ps->dirty.v = NULL;
    ps->free_.n = ps->free_.cap = ps->dirty.n = ps->dirty.cap = 0;
    ps->ev = NULL;
    ps->nslots = ps->cap = ps->count = 0;
    ps->nev = ps->pos = ps->evcap = 0;
}

static int new_slot(lsk_pollset *ps, unsigned *out) {
    if (ps->free_.n > 0) {
        *out = ps->free_.v[--ps->free_.n];
        return 0;
    }
    if (ps->nslots == ps->cap) {
        unsigned cap = ps->cap ? ps->cap * 2 : 64;
        lsk_pslot *v;
        if ((uintptr_t)cap - 1 >= SLOT_MASK) return ENOSPC; /* 32-bit words: 64 Ki slots */
        v = (lsk_pslot *)realloc(ps->slots, cap * sizeof *v);
        if (v == NULL) return ENOMEM;
        ps->slots = v;
        ps->cap = cap;
    }
    memset(&ps->slots[ps->nslots], 0, sizeof ps->slots[0]);
    ps->slots[ps->nslots].fd = -1;
    *out = ps->nslots++;
    return 0;
}

void lsk_pollset_free_slot(lsk_pollset *ps, unsigned slot) {
    /* Without room to remember it the slot is never reused, which is
     * harmless. */
    (void)lsk_slot_push(&ps->free_, slot);
}

int lsk_pollset_add(lsk_pollset *ps, int fd, lsk_stream *st, int events,
                    unsigned *slot) {
    lsk_pollref *ref = NULL;
    lsk_pslot *s;
    int err;
    if (st != NULL && (ref = (lsk_pollref *)malloc(sizeof *ref)) == NULL) return ENOMEM;
    if ((err = new_slot(ps, slot)) != 0) {
        free(ref);
        return err;
    }
    s = &ps->slots[*slot];
    s->fd = fd;
    s->events = events;
    s->st = st;
    s->queued = s->mark = s->touched = 0;
    s->rwait = s->wwait = 0;
    if ((err = ps->be->ctl(ps->set, LSK_POLL_ADD, fd, events, token_of(ps, *slot))) != 0) {
        s->fd = -1;
        s->st = NULL;
        s->gen++;
        lsk_pollset_free_slot(ps, *slot);
        free(ref);
        return err;
    }
    ps->count++;
    if (ref != NULL) {
        ref->ps = ps;
        ref->slot = *slot;
        ref->next = st->polls;
        st->polls = ref;
        if (lsk_stream_has_input(st)) queue_dirty(ps, *slot);
    }
    return 0;
}

int lsk_pollset_modify(lsk_pollset *ps, unsigned slot, int events) {
    lsk_pslot *s = &ps->slots[slot];
    int err = ps->be->ctl(ps->set, LSK_POLL_MOD, s->fd, events, token_of(ps, slot));
    if (err != 0) return err;
    s->events = events;
    if (s->st != NULL && lsk_stream_has_input(s->st)) queue_dirty(ps, slot);
    return 0;
}

void lsk_pollset_remove(lsk_pollset *ps, unsigned slot) {
    if (ps->slots[slot].st != NULL) unlink_ref(ps->slots[slot].st, ps, slot);
    release_slot(ps, slot);
    lsk_pollset_free_slot(ps, slot);
}

/* Sockets whose input is buffered (and still wanted) become events; the
 * others leave the queue. Returns the number of events made. */
static int collect_dirty(lsk_pollset *ps) {
    unsigned i, keep = 0;
    int n = 0;
    for (i = 0; i < ps->dirty.n; i++) {
        unsigned slot = ps->dirty.v[i];
        lsk_pslot *s = &ps->slots[slot];
        /* Bytes that an operation found too few (it waits for more: a
         * loop coroutine's receive keeps a partial line buffered) are not
         * news. */
        if (s->fd < 0 || s->st == NULL || !(s->events & LSK_WANT_READ) ||
            !lsk_stream_has_input(s->st) || (s->st->pending & LSK_WANT_READ)) {
            s->queued = 0;
            continue;
        }
        ps->dirty.v[keep++] = slot;
        ps->ev[n].token = token_of(ps, slot);
        ps->ev[n].events = LSK_WANT_READ;
        s->mark = ++n;
    }
    ps->dirty.n = keep;
    return n;
}

int lsk_pollset_wait(lsk_pollset *ps, int ms) {
    int ndirty, n, i, k;
    double deadline;
    if ((unsigned)ps->evcap < WAIT_BATCH + ps->dirty.n) {
        int cap = (int)(WAIT_BATCH + ps->dirty.n);
        lsk_pevent *ev = (lsk_pevent *)realloc(ps->ev, (size_t)cap * sizeof *ev);
        if (ev == NULL) return -ENOMEM;
        ps->ev = ev;
        ps->evcap = cap;
    }
    ps->nev = ps->pos = 0;
    ndirty = collect_dirty(ps);
    if (ndirty > 0) ms = 0;
    deadline = ms > 0 ? lsk_monotime() + ms / 1000.0 : 0;
    for (;;) {
        n = ps->be->wait(ps->set, ps->ev + ndirty, WAIT_BATCH, ms);
        if (n != -EINTR) break;
        if (ms > 0) ms = lsk_ms_until(deadline);
    }
    if (n < 0) {
        for (i = 0; i < ndirty; i++) ps->slots[ps->ev[i].token & SLOT_MASK].mark = 0;
        return n;
    }
    /* A socket reported dirty and by the kernel too is one event. */
    k = ndirty;
    for (i = ndirty; i < ndirty + n; i++) {
        unsigned s = (unsigned)(ps->ev[i].token & SLOT_MASK);
        if (s < ps->nslots && ps->slots[s].mark && ps->ev[i].token == token_of(ps, s))
            ps->ev[ps->slots[s].mark - 1].events |= ps->ev[i].events;
        else
            ps->ev[k++] = ps->ev[i];
    }
    for (i = 0; i < ndirty; i++) ps->slots[ps->ev[i].token & SLOT_MASK].mark = 0;
    ps->nev = k;
    return k;
}

int lsk_pollset_next(lsk_pollset *ps, unsigned *slot, int *events) {
    while (ps->set != NULL && ps->pos < ps->nev) {
        lsk_pevent e = ps->ev[ps->pos++];
        unsigned s = (unsigned)(e.token & SLOT_MASK);
        int ev;
        if (s >= ps->nslots || ps->slots[s].fd < 0 || e.token != token_of(ps, s)) continue;
        ev = e.events & ps->slots[s].events;
        if (ev == 0) continue;
        /* The socket has something to read again (see lsk_stream.drained). */
        if ((ev & LSK_WANT_READ) && ps->slots[s].st != NULL) ps->slots[s].st->drained = 0;
        *slot = s;
        *events = ev;
        return 1;
    }
    return 0;
}
