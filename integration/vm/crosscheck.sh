#!/bin/sh
# Runs inside the VM: directorctl against the real ipvsadm, both ways, byte for byte.
#   crosscheck.sh DIRECTORCTL FIXTURES_DIR
# Every fixture *.sav is written in exactly the form `ipvsadm -Sn` prints.
set -u
ctl=$1
fx=$2
tmp=/tmp/crosscheck
mkdir -p "$tmp"
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   - $*"; }
not_ok() { fail=$((fail + 1)); echo "FAIL - $*"; }
# same NAME FILE_A FILE_B: byte-identical, else show the difference.
same() {
    if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1"; diff -u "$2" "$3" | head -40; fi
}
contains() { # contains NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else not_ok "$1: no '$3' in:"; cat "$2"; fi
}

for f in "$fx"/*.sav; do
    name=$(basename "$f" .sav)
    # 1. What we write, ipvsadm reads back identically.
    ipvsadm -C
    if "$ctl" ipvs restore <"$f" 2>"$tmp/err"; then ok "$name: directorctl ipvs restore"; else
        not_ok "$name: directorctl ipvs restore"; cat "$tmp/err"; fi
    ipvsadm -Sn >"$tmp/ipvsadm.sav"
    same "$name: ipvsadm -Sn after directorctl restore equals the file" "$f" "$tmp/ipvsadm.sav"
    "$ctl" ipvs save >"$tmp/ours.sav"
    same "$name: directorctl ipvs save equals ipvsadm -Sn" "$tmp/ipvsadm.sav" "$tmp/ours.sav"
    ipvsadm -Ln >"$tmp/ipvsadm.list"
    "$ctl" ipvs list >"$tmp/ours.list"
    same "$name: directorctl ipvs list equals ipvsadm -Ln" "$tmp/ipvsadm.list" "$tmp/ours.list"
    ipvsadm -Ln --stats >"$tmp/ipvsadm.stats"
    "$ctl" ipvs list --stats >"$tmp/ours.stats"
    same "$name: list --stats equals ipvsadm -Ln --stats" "$tmp/ipvsadm.stats" "$tmp/ours.stats"
    ipvsadm -Ln --rate >"$tmp/ipvsadm.rate"
    "$ctl" ipvs list --rate >"$tmp/ours.rate"
    same "$name: list --rate equals ipvsadm -Ln --rate" "$tmp/ipvsadm.rate" "$tmp/ours.rate"
    "$ctl" ipvs restore --verbose <"$f" >"$tmp/again" 2>&1
    contains "$name: restoring the same table sends nothing" "$tmp/again" \
        "restore: 0 operation(s) applied in 0 netlink request(s)"

    # 2. What ipvsadm writes, we read back identically.
    ipvsadm -C
    if ipvsadm -R <"$f" 2>"$tmp/err"; then ok "$name: ipvsadm -R"; else
        not_ok "$name: ipvsadm -R"; cat "$tmp/err"; fi
    ipvsadm -Sn >"$tmp/ipvsadm.sav"
    "$ctl" ipvs save >"$tmp/ours.sav"
    same "$name: directorctl ipvs save after ipvsadm -R equals ipvsadm -Sn" \
        "$tmp/ipvsadm.sav" "$tmp/ours.sav"
    same "$name: ipvsadm -Sn after ipvsadm -R equals the file" "$f" "$tmp/ipvsadm.sav"
done

# 3. A one-destination change is exactly one netlink operation.
ipvsadm -C
"$ctl" ipvs restore <"$fx/basic.sav"
sed 's/-r 198.51.100.2:80 -m -w 2/-r 198.51.100.2:80 -m -w 7/' "$fx/basic.sav" >"$tmp/changed.sav"
if cmp -s "$fx/basic.sav" "$tmp/changed.sav"; then not_ok "fixture basic.sav lacks the line to change"; fi
"$ctl" ipvs restore --verbose <"$tmp/changed.sav" >"$tmp/out" 2>&1
contains "one weight change: one op, one request" "$tmp/out" \
    "restore: 1 operation(s) applied in 1 netlink request(s)"
ipvsadm -Sn >"$tmp/after.sav"
same "one weight change: ipvsadm sees the new weight" "$tmp/changed.sav" "$tmp/after.sav"
"$ctl" ipvs restore --dry-run <"$fx/basic.sav" >"$tmp/dry"
contains "dry run prints the op" "$tmp/dry" "edit destination 198.51.100.2:80"
ipvsadm -Sn >"$tmp/after-dry.sav"
same "dry run changes nothing" "$tmp/changed.sav" "$tmp/after-dry.sav"

# 4. Bad input: error names the line, nothing is applied.
printf -- '-A -t 192.0.2.77:80 -s rr\n-a -t 192.0.2.77:80 -r 198.51.100.9:80 -g -w 1\n-a -t 192.0.2.77:80 -r 198.51.100.10:80 -w many\n' >"$tmp/bad.sav"
if "$ctl" ipvs restore <"$tmp/bad.sav" 2>"$tmp/err"; then not_ok "bad input accepted"; else
    ok "bad input refused (exit $?)"; fi
contains "bad input: error names line and column" "$tmp/err" "<stdin>:3:"
ipvsadm -Sn >"$tmp/after-bad.sav"
same "bad input: table unchanged" "$tmp/changed.sav" "$tmp/after-bad.sav"

# 5. --flush: everything else goes, the file's table stays.
ipvsadm -A -t 192.0.2.200:443 -s rr
"$ctl" ipvs restore --flush <"$fx/basic.sav"
ipvsadm -Sn >"$tmp/flushed.sav"
same "restore --flush leaves exactly the file" "$fx/basic.sav" "$tmp/flushed.sav"

# 6. Kernel refusals are explained and keep the errno.
printf -- '-A -t 192.0.2.78:80 -s nosuchsched\n-a -t 192.0.2.78:80 -r 198.51.100.78:80 -m\n-A -t 192.0.2.79:80 -s rr\n' >"$tmp/nosched.sav"
if "$ctl" ipvs restore <"$tmp/nosched.sav" 2>"$tmp/err"; then not_ok "kernel refusal exits 0"; else
    ok "kernel refusal exits non-zero"; fi
contains "unknown scheduler explained" "$tmp/err" "scheduler nosuchsched"
contains "errno kept" "$tmp/err" "errno 2"
contains "its destinations are not sent" "$tmp/err" "not sent: service 192.0.2.78:80/tcp was not added"
ipvsadm -Sn >"$tmp/after-refusal.sav"
contains "the rest is applied" "$tmp/after-refusal.sav" "-A -t 192.0.2.79:80 -s rr"

# 6b. JSON listing: flat design names, real values.
"$ctl" ipvs restore --flush <"$fx/basic.sav"
"$ctl" ipvs list --json >"$tmp/list.json"
contains "json: protocol" "$tmp/list.json" '"protocol": "udp"'
contains "json: address" "$tmp/list.json" '"address": "198.51.100.2"'
contains "json: forwarding" "$tmp/list.json" '"forwarding": "nat"'
contains "json: weight" "$tmp/list.json" '"weight": 2,'

# 7. Thresholds (-x/-y) reach the kernel, though -Sn never prints them (as ipvsadm).
ipvsadm -C
"$ctl" ipvs restore <"$fx/thresholds.in"
ipvsadm -Ln --thresholds >"$tmp/thr"
contains "thresholds reach the kernel" "$tmp/thr" "-> 198.51.100.11:443            1000       100 "

# 8. Counters with real traffic: HTTP through a NAT service on loopback, 64-bit stats
#    read back equal to ipvsadm's (after the kernel's 2 s estimator has folded them in).
ipvsadm -C
mkdir -p "$tmp/www" && echo hello >"$tmp/www/index.html"
httpd -f -p 127.0.0.1:8080 -h "$tmp/www" &
httpd_pid=$!
sleep 1
"$ctl" ipvs restore <"$fx/loopback-nat.in"
for i in 1 2 3 4 5; do
    printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 127.0.0.2 80 >"$tmp/http.$i"
done
kill "$httpd_pid"
contains "traffic: HTTP answered through IPVS" "$tmp/http.5" "hello"
sleep 3
ipvsadm -Ln --stats >"$tmp/ipvsadm.stats"
"$ctl" ipvs list --stats >"$tmp/ours.stats"
same "traffic: list --stats equals ipvsadm -Ln --stats" "$tmp/ipvsadm.stats" "$tmp/ours.stats"
contains "traffic: 5 connections counted" "$tmp/ours.stats" "127.0.0.2:80                        5"
"$ctl" ipvs list --json >"$tmp/traffic.json"
contains "traffic: json counts connections" "$tmp/traffic.json" '"conns": 5,'
contains "traffic: json counts inactive connections" "$tmp/traffic.json" '"inactive_conns": 5,'

ipvsadm -C
echo "crosscheck: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
