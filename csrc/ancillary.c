/*
 * ancillary.c: what unix sockets carry besides bytes. Descriptors travel
 * with sendmsg/recvmsg (SCM_RIGHTS); peercred reads the peer's process
 * and user ids. Received descriptors are close-on-exec, and any beyond
 * what the caller asked for are closed here: none can leak.
 */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED, MSG_CMSG_CLOEXEC */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* The most descriptors one message carries (Linux's SCM_MAX_FD). */
#define MAXFDS 253
#define RECV_FDS_DEFAULT 16
#define RECV_MAX_DEFAULT 65536
#define RECV_MAX_LIMIT (64 * 1024 * 1024)

/* Control space for MAXFDS descriptors, aligned for cmsghdr. */
typedef union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAXFDS)];
} control_block;

/* The descriptor of fds[i] (the value at the top): an integer or an open
 * lsock socket. */
static int entry_fd(lua_State *L, int i) {
    lua_Integer fd;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        if (!lsock_tointeger(L, -1, &fd) || fd < 0 || fd > 0x7fffffff)
            lsk_argerror(L, 3, "sendmsg", lua_pushfstring(L, "fds[%d]: descriptor out of range", i));
        return (int)fd;
    }
    {
        lsk_stream *st = lsk_tostream(L, -1);
        if (st != NULL) {
            if (st->fd < 0) lsk_argerror(L, 3, "sendmsg", lua_pushfstring(L, "fds[%d] is a closed socket", i));
            lsk_stream_share(st); /* the receiver holds it too */
            return st->fd;
        }
    }
    return lsk_argerror(L, 3, "sendmsg", lua_pushfstring(L, "fds[%d]: socket or descriptor expected, got %s",
                                               i, luaL_typename(L, -1)));
}

