#!/usr/bin/env bash
# Run a shell script inside a throwaway QEMU VM (TCG) booting the Debian cloud
# kernel with the IPVS modules loaded. See integration/vm/README.md.
#
#   integration/vm/run.sh [--timeout SECS] [--file HOSTPATH[:VMPATH]]...
#                         [--dir HOSTDIR:VMDIR]... SCRIPT [ARGS...]
#
# Exit status: SCRIPT's exit status inside the VM; 124 if the VM did not
# report one within the timeout; 125 if the VM failed (kernel panic, qemu
# died, init failed); 130 when interrupted; 2 for usage errors.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${VM_CACHE_DIR:-$REPO_ROOT/.cache/vm}
export VM_CACHE_DIR=$CACHE_DIR

# Bump when the layout of the cached base initramfs or /init changes.
BASE_FORMAT=1
KEEP_LOGS=${VM_KEEP_LOGS:-50}
EXIT_GRACE=20 # seconds to wait for qemu to power off after the exit marker

# IPVS modules, loaded in this order (each after its modules.dep chain);
# any other ip_vs_* module the kernel has is loaded after these.
IPVS_MODULES=(ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr
    ip_vs_dh ip_vs_sh ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh)
IPVS_OPTIONAL=(ip_vs_pe_sip ip_vs_ftp)

usage() {
    cat <<'EOF'
usage: integration/vm/run.sh [--timeout SECS] [--file HOSTPATH[:VMPATH]]...
                             [--dir HOSTDIR:VMDIR]... SCRIPT [ARGS...]

Boots a QEMU VM (TCG, no NIC) with the Debian cloud kernel, the IPVS modules
loaded, busybox and ipvsadm, runs SCRIPT there with /bin/sh and ARGS, and
exits with its exit status.

  --timeout SECS             give up after SECS seconds (default 600, env VM_TIMEOUT)
  --file HOSTPATH[:VMPATH]   copy a file in (default VMPATH /opt/<basename>);
                             ELF files bring their shared libraries along
  --dir HOSTDIR:VMDIR        copy a directory tree in (no library scan)

Environment: VM_TIMEOUT, VM_EXTRA_MODULES (more module names to load),
VM_EXTRA_APPEND (more kernel command line), VM_CACHE_DIR (default <repo>/.cache/vm), VM_KEEP_LOGS (default 50).
EOF
}

say() { printf 'vm: %s\n' "$*" >&2; }
die() { printf 'vm: error: %s\n' "$1" >&2; exit "${2:-125}"; }
usage_error() { printf 'vm: %s\n' "$*" >&2; usage >&2; exit 2; }

