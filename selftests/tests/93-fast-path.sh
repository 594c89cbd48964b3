#!/bin/bash
# fast_path (ipvs_rs only; deviations.rst): requests of established
# connections are taken at PRE_ROUTING. With it on, NAT and direct
# routing traffic of both families goes as with it off, while INPUT
# rules see only each connection's first packet; the director's ICMP
# errors about such packets (no hop left, too big) still reach the
# client; the backup daemon turns it off; its hooks follow the services
# and the knob, under traffic too; the module unloads with it on.
. selftests/lib.sh
. selftests/dataplane.sh

# input_saw <conns>: what INPUT's counting rule saw of <conns> TCP
# connections: "first packets" (one each) or "more".
input_saw() {
	local ipt=iptables n
	[ "$FAM" = 6 ] && ipt=ip6tables
	n=$(director $ipt -nvxL INPUT | awk '/dpt:80/ { print $1 }')
	director $ipt -Z INPUT
	if [ "$n" = "$1" ]; then echo "first packets"; elif [ "$n" -gt "$1" ]; then echo more; else echo "only $n"; fi
}

scenario() {
	local ipt=iptables v=$VIP/32 got i pid
	[ "$FAM" = 6 ] && ipt=ip6tables v=$VIP6/128
	director ipvsadm -A -t "$(vip):80" -s rr
	add_rs -t 80 r1 1
	add_rs -t 80 r2 1
	director ipvsadm -A -u "$(vip):53" -s rr
	add_rs -u 53 r3 1
	director $ipt -A INPUT -d "$v" -p tcp --dport 80
	for fp in 0 1 0 1; do
		director sysctl -qw net.ipv4.vs.fast_path=$fp
		got=$(traffic tcp 80 10)
		echo "fast_path=$fp: tcp $got, INPUT saw $(input_saw 10)"
	done
	# One UDP connection (source port 40000): its later datagrams take
	# the fast path, and so do the ones that cannot go on.
	got=$(traffic udp 53 4 40000)
	echo "udp from one port: $got"
	got="$(traffic udp-ttl 53 1 40000) $(traffic udp-ttl 53 2 40000)"
	echo "udp with 1, 2 hops to go: $got"
	director ip link set br0 mtu 1280
	got=$(traffic udp-big 53 1400 40000)
	director ip link set br0 mtu 1500
	echo "udp, 1400 bytes over a 1280-byte path: $got"
	# Direct routing: r1 holds the virtual address; its answers pass the
	# director from the director's own address (IPv4: accept_local).
	# Then the namespaces go and the module unloads (on_ipvs_rs): IPv6
	# direct routing once left its device referenced there.
	in_ns r1 ip addr add "$v" dev lo
	director sysctl -qw net.ipv4.conf.br0.accept_local=1
	director ipvsadm -D -t "$(vip):80"
	director ipvsadm -A -t "$(vip):80" -s rr
	add_rs -t 80 r1 1 -g
	got=$(traffic tcp 80 10)
	echo "direct routing: tcp $got, INPUT saw $(input_saw 10)"
	in_ns r1 ip addr del "$v" dev lo
	director sysctl -qw net.ipv4.conf.br0.accept_local=0
	# The hooks go with the last service and come back with the first.
	director ipvsadm -C
	director ipvsadm -A -t "$(vip):80" -s rr
	add_rs -t 80 r2 1
	got=$(traffic tcp 80 10)
	echo "services again: tcp $got, INPUT saw $(input_saw 10)"
	# A backup daemon: its connections' addresses need not be this
	# host's; no fast path meanwhile.
	director ipvsadm --start-daemon backup --mcast-interface cli --syncid 9
	got=$(traffic tcp 80 10)
	echo "backup daemon: tcp $got, INPUT saw $(input_saw 10)"
	director ipvsadm --stop-daemon backup
	# Turned off and on under traffic: every connection is answered.
	traffic tcp 80 40 >/tmp/fp-tcp.out &
	pid=$!
	for i in 1 2 3 4 5 6; do
		director sysctl -qw net.ipv4.vs.fast_path=$((i % 2))
		sleep 0.3
	done
	wait $pid
	echo "toggled under traffic: tcp $(cat /tmp/fp-tcp.out)"
	director sysctl -qw net.ipv4.vs.fast_path=1
	director $ipt -F INPUT
}

run() {
	local out want
	out=$(scenario) || return 1
	echo "$out"
	want="fast_path=0: tcp r1=5 r2=5 r3=0 other=0, INPUT saw more
fast_path=1: tcp r1=5 r2=5 r3=0 other=0, INPUT saw first packets
fast_path=0: tcp r1=5 r2=5 r3=0 other=0, INPUT saw more
fast_path=1: tcp r1=5 r2=5 r3=0 other=0, INPUT saw first packets
udp from one port: r1=0 r2=0 r3=4 other=0
udp with 1, 2 hops to go: time-exceeded r3
udp, 1400 bytes over a 1280-byte path: too-big
direct routing: tcp r1=10 r2=0 r3=0 other=0, INPUT saw first packets
services again: tcp r1=0 r2=10 r3=0 other=0, INPUT saw first packets
backup daemon: tcp r1=0 r2=10 r3=0 other=0, INPUT saw more
toggled under traffic: tcp r1=0 r2=40 r3=0 other=0"
	expect_eq "fast_path, IPv$FAM" "$want" "$out"
}

on_ipvs_rs "both_families run"
echo "fast path ok"
