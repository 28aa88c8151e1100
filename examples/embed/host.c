/*
 * host.c: a C program that embeds Lua and lsock and owns the main loop.
 *
 * lsock.core is linked in from liblsock.a and registered with
 * luaL_requiref (package.preload on Lua 5.1 and LuaJIT); lsock.loop, pure
 * Lua, comes from LUA_DIR. The host makes a listening TCP socket on
 * 127.0.0.1 itself and hands it to the script with lsock_pushfd; the
 * script starts a server on lsock.loop, one coroutine per connection, and
 * returns. From then on the host's own poll(2) loop waits on loop.getfd()
 * and on the sockets of its own clients, which connect, send lines and
 * check every byte that comes back, and it runs the loop with
 * loop.step(0) when that descriptor is readable or loop.timeout() has
 * passed.
 *
 *   usage: embed-host SCRIPT.lua [LUA_DIR]
 *
 * LUA_DIR holds the lsock/ directory of Lua files; default: $LSOCK_LUA_DIR,
 * else ../../lua from the script's directory (the repository's lua/).
 * Exit status 0 when every client got every byte back and the script saw
 * no error; 1 otherwise, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lsock.h"

#define NCLIENTS 8       /* connected at once, served at once */
#define NLINES 4         /* lines each sends before "bye" */
#define LONG_LINE 60000  /* one line per client this long: many reads and writes */
#define DEADLINE 10.0    /* seconds for everything, then fail */

/* loop.getfd() is readable only when the kernel has an event for a socket
 * the loop waits on. Its timers (loop.sleep, every socket timeout,
 * lsock.connect's next attempt) and its run queue (coroutines just
 * spawned or woken by another one) never make it readable: loop.timeout()
 * says how long the host may wait before it must step the loop anyway
 * (0: at once; nil: until the descriptor says so). */

typedef struct client {
    int fd;
    char *out, *want;  /* all it sends; all it must get back */
    size_t nout, sent, nwant, got;
    int eof;           /* the server closed after the last byte */
} client;

/* perror's message, and -1 for the caller to return. */
static int fail(const char *what) {
    perror(what);
    return -1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the host's own sockets ------------------------------------------------ */

static struct sockaddr_in loopback(unsigned short port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* A listening TCP socket on 127.0.0.1 and a port the kernel picks. */
static int listen_local(unsigned short *port) {
    struct sockaddr_in sa = loopback(0);
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return fail("socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, NCLIENTS) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        perror("listen on 127.0.0.1");
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Line k of client id; one of them LONG_LINE long. */
static size_t put_line(char *p, int id, int k) {
    size_t n = (size_t)sprintf(p, "client %d line %d ", id, k);
    size_t fill = k == id % NLINES ? LONG_LINE : (size_t)(8 * (id + k)), j;
    for (j = 0; j < fill; j++) p[n++] = (char)('a' + (size_t)(id + k + j) % 26);
    p[n++] = '\n';
    return n;
}

/* What client id sends (its lines, then "bye") and what it must get back
 * (its lines, then "bye" and how many lines came before). 0, or -1; the
 * buffers are client_free's in either case. */
static int client_init(client *c, int id) {
    size_t cap = NLINES * (LONG_LINE + 64) + 32;
    int k;
    if ((c->out = malloc(cap)) == NULL || (c->want = malloc(cap)) == NULL)
        return fail("malloc");
    for (k = 0; k < NLINES; k++) {
        size_t n = put_line(c->out + c->nout, id, k);
        memcpy(c->want + c->nwant, c->out + c->nout, n);
        c->nout += n;
        c->nwant += n;
    }
    c->nout += (size_t)sprintf(c->out + c->nout, "bye\n");
    c->nwant += (size_t)sprintf(c->want + c->nwant, "bye %d\n", NLINES);
    return 0;
}

/* Start a non-blocking connect; poll says when it is done. */
static int client_connect(client *c, unsigned short port) {
    struct sockaddr_in sa = loopback(port);
    if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) return fail("socket");
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) return fail("fcntl");
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        return fail("connect");
    return 0;
}

static int client_fail(int id, const char *what, int err) {
    fprintf(stderr, "client %d: %s: %s\n", id, what, strerror(err));
    return -1;
}

static int again(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

/* Move what can move without waiting, checking every byte that comes
 * back: 0, or -1 (said why). */
static int client_io(client *c, int id, short revents) {
    char buf[16384];
    ssize_t n;
    size_t k;
    if ((revents & POLLOUT) && c->sent < c->nout) {
        n = send(c->fd, c->out + c->sent, c->nout - c->sent, 0);
        if (n < 0 && !again(errno)) return client_fail(id, "send", errno);
        if (n > 0) c->sent += (size_t)n;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR))) return 0;
    n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0) return again(errno) ? 0 : client_fail(id, "recv", errno);
    if (n == 0) {
        if (c->got < c->nwant) {
            fprintf(stderr, "client %d: closed after %zu of %zu bytes\n", id, c->got, c->nwant);
            return -1;
        }
        c->eof = 1;
        return 0;
    }
    for (k = 0; k < (size_t)n; k++, c->got++) {
        if (c->got == c->nwant || buf[k] != c->want[c->got]) {
            fprintf(stderr, "client %d: reply byte %zu is %s\n", id, c->got,
                    c->got == c->nwant ? "one too many" : "wrong");
            return -1;
        }
    }
    return 0;
}

