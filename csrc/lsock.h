/*
 * lsock.h: the C API for programs that embed Lua and lsock.
 *
 * A host links lsock.core (statically or as the loadable module), makes
 * it requirable, e.g. with
 *     luaL_requiref(L, "lsock.core", luaopen_lsock_core, 0);
 * and can then hand its own descriptors to scripts.
 */
#ifndef LSOCK_H
#define LSOCK_H

#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The module is built with hidden visibility; these are its exports. */
#if defined(__GNUC__)
#define LSOCK_API __attribute__((visibility("default")))
#else
#define LSOCK_API
#endif

/* The module loader: pushes the lsock.core table. */
LSOCK_API int luaopen_lsock_core(lua_State *L);

/* Push a socket object that owns fd from then on (it is made non-blocking
 * and close-on-exec, and closed with the object). family and type are the
 * names Lua uses: "inet", "inet6", "unix"; "stream", "dgram", ...
 * Returns 0, or a negative errno with nothing pushed. Raises a Lua error
 * for an unknown family or type name. The lsock.core module must have
 * been loaded (required) in L first. */
LSOCK_API int lsock_pushfd(lua_State *L, int fd, const char *family, const char *type);

/* The descriptor of the socket at idx; raises a Lua error when the value
 * is not an open lsock socket. */
LSOCK_API int lsock_checkfd(lua_State *L, int idx);

#ifdef __cplusplus
}
#endif

#endif
