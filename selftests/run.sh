#!/bin/bash
# Boot the test kernel in a virtme-ng VM and run the selftests in it.
#
#   selftests/run.sh [--demo] <kernel build dir> [test-name-pattern]
#
# Output is TAP, one line per test (KUnit cases included); the exit status
# is non-zero if any test failed, the guest saw a kernel splat, or the VM
# did not finish in time.
set -uo pipefail

top=$(realpath "$(dirname "$0")/..")
# vng finds virtiofsd (make deps) here and then shares the root over
# virtio-fs instead of 9p.
export PATH=$HOME/.cargo/bin:$PATH
mode=test
if [ "${1:-}" = --demo ]; then mode=demo; shift; fi
kdir=$(realpath "${1:?usage: run.sh [--demo] <kernel build dir> [pattern]}")
pattern=${2:-}
log=${IPVS_RS_VM_LOG:-$top/build/vm-$mode.log}
mkdir -p "$top/build"

# This machine's /dev/kvm cannot run guests (no vmx): use TCG unless KVM is
# known to work (IPVS_RS_KVM=1).
accel=(--disable-kvm)
[ "${IPVS_RS_KVM:-0}" = 1 ] && accel=()

# Data-plane tests also run their scenario on stock ip_vs.ko and compare;
# that doubles their time, so CI (which has 90 minutes for everything)
# leaves it out unless IPVS_RS_STOCK=1.
stock=${IPVS_RS_STOCK:-1}
[ "${CI:-}" = true ] && stock=${IPVS_RS_STOCK:-0}
# The NAT scenario's IPv6 pass (about 5 minutes; ICMPv6, extension
# headers and IPv6 fragments are tested there only). IPVS_RS_V6=0 drops it.
v6=${IPVS_RS_V6:-1}
# 99-sync-table's connections (about 1.5 kB each on this debug kernel,
# twice: master and backup; 100k take two minutes to make here). A
# million is make bench's sync flood, on the benchmark kernel. CI takes
# 20k (the same steps, a fifth of the time).
table=${IPVS_RS_SYNC_TABLE:-100000}
[ "${CI:-}" = true ] && table=${IPVS_RS_SYNC_TABLE:-20000}
# The stock halves make the whole suite take well over an hour here.
vm_timeout=${IPVS_RS_VM_TIMEOUT:-4500}
[ "$stock" = 1 ] && vm_timeout=${IPVS_RS_VM_TIMEOUT:-9000}

start=$(date +%s)
# pty.legacy_count=0: the 512 legacy pty devices would each cost udev a
# rule run at boot, minutes in an emulated guest.
# The guest may hang (a deadlock under test); `timeout` bounds the run.
timeout --foreground -k 10 "$vm_timeout" \
	vng --run "$kdir" "${accel[@]}" --cpus 2 --memory 2G \
	--rwdir "$top/build" --cwd "$top" \
	--append "kunit.enable=1 panic_on_warn=0 oops=panic panic=-1 kmemleak=on pty.legacy_count=0" \
	--exec "IPVS_RS_KO=${IPVS_RS_KO:-} IPVS_RS_VERBOSE=${IPVS_RS_VERBOSE:-} IPVS_RS_STOCK=$stock IPVS_RS_V6=$v6 IPVS_RS_SYNC_TABLE=$table IPVS_RS_FUZZ=${IPVS_RS_FUZZ:-} IPVS_RS_CHURN_SECS=${IPVS_RS_CHURN_SECS:-} IPVS_RS_TOP=$top IPVS_RS_MODE=$mode IPVS_RS_PATTERN='$pattern' $top/selftests/guest.sh" \
	2>&1 </dev/null | tee "$log"
rc=${PIPESTATUS[0]}
secs=$(( $(date +%s) - start ))

result=$(grep -a -o 'IPVS_RS_RESULT=[a-z]*' "$log" | tail -1 | cut -d= -f2)
echo "# VM run took ${secs}s (log: ${log#$top/})"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "# FAIL: the VM did not finish within ${vm_timeout}s" >&2
	exit 1
fi
if [ "$result" != pass ]; then
	echo "# FAIL: guest result '${result:-none}' (vng exit $rc)" >&2
	exit 1
fi
exit 0