/* opts.fds into fds; returns the count. */
static int check_fds(lua_State *L, int fds[MAXFDS]) {
    int n, i;
    lua_getfield(L, 3, "fds");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (lua_type(L, -1) != LUA_TTABLE) lsk_argerror(L, 3, "sendmsg", "field 'fds' must be an array");
    n = (int)lsock_rawlen(L, -1);
    if (n > MAXFDS) lsk_argerror(L, 3, "sendmsg", "too many descriptors (at most 253 in one message)");
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        fds[i] = entry_fd(L, i + 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return n;
}

int lsk_unix_sendmsg(lua_State *L, lsk_socket *s) {
    size_t len, sent = 0;
    const char *data = lsk_checklstring(L, 2, "sendmsg", &len);
    int fds[MAXFDS], nfds = 0, n;
    control_block ctl;
    lsk_addr a;
    struct msghdr m;
    struct iovec iov;
    lsk_deadline d;

    memset(&m, 0, sizeof m);
    if (!lua_isnoneornil(L, 3)) {
        lsk_checktable(L, 3, "sendmsg");
        nfds = check_fds(L, fds);
        /* opts.path at the table's index (the table moves up, still
         * holding the sockets whose descriptors go), so that an error in
         * it names the options argument. */
        lua_settop(L, 3);
        lua_getfield(L, 3, "path");
        lua_insert(L, 3);
        if (!lua_isnil(L, 3)) {
            if ((n = lsk_get_addr(L, 3, AF_UNIX, 0, "sendmsg", &a)) != 0) return n;
            m.msg_name = &a.ss;
            m.msg_namelen = a.len;
        }
    }
    /* A stream socket sends nothing, descriptors included, for no bytes. */
    if (nfds > 0 && len == 0 && s->type == SOCK_STREAM)
        lsk_argerror(L, 2, "sendmsg", "data must not be empty when descriptors go over a stream socket");
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    if (nfds > 0) {
        struct cmsghdr *c;
        memset(&ctl, 0, sizeof ctl);
        m.msg_control = ctl.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    for (;;) {
        long r;
        iov.iov_base = (void *)(data + sent);
        iov.iov_len = len - sent;
        r = lsk_sendmsg(s->st.fd, &m);
        if (r >= 0) {
            sent += (size_t)r;
            s->st.sent += (unsigned long long)r;
            /* The descriptors went with the first bytes. */
            m.msg_control = NULL;
            m.msg_controllen = 0;
            /* A message goes whole; a stream goes on with the rest. */
            if (s->type != SOCK_STREAM || sent >= len) break;
            continue;
        }
        if (r == -EAGAIN || r == -EWOULDBLOCK) {
            int w = lsk_stream_wait(&s->st, LSK_WANT_WRITE, &d);
            if (w == 0) continue;
            r = -w;
        }
        if (r == -ETIMEDOUT) {
            n = lsk_timeout_result(L);
            lua_pushnil(L);
        } else if (s->type != SOCK_DGRAM && lsk_is_reset((int)-r)) {
            lua_pushnil(L);
            lua_pushliteral(L, "closed");
            lua_pushinteger(L, -r);
        } else {
            lsk_fail(L, (int)-r, "sendmsg");
        }
        lua_pushinteger(L, (lua_Integer)sent);
        return 4;
    }
    lua_pushinteger(L, (lua_Integer)sent);
    return 1;
}

#ifndef CMSG_ALIGN
#define CMSG_ALIGN(n) (((n) + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1))
#endif

size_t lsk_cmsg_fds(const void *control, size_t len, int *fds, size_t cap) {
    const char *p = (const char *)control;
    size_t off = 0, got = 0;
    /* Every length is checked against the buffer here rather than left to
     * CMSG_FIRSTHDR/CMSG_NXTHDR, which trust the first header's length. */
    while (len - off >= sizeof(struct cmsghdr)) {
        struct cmsghdr c;
        size_t clen, step, i, n;
        memcpy(&c, p + off, sizeof c);
        clen = (size_t)c.cmsg_len;
        if (clen < CMSG_LEN(0) || clen > len - off) break; /* malformed: stop */
        if (c.cmsg_level == SOL_SOCKET && c.cmsg_type == SCM_RIGHTS) {
            n = (clen - CMSG_LEN(0)) / sizeof(int);
            for (i = 0; i < n && got < cap; i++)
                memcpy(&fds[got++], p + off + CMSG_LEN(0) + i * sizeof(int), sizeof(int));
        }
        step = CMSG_ALIGN(clen);
        if (step > len - off) break;
        off += step;
    }
    return got;
}

/* Take the descriptors m brought: the first `keep` go into the table at
 * the top of the stack, the rest are closed. The control buffer has room
 * for MAXFDS of them, so none is left out of fds. A message whose
 * descriptors the kernel could not all install (the process had no free
 * descriptor: MSG_CTRUNC) says so with fds.dropped = true. */
static void take_fds(lua_State *L, struct msghdr *m, int keep) {
    int fds[MAXFDS];
    size_t i, n = lsk_cmsg_fds(m->msg_control, (size_t)m->msg_controllen, fds, MAXFDS);
    int got = 0;
    for (i = 0; i < n; i++) {
        if (got >= keep) {
            lsk_close(fds[i]);
            continue;
        }
#ifndef MSG_CMSG_CLOEXEC
        fcntl(fds[i], F_SETFD, fcntl(fds[i], F_GETFD) | FD_CLOEXEC);
#endif
        lua_pushinteger(L, fds[i]);
        lua_rawseti(L, -2, ++got);
    }
    if (m->msg_flags & MSG_CTRUNC) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "dropped");
    }
}

