#!/bin/bash
# Connection sync without multicast (ipvs_rs.ko only, configured with
# ipvsadm-rs --sync-peer): the master sends to the backup's unicast
# address, the backup listens on it and joins no group. The NAT failover
# of 99-sync, over IPv4 and over IPv6 sync addresses; bad peers are
# refused with the kernel's reason.
. selftests/lib.sh
. selftests/sync.sh

TCP_CONNS=12
UDP_FLOWS=4

# unicast <4|6>
unicast() {
	local peer=192.168.9.2
	[ "$1" = 6 ] && peer=fd09::2
	sy_setup nat
	ip -n ipvs-sy-m addr add fd09::1/64 dev sync0 nodad
	ip -n ipvs-sy-b addr add fd09::2/64 dev sync0 nodad
	sy_services nat
	sy_in b ipvsadm-rs --start-daemon backup --mcast-interface sync0 --syncid 7 \
		--sync-peer "$peer" || return 1
	sy_in m ipvsadm-rs --start-daemon master --mcast-interface sync0 --syncid 7 \
		--sync-peer "$peer" || return 1
	echo "m: $(sy_in m ipvsadm-rs -L --daemon)"
	echo "b: $(sy_in b ipvsadm-rs -L --daemon)"
	echo "b joined the group: $(sy_in b ip maddr show dev sync0 | grep -c 224.0.0.81)"
	sy_hold "$TCP_CONNS" "$UDP_FLOWS"
	cat "$sy_out"
	echo "synced: $(sy_synced b $((TCP_CONNS + UDP_FLOWS)))"
	sy_failover nat
	sy_hold_end
	sy_teardown
}

daemon_line() { # daemon_line <state> <maxlen> <peer>
	echo "$1 sync daemon (mcast=sync0, syncid=7, maxlen=$2, group=224.0.0.81, port=8848, ttl=1, peers=$3)"
}
# want <maxlen> <peer>
want() {
	cat <<-EOF
		m: $(daemon_line master "$1" "$2")
		b: $(daemon_line backup "$1" "$2")
		b joined the group: 0
		tcp r1=4 r2=4 r3=4 other=0
		udp r1=1 r2=1 r3=2 other=0
		synced: $((TCP_CONNS + UDP_FLOWS))
		tcp same=$TCP_CONNS moved=0 lost=0
		udp same=$UDP_FLOWS moved=0 lost=0
	EOF
}

load_rs
out=$(unicast 4)
echo "$out"
expect_eq "IPv4 unicast sync" "$(want 1472 192.168.9.2)" "$out"
out=$(unicast 6)
echo "$out"
expect_eq "IPv6 unicast sync" "$(want 1452 fd09::2)" "$out"

# A backup listens on one of its own addresses; peers are unicast, of
# one family, at most 16.
new_netns ipvs-sy-x
ip -n ipvs-sy-x link add sync0 type dummy
ip -n ipvs-sy-x addr add 192.168.9.1/24 dev sync0
ip -n ipvs-sy-x link set sync0 up
x() { ip netns exec ipvs-sy-x ipvsadm-rs "$@" 2>&1; }
expect_eq "a backup on an address it does not have" \
	"ipvsadm-rs: kernel: ipvs: cannot bind the sync socket (Cannot assign requested address (os error 99))" \
	"$(x --start-daemon backup --mcast-interface sync0 --sync-peer 192.168.9.7)"
expect_eq "peers of two families" \
	"ipvsadm-rs: kernel: ipvs: sync peers must be of one family (Invalid argument (os error 22))" \
	"$(x --start-daemon master --mcast-interface sync0 --sync-peer 192.168.9.2 --sync-peer fd09::2)"
peers=()
for i in $(seq 1 17); do peers+=(--sync-peer "192.168.9.$((i + 10))"); done
expect_eq "17 peers" \
	"ipvsadm-rs: kernel: ipvs: too many sync peers (Invalid argument (os error 22))" \
	"$(x --start-daemon master --mcast-interface sync0 "${peers[@]}")"
expect_eq "a multicast peer" "ipvsadm-rs: invalid sync-peer \`239.1.1.1'" \
	"$(x --start-daemon master --mcast-interface sync0 --sync-peer 239.1.1.1)"
expect_eq "daemons after the refusals" 0 "$(x -L --daemon | wc -l)"
rmmod ipvs_rs || fail "rmmod ipvs_rs"
echo "unicast sync ok"
