#!/bin/bash
# Connection sync between ipvs_rs.ko and stock ip_vs.ko, both ways, in
# sync versions 1 and 0: the master's datagrams are recorded off the sync
# link, the other module (only one can be loaded) is then the backup and
# gets them replayed; it must hold the master's connections. Needs stock:
# skipped with IPVS_RS_STOCK=0 (CI).
. selftests/lib.sh
[ "${IPVS_RS_STOCK:-1}" = 1 ] || skip "stock comparison off (IPVS_RS_STOCK=0)"
modinfo ip_vs >/dev/null 2>&1 || skip "no stock ip_vs module"
. selftests/sync.sh

load() { # load <ipvs_rs|ip_vs>
	unload_all
	if [ "$1" = ipvs_rs ]; then load_rs; else modprobe ip_vs && modprobe ip_vs_rr || fail "modprobe"; fi
}
# conns <ns>: the connections, without their timers, sorted.
conns() { sy_in "$1" ipvsadm -Lnc | tail -n +3 | awk '{ print $1, $3, $4, $5, $6 }' | sort; }

# pass <master module> <backup module> <sync_version>
pass() {
	local rec go out pid hold n held got
	rec=$(mktemp)
	load "$1"
	sy_setup nat
	sy_services nat
	sy_in m sysctl -qw "net.ipv4.vs.sync_version=$3"
	sy_in m ipvsadm --start-daemon master --mcast-interface sync0 --syncid 7 || fail "$1: master"
	sy_in b "$TRAFFIC" sync-record 224.0.0.81:8848 192.168.9.2 25 "$rec" >/dev/null &
	pid=$!
	go=$(mktemp -u)
	out=$(mktemp)
	sy_in c "$TRAFFIC" hold "$SY_VIP:80" 12 4 "$go" >"$out" &
	hold=$!
	wait $pid
	held=$(conns m)
	touch "$go"
	wait $hold
	rm -f "$go" "$out"
	sy_teardown
	load "$2"
	sy_setup nat
	sy_services nat
	sy_in b ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 7 || fail "$2: backup"
	n=$(sy_in m "$TRAFFIC" sync-replay 224.0.0.81:8848 192.168.9.1 "$rec")
	sleep 2
	got=$(conns b)
	sy_teardown
	unload_all
	rm -f "$rec"
	echo "$1 -> $2, version $3: $n datagrams, $(echo "$held" | grep -c .) connections on the master"
	[ "$(echo "$held" | grep -c ESTABLISHED)" = 12 ] || fail "$1: master holds: $held"
	expect_eq "$1 -> $2 version $3: the backup's connections" "$held" "$got"
}

for v in 1 0; do
	pass ip_vs ipvs_rs $v
	pass ipvs_rs ip_vs $v
done
echo "sync interop ok"
