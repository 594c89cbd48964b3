#!/bin/bash
# The soak, run in the VM by `make soak` (not CI): IPVS_RS_SOAK_MINUTES
# (60) of mixed traffic through a NAT director (held TCP and UDP flows,
# new TCP connections, new UDP flows, one-packet UDP, IPv6) while a
# writer changes the configuration (services and real servers added,
# edited, deleted, schedulers changed, counters zeroed) and the sync
# daemons and estimator run. Every minute one line: available memory,
# unreclaimable slab, the connections (and templates) the table counts
# and the connections listed. At the end the traffic stops, the connections time out and the
# module unloads; the held flows must never have moved, the table must
# be empty (/proc/net/ip_vs_status), and the unreclaimable slab back within
# IPVS_RS_SOAK_SLAB_KB (16 MB: KASAN's quarantine alone moves it by
# several) of the first minute's. guest.sh then checks the log for
# splats and kmemleak for leaks.
. selftests/lib.sh
. selftests/dataplane.sh

minutes=${IPVS_RS_SOAK_MINUTES:-60}
slack=${IPVS_RS_SOAK_SLAB_KB:-16384}
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
# The director's connections and templates, as its table counts them.
conns() { director awk '$1 == "Conns:" { print $2; f = 1 } END { if (!f) print -1 }' /proc/net/ip_vs_status; }
record() { # record <label>
	printf '# %-8s MemAvailable %7d kB  SUnreclaim %7d kB  connections %6d  listed %6d\n' \
		"$1" "$(meminfo MemAvailable)" "$(meminfo SUnreclaim)" "$(conns)" \
		"$(director ipvsadm -Lnc 2>/dev/null | grep -cE '^(TCP|UDP) ')"
}

dp_setup
load_rs
director ipvsadm -R <<-EOF || fail "configuration"
	-A -t $VIP:80 -s rr
	-a -t $VIP:80 -r 192.168.1.11:80 -m
	-a -t $VIP:80 -r 192.168.1.12:80 -m
	-A -t $VIP:8080 -s wlc
	-a -t $VIP:8080 -r 192.168.1.11:8080 -m
	-a -t $VIP:8080 -r 192.168.1.12:8080 -m
	-a -t $VIP:8080 -r 192.168.1.13:8080 -m
	-A -u $VIP:53 -s sh -p 30
	-a -u $VIP:53 -r 192.168.1.12:53 -m
	-a -u $VIP:53 -r 192.168.1.13:53 -m
	-A -u $VIP:54 -s rr -o
	-a -u $VIP:54 -r 192.168.1.11:53 -m
	-a -u $VIP:54 -r 192.168.1.13:53 -m
	-A -t [$VIP6]:80 -s mh
	-a -t [$VIP6]:80 -r [fd00:2::11]:80 -m
	-a -t [$VIP6]:80 -r [fd00:2::13]:80 -m
EOF
# Short timeouts: connections come and go within the soak.
director ipvsadm --set 30 10 20 || fail "timeouts"
director ipvsadm --start-daemon master --mcast-interface br0 || fail "master daemon"
director ipvsadm --start-daemon backup --mcast-interface br0 || fail "backup daemon"
for r in r1 r2 r3; do
	nsenter --net="/run/netns/$(dp_ns $r)" "$TRAFFIC" serve-echo "$r" 8080 >/dev/null 2>&1 &
	dp_pids+=($!)
done

go=/tmp/soak.go
rm -f "$go"
in_ns c "$TRAFFIC" steady "$VIP:8080" 4 0 "$go" >/tmp/soak.held &
held=$!
# New connections and flows, in rounds until the soak ends.
(
	k=0
	while [ ! -e "$go" ]; do
		traffic tcp 80 20 >/dev/null
		traffic udp 53 20 >/dev/null
		traffic udp 54 4 >/dev/null
		FAM=6 traffic tcp 80 10 >/dev/null
		k=$((k + 1))
	done
	echo "$k" >/tmp/soak.rounds
) &
load=$!
trap 'touch "$go"; kill $held $load 2>/dev/null; dp_teardown' EXIT

# The writer: one change at a time, round after round.
change() { # change <round>
	local i=$1 s=$VIP:$((9000 + $1 % 7))
	case $((i % 6)) in
	0) director ipvsadm -A -t "$s" -s wrr &&
		director ipvsadm -a -t "$s" -r 192.168.1.11 -m -w 2 &&
		director ipvsadm -a -t "$s" -r 192.168.1.12 -m -w 1 ;;
	1) director ipvsadm -e -t "$VIP:80" -r 192.168.1.12:80 -m -w $((i % 5)) ;;
	2) director ipvsadm -E -t "$VIP:80" -s "$( ((i / 6 % 2)) && echo lc || echo rr)" ;;
	3) director ipvsadm -Z ;;
	4) director ipvsadm -D -t "$VIP:$((9000 + (i - 4) % 7))" 2>/dev/null
		director ipvsadm -d -t "$VIP:8080" -r 192.168.1.13:8080 2>/dev/null
		director ipvsadm -a -t "$VIP:8080" -r 192.168.1.13:8080 -m ;;
	5) director ipvsadm -Ln --stats >/dev/null && director ipvsadm -Lnc >/dev/null ;;
	esac
}

record start
first=$(meminfo SUnreclaim)
end=$(($(date +%s) + minutes * 60))
next=$(($(date +%s) + 60))
m=0
i=0
while [ "$(date +%s)" -lt "$end" ]; do
	change $i >/dev/null 2>&1
	i=$((i + 1))
	if [ "$(date +%s)" -ge "$next" ]; then
		m=$((m + 1))
		record "minute $m"
		[ "$m" = 1 ] && first=$(meminfo SUnreclaim)
		next=$((next + 60))
	fi
	sleep 1
done
touch "$go"
wait $held $load
echo "# $i configuration changes, $(cat /tmp/soak.rounds) traffic rounds"
sed 's/^/# held flows: /' /tmp/soak.held
grep -q '^tcp same=[1-9][0-9]* moved=0 ' /tmp/soak.held || fail "held TCP flows moved or none answered"
# The connections time out (20 s UDP, 30 s TCP, 10 s FIN; one-packet ones
# at once); templates after them.
for t in $(seq 30); do
	[ "$(conns)" = 0 ] && break
	sleep 5
done
record after
expect_eq "connections after the timeouts" 0 "$(conns)"
last=$(meminfo SUnreclaim)
echo "# SUnreclaim: ${first} kB at minute 1, ${last} kB at the end"
[ $((last - first)) -le "$slack" ] || fail "unreclaimable slab grew by $((last - first)) kB"
director ipvsadm --stop-daemon master
director ipvsadm --stop-daemon backup
dp_teardown
trap - EXIT
rmmod ipvs_rs || fail "rmmod after the soak"
