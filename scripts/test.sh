#!/bin/sh
# The whole test run behind `make test`: build and run the busted suite on
# every supported Lua, again on Lua 5.4 under AddressSanitizer and
# UndefinedBehaviorSanitizer, check the rockspec installs offline, lint the
# Lua, check for leaks with valgrind, then print one summary line
# "N passed, M failed".
set -u
cd "$(dirname "$0")/.."

VERSIONS=${LSOCK_TEST_VERSIONS:-"lua5.1 lua5.2 lua5.3 lua5.4 luajit"}
LOG=build/test-logs
mkdir -p "$LOG"
passed=0
failed=0
skipped=0

pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1"; }

# run_specs NAME LUA CPATH_DIR [env...]: one busted run into $LOG/NAME.tap
# (its exit status into $LOG/NAME.rc); report_specs NAME counts it. The
# two are apart so that a run can go on in the background meanwhile.
run_specs() {
    name=$1 lua=$2 dir=$3
    shift 3
    specs=""
    for kv in "$@"; do
        case $kv in LSOCK_SPECS=*) specs=${kv#LSOCK_SPECS=} ;; esac
    done
    # shellcheck disable=SC2086
    env "$@" LSOCK_LUA="$lua" LUA_CPATH="$dir/?.so;;" \
        "$lua" /usr/bin/busted -o TAP $specs >"$LOG/$name.tap" 2>&1
    echo $? >"$LOG/$name.rc"
}

# run_busted NAME LUA CPATH_DIR [env...]: one busted run, TAP counted.
run_busted() {
    echo "== specs on $1"
    run_specs "$@"
    report_specs "$1"
}

report_specs() {
    name=$1
    rc=$(cat "$LOG/$name.rc")
    # Show each failure with its diagnostics, nothing for passing specs.
    awk '/^not ok/ { show = 1; print; next }
         /^ok / || /^# [^ ]+_spec\.lua @ [0-9]+: / { show = 0 }
         show' "$LOG/$name.tap" | head -n 200
    ok=$(grep -cE '^ok [0-9]+ - ' "$LOG/$name.tap")
    skip=$(grep -cE '^ok [0-9]+ - # SKIP' "$LOG/$name.tap")
    bad=$(grep -cE '^not ok' "$LOG/$name.tap")
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + bad))
    echo "   $name: $((ok - skip)) passed, $bad failed, $skip skipped"
    # Every skip says why; group them by reason.
    grep -E '^ok [0-9]+ - # SKIP' "$LOG/$name.tap" |
        sed -E 's/^ok [0-9]+ - # SKIP //; s/^.*\((skipped: [^)]*)\)$/\1/' |
        sort | uniq -c | sed -E 's/^ *([0-9]+) (skipped: )?/   skipped \1: /'

    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        fail "$name: busted exited $rc without a failing spec (see $LOG/$name.tap)"
        tail -n 20 "$LOG/$name.tap"
    fi
}

# The fault and resource specs at the size the project promises (1 GiB
# through TCP, unix and TLS checked by digests, 100,000 create/close
# cycles of every object: LSOCK_FULL=1) run once, on Lua 5.4, in a busted
# run of their own that goes on in the background while the next Lua's
# suite runs (the suites are mostly waiting). The suites run them smaller
# (64 MiB, 10,000: their `it` names say which).
full_job=
for v in $VERSIONS; do
    if make --no-print-directory -s LUA="$v" all >"$LOG/build-$v.log" 2>&1; then
        pass "build for $v (-Wall -Wextra -Werror)"
        if [ "$v" = lua5.4 ]; then
            run_specs lua5.4-full lua5.4 build/lua5.4 LSOCK_FULL=1 \
                LSOCK_SPECS="spec/fault_spec.lua spec/resources_spec.lua" &
            full_job=$!
        fi
        run_busted "$v" "$v" "build/$v"
    else
        fail "build for $v"
        cat "$LOG/build-$v.log"
    fi
