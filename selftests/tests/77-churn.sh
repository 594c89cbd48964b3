#!/bin/bash
# Churn (ipvs_rs.ko only). Part 1: the module is loaded, configured (NAT
# services of both families, master and backup sync daemons, the
# estimator), used through NAT and unloaded with all of it in place,
# IPVS_RS_CHURN_CYCLES times (200 with the stock halves, i.e. outside CI;
# 3 in CI). Part 2: IPVS_RS_CHURN_NETNS network namespaces (200; 10 in
# CI) are made with services, some with a sync daemon, and deleted in
# batches, while held flows go on through the director in another; none
# of those flows may move to another real server. Each part prints the
# unreclaimable slab before and after. That figure moves with KASAN's
# quarantine (freed objects it holds, up to 1/32 of the guest's memory),
# so the leak check is kmemleak's, which the run makes after every test.
. selftests/lib.sh
. selftests/dataplane.sh

stock=${IPVS_RS_STOCK:-1}
cycles=${IPVS_RS_CHURN_CYCLES:-}
[ -n "$cycles" ] || { [ "$stock" = 1 ] && cycles=200 || cycles=3; }
nns=${IPVS_RS_CHURN_NETNS:-}
[ -n "$nns" ] || { [ "$stock" = 1 ] && nns=200 || nns=10; }

slab_kb() { awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo; }

config() {
	cat <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r 192.168.1.11:80 -m
		-a -t $VIP:80 -r 192.168.1.12:80 -m
		-A -u $VIP:53 -s wlc -p 60
		-a -u $VIP:53 -r 192.168.1.12:53 -m
		-a -u $VIP:53 -r 192.168.1.13:53 -m
		-A -t [$VIP6]:80 -s sh
		-a -t [$VIP6]:80 -r [fd00:2::13]:80 -m
	EOF
}

dp_setup

# Part 1: load, configure, traffic, unload with everything in place.
slab0=$(slab_kb)
for i in $(seq "$cycles"); do
	load_rs
	config | director ipvsadm -R || fail "cycle $i: configuration"
	director ipvsadm --start-daemon master --mcast-interface br0 --syncid $((i % 256)) ||
		fail "cycle $i: master daemon"
	director ipvsadm --start-daemon backup --mcast-interface br0 --syncid $((i % 256)) ||
		fail "cycle $i: backup daemon"
	a=$(traffic tcp 80 4 | answered)
	expect_eq "cycle $i: TCP through NAT" "answered=4 other=0" "$a"
	a=$(traffic udp 53 4 | answered)
	expect_eq "cycle $i: UDP through NAT" "answered=4 other=0" "$a"
	a=$(FAM=6 traffic tcp 80 2 | answered)
	expect_eq "cycle $i: IPv6 TCP through NAT" "answered=2 other=0" "$a"
	[ "$i" = 1 ] && echo "# cycle 1: $(director ipvsadm -Lnc | grep -c -E 'TCP|UDP') connections at unload"
	rmmod ipvs_rs || fail "cycle $i: rmmod with the configuration in place"
	[ "$i" = 1 ] && slab1=$(slab_kb)
done
echo "# part 1: $cycles cycles; SUnreclaim ${slab0} kB before, ${slab1} kB after the first, $(slab_kb) kB after the last"

# Part 2: namespaces come and go while flows go on in another: TCP
# flows held to servers that answer every question, UDP flows asking
# the data-plane servers again and again.
load_rs
{
	config
	echo "-A -t $VIP:8080 -s rr"
	for r in 11 12 13; do echo "-a -t $VIP:8080 -r 192.168.1.$r:8080 -m"; done
} | director ipvsadm -R || fail "configuration for part 2"
director ipvsadm --start-daemon master --mcast-interface br0 || fail "master daemon"
for r in r1 r2 r3; do
	nsenter --net="/run/netns/$(dp_ns $r)" "$TRAFFIC" serve-echo "$r" 8080 >/dev/null 2>&1 &
	dp_pids+=($!)
done
go=/tmp/churn77.go
rm -f "$go"
in_ns c "$TRAFFIC" steady "$VIP:8080" 4 0 "$go" >/tmp/churn77.tcp &
flows=($!)
in_ns c "$TRAFFIC" steady "$VIP:53" 0 4 "$go" >/tmp/churn77.udp &
flows+=($!)
trap 'touch "$go"; kill "${flows[@]}" 2>/dev/null; dp_teardown' EXIT
slab2=$(slab_kb)
batch=$((nns < 20 ? nns : 20))
made=0
while [ $made -lt "$nns" ]; do
	names=()
	for j in $(seq $batch); do names+=("ipvs-churn-$((made + j))"); done
	printf 'netns add %s\n' "${names[@]}" | ip -batch - || fail "netns add"
	for n in "${names[@]}"; do
		k=${n##*-}
		# Every namespace gets services of both families (their hooks,
		# the estimator); every fifth a sync daemon on its loopback as
		# well. (An IPv4 real server needs an address of the namespace's
		# own first, as on stock: the type check reads its local table.)
		nsenter --net="/run/netns/$n" ipvsadm -R <<-EOF || fail "$n: configuration"
			-A -t 10.1.0.1:80 -s rr
			-A -u [fd00:9::1]:53 -s sh
			-a -u [fd00:9::1]:53 -r [fd00:9::2]:53 -m
		EOF
		if [ $((k % 5)) = 0 ]; then
			ip -n "$n" link set lo multicast on up &&
				nsenter --net="/run/netns/$n" ipvsadm --start-daemon master --mcast-interface lo ||
				fail "$n: sync daemon"
		fi
	done
	printf 'netns del %s\n' "${names[@]}" | ip -batch - || fail "netns del"
	made=$((made + batch))
done
touch "$go"
wait "${flows[@]}"
sed 's/^/# flows: /' /tmp/churn77.tcp /tmp/churn77.udp
grep -q '^tcp same=[1-9][0-9]* moved=0 ' /tmp/churn77.tcp || fail "TCP flows moved or none answered"
grep -q '^udp same=[1-9][0-9]* moved=0 ' /tmp/churn77.udp || fail "UDP flows moved or none answered"
# The namespaces' cleanup runs in a work item; rmmod waits for it.
rmmod ipvs_rs || fail "rmmod after part 2"
echo "# part 2: $made namespaces; SUnreclaim ${slab2} kB before, $(slab_kb) kB after"
