#!/bin/bash
# Connection sync under bad input and churn, on ipvs_rs.ko: a backup
# drops malformed datagrams whole and counts them; daemons start and stop
# over and over while a master syncs a UDP flood; namespaces and the module
# go away with daemons running (the guest's kmemleak check follows).
. selftests/lib.sh
. selftests/sync.sh

# stat <ns> <name>: a counter of /proc/net/ip_vs_sync_stats.
stat() { sy_in "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/ip_vs_sync_stats; }
# threads: the sync kthreads alive, all namespaces (a master's senders
# and resync thread, a backup's receivers).
threads() { ps -e -o comm= | grep -c '^ipvs-[mbr]:'; }

load_rs
sy_setup nat
sy_services nat

# 1. Malformed datagrams: 2600 of 13 kinds (sync-bad says how each counts).
sy_in b sysctl -qw net.ipv4.vs.sync_sock_size=2000000
sy_in b ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 7 || fail "backup daemon"
want=$(sy_in m "$TRAFFIC" sync-bad 224.0.0.81:8848 192.168.9.1 2600 7) || fail "sync-bad"
for _ in $(seq 1 60); do
	[ "$(stat b recv_msgs)" -ge 2600 ] && break
	sleep 0.5
done
expect_eq "datagrams the backup received" 2600 "$(stat b recv_msgs)"
got="bad=$(stat b bad_msgs) skipped=$(stat b skipped_conns) other=$(stat b other_syncid)"
echo "sync-bad: want $want, got $got"
expect_eq "malformed datagrams counted" "$want" "$got"
expect_eq "entries applied" 0 "$(stat b recv_conns)"
expect_eq "connections the backup made" 0 "$(sy_in b ipvsadm -Lnc | tail -n +3 | wc -l)"

# 2. Start and stop, both daemons, while the master's clients flood it
#    (64 UDP flows, each synced every 50 packets).
sy_in m ipvsadm --start-daemon master --mcast-interface sync0 --syncid 7 || fail "master daemon"
sy_in c "$TRAFFIC" blast "$SY_VIP:80" 64 900 >/dev/null &
flood=$!
sleep 2
# One ipvsadm -R per director (a process costs about a second here),
# both at once: 100 stops and starts of each daemon.
CYCLES=100
churn() { # churn <ns> <state>
	local i
	for i in $(seq 1 $CYCLES); do
		echo "--stop-daemon $2"
		echo "--start-daemon $2 --mcast-interface sync0 --syncid 7"
	done | sy_in "$1" ipvsadm -R
}
churn m master &
cm=$!
churn b backup &
cb=$!
wait $cm || fail "master start/stop cycles"
wait $cb || fail "backup start/stop cycles"
cycles=$CYCLES
echo "start/stop cycles under traffic: $cycles"
n=$(sy_synced b 64)
kill $flood
wait $flood 2>/dev/null
sent=$(stat m sent_conns)
recv=$(stat b recv_conns)
echo "master sent $sent entries in $(stat m sent_msgs) messages; backup applied $recv"
[ "$sent" -gt 0 ] || fail "the master sent nothing"
[ "$recv" -gt 0 ] || fail "the backup applied nothing"
echo "flows the backup holds: $n"
[ "$n" -ge 64 ] || fail "the backup holds $n of the 64 flows"
expect_eq "sync threads running" 3 "$(threads)"

# 3. Namespaces go away with their daemons running.
sy_teardown
for _ in $(seq 1 20); do
	[ "$(threads)" = 0 ] && break
	sleep 0.5
done
expect_eq "sync threads after the namespaces went" 0 "$(threads)"

# 4. The module goes with daemons running (sync_ports=2: two threads
#    each, and a master's resync thread).
new_netns ipvs-sy-x
ip -n ipvs-sy-x link add sync0 type dummy
ip -n ipvs-sy-x addr add 192.168.9.1/24 dev sync0
ip -n ipvs-sy-x link set sync0 multicast on up
ip netns exec ipvs-sy-x sysctl -qw net.ipv4.vs.sync_ports=2
ip netns exec ipvs-sy-x ipvsadm --start-daemon master --mcast-interface sync0 || fail "master in x"
ip netns exec ipvs-sy-x ipvsadm --start-daemon backup --mcast-interface sync0 || fail "backup in x"
ipvsadm --start-daemon master --mcast-interface lo || fail "master in the initial namespace"
expect_eq "sync threads before rmmod" 7 "$(threads)"
rmmod ipvs_rs || fail "rmmod with daemons running"
expect_eq "sync threads after rmmod" 0 "$(threads)"
echo "sync input and churn ok"
