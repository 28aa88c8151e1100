/*
 * options.c: setoption/getoption. One table maps each option name to its
 * level and name for IPv4 and IPv6 sockets and to the shape of its value,
 * so adding an option is one line.
 */
#define _GNU_SOURCE /* TCP_KEEP*, IPV6_* on glibc */

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

enum {
    OPT_BOOL,
    OPT_INT,
    OPT_LINGER,
    OPT_MCAST_IF,
    OPT_MEMBERSHIP,
    OPT_ERROR,
    OPT_TYPE,
    OPT_ACCEPTCONN,
    OPT_GRO
};

#define NONE (-1)
#define RO 1 /* read only */
#define WO 2 /* write only */

typedef struct option {
    const char *name;
    int kind, access;
    int level4, name4; /* for inet sockets (and the SOL_SOCKET ones) */
    int level6, name6; /* for inet6 sockets */
} option;

#ifndef SO_REUSEPORT
#define SO_REUSEPORT NONE
#endif
#if !defined(TCP_KEEPIDLE) && defined(TCP_KEEPALIVE)
#define TCP_KEEPIDLE TCP_KEEPALIVE /* the macOS name */
#endif
#ifndef TCP_KEEPIDLE
#define TCP_KEEPIDLE NONE
#endif
#ifndef TCP_KEEPINTVL
#define TCP_KEEPINTVL NONE
#endif
#ifndef TCP_KEEPCNT
#define TCP_KEEPCNT NONE
#endif
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL NONE
#endif
#if !defined(IPV6_ADD_MEMBERSHIP) && defined(IPV6_JOIN_GROUP)
#define IPV6_ADD_MEMBERSHIP IPV6_JOIN_GROUP
#define IPV6_DROP_MEMBERSHIP IPV6_LEAVE_GROUP
#endif
#ifndef SO_ACCEPTCONN
#define SO_ACCEPTCONN NONE
#endif
#ifdef __linux__
#include <netinet/udp.h>
#endif
#ifndef UDP_GRO
#define UDP_GRO NONE
#endif

#define SOCKOPT(n, kind, access, opt) {n, kind, access, SOL_SOCKET, opt, SOL_SOCKET, opt}
#define TCPOPT(n, kind, opt) {n, kind, 0, IPPROTO_TCP, opt, IPPROTO_TCP, opt}

static const option options[] = {
    SOCKOPT("reuseaddr", OPT_BOOL, 0, SO_REUSEADDR),
    SOCKOPT("reuseport", OPT_BOOL, 0, SO_REUSEPORT),
    SOCKOPT("keepalive", OPT_BOOL, 0, SO_KEEPALIVE),
    TCPOPT("keepidle", OPT_INT, TCP_KEEPIDLE),
    TCPOPT("keepintvl", OPT_INT, TCP_KEEPINTVL),
    TCPOPT("keepcnt", OPT_INT, TCP_KEEPCNT),
    TCPOPT("nodelay", OPT_BOOL, TCP_NODELAY),
    SOCKOPT("linger", OPT_LINGER, 0, SO_LINGER),
    SOCKOPT("rcvbuf", OPT_INT, 0, SO_RCVBUF),
    SOCKOPT("sndbuf", OPT_INT, 0, SO_SNDBUF),
    SOCKOPT("broadcast", OPT_BOOL, 0, SO_BROADCAST),
    SOCKOPT("dontroute", OPT_BOOL, 0, SO_DONTROUTE),
    {"v6only", OPT_BOOL, 0, NONE, NONE, IPPROTO_IPV6, IPV6_V6ONLY},
    {"ttl", OPT_INT, 0, IPPROTO_IP, IP_TTL, IPPROTO_IPV6, IPV6_UNICAST_HOPS},
    {"tos", OPT_INT, 0, IPPROTO_IP, IP_TOS, IPPROTO_IPV6, IPV6_TCLASS},
    {"hdrincl", OPT_BOOL, 0, IPPROTO_IP, IP_HDRINCL, IPPROTO_IPV6, IPV6_HDRINCL},
    {"multicast_ttl", OPT_INT, 0, IPPROTO_IP, IP_MULTICAST_TTL, IPPROTO_IPV6,
     IPV6_MULTICAST_HOPS},
    /* The two IPv6 hop limits are separate options (one for unicast, one
     * for multicast), never one standing in for the other. */
    {"unicast_hops", OPT_INT, 0, NONE, NONE, IPPROTO_IPV6, IPV6_UNICAST_HOPS},
    {"multicast_hops", OPT_INT, 0, NONE, NONE, IPPROTO_IPV6, IPV6_MULTICAST_HOPS},
    {"multicast_loop", OPT_BOOL, 0, IPPROTO_IP, IP_MULTICAST_LOOP, IPPROTO_IPV6,
     IPV6_MULTICAST_LOOP},
    {"multicast_if", OPT_MCAST_IF, 0, IPPROTO_IP, IP_MULTICAST_IF, IPPROTO_IPV6,
     IPV6_MULTICAST_IF},
    {"add_membership", OPT_MEMBERSHIP, WO, IPPROTO_IP, IP_ADD_MEMBERSHIP,
     IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP},
    {"drop_membership", OPT_MEMBERSHIP, WO, IPPROTO_IP, IP_DROP_MEMBERSHIP,
     IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP},
    /* Coalesced receives; dgram.c splits them back into datagrams. */
    {"udp_gro", OPT_GRO, 0, IPPROTO_UDP, UDP_GRO, IPPROTO_UDP, UDP_GRO},
    SOCKOPT("error", OPT_ERROR, RO, SO_ERROR),
    SOCKOPT("type", OPT_TYPE, RO, SO_TYPE),
    SOCKOPT("acceptconn", OPT_ACCEPTCONN, RO, SO_ACCEPTCONN),
};

