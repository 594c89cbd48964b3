#!/bin/bash
# Boot the test kernel in a virtme-ng VM and run the selftests in it.
#
#   selftests/run.sh [--demo|--soak] <kernel build dir> [test-name-pattern]
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
case ${1:-} in --demo) mode=demo; shift ;; --soak) mode=soak; shift ;; esac
kdir=$(realpath "${1:?usage: run.sh [--demo|--soak] <kernel build dir> [pattern]}")
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
soak_minutes=${IPVS_RS_SOAK_MINUTES:-60}
[ "$mode" = soak ] && vm_timeout=${IPVS_RS_VM_TIMEOUT:-$((soak_minutes * 60 + 1800))}

# run_vm <pattern> <log>: one VM running the tests that match.
run_vm() {
	# pty.legacy_count=0: the 512 legacy pty devices would each cost udev
	# a rule run at boot, minutes in an emulated guest.
	# The guest may hang (a deadlock under test); `timeout` bounds the run.
	timeout --foreground -k 10 "$vm_timeout" \
		vng --run "$kdir" "${accel[@]}" --cpus 2 --memory 2G \
		--rwdir "$top/build" --cwd "$top" \
		--append "kunit.enable=1 panic_on_warn=0 oops=panic panic=-1 kmemleak=on pty.legacy_count=0" \
		--exec "IPVS_RS_KO=${IPVS_RS_KO:-} IPVS_RS_VERBOSE=${IPVS_RS_VERBOSE:-} IPVS_RS_STOCK=$stock IPVS_RS_V6=$v6 IPVS_RS_SYNC_TABLE=$table IPVS_RS_FUZZ=${IPVS_RS_FUZZ:-} IPVS_RS_CHURN_SECS=${IPVS_RS_CHURN_SECS:-} IPVS_RS_CHURN_CYCLES=${IPVS_RS_CHURN_CYCLES:-} IPVS_RS_CHURN_NETNS=${IPVS_RS_CHURN_NETNS:-} IPVS_RS_FAULT_STRIDE=${IPVS_RS_FAULT_STRIDE:-} IPVS_RS_PKTFUZZ=${IPVS_RS_PKTFUZZ:-} IPVS_RS_SOAK_MINUTES=$soak_minutes IPVS_RS_TOP=$top IPVS_RS_MODE=$mode IPVS_RS_PATTERN='$1' $top/selftests/guest.sh" \
		</dev/null >"$2" 2>&1
}

# check_vm <rc> <log> <label>: 0 if that VM finished and passed.
check_vm() {
	local result
	result=$(grep -a -o 'IPVS_RS_RESULT=[a-z]*' "$2" | tail -1 | cut -d= -f2)
	if [ "$1" = 124 ] || [ "$1" = 137 ]; then
		echo "# FAIL$3: the VM did not finish within ${vm_timeout}s" >&2
		return 1
	fi
	if [ "$result" != pass ]; then
		echo "# FAIL$3: guest result '${result:-none}' (vng exit $1)" >&2
		return 1
	fi
}

start=$(date +%s)

# The guest keeps one host core and a half busy (exec alone costs 0.2 to
# 0.6 s in this debug kernel under TCG), so the suite runs in
# IPVS_RS_VM_JOBS VMs side by side (default 2), each with a share of the
# tests balanced by selftests/durations.
jobs=${IPVS_RS_VM_JOBS:-2}
names=()
if [ "$mode" = test ]; then
	for t in "$top"/selftests/tests/*.sh; do
		n=$(basename "$t" .sh)
		echo "$n" | grep -Eq -- "${pattern:-.}" && names+=("$n")
	done
fi
[ "${#names[@]}" -lt "$jobs" ] && jobs=${#names[@]}

if [ "$jobs" -le 1 ]; then
	# Empty first: tail must not show the last run's lines.
	: >"$log"
	run_vm "$pattern" "$log" &
	pid=$!
	tail --pid=$pid -n +1 -F "$log" 2>/dev/null
	wait $pid
	rc=$?
	echo "# VM run took $(( $(date +%s) - start ))s (log: ${log#$top/})"
	check_vm "$rc" "$log" ""
	exit
fi

# Longest first, each to the share with the least time so far.
declare -A secs
while read -r n s; do
	[ "${n#\#}" = "$n" ] && secs[$n]=$s
done <"$top/selftests/durations"
share=()
for ((i = 0; i < jobs; i++)); do share[i]=0; done
pats=()
while read -r _ n; do
	best=0
	for ((i = 1; i < jobs; i++)); do
		[ "${share[i]}" -lt "${share[best]}" ] && best=$i
	done
	share[best]=$(( share[best] + ${secs[$n]:-60} ))
	pats[best]="${pats[best]:+${pats[best]}|}$n"
done < <(for n in "${names[@]}"; do echo "${secs[$n]:-60} $n"; done | sort -rn)

# vng links the build's modules into $kdir/.virtme_mods when they are
# newer than its links; two VMs starting at once would both do it (on a
# fresh build: "ln: ... File exists"). Once, here, first.
mods=$kdir/.virtme_mods/lib/modules/0.0.0/modules.dep
if [ -e "$kdir/modules.order" ] && { [ ! -e "$mods" ] || [ "$kdir/modules.order" -nt "$mods" ]; }; then
	(cd "$kdir" && virtme-prep-kdir-mods) >/dev/null || echo "# virtme-prep-kdir-mods failed; vng will try" >&2
fi

pids=()
for ((i = 0; i < jobs; i++)); do
	: >"${log%.log}.$i.log"
	run_vm "^(${pats[i]})\$" "${log%.log}.$i.log" &
	pids[i]=$!
done
# Each VM's lines as they come, marked with its number.
for ((i = 0; i < jobs; i++)); do
	tail --pid="${pids[i]}" -n +1 -F "${log%.log}.$i.log" 2>/dev/null | sed -u "s/^/[$i] /" &
done
fail=0
for ((i = 0; i < jobs; i++)); do
	wait "${pids[i]}"
	rcs[i]=$?
done
wait
for ((i = 0; i < jobs; i++)); do cat "${log%.log}.$i.log"; done >"$log"
echo "# VM run took $(( $(date +%s) - start ))s in $jobs VMs (logs: ${log#$top/}, ${log%.log}.N.log)"
for ((i = 0; i < jobs; i++)); do
	check_vm "${rcs[i]}" "${log%.log}.$i.log" " in VM $i" || fail=1
done
exit $fail
