#!/usr/bin/env bash
# `make demo`: the main job in one run. Builds directord, directorctl and the lab's
# demo program, boots the IPVS VM and plays the story with etc/demo/lb1.yaml and
# lb2.yaml (integration/lab/src/demo): two directors with a VIP, three real servers
# and a sorry server; failures, failover and recovery, with `directorctl status` at
# each step and a timeline at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/vm/prepare.sh

source scripts/vm/lab-env.sh
bins=$(cargo build --release --locked -p director --bin directord --bin directorctl \
    -p lab-tests --bin lab-demo --message-format=json | executables)
directord=$(grep '/directord$' <<<"$bins" || true)
directorctl=$(grep '/directorctl$' <<<"$bins" || true)
demo=$(grep '/lab-demo$' <<<"$bins" || true)
for f in "$directord" "$directorctl" "$demo"; do
    [[ -x $f ]] || { echo "demo: a binary was not built (directord '$directord', directorctl '$directorctl', lab-demo '$demo')" >&2; exit 1; }
done
ip=$(host_ip)
exec integration/vm/run.sh --timeout "${VM_DEMO_TIMEOUT:-600}" \
    --file "$directord:/opt/directord" \
    --file "$directorctl:/opt/directorctl" \
    --file "$demo:/opt/lab-demo" \
    --file "$ip:/usr/local/sbin/ip" \
    --file etc/demo/lb1.yaml:/opt/demo/lb1.yaml \
    --file etc/demo/lb2.yaml:/opt/demo/lb2.yaml \
    integration/vm/demo.sh