int lsk_unix_recvmsg(lua_State *L, lsk_socket *s) {
    lua_Integer max = RECV_MAX_DEFAULT, maxfds = RECV_FDS_DEFAULT;
    control_block ctl;
    struct msghdr m;
    struct iovec iov;
    lsk_deadline d;
    lsk_buffer *b = &s->st.in;
    long r;

    if (!lua_isnoneornil(L, 2) && (!lsock_tointeger(L, 2, &max) || max < 1))
        luaL_argerror(L, 2, "max must be a positive integer");
    if (max > RECV_MAX_LIMIT) luaL_argerror(L, 2, "max too large (at most 64 MiB)");
    if (!lua_isnoneornil(L, 3) &&
        (!lsock_tointeger(L, 3, &maxfds) || maxfds < 0 || maxfds > MAXFDS))
        luaL_argerror(L, 3, "maxfds must be an integer from 0 to 253");
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    /* Bytes a stream read already buffered come first; they carried no
     * descriptors that could still be delivered. */
    if (s->type == SOCK_STREAM && lsk_buffer_len(b) > 0) {
        size_t n = lsk_buffer_len(b) < (size_t)max ? lsk_buffer_len(b) : (size_t)max;
        lua_pushlstring(L, lsk_buffer_head(b), n);
        lsk_buffer_consume(b, n);
        lua_newtable(L);
        return 2;
    }
    /* The table exists before descriptors arrive: filling its array part
     * cannot fail and leave one open and unreported. */
    lua_createtable(L, (int)maxfds, 1); /* and room for "dropped" */
    if (lsk_buffer_prepare(b, (size_t)max) == 0)
        return luaL_error(L, "not enough memory for a %d-byte receive block", (int)max);
    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    for (;;) {
        memset(&m, 0, sizeof m);
        iov.iov_base = b->data + b->end;
        iov.iov_len = (size_t)max;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        /* Room for every descriptor one message can carry, so the ones
         * beyond maxfds arrive here and are closed, not left to the
         * system's handling of a truncated control message. */
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        r = lsk_recvmsg(s->st.fd, &m);
        if (r >= 0) break;
        if (r == -EAGAIN || r == -EWOULDBLOCK) {
            int w = lsk_stream_wait(&s->st, LSK_WANT_READ, &d);
            if (w == 0) continue;
            r = -w;
        }
        if (s->type == SOCK_STREAM) lsk_buffer_free(b);
        if (r == -ETIMEDOUT) return lsk_timeout_result(L);
        if (s->type != SOCK_DGRAM && lsk_is_reset((int)-r)) {
            lua_pushnil(L);
            lua_pushliteral(L, "closed");
            lua_pushinteger(L, -r);
            return 3;
        }
        return lsk_fail(L, (int)-r, "recvmsg");
    }
    take_fds(L, &m, (int)maxfds);
    s->st.received += (unsigned long long)r;
    if (r == 0 && lsock_rawlen(L, -1) == 0 &&
        (s->type == SOCK_STREAM || (s->type == SOCK_SEQPACKET && lsk_peer_gone(s->st.fd)))) {
        if (s->type == SOCK_STREAM) lsk_buffer_free(b);
        return lsk_closed_result(L);
    }
    lua_pushlstring(L, b->data + b->end, (size_t)r);
    /* A stream socket keeps no block while idle. */
    if (s->type == SOCK_STREAM) lsk_buffer_free(b);
    lua_insert(L, -2); /* data, fds */
    if (m.msg_flags & MSG_TRUNC) {
        lua_pushboolean(L, 1);
        return 3;
    }
    return 2;
}

int lsk_unix_peercred(lua_State *L, lsk_socket *s) {
    if (s->st.fd < 0) return lsk_closed_result(L);
#ifdef SO_PEERCRED
    {
        struct ucred c;
        socklen_t len = sizeof c;
        if (getsockopt(s->st.fd, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0)
            return lsk_fail(L, errno, "peercred");
        lua_pushinteger(L, (lua_Integer)c.pid);
        lua_pushinteger(L, (lua_Integer)c.uid);
        lua_pushinteger(L, (lua_Integer)c.gid);
        return 3;
    }
#else
    {
        uid_t uid;
        gid_t gid;
        if (getpeereid(s->st.fd, &uid, &gid) < 0) return lsk_fail(L, errno, "peercred");
        lua_pushnil(L); /* the process id is not known here */
        lua_pushinteger(L, (lua_Integer)uid);
        lua_pushinteger(L, (lua_Integer)gid);
        return 3;
    }
#endif
}

/* core._issocket(path): true for a socket file, false for anything else
 * that exists, nil, err, errno when nothing is there. unix_listen uses it
 * to tell a stale socket file from a file it must never remove. */
int lsk_is_socket_file(lua_State *L) {
    const char *path = lsk_check_cstring(L, 1, "unix socket path");
    struct stat st;
    if (lstat(path, &st) < 0) return lsk_fail(L, errno, path);
    lua_pushboolean(L, S_ISSOCK(st.st_mode));
    return 1;
}

/* core._chmod(path, mode): a socket file's permissions, for unix_listen's
 * `mode` (set between bind and listen: no client can connect before). */
int lsk_chmod_socket_file(lua_State *L) {
    const char *path = lsk_check_cstring(L, 1, "unix socket path");
    lua_Integer mode = luaL_checkinteger(L, 2);
    if (mode < 0 || mode > 07777) return luaL_argerror(L, 2, "mode from 0 to 07777 expected");
    if (chmod(path, (mode_t)mode) < 0) return lsk_fail(L, errno, path);
    lua_pushboolean(L, 1);
    return 1;
}
