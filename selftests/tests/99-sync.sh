#!/bin/bash
# Connection sync: a master and a backup director with the same services;
# TCP connections and UDP flows through the master are synced to the
# backup; the virtual address moves; every connection goes on through the
# backup to the same real server. NAT and direct routing. On ipvs_rs.ko
# and (unless IPVS_RS_STOCK=0) stock ip_vs.ko, with the same transcript.
. selftests/lib.sh
. selftests/sync.sh

TCP_CONNS=24
UDP_FLOWS=8

# failover <nat|dr>
failover() {
	local mode=$1
	sy_setup "$mode"
	sy_services "$mode"
	sy_in m ipvsadm --start-daemon master --mcast-interface sync0 --syncid 7 || return 1
	sy_in b ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 7 || return 1
	echo "m: $(sy_in m ipvsadm -L --daemon)"
	echo "b: $(sy_in b ipvsadm -L --daemon)"
	sy_hold "$TCP_CONNS" "$UDP_FLOWS"
	cat "$sy_out"
	echo "synced: $(sy_synced b $((TCP_CONNS + UDP_FLOWS)))"
	sy_in b ipvsadm -Ln | tail -n +4
	sy_failover "$mode"
	sy_hold_end
	sy_in b ipvsadm --stop-daemon backup
	sy_in m ipvsadm --stop-daemon master
	echo "after stop: $(sy_in m ipvsadm -L --daemon | wc -l) $(sy_in b ipvsadm -L --daemon | wc -l)"
	sy_teardown
}

scenario() {
	echo "== nat"
	failover nat
	echo "== dr"
	failover dr
}

# rr takes the real servers newest first (stock adds each at the head of
# its list; ipvsadm sorts them for the listing): 8 UDP flows go 2/3/3.
want() {
	local fwd=Masq base=10.1.0.1 mode i
	for mode in nat dr; do
		[ $mode = dr ] && fwd=Route base=10.0.0.2
		cat <<-EOF
			== $mode
			m: master sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
			b: backup sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
			tcp r1=8 r2=8 r3=8 other=0
			udp r1=2 r2=3 r3=3 other=0
			synced: $((TCP_CONNS + UDP_FLOWS))
			TCP  $SY_VIP:80 rr
		EOF
		for i in 1 2 3; do printf '  -> %-28s %-7s %-6d %-10d %-10d\n' "${base}$i:80" $fwd 1 8 0; done
		echo "UDP  $SY_VIP:80 rr"
		for i in 1 2 3; do
			printf '  -> %-28s %-7s %-6d %-10d %-10d\n' "${base}$i:80" $fwd 1 0 $((i == 1 ? 2 : 3))
		done
		cat <<-EOF
			tcp same=$TCP_CONNS moved=0 lost=0
			udp same=$UDP_FLOWS moved=0 lost=0
			after stop: 0 0
		EOF
	done
}

load_rs
out=$(scenario)
echo "$out"
rmmod ipvs_rs || fail "rmmod ipvs_rs"
expect_eq "failover transcript" "$(want)" "$out"

if [ "${IPVS_RS_STOCK:-1}" = 1 ] && modprobe ip_vs 2>/dev/null && modprobe ip_vs_rr; then
	stock=$(scenario)
	unload_all
	expect_eq "transcript ipvs_rs vs stock" "$out" "$stock"
fi
echo "sync failover ok"
