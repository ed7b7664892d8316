# Sourced by scripts/vm-lab.sh and scripts/demo.sh: what both need to run the lab of
# network namespaces in the IPVS VM.

# The executables cargo reports on stdin (`--message-format=json`; honours
# CARGO_TARGET_DIR).
executables() { grep -o '"executable":"[^"]*"' | cut -d'"' -f4; }

# iproute2 from the host: busybox ip cannot do `ip netns`.
host_ip() { readlink -f "$(PATH=/usr/sbin:/sbin:$PATH command -v ip)"; }

# veth and bridge make the lab's LANs.
export VM_EXTRA_MODULES="veth bridge${VM_EXTRA_MODULES:+ $VM_EXTRA_MODULES}"