now_us() { local t=${EPOCHREALTIME//[.,]/}; printf '%s\n' "$((10#$t))"; }
fmt_us() { printf '%d.%02d' "$(($1 / 1000000))" "$((($1 % 1000000) / 10000))"; }

# --- arguments --------------------------------------------------------------

TIMEOUT=${VM_TIMEOUT:-600}
FILES=()
DIRS=()
while (($#)); do
    case $1 in
        --timeout) (($# >= 2)) || usage_error "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        --timeout=*) TIMEOUT=${1#*=}; shift ;;
        --file) (($# >= 2)) || usage_error "--file needs a value"; FILES+=("$2"); shift 2 ;;
        --file=*) FILES+=("${1#*=}"); shift ;;
        --dir) (($# >= 2)) || usage_error "--dir needs a value"; DIRS+=("$2"); shift 2 ;;
        --dir=*) DIRS+=("${1#*=}"); shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        -*) usage_error "unknown option: $1" ;;
        *) break ;;
    esac
done
(($# >= 1)) || usage_error "missing SCRIPT"
SCRIPT=$1
shift
[[ -f $SCRIPT ]] || usage_error "no such script: $SCRIPT"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || usage_error "--timeout must be a positive integer: $TIMEOUT"

T_START=$(now_us)

# --- state and cleanup ------------------------------------------------------

TMP=
QEMU_PID=
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill -TERM "$QEMU_PID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$QEMU_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    if [[ -n $TMP ]]; then rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM HUP

# --- host side preparation -------------------------------------------------

VM_QUIET=1 "$REPO_ROOT/scripts/vm/prepare.sh"
# shellcheck source=/dev/null
. "$CACHE_DIR/kernel/current.env"
: "${VM_KVER:?}" "${VM_VMLINUZ:?}" "${VM_MODULES_DIR:?}"

BUSYBOX=/bin/busybox
IPVSADM=$(PATH=/usr/sbin:/sbin:$PATH command -v ipvsadm) || die "ipvsadm not found"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ipvs-vm.XXXXXX")

is_elf() { [[ $(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' \n') == 7f454c46 ]]; }

# Absolute paths of the shared libraries (and loader) an ELF file needs.
elf_libs() {
    local out
    out=$(ldd "$1" 2>&1) || return 0 # static: "not a dynamic executable"
    if grep -q 'not found' <<<"$out"; then
        die "$1: missing shared libraries:"$'\n'"$(grep 'not found' <<<"$out")"
    fi
    awk '$2 == "=>" { if ($3 ~ /^\//) print $3; next } $1 ~ /^\// { print $1 }' <<<"$out"
}

# copy_in ROOT SRC DEST: copy SRC to ROOT/DEST; for an ELF file, also copy
# the libraries it needs unless listed in the file $SKIP_LIBS.
SKIP_LIBS=/dev/null
copy_in() {
    local root=$1 src=$2 dest=$3 lib
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$src" "$root$dest"
    if is_elf "$src"; then
        while IFS= read -r lib; do
            grep -qxF "$lib" "$SKIP_LIBS" && continue
            [[ -e $root$lib ]] && continue
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done < <(elf_libs "$src")
    fi
}

# make_cpio DIR OUT: newc archive of DIR, gzip-compressed, owned by root.
make_cpio() {
    (cd "$1" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
        | cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -1 >"$2"
}

# Print, in load order, the modules.dep paths of the given module names and
# of everything they depend on. modules.dep lists dependencies so that the
# reverse of the list is a valid load order (that is what modprobe does).
module_order() {
    awk -v want="$*" '
        {
            path = $1; sub(/:$/, "", path)
            name = path; sub(/.*\//, "", name); sub(/\.ko(\.(xz|zst|gz))?$/, "", name)
            gsub(/-/, "_", name)
            bypath[path] = $0; byname[name] = path
        }
        function emit(p,    n, i, f) {
            if (p in done) return
            done[p] = 1
            n = split(bypath[p], f, /[ \t]+/)
            for (i = n; i >= 2; i--) if (f[i] != "") emit(f[i])
            print p
        }
        END {
            n = split(want, w, " ")
            for (i = 1; i <= n; i++) {
                if (!(w[i] in byname)) { print "vm: module not found: " w[i] > "/dev/stderr"; bad = 1; continue }
                emit(byname[w[i]])
            }
            exit bad
        }' "$VM_MODULES_DIR/modules.dep"
}

init_text() {
    cat <<'EOF'
#!/bin/sh
# /init of the IPVS test VM, generated by integration/vm/run.sh.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin:/opt HOME=/root TERM=dumb IN_VM=1
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
hostname ipvs-vm
ip link set lo up

finish() {
    echo "@@VM-EXIT $1@@"
    sync
    poweroff -f
    sleep 10
    exit "$1"
}

kdir=/lib/modules/$(uname -r)
while read -r m; do
    if ! insmod "$kdir/$m"; then
        echo "vm-init: insmod $m failed"
        echo "@@VM-INIT-FAILED@@"
        sync
        poweroff -f
    fi
done </etc/vm-modules

set --
[ -f /etc/vm-run.env ] && . /etc/vm-run.env
echo "@@VM-START@@"
cd /
/bin/sh /test.sh "$@" </dev/null
rc=$?
if [ "$rc" -ne 0 ]; then
    printf '\nvm-init: test exited with %s; last kernel messages:\n' "$rc"
    dmesg | tail -n 20
fi
finish "$rc"
EOF
}

# --- base initramfs (cached) -------------------------------------------------

mapfile -t IPVSADM_LIBS < <(elf_libs "$IPVSADM")
WANT_MODULES=("${IPVS_MODULES[@]}")
mapfile -t ALL_IPVS < <(sed -n 's|^\(kernel/net/netfilter/ipvs/[^:]*\.ko[.a-z]*\):.*|\1|p' "$VM_MODULES_DIR/modules.dep" \
    | sed 's|.*/||; s|\.ko.*||' | LC_ALL=C sort)
for m in "${ALL_IPVS[@]}"; do
    case " ${IPVS_MODULES[*]} ${IPVS_OPTIONAL[*]} " in *" $m "*) ;; *) WANT_MODULES+=("$m") ;; esac
done
for m in "${IPVS_OPTIONAL[@]}"; do
    case " ${ALL_IPVS[*]} " in *" $m "*) WANT_MODULES+=("$m") ;; esac
done
read -r -a EXTRA_MODULES <<<"${VM_EXTRA_MODULES:-}"
WANT_MODULES+=("${EXTRA_MODULES[@]}")

BASE_KEY=$(
    {
        printf '%s\n' "$BASE_FORMAT" "$VM_KERNEL_DIR" "${WANT_MODULES[*]}"
        init_text
        sha256sum "$BUSYBOX" "$IPVSADM" "${IPVSADM_LIBS[@]}" "$VM_MODULES_DIR/modules.dep"
    } | sha256sum | cut -c1-16
)
BASE_DIR=$CACHE_DIR/initramfs
BASE=$BASE_DIR/base-$BASE_KEY.cpio.gz
BASE_LIST=$BASE_DIR/base-$BASE_KEY.libs

build_base() {
    local root=$TMP/base m src dest applet
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,etc,opt}
    mkdir -p "$root/lib/modules/$VM_KVER"

    cp "$BUSYBOX" "$root/bin/busybox"
    while IFS= read -r applet; do
        [[ -e $root/$applet || $applet == bin/busybox ]] && continue
        ln -s /bin/busybox "$root/$applet"
    done < <("$BUSYBOX" --list-full)
    copy_in "$root" "$IPVSADM" /sbin/ipvsadm

    local order
    order=$(module_order "${WANT_MODULES[@]}") || die "cannot resolve the IPVS modules in $VM_MODULES_DIR"
    : >"$root/etc/vm-modules"
    while IFS= read -r m; do
        src=$VM_MODULES_DIR/$m
        dest=${m%.xz}; dest=${dest%.zst}; dest=${dest%.gz}
        mkdir -p "$(dirname "$root/lib/modules/$VM_KVER/$dest")"
        case $m in
            *.ko.xz) xz -dc "$src" >"$root/lib/modules/$VM_KVER/$dest" ;;
            *.ko.zst) zstd -qdc "$src" >"$root/lib/modules/$VM_KVER/$dest" ;;
            *.ko.gz) gzip -dc "$src" >"$root/lib/modules/$VM_KVER/$dest" ;;
            *) cp "$src" "$root/lib/modules/$VM_KVER/$dest" ;;
        esac
        printf '%s\n' "$dest" >>"$root/etc/vm-modules"
    done <<<"$order"
    # A modules.dep for what is inside, so busybox modprobe/rmmod work too.
    awk 'NR == FNR { keep[$0] = 1; next }
         { p = $1; sub(/:$/, "", p); sub(/\.(xz|zst|gz)$/, "", p); if (p in keep) { gsub(/\.ko\.(xz|zst|gz)/, ".ko"); print } }' \
        "$root/etc/vm-modules" "$VM_MODULES_DIR/modules.dep" >"$root/lib/modules/$VM_KVER/modules.dep"

    init_text >"$root/init"
    chmod 755 "$root/init"
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    printf '127.0.0.1 localhost ipvs-vm\n::1 localhost\n' >"$root/etc/hosts"

    mkdir -p "$BASE_DIR"
    make_cpio "$root" "$BASE.tmp.$$"
    (cd "$root" && find . -path ./lib/modules -prune -o -type f -printf '/%P\n') | LC_ALL=C sort >"$BASE_LIST.tmp.$$"
    find "$BASE_DIR" -maxdepth 1 -name 'base-*' ! -name "base-$BASE_KEY.*" -delete
    mv -f "$BASE_LIST.tmp.$$" "$BASE_LIST"
    mv -f "$BASE.tmp.$$" "$BASE"
    rm -rf "$root"
}

