# The NAT scenario of the data-plane selftests (sourced after lib.sh and
# dataplane.sh; FAM picks the family): schedulers' distribution, weight
# 0, persistence, one-packet scheduling, ICMP errors, deleting a real
# server under traffic, UDP expiry by timeout, connection listing and
# counters. Configuration goes through `ipvsadm -R` in batches: each
# process start costs seconds in the emulated guest.

# service <-t|-u> <port> "<options>" <weight r1> <weight r2> <weight r3>:
# the ipvsadm -R lines of a NAT service over the three real servers.
service() {
	local p=$1 port=$2 opts=$3 i=1 w
	shift 3
	echo "-A $p $(vip):$port $opts"
	for w in "$@"; do
		echo "-a $p $(vip):$port -r $(rs_addr r$i):$port -m -w $w"
		i=$((i + 1))
	done
}

expect_count() { # expect_count <what> <expected> <traffic args...>
	local what=$1 want=$2 got
	shift 2
	got=$(traffic "$@")
	echo "$what: $got"
	[ "$got" = "$want" ] || fail "$what: expected '$want', got '$got' ($module)"
}

scenario() {
	director ipvsadm -C
	director ipvsadm --set 900 120 300

	service -t 80 "-s rr" 1 1 1 | director ipvsadm -R
	expect_count "tcp rr" "r1=10 r2=10 r3=10 other=0" tcp 80 30

	# A client reusing its port after a clean close: the SYN finds the
	# old connection in TIME_WAIT and is scheduled anew (conn_reuse_mode).
	# (IPv4: the traffic tool binds source ports for IPv4 only.)
	if [ "$FAM" = 4 ]; then
		got=$(traffic tcp-from 80 2 45000 | awk '{ print $1 }' | tr '\n' ' ')
		echo "tcp from one port twice: $got"
		set -- $got
		[ "$#" = 2 ] && [ "$1" != none ] && [ "$2" != none ] && [ "$1" != "$2" ] ||
			fail "port reuse: '$got', want two different real servers ($module)"
	fi

	director ipvsadm -R <<-EOF
		-E -t $(vip):80 -s wrr
		-e -t $(vip):80 -r $(rs_addr r2):80 -w 2 -m
		-e -t $(vip):80 -r $(rs_addr r3):80 -w 3 -m
	EOF
	expect_count "tcp wrr 1:2:3" "r1=5 r2=10 r3=15 other=0" tcp 80 30

	director ipvsadm -R <<-EOF
		-E -t $(vip):80 -s rr
		-e -t $(vip):80 -r $(rs_addr r1):80 -w 0 -m
	EOF
	expect_count "tcp rr, r1 quiescent" "r1=0 r2=6 r3=6 other=0" tcp 80 12

	# Connections show in the listing (TIME_WAIT after a clean close).
	director ipvsadm -Lnc | grep "^TCP .*TIME_WAIT" | grep -qF "$(vip):80 " ||
		fail "no TCP connection listed ($module): $(director ipvsadm -Lnc)"
	# The listings (same on both modules), without the active and
	# inactive counts: a SYN retransmitted in the slow guest can turn a
	# closed connection back into an established one.
	director ipvsadm -Ln | awk '{ print $1, $2, $3, $4 }'
	director cat /proc/net/ip_vs | tail -n +4 | awk '{ print $1, $2, $3, $4 }'
	conns=$(director ipvsadm -Ln --stats | awk -v v="$(vip):80" '$2 == v { print $3 }')
	echo "service connections: $conns"
	# 30 + 30 + 12, and the two of the port-reuse check (IPv4 only).
	want=72
	[ "$FAM" = 4 ] && want=74
	[ "$conns" = "$want" ] || fail "service counted $conns connections, want $want ($module)"

	# Least connections over UDP flows (inactive until they expire): no
	# TCP retransmission in the slow guest can make one look active.
	director ipvsadm -C
	service -u 53 "-s lc" 1 1 1 | director ipvsadm -R
	# From ports of their own: a closed socket's ephemeral port, given
	# again to a later one, finds its old connection and is not scheduled.
	expect_count "udp lc" "r1=4 r2=4 r3=4 other=0" udp-ports 53 12 41000

	director ipvsadm -E -u "$(vip):53" -s rr
	expect_count "udp rr" "r1=10 r2=10 r3=10 other=0" udp-ports 53 30 42000
	n=$(director ipvsadm -Lnc | grep "^UDP " | grep -cF "$(vip):53 ")
	echo "udp connections listed: $n"
	[ "$n" = 42 ] || fail "expected 42 UDP connections listed, got $n ($module)"

	# One client port keeps its real server. Deleted, the real server gets
	# none of its packets (expire_nodest_conn=0, stock's default); added
	# back while the flows live, it resumes them and its counts (stock's
	# destination trash): 4 (lc) + 10 (rr) + the flow from port 40000.
	first=$(udp_from 40000)
	again=$(udp_from 40000)
	[ "$first" = "$again" ] || fail "client port 40000 moved: $first then $again ($module)"
	director ipvsadm -d -u "$(vip):53" -r "$(rs_addr "$first"):53"
	after=$(udp_from 40000)
	echo "udp flow after deleting its real server: '${after:-dropped}'"
	[ -z "$after" ] || fail "flow of a deleted real server reached '$after' ($module)"
	new=$(udp_from 40001)
	[ -n "$new" ] && [ "$new" != "$first" ] || fail "new flow went to '$new' ($module)"
	add_rs -u 53 "$first" 1
	inact=$(director ipvsadm -Ln | awk -v r="$(rs_addr "$first"):53" '$2 == r { print $6 }')
	echo "inactive connections of the real server added back: $inact"
	[ "$inact" = 15 ] || fail "real server added back has $inact inactive connections, want 15 ($module)"
	back=$(udp_from 40000)
	[ "$back" = "$first" ] || fail "flow after adding its real server back: '$back', want '$first' ($module)"
	# With expire_nodest_conn=1 the flow moves on instead.
	director sysctl -qw net.ipv4.vs.expire_nodest_conn=1
	director ipvsadm -d -u "$(vip):53" -r "$(rs_addr "$first"):53"
	moved=$(udp_from 40000)
	echo "expire_nodest_conn=1, flow moved: $([ -n "$moved" ] && [ "$moved" != "$first" ] && echo yes || echo "no ($moved)")"
	[ -n "$moved" ] && [ "$moved" != "$first" ] || fail "expire_nodest_conn=1: flow went to '$moved' ($module)"
	director sysctl -qw net.ipv4.vs.expire_nodest_conn=0
	add_rs -u 53 "$first" 1

	# The hooks go with a family's last service, as stock's: once the
	# services are flushed, a flow whose connection is still listed is
	# no longer forwarded; the director's own stack gets it.
	[ -n "$(udp_from 40020)" ] || fail "flow from port 40020 not answered ($module)"
	director ipvsadm -C
	listed=$(director ipvsadm -Lnc | grep -F "$(vip):53 " | grep -cF ":40020 ")
	got=$(traffic udp 53 1 40020 | answered)
	echo "flow of a flushed service: listed=$listed, $got"
	[ "$listed" = 1 ] && [ "${got%% *}" = answered=0 ] ||
		fail "flow of a flushed service: listed=$listed, $got ($module)"
	service -u 53 "-s rr" 1 1 1 | director ipvsadm -R
	[ -n "$(udp_from 40021)" ] || fail "service added back: no answer ($module)"

	# ICMP errors about a connection are translated: the real server
	# has nothing on port 54, its "port unreachable" (ICMP or ICMPv6)
	# reaches the client as coming from the virtual service.
	service -u 54 "-s rr" 1 | director ipvsadm -R
	got=$(traffic udp-probe 54 1)
	echo "udp to a closed port behind NAT: $got"
	[ "$got" = refused ] || fail "closed port: '$got', want refused ($module)"

	# Datagrams bigger than the MTU: the director reassembles the
	# client's fragments (IPv4: the stack before LOCAL_IN; IPv6: the
	# reassembly IPVS turns on) and the real server's passing through
	# (IPv4: IPVS itself), translates, and fragments them again.
	got=$(traffic udp-big 53 4000)
	echo "udp, 4000 bytes each way: $(echo "$got" | sed 's/^r[123] /rN /')"
	echo "$got" | grep -Eq '^r[123] 4000$' || fail "big datagram: '$got' ($module)"
	# A path to the real servers narrower than a datagram that may not
	# be fragmented (IPv4: don't-fragment set, as Linux sends; IPv6:
	# routers never fragment): the director tells the client, quoting
	# what it sent, and the client's socket reports the error.
	director ip link set br0 mtu 1280
	got=$(traffic udp-big 53 1400)
	director ip link set br0 mtu 1500
	echo "udp, 1400 bytes over a 1280-byte path: $got"
	[ "$got" = too-big ] || fail "datagram over a narrow path: '$got', want too-big ($module)"
	# A packet leaves the director with one hop less, as stock's: with
	# one hop to go it dies there and the client is told (ICMP time
	# exceeded); with two it reaches its real server.
	got="$(traffic udp-ttl 53 1) $(traffic udp-ttl 53 2 | sed 's/^r[123]$/rN/')"
	echo "udp with 1, 2 hops to go: $got"
	[ "$got" = "time-exceeded rN" ] || fail "hops: '$got', want 'time-exceeded rN' ($module)"
	# snat_reroute (on by default): a reply is routed again once it comes
	# from the virtual address, as if the director sent it, so a policy
	# rule for that source applies (here: nowhere to go). Off, replies
	# keep the route they were forwarded by.
	local v=$VIP ip="ip -4"
	[ "$FAM" = 6 ] && v=$VIP6 ip="ip -6"
	director $ip route add unreachable default table 100
	director $ip rule add from "$v" table 100
	got=$(traffic udp 53 1 | answered)
	director sysctl -qw net.ipv4.vs.snat_reroute=0
	got="$got; off: $(traffic udp 53 1 | answered)"
	director sysctl -qw net.ipv4.vs.snat_reroute=1
	director $ip rule del from "$v" table 100
	director $ip route flush table 100
	echo "udp reply with a rule for the virtual address: $got"
	[ "$got" = "answered=0 other=1; off: answered=1 other=0" ] ||
		fail "snat_reroute: '$got' ($module)"
	# IPv6 extension headers (hop-by-hop, destination options) before
	# UDP are stepped over.
	if [ "$FAM" = 6 ]; then
		expect_count "udp behind extension headers, rr" "r1=2 r2=2 r3=2 other=0" udp-exthdr 53 6
		# Any number of them, as stock (ipv6_find_hdr).
		got=$(in_ns c "$TRAFFIC" udp6-exthdrs "$(vip):53" 12)
		echo "udp behind twelve destination options headers: $(case $got in r[123]) echo answered ;; *) echo "$got" ;; esac)"
		case $got in r[123]) ;; *) fail "udp behind twelve extension headers: $got ($module)" ;; esac
	fi

	# ipvsadm-rs lists connections as ipvsadm does (expiry column aside;
	# UDP ones, which cannot expire in between).
	a=$(director ipvsadm -Lnc | awk '$1 != "TCP" { $2 = ""; print }')
	b=$(director ipvsadm-rs -Lnc | awk '$1 != "TCP" { $2 = ""; print }')
	expect_eq "ipvsadm-rs -Lnc ($module)" "$a" "$b"

	# A 20 s UDP timeout applies from the next packet: the flow expires.
	# (Long enough to list it first: starting ipvsadm takes seconds here.)
	director ipvsadm --set 900 120 20
	t0=$SECONDS
	udp_from 40010 >/dev/null
	director ipvsadm -Lnc | grep -q ":40010 " || fail "flow from port 40010 not listed ($module)"
	# Gone within 30 s (timers of that length fire up to a few seconds
	# late, by design), not before 20.
	while left=$(director ipvsadm -Lnc | grep ":40010 "); [ -n "$left" ] && [ $((SECONDS - t0)) -lt 32 ]; do
		sleep 2
	done
	echo "udp flow listed after its 20 s timeout: $(echo -n "$left" | grep -c .)"
	[ -z "$left" ] || fail "UDP connection outlived its timeout ($module): $left"
	[ $((SECONDS - t0)) -ge 20 ] || fail "UDP connection expired after $((SECONDS - t0)) s ($module)"

	# One-packet scheduling: datagrams of one socket spread, and leave no
	# connection behind. (Replies are not translated back, on stock
	# either: no connection is left to match them.)
	director ipvsadm -C
	service -u 53 "-s rr -o" 1 1 1 | director ipvsadm -R
	# The real servers come back from the trash with their counters.
	director ipvsadm -Z
	before=$(director ipvsadm -Lnc | grep "^UDP " | grep -cF "$(vip):53 ")
	traffic udp-send 53 15
	# (Stock's listed counters follow its estimator, seconds late.)
	for _ in $(seq 1 20); do
		sleep 0.5
		got=$(director ipvsadm -Ln --stats | awk '$1 == "->" && $3 ~ /^[0-9]+$/ { printf "%s ", $3 }')
		[ "$got" = "5 5 5 " ] && break
	done
	echo "one-packet, one socket, connections per real server: $got"
	[ "$got" = "5 5 5 " ] || fail "one-packet spread: '$got' ($module)"
	n=$(director ipvsadm -Lnc | grep "^UDP " | grep -cF "$(vip):53 ")
	echo "one-packet connections kept: $((n - before))"
	[ "$n" = "$before" ] || fail "$((n - before)) one-packet connections kept ($module)"

	# Persistence: one client sticks to one real server.
	director ipvsadm -C
	service -t 80 "-s rr -p 60" 1 1 1 | director ipvsadm -R
	got=$(traffic tcp 80 9)
	echo "persistent: $(echo "$got" | tr ' ' '\n' | grep -c '=9$') server took all 9"
	echo "$got" | grep -Eq '(^| )r[123]=9( |$)' || fail "persistence spread: $got ($module)"
	# Templates: client address, port 0, state ASSURED (its connections
	# got established; NONE before).
	director ipvsadm -Lnc | grep " ASSURED " | grep -qF "$(vip):80 " ||
		fail "no persistence template listed ($module)"
	# --persistent-conn columns: -> address weight persistent active inactive
	persist=$(director ipvsadm -Ln --persistent-conn | awk '$1 == "->" && $4 + 0 > 0' | wc -l)
	echo "real servers with a template: $persist"
	[ "$persist" = 1 ] || fail "templates on $persist real servers ($module)"
	director ipvsadm -C
}

both() { both_families scenario; }

load_rs
dp_setup
module=ipvs_rs
out_rs=$(both) || { echo "$out_rs"; exit 1; }
echo "$out_rs" | sed 's/^/ipvs_rs: /'
dp_teardown
# Flushing keeps connections until they time out; unloading frees them.
rmmod ipvs_rs || fail "rmmod ipvs_rs with connections left"

against_stock both "$out_rs"
echo "NAT behaves as stock (IPv6 pass: IPVS_RS_V6=${IPVS_RS_V6:-0})"
