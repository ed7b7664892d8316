#!/usr/bin/env bash
# `make bench`: the benchmark program. P3 (checkers) and P4 (VRRP failover) on the host,
# then P1 (IPVS), P3's keepalived anchor, P2 (reload) and P5 (footprint) inside the VM,
# which has IPVS. Results: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/vm/prepare.sh
# keepalived is P3's anchor; its checker needs IPVS, so on a host without it the
# bench reports why and the VM run below gives the comparison.
KEEPALIVED=$(PATH=/usr/sbin:/sbin:$PATH command -v keepalived || true)
if [[ -z $KEEPALIVED ]]; then
    apt-get install -y --no-install-recommends keepalived >&2
    KEEPALIVED=$(PATH=/usr/sbin:/sbin:$PATH command -v keepalived)
fi
cargo build --release --locked -p director -p director-bench --bins
BIN=${CARGO_TARGET_DIR:-target}/release

echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
"$BIN"/director-bench p3 --checks "${BENCH_P3_CHECKS:-10000}" \
    --seconds "${BENCH_P3_SECONDS:-60}" --keepalived "$KEEPALIVED"
# P4: VRRP failover between two routers in network namespaces on this host (root, no
# VM needed), directord and then keepalived in the same kind of lab.
"$BIN"/director-bench p4 --runs "${BENCH_P4_RUNS:-9}" \
    --runs-v3 "${BENCH_P4_RUNS_V3:-25}" --keepalived "$KEEPALIVED"

# Written here, so the BENCH_* settings of the host reach the VM.
cat >/tmp/director-bench-vm.sh <<SH
#!/bin/sh
set -e
echo "machine: \$(nproc) vCPU (qemu TCG), kernel \$(uname -r), ipvsadm \$(ipvsadm --version 2>&1 | head -n1)"
/opt/director-bench p1 --services ${BENCH_SERVICES:-1000} --dests ${BENCH_DESTS:-10} \\
    --runs ${BENCH_RUNS:-7} --directorctl /bin/directorctl --ipvsadm /sbin/ipvsadm
# Emulated, so far fewer checks: the ratio to keepalived is the figure here.
/opt/director-bench p3 --checks ${BENCH_VM_P3_CHECKS:-500} --seconds ${BENCH_VM_P3_SECONDS:-30} \\
    --runtime both --keepalived /sbin/keepalived
# P2: reload of a 2,284-service / 37,298-real-server site, one weight changed per run;
# keepalived's reloads of it take minutes under emulation, hence fewer of them.
/opt/director-bench p2 --runs ${BENCH_P2_RUNS:-7} --keepalived-runs ${BENCH_P2_KEEPALIVED_RUNS:-2} \\
    --ipvsadm-runs ${BENCH_P2_IPVSADM_RUNS:-3} \\
    --directord /bin/directord --directorctl /bin/directorctl \\
    --keepalived /sbin/keepalived --ipvsadm /sbin/ipvsadm
# P5: CPU and memory with 1,000 x 10 checked real servers (tcp every 6 s), against
# keepalived.
/opt/director-bench p5 --services 1000 --dests 10 --delay-loop ${BENCH_P5_DELAY_LOOP:-6} \\
    --seconds ${BENCH_P5_SECONDS:-60} --directord /bin/directord --keepalived /sbin/keepalived
SH
exec integration/vm/run.sh --timeout "${BENCH_TIMEOUT:-5400}" \
    --file "$BIN"/directorctl:/bin/directorctl \
    --file "$BIN"/directord:/bin/directord \
    --file "$BIN"/director-bench:/opt/director-bench \
    --file "$KEEPALIVED":/sbin/keepalived \
    /tmp/director-bench-vm.sh
