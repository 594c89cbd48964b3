#!/bin/bash
# The module loads and unloads 8 times; its sysctls and genetlink family
# come and go with it.
. selftests/lib.sh

for i in $(seq 8); do
	load_rs
	[ -r $sysvs/amemthresh ] || fail "round $i: $sysvs/amemthresh missing after load"
	grep -q '^ipvs_rs ' /proc/modules || fail "round $i: not in /proc/modules"
	rmmod ipvs_rs || fail "round $i: rmmod"
	[ -e $sysvs ] && fail "round $i: $sysvs left behind after unload"
done
echo "8 load/unload rounds"
