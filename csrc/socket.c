/*
 * socket.c: the lsock.socket object, one for every family and type.
 * Creation (socket, tcp, udp, socketpair, fromfd), the connection life
 * cycle (bind, listen, accept, connect, shutdown, close), descriptions
 * (__tostring, getsockname, ...) and the glue that hands I/O to stream.c
 * (stream sockets), dgram.c (message sockets) and ancillary.c (unix
 * extras), and options to options.c.
 */
#define _GNU_SOURCE /* SO_DOMAIN */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#ifdef __linux__
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#endif

#include "lsock.h"
#include "tls.h"

/* ---- transport for the stream engine ------------------------------- */

static long sock_read(void *obj, char *dst, size_t n, int *want) {
    *want = LSK_WANT_READ;
    return lsk_recv(((lsk_socket *)obj)->st.fd, dst, n);
}

static long sock_write(void *obj, const char *src, size_t n, int *want) {
    *want = LSK_WANT_WRITE;
    return lsk_send(((lsk_socket *)obj)->st.fd, src, n);
}

static const lsk_io sock_io = {sock_read, sock_write, 1, NULL, NULL};

/* ---- the object ------------------------------------------------------ */

/* The socket at idx, or NULL. Lua code cannot write into a full userdata,
 * so one of exactly this size carrying the magic word is a socket made
 * here; the test costs two API calls where comparing metatables costs
 * more than twice that, on every method call. (lua_touserdata is NULL
 * for anything but userdata, and the raw length of a light userdata is
 * 0, so only a full userdata of this size gets its word read.) */
static lsk_socket *to_socket(lua_State *L, int idx) {
    lsk_socket *s = (lsk_socket *)lua_touserdata(L, idx);
    if (s == NULL || lsock_rawlen(L, idx) != sizeof *s) return NULL;
    return s->magic == LSK_SOCKET_MAGIC ? s : NULL;
}

lsk_socket *lsk_tosocket(lua_State *L, int idx) { return to_socket(L, idx); }

static lsk_socket *check_socket(lua_State *L) {
    lsk_socket *s = to_socket(L, 1);
    return s != NULL ? s : (lsk_socket *)luaL_checkudata(L, 1, LSOCK_SOCKET);
}

/* A socket under a TLS stream carries the stream's records: reading or
 * writing it directly would corrupt them. */
static lsk_socket *check_io_socket(lua_State *L, const char *method) {
    lsk_socket *s = check_socket(L);
    if (s->tls != NULL)
        luaL_error(L, "bad argument #1 to '%s' (the socket belongs to a TLS stream: use the stream)", method);
    return s;
}

/* A method for one kind of socket called on another is a programmer
 * error, reported like a bad argument. */
int lsk_wrong_kind(lua_State *L, const lsk_socket *s, const char *method,
                   const char *expected) {
    return luaL_error(L, "bad argument #1 to '%s' (%s socket expected, got %s %s socket)",
                      method, expected, lsk_family_name(s->family), lsk_type_name(s->type));
}

/* listen and accept: the connection-oriented types. */
static void require_connections(lua_State *L, lsk_socket *s, const char *method) {
    if (s->type != SOCK_STREAM && s->type != SOCK_SEQPACKET)
        lsk_wrong_kind(L, s, method, "stream or seqpacket");
}

lsk_socket *lsk_socket_push(lua_State *L, int fd, int family, int type,
                            int protocol) {
    lsk_socket *s = (lsk_socket *)lua_newuserdata(L, sizeof *s);
    lsk_stream_init(&s->st, fd, &sock_io);
    s->magic = LSK_SOCKET_MAGIC;
    s->family = family;
    s->type = type;
    s->protocol = protocol;
    s->connecting = 0;
    s->no_gso = 0;
    s->gro = NULL;
    s->tls = NULL;
    luaL_getmetatable(L, LSOCK_SOCKET);
    lua_setmetatable(L, -2);
    return s;
}

int lsk_collected_for_fds(lua_State *L, int err) {
    if (err != EMFILE && err != ENFILE) return 0;
    lsock_fullgc(L);
    return 1;
}

static const char *const protocol_names[] = {"tcp", "udp", "icmp", "icmpv6", NULL};
static const int protocol_values[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
                                      IPPROTO_ICMPV6};

