#!/bin/bash
# AH and ESP follow the IKE connection between the same two addresses
# (UDP from and to port 500), as stock's protocol handlers do: through
# NAT both ways (only the address rewritten) over IPv4 (ESP and AH) and
# IPv6 (ESP; AH is an extension header there), and through direct
# routing; so do ICMP errors about them. Without an IKE connection they are not balanced. Same
# transcript on stock ip_vs.ko (unless IPVS_RS_STOCK=0).
. selftests/lib.sh
. selftests/dataplane.sh

VIP2=10.0.0.101
SINKS=(r1 r2 r3 c)

# sinks <secs>: counts ESP and AH on the real servers and the client
# for that long, in the background.
sinks() {
	local n
	sink_pids=()
	for n in "${SINKS[@]}"; do
		in_ns "$n" "$TRAFFIC" ipsec-sink "$1" >"/tmp/ipsec.$n" &
		sink_pids+=($!)
	done
	# Starting a process in a namespace takes seconds in this guest.
	sleep 6
}

# counted: what each sink saw, once they are done.
counted() {
	local n
	wait "${sink_pids[@]}"
	for n in "${SINKS[@]}"; do
		echo "  $n: $(cat "/tmp/ipsec.$n")"
	done
}

# stats <service>: the service's connections and packets, once the
# counters settle (stock's lag).
stats() {
	local last="" now i
	for i in $(seq 10); do
		now=$(director ipvsadm -Ln --stats | awk -v s="$1" '$2 == s { print "conns=" $3, "in=" $4, "out=" $5 }')
		[ -n "$now" ] && [ "$now" = "$last" ] && break
		last=$now
		sleep 1
	done
	echo "  $1: $now"
}

scenario() {
	local r who servers=()
	ip -n "$(dp_ns d)" addr add "$VIP2/24" dev cli
	for r in r1 r2 r3; do
		# Not on the transcript's output (which would wait for them).
		in_ns "$r" "$TRAFFIC" serve "$r" 500 >/dev/null 2>&1 &
		servers+=($!)
		ip -n "$(dp_ns "$r")" addr add "$VIP2/32" dev lo
	done
	director ipvsadm -R <<-EOF
		-A -u $VIP:500 -s rr
		-a -u $VIP:500 -r $(rs_addr r1):500 -m
		-a -u $VIP:500 -r $(rs_addr r2):500 -m
		-a -u $VIP:500 -r $(rs_addr r3):500 -m
		-A -u [$VIP6]:500 -s rr
		-a -u [$VIP6]:500 -r [fd00:2::11]:500 -m
		-a -u [$VIP6]:500 -r [fd00:2::12]:500 -m
		-A -u $VIP2:500 -s rr
		-a -u $VIP2:500 -r $(rs_addr r2):500 -g
		-a -u $VIP2:500 -r $(rs_addr r3):500 -g
	EOF

	echo "IPv4 NAT"
	sinks 14
	# No IKE connection yet: for the director itself.
	in_ns c "$TRAFFIC" ipsec-send "$VIP" 2
	who=$(in_ns c "$TRAFFIC" udp-probe "$VIP:500" 500)
	echo "  IKE from port 500: $who"
	in_ns c "$TRAFFIC" ipsec-send "$VIP" 3
	# The real server answers (ESP and AH): the client sees the
	# virtual address.
	case $who in r[123]) in_ns "$who" "$TRAFFIC" ipsec-send 10.0.0.2 2 ;; esac
	counted
	stats "$VIP:500"

	# ICMP errors about ESP and AH belong to the IKE connection too
	# (stock: through the AH/ESP handlers). With no sink listening, the
	# real server answers the client's ESP and AH with "protocol
	# unreachable", and the client the real server's; each error is
	# counted on the connection and readdressed on its way.
	echo "IPv4 NAT, ICMP errors"
	case $who in r[123])
		in_ns "$who" iptables -A INPUT -p icmp -s 10.0.0.2 -j ACCEPT
		in_ns c iptables -A INPUT -p icmp -s "$VIP" -j ACCEPT
		in_ns c "$TRAFFIC" ipsec-send "$VIP" 1
		in_ns "$who" "$TRAFFIC" ipsec-send 10.0.0.2 1
		sleep 1
		echo "  at the client from $VIP: $(in_ns c iptables -vnxL INPUT | awk '$3 == "ACCEPT" { print $1 }')"
		echo "  at the real server from 10.0.0.2: $(in_ns "$who" iptables -vnxL INPUT | awk '$3 == "ACCEPT" { print $1 }')"
		in_ns "$who" iptables -F INPUT
		in_ns c iptables -F INPUT
		;;
	esac
	stats "$VIP:500"

	echo "IPv6 NAT"
	sinks 14
	who=$(in_ns c "$TRAFFIC" udp-probe "[$VIP6]:500" 500)
	echo "  IKE from port 500: $who"
	in_ns c "$TRAFFIC" ipsec-send "$VIP6" 3
	case $who in r[123]) in_ns "$who" "$TRAFFIC" ipsec-send fd00:1::2 2 ;; esac
	counted
	stats "[$VIP6]:500"

	echo "IPv4 direct routing"
	sinks 14
	# The answer comes from the real server's own address: no matter.
	in_ns c "$TRAFFIC" udp-probe "$VIP2:500" 500 >/dev/null
	in_ns c "$TRAFFIC" ipsec-send "$VIP2" 4
	counted
	stats "$VIP2:500"
	director ipvsadm -Lnc | awk '$1 == "UDP" { print "  conn", $3, $4, $5, $6 }' | sort
	director ipvsadm -C
	kill "${servers[@]}"
	wait "${servers[@]}" 2>/dev/null
	return 0
}

