/*
 * addr.c: names and addresses. Family and type names, port checks,
 * turning Lua arguments into a sockaddr and back, and the getaddrinfo /
 * getnameinfo module functions.
 */
#define _GNU_SOURCE /* NI_* and AI_* extensions, if_indextoname */

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#ifdef __linux__
#include <errno.h>
#include <linux/if_packet.h>
#endif

#include "internal.h"

static const char *const family_names[] = {"inet", "inet6", "unix",
#ifdef AF_PACKET
                                           "packet",
#endif
                                           NULL};
static const int family_values[] = {AF_INET, AF_INET6, AF_UNIX,
#ifdef AF_PACKET
                                    AF_PACKET,
#endif
                                    0};

static const char *const type_names[] = {"stream", "dgram", "seqpacket",
                                         "raw", NULL};
static const int type_values[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET,
                                  SOCK_RAW};

int lsk_check_family(lua_State *L, int idx, int def) {
    if (lua_isnoneornil(L, idx)) return def;
    return family_values[lsk_check_name(L, idx, "family", family_names, NULL)];
}

int lsk_check_type(lua_State *L, int idx, int def) {
    if (lua_isnoneornil(L, idx)) return def;
    return type_values[lsk_check_name(L, idx, "type", type_names, NULL)];
}

const char *lsk_family_name(int family) {
    int i;
    for (i = 0; family_names[i]; i++)
        if (family_values[i] == family) return family_names[i];
    return "unknown";
}

const char *lsk_type_name(int type) {
    int i;
    for (i = 0; type_names[i]; i++)
        if (type_values[i] == type) return type_names[i];
    return "unknown";
}

/* An argument error at idx, named after `method` when one is given: a
 * method's own name is right however it was called (the loop's wrappers
 * and LuaJIT's FFI path call methods as plain functions); without one,
 * as Lua names the call. */
static int arg_error(lua_State *L, int idx, const char *method, const char *msg) {
    if (method != NULL) return lsk_argerror(L, idx, method, msg);
    return luaL_argerror(L, idx, msg);
}

static int check_port(lua_State *L, int idx, const char *method) {
    lua_Integer port = 0;
    if (!lsock_tointeger(L, idx, &port)) {
        if (lua_isnumber(L, idx)) {
            /* a number, or a numeric string, that is no Lua integer */
            lua_Number n = lua_tonumber(L, idx);
            if (n < 0 || n > 65535) arg_error(L, idx, method, "port out of range");
            arg_error(L, idx, method, "port must be an integer");
        }
        arg_error(L, idx, method, lua_pushfstring(L, "port expected, got %s", luaL_typename(L, idx)));
    }
    if (port < 0 || port > 65535) arg_error(L, idx, method, "port out of range");
    return (int)port;
}

int lsk_check_port(lua_State *L, int idx) { return check_port(L, idx, NULL); }

static const char *check_cstring(lua_State *L, int idx, const char *method, const char *what) {
    size_t len;
    const char *s = method != NULL ? lsk_checklstring(L, idx, method, &len) : luaL_checklstring(L, idx, &len);
    if (memchr(s, '\0', len) != NULL)
        arg_error(L, idx, method, lua_pushfstring(L, "%s contains a zero byte", what));
    return s;
}

const char *lsk_check_cstring(lua_State *L, int idx, const char *what) {
    return check_cstring(L, idx, NULL, what);
}

/* Fill out from a numeric address or the wildcard, without asking the
 * resolver. Returns 1 when host was numeric. */
static int numeric_addr(int family, const char *host, int port, lsk_addr *out) {
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short)port);
        out->len = sizeof *sin;
        if (strcmp(host, "*") == 0) {
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
            return 1;
        }
        return inet_pton(AF_INET, host, &sin->sin_addr) == 1;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((unsigned short)port);
        out->len = sizeof *sin6;
        if (strcmp(host, "*") == 0) {
            sin6->sin6_addr = in6addr_any;
            return 1;
        }
        /* Scoped addresses (fe80::1%eth0) go to the resolver. */
        return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1;
    }
}

/* "@name" is the abstract namespace (Linux). */
static int is_abstract(const char *path, size_t len) {
#ifdef __linux__
    return len > 0 && path[0] == '@';
#else
    (void)path;
    (void)len;
    return 0;
#endif
}

const char *lsk_addr_text_problem(int family, const char *text, size_t len) {
    if (family == AF_UNIX) {
        int abstract = is_abstract(text, len);
        /* A path needs its terminator; an abstract name has none. Never
         * truncate: a shortened path would name another socket. */
        if (len + (abstract ? 0 : 1) > sizeof(((struct sockaddr_un *)0)->sun_path))
            return "path too long for a unix socket";
        if (!abstract && memchr(text, '\0', len) != NULL) return "unix socket path contains a zero byte";
        return NULL;
    }
    return memchr(text, '\0', len) != NULL ? "address contains a zero byte" : NULL;
}

