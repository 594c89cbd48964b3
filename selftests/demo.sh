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

step "a service with three real servers, configured with the real ipvsadm"
ipvsadm -A -t 10.0.0.1:80 -s wrr
ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 3
ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.3:8080 -m -w 2
ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.4:8080 -m -w 1
ipvsadm -A -u 10.0.0.1:53 -s rr -p 600
ipvsadm -a -u 10.0.0.1:53 -r 192.168.0.2 -g
ipvsadm -Ln
step "the same through ipvsadm-rs, its JSON, and /proc/net/ip_vs"
ipvsadm-rs -Ln --thresholds
ipvsadm-rs -Ln --json | head -30
cat /proc/net/ip_vs
step "errors come back with the kernel's explanation"
ipvsadm-rs -A -t 10.0.0.1:80 -s rr || true
ipvsadm-rs -a -t 10.0.0.1:80 -r 192.168.0.9:8080 -m -x 1 -y 5 || true
echo "(forwarding traffic to the real servers comes with the data plane)"
ipvsadm-rs -C

step "rmmod ipvs_rs"
rmmod ipvs_rs && echo unloaded
