#!/bin/bash
# Allocation failure (ipvs_rs.ko only): the kernel's fault injection
# (failslab and fail_page_alloc) fails only allocations made with module
# code on the stack (require-start/-end around the module area), so the
# sweeps count the module's own allocations and the ones it asks of the
# kernel (netlink messages, sysctls, /proc, sockets), not the loader's.
#   1. load: the module is loaded with its 1st, 2nd, ... allocation
#      failing (every IPVS_RS_FAULT_STRIDE-th in CI); a failed load
#      leaves nothing behind, a load that succeeds unloads;
#   2. configuration: each request of an 18-step script (services, real
#      servers, daemons, timeouts, listings, zero, deletions, flush) with
#      its 1st, 2nd, ... allocation failing: refused, nothing changed;
#      accepted, the configuration is what it asked for;
#   3. traffic: 5% of the module's allocations fail while new TCP and
#      UDP connections cross a NAT director; a connection not made is
#      reported as stock does; afterwards every connection is answered,
#      the counts agree with the connection list, and the module
#      unloads.
# kmemleak (after the test) must find no leak and the log no splat.
. selftests/lib.sh
. selftests/dataplane.sh

FUZZ=${IPVS_RS_TOP:-$(dirname "$IPVS_RS_KO")}/selftests/traffic/target/release/ipvs-nlfuzz
[ -x "$FUZZ" ] || skip "no $FUZZ (make traffic)"
dbg=/sys/kernel/debug
[ -e /proc/thread-self/fail-nth ] && [ -d $dbg/failslab ] && [ -d $dbg/fail_page_alloc ] &&
	[ -e $dbg/failslab/require-start ] ||
	skip "kernel without CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC or their stack filter"
stock=${IPVS_RS_STOCK:-1}
stride=${IPVS_RS_FAULT_STRIDE:-}
[ -n "$stride" ] || { [ "$stock" = 1 ] && stride=1 || stride=4; }

# fa <attribute> <value>: for both failslab and fail_page_alloc.
fa() {
	local f
	for f in failslab fail_page_alloc; do
		echo "$2" >"$dbg/$f/$1" || fail "cannot set $f/$1 to $2"
	done
}
restore() {
	fa probability 0
	fa times 1
	fa require-start 0
	fa require-end 18446744073709551615
	dp_teardown
}
trap restore EXIT

# Code above the kernel's text: the modules (x86-64 puts them between the
# kernel image and the fixmap).
etext=$(awk '$3 == "_etext" { print $1; exit }' /proc/kallsyms)
[ -n "$etext" ] && [ "$etext" != 0000000000000000 ] || fail "no _etext in /proc/kallsyms"
fa verbose 0
fa task-filter N
fa ignore-gfp-wait N
fa probability 0
fa interval 1
fa times -1
fa stacktrace-depth 32
fa require-start "0x$etext"
fa require-end 0xffffffffff000000
echo N >$dbg/fail_page_alloc/ignore-gfp-highmem
echo 0 >$dbg/fail_page_alloc/min-order

# 1. Load.
unload_all
start=$(date +%s)
"$FUZZ" faults-load "$IPVS_RS_KO" "$stride" || fail "loading under allocation failure"
echo "# load: $(($(date +%s) - start)) s"
load_rs
grep -q "^ipvs_rs " /proc/modules || fail "no module after the sweep"
addr=$(awk '$1 == "ipvs_rs" { print $6 }' /proc/modules)
[ $((addr)) -gt $((0x$etext)) ] 2>/dev/null ||
	echo "# note: module at $addr, not above _etext $etext (the stack filter misses it)"

# 2. Configuration, in a namespace of its own.
new_netns ipvs-faults
start=$(date +%s)
ip netns exec ipvs-faults "$FUZZ" faults-config lo || fail "configuration under allocation failure"
echo "# config: $(($(date +%s) - start)) s"
ip netns del ipvs-faults
netns_list=()

# 3. Traffic through NAT while 5% of the module's allocations fail.
dp_setup
director ipvsadm -R <<-EOF || fail "configuration for traffic"
	-A -t $VIP:80 -s rr
	-a -t $VIP:80 -r 192.168.1.11:80 -m
	-a -t $VIP:80 -r 192.168.1.12:80 -m
	-A -u $VIP:53 -s wlc
	-a -u $VIP:53 -r 192.168.1.12:53 -m
	-a -u $VIP:53 -r 192.168.1.13:53 -m
EOF
nomem() { dmesg | grep -c 'ip_vs_conn_new(): no memory'; }
reported=$(nomem)
times=100000000
echo "$times" >$dbg/failslab/times
echo 5 >$dbg/failslab/probability
t=$(traffic tcp 80 60 | answered)
u=$(traffic udp 53 200 | answered)
echo 0 >$dbg/failslab/probability
injected=$((times - $(cat $dbg/failslab/times)))
echo "# with 5% failing ($injected allocations failed): TCP $t, UDP $u"
[ "$injected" -gt 0 ] || fail "no allocation failed during the traffic"
# A connection not made drops its packet and says so, as stock
# (rate-limited).
reported=$(($(nomem) - reported))
echo "# connections not made for want of memory, reported: $reported"
[ "$reported" -gt 0 ] || fail "no failed connection allocation reported"
# Everything answered again, and the connection counts add up.
a=$(traffic tcp 80 20 | answered)
expect_eq "TCP through NAT after the faults" "answered=20 other=0" "$a"
a=$(traffic udp 53 20 | answered)
expect_eq "UDP through NAT after the faults" "answered=20 other=0" "$a"
listed=$(director ipvsadm -Lnc | grep -cE '^(TCP|UDP) ')
counted=$(director ipvsadm -Ln | awk '$1 == "->" && $2 ~ /:/ && $5 ~ /^[0-9]+$/ { s += $5 + $6 } END { print s + 0 }')
expect_eq "connections counted by the real servers vs listed" "$listed" "$counted"
dp_teardown
rmmod ipvs_rs || fail "rmmod ipvs_rs after the faults"
