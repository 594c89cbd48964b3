#!/bin/bash
# The kernel's own IPVS selftest (DR, NAT and IPIP tunnel, TCP through
# socat), unchanged, against ipvs_rs.ko and then stock ip_vs.ko.
. selftests/lib.sh
command -v socat >/dev/null || skip "socat not installed"
dir=$(dirname "$IPVS_RS_KO")/build/linux-source-6.12/tools/testing/selftests/net/netfilter
[ -f "$dir/ipvs.sh" ] || skip "no kernel tree at $dir"

run_ipvs_sh() { # run_ipvs_sh <label>
	local out rc
	out=$(cd "$dir" && bash ./ipvs.sh 2>&1)
	rc=$?
	echo "$out" | sed "s/^/$1: /"
	return $rc
}

load_rs
run_ipvs_sh ipvs_rs || fail "ipvs.sh failed on ipvs_rs.ko"
rmmod ipvs_rs || fail "rmmod ipvs_rs after ipvs.sh"

if modprobe ip_vs 2>/dev/null; then
	run_ipvs_sh stock || fail "ipvs.sh failed on stock ip_vs.ko"
	unload_all
fi
echo "kernel ipvs.sh passes"
