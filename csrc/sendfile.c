/*
 * sendfile.c: stream:sendfile(file [, offset [, count]]), a file's bytes
 * to a stream socket or a TLS stream. A plain socket on Linux uses
 * sendfile(2): the kernel copies from the page cache to the socket and
 * the bytes never cross into the process. Elsewhere, and for TLS (which
 * must encrypt in the process), pread(2) into a block and the stream's
 * own writer. The file's offset advances only by what the stream took,
 * so a call that timed out resumes at offset + sent.
 */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

#include "internal.h"

/* One pread and write when the kernel cannot splice: the writer's piece. */
#define LSK_FILE_BLOCK LSK_WRITE_STEP
/* Linux moves at most this much in one sendfile call. */
#define LSK_SENDFILE_MAX 0x7ffff000L

/* The file argument: a descriptor, a path (opened here, owned) or a Lua
 * file handle (whose position is the default offset and moves on). */
typedef struct src {
    int fd, owned;
    FILE *fp;
} src;

static int open_source(lua_State *L, src *f) {
    f->fd = -1;
    f->owned = 0;
    f->fp = NULL;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer fd;
        if (!lsock_tointeger(L, 2, &fd) || fd < 0 || fd > 0x7fffffff)
            return lsk_argerror(L, 2, "sendfile", "a descriptor must be a non-negative integer");
        f->fd = (int)fd;
        return 0;
    }
    if (lua_type(L, 2) == LUA_TSTRING) {
        size_t len;
        const char *path = lua_tolstring(L, 2, &len);
        if (memchr(path, '\0', len) != NULL)
            return lsk_argerror(L, 2, "sendfile", "path contains a zero byte");
        do {
            f->fd = open(path, O_RDONLY | O_CLOEXEC);
        } while (f->fd < 0 && errno == EINTR);
        if (f->fd < 0) {
            int err = errno;
            return lsk_fail(L, err, lua_pushfstring(L, "sendfile %s", path));
        }
        f->owned = 1;
        return 0;
    }
    if (luaL_testudata(L, 2, LUA_FILEHANDLE) != NULL) {
        if ((f->fp = lsock_tofile(L, 2)) == NULL)
            return lsk_argerror(L, 2, "sendfile", "attempt to use a closed file");
        /* Bytes the handle wrote and still buffers belong to the file. */
        fflush(f->fp);
        f->fd = fileno(f->fp);
        return 0;
    }
    return lsk_argerror(L, 2, "sendfile", lua_pushfstring(L, "file, path or descriptor expected, got %s",
                                               luaL_typename(L, 2)));
}

static void close_source(src *f, off_t end) {
    if (f->fp != NULL && end >= 0) fseeko(f->fp, end, SEEK_SET);
    if (f->owned && f->fd >= 0) lsk_close(f->fd);
}

/* The kernel's copy: > 0 bytes, 0 at the file's end, -errno (-ENOSYS
 * where it cannot do it for this pair of descriptors). sendfile has no
 * MSG_NOSIGNAL: SIGPIPE is blocked in this thread around it, and one it
 * raised is taken from the pending set before the mask comes back (one
 * that was pending already is left alone). */
static long splice_out(lsk_stream *st, int fd, off_t *off, size_t n) {
#ifdef __linux__
    sigset_t pipe, old, pending;
    ssize_t r;
    int err, was_pending;
    if (n > (size_t)LSK_SENDFILE_MAX) n = (size_t)LSK_SENDFILE_MAX;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    do {
        r = sendfile(st->fd, fd, off, n);
    } while (r < 0 && errno == EINTR);
    err = errno;
    if (r < 0 && err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    if (r >= 0) return (long)r;
    /* EINVAL/ENOSYS: a file sendfile cannot read (some file systems and
     * devices); the copy below does it instead. */
    return errno == EINVAL || errno == ENOSYS ? -ENOSYS : -errno;
#else
    (void)st, (void)fd, (void)off, (void)n;
    return -ENOSYS;
#endif
}

/* The process's copy: pread a block, hand it to the stream's writer.
 * Returns what the writer took (> 0), 0 at the file's end, or -errno;
 * *want is what a -EAGAIN waits for. */
static long copy_out(lsk_stream *st, void *obj, int fd, off_t *off, size_t n, int *want) {
    char block[LSK_FILE_BLOCK];
    ssize_t got;
    long w;
    if (n > sizeof block) n = sizeof block;
    do {
        got = pread(fd, block, n, *off);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return -errno;
    if (got == 0) return 0;
    w = st->io->write(obj, block, (size_t)got, want);
    if (w > 0) *off += w;
    return w == 0 ? -EAGAIN : w;
}

int lsk_stream_sendfile(lua_State *L, lsk_stream *st, void *obj, int plain) {
    lua_Integer offset = -1, count = -1;
    off_t off;
    size_t left, sent = 0;
    int n, kernel = plain, err = 0;
    struct stat sb;
    lsk_deadline d;
    src f;

    if (!lua_isnoneornil(L, 3) && (!lsock_tointeger(L, 3, &offset) || offset < 0))
        lsk_argerror(L, 3, "sendfile", "offset must be a non-negative integer");
    if (!lua_isnoneornil(L, 4) && (!lsock_tointeger(L, 4, &count) || count < 0))
        lsk_argerror(L, 4, "sendfile", "count must be a non-negative integer");
    if (st->fd < 0) return lsk_closed_result(L);
    if ((n = open_source(L, &f)) != 0) return n;

    if (offset >= 0) off = (off_t)offset;
    else if (f.fp != NULL && (off = ftello(f.fp)) < 0) off = 0;
    else if (f.fp == NULL) off = 0;
    /* Without a count: to the end of the file as it is now. */
    if (fstat(f.fd, &sb) < 0) {
        err = errno;
        close_source(&f, -1);
        return lsk_fail(L, err, "sendfile");
    }
    if (count >= 0) left = (size_t)count;
    else if (S_ISREG(sb.st_mode)) left = sb.st_size > off ? (size_t)(sb.st_size - off) : 0;
    else left = (size_t)-1; /* until the source ends */

    st->pending = 0;
    /* sendfile(2) has no MSG_DONTWAIT: it waits with poll, as before */
    lsk_stream_nonblock(st);
    lsk_deadline_init(&d, &st->tm, lsk_task_nowait(L, &st->tm));
    while (left > 0) {
        int want = LSK_WANT_WRITE, w;
        long r = -ENOSYS;
        if (kernel) r = splice_out(st, f.fd, &off, left);
        if (r == -ENOSYS) {
            kernel = 0;
            r = copy_out(st, obj, f.fd, &off, left, &want);
        }
        if (r > 0) {
            sent += (size_t)r;
            left -= (size_t)r;
            st->sent += (unsigned long long)r;
            continue;
        }
        if (r == 0) break; /* the file is shorter than asked: what it had */
        if (r == -EAGAIN || r == -EWOULDBLOCK) {
            w = lsk_stream_wait(st, want, &d);
            if (w == 0) continue;
            r = -w;
        }
        /* A wait that ran out, a reset or another failure: send's results,
         * with what went. */
        close_source(&f, off);
        return lsk_write_result(L, st, obj, (int)-r, "sendfile", (lua_Integer)sent);
    }
    close_source(&f, off);
    lua_pushinteger(L, (lua_Integer)sent);
    return 1;
}
