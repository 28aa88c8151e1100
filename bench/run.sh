#!/usr/bin/env bash
# bench/run.sh: the entry point of the lsock benchmarks (`make bench`).
#
#   bash bench/run.sh [WORKLOAD...]     (make bench [WORKLOADS="..."])
#
# Checks that Lua, LuaSocket and the lsock build are there, compiles the C
# baseline into bench/results/, then runs bench/run.lua, which runs every
# workload for every library (BENCH_RUNS rounds, interleaved) and prints
# one table of medians, also written to bench/results/latest.txt; every
# run's figures go to bench/results/<date>.tsv. Exits non-zero when
# something is missing, a run fails or a reader's check fails. See
# bench/README.md.
#
# The workloads to run are the arguments, or else $WORKLOADS (what
# `make bench WORKLOADS="lines bulk"` passes), or else $BENCH_WORKLOADS.
#
# Environment (all optional):
#   LUA           Lua interpreter (lua5.4)
#   LSOCK_CPATH   where lsock.core is, a package.cpath template
#                 (build/$LUA/?.so, that is build/lua5.4/lsock/core.so)
#   CC            C compiler for the baseline (cc)
#   BENCH_LIBS    libraries to run ("luasocket luasec lsock c"; extras:
#                 cqueues luv; luasec runs the TLS workloads only)
#   BENCH_WORKLOADS  workloads to run (all): lines bulk recv file_serve
#                 udp_rate udp_recv unix_bulk tcp_pingpong unix_pingpong
#                 tls_handshake tls_bulk poll_scale concurrent_echo
#                 idle_memory
#   BENCH_RUNS    runs (rounds) per library and workload, at least 3; the
#                 median counts (3)
#   BENCH_MIN_SECS        the least seconds of a run (2): each library's
#                 count is probed from the counts below so that its runs
#                 last that long (bench/run.lua); 0: the counts as given
#   BENCH_LINES   lines in the lines workload (2000000)
#   BENCH_MIB     MiB in the TCP bulk workloads (512)
#   BENCH_FILE_MIB        MiB of file_serve's file (8192; not probed)
#   BENCH_UDP_COUNT       datagrams in udp_rate (400000)
#   BENCH_UDP_RECV_COUNT  datagrams in udp_recv (1000000)
#   BENCH_UNIX_MIB        MiB in unix_bulk (4096)
#   BENCH_PINGPONG        round trips in tcp_pingpong, unix_pingpong (20000)
#   BENCH_POLL_N          poll_scale's idle connection counts (100 1000 5000 10000)
#   BENCH_ECHO_CLIENTS    concurrent_echo's clients (500)
#   BENCH_ECHO_ROUNDS     concurrent_echo's least round trips per client (200)
#   BENCH_ECHO_SECS       concurrent_echo's least seconds per run (2)
#   BENCH_MEM_CONNS       idle_memory's connections (5000)
#   BENCH_NOFILE  ulimit -n of the many-connection processes (20000, at most
#                 the hard limit)
#   BENCH_TLS_HANDSHAKES  handshakes in tls_handshake (500)
#   BENCH_TLS_MIB         MiB in tls_bulk (1024)
#   BENCH_LUAJIT  the LuaJIT that runs lsock's sides of every workload a
#                 second time (luajit; empty: not at all)
#   LSOCK_LUAJIT_CPATH    where its lsock.core is (build/luajit/?.so)
#   BENCH_STRICT  1: also fail when lsock is below a goal (judged on medians)
set -eu

caller_pwd=$PWD
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

die() {
    echo "bench/run.sh: $*" >&2
    exit 1
}

LUA=${LUA:-lua5.4}
CC=${CC:-cc}
BENCH_LIBS=${BENCH_LIBS:-luasocket luasec lsock c}
if [ $# -gt 0 ]; then
    BENCH_WORKLOADS="$*"
elif [ -n "${WORKLOADS:-}" ]; then
    BENCH_WORKLOADS=$WORKLOADS
fi
BENCH_WORKLOADS=${BENCH_WORKLOADS:-all}
results=$root/bench/results

has_lib() {
    case " $BENCH_LIBS " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}
for lib in $BENCH_LIBS; do
    case $lib in
    luasocket | luasec | lsock | c | cqueues | luv) ;;
    *) die "unknown library '$lib' in BENCH_LIBS (luasocket luasec lsock c cqueues luv)" ;;
    esac
done

