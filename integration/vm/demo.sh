#!/bin/sh
# Runs inside the VM (see scripts/demo.sh): the lab story of `make demo`.
set -e
# iproute2's `ip netns` keeps its namespace mounts under /var/run/netns (a tmpfs here).
mkdir -p /run /var
[ -e /var/run ] || ln -s /run /var/run
mount -t tmpfs -o mode=755 tmpfs /run
# The host's iproute2 (busybox ip has no netns) ahead of busybox on PATH.
export PATH="/usr/local/sbin:$PATH"
export DIRECTORD=/opt/directord DIRECTORCTL=/opt/directorctl
cd /tmp
/opt/lab-demo /opt/demo/lb1.yaml /opt/demo/lb2.yaml
