#!/bin/bash
# IPv6-in-IPv6 tunnels: TCP to an IPv6 service reaches the real servers
# wrapped in an outer IPv6 header (their ip6tnl0 takes it off) and the
# answers go back to the client directly, from the virtual address. (Not
# UDP: the test servers answer datagrams from their own address.)
# A datagram that fits the path but not with the 40 bytes of the outer
# header is refused with "packet too big". On ipvs_rs.ko and (unless
# IPVS_RS_STOCK=0) stock ip_vs.ko, with the same transcript.
. selftests/lib.sh
. selftests/dataplane.sh

FAM=6

scenario() {
	local r
	for r in "${RS_NAMES[@]}"; do
		in_ns "$r" ip addr add "$VIP6/128" dev lo
		in_ns "$r" ip link set ip6tnl0 up
	done
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $(vip):80 -s rr
		-a -t $(vip):80 -r $(rs_addr r1):80 -i
		-a -t $(vip):80 -r $(rs_addr r2):80 -i
		-a -t $(vip):80 -r $(rs_addr r3):80 -i
		-A -u $(vip):53 -s rr
		-a -u $(vip):53 -r $(rs_addr r1):53 -i
		-a -u $(vip):53 -r $(rs_addr r2):53 -i
	EOF
	echo "tcp: $(traffic tcp 80 6)"
	# 1440 bytes of UDP: a 1488-byte packet, 1528 bytes in the tunnel.
	echo "udp, 1440 bytes: $(traffic udp-big 53 1440)"
	director ipvsadm -Ln | awk '$1 == "->" { print $1, $2, $3, $4 }'
	director ipvsadm -C
}

on_ipvs_rs scenario
expect_eq "transcript" "tcp: r1=2 r2=2 r3=2 other=0
udp, 1440 bytes: too-big
-> RemoteAddress:Port Forward Weight
-> [fd00:2::11]:80 Tunnel 1
-> [fd00:2::12]:80 Tunnel 1
-> [fd00:2::13]:80 Tunnel 1
-> [fd00:2::11]:53 Tunnel 1
-> [fd00:2::12]:53 Tunnel 1" "$out"

against_stock scenario "$out"
echo "IPv6 tunnels ok"
