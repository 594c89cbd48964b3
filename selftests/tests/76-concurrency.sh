#!/bin/bash
# Concurrency (ipvs_rs.ko only): eight writers change the configuration
# while TCP and UDP flows go both ways through NAT and direct routing and
# new connections keep coming and expiring, for IPVS_RS_CHURN_SECS (300
# with the stock halves, 45 without them, as in CI). The writers add,
# edit and delete services and real servers (IPv4 and IPv6), switch
# schedulers, zero counters, flush and restore, and add and delete
# bursts of services past the packet path's eager view (see
# dataplane.rst); a reader lists everything meanwhile. Then, quiet: every
# listed real server counts as many connections as the table lists for
# it, and the module unloads with them. The guest's checks fail the run
# on a lockdep, KASAN or RCU splat and on a kmemleak leak.
. selftests/lib.sh
. selftests/dataplane.sh

stock=${IPVS_RS_STOCK:-1}
secs=${IPVS_RS_CHURN_SECS:-}
[ -n "$secs" ] || { [ "$stock" = 1 ] && secs=300 || secs=45; }
# Direct routing: r3 takes packets to this address as its own.
VIP_DR=10.0.0.101

# The configuration the traffic needs (restored after each flush).
base() {
	cat <<-EOF
		-A -t $VIP:8080 -s rr
		-a -t $VIP:8080 -r 192.168.1.11:8080 -m
		-a -t $VIP:8080 -r 192.168.1.12:8080 -m
		-A -t $VIP:80 -s wrr
		-a -t $VIP:80 -r 192.168.1.11:80 -m
		-a -t $VIP:80 -r 192.168.1.12:80 -m
		-A -u $VIP:53 -s wlc
		-a -u $VIP:53 -r 192.168.1.11:53 -m
		-a -u $VIP:53 -r 192.168.1.12:53 -m
		-A -t $VIP_DR:80 -s rr
		-a -t $VIP_DR:80 -r 192.168.1.13:80 -g
		-A -t [$VIP6]:80 -s sh
		-a -t [$VIP6]:80 -r [fd00:2::11]:80 -m
		-A -u $VIP:9 -s rr
		-a -u $VIP:9 -r 192.168.1.11:9 -m
		-a -u $VIP:9 -r 192.168.1.12:9 -m
	EOF
}

load_rs
dp_setup
# Flows ask again and again on one connection: servers that answer each
# question (the data-plane servers answer once).
for r in r1 r2 r3; do
	nsenter --net="/run/netns/$(dp_ns $r)" "$TRAFFIC" serve-echo "$r" 8080 >/dev/null 2>&1 &
	dp_pids+=($!)
done
director ip addr add "$VIP_DR/24" dev cli
in_ns r3 ip addr add "$VIP_DR/32" dev lo
in_ns r3 sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
# r3's answers come back through the director from an address of its own.
director sysctl -qw net.ipv4.conf.br0.accept_local=1
# The sprayed datagrams end at the real servers unanswered.
for r in r1 r2; do in_ns $r iptables -A INPUT -p udp --dport 9 -j DROP || fail "iptables"; done
# Short timeouts: UDP connections come and go throughout.
base | director ipvsadm -R || fail "configuration"
director ipvsadm --set 20 5 5 || fail "timeouts"

go=/tmp/churn.go
rm -f "$go"
end=$((SECONDS + secs))
pids=()
trap 'touch "$go"; kill "${pids[@]}" 2>/dev/null; dp_teardown' EXIT

# Traffic: flows held both ways through NAT (a flush ends the TCP ones:
# the hooks go with the last service, as stock's, and the director resets
# them), new TCP connections through NAT and direct routing, and a new
# UDP connection per datagram from sources of their own.
in_ns c "$TRAFFIC" steady "$VIP:8080" 4 0 "$go" >/tmp/churn.nat &
pids+=($!)
in_ns c "$TRAFFIC" steady "$VIP:53" 0 4 "$go" >/tmp/churn.nat-udp &
pids+=($!)
for to in "$VIP:80" "$VIP_DR:80"; do
	(
		while [ ! -e "$go" ]; do in_ns c "$TRAFFIC" tcp "$to" 20; done |
			answered | awk -v to="$to" '{ sub(/answered=/, ""); a += $1 } END { print to, a + 0 }'
	) >"/tmp/churn.tcp-$to" &
	pids+=($!)
