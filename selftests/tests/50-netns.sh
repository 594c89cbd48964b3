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

# Namespaces can go away while the module stays, and the module can go
# while namespaces stay.
ip netns del ipvs-a
rmmod ipvs_rs || fail "rmmod with live namespaces"
ip netns exec ipvs-b test -e $sysvs && fail "sysctls left in ipvs-b after unload"
load_rs
expect_eq "ipvs-b after reload" 1024 "$(ip netns exec ipvs-b cat $sysvs/amemthresh)"
rmmod ipvs_rs
echo "per-netns state ok"
