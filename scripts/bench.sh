#!/usr/bin/env bash
# `make bench`: the benchmark program, inside the VM for IPVS. Results: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/vm/prepare.sh
cargo build --release --locked -p director -p director-bench --bins
cat >/tmp/director-bench-vm.sh <<'SH'
#!/bin/sh
echo "machine: $(nproc) vCPU (qemu TCG), kernel $(uname -r), ipvsadm $(ipvsadm --version 2>&1 | head -n1)"
/opt/director-bench p1 --services ${BENCH_SERVICES:-1000} --dests ${BENCH_DESTS:-10} \
    --runs ${BENCH_RUNS:-7} --directorctl /bin/directorctl --ipvsadm /sbin/ipvsadm
SH
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
exec integration/vm/run.sh --timeout "${BENCH_TIMEOUT:-3000}" \
    --file target/release/directorctl:/bin/directorctl \
    --file target/release/director-bench:/opt/director-bench \
    /tmp/director-bench-vm.sh
