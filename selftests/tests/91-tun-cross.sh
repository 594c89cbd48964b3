#!/bin/bash
# Tunnels across families: an IPv4 service with IPv6 real servers (r1
# and r2 take IPv4 out of IPv6 with an ip6tnl device in ipip6 mode) and
# an IPv6 service with an IPv4 real server (r3 takes IPv6 out of IPv4 on
# sit0). TCP reaches each real server and the answers go back to the
# client from the virtual address; a datagram too big for the IPv4
# tunnel with its DF flag gets "fragmentation needed". (Not UDP
# answers: the test servers answer datagrams from their own address.)
# On ipvs_rs.ko and (unless IPVS_RS_STOCK=0) stock ip_vs.ko, with the
# same transcript.
. selftests/lib.sh
. selftests/dataplane.sh

scenario() {
	local r i=11
	for r in r1 r2; do
		in_ns "$r" ip link add tun46 type ip6tnl mode ipip6 local "fd00:2::$i"
		in_ns "$r" ip addr add "$VIP/32" dev lo
		in_ns "$r" ip link set tun46 up
		in_ns "$r" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tun46.rp_filter=0
		i=$((i + 1))
	done
	in_ns r3 ip addr add "$VIP6/128" dev lo
	in_ns r3 ip link set sit0 up
	# IPv4 answers pass the director from its own VIP.
	director sysctl -qw net.ipv4.conf.br0.accept_local=1
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r [fd00:2::11]:80 -i
		-a -t $VIP:80 -r [fd00:2::12]:80 -i
		-A -t [$VIP6]:80 -s rr
		-a -t [$VIP6]:80 -r $(rs_addr r3):80 -i
		-A -u [$VIP6]:53 -s rr
		-a -u [$VIP6]:53 -r $(rs_addr r3):53 -i
	EOF
	echo "tcp to the IPv4 service: $(FAM=4 traffic tcp 80 4)"
	echo "tcp to the IPv6 service: $(FAM=6 traffic tcp 80 2)"
	# 1440 bytes of UDP over IPv6: 1488 bytes, 1508 in the IPv4 tunnel.
	echo "udp6, 1440 bytes: $(FAM=6 traffic udp-big 53 1440)"
	director ipvsadm -Ln | awk '$1 == "->" && $2 != "RemoteAddress:Port" { print $1, $2, $3, $4 }'
	director ipvsadm -C
	director sysctl -qw net.ipv4.conf.br0.accept_local=0
	for r in r1 r2; do
		in_ns "$r" ip link del tun46
		in_ns "$r" ip addr del "$VIP/32" dev lo
	done
	in_ns r3 ip addr del "$VIP6/128" dev lo
}

on_ipvs_rs scenario
expect_eq "transcript" "tcp to the IPv4 service: r1=2 r2=2 r3=0 other=0
tcp to the IPv6 service: r1=0 r2=0 r3=2 other=0
udp6, 1440 bytes: too-big
-> [fd00:2::11]:80 Tunnel 1
-> [fd00:2::12]:80 Tunnel 1
-> 192.168.1.13:80 Tunnel 1
-> 192.168.1.13:53 Tunnel 1" "$out"

against_stock scenario "$out"
echo "tunnels across families ok"
