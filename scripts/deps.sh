#!/bin/bash
# Install what a fresh Debian 12 machine of this kind lacks to build and test
# ipvs-rs. Idempotent: each step checks first, so a second run is quick.
set -euo pipefail

KSRC_VERSION=6.12.117-1~deb12u1
BINDGEN_VERSION=0.71.1
VIRTME_NG_VERSION=1.42
VIRTIOFSD_VERSION=1.14.0

export PATH=$HOME/.cargo/bin:$PATH
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

pkgs=(clang-19 lld-19 llvm-19 libclang-19-dev qemu-system-x86 udev flex bison
	bc libelf-dev libssl-dev cpio xz-utils kmod iproute2 ipvsadm socat
	iptables conntrack keepalived python3-pip util-linux procps
	libseccomp-dev libcap-ng-dev vsftpd curl)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
ksrc_have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
if [ ${#missing[@]} -gt 0 ] || [ -z "$ksrc_have" ]; then
	echo "deps: apt: ${missing[*]} ${ksrc_have:+}${ksrc_have:-linux-source-6.12}"
	$sudo apt-get update -qq
	ksrc=linux-source-6.12=$KSRC_VERSION
	if ! apt-cache show "$ksrc" >/dev/null 2>&1; then
		echo "deps: warning: linux-source-6.12 $KSRC_VERSION is gone from the archive; using the current one" >&2
		ksrc=linux-source-6.12
	fi
	[ -n "$ksrc_have" ] && ksrc=
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" $ksrc >/dev/null
fi

# rust-src for the kernel's Rust; clippy and rustfmt for `make check`'s
# lint step.
for c in rust-src clippy rustfmt; do
	if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
		echo "deps: rustup component add $c"
		rustup component add "$c"
	fi
done

if [ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]; then
	echo "deps: cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi

# virtiofsd (Rust): vng then shares the host's root with the guest over
# virtio-fs, cached, instead of uncached 9p. Every exec in the guest reads
# its binary and libraries through that share: measured in the guest,
# `ip -V` 0.83 s where 9p takes 1.2 s, and the boot 40 s shorter.
if [ "$(virtiofsd --version 2>/dev/null)" != "virtiofsd $VIRTIOFSD_VERSION" ]; then
	echo "deps: cargo install virtiofsd $VIRTIOFSD_VERSION"
	cargo install --locked --quiet virtiofsd --version "$VIRTIOFSD_VERSION"
fi

if ! vng --version 2>/dev/null | grep -q "$VIRTME_NG_VERSION"; then
	echo "deps: pip install virtme-ng==$VIRTME_NG_VERSION"
	pip install --quiet --disable-pip-version-check "virtme-ng==$VIRTME_NG_VERSION"
fi

# pyroute2, a third-party netlink client for 81-pyroute2, in the tree
# (build/pydeps): the guest's python3 finds it there whatever its own.
PYROUTE2_VERSION=0.9.7
if ! PYTHONPATH=build/pydeps python3 -c "import pyroute2, sys; sys.exit(pyroute2.__version__ != '$PYROUTE2_VERSION')" 2>/dev/null; then
	echo "deps: pip install pyroute2==$PYROUTE2_VERSION into build/pydeps"
	# Not fatal: without it 81-pyroute2 skips.
	pip install --quiet --disable-pip-version-check --no-deps --upgrade \
		--target build/pydeps "pyroute2==$PYROUTE2_VERSION" ||
		echo "deps: warning: no pyroute2; 81-pyroute2 will skip" >&2
fi

echo "deps: ok (kernel source $(dpkg-query -W -f='${Version}' linux-source-6.12), $(rustc --version), $(bindgen --version), virtme-ng $(vng --version 2>&1 | awk '{print $2}'), $(virtiofsd --version))"
