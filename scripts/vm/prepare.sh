#!/usr/bin/env bash
# Prepare everything the IPVS test VM needs (see integration/vm/README.md):
#   * host tools from Debian: qemu-system-x86, busybox-static, cpio, ipvsadm,
#     kmod (depmod: the kernel package ships no modules.dep), and xz-utils /
#     zstd when the kernel's modules are compressed;
#   * the Debian cloud kernel (linux-image-cloud-amd64 -> the versioned
#     linux-image-X-cloud-amd64 it depends on), fetched with `apt-get download`
#     and unpacked into .cache/vm/kernel/<package>_<version>/.
#
# Idempotent: everything is keyed by package version, so a rerun with a warm
# cache installs and downloads nothing. `apt-get update` runs only when apt
# cannot resolve or fetch what is needed.
#
# Writes .cache/vm/kernel/current.env (sourced by integration/vm/run.sh):
#   VM_KERNEL_PKG, VM_KERNEL_VERSION, VM_KVER, VM_KERNEL_DIR (absolute),
#   VM_VMLINUZ, VM_MODULES_DIR (…/lib/modules/$VM_KVER).
#
# Environment:
#   VM_CACHE_DIR     cache folder (default: <repo>/.cache/vm)
#   VM_KERNEL_META   meta package to resolve (default: linux-image-cloud-amd64)
#   VM_QUIET=1       say nothing when there is nothing to do
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${VM_CACHE_DIR:-$REPO_ROOT/.cache/vm}
KERNEL_META=${VM_KERNEL_META:-linux-image-cloud-amd64}
QUIET=${VM_QUIET:-0}

export DEBIAN_FRONTEND=noninteractive

log() { printf 'prepare: %s\n' "$*" >&2; }
info() { [[ $QUIET == 1 ]] || log "$@"; }
warn() { printf 'prepare: warning: %s\n' "$*" >&2; }
die() { printf 'prepare: error: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi

APT_UPDATED=0
apt_update() {
    [[ $APT_UPDATED == 1 ]] && return 0
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
}

is_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == "ii"* ]]
}

# Install the given packages if any is missing; update the lists only if the
# first attempt fails (e.g. no lists yet, or stale lists).
ensure_packages() {
    local missing=() p
    for p in "$@"; do is_installed "$p" || missing+=("$p"); done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]}"
    if ! "${SUDO[@]}" apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" >&2; then
        apt_update
        "${SUDO[@]}" apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" >&2 \
            || die "could not install ${missing[*]}"
    fi
}

# Print "<package> <version>" of the versioned kernel image the meta package
# depends on (its candidate version); non-zero if apt cannot tell. apt-cache
# takes about a second, so the answer is remembered until the package lists
# change.
resolve_kernel() {
    local stamp memo="$CACHE_DIR/kernel/resolved" line
    stamp="$KERNEL_META $(stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | cksum)"
    if [[ -f $memo ]] && { IFS= read -r line && [[ $line == "$stamp" ]] && IFS= read -r line; } <"$memo"; then
        printf '%s\n' "$line"
        return 0
    fi
    line=$(resolve_kernel_apt) || return 1
    printf '%s\n%s\n' "$stamp" "$line" >"$memo"
    printf '%s\n' "$line"
}

resolve_kernel_apt() {
    local pkg ver
    pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null \
        | awk '$1 ~ /Depends:$/ && $2 ~ /^<?linux-image-/ { gsub(/[<>]/, "", $2); print $2; exit }')
    [[ -n $pkg ]] || return 1
    ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')
    [[ -n $ver && $ver != "(none)" ]] || return 1
    printf '%s %s\n' "$pkg" "$ver"
}

write_env() {
    local kdir=$1 tmp
    local kver
    kver=$(cat "$kdir/kver")
    tmp=$(mktemp "$CACHE_DIR/kernel/.current.env.XXXXXX")
    {
        printf 'VM_KERNEL_PKG=%q\n' "$(cat "$kdir/package")"
        printf 'VM_KERNEL_VERSION=%q\n' "$(cat "$kdir/version")"
        printf 'VM_KVER=%q\n' "$kver"
        printf 'VM_KERNEL_DIR=%q\n' "$kdir"
        printf 'VM_VMLINUZ=%q\n' "$kdir/vmlinuz"
        printf 'VM_MODULES_DIR=%q\n' "$kdir/lib/modules/$kver"
    } >"$tmp"
    mv -f "$tmp" "$CACHE_DIR/kernel/current.env"
}

# Download one kernel image package into directory $3; non-zero on failure
# (typically stale package lists naming a version the mirror has dropped).
download_kernel() {
    local pkg=$1 ver=$2 dir=$3 dl_opts=()
    [[ $EUID -eq 0 ]] && dl_opts=(-o APT::Sandbox::User=root)
    log "downloading $pkg=$ver"
    (cd "$dir" && apt-get "${dl_opts[@]}" download -qq "$pkg=$ver" >&2)
}