static int unix_addr(lua_State *L, int idx, const char *method, lsk_addr *out) {
    size_t len;
    const char *path = lsk_checklstring(L, idx, method, &len), *problem;
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    int abstract = is_abstract(path, len);
    memset(out, 0, sizeof *out);
    if ((problem = lsk_addr_text_problem(AF_UNIX, path, len)) != NULL) lsk_argerror(L, idx, method, problem);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len);
    if (abstract) {
        /* "@name" is the abstract namespace: a leading zero byte, and the
         * length counts exactly the name, no terminator. */
        sun->sun_path[0] = '\0';
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        return 0;
    }
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

/* The resolver's text, lower-cased like the operating system's. */
static void push_gai_error(lua_State *L, const char *what, const char *name, int err) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s", gai_strerror(err));
    lsk_lower_first(msg);
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, name, msg);
}

#ifdef AF_PACKET
/* A packet socket's address is an interface, by name. */
static int packet_addr(lua_State *L, int idx, const char *what, lsk_addr *out) {
    const char *name = check_cstring(L, idx, what, "interface name");
    struct sockaddr_ll *sll = (struct sockaddr_ll *)&out->ss;
    unsigned index;
    memset(out, 0, sizeof *out);
    index = if_nametoindex(name);
    if (index == 0) {
        int err = errno ? errno : ENODEV;
        return lsk_fail(L, err, lua_pushfstring(L, "%s %s", what, name));
    }
    sll->sll_family = AF_PACKET;
    sll->sll_ifindex = (int)index;
    out->len = sizeof *sll;
    return 0;
}
#endif

int lsk_get_addr(lua_State *L, int idx, int family, int flags,
                 const char *what, lsk_addr *out) {
    const char *host;
    int port, err;
    struct addrinfo hints, *res = NULL;
    char portstr[8];

    if (family == AF_UNIX) return unix_addr(L, idx, what, out);
#ifdef AF_PACKET
    if (family == AF_PACKET) return packet_addr(L, idx, what, out);
#endif
    if (family != AF_INET && family != AF_INET6)
        return luaL_error(L, "%s: no addresses for a %s socket", what,
                          lsk_family_name(family));
    host = check_cstring(L, idx, what, "address");
    port = (flags & LSK_ADDR_NOPORT) && lua_isnoneornil(L, idx + 1)
               ? 0 : check_port(L, idx + 1, what);
    if (numeric_addr(family, host, port, out)) return 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM; /* one answer per address */
    hints.ai_flags = (flags & LSK_ADDR_PASSIVE) ? AI_PASSIVE : 0;
    snprintf(portstr, sizeof portstr, "%d", port);
    err = getaddrinfo(host, portstr, &hints, &res);
    if (err != 0 || res == NULL) {
        if (res) freeaddrinfo(res);
        if (err == 0) {
            lua_pushnil(L);
            lua_pushfstring(L, "%s %s: no address", what, host);
        } else {
            push_gai_error(L, what, host, err);
        }
        return 2;
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Dotted-quad text of an IPv4 address into buf (at least 16 bytes). A
 * datagram receiver formats one per datagram, and the C library's
 * inet_ntop goes through printf. */
static void ipv4_text(const struct in_addr *a, char *buf) {
    const unsigned char *b = (const unsigned char *)&a->s_addr;
    char *p = buf;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (i > 0) *p++ = '.';
        if (v >= 100) *p++ = (char)('0' + v / 100);
        if (v >= 10) *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
    }
    *p = '\0';
}

/* Numeric host text of an inet/inet6 address, with the scope of a
 * link-local IPv6 address appended as %name. */
static void host_text(const struct sockaddr *sa, char *buf, size_t len) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        if (len >= INET_ADDRSTRLEN) ipv4_text(&sin->sin_addr, buf);
        else buf[0] = 0;
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        char ifname[IF_NAMESIZE];
        size_t n;
        if (!inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)len)) {
            buf[0] = 0;
            return;
        }
        if (sin6->sin6_scope_id != 0) {
            n = strlen(buf);
            if (if_indextoname(sin6->sin6_scope_id, ifname))
                snprintf(buf + n, len - n, "%%%s", ifname);
            else
                snprintf(buf + n, len - n, "%%%u", (unsigned)sin6->sin6_scope_id);
        }
    }
}

