#!/bin/bash
# Every network namespace gets its own IPVS state.
. selftests/lib.sh

load_rs
new_netns ipvs-a
new_netns ipvs-b
echo 111 > $sysvs/amemthresh
ip netns exec ipvs-a sh -c "echo 222 > $sysvs/amemthresh" || fail "write in ipvs-a"
expect_eq "init netns" 111 "$(cat $sysvs/amemthresh)"
expect_eq "ipvs-a" 222 "$(ip netns exec ipvs-a cat $sysvs/amemthresh)"
expect_eq "ipvs-b keeps the default" 1024 "$(ip netns exec ipvs-b cat $sysvs/amemthresh)"

# A namespace created after the module loaded gets state too.
new_netns ipvs-c
expect_eq "ipvs-c" 1024 "$(ip netns exec ipvs-c cat $sysvs/amemthresh)"
if command -v ipvsadm >/dev/null; then
	ip netns exec ipvs-c ipvsadm -Ln | grep -q '^IP Virtual Server version 1.2.1' ||
		fail "ipvsadm -Ln in a netns"
fi

# A family's hooks come with its first service and go with its last:
# two writers at once add and delete services of both families (the
# netlink family runs requests in parallel), then a namespace goes with
# both families' hooks attached.
if command -v ipvsadm >/dev/null; then
	for w in 1 2; do
		for i in $(seq 25); do
			echo "-A -t 10.0.$w.1:$i -s rr"
			echo "-A -u [fd00::$w]:$i -s rr"
			echo "-D -t 10.0.$w.1:$i"
			echo "-D -u [fd00::$w]:$i"
		done | ip netns exec ipvs-c ipvsadm -R &
	done
	wait
	expect_eq "services left by the writers" 0 \
		"$(ip netns exec ipvs-c ipvsadm -Ln | grep -c '^[TU]')"
	ip netns exec ipvs-c ipvsadm -A -t 10.0.0.1:80 -s rr || fail "IPv4 service"
	ip netns exec ipvs-c ipvsadm -A -u [fd00::1]:53 -s rr || fail "IPv6 service"
	ip netns del ipvs-c
fi

# Namespaces can go away while the module stays, and the module can go
# while namespaces stay.
ip netns del ipvs-a
rmmod ipvs_rs || fail "rmmod with live namespaces"
ip netns exec ipvs-b test -e $sysvs && fail "sysctls left in ipvs-b after unload"
load_rs
expect_eq "ipvs-b after reload" 1024 "$(ip netns exec ipvs-b cat $sysvs/amemthresh)"
rmmod ipvs_rs
echo "per-netns state ok"