# Unpack the downloaded .deb in $1 into the kernel cache folder $4.
unpack_kernel() {
    local work=$1 pkg=$2 ver=$3 kdir=$4 deb modroot kver d f vmlinuz=
    deb=$(find "$work" -maxdepth 1 -name '*.deb' -print -quit)
    [[ -n $deb ]] || die "apt-get download produced no .deb"
    log "unpacking $(basename "$deb")"
    dpkg-deb -x "$deb" "$work/x"

    # Modules live in lib/modules or (usr-merged packages) usr/lib/modules.
    modroot=
    for d in "$work/x/lib/modules" "$work/x/usr/lib/modules"; do
        if [[ -d $d ]]; then modroot=$d; break; fi
    done
    [[ -n $modroot ]] || die "$pkg has no lib/modules tree"
    kver=$(find "$modroot" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n 1)
    [[ -n $kver ]] || die "$pkg: empty lib/modules"
    for f in "$work/x/boot/vmlinuz-$kver" "$work/x/boot/vmlinuz"; do
        if [[ -f $f ]]; then vmlinuz=$f; break; fi
    done
    [[ -n $vmlinuz ]] || die "$pkg: no boot/vmlinuz-$kver"

    mkdir -p "$work/out/lib/modules"
    mv "$vmlinuz" "$work/out/vmlinuz"
    if [[ -f $work/x/boot/config-$kver ]]; then mv "$work/x/boot/config-$kver" "$work/out/config"; fi
    mv "$modroot/$kver" "$work/out/lib/modules/$kver"
    # Debian generates modules.dep in postinst; the .deb does not carry it.
    if [[ ! -s $work/out/lib/modules/$kver/modules.dep ]]; then
        depmod -b "$work/out" "$kver"
    fi
    printf '%s\n' "$pkg" >"$work/out/package"
    printf '%s\n' "$ver" >"$work/out/version"
    printf '%s\n' "$kver" >"$work/out/kver"
    mv "$deb" "$work/out/"
    rm -rf "$kdir"
    mv "$work/out" "$kdir"
    log "kernel $kver ready in $kdir"
}

main() {
    mkdir -p "$CACHE_DIR/kernel"
    exec 9>"$CACHE_DIR/.prepare.lock"
    flock 9
    # Leftovers of an interrupted run.
    rm -rf "$CACHE_DIR"/kernel/.work.* "$CACHE_DIR"/kernel/.current.env.*
    trap 'if [[ -n ${WORK:-} ]]; then rm -rf "$WORK"; fi' EXIT

    ensure_packages qemu-system-x86 busybox-static cpio ipvsadm kmod

    local resolved pkg ver key kdir
    if ! resolved=$(resolve_kernel); then
        apt_update
        resolved=$(resolve_kernel) || resolved=
    fi
    if [[ -z $resolved ]]; then
        if [[ -f $CACHE_DIR/kernel/current.env ]]; then
            warn "cannot resolve $KERNEL_META with apt; using the cached kernel"
            return 0
        fi
        die "cannot resolve $KERNEL_META to a versioned linux-image package"
    fi
    read -r pkg ver <<<"$resolved"
    key="${pkg}_${ver//:/%3a}"
    kdir="$CACHE_DIR/kernel/$key"

    if [[ ! -f $kdir/kver || ! -f $kdir/vmlinuz ]]; then
        WORK=$(mktemp -d "$CACHE_DIR/kernel/.work.XXXXXX")
        if ! download_kernel "$pkg" "$ver" "$WORK"; then
            apt_update
            resolved=$(resolve_kernel) || die "cannot resolve $KERNEL_META"
            read -r pkg ver <<<"$resolved"
            key="${pkg}_${ver//:/%3a}"
            kdir="$CACHE_DIR/kernel/$key"
            download_kernel "$pkg" "$ver" "$WORK" || die "apt-get download $pkg=$ver failed"
        fi
        unpack_kernel "$WORK" "$pkg" "$ver" "$kdir"
        rm -rf "$WORK"
        WORK=
    else
        info "kernel $(cat "$kdir/kver") ($pkg $ver) already cached"
    fi

    # Compressed modules are decompressed on the host by run.sh.
    local kver
    kver=$(cat "$kdir/kver")
    if grep -q '\.ko\.xz:' "$kdir/lib/modules/$kver/modules.dep"; then ensure_packages xz-utils; fi
    if grep -q '\.ko\.zst:' "$kdir/lib/modules/$kver/modules.dep"; then ensure_packages zstd; fi

    write_env "$kdir"
}

main "$@"
