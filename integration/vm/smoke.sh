#!/bin/sh
# Smoke test for the IPVS VM harness; runs inside the VM:
#   integration/vm/run.sh integration/vm/smoke.sh
# Checks that IPVS is loaded, that ipvsadm can add and save a service, and
# that every scheduler (plus the SIP persistence engine) can be used.
set -eu

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

echo "kernel: $(uname -r)"
echo "ip_vs modules: $(awk '$1 ~ /^ip_vs/ { printf "%s ", $1 }' /proc/modules)"

# 1. IPVS is there.
if [ -r /proc/net/ip_vs ] && head -n 1 /proc/net/ip_vs | grep -q '^IP Virtual Server version'; then
    pass "$(head -n 1 /proc/net/ip_vs)"
else
    fail "/proc/net/ip_vs missing or unexpected"
    exit 1
fi

# 2. A service with one direct-routing real server, saved back.
ipvsadm -A -t 192.0.2.1:80 -s wrr
ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 2
saved=$(ipvsadm -Sn)
echo "ipvsadm -Sn:"
echo "$saved" | sed 's/^/  /'
expected="-A -t 192.0.2.1:80 -s wrr
-a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 2"
if [ "$saved" = "$expected" ]; then
    pass "ipvsadm -Sn matches"
else
    fail "ipvsadm -Sn output differs from the expected:"
    echo "$expected" | sed 's/^/  /'
fi

# 3. Every scheduler.
n=0
bad=
for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
    if out=$(ipvsadm -A -t "192.0.2.2:8$n" -s "$s" 2>&1) \
        && ipvsadm -Ln -t "192.0.2.2:8$n" | grep -q " $s\$\| $s "; then
        pass "scheduler $s"
    else
        fail "scheduler $s: $out"
        bad="$bad $s"
    fi
    n=$((n + 1))
done

# 4. The SIP persistence engine (ip_vs_pe_sip), when the kernel has it.
if grep -q '^ip_vs_pe_sip ' /proc/modules; then
    if out=$(ipvsadm -A -u 192.0.2.3:5060 -s rr -p 60 --pe sip 2>&1) \
        && ipvsadm -Sn | grep -q -- '-A -u 192.0.2.3:5060 -s rr -p 60 --pe sip'; then
        pass "persistence engine sip"
    else
        fail "persistence engine sip: $out"
        bad="$bad pe_sip"
    fi
fi

ipvsadm -C
if [ -n "$(ipvsadm -Sn)" ]; then fail "ipvsadm -C left services behind"; fi

if [ "$failures" -eq 0 ]; then
    echo "smoke: all checks passed"
    exit 0
fi
echo "smoke: $failures check(s) failed${bad:+; failing:$bad}"
exit 1
