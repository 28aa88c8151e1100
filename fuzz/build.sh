#!/bin/sh
# fuzz/build.sh: the libFuzzer binaries, build/fuzz/bin/<target>, with
# AddressSanitizer and UndefinedBehaviorSanitizer (clang).
#
#   sh fuzz/build.sh [target...]     (default: every target)
#
# lsock's objects are compiled with clang and the project's own warning
# flags (-Werror) into build/fuzz/lsock/liblsock.a; the Lua targets link
# fuzz/harness.c (with Lua line coverage), cmsg links fuzz/cmsg.c. The TLS
# target's certificate and key are made here with the openssl command, once,
# into build/fuzz/tls/ (fuzz/run.sh passes their paths in the environment).
# FUZZ_CC (default clang) and FUZZ_EXTRA_CFLAGS (added to every compile)
# may be set.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. fuzz/targets.sh

CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined"
CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined ${FUZZ_EXTRA_CFLAGS:-}"
OUT=build/fuzz
LUA_CF=$(pkg-config --cflags lua5.4)
LUA_LIBS=$(pkg-config --libs lua5.4)
SSL_LIBS=$(pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)

command -v "$CC" >/dev/null || { echo "fuzz/build.sh: $CC not found (libFuzzer needs clang)" >&2; exit 2; }

# The library. A warning is an error in the project's flags: when clang
# finds one, say so and build anyway with -Wno-error, so that fuzzing is not
# held up (the warning is for the C code's owner to fix).
if ! make -s LUA=lua5.4 OUT=$OUT/lsock CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$SAN" all \
        >$OUT.warnings 2>&1; then
    cat $OUT.warnings >&2
    echo "fuzz/build.sh: csrc/ is not clang -Werror clean (above); building with -Wno-error" >&2
    make -s LUA=lua5.4 OUT=$OUT/lsock CC="$CC" CFLAGS="$CFLAGS -Wno-error" LDFLAGS="$SAN" all
fi
rm -f $OUT.warnings

mkdir -p $OUT/bin
for t in $(fuzz_targets "$@"); do
    if [ "$t" = cmsg ]; then
        src=fuzz/cmsg.c
        defs=
    else
        src="fuzz/harness.c"
        defs="-DFUZZ_TARGET=\"$t\" -DFUZZ_ROOT=\"$ROOT\" -DFUZZ_LUA_COVERAGE"
    fi
    # Relinked only when a source or the library changed.
    bin=$OUT/bin/$t
    if [ -f "$bin" ] && [ -z "$(find $src csrc/lsock.h csrc/internal.h $OUT/lsock/liblsock.a -newer "$bin" 2>/dev/null)" ]; then
        continue
    fi
    # shellcheck disable=SC2086
    $CC -std=c99 -Wall -Wextra -Werror -O1 -g -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined $defs -Icsrc $LUA_CF \
        -o "$bin" $src $OUT/lsock/liblsock.a $LUA_LIBS $SSL_LIBS -lm -pthread
done

fuzz_tls_cert $OUT/tls
