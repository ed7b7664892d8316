#!/usr/bin/env bash
# `make demo`: until the full lab demo exists, the IPVS table demo in the VM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/vm/prepare.sh
cargo build --release --locked -p director --bin directorctl
exec integration/vm/run.sh --timeout 600 \
    --file target/release/directorctl:/bin/directorctl \
    --file etc/ipvs-demo.sav:/opt/ipvs-demo.sav \
    integration/vm/demo.sh
