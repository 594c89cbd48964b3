#!/bin/bash
# The connection table resizes online (ipvs_rs.ko only): from 256 buckets
# it grows with up to IPVS_RS_RESIZE_CONNS connections (100k, or what
# the spray makes in SPRAY_SECS; make bench's resize part runs this with
# 1.5M on its kernel), one UDP
# datagram each from its own source, and
# shrinks back as they expire, while TCP and UDP flows through NAT keep
# being asked: every answer must come from the flow's first real server
# (a lookup that missed its connection would schedule the flow anew, or
# reset the TCP one). The guest's log check fails the run on a lockdep,
# KASAN or RCU splat and kmemleak on a leak.
. selftests/lib.sh
. selftests/sync.sh

n=${IPVS_RS_RESIZE_CONNS:-100000}
PORT=9
# The sprayed connections' UDP timeout, seconds; the flows keep theirs
# alive by asking.
UDP_T=${IPVS_RS_RESIZE_UDP_TIMEOUT:-60}
# The spray stops after this many seconds (0: never), well inside the
# timeout, so that the first datagrams' connections are still there at
# the end however slow the emulated machine is; it must have reached
# MIN_CONNS by then.
SPRAY_SECS=${IPVS_RS_RESIZE_SPRAY_SECS:-$((UDP_T * 3 / 4))}
# (2000 grow the table seven times, to 2^15; a guest sharing its host
# with another sprayed 4000 in the time.)
MIN_CONNS=2000
# spray's sources from 10.0.0.24 up: past the directors and servers.
FIRST=$((21 * 64512))
# The largest table (make bench's resize part: 2^25 for 1.5M).
MAX_BITS=${IPVS_RS_RESIZE_MAX_BITS:-20}

size() { sy_in m ipvsadm -Ln | awk 'NR == 1 { gsub(/.*size=|\).*/, ""); print }'; }
status() { sy_in m cat /proc/net/ip_vs_status; }
svc_slots() { status | awk -F'\t' '$1 == "Service buckets:" { split($2, a, " "); print a[1] }'; }
conns() { sy_in m ipvsadm -Ln -u "$SY_VIP:$PORT" | awk '$1 == "->" && $2 ~ /^10\.1\.0\.11:/ { print $6 }'; }

load_rs conn_tab_bits=$MAX_BITS
sy_setup nat
sy_services nat
printf '%s\n' "-A -u $SY_VIP:$PORT -s rr" "-a -u $SY_VIP:$PORT -r 10.1.0.11:$PORT -m" |
	sy_in m ipvsadm -R || fail "spray service"
# The datagrams end at r1 unanswered.
sy_in r1 iptables -A INPUT -p udp --dport $PORT -j DROP || fail "iptables in r1"
sy_in m ipvsadm --set 0 0 "$UDP_T" || fail "UDP timeout"

# The service index follows svc_lfactor (-3: eight slots a service).
expect_eq "index of 3 services" 32 "$(svc_slots)"
# A burst of 1000 services and one more that takes traffic at once: the
# packet path's view of the services lags behind such a burst (see
# dataplane.rst), so its first packets are looked up in the table.
BURST_PORT=7
sy_in r1 iptables -A INPUT -p udp --dport $BURST_PORT -j DROP || fail "iptables in r1"
{
	seq 10000 10999 | awk '{ printf "-A -t 10.9.9.9:%d -s rr\n", $1 }'
	echo "-A -u $SY_VIP:$BURST_PORT -s rr"
	echo "-a -u $SY_VIP:$BURST_PORT -r 10.1.0.11:$BURST_PORT -m"
} | sy_in m ipvsadm -R || fail "1000 services"
got=$(sy_in c "$TRAFFIC" spray "$SY_VIP:$BURST_PORT" 10 "$FIRST") || fail "spray after the burst"
burst_conns() { sy_in m cat /proc/net/ip_vs_conn | awk -v p="$(printf %04X $BURST_PORT)" '$5 == p' | wc -l; }
expect_eq "connections to the service added last in a burst" 10 "$(burst_conns)"
expect_eq "index of 1004 services" 8192 "$(svc_slots)"
{
	seq 10000 10999 | awk '{ printf "-D -t 10.9.9.9:%d\n", $1 }'
	echo "-D -u $SY_VIP:$BURST_PORT"
} | sy_in m ipvsadm -R || fail "deleting 1000 services"
# Deleted in the burst: its packets start nothing.
got=$(sy_in c "$TRAFFIC" spray "$SY_VIP:$BURST_PORT" 10 "$((FIRST + 10))") ||
	fail "spray after the deletions"
expect_eq "connections after the service was deleted in a burst" 10 "$(burst_conns)"
slots=$(svc_slots)
echo "# index of 3 services again: $slots slots"
[ "$slots" -lt 8192 ] && [ "$slots" -ge 16 ] || fail "the index did not shrink: $slots slots"
expect_eq "size before" 256 "$(size)"
expect_eq "/proc/net/ip_vs size before" 256 "$(sy_in m head -1 /proc/net/ip_vs | sed 's/.*size=\(.*\))/\1/')"