# The TLS workloads (tls_handshake, tls_bulk) need LuaSec and luaossl (the
# contexts of cqueues' TLS), which scripts/deps.sh does not install: the
# bench installs them here when they are missing and selected, the same way
# (Debian's archive, as root or with sudo).
wants_tls=""
case " $BENCH_WORKLOADS " in
*" all "* | *" tls_handshake "* | *" tls_bulk "*) wants_tls=1 ;;
esac
if [ -n "$wants_tls" ]; then
    tls_packages="openssl libssl-dev"
    has_lib luasec && tls_packages="$tls_packages lua-sec lua-socket"
    has_lib cqueues && tls_packages="$tls_packages lua-luaossl"
    missing=""
    for p in $tls_packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
        echo "bench: installing for the TLS workloads:$missing" >&2
        SUDO=""
        [ "$(id -u)" = 0 ] || SUDO=sudo
        if [ -z "$SUDO" ] || command -v sudo >/dev/null 2>&1; then
            # shellcheck disable=SC2086
            { $SUDO apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
                    $missing >/dev/null; } ||
                echo "bench: installing$missing failed; the checks below say what is missing" >&2
        else
            echo "bench: run as root, or install these packages first:$missing" >&2
        fi
    fi
fi

command -v "$LUA" >/dev/null 2>&1 ||
    die "no Lua interpreter '$LUA' on PATH (set LUA, e.g. LUA=lua5.4)"
lua_version=$("$LUA" -e 'io.write(jit and jit.version or _VERSION)') ||
    die "'$LUA' does not run"