done
(
	i=0
	while [ ! -e "$go" ]; do
		in_ns c "$TRAFFIC" spray "$VIP:9" 500 $((21 * 64512 + i * 500)) >/dev/null
		i=$(((i + 1) % 100))
	done
) &
pids+=($!)
ntraffic=${#pids[@]}

# writer <name> <commands...>: the batch `ipvsadm -R` runs again and
# again until the end; failures are expected (the writers undo each
# other's work) and counted.
writer() {
	local name=$1 n=0 bad=0
	while [ $SECONDS -lt $end ]; do
		"${@:2}" | director ipvsadm -R 2>/dev/null || bad=$((bad + 1))
		n=$((n + 1))
	done
	echo "$name $n batches, $bad refused"
}
svc_churn() {
	local p
	for p in 2001 2002 2003; do
		echo "-A -t $VIP:$p -s wrr"
		echo "-a -t $VIP:$p -r 192.168.1.13:8080 -m -w 2"
		echo "-A -u $VIP:$p -s lc"
		echo "-a -u $VIP:$p -r 192.168.1.13:53 -m"
	done
	for p in 2001 2002 2003; do echo "-D -t $VIP:$p"; echo "-D -u $VIP:$p"; done
}
dest_churn() {
	echo "-a -t $VIP:8080 -r 192.168.1.13:8080 -m"
	echo "-a -u $VIP:53 -r 192.168.1.13:53 -m"
	echo "-d -t $VIP:8080 -r 192.168.1.13:8080"
	echo "-d -u $VIP:53 -r 192.168.1.13:53"
}
weights() {
	local w
	for w in 0 3 1; do
		echo "-e -t $VIP:8080 -r 192.168.1.11:8080 -m -w $w"
		echo "-e -u $VIP:53 -r 192.168.1.12:53 -m -w $((3 - w))"
	done
}
scheds() {
	local s
	for s in wrr lc wlc sed nq sh mh dh fo ovf twos lblc lblcr rr; do
		echo "-E -t $VIP:8080 -s $s"
	done
}
zero() { echo "-Z"; echo "-Z -t $VIP:8080"; }
flush() { sleep 5; echo "-C"; base; }
burst() {
	seq 3000 3299 | awk '{ printf "-A -u 10.9.9.9:%d -s rr\n", $1 }'
	echo "-A -u [fd00:9::9]:3000 -s rr"
	echo "-a -u [fd00:9::9]:3000 -r [fd00:2::12]:53 -m"
	seq 3000 3299 | awk '{ printf "-D -u 10.9.9.9:%d\n", $1 }'
	echo "-D -u [fd00:9::9]:3000"
}
for w in svc_churn dest_churn weights scheds zero flush burst; do
	writer $w $w >"/tmp/churn.$w" &
	pids+=($!)
done
(
	n=0
	while [ $SECONDS -lt $end ]; do
		director ipvsadm -Ln --stats >/dev/null
		director ipvsadm -Lnc >/dev/null
		director cat /proc/net/ip_vs /proc/net/ip_vs_conn /proc/net/ip_vs_status >/dev/null
		n=$((n + 1))
	done
	echo "reader $n rounds"
) >/tmp/churn.reader &
pids+=($!)

wait "${pids[@]:$ntraffic}"
touch "$go"
wait "${pids[@]:0:$ntraffic}"
cat /tmp/churn.{svc_churn,dest_churn,weights,scheds,zero,flush,burst,reader} | sed 's/^/# /'
for f in nat nat-udp; do sed "s/^/# $f /" "/tmp/churn.$f"; done
grep -q '^tcp same=[1-9]' /tmp/churn.nat || fail "no NAT TCP flow answered"
grep -q '^udp same=[1-9]' /tmp/churn.nat-udp || fail "no NAT UDP flow answered"
for to in "$VIP:80" "$VIP_DR:80"; do
	read -r _ n <"/tmp/churn.tcp-$to"
	echo "# new TCP connections to $to answered: $n"
	[ "${n:-0}" -gt 0 ] || fail "no TCP connection to $to answered"
done

# Quiet now: the configuration as the traffic had it (real servers added
# back come from the trash with their counts), then each listed real
# server's counts against the connections listed for it.
director ipvsadm -C
base | director ipvsadm -R || fail "configuration again"
hex4() { printf %04X "$1"; }
hexip() { local IFS=.; set -- $1; printf %02X%02X%02X%02X "$@"; }
# compare: whether the listing before and after the connection dump
# agree with it; prints the mismatch or the number of real servers.
compare() {
	local svc= checked=0 a b c d e f proto vip rs want got
	director ipvsadm -Ln >/tmp/churn.list
	director cat /proc/net/ip_vs_conn >/tmp/churn.conns
	director ipvsadm -Ln >/tmp/churn.list2
	cmp -s /tmp/churn.list /tmp/churn.list2 || { echo "listing changed meanwhile"; return 1; }
	while read -r a b c d e f _; do
		case $a in
		TCP | UDP) svc="$a $b" ;;
		-\>)
			# IPv4 services only: the dump writes IPv6 apart.
			case $svc in "" | *\[*) continue ;; esac
			proto=${svc%% *} vip=${svc#* } rs=$b
			want=$((e + f))
			got=$(awk -v p="$proto" -v va="$(hexip "${vip%:*}")" -v vp="$(hex4 "${vip##*:}")" \
				-v da="$(hexip "${rs%:*}")" -v dp="$(hex4 "${rs##*:}")" \
				'$1 == p && $4 == va && $5 == vp && $6 == da && $7 == dp' /tmp/churn.conns | wc -l)
			[ "$got" = "$want" ] || { echo "$svc -> $rs counts $want connections, the table lists $got"; return 1; }
			checked=$((checked + 1))
			;;
		esac
	done < <(awk 'NR > 3' /tmp/churn.list)
	echo "$checked"
}
# The connections the loops closed stay up to two minutes (TIME_WAIT) and
# expire one by one: the listing holds still only once most are gone,
# which takes longer the slower the guest.
ok=
try=0
end=$((SECONDS + 180))
while [ $SECONDS -lt $end ]; do
	try=$((try + 1))
	if res=$(compare); then ok=1 && break; fi
	sleep 2
done
echo "# counts compared on try $try"
[ "$ok" ] || fail "$res"
listed=$(awk 'NR > 1' /tmp/churn.conns | wc -l)
echo "# $listed connections at the end; $res real servers' counts match the table"
[ "$res" -ge 7 ] || fail "only $res real servers checked"
dp_teardown
trap - EXIT
rmmod ipvs_rs || fail "rmmod with $listed connections"
echo "concurrency ok"
