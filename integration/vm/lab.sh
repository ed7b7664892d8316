#!/bin/sh
# Runs inside the VM (see scripts/vm-lab.sh): the end-to-end lab, integration/lab's
# tests as root with --ignored, one lab of network namespaces per test.
#   lab.sh [TEST FILTER...]   (passed to the test binary)
set -e
# iproute2's `ip netns` keeps its namespace mounts under /var/run/netns (a tmpfs here).
mkdir -p /run /var
[ -e /var/run ] || ln -s /run /var/run
mount -t tmpfs -o mode=755 tmpfs /run
# The host's iproute2 (busybox ip has no netns) ahead of busybox on PATH.
export PATH="/usr/local/sbin:$PATH"
# busybox sh runs its own applets before PATH: name the binary.
/usr/local/sbin/ip -V
export DIRECTORD=/opt/directord DIRECTORCTL=/opt/directorctl
[ -x "$DIRECTORD" ] || echo "lab: $DIRECTORD missing"
cd /tmp
set +e
/opt/lab-tests --ignored --test-threads=1 "$@"
rc=$?
echo "lab: test binary exit status $rc"
exit $rc
