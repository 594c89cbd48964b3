#!/bin/bash
# Connection sync between ipvs_rs.ko and stock ip_vs.ko, both ways, in
# sync versions 1 and 0, IPv4 and (version 1) IPv6 connections: the
# master's datagrams are recorded off the sync link, the other module
# (only one can be loaded) is then the backup and gets them replayed; it
# must hold the master's connections. Needs stock: skipped with
# IPVS_RS_STOCK=0 (CI).
. selftests/lib.sh
[ "${IPVS_RS_STOCK:-1}" = 1 ] || skip "stock comparison off (IPVS_RS_STOCK=0)"
modinfo ip_vs >/dev/null 2>&1 || skip "no stock ip_vs module"
. selftests/sync.sh

load() { # load <ipvs_rs|ip_vs>
	unload_all
	if [ "$1" = ipvs_rs ]; then load_rs; else modprobe ip_vs && modprobe ip_vs_rr || fail "modprobe"; fi
}
VIP6=fd00::100
# v6: IPv6 beside IPv4 in the NAT topology (client fd00::2, VIP and
# director fd00::100 / ::11, real servers fd01::11-13 behind fd01::1),
# and the same services for it on both directors.
v6() {
	local n i
	ip -n ipvs-sy-c addr add fd00::2/64 dev eth0 nodad
	i=11
	for n in m b; do
		ip -n "ipvs-sy-$n" addr add "fd00::$i/64" dev eth0 nodad
		sy_in $n sysctl -qw net.ipv6.conf.all.forwarding=1
		i=$((i + 1))
	done
	ip -n ipvs-sy-m addr add $VIP6/64 dev eth0 nodad
	ip -n ipvs-sy-m addr add fd01::1/64 dev eth1 nodad
	for i in 1 2 3; do
		ip -n "ipvs-sy-r$i" addr add "fd01::1$i/64" dev eth0 nodad
		ip -n "ipvs-sy-r$i" route add default via fd01::1
	done
	for n in m b; do
		sy_in "$n" ipvsadm -R <<-EOF
			-A -t [$VIP6]:80 -s rr
			-a -t [$VIP6]:80 -r [fd01::11]:80 -m
			-a -t [$VIP6]:80 -r [fd01::12]:80 -m
			-a -t [$VIP6]:80 -r [fd01::13]:80 -m
		EOF
	done
}

# conns <ns>: the connections, without their timers, sorted.
conns() { sy_in "$1" ipvsadm -Lnc | tail -n +3 | awk '{ print $1, $3, $4, $5, $6 }' | sort; }

# pass <master module> <backup module> <sync_version>
pass() {
	local rec go out pid hold hold6 n held got want
	rec=$(mktemp)
	load "$1"
	sy_setup nat
	sy_services nat
	v6
	sy_in m sysctl -qw "net.ipv4.vs.sync_version=$3"
	sy_in m ipvsadm --start-daemon master --mcast-interface sync0 --syncid 7 || fail "$1: master"
	sy_in b "$TRAFFIC" sync-record 224.0.0.81:8848 192.168.9.2 25 "$rec" >/dev/null &
	pid=$!
	go=$(mktemp -u)
	out=$(mktemp)
	sy_in c "$TRAFFIC" hold "$SY_VIP:80" 12 4 "$go" >"$out" &
	hold=$!
	sy_in c "$TRAFFIC" hold "[$VIP6]:80" 6 0 "$go" >/dev/null &
	hold6=$!
	wait $pid
	held=$(conns m)
	touch "$go"
	wait $hold $hold6
	# Version 0 carries IPv4 only.
	[ "$3" = 0 ] && held=$(echo "$held" | grep -v '\[')
	rm -f "$go" "$out"
	sy_teardown
	load "$2"
	sy_setup nat
	sy_services nat
	v6
	sy_in b ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 7 || fail "$2: backup"
	n=$(sy_in m "$TRAFFIC" sync-replay 224.0.0.81:8848 192.168.9.1 "$rec")
	sleep 2
	got=$(conns b)
	sy_teardown
	unload_all
	rm -f "$rec"
	echo "$1 -> $2, version $3: $n datagrams, $(echo "$held" | grep -c .) connections on the master"
	want=18
	[ "$3" = 0 ] && want=12
	[ "$(echo "$held" | grep -c ESTABLISHED)" = $want ] || fail "$1: master holds: $held"
	expect_eq "$1 -> $2 version $3: the backup's connections" "$held" "$got"
}

for v in 1 0; do
	pass ip_vs ipvs_rs $v
	pass ipvs_rs ip_vs $v
done
echo "sync interop ok"
