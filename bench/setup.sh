#!/usr/bin/env bash
# Install what the benchmarks need: from Debian's packages, wrk (the load generator) and nginx
# (the static-file baseline); into .venv, the peers engine_throughput.py compares the engine
# with, Celery (with its Redis client) and procrastinate, which are not project dependencies.
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

install_debian_packages() {
    local packages=()
    command -v wrk >/dev/null 2>&1 || packages+=(wrk)
    command -v nginx >/dev/null 2>&1 || packages+=(nginx)
    if [ "${#packages[@]}" -eq 0 ]; then
        echo "bench/setup.sh: wrk and nginx already installed"
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench/setup.sh: run as root (apt-get install ${packages[*]})" >&2
        exit 1
    fi
    # The benchmark starts its own nginx on loopback; the package must not start a system one
    # on port 80. Container images usually carry a policy-rc.d that forbids it; add one if
    # missing.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show "${packages[@]}" >/dev/null 2>&1; then
        apt-get update -qq
    fi
    apt-get install -y -qq --no-install-recommends "${packages[@]}"
    echo "bench/setup.sh: installed ${packages[*]}"
}

install_peers() {
    if [ ! -x .venv/bin/python ]; then
        echo "bench/setup.sh: no .venv; run scripts/bootstrap first" >&2
        exit 1
    fi
    if .venv/bin/python -c 'import celery, redis, procrastinate' 2>/dev/null; then
        echo "bench/setup.sh: celery and procrastinate already installed in .venv"
        return
    fi
    .venv/bin/python -m pip install --quiet 'celery[redis]>=5.5' 'procrastinate>=3'
    echo "bench/setup.sh: installed celery and procrastinate into .venv"
}

install_debian_packages
install_peers
