#!/bin/bash
# Extract Debian's linux-source-6.12, configure it from tinyconfig plus a
# kselftest-style fragment and build it out of tree with LLVM.
#
#   scripts/kernel.sh <fragment> <build dir>
#
# Incremental: the tree is extracted once, the config is regenerated only when
# the fragment changes, and `make` rebuilds only what changed.
set -euo pipefail

frag=$(realpath "$1")
out=$(realpath -m "$2")
top=$(realpath "$(dirname "$0")/..")
src=$top/build/linux-source-6.12
tarball=/usr/src/linux-source-6.12.tar.xz
jobs=$(nproc)
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
export PATH=$HOME/.cargo/bin:$PATH
mk=(make -C "$src" O="$out" LLVM=-19 -j"$jobs")

start=$(date +%s)

if [ ! -f "$src/Makefile" ]; then
	[ -f "$tarball" ] || { echo "kernel.sh: $tarball missing: run 'make deps'" >&2; exit 1; }
	echo "  EXTRACT $tarball"
	mkdir -p "$top/build"
	tar -C "$top/build" -xf "$tarball"
fi

mkdir -p "$out"
stamp=$out/.fragment.sha256
want=$( (cat "$frag"; "${mk[@]}" -s kernelversion) | sha256sum | cut -d' ' -f1)
if [ ! -f "$out/.config" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "  CONFIG  tinyconfig + $(basename "$frag")"
	"${mk[@]}" -s tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag" >/dev/null
	"${mk[@]}" -s olddefconfig
	# Every line of the fragment must have landed: a silently dropped option
	# (an unmet dependency) would make the tests lie.
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" "$out/.config" || { echo "kernel.sh: not applied: $line" >&2; bad=1; } ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			if grep -q "^$opt=" "$out/.config"; then echo "kernel.sh: not applied: $line" >&2; bad=1; fi ;;
		esac
	done < "$frag"
	[ "$bad" = 0 ] || exit 1
	echo "$want" > "$stamp"
fi

"${mk[@]}" bzImage modules
# virtme-ng installs the modules (stock ip_vs.ko and friends) for the guest
# from modules.order when it boots this build.
echo "  KERNEL  $out/arch/x86/boot/bzImage ($(( $(date +%s) - start ))s)"