static int port_of(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* The path of a unix address, "@name" for the abstract namespace. */
static size_t unix_path(const struct sockaddr *sa, socklen_t salen,
                        char *buf, size_t len) {
    const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
    size_t off = offsetof(struct sockaddr_un, sun_path), n;
    if (salen <= off) return 0;
    n = salen - off;
    if (n > sizeof sun->sun_path) n = sizeof sun->sun_path;
    if (n >= len) n = len - 1;
    memcpy(buf, sun->sun_path, n);
    if (n > 0 && buf[0] == '\0') {
        /* Programs that bind the whole sun_path pad the name with zero
         * bytes: they are not part of what a user would call its name. */
        while (n > 1 && buf[n - 1] == '\0') n--;
        buf[0] = '@';
    } else {
        n = strnlen(buf, n);
    }
    buf[n] = 0;
    return n;
}

void lsk_format_addr(const struct sockaddr *sa, socklen_t salen, char *buf,
                     size_t len) {
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    switch (sa->sa_family) {
    case AF_INET:
        host_text(sa, host, sizeof host);
        snprintf(buf, len, "%s:%d", host, port_of(sa));
        break;
    case AF_INET6:
        host_text(sa, host, sizeof host);
        snprintf(buf, len, "[%s]:%d", host, port_of(sa));
        break;
    case AF_UNIX:
        unix_path(sa, salen, buf, len);
        break;
#ifdef AF_PACKET
    case AF_PACKET: {
        char ifname[IF_NAMESIZE];
        const struct sockaddr_ll *sll = (const struct sockaddr_ll *)sa;
        if (salen < offsetof(struct sockaddr_ll, sll_addr) || sll->sll_ifindex == 0)
            snprintf(buf, len, "any");
        else if (if_indextoname((unsigned)sll->sll_ifindex, ifname)) snprintf(buf, len, "%s", ifname);
        else snprintf(buf, len, "if%d", sll->sll_ifindex);
        break;
    }
#endif
    default:
        snprintf(buf, len, "?");
    }
}

int lsk_push_addr(lua_State *L, const struct sockaddr *sa, socklen_t len) {
    int n = lsk_push_addr_port(L, sa, len);
    if (n != 2) return n;
    lua_pushstring(L, lsk_family_name(sa->sa_family));
    return 3;
}

int lsk_inet_text(const struct sockaddr *sa, char *host, size_t len) {
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return -1;
    host_text(sa, host, len);
    return port_of(sa);
}

int lsk_push_addr_port(lua_State *L, const struct sockaddr *sa, socklen_t len) {
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        host_text(sa, host, sizeof host);
        lua_pushstring(L, host);
        lua_pushinteger(L, port_of(sa));
        return 2;
    }
    if (sa->sa_family == AF_UNIX) {
        char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
        size_t n = unix_path(sa, len, path, sizeof path);
        lua_pushlstring(L, path, n);
        return 1;
    }
#ifdef AF_PACKET
    if (sa->sa_family == AF_PACKET) {
        lsk_format_addr(sa, len, host, sizeof host);
        lua_pushstring(L, host);
        lua_pushinteger(L, len >= offsetof(struct sockaddr_ll, sll_addr)
                               ? ntohs(((const struct sockaddr_ll *)sa)->sll_protocol) : 0);
        return 2;
    }
#endif
    lua_pushnil(L);
    return 1;
}

/* ---- lsock.getaddrinfo(host, service [, hints]) ----------------------- */