#ifdef AF_PACKET
/* A packet socket's protocol is an ethertype, given in host order (0x0800)
 * or as "all", and kept in network order as the kernel wants it. Without
 * one a packet socket would receive nothing, so "all" is the default. */
static int check_ethertype(lua_State *L, int idx) {
    static const char *const names[] = {"all", NULL};
    lua_Integer p;
    if (lua_isnoneornil(L, idx)) return htons(ETH_P_ALL);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (!lsock_tointeger(L, idx, &p) || p < 0 || p > 0xffff)
            luaL_argerror(L, idx, "ethertype out of range (0..0xffff)");
        return htons((unsigned short)p);
    }
    lsk_check_name(L, idx, "packet protocol", names, NULL);
    return htons(ETH_P_ALL);
}
#endif

static int check_protocol(lua_State *L, int idx, int family) {
    lua_Integer p;
#ifdef AF_PACKET
    if (family == AF_PACKET) return check_ethertype(L, idx);
#else
    (void)family;
#endif
    if (lua_isnoneornil(L, idx)) return 0;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (!lsock_tointeger(L, idx, &p) || p < 0 || p > 255)
            luaL_argerror(L, idx, "protocol number out of range");
        return (int)p;
    }
    return protocol_values[lsk_check_name(L, idx, "protocol", protocol_names, NULL)];
}

static int open_socket(lua_State *L, int family, int type, int protocol) {
    lsk_socket *s = lsk_socket_push(L, -1, family, type, protocol);
    int fd = lsk_sys_socket(family, type, protocol);
    if (lsk_collected_for_fds(L, -fd)) fd = lsk_sys_socket(family, type, protocol);
    if (fd < 0) return lsk_fail(L, -fd, "socket");
    s->st.fd = fd;
    lsk_stream_own(&s->st);
    return 1;
}

int lsk_socket_new(lua_State *L) {
    int family, type, protocol;
    lsk_check_cstring(L, 1, "family");
    lsk_check_cstring(L, 2, "type");
    family = lsk_check_family(L, 1, AF_INET);
    type = lsk_check_type(L, 2, SOCK_STREAM);
    protocol = check_protocol(L, 3, family);
    return open_socket(L, family, type, protocol);
}

static int open_inet(lua_State *L, int type, int protocol) {
    int family = lsk_check_family(L, 1, AF_INET);
    if (family != AF_INET && family != AF_INET6)
        luaL_argerror(L, 1, "family must be inet or inet6");
    return open_socket(L, family, type, protocol);
}

int lsk_socket_tcp(lua_State *L) { return open_inet(L, SOCK_STREAM, IPPROTO_TCP); }
int lsk_socket_udp(lua_State *L) { return open_inet(L, SOCK_DGRAM, IPPROTO_UDP); }

int lsk_socketpair(lua_State *L) {
    int type = lsk_check_type(L, 1, SOCK_STREAM), fds[2], err;
    lsk_socket *a, *b;
    if (type == SOCK_RAW) luaL_argerror(L, 1, "socketpair type must be stream, dgram or seqpacket");
    /* Both objects exist before the descriptors, so running out of memory
     * cannot leak them. */
    a = lsk_socket_push(L, -1, AF_UNIX, type, 0);
    b = lsk_socket_push(L, -1, AF_UNIX, type, 0);
    err = lsk_sys_socketpair(AF_UNIX, type, 0, fds);
    if (lsk_collected_for_fds(L, err)) err = lsk_sys_socketpair(AF_UNIX, type, 0, fds);
    if (err != 0) return lsk_fail(L, err, "socketpair");
    a->st.fd = fds[0];
    b->st.fd = fds[1];
    lsk_stream_own(&a->st);
    lsk_stream_own(&b->st);
    return 2;
}

