#!/usr/bin/env bash
# `make demo-ipvs`: the IPVS table demo in the VM (directorctl ipvs restore/list/save,
# ipvsadm as the reader).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/vm/prepare.sh
cargo build --release --locked -p director --bin directorctl
exec integration/vm/run.sh --timeout 600 \
    --file target/release/directorctl:/bin/directorctl \
    --file etc/ipvs-demo.sav:/opt/ipvs-demo.sav \
    integration/vm/ipvs-demo.sh
