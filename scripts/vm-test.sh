#!/usr/bin/env bash
# Builds the release binaries and the kernel test binary, then runs the IPVS tests in
# the VM: the crates/ipvs kernel tests and the ipvsadm cross-check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/vm/prepare.sh
cargo build --release --locked -p director --bin directorctl
kernel_tests=$(cargo test --release --locked -p ipvs --test kernel --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
[[ -x $kernel_tests ]] || { echo "vm-test: kernel test binary not found" >&2; exit 1; }

exec integration/vm/run.sh --timeout "${VM_TEST_TIMEOUT:-1200}" \
    --file "$kernel_tests:/opt/ipvs-kernel-tests" \
    --file target/release/directorctl:/bin/directorctl \
    --file integration/vm/crosscheck.sh:/opt/crosscheck.sh \
    --dir integration/vm/fixtures:/opt/fixtures \
    integration/vm/ipvs-tests.sh
