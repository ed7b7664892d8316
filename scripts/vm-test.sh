#!/usr/bin/env bash
# Builds the release binaries and the kernel test binaries, then runs the IPVS tests in
# the VM: the crates/ipvs kernel tests, the reconciler's, and the ipvsadm cross-check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/vm/prepare.sh
cargo build --release --locked -p director --bin directorctl
# The path of an integration test binary, built in release mode.
test_binary() {
    local bin
    # The bins are built too (integration tests may run them): keep the test target's line.
    bin=$(cargo test --release --locked -p "$1" --test "$2" --no-run --message-format=json 2>/dev/null \
        | grep -F '"kind":["test"]' | grep -F "\"name\":\"$2\"" \
        | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
    [[ -x $bin ]] || { echo "vm-test: test binary $1/$2 not found" >&2; exit 1; }
    printf '%s\n' "$bin"
}
kernel_tests=$(test_binary ipvs kernel)
reconcile_tests=$(test_binary director reconcile_kernel)

exec integration/vm/run.sh --timeout "${VM_TEST_TIMEOUT:-1200}" \
    --file "$kernel_tests:/opt/ipvs-kernel-tests" \
    --file "$reconcile_tests:/opt/reconcile-kernel-tests" \
    --file target/release/directorctl:/bin/directorctl \
    --file integration/vm/crosscheck.sh:/opt/crosscheck.sh \
    --dir integration/vm/fixtures:/opt/fixtures \
    integration/vm/ipvs-tests.sh
