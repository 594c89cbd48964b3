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
# nsenter, not `ip netns exec`: 0.05 s where that costs 0.2 s in the
# guest (it remounts /sys, which no test here reads).
sy_in() { local n=$1; shift; nsenter --net="/run/netns/ipvs-sy-$n" "$@"; }

sy_pids=()
# sy_setup <nat|dr>. Starting a process costs about a second in the
# emulated guest: each namespace is set up by one `ip -batch`.
sy_setup() {
	local mode=$1 n r i b
	b="netns add ipvs-sy-sw"
	for n in c m b r1 r2 r3; do b+=$'\n'"netns add ipvs-sy-$n"; done
	# _sy_port <ns> <ifname> <bridge>: a veth from <ns> into a bridge of sw.
	_sy_port() { b+=$'\n'"link add $2 netns ipvs-sy-$1 type veth peer name $1-$3 netns ipvs-sy-sw"; }
	_sy_port c eth0 lan
	for n in m b; do _sy_port $n eth0 lan; _sy_port $n eth1 srv; done
	for r in r1 r2 r3; do
		if [ "$mode" = nat ]; then _sy_port $r eth0 srv; else _sy_port $r eth0 lan; fi
	done
	b+=$'\n'"link add sync0 netns ipvs-sy-m type veth peer name sync0 netns ipvs-sy-b"
	ip -batch - <<<"$b" || fail "sy_setup: namespaces and links"
	for n in sw c m b r1 r2 r3; do netns_list+=("ipvs-sy-$n"); done

	b="link set lo up
link add lan type bridge
link add srv type bridge
link set lan up
link set srv up"
	for n in c m b; do b+=$'\n'"link set $n-lan master lan up"; done
	for n in m b; do b+=$'\n'"link set $n-srv master srv up"; done
	for r in r1 r2 r3; do
		if [ "$mode" = nat ]; then b+=$'\n'"link set $r-srv master srv up"
		else b+=$'\n'"link set $r-lan master lan up"; fi
	done
	ip -n ipvs-sy-sw -batch - <<<"$b" || fail "sy_setup: sw"
	ip -n ipvs-sy-c -batch - <<-EOF || fail "sy_setup: c"
		link set lo up
		link set eth0 up
		addr add 10.0.0.2/24 dev eth0
	EOF
	i=11
	for n in m b; do
		b="link set lo up
link set eth0 up
link set eth1 up
link set sync0 up
addr add 10.0.0.$i/24 dev eth0
addr add 10.1.0.$((i - 9))/24 dev eth1
addr add 192.168.9.$((i - 10))/24 dev sync0"
		# keepalived places the addresses itself (SY_KEEPALIVED=1).
		if [ $n = m ] && [ "${SY_KEEPALIVED:-0}" != 1 ]; then
			b+=$'\n'"addr add $SY_VIP/24 dev eth0"
			[ "$mode" = nat ] && b+=$'\n'"addr add 10.1.0.1/24 dev eth1"
		fi
		ip -n "ipvs-sy-$n" -batch - <<<"$b" || fail "sy_setup: $n"
		sy_in $n sysctl -qw net.ipv4.ip_forward=1
		i=$((i + 1))
	done
	i=1
	for r in r1 r2 r3; do
		if [ "$mode" = nat ]; then
			ip -n "ipvs-sy-$r" -batch - <<-EOF || fail "sy_setup: $r"
				link set lo up
				link set eth0 up
				addr add 10.1.0.1$i/24 dev eth0
				route add default via 10.1.0.1
			EOF
		else
			ip -n "ipvs-sy-$r" -batch - <<-EOF || fail "sy_setup: $r"
				link set lo up
				link set eth0 up
				addr add 10.0.0.2$i/24 dev eth0
				addr add $SY_VIP/32 dev lo
			EOF
			sy_in "$r" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
				net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
		fi
		# Not through sy_in: $! must be the server itself (nsenter execs
		# it) for sy_teardown's kill to reach it, and it must not hold a
		# caller's $(...) pipe open.
		# A DR real server answers UDP from the virtual address.
		if [ "$mode" = nat ]; then
			nsenter --net="/run/netns/ipvs-sy-$r" "$TRAFFIC" serve-echo "$r" 80 >/dev/null 2>&1 &
		else
			nsenter --net="/run/netns/ipvs-sy-$r" "$TRAFFIC" serve-echo "$r" 80 "$SY_VIP" >/dev/null 2>&1 &
		fi
		sy_pids+=($!)
		i=$((i + 1))
	done
	sleep 1
}

sy_teardown() {
	local p
	for p in "${sy_pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ ${#netns_list[@]} -gt 0 ] && printf 'netns del %s\n' "${netns_list[@]}" | ip -force -batch - 2>/dev/null
	sy_pids=()
	netns_list=()
}

# At exit, also what a scenario that failed inside $(...) left: a
# subshell's fail skips its teardown, and its lists never reach here.
sy_exit() {
	local n p
	sy_teardown
	for n in $(ip netns list | awk '/^ipvs-sy-/ { print $1 }'); do
		for p in $(ip netns pids "$n"); do kill "$p" 2>/dev/null; done
		ip netns del "$n"
	done
}
trap sy_exit EXIT

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

# sy_hold <tcp> <udp>: the client opens that many TCP connections and UDP
# flows to the VIP and holds them (ipvs-traffic hold); returns once their
# first answers are in $sy_out (30 s at most).
sy_hold() {
	local lines
	sy_go=$(mktemp -u)
	sy_out=$(mktemp)
	# Not through sy_in: $! must be the client itself, for wait and kill.
	nsenter --net=/run/netns/ipvs-sy-c "$TRAFFIC" hold "$SY_VIP:80" "$1" "$2" "$sy_go" >"$sy_out" &
	sy_hold_pid=$!
	for _ in {1..100}; do
		mapfile -t lines <"$sy_out"
		[ ${#lines[@]} -ge 2 ] && break
		sleep 0.3
	done
}

# sy_hold_end: asks every held connection again; prints how many stayed
# with their real server, moved or were lost.
sy_hold_end() {
	touch "$sy_go"
	wait "$sy_hold_pid"
	tail -n +3 "$sy_out"
	rm -f "$sy_go" "$sy_out"
}

# sy_synced <ns> <count>: waits (up to 20 s) until <ns> holds <count>
# connections a sync daemon made; prints how many it holds.
sy_synced() {
	local n i
	for i in {1..40}; do
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
	ip -n ipvs-sy-m addr del "$SY_VIP/24" dev eth0
	ip -n ipvs-sy-b addr add "$SY_VIP/24" dev eth0
	if [ "$1" = nat ]; then
		ip -n ipvs-sy-m addr del 10.1.0.1/24 dev eth1
		ip -n ipvs-sy-b addr add 10.1.0.1/24 dev eth1
		for r in r1 r2 r3; do ip -n "ipvs-sy-$r" neigh flush all; done
	fi
	ip -n ipvs-sy-c neigh flush all
}
