#!/bin/bash
# A master with a large table (ipvs_rs.ko only): IPVS_RS_SYNC_TABLE
# connections (run.sh: 100k, 20k in CI; make bench's sync flood takes a
# million on the benchmark kernel), one UDP datagram each.
#
# First the packet path queues a sync entry for every new connection
# (sync_threshold 1) while the sync link drains a few kB/s: the sender
# blocks, its queue must stop at sync_qlen_max and the rest be dropped
# and counted. Then the link is freed, the queue drains, and a backup
# joins: the master's resync sends the whole table in steps and the
# backup learns it. Last the namespaces go with the daemons running and
# the tables full. The guest's log check fails the run on an RCU stall
# (a loop that never schedules) and kmemleak on a leak.
. selftests/lib.sh
. selftests/sync.sh

n=${IPVS_RS_SYNC_TABLE:-100000}
# The queue holds a fifth of the table's messages (about 40 connections
# each): room to fill, and far more to drop.
QLEN=$((n / 200))
PORT=9
# spray's sources from 10.0.0.24 up: past the directors and servers.
FIRST=$((21 * 64512))
ID="--mcast-interface sync0 --syncid 7"

stat() { sy_in "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/ip_vs_sync_stats; }
# conns <ns>: the UDP service's connections (r1's InActConn).
conns() { sy_in "$1" ipvsadm -Ln -u "$SY_VIP:$PORT" | awk '$1 == "->" && $2 ~ /^10\.1\.0\.11:/ { print $6 }'; }
# settle <ns> <secs>: conns once the count stands still for <secs>.
settle() {
	local a b=-1
	while :; do
		sleep "$2"
		a=$b
		b=$(conns "$1")
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}
mem_kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

load_rs
sy_setup nat
for d in m b; do
	sy_in $d ipvsadm -R <<-EOF || fail "services on $d"
		-A -u $SY_VIP:$PORT -s rr
		-a -u $SY_VIP:$PORT -r 10.1.0.11:$PORT -m
	EOF
done
# The datagrams end at r1 unanswered.
sy_in r1 iptables -A INPUT -p udp --dport $PORT -j DROP || fail "iptables in r1"
sy_in m sysctl -qw net.ipv4.vs.sync_threshold="1 50" net.ipv4.vs.sync_qlen_max=$QLEN ||
	fail "master's sysctls"
# The spray takes minutes (100k: 310 s here): a UDP timeout of 15 min
# keeps the first connections, and their synced copies, until the end.
sy_in m ipvsadm --set 0 0 900 || fail "master's UDP timeout"
# About one message a second gets through and the rest wait in the
# qdisc (room for 10 MB): the sender's socket buffer fills and it blocks.
# (At 64 kbit, 5 a second, a machine making 250 connections a second
# drained almost as fast as it queued: the queue barely filled.)
sy_in m tc qdisc add dev sync0 root tbf rate 16kbit burst 4kb limit 10mb || fail "tc on sync0"
# shellcheck disable=SC2086
sy_in m ipvsadm-rs --start-daemon master $ID || fail "master daemon"

slab0=$(mem_kb Slab)
t0=$SECONDS
sent=$(sy_in c "$TRAFFIC" spray "$SY_VIP:$PORT" "$n" "$FIRST")
have=$(settle m 2)
echo "# $sent datagrams, $have connections on the master in $((SECONDS - t0)) s"
slab1=$(mem_kb Slab)
echo "# slab +$((slab1 - slab0)) kB, $(((slab1 - slab0) * 1024 / (have > 0 ? have : 1))) bytes a connection (debug kernel)"
# Some datagrams may be lost on the way (the client's queue): 99%.
[ "$have" -ge $((n * 99 / 100)) ] || fail "the master has $have connections of $n"

queued=$(stat m queued_msgs)
drops=$(stat m queue_drops)
echo "# queue: $queued messages, $drops dropped, $(stat m sent_msgs) sent"
[ "$queued" -le $QLEN ] || fail "the queue holds $queued messages, sync_qlen_max is $QLEN"
[ "$queued" -ge $((QLEN / 2)) ] || fail "the queue never filled: $queued messages"
[ "$drops" -gt 0 ] || fail "a full queue dropped nothing"
echo "queue stops at sync_qlen_max ok"

# The link is free: the queue drains.
sy_in m tc qdisc del dev sync0 root || fail "tc del"
for i in {1..60}; do
	[ "$(stat m queued_msgs)" = 0 ] && break
	sleep 1
done
[ "$(stat m queued_msgs)" = 0 ] || fail "the queue did not drain: $(stat m queued_msgs) messages"
echo "queue drains ok"

# A backup joins and asks for the whole table.
t0=$SECONDS
# shellcheck disable=SC2086
sy_in b ipvsadm-rs --start-daemon backup $ID || fail "backup daemon"
learned=$(settle b 3)
secs=$((SECONDS - t0))
echo "# resync: the backup learned $learned of $have in about $secs s ($((learned / (secs > 0 ? secs : 1))) a second); resyncs $(stat m resyncs), recv_msgs $(stat b recv_msgs), bad $(stat b bad_msgs)"
[ "$(stat m resyncs)" = 1 ] || fail "resyncs: $(stat m resyncs)"
[ "$(stat b bad_msgs)" = 0 ] || fail "the backup found $(stat b bad_msgs) bad messages"
[ "$learned" -ge $((have * 99 / 100)) ] || fail "the backup learned $learned of $have"
echo "resync of $have connections ok"

# Namespaces go with daemons running and both tables full.
t0=$SECONDS
sy_teardown
rmmod ipvs_rs || fail "rmmod ipvs_rs"
echo "# teardown and unload: $((SECONDS - t0)) s"
echo "large table ok"