static const option *check_option(lua_State *L, int idx) {
    size_t len, i;
    const char *name = luaL_checklstring(L, idx, &len);
    /* Lengths too: a name with a zero byte inside is no option's. */
    for (i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
            return &options[i];
    luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'", name));
    return NULL;
}

/* Level and name for this socket's family; 0 when the option has no
 * meaning for it (an IP option on a unix socket, v6only on IPv4). */
static int resolve(const option *o, const lsk_socket *s, int *level, int *name) {
    if (s->family == AF_INET6) {
        *level = o->level6;
        *name = o->name6;
    } else if (s->family == AF_INET || o->level4 == SOL_SOCKET) {
        *level = o->level4;
        *name = o->name4;
    } else {
        return 0;
    }
    return *level != NONE && *name != NONE;
}

static int fail_opt(lua_State *L, int err, const char *verb, const option *o) {
    char what[64];
    lua_pushfstring(L, "%s %s", verb, o->name);
    strncpy(what, lua_tostring(L, -1), sizeof what - 1);
    what[sizeof what - 1] = '\0';
    lua_pop(L, 1);
    return lsk_fail(L, err, what);
}

static int check_int(lua_State *L, int idx, const char *what) {
    lua_Integer v = 0;
    if (!lsock_tointeger(L, idx, &v))
        luaL_argerror(L, idx, lua_pushfstring(L, "%s expected, got %s", what,
                                              luaL_typename(L, idx)));
    if (v < -2147483647 || v > 2147483647) luaL_argerror(L, idx, "value out of range");
    return (int)v;
}

/* The text of the string at idx, or NULL for another type or one with a
 * zero byte inside (which no interface or address has). */
static const char *c_text(lua_State *L, int idx) {
    size_t len;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
    return s != NULL && memchr(s, '\0', len) == NULL ? s : NULL;
}

/* An IPv6 interface given as a name ("eth0") or an index: the value at
 * idx, which may be a table's field; errors name argument argn. */
static unsigned check_ifindex(lua_State *L, int idx, int argn, const char *what) {
    const char *name;
    lua_Integer v;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        if (!lsock_tointeger(L, idx, &v))
            luaL_argerror(L, argn, lua_pushfstring(L, "%sinterface index must be an integer", what));
        if (v < 0 || v > 2147483647)
            luaL_argerror(L, argn, lua_pushfstring(L, "%sinterface index out of range", what));
        return (unsigned)v;
    }
    if (lua_isnoneornil(L, idx)) return 0;
    if (lua_type(L, idx) == LUA_TSTRING) {
        unsigned i;
        if ((name = c_text(L, idx)) == NULL)
            luaL_argerror(L, argn, lua_pushfstring(L, "%sinterface name contains a zero byte", what));
        if ((i = if_nametoindex(name)) == 0)
            luaL_argerror(L, argn, lua_pushfstring(L, "%sunknown interface '%s'", what, name));
        return i;
    }
    luaL_argerror(L, argn, lua_pushfstring(L, "%sinterface name or index expected", what));
    return 0;
}

/* An IPv4 address (or "*", or nil: any) at idx; errors name argument
 * argn, `what` the option or field. */
static void check_in_addr(lua_State *L, int idx, int argn, struct in_addr *a, const char *what) {
    const char *text;
    if (lua_isnoneornil(L, idx)) {
        a->s_addr = htonl(INADDR_ANY);
        return;
    }
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
        luaL_argerror(L, argn, lua_pushfstring(L, "%s: IPv4 address expected, got %s", what,
                                               luaL_typename(L, idx)));
    if ((text = c_text(L, idx)) == NULL && lua_type(L, idx) == LUA_TSTRING)
        luaL_argerror(L, argn, lua_pushfstring(L, "%s: address contains a zero byte", what));
    if (text == NULL) text = lua_tostring(L, idx); /* a number */
    if (strcmp(text, "*") == 0) a->s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, text, a) != 1)
        luaL_argerror(L, argn, lua_pushfstring(L, "%s: IPv4 address expected, got '%s'", what, text));
}