on_ipvs_rs scenario
want=$out
# ESP and AH reached the IKE connection's real server only, its ESP
# came back from the virtual address, and nothing before IKE passed.
nat4=$(echo "$out" | sed -n '/^IPv4 NAT$/,/^IPv4 NAT, ICMP/p')
icmp4=$(echo "$out" | sed -n '/^IPv4 NAT, ICMP/,/^IPv6/p')
who=$(echo "$nat4" | sed -n 's/.*IKE from port 500: //p')
case $who in r[123]) ;; *) fail "IPv4 IKE unanswered: $who" ;; esac
expect_eq "IPv4 ESP and AH at $who" "  $who: esp=3 ah=3 from=10.0.0.2" \
	"$(echo "$nat4" | grep "^  $who:")"
expect_eq "IPv4 ESP and AH back at the client" "  c: esp=2 ah=2 from=$VIP" "$(echo "$nat4" | grep "^  c:")"
expect_eq "IPv4 others" 2 "$(echo "$nat4" | grep -c "^  r[123]: esp=0 ah=0 from=$")"
expect_eq "IPv4 counters" "  $VIP:500: conns=1 in=7 out=5" "$(echo "$nat4" | grep "^  $VIP:500:")"
# ESP and AH each way, an ICMP error about each.
expect_eq "ICMP errors about ESP and AH" "  at the client from $VIP: 2
  at the real server from 10.0.0.2: 2
  $VIP:500: conns=1 in=11 out=9" "$(echo "$icmp4" | grep "^  ")"
nat6=$(echo "$out" | sed -n '/^IPv6 NAT/,/^IPv4 direct/p')
who=$(echo "$nat6" | sed -n 's/.*IKE from port 500: //p')
case $who in r[12]) ;; *) fail "IPv6 IKE unanswered: $who" ;; esac
expect_eq "IPv6 ESP at $who" "  $who: esp=3 ah=0 from=fd00:1::2" "$(echo "$nat6" | grep "^  $who:")"
expect_eq "IPv6 ESP back at the client" "  c: esp=2 ah=0 from=$VIP6" "$(echo "$nat6" | grep "^  c:")"
dr=$(echo "$out" | sed -n '/^IPv4 direct/,$p')
got=$(echo "$dr" | grep -c "^  r[23]: esp=4 ah=4 from=10.0.0.2$")
expect_eq "DR: one real server got ESP and AH" 1 "$got"
expect_eq "DR counters" 1 "$(echo "$dr" | grep -c "^  $VIP2:500: conns=1 in=9 ")"

against_stock scenario "$want"
echo "AH and ESP ok"