# LSOCK_CPATH: default under the build tree; entries given relative are
# relative to the directory run.sh was started from.
if [ -n "${LSOCK_CPATH:-}" ]; then
    cpath=""
    IFS=';' read -r -a entries <<<"$LSOCK_CPATH"
    for e in "${entries[@]}"; do
        [ -n "$e" ] || continue
        case $e in /*) ;; *) e=$caller_pwd/$e ;; esac
        cpath=${cpath:+$cpath;}$e
    done
    LSOCK_CPATH=$cpath
else
    LSOCK_CPATH="$root/build/$(basename "$LUA")/?.so"
fi
export LSOCK_CPATH

versions=""
if has_lib luasocket; then
    v=$("$LUA" -e 'io.write(require("socket")._VERSION)' 2>&1) ||
        die "LuaSocket is not installed for $LUA (require \"socket\" fails; Debian: apt-get install lua-socket):
$v"
    versions="$versions, $v"
fi
if has_lib lsock; then
    found=""
    IFS=';' read -r -a entries <<<"$LSOCK_CPATH"
    for e in "${entries[@]}"; do
        f=${e//\?/lsock/core}
        if [ -f "$f" ]; then
            found=$f
            break
        fi
    done
    [ -n "$found" ] ||
        die "the lsock build is missing: no lsock/core.so in LSOCK_CPATH=$LSOCK_CPATH
  build it first (make), point LSOCK_CPATH at it, or leave lsock out: BENCH_LIBS='luasocket c'"
    v=$("$LUA" -e 'package.cpath = os.getenv("LSOCK_CPATH") .. ";" .. package.cpath
        local core = require "lsock.core"
        io.write(core._VERSION or "lsock")' 2>&1) ||
        die "$found does not load with $LUA:
$v"
    versions="$versions, $v ($found)"
fi
if [ -n "$wants_tls" ] && has_lib luasec; then
    v=$("$LUA" -e 'require "socket"; io.write("LuaSec ", require("ssl")._VERSION)' 2>&1) ||
        die "LuaSec is not installed for $LUA (require \"ssl\" fails; Debian: apt-get install lua-sec), or leave luasec out of BENCH_LIBS:
$v"
    versions="$versions, $v"
fi
# lsock's TLS: lsock.core from LSOCK_CPATH and lua/lsock/tls.lua of this tree
lsock_tls_check='package.cpath = os.getenv("LSOCK_CPATH") .. ";" .. package.cpath
    package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
    require "lsock.tls"
    local core = require "lsock.core"
    assert(core.tls_context and core.tls_wrap, "lsock.core has no tls_context/tls_wrap (an older build?)")'
if [ -n "$wants_tls" ] && has_lib lsock; then
    v=$("$LUA" -e "$lsock_tls_check" 2>&1) ||
        die "this lsock build has no TLS (require \"lsock.tls\" fails with $LUA); leave tls_handshake and tls_bulk out of BENCH_WORKLOADS or lsock out of BENCH_LIBS:
$v"
fi
# ... and lsock's sides of every workload again on LuaJIT, when there is
# a build for it
wants_jit=1
lsock_jit_check='package.cpath = os.getenv("LSOCK_CPATH") .. ";" .. package.cpath
    require "lsock.core"'
[ -n "$wants_tls" ] && lsock_jit_check=$lsock_tls_check
BENCH_LUAJIT=${BENCH_LUAJIT-luajit}
if [ -n "$wants_jit" ] && has_lib lsock && [ -n "$BENCH_LUAJIT" ]; then
    LSOCK_LUAJIT_CPATH=${LSOCK_LUAJIT_CPATH:-$root/build/luajit/?.so}
    case $LSOCK_LUAJIT_CPATH in /*) ;; *) LSOCK_LUAJIT_CPATH=$caller_pwd/$LSOCK_LUAJIT_CPATH ;; esac
    if ! command -v "$BENCH_LUAJIT" >/dev/null 2>&1; then
        echo "bench: no '$BENCH_LUAJIT' on PATH: lsock (LuaJIT) is not run" >&2
        BENCH_LUAJIT=""
    elif ! v=$(LSOCK_CPATH=$LSOCK_LUAJIT_CPATH "$BENCH_LUAJIT" -e "$lsock_jit_check" 2>&1); then
        echo "bench: no lsock build${wants_tls:+ with TLS} for $BENCH_LUAJIT in LSOCK_LUAJIT_CPATH=$LSOCK_LUAJIT_CPATH (make LUA=luajit): lsock (LuaJIT) is not run
$v" >&2
        BENCH_LUAJIT=""
    else
        versions="$versions, lsock on $("$BENCH_LUAJIT" -e 'io.write(jit.version)') (${LSOCK_LUAJIT_CPATH//\?/lsock/core})"
    fi
else
    BENCH_LUAJIT=""
fi
LSOCK_LUAJIT_CPATH=${LSOCK_LUAJIT_CPATH:-}
if has_lib cqueues; then
    v=$("$LUA" -e 'require "cqueues.socket"; io.write("cqueues ", require("cqueues").VERSION)' 2>&1) ||
        die "cqueues is not installed for $LUA (Debian: lua-cqueues), or leave it out of BENCH_LIBS:
$v"
    versions="$versions, $v"
    if [ -n "$wants_tls" ]; then
        v=$("$LUA" -e 'require "openssl.ssl.context"; io.write("luaossl")' 2>&1) ||
            die "luaossl is not installed for $LUA (cqueues' TLS needs openssl.ssl.context; Debian: lua-luaossl), or leave cqueues out of BENCH_LIBS:
$v"
        versions="$versions, $v"
    fi
fi
if has_lib luv; then
    v=$("$LUA" -e 'io.write("luv ", require("luv").version_string())' 2>&1) ||
        die "luv is not installed for $LUA (Debian: lua-luv), or leave it out of BENCH_LIBS:
$v"
    versions="$versions, $v"
fi

mkdir -p "$results"
rm -f "$results/latest.txt"

# udp_recv feeds every library's receiver from the C baseline's sender, so
# it needs the baseline even when c is not in BENCH_LIBS.
needs_baseline=""
has_lib c && needs_baseline="the C baseline (c in BENCH_LIBS)"
case " $BENCH_WORKLOADS " in
*" all "* | *" udp_recv "* | *" udp_recvmany "*) needs_baseline=${needs_baseline:-"the C sender of udp_recv"} ;;
esac
# the many-connection workloads always need bench/scale.c: their peer (or
# load) is that C program for every library
needs_scale=""
case " $BENCH_WORKLOADS " in
*" all "* | *" poll_scale"* | *" concurrent_echo "* | *" idle_memory "*) needs_scale=1 ;;
esac
scale=$results/scale
if [ -n "$needs_scale" ]; then
    command -v "$CC" >/dev/null 2>&1 ||
        die "no C compiler '$CC' for bench/scale.c (the peer of poll_scale, concurrent_echo, idle_memory)"
    "$CC" -O2 -Wall -Wextra -Werror -o "$scale" bench/scale.c bench/baseline_util.c ||
        die "bench/scale.c does not compile ($CC -O2 -Wall -Wextra -Werror bench/scale.c bench/baseline_util.c)"
    # 10,000 idle connections are 10,000 descriptors in each process
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=1048576
    BENCH_NOFILE=${BENCH_NOFILE:-20000}
    [ "$BENCH_NOFILE" -le "$hard" ] || BENCH_NOFILE=$hard
    export BENCH_NOFILE
fi
baseline=$results/baseline
if [ -n "$needs_baseline" ]; then
    command -v "$CC" >/dev/null 2>&1 ||
        die "no C compiler '$CC' for $needs_baseline (set CC, or leave c out of BENCH_LIBS and udp_recv out of BENCH_WORKLOADS)"
    "$CC" -O2 -Wall -Wextra -Werror -o "$baseline" bench/baseline.c bench/baseline_udp.c bench/baseline_util.c ||
        die "the C baseline does not compile ($CC -O2 -Wall -Wextra -Werror bench/baseline.c bench/baseline_udp.c bench/baseline_util.c)"
    has_lib c && versions="$versions, C baseline ($CC -O2)"
fi

# The TLS workloads: fresh certificates for every run of the bench (an
# ECDSA P-256 CA and a P-256 server certificate for localhost and
# 127.0.0.1 that it signed), and the C baseline with OpenSSL.
tls_dir=$results/tls
baseline_tls=$results/baseline_tls
if [ -n "$wants_tls" ]; then
    command -v openssl >/dev/null 2>&1 ||
        die "no openssl command for the TLS certificates (Debian: openssl), or leave tls_handshake and tls_bulk out of BENCH_WORKLOADS"
    rm -rf "$tls_dir"
    mkdir -p "$tls_dir"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$tls_dir/server.ext"
    {
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tls_dir/ca.key" &&
            openssl req -x509 -new -key "$tls_dir/ca.key" -sha256 -days 30 \
                -subj "/O=lsock bench/CN=lsock bench CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -out "$tls_dir/ca.pem" &&
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tls_dir/server.key" &&
            openssl req -new -key "$tls_dir/server.key" -subj "/O=lsock bench/CN=localhost" -out "$tls_dir/server.csr" &&
            openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca.key" \
                -set_serial 2 -days 30 -sha256 -extfile "$tls_dir/server.ext" -out "$tls_dir/server.pem" &&
            openssl verify -CAfile "$tls_dir/ca.pem" -verify_hostname localhost "$tls_dir/server.pem"
    } >"$tls_dir/openssl.log" 2>&1 || die "making the TLS certificates failed:
$(cat "$tls_dir/openssl.log")"
    if has_lib c; then
        command -v "$CC" >/dev/null 2>&1 ||
            die "no C compiler '$CC' for the TLS baseline (set CC, or leave c out of BENCH_LIBS)"
        ssl_flags=$(pkg-config --cflags --libs openssl 2>/dev/null || echo "-lssl -lcrypto")
        # shellcheck disable=SC2086
        "$CC" -O2 -Wall -Wextra -Werror -o "$baseline_tls" bench/baseline_tls.c bench/baseline_util.c $ssl_flags ||
            die "bench/baseline_tls.c does not compile ($CC -O2 -Wall -Wextra -Werror bench/baseline_tls.c bench/baseline_util.c $ssl_flags; Debian: libssl-dev)"
        versions="$versions, C TLS baseline ($CC -O2, $(openssl version | cut -d' ' -f1-2))"
    fi
fi

# the unix socket paths of the unix workloads and file_serve's file live in
# a private directory
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsock-bench.XXXXXX") || die "mktemp -d failed"
trap 'rm -rf "$tmp"' EXIT

# Every process of a run is bounded; the sockets also time out after 30 s.
wrap=""
if command -v timeout >/dev/null 2>&1; then
    wrap="timeout -k 5 120"
fi

cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
# The ping-pong rows run both processes on one CPU: on two, every round
# trip waits for a wake-up across CPUs, which on this project's VMs takes
# about 60 us, 15 times what the two processes spend; the figure would be
# the hypervisor's. On one CPU a round trip is the calls and the switches.
BENCH_PIN=""
if command -v taskset >/dev/null 2>&1 && [ "$cpus" != "?" ]; then
    BENCH_PIN="taskset -c $((cpus - 1))"
else
    echo "bench: no taskset: the ping-pong rows run unpinned and measure cross-CPU wake-ups" >&2
fi
now=$(date -u '+%Y-%m-%d %H:%M UTC')
# the udp receivers ask for a 4 MiB SO_RCVBUF, which net.core.rmem_max caps
rmem=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo "?")
BENCH_HEADER="lsock benchmark $now: $lua_version$versions; $cpus CPUs, $(uname -sr), rmem_max $rmem"
BENCH_BASELINE=$baseline
BENCH_SCALE=$scale
BENCH_RESULTS=$results
BENCH_TMP=$tmp
BENCH_WRAP=$wrap
BENCH_BASELINE_TLS=$baseline_tls
BENCH_TLS_DIR=$tls_dir
export LUA BENCH_LIBS BENCH_WORKLOADS BENCH_HEADER BENCH_BASELINE BENCH_SCALE BENCH_RESULTS BENCH_TMP BENCH_WRAP
export BENCH_BASELINE_TLS BENCH_TLS_DIR BENCH_LUAJIT LSOCK_LUAJIT_CPATH BENCH_PIN

echo "bench: $BENCH_HEADER" >&2
"$LUA" bench/run.lua
