#!/bin/sh
# Installs the Debian packages that riskwarn's build, demo and tests need,
# and only those that are missing. Safe to run again. `deps.sh ci` also
# installs what CI's extra checks need: clang (the fuzz targets),
# clang-format (make format-check) and clang-tidy (make tidy).
set -eu

PACKAGES="build-essential pkg-config librdkafka-dev libjansson-dev libhiredis-dev check \
libmicrohttpd-dev libcurl4-openssl-dev libssl-dev \
libsubunit-dev redis-server kcat curl valgrind python3 python3-yaml openssl stunnel4"
if [ "${1:-}" = "ci" ]; then
    PACKAGES="$PACKAGES clang libclang-rt-14-dev clang-format clang-tidy"
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "scripts/deps.sh: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "scripts/deps.sh: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
