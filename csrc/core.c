/*
 * core.c: luaopen_lsock_core, the module table and the small module
 * functions that belong to no object (clocks, sleep, the host name).
 */
#define _POSIX_C_SOURCE 200809L /* gethostname */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lsock.h"
#include "tls.h"

#define LSOCK_VERSION "lsock 0.1.0"

void lsk_new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
    luaL_newmetatable(L, name);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name"); /* 5.1/5.2 do not set it themselves */
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static int l_gettime(lua_State *L) {
    lua_pushnumber(L, lsk_walltime());
    return 1;
}

static int l_monotime(lua_State *L) {
    lua_pushnumber(L, lsk_monotime());
    return 1;
}

static int l_sleep(lua_State *L) {
    lua_Number s = luaL_checknumber(L, 1);
    if (s != s) luaL_argerror(L, 1, "seconds is not a number");
    lsk_sleep((double)s);
    return 0;
}

static int l_gethostname(lua_State *L) {
    char name[256];
    if (gethostname(name, sizeof name) < 0) return lsk_fail(L, errno, "gethostname");
    name[sizeof name - 1] = '\0'; /* POSIX leaves a cut name unterminated */
    lua_pushstring(L, name);
    return 1;
}

/* core._catch_signal(signo): an empty handler for signo, installed
 * without SA_RESTART, as a host program may install one. A signal then
 * interrupts every wait with EINTR instead of being ignored or killing
 * the process: the specs use it to check that each kind of wait goes on
 * with the time it has left. */
static void on_signal(int signo) {
    (void)signo;
}

/* The handler lives in this library, which lua_close unloads: a signal
 * that came after that would jump into nothing. So the state that caught
 * it ignores those signals from its close on (a finalizer kept in the
 * registry runs before the library goes). */
static int release_signals(lua_State *L) {
    int *caught = (int *)lua_touserdata(L, 1), i;
    for (i = 1; i < 65; i++)
        if (caught[i]) signal(i, SIG_IGN);
    return 0;
}

static int l_catch_signal(lua_State *L) {
    struct sigaction sa;
    int *caught;
    lua_Integer signo = luaL_checkinteger(L, 1);
    if (signo <= 0 || signo >= 65 || signo == SIGKILL || signo == SIGSTOP)
        return luaL_argerror(L, 1, "a signal that can be caught expected");
    lua_getfield(L, LUA_REGISTRYINDEX, "lsock.caught_signals");
    if ((caught = (int *)lua_touserdata(L, -1)) == NULL) {
        caught = (int *)lua_newuserdata(L, 65 * sizeof *caught);
        memset(caught, 0, 65 * sizeof *caught);
        lua_newtable(L);
        lua_pushcfunction(L, release_signals);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, "lsock.caught_signals");
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction((int)signo, &sa, NULL) != 0) return lsk_fail(L, errno, "sigaction");
    caught[signo] = 1;
    lua_pushboolean(L, 1);
    return 1;
}

/* core._methods(name): the method table of a class ("lsock.socket",
 * "lsock.tls") and its metatable, for the Lua layer's wrappers. */
static int l_methods(lua_State *L) {
    luaL_getmetatable(L, luaL_checkstring(L, 1));
    if (!lua_istable(L, -1)) return luaL_argerror(L, 1, "no such class");
    lua_getfield(L, -1, "__index");
    lua_insert(L, -2);
    return 2; /* the methods, the metatable */
}

static const luaL_Reg functions[] = {
    {"socket", lsk_socket_new},
    {"tcp", lsk_socket_tcp},
    {"udp", lsk_socket_udp},
    {"socketpair", lsk_socketpair},
    {"_issocket", lsk_is_socket_file},
    {"_chmod", lsk_chmod_socket_file},
    {"poller", lsk_poller_new},
    {"_resolve", lsk_resolve},
    {"_scheduler", lsk_scheduler_new},
    {"_intask", lsk_intask},
    {"select", lsk_select},
    {"tls_context", lsk_tlsctx_new},
    {"tls_wrap", lsk_tls_wrap},
    {"fromfd", lsk_socket_fromfd},
    {"getaddrinfo", lsk_getaddrinfo},
    {"getnameinfo", lsk_getnameinfo},
    {"gettime", l_gettime},
    {"monotime", l_monotime},
    {"sleep", l_sleep},
    {"_strerror", lsk_l_strerror},
    {"gethostname", l_gethostname},
    {"_cert_digest", lsk_cert_digest},
    {"_methods", l_methods},
    {"_ffi", lsk_ffi_table},
    {"_kwait", lsk_l_kwait},
    {"_catch_signal", l_catch_signal},
    {NULL, NULL},
};

int luaopen_lsock_core(lua_State *L) {
    lsk_socket_open(L);
    lsk_poller_open(L);
    lsk_scheduler_open(L);
    lsk_resolve_open(L);
    lsk_tls_open(L);
    luaL_newlib(L, functions);
    lsk_push_errno_table(L);
    lua_setfield(L, -2, "errno");
    lua_pushliteral(L, LSOCK_VERSION);
    lua_setfield(L, -2, "_VERSION");
    /* The longest unix socket path (without its terminator), for the Lua
     * layer's argument checks. */
    lua_pushinteger(L, (lua_Integer)sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    lua_setfield(L, -2, "_UNIX_PATH_MAX");
    return 1;
}
