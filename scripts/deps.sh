#!/bin/sh
# Install what building, testing and benchmarking lsock needs, from
# Debian's archive (with the argument "fuzz": fuzzing too). Quiet and
# quick when everything is already there.
set -eu

PACKAGES="gcc make pkg-config libssl-dev valgrind
lua5.1 lua5.2 lua5.3 lua5.4 luajit
liblua5.1-0-dev liblua5.2-dev liblua5.3-dev liblua5.4-dev libluajit-5.1-dev
lua-busted lua-check luarocks lua-socket lua-sec
iproute2 procps util-linux lua-cqueues openssl curl"
# `make fuzz` also needs clang and its libFuzzer runtime.
if [ "${1:-}" = fuzz ]; then PACKAGES="$PACKAGES clang libclang-rt-14-dev"; fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "lsock: installing:$missing"
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "lsock: run as root, or install these packages first:$missing" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