done

# LeakSanitizer cannot run on every machine (not under ptrace-based
# sandboxes), so leaks and invalid accesses are checked with valgrind
# memcheck: every definite or indirect leak and every invalid access fails.
# No suppression is needed: OpenSSL's and the interpreters' allocations
# that live until exit are "still reachable", which is not counted.
#
# The whole suite under valgrind would take longer than the rest of make
# test together, so it runs the set in scripts/valgrind_set.sh: the specs
# and examples that between them reach every C function the whole suite
# reaches (scripts/coverage.sh compares the two with gcov and names any
# function the set misses), on Lua 5.4, and the FFI path on LuaJIT.
# Processes the specs start (peers, children under a descriptor limit)
# run natively: what only they reach is run here directly.
#
# It runs in the background, beside the runs that follow (they are mostly
# waiting, valgrind is not), and is counted after the fuzz replay.
valgrind_set() {
    . scripts/valgrind_set.sh
    VALGRIND="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9"
    vg_ok=1
    : >"$LOG/valgrind.log"
    vg_run() {
        echo "== valgrind: $*" >>"$LOG/valgrind.log"
        "$@" >>"$LOG/valgrind.log" 2>&1 || { vg_ok=0; echo "== FAILED: $*" >>"$LOG/valgrind.log"; }
    }
    for ex in $VG_EXAMPLES; do
        vg_run env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
            $VALGRIND lua5.4 "$ex"
    done
    # shellcheck disable=SC2086
    vg_run env LSOCK_LUA=lua5.4 LUA_CPATH='build/lua5.4/?.so;;' LSOCK_CYCLES=200 \
        $VALGRIND lua5.4 /usr/bin/busted -o TAP $VG_SPECS
    # shellcheck disable=SC2086
    vg_run env LSOCK_LUA=lua5.4 LUA_CPATH='build/lua5.4/?.so;;' \
        $VALGRIND lua5.4 /usr/bin/busted -o TAP $VG_FAULT_FILTERS spec/fault_spec.lua
    for mode in drop hold; do
        vg_run sh -c "ulimit -n 64 && LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' \
            LUA_CPATH='build/lua5.4/?.so;;' $VALGRIND lua5.4 spec/helpers/exhaust.lua $mode"
    done
    # shellcheck disable=SC2086
    vg_run env LSOCK_LUA=luajit LUA_CPATH='build/luajit/?.so;;' \
        $VALGRIND luajit /usr/bin/busted -o TAP $VG_FFI_SPECS
    echo "$vg_ok" >"$LOG/valgrind.ok"
}
valgrind_set &
vg_job=$!

if [ -n "$full_job" ]; then
    wait "$full_job"
    echo "== full-size fault and resource specs on lua5.4 (LSOCK_FULL=1)"
    report_specs lua5.4-full
fi

# LuaJIT's hot stream methods go through the FFI (lua/lsock/ffi.lua) by
# default, as the run above had them; the whole suite again with that
# path forced off, so both give the same results.
case " $VERSIONS " in *" luajit "*)
    run_busted luajit-noffi luajit build/luajit LSOCK_FFI=0 ;;
esac

# The same suite on Lua 5.4 against a sanitized build. The sanitizer
# runtimes must be first in the process, hence LD_PRELOAD.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
if make --no-print-directory -s LUA=lua5.4 OUT=build/lua5.4-asan CC=gcc \
        CFLAGS="-O1 -g $SAN" LDFLAGS="$SAN" all >"$LOG/build-asan.log" 2>&1; then
    pass "sanitized build"
    preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
    run_busted lua5.4-asan lua5.4 build/lua5.4-asan \
        LD_PRELOAD="$preload" \
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=86" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$LOG/lua5.4-asan.tap"; then
        fail "sanitizer report (see $LOG/lua5.4-asan.tap)"
        grep -E -A30 'ERROR: AddressSanitizer|runtime error:' "$LOG/lua5.4-asan.tap" | head -n 60
    else
        pass "no sanitizer report"
    fi
