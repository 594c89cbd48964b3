#!/bin/bash
# Netlink fuzzing: ipvs-nlfuzz sends requests built from the IPVS
# family's policy (boundary values, wrong lengths and types, garbage
# nests, cut and oversized messages, flipped bytes) to ipvs_rs.ko in a
# namespace of its own: 100000 as root (20000 in CI), every tenth one
# checked, if refused, to have changed nothing; then 3000 as nobody, all
# refused, the configuration unchanged. The module must still work and
# unload; the run's splat and kmemleak checks cover the rest. Outside CI
# the same messages (the first 20000) go to stock ip_vs.ko too, and each
# answer must be stock's (see Documentation/testing.rst).
. selftests/lib.sh

FUZZ=${IPVS_RS_TOP:-$(dirname "$IPVS_RS_KO")}/selftests/traffic/target/release/ipvs-nlfuzz
[ -x "$FUZZ" ] || skip "no $FUZZ (make traffic)"
# CI runs without the stock halves (run.sh).
stock=${IPVS_RS_STOCK:-1}
N=${IPVS_RS_FUZZ:-}
[ -n "$N" ] || { [ "$stock" = 1 ] && N=100000 || N=20000; }
SEED=1
NS=ipvs-fuzz

# fuzz <transcript> <args...>: in a fresh namespace; stops its daemons
# and flushes it after.
fuzz() {
	local t=$1 rc
	shift
	new_netns $NS
	ip netns exec $NS "$FUZZ" "$@" "$t"
	rc=$?
	ip netns exec $NS "$FUZZ" 3000 "$((SEED + 1))" nobody "$t.nobody" || rc=1
	ip netns exec $NS ipvsadm --stop-daemon master 2>/dev/null
	ip netns exec $NS ipvsadm --stop-daemon backup 2>/dev/null
	ip netns exec $NS ipvsadm -C
	ip netns del $NS
	netns_list=()
	return $rc
}

load_rs
start=$(date +%s)
fuzz /tmp/nlfuzz.rs "$N" "$SEED" || fail "ipvs_rs.ko: a violation above"
echo "ipvs_rs.ko: $N messages as root, 3000 as nobody in $(($(date +%s) - start)) s"
# Still configurable after it all, and unloads.
ipvsadm -A -t 10.0.0.1:80 -s rr && ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2 -m ||
	fail "no service after the fuzzing"
expect_eq "listing after the fuzzing" 1 "$(ipvsadm -Ln | grep -c '192.168.0.2:80')"
ipvsadm -C
rmmod ipvs_rs || fail "rmmod ipvs_rs after the fuzzing"

[ "$stock" = 1 ] || exit 0
modprobe ip_vs 2>/dev/null || exit 0
for m in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos pe_sip; do
	modprobe "ip_vs_$m" 2>/dev/null
done
M=$((N < 20000 ? N : 20000))
fuzz /tmp/nlfuzz.stock "$M" "$SEED" || fail "stock ip_vs.ko: a violation above"
unload_all
# The same messages, answered alike? Only the first M are compared.
head -n "$M" /tmp/nlfuzz.rs >/tmp/nlfuzz.rs.head
diffs=$(diff /tmp/nlfuzz.rs.head /tmp/nlfuzz.stock | grep -c '^<')
echo "answers that differ from stock's in $M messages: $diffs"
diff /tmp/nlfuzz.rs.head /tmp/nlfuzz.stock | grep '^[<>]' | head -40
expect_eq "answers that differ from stock's" 0 "$diffs"
