#!/bin/sh
# fuzz/run.sh: build the fuzz targets (fuzz/build.sh) and fuzz each one in
# turn for SECONDS (default 60), one at a time.
#
#   sh fuzz/run.sh [--merge] [SECONDS] [target...]
#
# Each target starts from a working copy of its seed corpus,
# build/fuzz/corpus/<target>/ (kept between runs, so that the inputs found
# accumulate there, never in the repository). --merge then minimises that
# corpus into fuzz/corpus/<target>/ (libFuzzer -merge=1: only the inputs that
# add coverage are copied; nothing is removed).
#
# Printed per target: executions, executions per second, libFuzzer's final
# cov: and ft: (C edges, plus the Lua lines counted by fuzz/harness.c) and
# the corpus size. A crash (any finding: a Lua error, a sanitizer report, a
# descriptor leak, a timeout) is kept in build/fuzz/crashes/<target>/ and its
# path printed; the exit status is then 1.
#
# Environment: FUZZ_ARGS, more libFuzzer arguments (-max_len=..., -jobs=...).
# Where `unshare -n` works (root), every target runs in a network namespace
# of its own, with only a loopback interface: the address and options
# targets may then bind any port and join multicast groups
# (LSOCK_FUZZ_NETNS=1); elsewhere they restrict themselves.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. fuzz/targets.sh

MERGE=0
if [ "${1:-}" = --merge ]; then MERGE=1; shift; fi
SECS=60
case "${1:-}" in
    ''|*[!0-9]*) ;;
    *) SECS=$1; shift ;;
esac
TARGETS=$(fuzz_targets "$@")

sh fuzz/build.sh $TARGETS

OUT=build/fuzz
NETNS=
if unshare -n true 2>/dev/null; then NETNS=1; fi

# Runs "$@" in a new network namespace with its loopback up (when it can).
in_netns() {
    if [ -n "$NETNS" ]; then
        LSOCK_FUZZ_NETNS=1 unshare -n sh -c \
            '(ip link set lo up || ifconfig lo up) >/dev/null 2>&1 || echo "fuzz: loopback stays down in the namespace" >&2; exec "$@"' \
            sh "$@"
    else
        "$@"
    fi
}

UBSAN=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
summary=
for t in $TARGETS; do
    work=$OUT/corpus/$t
    crashes=$OUT/crashes/$t
    log=$OUT/logs/$t.log
    mkdir -p "$work" "$crashes" "$OUT/logs"
    # The seeds join the working corpus (those already there stay).
    if [ -d fuzz/corpus/$t ]; then cp -p fuzz/corpus/$t/* "$work"/ 2>/dev/null || true; fi
    echo "== $t: $SECS s"
    rc=0
    # shellcheck disable=SC2086
    LSOCK_FUZZ_CERT=$ROOT/$OUT/tls/cert.pem LSOCK_FUZZ_KEY=$ROOT/$OUT/tls/key.pem \
    UBSAN_OPTIONS=$UBSAN \
        in_netns "$OUT/bin/$t" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 \
        -max_len=4096 -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} "$work" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # (A finding's message may hold any bytes: only printable ones count.)
    last=$(tr -c '[:print:]\n' '?' <"$log" | grep -E '^#[0-9]+' | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    line="$t: execs ${execs:-?}, exec/s ${rate:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    if [ $rc -ne 0 ]; then
        status=1
        line="$line, FAILED (exit $rc; log $log)"
        # The finding's message and the first frames of its stack.
        grep -a -E -m1 -A12 'lsock fuzz:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" >&2 || tail -20 "$log" >&2
        for f in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
            line="$line
    crash: $f"
        done
    fi
    echo "$line"
    summary="$summary$line
"
    if [ $MERGE -eq 1 ] && [ $rc -eq 0 ]; then
        mkdir -p fuzz/corpus/$t
        before=$(ls fuzz/corpus/$t | wc -l)
        LSOCK_FUZZ_CERT=$ROOT/$OUT/tls/cert.pem LSOCK_FUZZ_KEY=$ROOT/$OUT/tls/key.pem \
        UBSAN_OPTIONS=$UBSAN \
            in_netns "$OUT/bin/$t" -merge=1 -max_len=4096 -timeout=10 fuzz/corpus/$t "$work" \
            >"$OUT/logs/$t.merge.log" 2>&1 || { echo "$t: merge failed (log $OUT/logs/$t.merge.log)"; status=1; }
        echo "$t: merged into fuzz/corpus/$t: $before -> $(ls fuzz/corpus/$t | wc -l) inputs"
    fi
done
echo "== summary"
printf '%s' "$summary"
exit $status
