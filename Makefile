# SPDX-License-Identifier: GPL-2.0
# ipvs-rs: build, test and benchmark entry points. `make help` lists them.

TOP      := $(abspath .)
KSRC     := $(TOP)/build/linux-source-6.12
KOUT     ?= $(TOP)/build/kernel
LLVM_VER := -19
export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib
export PATH := $(HOME)/.cargo/bin:$(PATH)
KMAKE     = $(MAKE) -C $(KOUT) M=$(TOP) LLVM=$(LLVM_VER)

.PHONY: all module kernel deps ipvsadm-rs traffic host-test check vm-test demo soak bench \
	rustfmt rustfmtcheck clippy clean help

all: module

help:
	@echo "make deps        install what a fresh Debian 12 machine lacks (idempotent)"
	@echo "make kernel      configure and build the test kernel in build/kernel"
	@echo "make module      build ipvs_rs.ko against it (default target)"
	@echo "make ipvsadm-rs  build the CLI"
	@echo "make host-test   cargo tests of the pure logic and the CLI"
	@echo "make vm-test     boot the kernel in a VM and run KUnit + selftests"
	@echo "make check       all of the above: what CI runs"
	@echo "make demo        VM demo: a service, real servers, traffic"
	@echo "make soak        VM: an hour of traffic and configuration churn (not CI)"
	@echo "make bench       non-debug kernel, VM: plain forwarding vs ip_vs.ko vs ipvs_rs.ko"
	@echo "make rustfmt     format; make clippy: lint module and CLI"

deps:
	scripts/deps.sh

kernel:
	scripts/kernel.sh selftests/config $(KOUT)

$(KOUT)/Module.symvers:
	@echo "no kernel build in $(KOUT): run 'make kernel' first" >&2; exit 1

module: $(KOUT)/Module.symvers
	+$(KMAKE) modules

clippy: $(KOUT)/Module.symvers
	+$(KMAKE) CLIPPY=1 modules
	cd ipvsadm-rs && cargo clippy --all-targets -- -D warnings
	cd host && cargo clippy --all-targets -- -D warnings
	cd selftests/traffic && cargo clippy --all-targets -- -D warnings

ipvsadm-rs:
	cd ipvsadm-rs && cargo build --release --locked

# The selftests' traffic generator and servers.
traffic:
	cd selftests/traffic && cargo build --release --locked

host-test:
	cd host && cargo test --locked
	cd ipvsadm-rs && cargo test --locked

vm-test: module ipvsadm-rs traffic
	selftests/run.sh $(KOUT)

# Lints first: a minute, where the VM run takes most of an hour.
check: deps kernel module ipvsadm-rs traffic host-test rustfmtcheck clippy
	selftests/run.sh $(KOUT)

demo: deps kernel module ipvsadm-rs traffic
	selftests/run.sh --demo $(KOUT)

# An hour of traffic and configuration churn (IPVS_RS_SOAK_MINUTES), with
# memory and slab recorded every minute: see Documentation/testing.rst.
soak: deps kernel module ipvsadm-rs traffic
	selftests/run.sh --soak $(KOUT)

# Benchmarks (a report, not a gate): see Documentation/performance.rst.
bench: deps
	scripts/bench.sh

rustfmt:
	rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml src/ipvs.rs
	cd ipvsadm-rs && cargo fmt
	cd host && cargo fmt
	cd selftests/traffic && cargo fmt

rustfmtcheck:
	rustfmt --check --edition 2021 --config-path $(KSRC)/.rustfmt.toml src/ipvs.rs
	cd ipvsadm-rs && cargo fmt --check
	cd host && cargo fmt --check
	cd selftests/traffic && cargo fmt --check

clean:
	-+$(KMAKE) clean
	rm -f src/bindings_generated.rs
	cd ipvsadm-rs && cargo clean
	cd host && cargo clean
	cd selftests/traffic && cargo clean