static void client_free(client *c) {
    if (c->fd >= 0) close(c->fd);
    free(c->out);
    free(c->want);
}

/* ---- Lua ------------------------------------------------------------------------ */

/* host_checkfd(sock): the descriptor as the host sees it (for the script). */
static int host_checkfd(lua_State *L) {
    lua_pushinteger(L, lsock_checkfd(L, 1));
    return 1;
}

/* lsock.core is the linked-in copy: require finds it in package.loaded
 * (5.2+) or package.preload (5.1, LuaJIT), before any search. */
static void register_core(lua_State *L) {
#if LUA_VERSION_NUM >= 502
    luaL_requiref(L, "lsock.core", luaopen_lsock_core, 0);
    lua_pop(L, 1);
#else
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_lsock_core);
    lua_setfield(L, -2, "lsock.core");
    lua_pop(L, 2);
#endif
}

/* LUA_DIR's modules before the usual places, and no C modules from disk:
 * a second lsock.core would not know the first one's sockets. */
static void set_paths(lua_State *L, const char *dir) {
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
}

typedef struct start_args {
    const char *script, *luadir;
    int *listen_fd; /* -1 once a Lua object owns it */
} start_args;

/* Run protected (everything here may raise): register lsock, run the
 * script with the listening socket, and return loop.step, loop.timeout,
 * loop.getfd() and the script's report function. */