int lsk_setoption(lua_State *L, lsk_socket *s) {
    const option *o = check_option(L, 2);
    int level, name, iv, r;
    struct linger lg;
    struct in_addr in;
    const void *val = &iv;
    socklen_t len = sizeof iv;
    union {
        struct ip_mreq m4;
        struct ipv6_mreq m6;
    } mreq;

    if (o->access == RO)
        luaL_argerror(L, 2, lua_pushfstring(L, "option '%s' is read-only", o->name));
    switch (o->kind) {
    case OPT_BOOL:
    case OPT_GRO:
        luaL_checktype(L, 3, LUA_TBOOLEAN);
        iv = lua_toboolean(L, 3);
        break;
    case OPT_INT:
        iv = check_int(L, 3, "integer");
        /* The kernel reads a negative size as a huge one (the largest
         * buffer it allows), which is never what a negative number meant. */
        if (iv < 0 && o->level4 == SOL_SOCKET && (o->name4 == SO_RCVBUF || o->name4 == SO_SNDBUF))
            luaL_argerror(L, 3, "buffer size must not be negative");
        break;
    case OPT_LINGER:
        if (lua_type(L, 3) == LUA_TBOOLEAN && !lua_toboolean(L, 3)) {
            lg.l_onoff = 0;
            lg.l_linger = 0;
        } else {
            lg.l_onoff = 1;
            lg.l_linger = check_int(L, 3, "seconds or false");
            if (lg.l_linger < 0) luaL_argerror(L, 3, "linger seconds must not be negative");
        }
        val = &lg;
        len = sizeof lg;
        break;
    case OPT_MCAST_IF:
        if (s->family == AF_INET6) {
            iv = (int)check_ifindex(L, 3, 3, "");
        } else {
            check_in_addr(L, 3, 3, &in, "multicast_if");
            val = &in;
            len = sizeof in;
        }
        break;
    case OPT_MEMBERSHIP: {
        const char *group;
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "group");
        lua_getfield(L, 3, "interface");
        group = c_text(L, -2);
        if (group == NULL) luaL_argerror(L, 3, "field 'group' (an address) expected");
        memset(&mreq, 0, sizeof mreq);
        if (s->family == AF_INET6) {
            if (inet_pton(AF_INET6, group, &mreq.m6.ipv6mr_multiaddr) != 1)
                luaL_argerror(L, 3, "field 'group': IPv6 address expected");
            mreq.m6.ipv6mr_interface = check_ifindex(L, -1, 3, "field 'interface': ");
            len = sizeof mreq.m6;
        } else {
            if (inet_pton(AF_INET, group, &mreq.m4.imr_multiaddr) != 1)
                luaL_argerror(L, 3, "field 'group': IPv4 address expected");
            check_in_addr(L, -1, 3, &mreq.m4.imr_interface, "field 'interface'");
            len = sizeof mreq.m4;
        }
        lua_pop(L, 2);
        val = &mreq;
        break;
    }
    }
    if (s->st.fd < 0) return lsk_closed_result(L);
    if (!resolve(o, s, &level, &name)) return fail_opt(L, ENOPROTOOPT, "setoption", o);
    if (o->kind == OPT_GRO) lsk_msg_gro(L, s, iv);
    r = setsockopt(s->st.fd, level, name, val, len);
    if (r < 0) {
        int err = errno;
        if (o->kind == OPT_GRO && iv) lsk_msg_gro(L, s, 0);
        return fail_opt(L, err, "setoption", o);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int lsk_getoption(lua_State *L, lsk_socket *s) {
    const option *o = check_option(L, 2);
    int level, name, iv = 0;
    struct linger lg;
    struct in_addr in;
    void *val = &iv;
    socklen_t len = sizeof iv;

    if (o->access == WO)
        luaL_argerror(L, 2, lua_pushfstring(L, "option '%s' is write-only", o->name));
    if (s->st.fd < 0) return lsk_closed_result(L);
    if (!resolve(o, s, &level, &name)) return fail_opt(L, ENOPROTOOPT, "getoption", o);
    if (o->kind == OPT_LINGER) {
        val = &lg;
        len = sizeof lg;
    } else if (o->kind == OPT_MCAST_IF && s->family != AF_INET6) {
        val = &in;
        len = sizeof in;
    }
    memset(val, 0, len);
    if (getsockopt(s->st.fd, level, name, val, &len) < 0)
        return fail_opt(L, errno, "getoption", o);
    switch (o->kind) {
    case OPT_BOOL:
    case OPT_ACCEPTCONN:
    case OPT_GRO:
        /* Some systems answer with a single byte for IPv4 multicast. */
        lua_pushboolean(L, len == 1 ? *(unsigned char *)val != 0 : iv != 0);
        break;
    case OPT_LINGER:
        if (lg.l_onoff) lua_pushinteger(L, lg.l_linger);
        else lua_pushboolean(L, 0);
        break;
    case OPT_MCAST_IF:
        if (s->family == AF_INET6) {
            lua_pushinteger(L, iv);
        } else {
            char text[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &in, text, sizeof text);
            lua_pushstring(L, text);
        }
        break;
    case OPT_TYPE:
        lua_pushstring(L, lsk_type_name(iv));
        break;
    default: /* OPT_INT, OPT_ERROR */
        lua_pushinteger(L, len == 1 ? *(unsigned char *)val : iv);
    }
    return 1;
}
