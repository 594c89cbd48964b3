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

step "a client, a director and three real servers (network namespaces)"
. selftests/dataplane.sh
dp_setup
echo "client 10.0.0.2 -> director VIP $VIP -> r1 192.168.1.11, r2 .12, r3 .13 (NAT)"

step "a TCP service, weighted round robin 3:2:1, configured with the real ipvsadm"
director ipvsadm -A -t "$VIP:80" -s wrr
director ipvsadm -a -t "$VIP:80" -r 192.168.1.11:80 -m -w 3
director ipvsadm -a -t "$VIP:80" -r 192.168.1.12:80 -m -w 2
director ipvsadm -a -t "$VIP:80" -r 192.168.1.13:80 -m -w 1
director ipvsadm -A -u "$VIP:53" -s rr
for r in r1 r2 r3; do add_rs -u 53 "$r" 1; done
director ipvsadm -Ln

step "traffic: 30 TCP connections and 30 UDP queries from the client; who answered"
echo "tcp: $(traffic tcp 80 30)"
echo "udp: $(traffic udp 53 30)"

step "the balance and the counters, with the real ipvsadm and ipvsadm-rs"
director ipvsadm -Ln
director ipvsadm -Ln --stats
director ipvsadm-rs -Ln --json | head -40
step "connections (/proc/net/ip_vs_conn through ipvsadm -Lnc)"
director ipvsadm -Lnc | head -12

step "errors come back with the kernel's explanation"
director ipvsadm-rs -A -t "$VIP:80" -s rr || true
director ipvsadm-rs -a -t "$VIP:80" -r 192.168.1.19:80 -m -x 1 -y 5 || true
director ipvsadm-rs -C
dp_teardown

step "rmmod ipvs_rs"
rmmod ipvs_rs && echo unloaded