else
    fail "sanitized build"
    cat "$LOG/build-asan.log"
fi

# Where sendmmsg/recvmmsg are missing, batches are a loop of single
# calls: build that variant here and run the datagram specs against it.
if make --no-print-directory -s LUA=lua5.4 OUT=build/lua5.4-nommsg \
        CFLAGS="-O2 -g -DLSOCK_NO_MMSG" all >"$LOG/build-nommsg.log" 2>&1; then
    pass "build without sendmmsg/recvmmsg"
    run_busted lua5.4-nommsg lua5.4 build/lua5.4-nommsg \
        LSOCK_SPECS="spec/dgram_spec.lua spec/ancillary_spec.lua"
else
    fail "build without sendmmsg/recvmmsg"
    cat "$LOG/build-nommsg.log"
fi

# Every input of the fuzz corpus (fuzz/corpus/: seeds and every finding
# fuzzing made) once through its fuzz target, built with gcc under
# AddressSanitizer and UndefinedBehaviorSanitizer (no clang needed; `make
# fuzz` fuzzes with clang's libFuzzer).
if sh fuzz/replay.sh >"$LOG/fuzz-replay.log" 2>&1; then
    pass "fuzz corpus replayed, no finding: $(grep -E '^[a-z_]+: [0-9]+ inputs' "$LOG/fuzz-replay.log" | tr '\n' ' ')"
else
    fail "fuzz corpus replay (see $LOG/fuzz-replay.log)"
    tail -n 30 "$LOG/fuzz-replay.log"
fi

# The valgrind run (started in the background above) ends here.
wait "$vg_job"
. scripts/valgrind_set.sh
if [ "$(cat "$LOG/valgrind.ok")" = 1 ]; then
    pass "valgrind: no leak, no invalid access (scripts/valgrind_set.sh: $(echo $VG_SPECS spec/fault_spec.lua | wc -w) spec files and $(echo $VG_EXAMPLES | wc -w) examples on lua5.4, descriptor exhaustion, the FFI path on luajit)"
else
    fail "valgrind (see $LOG/valgrind.log)"
    grep -E -A20 '==[0-9]+==|^not ok|^== FAILED' "$LOG/valgrind.log" | head -n 60
fi

# The soak (scripts/soak.lua; `make soak` runs it for 60 s): the loop echo
# server under 2,000 clients that behave well and badly, shortened to
# 10 s. Every byte of the well-behaved ones is checked; descriptors, Lua
# memory and RSS must be flat at the end. Its seed is printed: --seed
# replays a failure.
if lua5.4 scripts/soak.lua --seconds 10 --clients 2000 --lua lua5.4 --cpath build/lua5.4 \
        >"$LOG/soak.log" 2>&1; then
    pass "$(tail -n 1 "$LOG/soak.log")"
else
    fail "soak (see $LOG/soak.log)"
    tail -n 30 "$LOG/soak.log"
fi

# A C host embeds Lua, links lsock.core in from liblsock.a, hands a script
# a listening socket of its own and runs the loop from its own poll loop,
# with eight clients of its own checking every byte they get back. Once
# more under valgrind on Lua 5.4 (the host, the static module and the
# loop, from lua_close back to the host's own descriptors).
for v in lua5.1 lua5.4 luajit; do
    if make --no-print-directory -s LUA="$v" embed >"$LOG/embed-$v.log" 2>&1 &&
        "build/$v/embed-host" examples/embed/script.lua lua >>"$LOG/embed-$v.log" 2>&1; then
        pass "embedding host (examples/embed) on $v: $(tail -n 1 "$LOG/embed-$v.log")"
    else
        fail "embedding host (examples/embed) on $v"
        cat "$LOG/embed-$v.log"
    fi
