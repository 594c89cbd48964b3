#!/bin/bash
# IPv4 tunnels of each type (--tun-type ipip, gre, gre with --tun-csum):
# TCP to the service reaches each real server wrapped as it expects (r1
# has only its IPIP device up, r2 and r3 only a GRE device, so a
# packet in the wrong wrapping goes unanswered), and the answers go back
# to the client from the virtual address. (Not UDP: the test servers
# answer datagrams from their own address.) On ipvs_rs.ko and (unless
# IPVS_RS_STOCK=0) stock ip_vs.ko, with the same transcript.
. selftests/lib.sh
. selftests/dataplane.sh

scenario() {
	local r dev
	for r in "${RS_NAMES[@]}"; do
		case $r in r1) dev=tunl0 ;; r2) dev=gre0 ;; r3) dev=gre1 ;; esac
		# A checksummed GRE packet needs a device that expects it
		# (icsum; gre0 drops it as a checksum error).
		[ "$r" = r3 ] && in_ns r3 ip link add gre1 type gre local "$(rs_addr r3)" icsum
		in_ns "$r" ip addr add "$VIP/32" dev lo
		in_ns "$r" ip link set "$dev" up
		in_ns "$r" sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$dev.rp_filter=0"
	done
	# The answers pass the director from its own VIP.
	director sysctl -qw net.ipv4.conf.br0.accept_local=1
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $(rs_addr r1):80 -i --tun-type ipip
		-a -t $VIP:80 -r $(rs_addr r2):80 -i --tun-type gre
		-a -t $VIP:80 -r $(rs_addr r3):80 -i --tun-type gre --tun-csum
	EOF
	echo "tcp: $(traffic tcp 80 6)"
	director ipvsadm -Sn | grep -- "-a "
	director ipvsadm -C
	director sysctl -qw net.ipv4.conf.br0.accept_local=0
	for r in "${RS_NAMES[@]}"; do
		in_ns "$r" ip addr del "$VIP/32" dev lo
	done
	in_ns r3 ip link del gre1
}

on_ipvs_rs scenario
expect_eq "transcript" "tcp: r1=2 r2=2 r3=2 other=0
-a -t 10.0.0.100:80 -r 192.168.1.11:80 -i -w 1 --tun-type ipip
-a -t 10.0.0.100:80 -r 192.168.1.12:80 -i -w 1 --tun-type gre --tun-nocsum
-a -t 10.0.0.100:80 -r 192.168.1.13:80 -i -w 1 --tun-type gre --tun-csum" "$out"

against_stock scenario "$out"
echo "IPv4 tunnels ok"
