#!/bin/sh
# Runs inside the VM (see scripts/vm-test.sh): every IPVS test against the real kernel.
fail=0
# The sync daemon test needs a multicast-capable interface.
ip link set lo multicast on
/opt/ipvs-kernel-tests --ignored --test-threads=1 || fail=1
/opt/reconcile-kernel-tests --ignored --test-threads=1 || fail=1
sh /opt/crosscheck.sh /bin/directorctl /opt/fixtures || fail=1
exit $fail