done
if make --no-print-directory -s LUA=lua5.4 embed >/dev/null 2>&1 &&
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
        build/lua5.4/embed-host examples/embed/script.lua lua >"$LOG/embed-valgrind.log" 2>&1; then
    pass "embedding host under valgrind on lua5.4: no leak, no invalid access"
else
    fail "embedding host under valgrind on lua5.4 (see $LOG/embed-valgrind.log)"
    head -n 60 "$LOG/embed-valgrind.log"
fi

# The rock: `luarocks make` from this checkout into a throwaway tree for
# every Lua found, then scripts/rock_smoke.lua against that tree alone
# (LUA_PATH and LUA_CPATH name nothing else).
#
# LuaJIT: Debian's luarocks has no LuaJIT configuration; its 5.1 one
# finds lua5.1 and /usr/include/lua5.1. LuaJIT loads 5.1 modules from the
# same directories, so the rock is made as for 5.1 but against LuaJIT's
# own headers, the ones `make LUA=luajit` uses (LUA_INCDIR; they differ:
# LuaJIT's lauxlib.h has the 5.2 names that compat.h otherwise defines),
# with LUA naming luajit (for anything of the rock that would run Lua;
# nothing does today), and the smoke test runs under luajit. A module
# built against the 5.1 headers would load in LuaJIT too (the ABI is 5.1's)
# but is not what LuaJIT users build. The build log's -I is checked. The
# extra luarocks arguments are "$@", set per Lua.
jit_inc=$(pkg-config --cflags-only-I luajit 2>/dev/null | sed 's/^ *-I//; s/ .*//')
: "${jit_inc:=/usr/include/luajit-2.1}"
for v in lua5.1 lua5.2 lua5.3 lua5.4 luajit; do
    command -v "$v" >/dev/null 2>&1 || continue
    case $v in
    luajit) lv=5.1; set -- LUA_INCDIR="$jit_inc" LUA="$(command -v luajit)" ;;
    *) lv=${v#lua}; set -- ;;
    esac
    tree=$(mktemp -d)
    if luarocks --lua-version="$lv" --tree="$tree" make rockspec/lsock-scm-1.rockspec "$@" \
            >"$LOG/rock-$v.log" 2>&1 &&
        { [ "$v" != luajit ] || grep -q -e "-I$jit_inc " "$LOG/rock-$v.log"; } &&
        LUA_PATH="$tree/share/lua/$lv/?.lua;$tree/share/lua/$lv/?/init.lua" \
        LUA_CPATH="$tree/lib/lua/$lv/?.so" \
        "$v" scripts/rock_smoke.lua "$tree" >>"$LOG/rock-$v.log" 2>&1 &&
        # LuaRocks compiles without -fvisibility=hidden; the headers hide
        # what is internal anyway, so only lsock.h's functions are exported.
        exports=$(nm -D --defined-only "$tree/lib/lua/$lv/lsock/core.so" |
            awk '$2 ~ /^[TDB]$/ { print $3 }' | sort | tr '\n' ' ') &&
        echo "exports: $exports" >>"$LOG/rock-$v.log" &&
        [ "$exports" = "lsock_checkfd lsock_pushfd luaopen_lsock_core " ]; then
        pass "luarocks make installs, and the installed copy works, on $v (exports: $exports)"
    else
        fail "luarocks make + scripts/rock_smoke.lua on $v (see $LOG/rock-$v.log)"
        tail -n 20 "$LOG/rock-$v.log"
    fi
    rm -rf "$tree"
done
set --
# luarocks make leaves its objects in the source tree: csrc/*.o beside
# each source and lsock/core.so (build.modules' name) in the top directory.
rm -f csrc/*.o lsock/core.so 2>/dev/null; rmdir lsock 2>/dev/null

if luacheck -q --no-color lua spec examples bench types scripts fuzz >"$LOG/luacheck.log" 2>&1; then
    pass "luacheck"
else
    fail "luacheck"
    cat "$LOG/luacheck.log"
fi

echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