int lsk_socket_fromfd(lua_State *L) {
    lua_Integer fd;
    int family, type, err, protocol = 0;
    socklen_t len;
    char what[48];
    lsk_socket *s;

    if (!lsock_tointeger(L, 1, &fd) || fd < 0 || fd > 0x7fffffff)
        luaL_argerror(L, 1, "descriptor (non-negative integer) expected");
    snprintf(what, sizeof what, "fromfd %d", (int)fd);
    family = lsk_check_family(L, 2, -1);
    type = lsk_check_type(L, 3, -1);
    if (type == -1) {
        len = sizeof type;
        if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
            return lsk_fail(L, errno, what);
    }
    if (family == -1) {
#ifdef SO_DOMAIN
        len = sizeof family;
        if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
            return lsk_fail(L, errno, what);
#else
        struct sockaddr_storage ss;
        len = sizeof ss;
        if (getsockname((int)fd, (struct sockaddr *)&ss, &len) < 0)
            return lsk_fail(L, errno, what);
        family = ss.ss_family;
#endif
    }
#ifdef SO_PROTOCOL
    len = sizeof protocol;
    if (getsockopt((int)fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0) protocol = 0;
#endif
    if (strcmp(lsk_family_name(family), "unknown") == 0 ||
        strcmp(lsk_type_name(type), "unknown") == 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: unsupported socket family or type", what);
        return 2;
    }
    s = lsk_socket_push(L, -1, family, type, protocol);
    if ((err = lsk_setup_fd((int)fd)) != 0) return lsk_fail(L, err, what);
    s->st.fd = (int)fd;
    return 1;
}

/* ---- life cycle ------------------------------------------------------ */

void lsk_socket_close(lsk_socket *s) {
    if (s->tls != NULL) {
        lsk_tls *t = s->tls;
        s->tls = NULL;
        lsk_tls_detach(t);
    }
    /* Out of every poller first, while the descriptor is still ours: a
     * number the system hands out again is never watched for this one. */
    lsk_poll_forget(&s->st);
    if (s->st.fd >= 0) {
        lsk_close(s->st.fd);
        s->st.fd = -1;
    }
    s->connecting = 0;
    s->st.pending = 0;
    lsk_buffer_free(&s->st.in);
    lsk_msg_free(s);
}

/* detach(): the descriptor, handed to the caller; the object is closed
 * without closing it. Buffered input stays with the object (dropped). */
static int sock_detach(lua_State *L) {
    lsk_socket *s = check_socket(L);
    int fd = s->st.fd;
    if (s->tls != NULL) return luaL_error(L, "detach: the socket is wrapped by a TLS stream");
    if (fd < 0) return lsk_closed_result(L);
    lsk_poll_forget(&s->st);
    lsk_stream_share(&s->st);
    s->st.fd = -1;
    lsk_socket_close(s);
    lua_pushinteger(L, fd);
    return 1;
}

static int sock_gc(lua_State *L) {
    lsk_socket_close(check_socket(L));
    return 0;
}

static int sock_close(lua_State *L) {
    lsk_socket_close(check_socket(L));
    lua_pushboolean(L, 1);
    return 1;
}

int lsk_fail_at(lua_State *L, int err, const char *verb, const lsk_addr *a) {
    char what[160];
    size_t n = (size_t)snprintf(what, sizeof what, "%s ", verb);
    if (n < sizeof what)
        lsk_format_addr((const struct sockaddr *)&a->ss, a->len, what + n, sizeof what - n);
    return lsk_fail(L, err, what);
}

static int sock_bind(lua_State *L) {
    lsk_socket *s = check_socket(L);
    lsk_addr a;
    int n = lsk_get_addr(L, 2, s->family, LSK_ADDR_PASSIVE, "bind", &a);
    if (n) return n;
#ifdef AF_PACKET
    if (s->family == AF_PACKET)
        ((struct sockaddr_ll *)&a.ss)->sll_protocol = (unsigned short)s->protocol;
#endif
    if (s->st.fd < 0) return lsk_closed_result(L);
    if (bind(s->st.fd, (struct sockaddr *)&a.ss, a.len) < 0) return lsk_fail_at(L, errno, "bind", &a);
    lua_pushboolean(L, 1);
    return 1;
}

static int sock_listen(lua_State *L) {
    lsk_socket *s = check_socket(L);
    lua_Integer backlog = SOMAXCONN;
    require_connections(L, s, "listen");
    if (!lua_isnoneornil(L, 2) && !lsock_tointeger(L, 2, &backlog))
        luaL_argerror(L, 2, "backlog must be an integer");
    if (backlog < 0) backlog = 0;
    if (backlog > 0x7fffffff) backlog = 0x7fffffff;
    if (s->st.fd < 0) return lsk_closed_result(L);
    if (listen(s->st.fd, (int)backlog) < 0) return lsk_fail(L, errno, "listen");
    lua_pushboolean(L, 1);
    return 1;
}

/* One try at accept: the results and their count, or -1 when it has to
 * wait and d says not to (a loop coroutine parks instead). */
static int accept_run(lua_State *L, lsk_socket *s, lsk_deadline *d) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, retried = 0;
    /* The object exists before the descriptor, so that running out of
     * memory for it can never leak an accepted connection. */
    lsk_socket *c = lsk_socket_push(L, -1, s->family, s->type, s->protocol);
    for (;;) {
        len = sizeof ss;
        fd = lsk_sys_accept(s->st.fd, (struct sockaddr *)&ss, &len);
        if (fd >= 0) break;
        if (!retried && lsk_collected_for_fds(L, -fd)) {
            retried = 1;
            continue;
        }
        if (fd == -EAGAIN || fd == -EWOULDBLOCK) {
            int w = lsk_stream_wait(&s->st, LSK_WANT_READ, d);
            if (w == 0) continue;
            if (w == ETIMEDOUT) {
                lua_pop(L, 1);
                return d->nowait ? -1 : lsk_timeout_result(L);
            }
            fd = -w;
        }
        return lsk_fail(L, -fd, "accept");
    }
    c->st.fd = fd;
    lsk_stream_own(&c->st);
    if (lsk_push_addr(L, (struct sockaddr *)&ss, len) == 3) {
        lua_pop(L, 1); /* client, addr, port: the family is the listener's */
        return 3;
    }
    return 2; /* client, path */
}

