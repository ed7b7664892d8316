#!/bin/sh
# The table demo, inside the VM: directorctl programs IPVS, ipvsadm reads it back.
set -e
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "restore a table from ipvsadm -Sn format: directorctl ipvs restore --verbose < ipvs-demo.sav"
directorctl ipvs restore --verbose </opt/ipvs-demo.sav
step "directorctl ipvs list (as ipvsadm -Ln)"
directorctl ipvs list
step "the independent reader: ipvsadm -Ln"
ipvsadm -Ln
step "one real server's weight changes 3 -> 5: only that goes to the kernel"
sed 's/198.51.100.13:80 -g -w 3/198.51.100.13:80 -g -w 5/' /opt/ipvs-demo.sav >/tmp/changed.sav
directorctl ipvs restore --dry-run </tmp/changed.sav
directorctl ipvs restore --verbose </tmp/changed.sav
step "a real server disappears and a service is added"
grep -v 198.51.100.12:443 /tmp/changed.sav >/tmp/changed2.sav
echo '-A -u 192.0.2.10:53 -s rr' >>/tmp/changed2.sav
directorctl ipvs restore --dry-run </tmp/changed2.sav
directorctl ipvs restore --verbose </tmp/changed2.sav
step "directorctl ipvs save (as ipvsadm -Sn)"
directorctl ipvs save
step "ipvsadm -Sn agrees byte for byte"
ipvsadm -Sn >/tmp/ipvsadm.sav
directorctl ipvs save >/tmp/ours.sav
cmp /tmp/ipvsadm.sav /tmp/ours.sav && echo "identical ($(wc -l </tmp/ours.sav) lines)"
step "bad input is refused with its line, nothing applied"
printf -- '-A -t 192.0.2.20:80 -s rr\n-a -t 192.0.2.20:80 -r 198.51.100.30 -w -1\n' \
    | directorctl ipvs restore || echo "(exit $?)"
step "directorctl ipvs list --json (first lines)"
directorctl ipvs list --json | head -n 20
ipvsadm -C
