/*
 * fuzz/harness.c: the host of the Lua-level fuzz targets.
 *
 * One binary per target: FUZZ_TARGET (compiled in with -DFUZZ_TARGET="name",
 * or LSOCK_FUZZ_TARGET in the environment, which wins) names
 * fuzz/targets/<name>.lua. That script returns function(data); each input
 * is one call, under pcall. A Lua error is a finding: it is printed with a
 * traceback and the process aborts, so that libFuzzer keeps the input.
 *
 * FUZZ_ROOT (compiled in, or LSOCK_FUZZ_ROOT) is the repository: package.path
 * gets its lua/ and fuzz/targets/ directories; lsock.core is the one linked
 * in from liblsock.a (package.preload), never a core.so from LUA_CPATH.
 *
 * With -DFUZZ_LUA_COVERAGE (the libFuzzer build) a line hook also counts
 * every Lua line run into libFuzzer's extra counters, so that new paths
 * through the pure-Lua code (lsock/icmp.lua, the target scripts) count as
 * new coverage: libFuzzer itself only sees the C code's edges. Targets may
 * add features of their own: require("fuzz.feedback").feature(string).
 *
 * Every input ends with a garbage collection step (a full collection every
 * COLLECT_EVERY inputs) and a count of the open descriptors: more than
 * after the first input, even after a full collection, is a leak, a
 * finding pinned on the input that made it.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lsock.h"

#ifndef FUZZ_TARGET
#define FUZZ_TARGET ""
#endif
#ifndef FUZZ_ROOT
#define FUZZ_ROOT "."
#endif

/* Full collections: often enough that nothing piles up, rarely enough not
 * to dominate a fast target. */
#define COLLECT_EVERY 64

static lua_State *L;
static int target_ref = LUA_NOREF;
static unsigned long runs;
static int fd_baseline = -1;

#ifdef FUZZ_LUA_COVERAGE
/* libFuzzer reads every byte of this section as one more edge counter. */
#define LUA_COUNTERS (1u << 16)
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t lua_counters[LUA_COUNTERS];

/* Source names are interned strings that live as long as their function,
 * so one hashed name is cached by address: most line events come from the
 * function that ran the line before. The hash is of the name's text, not
 * its address, so a line maps to the same counter in every process (for
 * -merge and -fork, which compare features across processes). */
static const char *cached_source;
static uint32_t cached_hash;

static uint32_t hash_text(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void line_hook(lua_State *l, lua_Debug *ar) {
    uint32_t h;
    if (!lua_getinfo(l, "S", ar)) return;
    if (ar->source != cached_source) {
        cached_source = ar->source;
        cached_hash = hash_text(ar->source);
    }
    h = (cached_hash ^ ((uint32_t)ar->currentline * 2654435761u)) & (LUA_COUNTERS - 1);
    lua_counters[h]++;
}
#endif

/* feedback.feature(s): one more "edge" for libFuzzer, named by the string
 * s. Coverage of code outside lsock (OpenSSL, the C library) is invisible
 * to libFuzzer, since those libraries are not instrumented; a target that
 * names what it saw (the handshake's error, an errno) lets the fuzzer tell
 * apart inputs that reached different places there. A no-op without
 * FUZZ_LUA_COVERAGE. */
static int l_feature(lua_State *l) {
#ifdef FUZZ_LUA_COVERAGE
    size_t len, i;
    const char *s = luaL_checklstring(l, 1, &len);
    uint32_t h = 2166136261u ^ 0x9e3779b9u; /* not a line's hash */
    for (i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    lua_counters[h & (LUA_COUNTERS - 1)]++;
#else
    luaL_checkstring(l, 1);
#endif
    return 0;
}

static int open_feedback(lua_State *l) {
    lua_newtable(l);
    lua_pushcfunction(l, l_feature);
    lua_setfield(l, -2, "feature");
    return 1;
}

static int count_fds(void) {
    int n = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return -1; /* not Linux: no check */
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* opendir's own descriptor */
}

static int traceback(lua_State *l) {
    const char *msg = lua_tostring(l, 1);
    luaL_traceback(l, l, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "lsock fuzz: %s: %s\n", what, msg ? msg : "?");
    fflush(stderr);
    abort();
}

static void close_state(void) {
    if (L != NULL) lua_close(L);
    L = NULL;
}

static const char *env_or(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *root = env_or("LSOCK_FUZZ_ROOT", FUZZ_ROOT);
    const char *target = env_or("LSOCK_FUZZ_TARGET", FUZZ_TARGET);
    char path[4096];
    (void)argc;
    (void)argv;

    if (!*target) die("setup", "no target (build with -DFUZZ_TARGET or set LSOCK_FUZZ_TARGET)");
    L = luaL_newstate();
    if (L == NULL) die("setup", "luaL_newstate failed");
    luaL_openlibs(L);
    lua_pushcfunction(L, traceback);

    /* lsock.core from the static library; `require "lsock"` finds it. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_lsock_core);
    lua_setfield(L, -2, "lsock.core");
    lua_pushcfunction(L, open_feedback);
    lua_setfield(L, -2, "fuzz.feedback");
    lua_pop(L, 1);
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/fuzz/targets/?.lua", root, root, root);
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath"); /* never a core.so built for another Lua */
    lua_pop(L, 1);

    snprintf(path, sizeof path, "%s/fuzz/targets/%s.lua", root, target);
    if (luaL_loadfile(L, path) != LUA_OK) die("load", lua_tostring(L, -1));
    if (lua_pcall(L, 0, 1, 1) != LUA_OK) die("load", lua_tostring(L, -1));
    if (!lua_isfunction(L, -1)) die("load", "the target script must return a function");
    target_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1); /* traceback */

#ifdef FUZZ_LUA_COVERAGE
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
#endif
    /* Closing the state at exit runs every finalizer, so LeakSanitizer
     * sees what lsock failed to free rather than what Lua still held. */
    atexit(close_state);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int top = lua_gettop(L);
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, target_ref);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, top + 1) != LUA_OK) die("finding", lua_tostring(L, -1));
    lua_settop(L, top);

    runs++;
    lua_gc(L, LUA_GCSTEP, 0);
    if (runs % COLLECT_EVERY == 0) lua_gc(L, LUA_GCCOLLECT, 0);
    /* Counted after every input, so that a leak is pinned on the input
     * that made it; a descriptor only the collector would close (an
     * object dropped on an error path) is not one, so a count above the
     * baseline is taken again after a full collection. */
    if (fd_baseline < 0) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        fd_baseline = count_fds();
        if (fd_baseline < 0) fd_baseline = 1 << 30; /* no /proc: no check */
    } else if (count_fds() > fd_baseline) {
        int n;
        lua_gc(L, LUA_GCCOLLECT, 0);
        n = count_fds();
        if (n > fd_baseline) {
            char msg[128];
            snprintf(msg, sizeof msg, "%d descriptors open after input %lu, %d after the first",
                     n, runs, fd_baseline);
            die("descriptor leak", msg);
        }
    }
    return 0;
}
