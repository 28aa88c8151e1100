#!/bin/sh
# fuzz/replay.sh: for `make test`. Every fuzz target, built with gcc (no
# libFuzzer, no clang needed) under AddressSanitizer and
# UndefinedBehaviorSanitizer, runs once over each input of its corpus
# fuzz/corpus/<target>/ (fuzz/replay.c provides main()). Prints
# "<target>: N inputs" per target; exits 1 when any target fails.
#
#   sh fuzz/replay.sh [target...]
#
# Its own sanitized lsock goes to build/fuzz-replay/lsock/; FUZZ_REPLAY_CC
# (default gcc) may name another compiler.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. fuzz/targets.sh

CC=${FUZZ_REPLAY_CC:-gcc}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-O1 -g $SAN -fno-omit-frame-pointer"
OUT=build/fuzz-replay
LUA_CF=$(pkg-config --cflags lua5.4)
LUA_LIBS=$(pkg-config --libs lua5.4)
SSL_LIBS=$(pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
TARGETS=$(fuzz_targets "$@")
start=$(date +%s)

make -s LUA=lua5.4 OUT=$OUT/lsock CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$SAN" all
mkdir -p $OUT/bin
for t in $TARGETS; do
    if [ "$t" = cmsg ]; then
        src=fuzz/cmsg.c
        defs="-DFUZZ_TARGET=\"cmsg\""
    else
        src=fuzz/harness.c
        defs="-DFUZZ_TARGET=\"$t\" -DFUZZ_ROOT=\"$ROOT\""
    fi
    bin=$OUT/bin/$t
    if [ -f "$bin" ] && [ -z "$(find $src fuzz/replay.c csrc/lsock.h csrc/internal.h $OUT/lsock/liblsock.a -newer "$bin" 2>/dev/null)" ]; then
        continue
    fi
    # shellcheck disable=SC2086
    $CC -std=c99 -Wall -Wextra -Werror $CFLAGS $defs -Icsrc $LUA_CF -o "$bin" \
        $src fuzz/replay.c $OUT/lsock/liblsock.a $LUA_LIBS $SSL_LIBS -lm -pthread
done
# Without the openssl command there is no certificate: tls_server is skipped.
HAVE_CERT=1
fuzz_tls_cert $OUT/tls || HAVE_CERT=

status=0
for t in $TARGETS; do
    if [ $t = tls_server ] && [ -z "$HAVE_CERT" ]; then
        echo "$t: skipped (no TLS certificate: the openssl command failed)"
        continue
    fi
    if [ ! -d fuzz/corpus/$t ]; then
        echo "$t: no corpus (fuzz/corpus/$t)"
        status=1
        continue
    fi
    LSOCK_FUZZ_CERT=$ROOT/$OUT/tls/cert.pem LSOCK_FUZZ_KEY=$ROOT/$OUT/tls/key.pem \
        LSOCK_FUZZ_NETNS= \
        "$OUT/bin/$t" fuzz/corpus/$t || { echo "$t: FAILED" >&2; status=1; }
done
echo "fuzz replay: $(($(date +%s) - start)) s"
exit $status
