rockspec_format = "3.0"
package = "lsock"
version = "scm-1"
source = {
   url = "git+https://example.invalid/lsock.git",
}
description = {
   summary = "Sockets for Lua: TCP, UDP, Unix, raw, TLS and pollers, with safe defaults",
   detailed = [[
lsock is a socket library for Lua written in C: stream, datagram, raw and
Unix sockets, TLS over OpenSSL, and pollers, with a small pure-Lua layer
for connecting by name, a coroutine scheduler and LuaSocket compatibility.
]],
   license = "MIT",
   labels = { "network", "socket", "tls" },
}
dependencies = {
   "lua >= 5.1",
}
external_dependencies = {
   OPENSSL = { header = "openssl/ssl.h" },
}
build = {
   type = "builtin",
   modules = {
      ["lsock.core"] = {
         sources = {
            "csrc/addr.c", "csrc/ancillary.c", "csrc/buffer.c", "csrc/core.c",
            "csrc/dgram.c", "csrc/errors.c", "csrc/ffi.c", "csrc/poll_epoll.c", "csrc/poll_kqueue.c",
            "csrc/poll_poll.c", "csrc/poller.c", "csrc/pollset.c", "csrc/resolve.c",
            "csrc/sched.c", "csrc/select.c", "csrc/sendfile.c", "csrc/options.c", "csrc/socket.c",
            "csrc/stream.c", "csrc/sys.c", "csrc/timeout.c", "csrc/tls_cert.c",
            "csrc/tls_context.c", "csrc/tls_stream.c",
         },
         incdirs = { "$(OPENSSL_INCDIR)" },
         libdirs = { "$(OPENSSL_LIBDIR)" },
         libraries = { "ssl", "crypto", "pthread" },
      },
      ["lsock"] = "lua/lsock/init.lua",
      ["lsock.icmp"] = "lua/lsock/icmp.lua",
      ["lsock.loop"] = "lua/lsock/loop.lua",
      ["lsock.tls"] = "lua/lsock/tls.lua",
      ["lsock.ffi"] = "lua/lsock/ffi.lua",
      ["lsock.compat"] = "lua/lsock/compat.lua",
      ["lsock.compat.ssl"] = "lua/lsock/compat/ssl.lua",
      ["lsock.compat.https"] = "lua/lsock/compat/https.lua",
      ["lsock.compat.mime"] = "lua/lsock/compat/mime.lua",
   },
}
-- `luarocks test`: busted over spec/ with the checkout's .busted; LuaRocks
-- installs busted itself as a test dependency when no tree has it.
test = {
   type = "busted",
}
