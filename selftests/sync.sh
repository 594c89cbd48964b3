# Two directors and a connection sync link (sourced by the sync tests).
#
#   client c 10.0.0.2 --+-- lan --+-- master m 10.0.0.11 (VIP 10.0.0.100)
#                       |         +-- backup b 10.0.0.12
#   DR: r1..r3 .21-.23 -+                 m, b: sync0 192.168.9.1/.2 (a link)
#   NAT: r1..r3 10.1.0.11-13 on srv, default via 10.1.0.1 (on the master)
#
# "lan" and "srv" are bridges in the namespace sw. Real servers run
# `ipvs-traffic serve-echo` on port 80 (TCP and UDP).

TRAFFIC=${IPVS_RS_TRAFFIC:-${IPVS_RS_TOP:-$(dirname "$IPVS_RS_KO")}/selftests/traffic/target/release/ipvs-traffic}
[ -x "$TRAFFIC" ] || skip "no $TRAFFIC (make traffic)"

SY_VIP=10.0.0.100
sy() { echo "ipvs-sy-$1"; }
sy_in() { local n=$1; shift; ip netns exec "$(sy "$n")" "$@"; }

# sy_port <ns> <ifname> <bridge>: a veth from <ns> into a bridge of sw.
sy_port() {
	ip link add "$2" netns "$(sy "$1")" type veth peer name "$1-$3" netns "$(sy sw)"
	ip -n "$(sy sw)" link set "$1-$3" master "$3" up
	ip -n "$(sy "$1")" link set "$2" up
}

sy_pids=()
# sy_setup <nat|dr>
sy_setup() {
	local mode=$1 n r i
	for n in sw c m b r1 r2 r3; do new_netns "$(sy $n)"; done
	for br in lan srv; do
		ip -n "$(sy sw)" link add "$br" type bridge
		ip -n "$(sy sw)" link set "$br" up
	done
	sy_port c eth0 lan
	ip -n "$(sy c)" addr add 10.0.0.2/24 dev eth0
	i=11
	for n in m b; do
		sy_port "$n" eth0 lan
		ip -n "$(sy $n)" addr add "10.0.0.$i/24" dev eth0
		sy_port "$n" eth1 srv
		ip -n "$(sy $n)" addr add "10.1.0.$((i - 9))/24" dev eth1
		sy_in "$n" sysctl -qw net.ipv4.ip_forward=1
		i=$((i + 1))
	done
	ip link add sync0 netns "$(sy m)" type veth peer name sync0 netns "$(sy b)"
	ip -n "$(sy m)" addr add 192.168.9.1/24 dev sync0
	ip -n "$(sy b)" addr add 192.168.9.2/24 dev sync0
	ip -n "$(sy m)" link set sync0 up
	ip -n "$(sy b)" link set sync0 up
	ip -n "$(sy m)" addr add "$SY_VIP/24" dev eth0
	i=1
	for r in r1 r2 r3; do
		if [ "$mode" = nat ]; then
			sy_port "$r" eth0 srv
			ip -n "$(sy $r)" addr add "10.1.0.1$i/24" dev eth0
			ip -n "$(sy $r)" route add default via 10.1.0.1
		else
			sy_port "$r" eth0 lan
			ip -n "$(sy $r)" addr add "10.0.0.2$i/24" dev eth0
			ip -n "$(sy $r)" addr add "$SY_VIP/32" dev lo
			sy_in "$r" sysctl -qw net.ipv4.conf.all.arp_ignore=1
			sy_in "$r" sysctl -qw net.ipv4.conf.all.arp_announce=2
			sy_in "$r" sysctl -qw net.ipv4.conf.eth0.arp_ignore=1
			sy_in "$r" sysctl -qw net.ipv4.conf.eth0.arp_announce=2
		fi
		sy_in "$r" "$TRAFFIC" serve-echo "$r" 80 &
		sy_pids+=($!)
		i=$((i + 1))
	done
	[ "$mode" = nat ] && ip -n "$(sy m)" addr add 10.1.0.1/24 dev eth1
	sleep 1
}

sy_teardown() {
	local p
	for p in "${sy_pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	cleanup_netns
	sy_pids=()
	netns_list=()
}
trap sy_teardown EXIT

# sy_services <nat|dr>: the same TCP and UDP services on both directors.
sy_services() {
	local fwd=-m base=10.1.0.1 n
	[ "$1" = dr ] && fwd=-g base=10.0.0.2
	for n in m b; do
		sy_in "$n" ipvsadm -R <<-EOF
			-A -t $SY_VIP:80 -s rr
			-a -t $SY_VIP:80 -r ${base}1:80 $fwd
			-a -t $SY_VIP:80 -r ${base}2:80 $fwd
			-a -t $SY_VIP:80 -r ${base}3:80 $fwd
			-A -u $SY_VIP:80 -s rr
			-a -u $SY_VIP:80 -r ${base}1:80 $fwd
			-a -u $SY_VIP:80 -r ${base}2:80 $fwd
			-a -u $SY_VIP:80 -r ${base}3:80 $fwd
		EOF
	done
}

# sy_synced <ns> <count>: waits (up to 20 s) until <ns> holds <count>
# connections a sync daemon made; prints how many it holds.
sy_synced() {
	local n i
	for i in $(seq 1 40); do
		n=$(sy_in "$1" grep -c ' SYNC ' /proc/net/ip_vs_conn_sync)
		[ "$n" -ge "$2" ] && break
		sleep 0.5
	done
	echo "$n"
}

# sy_failover <nat|dr>: moves the virtual address (and for NAT the real
# servers' gateway) from the master to the backup, as keepalived would;
# the neighbours forget the old owner (keepalived's gratuitous ARP).
sy_failover() {
	local r
	ip -n "$(sy m)" addr del "$SY_VIP/24" dev eth0
	ip -n "$(sy b)" addr add "$SY_VIP/24" dev eth0
	if [ "$1" = nat ]; then
		ip -n "$(sy m)" addr del 10.1.0.1/24 dev eth1
		ip -n "$(sy b)" addr add 10.1.0.1/24 dev eth1
		for r in r1 r2 r3; do ip -n "$(sy $r)" neigh flush all; done
	fi
	ip -n "$(sy c)" neigh flush all
}