static int accept_step(lua_State *L, lsk_op *op, int why) {
    lsk_socket *s = (lsk_socket *)op->obj;
    lsk_deadline d;
    if (s->st.fd < 0 || why == LSK_OP_CLOSED) return lsk_closed_result(L);
    if (why == LSK_OP_TIMEOUT) return lsk_timeout_result(L);
    s->st.pending = 0;
    lsk_deadline_init(&d, &s->st.tm, 1);
    return accept_run(L, s, &d);
}

static int sock_accept(lua_State *L) {
    lsk_socket *s = check_socket(L);
    lsk_deadline d;
    lsk_op op;
    int n;

    require_connections(L, s, "accept");
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    lsk_deadline_init(&d, &s->st.tm, lsk_task_nowait(L, &s->st.tm));
    if ((n = accept_run(L, s, &d)) >= 0) return n;
    op.step = accept_step;
    op.obj = s;
    op.st = &s->st;
    return lsk_op_yield(L, &op, 0);
}

/* Wait for a connect in progress and collect its outcome. */
static int finish_connect(lua_State *L, lsk_socket *s, const lsk_addr *a) {
    lsk_deadline d;
    int w, err = 0;
    socklen_t len = sizeof err;

    lsk_deadline_init(&d, &s->st.tm, lsk_in_task(L));
    /* With a zero timeout the outcome may be known already. */
    w = lsk_ready(s->st.fd, LSK_WANT_WRITE) ? 0 : lsk_stream_wait(&s->st, LSK_WANT_WRITE, &d);
    if (w == ETIMEDOUT) return lsk_timeout_result(L);
    s->connecting = 0;
    if (w != 0) err = w;
    else if (getsockopt(s->st.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) return lsk_fail_at(L, err, "connect", a);
    lua_pushboolean(L, 1);
    return 1;
}

/* connect() without an address on a message socket: forget the peer (a
 * connect to AF_UNSPEC), so sendto and recvfrom take any address again. */
static int disconnect(lua_State *L, lsk_socket *s) {
    struct sockaddr sa;
    if (s->type == SOCK_STREAM)
        return luaL_argerror(L, 2, "address expected (only a message socket can be disconnected)");
    if (s->st.fd < 0) return lsk_closed_result(L);
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNSPEC;
    /* Some kernels answer a dissolved association with EAFNOSUPPORT. */
    if (connect(s->st.fd, &sa, sizeof sa) < 0 && errno != EAFNOSUPPORT)
        return lsk_fail(L, errno, "connect");
    lua_pushboolean(L, 1);
    return 1;
}

static int connect_once(lua_State *L) {
    lsk_socket *s = check_socket(L);
    lsk_addr a;
    int n;
    if (lua_isnoneornil(L, 2)) return disconnect(L, s);
    n = lsk_get_addr(L, 2, s->family, lsk_addr_flags(s), "connect", &a);
    if (n) return n;
    if (s->st.fd < 0) return lsk_closed_result(L);
    s->st.pending = 0;
    if (!s->connecting) {
        if (connect(s->st.fd, (struct sockaddr *)&a.ss, a.len) == 0) {
            lua_pushboolean(L, 1);
            return 1;
        }
        /* After EINTR the connection goes on asynchronously, exactly as
         * after EINPROGRESS. (EAGAIN, a full unix listener backlog, is a
         * failure: nothing would tell when to try again.) */
        if (errno != EINPROGRESS && errno != EINTR)
            return lsk_fail_at(L, errno, "connect", &a);
        s->connecting = 1;
    }
    return finish_connect(L, s, &a);
}

static int sock_connect(lua_State *L) {
    int top = lua_gettop(L);
    return lsk_park_call(L, sock_connect, top, connect_once(L));
}

static int sock_shutdown(lua_State *L) {
    static const char *const names[] = {"receive", "send", "both", NULL};
    static const int values[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    lsk_socket *s = check_socket(L);
    int how = values[lsk_check_name(L, 2, "shutdown mode", names, "both")];
    if (s->st.fd < 0) return lsk_closed_result(L);
    if (shutdown(s->st.fd, how) < 0) return lsk_fail(L, errno, "shutdown");
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- I/O: streams to stream.c, messages to dgram.c --------------------- */

lsk_stream *lsk_tostream(lua_State *L, int idx) {
    lsk_socket *s = to_socket(L, idx);
    lsk_tls *t;
    if (s != NULL) return &s->st;
    return (t = lsk_tls_test(L, idx)) != NULL ? &t->st : NULL;
}

static int sock_send(lua_State *L) {
    int top = lua_gettop(L);
    lsk_socket *s = check_io_socket(L, "send");
    if (s->type == SOCK_STREAM) return lsk_stream_send(L, &s->st, s);
    return lsk_park_call(L, sock_send, top, lsk_msg_send(L, s));
}

static int sock_receive(lua_State *L) {
    lsk_socket *s = check_io_socket(L, "receive");
    if (s->type != SOCK_STREAM) lsk_wrong_kind(L, s, "receive", "stream");
    return lsk_read_done(&s->st, lsk_stream_receive(L, &s->st, s));
}

static int sock_sendfile(lua_State *L) {
    lsk_socket *s = check_io_socket(L, "sendfile");
    if (s->type != SOCK_STREAM) lsk_wrong_kind(L, s, "sendfile", "stream");
    return lsk_stream_sendfile(L, &s->st, s, 1);
}

static int sock_receiveuntil(lua_State *L) {
    lsk_socket *s = check_io_socket(L, "receiveuntil");
    if (s->type != SOCK_STREAM) lsk_wrong_kind(L, s, "receiveuntil", "stream");
    return lsk_read_done(&s->st, lsk_stream_receiveuntil(L, &s->st, s));
}

static int sock_recv(lua_State *L) {
    int top = lua_gettop(L);
    lsk_socket *s = check_io_socket(L, "recv");
    if (s->type == SOCK_STREAM) return lsk_read_done(&s->st, lsk_stream_recv(L, &s->st, s));
    return lsk_park_call(L, sock_recv, top, lsk_read_done(&s->st, lsk_msg_recv(L, s)));
}

static int sock_peek(lua_State *L) {
    lsk_socket *s = check_io_socket(L, "peek");
    if (s->type != SOCK_STREAM) lsk_wrong_kind(L, s, "peek", "stream");
    return lsk_read_done(&s->st, lsk_stream_peek(L, &s->st, s));
}

/* sendto, recvfrom and the batches: every type but stream. */
static lsk_socket *check_message_socket(lua_State *L, const char *method) {
    lsk_socket *s = check_socket(L);
    if (s->type == SOCK_STREAM) lsk_wrong_kind(L, s, method, "datagram, seqpacket or raw");
    return s;
}

static int sock_sendto(lua_State *L) {
    int top = lua_gettop(L);
    return lsk_park_call(L, sock_sendto, top, lsk_msg_sendto(L, check_message_socket(L, "sendto")));
}
static int sock_recvfrom(lua_State *L) {
    int top = lua_gettop(L);
    lsk_socket *s = check_message_socket(L, "recvfrom");
    return lsk_park_call(L, sock_recvfrom, top, lsk_read_done(&s->st, lsk_msg_recvfrom(L, s)));
}
static int sock_sendmany(lua_State *L) { return lsk_msg_sendmany(L, check_message_socket(L, "sendmany")); }
static int sock_recvmany(lua_State *L) {
    int top = lua_gettop(L);
    lsk_socket *s = check_message_socket(L, "recvmany");
    return lsk_park_call(L, sock_recvmany, top, lsk_read_done(&s->st, lsk_msg_recvmany(L, s)));
}

/* Descriptor passing and credentials: unix sockets only. */
static lsk_socket *check_unix_socket(lua_State *L, const char *method) {
    lsk_socket *s = check_socket(L);
    if (s->family != AF_UNIX) lsk_wrong_kind(L, s, method, "unix");
    return s;
}

static int sock_sendmsg(lua_State *L) {
    check_io_socket(L, "sendmsg");
    return lsk_unix_sendmsg(L, check_unix_socket(L, "sendmsg"));
}
static int sock_recvmsg(lua_State *L) {
    int top = lua_gettop(L);
    lsk_socket *s = (check_io_socket(L, "recvmsg"), check_unix_socket(L, "recvmsg"));
    return lsk_park_call(L, sock_recvmsg, top, lsk_read_done(&s->st, lsk_unix_recvmsg(L, s)));
}
static int sock_peercred(lua_State *L) { return lsk_unix_peercred(L, check_unix_socket(L, "peercred")); }

static int sock_settimeout(lua_State *L) {
    return lsk_stream_settimeout(L, &check_socket(L)->st);
}

/* ---- descriptions ---------------------------------------------------- */

static int sock_name(lua_State *L, int peer) {
    lsk_socket *s = check_socket(L);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int r;
    if (s->st.fd < 0) return lsk_closed_result(L);
    memset(&ss, 0, sizeof ss);
    r = peer ? getpeername(s->st.fd, (struct sockaddr *)&ss, &len)
             : getsockname(s->st.fd, (struct sockaddr *)&ss, &len);
    if (r < 0) return lsk_fail(L, errno, peer ? "getpeername" : "getsockname");
    return lsk_push_addr(L, (struct sockaddr *)&ss, len);
}

static int sock_getsockname(lua_State *L) { return sock_name(L, 0); }
static int sock_getpeername(lua_State *L) { return sock_name(L, 1); }

static int sock_getfd(lua_State *L) { return lsk_stream_getfd(L, &check_socket(L)->st); }

static int sock_family(lua_State *L) {
    lua_pushstring(L, lsk_family_name(check_socket(L)->family));
    return 1;
}

static int sock_type(lua_State *L) {
    lua_pushstring(L, lsk_type_name(check_socket(L)->type));
    return 1;
}

static int sock_dirty(lua_State *L) { return lsk_stream_dirty(L, &check_socket(L)->st); }

static int sock_getstats(lua_State *L) { return lsk_stream_getstats(L, &check_socket(L)->st); }
static int sock_events(lua_State *L) { return lsk_stream_events(L, &check_socket(L)->st); }
static int sock_timeout(lua_State *L) { return lsk_stream_timeout(L, &check_socket(L)->st); }

/* The configured limits (-1: none), for specs. */
static int sock_gettimeouts(lua_State *L) {
    lsk_socket *s = check_socket(L);
    lua_pushnumber(L, s->st.tm.block);
    lua_pushnumber(L, s->st.tm.total);
    return 2;
}

static int sock_setoption(lua_State *L) { return lsk_setoption(L, check_socket(L)); }
static int sock_getoption(lua_State *L) { return lsk_getoption(L, check_socket(L)); }

/* "tcp 127.0.0.1:5000 -> 127.0.0.1:41234 (fd 7)" */
static int sock_tostring(lua_State *L) {
    lsk_socket *s = check_socket(L);
    struct sockaddr_storage ss;
    socklen_t len;
    char local[160], peer[160];
    const char *kind;
    int n;

    if (s->st.fd < 0) {
        lua_pushliteral(L, "lsock.socket: closed");
        return 1;
    }
    if ((s->family == AF_INET || s->family == AF_INET6) && s->type == SOCK_STREAM)
        kind = "tcp";
    else if ((s->family == AF_INET || s->family == AF_INET6) && s->type == SOCK_DGRAM)
        kind = "udp";
    else
        kind = lua_pushfstring(L, "%s %s", lsk_family_name(s->family),
                               lsk_type_name(s->type));
    local[0] = peer[0] = '\0';
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname(s->st.fd, (struct sockaddr *)&ss, &len) == 0 && len > 0)
        lsk_format_addr((struct sockaddr *)&ss, len, local, sizeof local);
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(s->st.fd, (struct sockaddr *)&ss, &len) == 0 && len > 0)
        lsk_format_addr((struct sockaddr *)&ss, len, peer, sizeof peer);
    /* An unbound inet socket reports port 0: say nothing rather than
     * print a misleading address. */
    if (strcmp(local, "0.0.0.0:0") == 0 || strcmp(local, "[::]:0") == 0) local[0] = '\0';
    /* A raw socket's "port" is its protocol: an unbound one names nothing. */
    if (s->type == SOCK_RAW && (strncmp(local, "0.0.0.0:", 8) == 0 || strncmp(local, "[::]:", 5) == 0))
        local[0] = '\0';
    lua_pushfstring(L, "%s: %s", LSOCK_SOCKET, kind);
    n = 1;
    if (local[0]) {
        lua_pushfstring(L, " %s", local);
        n++;
    }
    if (peer[0]) {
        lua_pushfstring(L, " -> %s", peer);
        n++;
    }
    lua_pushfstring(L, " (fd %d)", s->st.fd);
    lua_concat(L, n + 1);
    return 1;
}

/* ---- the metatable ----------------------------------------------------- */

static const luaL_Reg methods[] = {
    {"bind", sock_bind},
    {"listen", sock_listen},
    {"accept", sock_accept},
    {"connect", sock_connect},
    {"send", sock_send},
    {"receive", sock_receive},
    {"receiveuntil", sock_receiveuntil},
    {"sendfile", sock_sendfile},
    {"recv", sock_recv},
    {"peek", sock_peek},
    {"detach", sock_detach},
    {"sendto", sock_sendto},
    {"recvfrom", sock_recvfrom},
    {"sendmany", sock_sendmany},
    {"recvmany", sock_recvmany},
    {"sendmsg", sock_sendmsg},
    {"recvmsg", sock_recvmsg},
    {"peercred", sock_peercred},
    {"settimeout", sock_settimeout},
    {"shutdown", sock_shutdown},
    {"close", sock_close},
    {"getsockname", sock_getsockname},
    {"getpeername", sock_getpeername},
    {"getfd", sock_getfd},
    {"pollfd", sock_getfd},
    {"family", sock_family},
    {"type", sock_type},
    {"dirty", sock_dirty},
    {"getstats", sock_getstats},
    {"setoption", sock_setoption},
    {"getoption", sock_getoption},
    {"events", sock_events},
    {"timeout", sock_timeout},
    {"_gettimeouts", sock_gettimeouts},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", sock_gc},
    {"__tostring", sock_tostring},
#if LSOCK_HAVE_CLOSE
    {"__close", sock_gc},
#endif
    {NULL, NULL},
};

void lsk_socket_open(lua_State *L) { lsk_new_class(L, LSOCK_SOCKET, metamethods, methods); }

/* ---- the embedding API (lsock.h) ------------------------------------- */

int lsock_pushfd(lua_State *L, int fd, const char *family, const char *type) {
    int f, t, err;
    lua_pushstring(L, family);
    f = lsk_check_family(L, -1, AF_UNIX);
    lua_pop(L, 1);
    lua_pushstring(L, type);
    t = lsk_check_type(L, -1, SOCK_STREAM);
    lua_pop(L, 1);
    {
        lsk_socket *s = lsk_socket_push(L, -1, f, t, 0);
        if ((err = lsk_setup_fd(fd)) != 0) {
            lua_pop(L, 1);
            return -err;
        }
        s->st.fd = fd;
    }
    return 0;
}

int lsock_checkfd(lua_State *L, int idx) {
    lsk_stream *st = lsk_tostream(L, idx);
    if (st == NULL) luaL_argerror(L, idx, "lsock socket or TLS stream expected");
    if (st->fd < 0) luaL_argerror(L, idx, "socket is closed");
    lsk_stream_share(st); /* the host may use it as it likes */
    return st->fd;
}
