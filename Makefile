# The two commands: `make demo` (the main job) and `make test` (every test).
CARGO ?= cargo

.PHONY: all build test lint unit vm-test vm-lab demo demo-ipvs bench deps clean

all: build

build:
	$(CARGO) build --workspace --locked

# Host tools (nginx for the checker tests) and the VM kernel; idempotent and
# quick when already there.
deps:
	scripts/deps.sh
	scripts/vm/prepare.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy --workspace --all-targets --locked --features director/fault-injection -- -D warnings
	$(CARGO) build --manifest-path crates/vrrp/fuzz/Cargo.toml --locked

# DIRECTOR_REQUIRE_NGINX=1 / DIRECTOR_REQUIRE_NETNS=1: the nginx and network-namespace
# tests fail, not skip, without nginx or without root and iproute2. The
# fault-injection feature builds the watchdog hang tests (crates/director/tests/
# watchdog_hang.rs) and their hooks into these test binaries only.
unit:
	DIRECTOR_REQUIRE_NGINX=1 DIRECTOR_REQUIRE_NETNS=1 $(CARGO) test --workspace --locked --features director/fault-injection

# IPVS against a real kernel: crates/ipvs kernel tests and the ipvsadm cross-check.
vm-test: deps
	scripts/vm-test.sh

# directord end to end in the VM: two directors, real servers and a client in namespaces.
vm-lab: deps
	scripts/vm-lab.sh

# The demo is part of the tests: `make demo` must keep working on a fresh machine.
test: deps lint unit vm-test vm-lab demo

# The lab story in the VM: two directors, three real servers, a sorry server.
demo: deps
	scripts/demo.sh

# The IPVS table alone: directorctl ipvs restore/list/save against ipvsadm.
demo-ipvs: deps
	scripts/demo-ipvs.sh

bench: deps
	scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf .cache
