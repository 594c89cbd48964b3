#!/bin/bash
# Full resynchronization on join (ipvs_rs.ko only): the backup starts
# after the master's connections went idle, so ordinary sync would never
# send them again; the backup asks its masters when it starts and gets
# their whole tables. Over multicast and over unicast (IPv4, IPv6); then
# the NAT failover of 99-sync. Stock (unless IPVS_RS_STOCK=0) shows what
# a late backup has without it.
. selftests/lib.sh
. selftests/sync.sh

TCP_CONNS=12
UDP_FLOWS=4
ID="--mcast-interface sync0 --syncid 7"

stat() { sy_in "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/ip_vs_sync_stats; }

# late <mcast|4|6> [stock]: the backup's daemon starts once the master's
# connections are idle.
late() {
	local m_peer=() b_peer=()
	case $1 in
	4) m_peer=(--sync-peer 192.168.9.2) b_peer=(--sync-peer 192.168.9.2 --sync-peer 192.168.9.1) ;;
	6) m_peer=(--sync-peer fd09::2) b_peer=(--sync-peer fd09::2 --sync-peer fd09::1) ;;
	esac
	sy_setup nat
	ip -n ipvs-sy-m addr add fd09::1/64 dev sync0 nodad
	ip -n ipvs-sy-b addr add fd09::2/64 dev sync0 nodad
	sy_services nat
	# shellcheck disable=SC2086
	sy_in m ipvsadm-rs --start-daemon master $ID "${m_peer[@]}" || return 1
	sy_hold "$TCP_CONNS" "$UDP_FLOWS"
	cat "$sy_out"
	# A message waits at most two seconds: all has gone out, to nobody.
	sleep 3
	# shellcheck disable=SC2086
	sy_in b ipvsadm-rs --start-daemon backup $ID "${b_peer[@]}" || return 1
	echo "synced: $(sy_synced b $((TCP_CONNS + UDP_FLOWS)))"
	if [ "${2:-}" = stock ]; then
		kill "$sy_hold_pid" 2>/dev/null
		wait "$sy_hold_pid" 2>/dev/null
		rm -f "$sy_go" "$sy_out"
		sy_teardown
		return
	fi
	echo "resyncs: $(stat m resyncs)"
	sy_failover nat
	sy_hold_end
	sy_teardown
}

want="tcp r1=4 r2=4 r3=4 other=0
udp r1=1 r2=1 r3=2 other=0
synced: $((TCP_CONNS + UDP_FLOWS))
resyncs: 1
tcp same=$TCP_CONNS moved=0 lost=0
udp same=$UDP_FLOWS moved=0 lost=0"

load_rs
for kind in mcast 4 6; do
	out=$(late $kind)
	echo "== $kind"
	echo "$out"
	expect_eq "late backup, $kind" "$want" "$out"
done
rmmod ipvs_rs || fail "rmmod ipvs_rs"

if [ "${IPVS_RS_STOCK:-1}" = 1 ] && modprobe ip_vs 2>/dev/null && modprobe ip_vs_rr; then
	# Stock has no resync (and no unicast): its late backup holds nothing.
	ID="--mcast-interface sync0 --syncid 7"
	stock=$(late mcast stock)
	echo "== stock"
	echo "$stock"
	unload_all
	expect_eq "stock's late backup" "0" "$(echo "$stock" | sed -n 's/^synced: //p')"
fi
echo "resync on join ok"
