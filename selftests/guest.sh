#!/bin/bash
# Runs inside the VM (see run.sh): every selftests/tests/*.sh, then checks
# the kernel log for splats and kmemleak for leaks. Prints TAP and, last,
# IPVS_RS_RESULT=pass|fail for run.sh.
set -u
top=${IPVS_RS_TOP:?}
cd "$top" || exit 1
# The module under test (another build for another kernel may be given).
export IPVS_RS_KO=${IPVS_RS_KO:-$top/ipvs_rs.ko}
export PATH=$top/ipvsadm-rs/target/release:$PATH

# Every exec reads its binary through the host's root share (virtio-fs
# with virtiofsd, else uncached 9p): our large binaries run from tmpfs
# (ipvsadm-rs: 0.4 s a run from tmpfs, 1.2-1.5 s over 9p).
fast=/run/ipvs-rs-bin
mkdir -p "$fast"
cp "$top/ipvsadm-rs/target/release/ipvsadm-rs" "$top"/selftests/traffic/target/release/ipvs-* "$fast"/ 2>/dev/null
export PATH=$fast:$PATH IPVS_RS_TRAFFIC=$fast/ipvs-traffic

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
# Forget what the kernel allocated while booting: only our leaks count.
# The scans at the end are enough: kmemleak's own every ten minutes would
# take about 17 s of a CPU each.
echo clear > /sys/kernel/debug/kmemleak 2>/dev/null
echo scan=off > /sys/kernel/debug/kmemleak 2>/dev/null
dmesg_start=$(dmesg | wc -l)

if [ "${IPVS_RS_MODE:-test}" = demo ]; then
	bash selftests/demo.sh
	rc=$?
	[ $rc = 0 ] && echo IPVS_RS_RESULT=pass || echo IPVS_RS_RESULT=fail
	exit $rc
fi

n=0
failed=0
tap() { # tap <status 0|4|other> <name> [log file]
	n=$((n + 1))
	case $1 in
	0) echo "ok $n $2" ;;
	4) echo "ok $n $2 # SKIP" ;;
	*) echo "not ok $n $2"; failed=$((failed + 1)) ;;
	esac
	if [ -n "${3:-}" ] && { [ "$1" != 0 ] || [ -n "${IPVS_RS_VERBOSE:-}" ]; }; then
		sed 's/^/# /' "$3"
	fi
}

# read_forks: $forks_now, the processes started since boot (/proc/stat),
# read by bash itself, so counting starts none.
read_forks() {
	local k v
	while read -r k v _; do
		[ "$k" = processes ] && { forks_now=$v; return; }
	done </proc/stat
}

echo "TAP version 13"
out=$(mktemp)
# `make soak`: the soak instead of the tests, with the same checks after.
tests=(selftests/tests/*.sh)
limit=1500
if [ "${IPVS_RS_MODE:-test}" = soak ]; then
	tests=(selftests/soak.sh)
	limit=$((${IPVS_RS_SOAK_MINUTES:-60} * 60 + 900))
fi
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	echo "$name" | grep -Eq -- "${IPVS_RS_PATTERN:-.}" || continue
	start=$(date +%s)
	read_forks
	forks=$forks_now
	timeout -k 5 "$limit" bash "$t" >"$out" 2>&1
	rc=$?
	read_forks
	forks=$((forks_now - forks))
	# Subtests (KUnit cases) print their own TAP lines, indented.
	grep -a '^    \(not \)\?ok ' "$out"
	# Process starts cost about 0.3 s each in this guest: the count is the
	# first thing to look at when a test gets slow.
	tap $rc "$name ($(( $(date +%s) - start ))s, $forks forks)" "$out"
	rmmod ipvs_rs 2>/dev/null
done

# Any splat since the tests started fails the run. A report of a failed
# allocation (warn_alloc's or kmem_cache_create's: a line, a stack dump,
# for warn_alloc the memory summary) is no splat: 74-faults makes them on
# purpose (on failures of its own allocations kmem_cache_create says
# EINVAL). Their count is printed.
dmesg | tail -n +"$((dmesg_start + 1))" |
	awk '/: (page allocation failure|vmalloc error): |kmem_cache_create.*\) failed with error -[0-9]+/ { skip = 1; n++ }
		!skip { print } skip && /<\/TASK>/ { skip = 0 }
		END { if (n) printf "# %d allocation failure reports left out\n", n > "/dev/stderr" }' >"$out"
splat='WARNING:|BUG:|KASAN:|UBSAN:|Oops|general protection|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|lockdep|sleeping function called from invalid context|Call Trace:|refcount_t:|kernel BUG'
if grep -aEq "$splat" "$out"; then
	grep -aE -B2 -A25 "$splat" "$out" >"$out.splat"
	tap 1 "kernel log has no splat" "$out.splat"
else
	tap 0 "kernel log has no splat"
fi

# Leaks: everything is unloaded now; kmemleak reports objects older than 5s.
if [ -w /sys/kernel/debug/kmemleak ]; then
	sleep 6
	# A scan fails once kmemleak turned itself off (it does when its own
	# metadata cannot be allocated): then it has nothing to say.
	if ! { echo scan > /sys/kernel/debug/kmemleak && echo scan > /sys/kernel/debug/kmemleak; } 2>/dev/null; then
		dmesg | grep -i kmemleak | tail -5 >"$out"
		tap 1 "kmemleak finds no leak (kmemleak is off)" "$out"
	else
		# One leak is the kernel's, not ours: when creating a slab cache
		# fails in sysfs_slab_add, 6.12 does not put the kobject, so its
		# name stays allocated (74-faults makes kmem_cache_create fail).
		awk 'function flush() { if (e != "" && !(e ~ /kobject_set_name_vargs/ && e ~ /sysfs_slab_add/)) printf "%s", e; else if (e != "") n++; e = "" }
			/^unreferenced object/ { flush() } { e = e $0 "\n" }
			END { flush(); if (n) printf "# %d leaks of slab cache names left out (sysfs_slab_add)\n", n > "/dev/stderr" }' \
			/sys/kernel/debug/kmemleak >"$out"
		if [ -s "$out" ]; then tap 1 "kmemleak finds no leak" "$out"; else tap 0 "kmemleak finds no leak"; fi
	fi
elif [ -e /sys/kernel/debug/kmemleak ]; then
	tap 1 "kmemleak finds no leak (kmemleak unavailable)"
else
	tap 4 "kmemleak finds no leak (kernel without kmemleak)"
fi

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
rm -f "$out" "$out.splat"
if [ "$failed" = 0 ]; then echo IPVS_RS_RESULT=pass; else echo IPVS_RS_RESULT=fail; fi
[ "$failed" = 0 ]
