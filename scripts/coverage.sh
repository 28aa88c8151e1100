#!/bin/sh
# Which C functions of lsock.core the valgrind set of make test
# (scripts/valgrind_set.sh) reaches, against the whole suite: both run on
# gcov builds (build/gcov-lua5.4, build/gcov-luajit), and every function
# the suite reaches that the set does not is printed. Exits 1 when there
# is one. A few minutes; not part of make test.
#
#   sh scripts/coverage.sh
set -u
cd "$(dirname "$0")/.."
. scripts/valgrind_set.sh
LOG=build/coverage
mkdir -p "$LOG"

build() { # build the gcov module for $1 into build/gcov-$1
    make --no-print-directory -s LUA="$1" OUT="build/gcov-$1" CFLAGS="-O0 -g --coverage" \
        LDFLAGS="--coverage" all >"$LOG/build-$1.log" 2>&1 || { cat "$LOG/build-$1.log"; exit 2; }
}

# The functions with executed lines in the .gcda files of the builds given.
covered() {
    for dir in "$@"; do
        (cd "$dir/obj" && for f in *.gcda; do gcov -f -n "$f" 2>/dev/null; done)
    done | awk '/^Function/ { fn = $2; gsub("\047", "", fn) }
        /^Lines executed:/ && fn { if ($0 !~ /:0.00%/) print fn; fn = "" }' | sort -u
}

reset() { rm -f build/gcov-lua5.4/obj/*.gcda build/gcov-luajit/obj/*.gcda; }

busted_on() { # busted_on LUA ARGS...: specs against the gcov build of LUA
    lua=$1
    shift
    env LSOCK_LUA="$lua" LUA_CPATH="build/gcov-$lua/?.so;;" "$lua" /usr/bin/busted -o TAP "$@" \
        >>"$LOG/run.log" 2>&1
}

build lua5.4
build luajit
: >"$LOG/run.log"

reset
for ex in $VG_EXAMPLES; do
    env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/gcov-lua5.4/?.so;;' \
        lua5.4 "$ex" >>"$LOG/run.log" 2>&1
done
# shellcheck disable=SC2086
LSOCK_CYCLES=200 busted_on lua5.4 $VG_SPECS
# shellcheck disable=SC2086
busted_on lua5.4 $VG_FAULT_FILTERS spec/fault_spec.lua
for mode in drop hold; do
    sh -c "ulimit -n 64 && LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' \
        LUA_CPATH='build/gcov-lua5.4/?.so;;' lua5.4 spec/helpers/exhaust.lua $mode" >>"$LOG/run.log" 2>&1
done
# shellcheck disable=SC2086
busted_on luajit $VG_FFI_SPECS
covered build/gcov-lua5.4 build/gcov-luajit >"$LOG/set.txt"

reset
busted_on lua5.4 spec
busted_on luajit spec
covered build/gcov-lua5.4 build/gcov-luajit >"$LOG/suite.txt"

missed=$(comm -13 "$LOG/set.txt" "$LOG/suite.txt")
echo "the suite reaches $(wc -l <"$LOG/suite.txt") C functions; the valgrind set $(wc -l <"$LOG/set.txt")"
if [ -n "$missed" ]; then
    echo "missed by the valgrind set:" $missed
    exit 1
fi
echo "the valgrind set misses none"
