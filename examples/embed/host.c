/*
 * host.c: a C program that embeds Lua and lsock. It links lsock.core
 * statically, registers it with luaL_requiref, and hands one end of its
 * own socketpair to a Lua script as an lsock socket.
 *
 *   usage: host SCRIPT.lua     (the script receives the socket as `...`)
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lsock.h"

#if LUA_VERSION_NUM < 502
static void requiref(lua_State *L, const char *name, lua_CFunction f) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
    lua_pop(L, 2);
}
#else
static void requiref(lua_State *L, const char *name, lua_CFunction f) {
    luaL_requiref(L, name, f, 0);
    lua_pop(L, 1);
}
#endif

/* host_checkfd(sock): the descriptor as the host sees it. */
static int host_checkfd(lua_State *L) {
    lua_pushinteger(L, lsock_checkfd(L, 1));
    return 1;
}

int main(int argc, char **argv) {
    int sv[2], status = 1;
    char reply[64];
    ssize_t n;
    lua_State *L;

    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRIPT.lua\n", argv[0]);
        return 2;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        return 1;
    }
    L = luaL_newstate();
    luaL_openlibs(L);
    requiref(L, "lsock.core", luaopen_lsock_core);
    lua_register(L, "host_checkfd", host_checkfd);

    if (luaL_loadfile(L, argv[1]) != 0) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        goto done;
    }
    /* require the module first: lsock_pushfd needs its metatable */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lsock.core");
    lua_call(L, 1, 0);
    if (lsock_pushfd(L, sv[0], "unix", "stream") != 0) {
        fprintf(stderr, "lsock_pushfd failed\n");
        goto done;
    }
    sv[0] = -1; /* the Lua object owns it now */
    if (lua_pcall(L, 1, 0, 0) != 0) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        goto done;
    }
    /* The script wrote a line on its end and returned. */
    n = read(sv[1], reply, sizeof reply - 1);
    if (n <= 0) goto done;
    reply[n] = '\0';
    printf("host read: %s", reply);
    status = strcmp(reply, "hello from lua\n") == 0 ? 0 : 1;
done:
    lua_close(L);
    if (sv[0] >= 0) close(sv[0]);
    close(sv[1]);
    return status;
}
