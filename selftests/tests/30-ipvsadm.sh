#!/bin/bash
# The real ipvsadm talks to our generic netlink family.
. selftests/lib.sh
command -v ipvsadm >/dev/null || skip "ipvsadm not installed"

# size= is the table's current size: 256 buckets while it is empty (stock
# 6.12: its fixed 4096; see deviations.rst).
want="IP Virtual Server version 1.2.1 (size=256)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"

load_rs
got=$(ipvsadm -Ln) || fail "ipvsadm -Ln failed"
expect_eq "ipvsadm -Ln" "$want" "$got"
rmmod ipvs_rs

# conn_tab_bits is the largest size (75-conn-resize grows to it); the
# table still starts small, and so does /proc/net/ip_vs.
load_rs conn_tab_bits=10
got=$(ipvsadm -Ln | head -1)
expect_eq "size with conn_tab_bits=10" "IP Virtual Server version 1.2.1 (size=256)" "$got"
expect_eq "/proc/net/ip_vs size" "IP Virtual Server version 1.2.1 (size=256)" "$(head -1 /proc/net/ip_vs)"
rmmod ipvs_rs

# Every command needs CAP_NET_ADMIN, reads included (as stock), in the
# user namespace owning the network namespace (stock: the initial one).
load_rs
err=$(nobody ipvsadm -A -t 10.9.9.9:80 -s rr 2>&1) && fail "nobody added a service"
case $err in *"ermission denied"* | *"not permitted"*) ;; *) fail "nobody's add: '$err', not EPERM" ;; esac
nobody ipvsadm -Ln >/dev/null 2>&1 && fail "nobody listed the services"
# Root of a new user namespace, still in this network namespace: no.
nobody unshare -Ur ipvsadm -A -t 10.9.9.9:80 -s rr 2>/dev/null &&
	fail "a user namespace's root added a service to the initial netns"
# Root of a new user namespace in its own network namespace: yes, there.
# (With lo up: a namespace without a local routing table takes no real
# server, on stock neither: inet_addr_type says broadcast.)
got=$(nobody unshare -Urn sh -c 'ip link set lo up && ipvsadm -A -t 10.9.9.9:80 -s rr &&
	ipvsadm -a -t 10.9.9.9:80 -r 10.9.9.10:80 -m && ipvsadm -Ln | tail -n +4 | sed "s/ *\$//"') ||
	fail "a user namespace's root could not configure its own netns: $got"
expect_eq "container's own table" "TCP  10.9.9.9:80 rr
  -> 10.9.9.10:80                 Masq    1      0          0" "$got"
got=$(ipvsadm -Ln | tail -n +4)
expect_eq "initial netns untouched" "" "$got"
rmmod ipvs_rs

# The same header through stock ip_vs.ko, for comparison.
if modprobe ip_vs 2>/dev/null; then
	stock=$(ipvsadm -Ln) || fail "ipvsadm -Ln on stock"
	expect_eq "stock ipvsadm -Ln" "${want/size=256/size=4096}" "$stock"
	unload_all
fi
echo "ipvsadm -Ln matches"