if [[ ! -s $BASE || ! -f $BASE_LIST ]]; then
    say "building base initramfs for $VM_KVER"
    build_base
fi

# --- per-run initramfs ----------------------------------------------------------

RUN_ROOT=$TMP/run
mkdir -p "$RUN_ROOT/etc"
SKIP_LIBS=$BASE_LIST
cp "$SCRIPT" "$RUN_ROOT/test.sh"
chmod 755 "$RUN_ROOT/test.sh"
{
    printf 'set --'
    for a in "$@"; do printf " '%s'" "${a//\'/\'\\\'\'}"; done
    printf '\n'
} >"$RUN_ROOT/etc/vm-run.env"

for spec in "${FILES[@]}"; do
    src=$spec
    dest=/opt/$(basename "$spec")
    if [[ $spec == *:/* ]]; then src=${spec%:/*}; dest=/${spec##*:/}; fi
    [[ -f $src ]] || usage_error "--file: no such file: $src"
    copy_in "$RUN_ROOT" "$src" "$dest"
done
for spec in "${DIRS[@]}"; do
    [[ $spec == *:/* ]] || usage_error "--dir needs HOSTDIR:/VMDIR (absolute VMDIR): $spec"
    src=${spec%:/*}
    dest=/${spec##*:/}
    [[ -d $src ]] || usage_error "--dir: no such directory: $src"
    mkdir -p "$RUN_ROOT$dest"
    cp -a "$src/." "$RUN_ROOT$dest/"
done

make_cpio "$RUN_ROOT" "$TMP/run.cpio.gz"
# The kernel unpacks concatenated archives in order; later files win.
cat "$BASE" "$TMP/run.cpio.gz" >"$TMP/initrd.img"
rm -rf "$RUN_ROOT"

# --- boot ------------------------------------------------------------------

mkdir -p "$CACHE_DIR/logs"
LOG=$CACHE_DIR/logs/$(date +%Y%m%d-%H%M%S)-$(basename "$SCRIPT" .sh)-$$.log
# Keep the newest $KEEP_LOGS logs.
find "$CACHE_DIR/logs" -maxdepth 1 -name '*.log' -printf '%T@ %p\n' | LC_ALL=C sort -rn \
    | tail -n +"$KEEP_LOGS" | cut -d' ' -f2- | while IFS= read -r old; do rm -f "$old"; done

APPEND="console=ttyS0 panic=-1 loglevel=3 oops=panic edd=off mitigations=off${VM_EXTRA_APPEND:+ $VM_EXTRA_APPEND}"
QEMU=(qemu-system-x86_64 -accel tcg -nic none -m 2048 -smp 2 -nographic -no-reboot
    -monitor none -kernel "$VM_VMLINUZ" -initrd "$TMP/initrd.img" -append "$APPEND")

say "kernel $VM_KVER ($VM_KERNEL_PKG $VM_KERNEL_VERSION), timeout ${TIMEOUT}s"
say "log: $LOG"
exec 4>"$LOG"
printf '# %s\n' "${QEMU[*]}" >&4

# If this script dies without running its traps (SIGKILL), qemu goes too.
if setpriv --pdeathsig KILL true 2>/dev/null; then QEMU=(setpriv --pdeathsig KILL "${QEMU[@]}"); fi

mkfifo "$TMP/console"
T_QEMU=$(now_us)
"${QEMU[@]}" </dev/null >"$TMP/console" 2>&1 &
QEMU_PID=$!
exec 3<"$TMP/console"

EXIT_CODE=
PANIC=
INIT_FAILED=
T_BOOTED=
deadline=$((SECONDS + TIMEOUT))
partial=
ESC_RE=$'\e'$'(\\[[0-9;?]*[A-Za-z]|[^[])'
handle_line() {
    local line=${1%$'\r'}
    # Drop the firmware's terminal control sequences (screen clears and such).
    while [[ $line == *$'\e'* && $line =~ $ESC_RE ]]; do
        line=${line/"${BASH_REMATCH[0]}"/}
    done
    printf '%s\n' "$line"
    printf '%s\n' "$line" >&4
    # Markers are matched at the end of a line: console output that lacks a
    # final newline may precede them.
    case $line in
        *@@VM-START@@) [[ -n $T_BOOTED ]] || T_BOOTED=$(now_us) ;;
        *@@VM-EXIT\ *@@)
            local code=${line##*@@VM-EXIT }
            code=${code%@@}
            if [[ $code =~ ^[0-9]+$ ]]; then
                EXIT_CODE=$code
                if ((deadline > SECONDS + EXIT_GRACE)); then deadline=$((SECONDS + EXIT_GRACE)); fi
            fi
            ;;
        *@@VM-INIT-FAILED@@) INIT_FAILED=1 ;;
        *"Kernel panic - not syncing"*) PANIC=$line ;;
    esac
}
TIMED_OUT=
while :; do
    if ((SECONDS >= deadline)); then
        [[ -n $EXIT_CODE ]] || TIMED_OUT=1
        break
    fi
    chunk=
    if IFS= read -r -t 1 -u 3 chunk; then
        handle_line "$partial$chunk"
        partial=
    else
        status=$?
        if ((status > 128)); then partial+=$chunk; continue; fi
        if [[ -n $partial$chunk ]]; then handle_line "$partial$chunk"; fi
        break # EOF: qemu exited
    fi
done
exec 3<&-
T_END=$(now_us)

QEMU_STATUS=
if kill -0 "$QEMU_PID" 2>/dev/null; then
    [[ -n $EXIT_CODE ]] && say "qemu did not power off after the exit marker; killing it"
    kill -KILL "$QEMU_PID" 2>/dev/null || true
fi
if wait "$QEMU_PID" 2>/dev/null; then QEMU_STATUS=0; else QEMU_STATUS=$?; fi
QEMU_PID=

timing="build $(fmt_us $((T_QEMU - T_START)))s"
if [[ -n $T_BOOTED ]]; then
    timing+=", boot $(fmt_us $((T_BOOTED - T_QEMU)))s (qemu start to script start)"
    timing+=", script+shutdown $(fmt_us $((T_END - T_BOOTED)))s"
fi
timing+=", total $(fmt_us $((T_END - T_START)))s"
printf '# %s\n' "$timing" >&4
exec 4>&-

if [[ -n $PANIC ]]; then
    die "kernel panic in the VM: ${PANIC#*Kernel panic - not syncing: } (log: $LOG)"
fi
if [[ -n $INIT_FAILED ]]; then
    die "the VM's init failed before running the script (log: $LOG)"
fi
if [[ -n $TIMED_OUT ]]; then
    die "no exit marker within ${TIMEOUT}s; qemu killed (log: $LOG)" 124
fi
if [[ -z $EXIT_CODE ]]; then
    die "qemu exited (status $QEMU_STATUS) without an exit marker (log: $LOG)"
fi
say "$timing"
say "script exit status $EXIT_CODE (log: $LOG)"
exit "$EXIT_CODE"
