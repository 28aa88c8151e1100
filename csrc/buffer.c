/*
 * buffer.c: storage for bytes received and not yet returned to Lua. The
 * block exists only while it holds data or more is arriving: it is
 * allocated when a read needs room and freed once it is drained and the
 * connection has gone quiet, so thousands of idle connections cost no
 * buffer memory while a bulk reader reuses one block.
 */
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* The first allocation: large enough that line-by-line reading makes few
 * system calls, small enough to be cheap to allocate and free. */
#define LSK_BUFFER_FIRST (64 * 1024)

/* One first-size block kept back per thread: a server answering a line
 * at a time drains its buffer on every request, and would otherwise free
 * and allocate a block each time. Without thread-local storage no block
 * is kept (Lua states on other threads must never share it). */
#ifdef LSK_HAVE_TLS
static LSK_THREAD_LOCAL char *spare;
#endif

void lsk_buffer_free(lsk_buffer *b) {
#ifdef LSK_HAVE_TLS
    if (spare == NULL && b->cap == LSK_BUFFER_FIRST) {
        spare = b->data;
        b->data = NULL;
    }
#endif
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
    b->more = 0;
}

void lsk_buffer_consume(lsk_buffer *b, size_t n) {
    b->start += n;
    if (b->start < b->end) return;
    if (b->more) b->start = b->end = 0; /* more is on its way: keep the block */
    else lsk_buffer_free(b);
}

void lsk_buffer_release(lsk_buffer *b) {
    if (b->start >= b->end) lsk_buffer_free(b);
}

size_t lsk_buffer_prepare(lsk_buffer *b, size_t room) {
    size_t len = b->end - b->start, want;
    char *p;
    if (b->cap - b->end >= room) return b->cap - b->end;
    if (b->cap - len >= room) {
        /* Enough space once the unread bytes move to the front. */
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
        return b->cap - b->end;
    }
    if (room > (size_t)-1 - len) return 0;
    /* Double when growing step by step (long lines, read-until-close);
     * take exactly what is asked when one request needs more. */
    want = b->cap ? (b->cap > (size_t)-1 / 2 ? (size_t)-1 : b->cap * 2)
                  : LSK_BUFFER_FIRST;
    if (want < len + room) want = len + room;
#ifdef LSK_HAVE_TLS
    if (b->data == NULL && want == LSK_BUFFER_FIRST && spare != NULL) {
        b->data = spare;
        b->cap = want;
        spare = NULL;
        return b->cap - b->end;
    }
#endif
    if (b->start > 0) {
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
    }
    p = realloc(b->data, want);
    if (p == NULL) return 0;
    b->data = p;
    b->cap = want;
    return b->cap - b->end;
}

int lsk_buffer_prepend(lsk_buffer *b, const char *p, size_t n) {
    size_t len = lsk_buffer_len(b);
    if (n == 0) return 1;
    if (b->start < n) {
        if (lsk_buffer_prepare(b, n) == 0) return 0; /* moves the bytes to the front */
        memmove(b->data + n, b->data + b->start, len);
        b->start = n;
        b->end = n + len;
    }
    b->start -= n;
    memcpy(b->data + b->start, p, n);
    return 1;
}
