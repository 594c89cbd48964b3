#!/bin/bash
# The real ipvsadm talks to our generic netlink family.
. selftests/lib.sh
command -v ipvsadm >/dev/null || skip "ipvsadm not installed"

want="IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"

load_rs
got=$(ipvsadm -Ln) || fail "ipvsadm -Ln failed"
expect_eq "ipvsadm -Ln" "$want" "$got"
rmmod ipvs_rs

# conn_tab_bits sizes the table, as on stock.
load_rs conn_tab_bits=10
got=$(ipvsadm -Ln | head -1)
expect_eq "size with conn_tab_bits=10" "IP Virtual Server version 1.2.1 (size=1024)" "$got"
rmmod ipvs_rs

# The same header through stock ip_vs.ko, for comparison.
if modprobe ip_vs 2>/dev/null; then
	stock=$(ipvsadm -Ln) || fail "ipvsadm -Ln on stock"
	expect_eq "stock ipvsadm -Ln" "$want" "$stock"
	unload_all
fi
echo "ipvsadm -Ln matches"