static int opt_bool(lua_State *L, int t, const char *name) {
    int v;
    lua_getfield(L, t, name);
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* hints.family / hints.type: a name from names, def when absent. */
static int hint_name(lua_State *L, const char *field, const char *const names[],
                     const int values[], int def) {
    int i;
    lua_getfield(L, 3, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    i = lsk_find_name(names, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL);
    if (i < 0)
        return luaL_argerror(L, 3, lua_pushfstring(L, "hints.%s: unknown %s '%s'", field, field,
                                            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                                : luaL_typename(L, -1)));
    lua_pop(L, 1);
    return values[i];
}

/* Whether the value at idx is a string of decimal digits only. */
static int all_digits(lua_State *L, int idx) {
    size_t len, i;
    const char *p;
    if (lua_type(L, idx) != LUA_TSTRING) return 0;
    p = lua_tolstring(L, idx, &len);
    for (i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return len > 0;
}

void lsk_gai_args(lua_State *L, lsk_gai_query *q) {
    const char *host = lua_isnoneornil(L, 1) ? NULL : lsk_check_cstring(L, 1, "host");
    memset(q, 0, sizeof *q);
    q->family = AF_UNSPEC;
    if (lua_type(L, 2) == LUA_TNUMBER || all_digits(L, 2)) {
        /* A number in a string too: the resolver would keep only its low
         * 16 bits ("65536" would be port 0). */
        snprintf(q->portstr, sizeof q->portstr, "%d", lsk_check_port(L, 2));
        q->service = q->portstr;
    } else if (!lua_isnoneornil(L, 2)) {
        q->service = lsk_check_cstring(L, 2, "service");
    }
    if (host != NULL && strcmp(host, "*") == 0) {
        host = NULL;
        q->flags |= AI_PASSIVE;
    }
    if (host == NULL && q->service == NULL)
        luaL_argerror(L, 1, "host or service expected");
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        q->family = hint_name(L, "family", family_names, family_values, AF_UNSPEC);
        q->socktype = hint_name(L, "type", type_names, type_values, 0);
        if (opt_bool(L, 3, "passive")) q->flags |= AI_PASSIVE;
        if (opt_bool(L, 3, "numeric"))
            q->flags |= AI_NUMERICHOST | AI_NUMERICSERV;
        if (opt_bool(L, 3, "canonname")) q->flags |= AI_CANONNAME;
    }
    if (q->family != AF_UNSPEC && q->family != AF_INET &&
        q->family != AF_INET6)
        luaL_argerror(L, 3, "family must be inet or inet6");
    q->host = host;
}

int lsk_gai_results(lua_State *L, const lsk_gai_query *q, int err, struct addrinfo *res) {
    struct addrinfo *ai;
    int i = 0;
    if (err != 0) {
        push_gai_error(L, "getaddrinfo", q->host ? q->host : (q->service ? q->service : "*"), err);
        return 2;
    }
    lua_newtable(L);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        lua_createtable(L, 0, 6);
        lua_pushstring(L, lsk_family_name(ai->ai_family));
        lua_setfield(L, -2, "family");
        lua_pushstring(L, lsk_type_name(ai->ai_socktype));
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, ai->ai_protocol);
        lua_setfield(L, -2, "protocol");
        host_text(ai->ai_addr, text, sizeof text);
        lua_pushstring(L, text);
        lua_setfield(L, -2, "addr");
        lua_pushinteger(L, port_of(ai->ai_addr));
        lua_setfield(L, -2, "port");
        if (ai->ai_canonname) {
            lua_pushstring(L, ai->ai_canonname);
            lua_setfield(L, -2, "canonname");
        }
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

int lsk_getaddrinfo(lua_State *L) {
    lsk_gai_query q;
    struct addrinfo hints, *res = NULL;
    int err, n;
    lsk_gai_args(L, &q);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = q.family;
    hints.ai_socktype = q.socktype;
    hints.ai_flags = q.flags;
    err = getaddrinfo(q.host, q.service, &hints, &res);
    n = lsk_gai_results(L, &q, err, res);
    if (res != NULL) freeaddrinfo(res);
    return n;
}

/* ---- lsock.getnameinfo(addr [, port [, flags]]) ----------------------- */

/* A numeric address inet_pton does not read: an IPv6 one with its zone
 * ("fe80::1%lo"), as getaddrinfo gives them; never a lookup. Returns 1
 * when addr was one. */
static int scoped_addr(const char *addr, int port, lsk_addr *out) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET6;
    hints.ai_flags = AI_NUMERICHOST;
    if (strchr(addr, '%') == NULL || getaddrinfo(addr, NULL, &hints, &res) != 0 || res == NULL) return 0;
    memset(out, 0, sizeof *out);
    if (res->ai_addrlen <= sizeof out->ss) {
        memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
        out->len = res->ai_addrlen;
        ((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((unsigned short)port);
    }
    freeaddrinfo(res);
    return out->len > 0;
}

int lsk_getnameinfo(lua_State *L) {
    const char *addr = lsk_check_cstring(L, 1, "address");
    int port = lua_isnoneornil(L, 2) ? 0 : lsk_check_port(L, 2);
    int flags = 0, err;
    lsk_addr a;
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        if (opt_bool(L, 3, "numerichost")) flags |= NI_NUMERICHOST;
        if (opt_bool(L, 3, "numericserv")) flags |= NI_NUMERICSERV;
        if (opt_bool(L, 3, "namereqd")) flags |= NI_NAMEREQD;
        if (opt_bool(L, 3, "nofqdn")) flags |= NI_NOFQDN;
        if (opt_bool(L, 3, "dgram")) flags |= NI_DGRAM;
    }
    if (!numeric_addr(AF_INET, addr, port, &a) &&
        !numeric_addr(AF_INET6, addr, port, &a) && !scoped_addr(addr, port, &a))
        luaL_argerror(L, 1, "numeric address expected");
    err = getnameinfo((struct sockaddr *)&a.ss, a.len, host, sizeof host, serv,
                      sizeof serv, flags);
    if (err != 0) {
        push_gai_error(L, "getnameinfo", addr, err);
        return 2;
    }
    lua_pushstring(L, host);
    lua_pushstring(L, serv);
    return 2;
}
