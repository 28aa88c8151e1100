/*
 * errors.c: how failures reach Lua. One helper builds the canonical
 * `nil, message, errno` triple; the errno table maps names to numbers;
 * name arguments ("inet", "stream", ...) are checked with messages that
 * say what kind of name was expected.
 */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void lsk_strerror(int err, char *buf, size_t len) {
    if (len == 0) return;
    if (strerror_r(err, buf, len) != 0) snprintf(buf, len, "error %d", err);
    lsk_lower_first(buf);
}

/* Bad arguments of the hot methods are reported as a method call names
 * them (self is not counted), whatever way the method was reached: a
 * call through a wrapper (lsock.loop's, LuaJIT's FFI path) or pcall
 * would otherwise read "bad argument #2 to '?'". */
int lsk_argerror(lua_State *L, int arg, const char *method, const char *msg) {
    return luaL_error(L, "bad argument #%d to '%s' (%s)", arg - 1, method, msg);
}

const char *lsk_checklstring(lua_State *L, int arg, const char *method, size_t *len) {
    int t = lua_type(L, arg);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        lsk_argerror(L, arg, method, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, arg)));
    return lua_tolstring(L, arg, len);
}

void lsk_checktable(lua_State *L, int arg, const char *method) {
    if (lua_type(L, arg) != LUA_TTABLE)
        lsk_argerror(L, arg, method, lua_pushfstring(L, "table expected, got %s", luaL_typename(L, arg)));
}

const char *lsk_optlstring(lua_State *L, int arg, const char *method, size_t *len) {
    if (lua_isnoneornil(L, arg)) {
        if (len != NULL) *len = 0;
        return "";
    }
    return lsk_checklstring(L, arg, method, len);
}

/* core._strerror(errno): the C library's own words, as written ("Transport
 * endpoint is not connected"), for faces that must repeat them. */
int lsk_l_strerror(lua_State *L) {
    char buf[256];
    lua_Integer err = luaL_checkinteger(L, 1);
    if (err < 0 || err > 0xffff || strerror_r((int)err, buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "error %ld", (long)err);
    lua_pushstring(L, buf);
    return 1;
}

void lsk_lower_first(char *msg) {
    /* "Connection refused" reads better inside a sentence. Keep the case
     * of words like "I/O" that are all capitals. */
    if (isupper((unsigned char)msg[0]) && !isupper((unsigned char)msg[1]))
        msg[0] = (char)tolower((unsigned char)msg[0]);
}

int lsk_is_reset(int err) {
    return err == ECONNRESET || err == EPIPE || err == ENOTCONN
#ifdef ESHUTDOWN
           || err == ESHUTDOWN
#endif
        ;
}

int lsk_fail(lua_State *L, int err, const char *what) {
    char msg[256];
    lsk_strerror(err, msg, sizeof msg);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what, msg);
    lua_pushinteger(L, err);
    return 3;
}

int lsk_find_name(const char *const names[], const char *name) {
    int i;
    for (i = 0; name != NULL && names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

int lsk_check_name(lua_State *L, int idx, const char *what,
                   const char *const names[], const char *def) {
    const char *name = def;
    int i;
    if (!lua_isnoneornil(L, idx) || def == NULL) {
        if (lua_type(L, idx) != LUA_TSTRING)
            return luaL_argerror(L, idx, lua_pushfstring(L, "%s name expected, got %s",
                                                         what, luaL_typename(L, idx)));
        name = lua_tostring(L, idx);
    }
    i = lsk_find_name(names, name);
    if (i < 0)
        return luaL_argerror(L, idx, lua_pushfstring(L, "unknown %s '%s'", what, name));
    return i;
}

int lsk_timeout_result(lua_State *L) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
}

int lsk_closed_result(lua_State *L) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
}

static const struct {
    const char *name;
    int value;
} errnames[] = {
#define E(n) {#n, n},
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG)
    E(ENOEXEC) E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT)
    E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL)
    E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS)
    E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE) E(EDEADLK) E(ENAMETOOLONG)
    E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(EWOULDBLOCK) E(ENOMSG)
    E(EIDRM) E(ENOSTR) E(ENODATA) E(ETIME) E(ENOSR) E(ENOLINK) E(EPROTO)
    E(EMULTIHOP) E(EBADMSG) E(EOVERFLOW) E(EILSEQ) E(ENOTSOCK)
    E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT)
    E(EPROTONOSUPPORT) E(EOPNOTSUPP) E(ENOTSUP) E(EAFNOSUPPORT)
    E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ENETRESET)
    E(ECONNABORTED) E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN)
    E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTUNREACH) E(EALREADY)
    E(EINPROGRESS) E(ESTALE) E(EDQUOT) E(ECANCELED) E(EOWNERDEAD)
    E(ENOTRECOVERABLE) E(ETXTBSY)
#ifdef ESOCKTNOSUPPORT
    E(ESOCKTNOSUPPORT)
#endif
#ifdef EPFNOSUPPORT
    E(EPFNOSUPPORT)
#endif
#ifdef ESHUTDOWN
    E(ESHUTDOWN)
#endif
#ifdef ETOOMANYREFS
    E(ETOOMANYREFS)
#endif
#ifdef EHOSTDOWN
    E(EHOSTDOWN)
#endif
#ifdef ENONET
    E(ENONET)
#endif
#ifdef ENOKEY
    E(ENOKEY)
#endif
#undef E
};

void lsk_push_errno_table(lua_State *L) {
    size_t i, n = sizeof errnames / sizeof errnames[0];
    lua_createtable(L, 0, (int)n);
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, errnames[i].value);
        lua_setfield(L, -2, errnames[i].name);
    }
}
