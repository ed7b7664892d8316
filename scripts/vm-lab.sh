#!/usr/bin/env bash
# The end-to-end lab (integration/lab) in the IPVS test VM: builds release directord,
# directorctl and the lab test binary, then boots one VM that runs every scenario
# (integration/vm/lab.sh). Arguments are passed to the test binary, e.g. a test name
# filter: scripts/vm-lab.sh s4_
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/vm/prepare.sh

source scripts/vm/lab-env.sh
bins=$(cargo build --release --locked -p director --bin directord --bin directorctl \
    --message-format=json | executables)
directord=$(grep '/directord$' <<<"$bins" || true)
directorctl=$(grep '/directorctl$' <<<"$bins" || true)
lab=$(cargo test --release --locked -p lab-tests --test lab --no-run --message-format=json \
    | grep -F '"kind":["test"]' | grep -F '"name":"lab"' | executables | tail -n 1)
for f in "$directord" "$directorctl" "$lab"; do
    [[ -x $f ]] || { echo "vm-lab: a binary was not built (directord '$directord', directorctl '$directorctl', lab '$lab')" >&2; exit 1; }
done
ip=$(host_ip)
exec integration/vm/run.sh --timeout "${VM_LAB_TIMEOUT:-900}" \
    --file "$directord:/opt/directord" \
    --file "$directorctl:/opt/directorctl" \
    --file "$lab:/opt/lab-tests" \
    --file "$ip:/usr/local/sbin/ip" \
    integration/vm/lab.sh "$@"