static int start_script(lua_State *L) {
    start_args *a = (start_args *)lua_touserdata(L, 1);
    int err;
    lua_settop(L, 0);
    register_core(L);
    set_paths(L, a->luadir);
    lua_register(L, "host_checkfd", host_checkfd);
    if (luaL_loadfile(L, a->script) != 0) return lua_error(L); /* 1: the chunk */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lsock.loop"); /* which loads lsock.core: lsock_pushfd needs it */
    lua_call(L, 1, 1);                /* 2: loop */
    lua_pushvalue(L, 1);
    if ((err = lsock_pushfd(L, *a->listen_fd, "inet", "stream")) != 0)
        return luaL_error(L, "lsock_pushfd: %s", strerror(-err));
    *a->listen_fd = -1;
    lua_pushinteger(L, NCLIENTS);
    lua_call(L, 2, 1); /* 3: the report function */
    if (!lua_isfunction(L, 3)) return luaL_error(L, "%s: returned no report function", a->script);
    lua_getfield(L, 2, "step");
    lua_getfield(L, 2, "timeout");
    lua_getfield(L, 2, "getfd");
    lua_call(L, 0, 2); /* the descriptor, or nil and why */
    if (!lua_isnumber(L, -2)) return luaL_error(L, "loop.getfd: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushvalue(L, 3);
    return 4;
}

/* loop.step(0) (at stack index 1), protected: 0 and how many coroutines
 * are alive, or -1. */
static int step_loop(lua_State *L, int *alive) {
    lua_pushvalue(L, 1);
    lua_pushnumber(L, 0);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fprintf(stderr, "loop.step: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    *alive = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return 0;
}

/* loop.timeout() (at stack index 2), protected: 0 and its seconds in
 * *secs (-1 for none), or -1. */
static int loop_timeout(lua_State *L, double *secs) {
    lua_pushvalue(L, 2);
    if (lua_pcall(L, 0, 1, 0) != 0) {
        fprintf(stderr, "loop.timeout: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    *secs = lua_isnumber(L, -1) ? (double)lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    return 0;
}

/* The script's own account (its report function, at stack index 4):
 * *ok, and its summary or what went wrong, left on the stack. */
static const char *script_report(lua_State *L, int *ok) {
    lua_pushvalue(L, 4);
    *ok = lua_pcall(L, 0, 2, 0) == 0 && lua_toboolean(L, -2);
    return lua_tostring(L, -1);
}

/* ---- the main loop ------------------------------------------------------------ */

/* One poll over the loop's descriptor and the clients until every client
 * has all its bytes and the server closed, and no coroutine is left. */
static int run(lua_State *L, int loopfd, client *c) {
    struct pollfd pfd[1 + NCLIENTS];
    double deadline = now() + DEADLINE, wait, start, lt;
    int alive = -1, i, n;
    for (;;) {
        int done = 0;
        for (i = 0; i < NCLIENTS; i++) done += c[i].eof;
        if (done == NCLIENTS && alive == 0) return 0;
        if (now() > deadline) {
            fprintf(stderr, "host: %d of %d clients done and %d coroutines alive after %.0f s\n",
                    done, NCLIENTS, alive, DEADLINE);
            return -1;
        }
        pfd[0].fd = loopfd;
        pfd[0].events = POLLIN;
        for (i = 0; i < NCLIENTS; i++) {
            pfd[1 + i].fd = c[i].eof ? -1 : c[i].fd; /* poll skips -1 */
            pfd[1 + i].events = (short)(POLLIN | (c[i].sent < c[i].nout ? POLLOUT : 0));
        }
        /* Wait for the loop's descriptor, a client, or the loop's next
         * timer, whichever comes first (and never past the deadline). */
        if (loop_timeout(L, &lt) != 0) return -1;
        start = now();
        wait = deadline - start;
        if (lt >= 0 && lt < wait) wait = lt;
        n = poll(pfd, 1 + NCLIENTS, wait <= 0 ? 0 : (int)(wait * 1000.0) + 1);
        if (n < 0 && errno != EINTR) return fail("poll");
        for (i = 0; n > 0 && i < NCLIENTS; i++)
            if (pfd[1 + i].revents && client_io(&c[i], i + 1, pfd[1 + i].revents) != 0) return -1;
        if ((n > 0 && pfd[0].revents) || (lt >= 0 && now() - start >= lt))
            if (step_loop(L, &alive) != 0) return -1;
    }
}

/* LUA_DIR: the argument, $LSOCK_LUA_DIR, or ../../lua beside the script. */
static int lua_dir(const char *script, const char *given, char *buf, size_t size) {
    const char *slash = strrchr(script, '/');
    int n = given != NULL && *given != '\0' ? snprintf(buf, size, "%s", given)
            : slash != NULL ? snprintf(buf, size, "%.*s/../../lua", (int)(slash - script), script)
                            : snprintf(buf, size, "../../lua");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int main(int argc, char **argv) {
    client c[NCLIENTS];
    char luadir[4096];
    int listen_fd = -1, i, ok, status = 1;
    unsigned short port;
    size_t bytes = 0;
    const char *said;
    lua_State *L = NULL;
    start_args a;

    if (argc < 2 || argc > 3 ||
        lua_dir(argv[1], argc > 2 ? argv[2] : getenv("LSOCK_LUA_DIR"), luadir, sizeof luadir) != 0) {
        fprintf(stderr, "usage: %s SCRIPT.lua [LUA_DIR]\n", argv[0]);
        return 2;
    }
    /* A server that closes early must be an error on our sockets, not a
     * signal (lsock's own sockets never raise SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);
    memset(c, 0, sizeof c);
    for (i = 0; i < NCLIENTS; i++) c[i].fd = -1;

    if ((listen_fd = listen_local(&port)) < 0) goto done;
    for (i = 0; i < NCLIENTS; i++)
        if (client_init(&c[i], i + 1) != 0 || client_connect(&c[i], port) != 0) goto done;
    if ((L = luaL_newstate()) == NULL) goto done;
    luaL_openlibs(L);
    lua_settop(L, 0);
    a.script = argv[1];
    a.luadir = luadir;
    a.listen_fd = &listen_fd;
    lua_pushcfunction(L, start_script);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, 4, 0) != 0) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        goto done;
    }
    /* The stack from here on: 1 loop.step, 2 loop.timeout, 3 the loop's
     * descriptor, 4 the report. */
    if (run(L, (int)lua_tointeger(L, 3), c) != 0) goto done;
    said = script_report(L, &ok);
    if (!ok) {
        fprintf(stderr, "script: %s\n", said ? said : "(no message)");
        goto done;
    }
    for (i = 0; i < NCLIENTS; i++) bytes += c[i].nwant;
    if (luaL_dostring(L, "return jit and jit.version or _VERSION") != 0) lua_pushliteral(L, "?");
    printf("embed-host (%s): %d clients on port %u got all %zu bytes back; script: %s\n",
           lua_tostring(L, -1), NCLIENTS, port, bytes, said);
    status = 0;
done:
    if (L != NULL) lua_close(L); /* closes the listening socket if the script did not */
    if (listen_fd >= 0) close(listen_fd);
    for (i = 0; i < NCLIENTS; i++) client_free(&c[i]);
    return status;
}
