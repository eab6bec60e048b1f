#!/usr/bin/env bash
# Install what the benchmarks need from Debian's packages: wrk (the load generator) and nginx
# (the static-file baseline). Idempotent: does nothing when both are already on PATH.
set -euo pipefail

packages=()
command -v wrk >/dev/null 2>&1 || packages+=(wrk)
command -v nginx >/dev/null 2>&1 || packages+=(nginx)
if [ "${#packages[@]}" -eq 0 ]; then
    echo "bench/setup.sh: wrk and nginx already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "bench/setup.sh: run as root (apt-get install ${packages[*]})" >&2
    exit 1
fi

# The benchmark starts its own nginx on loopback; the package must not start a system one on
# port 80. Container images usually carry a policy-rc.d that forbids it; add one if missing.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "${packages[@]}" >/dev/null 2>&1; then
    apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${packages[@]}"
echo "bench/setup.sh: installed ${packages[*]}"