go=/tmp/resize.go
rm -f "$go"
# On failure too, the background loops below end.
trap 'touch "$go"; sy_exit' EXIT
sy_in c "$TRAFFIC" steady "$SY_VIP:80" 4 4 "$go" >/tmp/resize.steady &
steady=$!
# What size the listing shows, every two seconds, for the log.
(while [ ! -e "$go" ]; do size; sleep 2; done) >/tmp/resize.sizes 2>/dev/null &
sampler=$!
sleep 3

t0=$SECONDS
sent=0
while [ "$sent" -lt "$n" ]; do
	[ "$SPRAY_SECS" != 0 ] && [ $((SECONDS - t0)) -ge "$SPRAY_SECS" ] && break
	chunk=$((n - sent < 1000 ? n - sent : 1000))
	got=$(sy_in c "$TRAFFIC" spray "$SY_VIP:$PORT" "$chunk" "$((FIRST + sent))") || fail "spray"
	sent=$((sent + got))
done
t1=$SECONDS
sleep 3
peak=$(conns)
peak_size=$(size)
echo "# $sent datagrams in $((t1 - t0)) s; $peak connections, size=$peak_size"
[ "$sent" -ge "$MIN_CONNS" ] || fail "only $sent datagrams sent in $((t1 - t0)) s"
[ "$peak" -ge $((sent / 2)) ] || fail "only $peak connections of $sent"
# Keyed hashing spreads them: no chain near the histogram's top.
status | sed 's/^/# /'
status | grep -qE '^Conn buckets len-[67]:' && fail "chains of 6 or more connections"
# At conn_lfactor -4 the table keeps 16 buckets a connection, up to the
# maximum.
want=$(awk -v c="$peak" -v m=$((1 << MAX_BITS)) 'BEGIN { s = 256; while (s < 16 * c && s < m) s *= 2; print s }')
expect_eq "size with $peak connections" "$want" "$peak_size"
# A larger load factor shrinks it, online: 2^2 connections a bucket.
before=$(conns)
sy_in m sysctl -qw net.ipv4.vs.conn_lfactor=2 || fail "conn_lfactor=2"
# Meanwhile the listing: read in parts that resume at a hash position,
# each connection once even as the table shrinks under it.
tl=$SECONDS
sy_in m cat /proc/net/ip_vs_conn >/tmp/resize.list || fail "listing"
after=$(conns)
tport=$(printf %04X "$PORT")
listed=$(awk -v p="$tport" '$5 == p' /tmp/resize.list | wc -l)
twice=$(awk -v p="$tport" '$5 == p { print $2, $3 }' /tmp/resize.list | sort | uniq -d | wc -l)
echo "# listed $listed of $after..$before connections in $((SECONDS - tl)) s, $twice twice, size=$(size)"
[ "$twice" = 0 ] || fail "$twice connections listed twice"
[ "$listed" -ge "$after" ] && [ "$listed" -le "$before" ] ||
	fail "listed $listed connections, counted $after..$before"
for _ in $(seq 30); do
	[ "$(size)" -lt "$peak_size" ] && break
	sleep 1
done
small=$(size)
echo "# conn_lfactor 2: size=$small"
[ "$small" -lt "$peak_size" ] || fail "conn_lfactor=2 left the size at $small"
sy_in m sysctl -qw net.ipv4.vs.conn_lfactor=-4 || fail "conn_lfactor=-4"

# The sprayed connections expire: back to the smallest table.
for _ in $(seq $((UDP_T * 3))); do
	[ "$(size)" = 256 ] && break
	sleep 2
done
echo "# $((SECONDS - t1)) s after the spray: $(conns) connections, size=$(size)"
expect_eq "size after expiry" 256 "$(size)"

touch "$go"
wait "$steady" || fail "steady flows"
wait "$sampler"
echo "# sizes seen: $(uniq /tmp/resize.sizes | tr '\n' ' ')"
cat /tmp/resize.steady
rounds=$(awk '$1 == "rounds" { print $2 }' /tmp/resize.steady)
[ "${rounds:-0}" -ge 10 ] || fail "only ${rounds:-0} rounds of flows"
for p in tcp udp; do
	line=$(grep "^$p " /tmp/resize.steady)
	case $line in *" moved=0 lost=0") ;; *) fail "$p flows: $line" ;; esac
done
# The listing saw the steps: up, down with conn_lfactor, down by expiry.
[ "$(uniq /tmp/resize.sizes | wc -l)" -ge 4 ] || fail "resizes not seen in the listing"
sy_teardown
rmmod ipvs_rs || fail "rmmod"
echo "conn table resizes ok"
