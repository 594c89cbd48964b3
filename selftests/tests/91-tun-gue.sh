#!/bin/bash
# GUE tunnels (--tun-type gue), and GRE to IPv6 real servers: TCP to the
# service reaches each real server wrapped as it expects and the answers
# go back to the client from the virtual address.
# - IPv4: each real server decapsulates GUE only on its own UDP port
#   (ip fou add ... gue; r1 6080, r2 6081, r3 6082), so a packet sent to
#   another port, or not in GUE, goes unanswered. r1's tunnel sends no
#   UDP checksum, r2's one (--tun-csum), r3's asks for remote checksum
#   offload (--tun-remcsum).
# - A datagram that fits the path with an IPIP header but not with GUE's
#   12 more bytes is refused with "fragmentation needed".
# - IPv6: r1 and r3 take GUE over IPv6, r2 GRE over IPv6 (ip6gre0).
# On ipvs_rs.ko and (unless IPVS_RS_STOCK=0) stock ip_vs.ko, with the
# same transcript.
. selftests/lib.sh
. selftests/dataplane.sh

scenario() {
	local r
	FAM=4
	for r in "${RS_NAMES[@]}"; do
		in_ns "$r" ip fou add port $((6079 + ${r#r})) gue
		in_ns "$r" ip addr add "$VIP/32" dev lo
		in_ns "$r" ip link set tunl0 up
		in_ns "$r" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.rp_filter=0
	done
	# The answers pass the director from its own VIP.
	director sysctl -qw net.ipv4.conf.br0.accept_local=1
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $(rs_addr r1):80 -i --tun-type gue --tun-port 6080
		-a -t $VIP:80 -r $(rs_addr r2):80 -i --tun-type gue --tun-port 6081 --tun-csum
		-a -t $VIP:80 -r $(rs_addr r3):80 -i --tun-type gue --tun-port 6082 --tun-remcsum
		-A -u $VIP:53 -s rr
		-a -u $VIP:53 -r $(rs_addr r1):53 -i --tun-type gue --tun-port 6080
	EOF
	echo "tcp: $(traffic tcp 80 6)"
	# 1446 bytes of UDP: a 1474-byte packet, 1494 bytes in IPIP, 1506
	# in GUE.
	echo "udp, 1446 bytes: $(traffic udp-big 53 1446)"
	director ipvsadm -Sn | grep -- "-a "
	director ipvsadm -C
	director sysctl -qw net.ipv4.conf.br0.accept_local=0
	for r in "${RS_NAMES[@]}"; do
		in_ns "$r" ip addr del "$VIP/32" dev lo
		in_ns "$r" ip fou del port $((6079 + ${r#r}))
	done

	FAM=6
	for r in "${RS_NAMES[@]}"; do
		in_ns "$r" ip addr add "$VIP6/128" dev lo
	done
	in_ns r1 ip fou add port 6080 gue -6
	in_ns r3 ip fou add port 6082 gue -6
	in_ns r1 ip link set ip6tnl0 up
	in_ns r3 ip link set ip6tnl0 up
	in_ns r2 ip link set ip6gre0 up
	director ipvsadm -R <<-EOF
		-A -t $(vip):80 -s rr
		-a -t $(vip):80 -r $(rs_addr r1):80 -i --tun-type gue --tun-port 6080
		-a -t $(vip):80 -r $(rs_addr r2):80 -i --tun-type gre
		-a -t $(vip):80 -r $(rs_addr r3):80 -i --tun-type gue --tun-port 6082 --tun-csum
	EOF
	echo "tcp over IPv6: $(traffic tcp 80 6)"
	director ipvsadm -C
	for r in "${RS_NAMES[@]}"; do
		in_ns "$r" ip addr del "$VIP6/128" dev lo
	done
	in_ns r1 ip fou del port 6080 -6
	in_ns r3 ip fou del port 6082 -6
}

on_ipvs_rs scenario
expect_eq "transcript" "tcp: r1=2 r2=2 r3=2 other=0
udp, 1446 bytes: too-big
-a -t 10.0.0.100:80 -r 192.168.1.11:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
-a -t 10.0.0.100:80 -r 192.168.1.12:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-csum
-a -t 10.0.0.100:80 -r 192.168.1.13:80 -i -w 1 --tun-type gue --tun-port 6082 --tun-remcsum
-a -u 10.0.0.100:53 -r 192.168.1.11:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
tcp over IPv6: r1=2 r2=2 r3=2 other=0" "$out"

against_stock scenario "$out"
echo "GUE tunnels ok"
