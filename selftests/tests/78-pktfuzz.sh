#!/bin/bash
# Packet fuzzing: ipvs-pktfuzz writes damaged IPv4 and IPv6 frames
# (versions, header and total lengths, options, extension header chains,
# fragments, TCP/UDP/SCTP/ICMP/ICMPv6 cut or lying, ICMP errors quoting
# connections or garbage, AH, ESP, GRE, tunnels) straight onto the wire
# of a director with NAT (TCP, UDP, SCTP, IPv4 and IPv6), direct
# routing, IPIP, one-packet and persistent services: from the client
# side at the virtual addresses (IPVS_RS_PKTFUZZ, 100000 frames; 20000
# in CI), then from a real server's side on the reply path (half as
# many), after some real connections. Afterwards the director must
# still answer through every kind of service and the module unload; the
# run's KASAN, lockdep and kmemleak checks cover the rest. Outside CI
# the same frames go through stock ip_vs.ko, the packets each director
# forwarded are printed side by side, and the kinds of frame whose counts
# differ (ipvs-sniff on the director's side of the real servers).
. selftests/lib.sh
. selftests/dataplane.sh

FUZZ=$(dirname "$TRAFFIC")/ipvs-pktfuzz
SNIFF=$(dirname "$TRAFFIC")/ipvs-sniff
[ -x "$FUZZ" ] || skip "no $FUZZ (make traffic)"
stock=${IPVS_RS_STOCK:-1}
N=${IPVS_RS_PKTFUZZ:-}
[ -n "$N" ] || { [ "$stock" = 1 ] && N=100000 || N=20000; }

config() {
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r 192.168.1.11:80 -m
		-a -t $VIP:80 -r 192.168.1.12:80 -m
		-A -u $VIP:53 -s wlc
		-a -u $VIP:53 -r 192.168.1.12:53 -m
		-a -u $VIP:53 -r 192.168.1.13:53 -m
		-A --sctp-service $VIP:9 -s rr
		-a --sctp-service $VIP:9 -r 192.168.1.11:9 -m
		-A -t $VIP:81 -s rr
		-a -t $VIP:81 -r 192.168.1.13:81 -g
		-A -u $VIP:82 -s rr
		-a -u $VIP:82 -r 192.168.1.12:82 -i
		-A -u $VIP:54 -s rr -o
		-a -u $VIP:54 -r 192.168.1.11:53 -m
		-A -t $VIP:83 -s sh -p 60
		-a -t $VIP:83 -r 192.168.1.13:80 -m
		-A -t [$VIP6]:80 -s rr
		-a -t [$VIP6]:80 -r [fd00:2::11]:80 -m
		-A -u [$VIP6]:53 -s rr
		-a -u [$VIP6]:53 -r [fd00:2::13]:53 -m
	EOF
}

# mac <namespace> <interface>; txp <namespace> <interface>: packets it
# sent (sysfs would show the namespace of its mount, not this one).
mac() { ip -n "$(dp_ns "$1")" -o link show dev "$2" | awk '{ for (i = 1; i < NF; i++) if ($i == "link/ether") print $(i + 1) }'; }
txp() { in_ns "$1" awk -v d="$2:" '$1 == d { print $11 }' /proc/net/dev; }

# scenario: configure, spray both ways, check; prints "forwarded: A B".
scenario() {
	config || fail "$module: configuration"
	local cmac dmac bmac rmac b0 c0 a
	dmac=$(mac d cli)
	cmac=$(mac c veth0)
	bmac=$(mac d br0)
	rmac=$(mac r1 eth0)
	rm -f /tmp/sniff78.stop
	if [ "$stock" = 1 ] && [ -x "$SNIFF" ]; then
		IPVS_SNIFF_OWN=192.168.1.1,fd00:2::1 in_ns d "$SNIFF" br0 /tmp/sniff78.stop \
			>"/tmp/sniff78.$module" &
		sleep 1
	fi
	b0=$(txp d br0)
	in_ns c "$FUZZ" veth0 "$dmac" "$cmac" 10.0.0.2 fd00:1::2 "$N" 1 \
		"$VIP:80" "$VIP:53" "$VIP:9" "$VIP:81" "$VIP:82" "$VIP:54" "$VIP:83" \
		"[$VIP6]:80" "[$VIP6]:53" >/dev/null || fail "$module: the client's spray"
	sleep 1
	b1=$(txp d br0)
	touch /tmp/sniff78.stop
	wait
	# Connections for the replies to meet, then the reply path.
	traffic tcp 80 4 >/dev/null
	traffic udp 53 4 >/dev/null
	c0=$(txp d cli)
	IPVS_PKTFUZZ_SPORTS=80,53,9,81,82,83 in_ns r1 "$FUZZ" eth0 "$bmac" "$rmac" \
		192.168.1.11 fd00:2::11 "$((N / 2))" 2 10.0.0.2:0 "[fd00:1::2]:0" >/dev/null ||
		fail "$module: the real server's spray"
	sleep 1
	c1=$(txp d cli)
	# Everything still answers.
	a=$(traffic tcp 80 6 | answered)
	expect_eq "$module: TCP through NAT after the spray" "answered=6 other=0" "$a"
	a=$(traffic udp 53 6 | answered)
	expect_eq "$module: UDP through NAT after the spray" "answered=6 other=0" "$a"
	a=$(FAM=6 traffic tcp 80 4 | answered)
	expect_eq "$module: IPv6 TCP through NAT after the spray" "answered=4 other=0" "$a"
	a=$(traffic tcp 83 4 | answered)
	expect_eq "$module: persistent TCP after the spray" "answered=4 other=0" "$a"
	director ipvsadm -Ln >/dev/null || fail "$module: listing after the spray"
	echo "forwarded: $((b1 - b0)) to the real servers, $((c1 - c0)) to the client"
}

start=$(date +%s)
load_rs
dp_setup
module=ipvs_rs
rs=$(scenario) || { echo "$rs"; exit 1; }
echo "ipvs_rs.ko: $N frames at the services, $((N / 2)) on the reply path in $(($(date +%s) - start)) s; $rs"
dp_teardown
rmmod ipvs_rs || fail "rmmod ipvs_rs after the spray"

[ "$stock" = 1 ] || exit 0
modprobe ip_vs 2>/dev/null || exit 0
for m in ip_vs_rr ip_vs_wlc ip_vs_sh; do modprobe "$m" 2>/dev/null; done
dp_setup
module=stock
st=$(scenario) || { echo "$st"; exit 1; }
dp_teardown
unload_all
echo "stock ip_vs.ko: $st"
# Kinds of frame sent towards the real servers during the client's spray
# whose counts differ: "kind: ipvs_rs stock".
if [ -s /tmp/sniff78.ipvs_rs ] && [ -s /tmp/sniff78.stock ]; then
	awk 'FNR == 1 { f++ } { n = $1; $1 = ""; k = substr($0, 2); c[k, f] = n; kinds[k] }
		END { for (k in kinds) if (c[k, 1] + 0 != c[k, 2] + 0)
			printf "differs: %s: %d %d\n", k, c[k, 1], c[k, 2] }' \
		/tmp/sniff78.ipvs_rs /tmp/sniff78.stock | sort
fi
