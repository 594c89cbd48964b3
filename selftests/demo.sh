#!/bin/bash
# The demo, run in the VM by `make demo`: what ipvs_rs.ko does today.
set -u
. selftests/lib.sh
step() { printf '\n=== %s\n' "$*"; }

step "insmod ipvs_rs.ko"
load_rs
dmesg | grep -a ipvs_rs | tail -3

step "the real ipvsadm -Ln, answered by ipvs_rs through the generic netlink family IPVS"
ipvsadm -Ln

step "ipvsadm-rs -Ln and --json"
ipvsadm-rs -Ln
ipvsadm-rs --json

step "sysctls in /proc/sys/net/ipv4/vs (stock names and defaults)"
(cd $sysvs && grep -H . * | column -t -s:)

step "a second network namespace has its own state"
new_netns demo
ip netns exec demo sh -c "echo 4242 > $sysvs/amemthresh"
echo "init netns amemthresh: $(cat $sysvs/amemthresh)"
echo "demo netns amemthresh: $(ip netns exec demo cat $sysvs/amemthresh)"

step "KUnit suite run at load"
cat /sys/kernel/debug/kunit/ipvs_rs/results

step "adding a service: not implemented yet (data plane, issue 3)"
ipvsadm -A -t 10.0.0.1:80 -s rr || true
ipvsadm-rs -C || true

step "rmmod ipvs_rs"
rmmod ipvs_rs && echo unloaded
