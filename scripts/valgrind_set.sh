# The specs and examples make test runs under valgrind (sourced by
# scripts/test.sh and scripts/coverage.sh). Together they reach every C
# function of lsock.core that the whole suite reaches; scripts/coverage.sh
# checks that with gcov.
#
# The examples: the tour of every kind of socket, UDP echo, descriptor
# passing and TLS echo.
VG_EXAMPLES="examples/tour.lua examples/udp_echo.lua examples/pass_fd.lua examples/tls_echo.lua"
# Whole spec files on Lua 5.4: creation, errors and closing (socket,
# options, addr), the stream engine and its reader (stream, kwait,
# sendfile), unix sockets, datagrams and batches (dgram), descriptor
# passing (ancillary), raw and packet sockets (raw), both poller
# backends, select, the resolver's threads (resolve), the loop and its
# scheduler (loop, sched), TLS (tls, tls_interop), hostile input,
# resources (cycles cut to LSOCK_CYCLES), signals in this process, and
# what fuzzing found.
VG_SPECS="spec/socket_spec.lua spec/options_spec.lua spec/addr_spec.lua spec/stream_spec.lua
spec/kwait_spec.lua spec/sendfile_spec.lua spec/unix_spec.lua spec/dgram_spec.lua
spec/ancillary_spec.lua spec/raw_spec.lua spec/poller_spec.lua spec/select_spec.lua
spec/resolve_spec.lua spec/loop_spec.lua spec/sched_spec.lua spec/tls_spec.lua
spec/tls_interop_spec.lua spec/hostile_spec.lua spec/resources_spec.lua spec/fuzz_regress_spec.lua
spec/signal_spec.lua"
# spec/fault_spec.lua, less the cases whose peer must still be stalling
# when this process has filled its buffers, and those that count a
# loop's ticks during a TLS wait: under valgrind this process is too slow
# for their timing (they run natively on every Lua).
VG_FAULT_FILTERS="--filter-out=does.not.read.yet --filter-out=resets.the.connection.tls.*inside"
# The FFI path on LuaJIT (lua/lsock/ffi.lua over csrc/ffi.c).
VG_FFI_SPECS="spec/ffi_spec.lua spec/stream_spec.lua spec/dgram_spec.lua"
