#!/bin/bash
# Active-active: three directors behind one ECMP route, the same mh
# services on each (direct routing), each a sync master to the others and a
# backup of them on one multicast group. One director goes away (its next
# hop leaves the router's route, as a routing daemon would withdraw it);
# its connections, now hashed to the others, go on to the same real
# servers. On ipvs_rs.ko and (unless IPVS_RS_STOCK=0) stock ip_vs.ko.
#
#   client 10.2.0.2 -- router 10.2.0.1 | 10.0.0.1 -- lan
#   lan: directors d1..d3 10.0.0.11-13, real servers r1..r3 10.0.0.21-23
#   VIP 10.0.0.100 on lo of every director and real server; the router
#   reaches it by a multipath route over the three directors.
. selftests/lib.sh
. selftests/sync.sh

TCP_CONNS=24
UDP_FLOWS=8
DIRS="d1 d2 d3"
SYNC="--mcast-interface eth0 --syncid 9"

aa_setup() {
	local n i b
	b="netns add ipvs-sy-sw"
	for n in c rt $DIRS r1 r2 r3; do b+=$'\n'"netns add ipvs-sy-$n"; done
	b+=$'\n'"link add eth0 netns ipvs-sy-c type veth peer name eth0 netns ipvs-sy-rt"
	for n in rt $DIRS r1 r2 r3; do
		if [ $n = rt ]; then i=eth1; else i=eth0; fi
		b+=$'\n'"link add $i netns ipvs-sy-$n type veth peer name $n netns ipvs-sy-sw"
	done
	ip -batch - <<<"$b" || fail "aa_setup: namespaces and links"
	for n in sw c rt $DIRS r1 r2 r3; do netns_list+=("ipvs-sy-$n"); done

	b=$'link set lo up\nlink add lan type bridge\nlink set lan up'
	for n in rt $DIRS r1 r2 r3; do b+=$'\n'"link set $n master lan up"; done
	ip -n ipvs-sy-sw -batch - <<<"$b" || fail "aa_setup: sw"
	ip -n ipvs-sy-c -batch - <<-EOF || fail "aa_setup: c"
		link set lo up
		link set eth0 up
		addr add 10.2.0.2/24 dev eth0
		route add default via 10.2.0.1
	EOF
	ip -n ipvs-sy-rt -batch - <<-EOF || fail "aa_setup: rt"
		link set lo up
		link set eth0 up
		link set eth1 up
		addr add 10.2.0.1/24 dev eth0
		addr add 10.0.0.1/24 dev eth1
		route add $SY_VIP/32 nexthop via 10.0.0.11 nexthop via 10.0.0.12 nexthop via 10.0.0.13
	EOF
	# Spread flows over the next hops by their ports too.
	sy_in rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
	for n in $DIRS r1 r2 r3; do
		# d1 10.0.0.11, ..., r1 10.0.0.21, ...
		case $n in d*) i=1${n#d} ;; *) i=2${n#r} ;; esac
		ip -n "ipvs-sy-$n" -batch - <<-EOF || fail "aa_setup: $n"
			link set lo up
			link set eth0 up
			addr add 10.0.0.$i/24 dev eth0
			addr add $SY_VIP/32 dev lo
			route add default via 10.0.0.1
		EOF
	done
	for n in r1 r2 r3; do
		sy_in "$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
		ip netns exec "ipvs-sy-$n" "$TRAFFIC" serve-echo "$n" 80 "$SY_VIP" >/dev/null 2>&1 &
		sy_pids+=($!)
	done
	for n in $DIRS; do
		sy_in "$n" ipvsadm -R <<-EOF || fail "aa_setup: services on $n"
			-A -t $SY_VIP:80 -s mh -b mh-port
			-a -t $SY_VIP:80 -r 10.0.0.21:80 -g
			-a -t $SY_VIP:80 -r 10.0.0.22:80 -g
			-a -t $SY_VIP:80 -r 10.0.0.23:80 -g
			-A -u $SY_VIP:80 -s mh -b mh-port
			-a -u $SY_VIP:80 -r 10.0.0.21:80 -g
			-a -u $SY_VIP:80 -r 10.0.0.22:80 -g
			-a -u $SY_VIP:80 -r 10.0.0.23:80 -g
		EOF
	done
	sleep 1
}

# held <ns> <LOCAL|SYNC>: connections of that origin.
held() { sy_in "$1" grep -c " $2 " /proc/net/ip_vs_conn_sync; }

scenario() {
	local n all local_d1
	aa_setup
	for n in $DIRS; do
		# shellcheck disable=SC2086
		sy_in $n ipvsadm --start-daemon master $SYNC || return 1
		# shellcheck disable=SC2086
		sy_in $n ipvsadm --start-daemon backup $SYNC || return 1
	done
	sy_in d1 ipvsadm -L --daemon
	sy_hold "$TCP_CONNS" "$UDP_FLOWS"
	# Which real server answered depends on the client's ports: only
	# that every flow was answered is the same on every run.
	sed -n 's/.* other=/other=/p' "$sy_out"
	all=$((TCP_CONNS + UDP_FLOWS))
	for n in $DIRS; do
		# Each holds its own connections and the others' synced ones.
		for _ in $(seq 1 40); do
			[ $(($(held $n LOCAL) + $(held $n SYNC))) -ge $all ] && break
			sleep 0.5
		done
		echo "$n holds $(($(held $n LOCAL) + $(held $n SYNC)))"
	done
	local_d1=$(held d1 LOCAL)
	echo "d1 carried connections: $([ "$local_d1" -gt 0 ] && echo yes || echo "no ($local_d1)")"
	# d1 goes: withdrawn from the route, its link down.
	ip -n ipvs-sy-rt route replace "$SY_VIP/32" nexthop via 10.0.0.12 nexthop via 10.0.0.13
	ip -n ipvs-sy-d1 link set eth0 down
	sy_hold_end
	for n in $DIRS; do
		sy_in $n ipvsadm --stop-daemon master
		sy_in $n ipvsadm --stop-daemon backup
	done
	sy_teardown
}

daemon_line() {
	echo "$1 sync daemon (mcast=eth0, syncid=9, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"
}
want="$(daemon_line master)
$(daemon_line backup)
other=0
other=0
d1 holds $((TCP_CONNS + UDP_FLOWS))
d2 holds $((TCP_CONNS + UDP_FLOWS))
d3 holds $((TCP_CONNS + UDP_FLOWS))
d1 carried connections: yes
tcp same=$TCP_CONNS moved=0 lost=0
udp same=$UDP_FLOWS moved=0 lost=0"

load_rs
out=$(scenario)
echo "$out"
rmmod ipvs_rs || fail "rmmod ipvs_rs"
expect_eq "active-active transcript" "$want" "$out"

if [ "${IPVS_RS_STOCK:-1}" = 1 ] && modprobe ip_vs 2>/dev/null && modprobe ip_vs_mh; then
	stock=$(scenario)
	echo "$stock"
	unload_all
	expect_eq "transcript ipvs_rs vs stock" "$out" "$stock"
fi
echo "active-active sync ok"
