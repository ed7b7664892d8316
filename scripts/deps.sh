#!/usr/bin/env bash
# Host packages the unit tests need (the VM's are scripts/vm/prepare.sh's):
#   * nginx-light: the real nginx the checker's acceptance tests start on
#     loopback (integration/testkit); `make test` makes its absence a failure.
#   * keepalived: the real VRRP peer of the interop tests (integration/netns) and
#     the anchor of the P4 failover benchmark. Installed, never started as a service.
#   * iproute2: `ip netns`, veth and bridges for the namespace tests.
#
# Idempotent: installs only what is missing. `apt-get update` runs only when
# the first install attempt fails (no lists yet, or stale lists).
#
# Environment:
#   DEPS_QUIET=1   say nothing when there is nothing to do
set -euo pipefail

QUIET=${DEPS_QUIET:-0}

export DEBIAN_FRONTEND=noninteractive

log() { printf 'deps: %s\n' "$*" >&2; }
info() { [[ $QUIET == 1 ]] || log "$@"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi

is_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == "ii"* ]]
}

apt_install() {
    "${SUDO[@]}" apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >&2
}

# Package scripts must not start system services (nginx on port 80) on the
# test machine: a temporary policy-rc.d refuses them, unless one exists already.
POLICY=/usr/sbin/policy-rc.d
no_service_starts() {
    [[ -e $POLICY ]] && return 0
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
}

ensure_packages() {
    local missing=() p
    for p in "$@"; do is_installed "$p" || missing+=("$p"); done
    if [[ ${#missing[@]} -eq 0 ]]; then
        info "$* already installed"
        return 0
    fi
    log "installing ${missing[*]}"
    no_service_starts
    if ! apt_install "${missing[@]}"; then
        log "apt-get update"
        "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
        apt_install "${missing[@]}" || die "could not install ${missing[*]}"
    fi
}

ensure_packages nginx-light ca-certificates iproute2 keepalived
