#!/bin/bash
# What the data-plane sysctls that 92-95 leave out change, on ipvs_rs.ko
# and (unless IPVS_RS_STOCK=0) on stock ip_vs.ko, with the same transcript:
# - sloppy_tcp: a TCP packet without SYN opens a connection only with 1;
#   one with RST never (SYN or not);
# - expire_quiescent_template: a persistence template to a quiesced real
#   server keeps its clients with 0 and is dropped with 1;
# - expire_nodest_conn: deleting a real server drops its connections and
#   templates at once with 1, not with 0;
# - ignore_tunneled: packets of protocols IPVS has no handler for (here
#   IPIP) are marked as IPVS's with 1; this kernel's tunnel drivers clear
#   that mark when they decapsulate (skb_scrub_packet), so a datagram to
#   the VIP in an IPIP tunnel is balanced either way, as on stock;
# - nat_icmp_send: a datagram from a NAT real server's address and port
#   that belongs to no connection passes with 0; with 1 it is dropped
#   and the real server told (ICMP port unreachable), also when it is
#   for the director itself;
# - schedule_icmp: an ICMP error from a client about a flow the director
#   never saw (a reply another director or a DR real server sent) is
#   dropped as not IPVS's with 0; with 1 it schedules a connection, as
#   the client's own packet would have, and goes to its real server
#   (through NAT only with a right checksum);
# - cache_bypass: a packet of a fwmark service without a real server for
#   it goes on to its own destination with 1 (a connection without real
#   server); with 0 it is dropped;
# - run_estimation: rates (ipvsadm --rate) follow traffic with 1 and
#   stand still with 0.
. selftests/lib.sh
. selftests/dataplane.sh

# conns_from <client port>: connections listed for that client port.
conns_from() {
	director ipvsadm -Lnc | grep -c " 10\.0\.0\.2:$1 " || true
}

# listed <rs> <port> [client port]: connections and templates listed to
# that real server, leaving out those of the given client port.
listed() {
	director ipvsadm -Lnc | grep -E " $(rs_addr "$1"):$2\$" |
		grep -vc " 10\.0\.0\.2:${3:-none} " || true
}

# who: the real server one new TCP connection reaches.
who() {
	traffic tcp 80 1 | tr ' ' '\n' | sed -n 's/=1$//p'
}

scenario() {
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $(rs_addr r1):80 -m
	EOF
	director sysctl -qw net.ipv4.vs.sloppy_tcp=0
	in_ns c "$TRAFFIC" tcp-ack "$VIP:80" 41000
	echo "sloppy_tcp=0, bare ACK: $(conns_from 41000) connections"
	in_ns c "$TRAFFIC" tcp-ack "$VIP:80" 41002 0x06
	echo "sloppy_tcp=0, SYN+RST: $(conns_from 41002) connections"
	director sysctl -qw net.ipv4.vs.sloppy_tcp=1
	in_ns c "$TRAFFIC" tcp-ack "$VIP:80" 41001
	echo "sloppy_tcp=1, bare ACK: $(conns_from 41001) connections"
	in_ns c "$TRAFFIC" tcp-ack "$VIP:80" 41003 0x3f
	echo "sloppy_tcp=1, all flags: $(conns_from 41003) connections"
	director sysctl -qw net.ipv4.vs.sloppy_tcp=0
	# A SYN from port 20 (FTP's active data port) is never scheduled,
	# whatever the service (stock's FTPDATA rule).
	in_ns c "$TRAFFIC" tcp-ack "$VIP:80" 20 0x02
	echo "SYN from port 20: $(conns_from 20) connections"

	# expire_nodest_conn: a deleted real server's connections (and
	# persistence templates) stay until they time out with 0, go at once
	# with 1 (stock: a work item after the deletion), and with them those
	# of real servers deleted before.
	director sysctl -qw net.ipv4.vs.expire_nodest_conn=0
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -u $VIP:53 -s rr
		-a -u $VIP:53 -r $(rs_addr r1):53 -m
		-a -u $VIP:53 -r $(rs_addr r2):53 -m
		-A -t $VIP:80 -s rr -p 300
		-a -t $VIP:80 -r $(rs_addr r1):80 -m
	EOF
	for p in 42001 42002 42003 42004; do udp_from $p >/dev/null; done
	# sloppy_tcp left a connection to r1:80 (client port 41001), which
	# r1's RST closed: it may expire any moment, so it is not counted.
	traffic tcp 80 1 >/dev/null
	echo "before: $(listed r1 53) UDP to r1, $(listed r2 53) to r2, $(listed r1 80 41001) new TCP and templates to r1"
	director ipvsadm -d -u "$VIP:53" -r "$(rs_addr r1):53"
	sleep 1
	echo "expire_nodest_conn=0, r1 deleted: $(listed r1 53) UDP to r1, $(listed r2 53) to r2"
	director sysctl -qw net.ipv4.vs.expire_nodest_conn=1
	director ipvsadm -d -u "$VIP:53" -r "$(rs_addr r2):53"
	director ipvsadm -d -t "$VIP:80" -r "$(rs_addr r1):80"
	sleep 1
	echo "expire_nodest_conn=1, r2 deleted: $(listed r1 53) UDP to r1, $(listed r2 53) to r2, $(listed r1 80) TCP and templates to r1"
	director sysctl -qw net.ipv4.vs.expire_nodest_conn=0

	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr -p 300
		-a -t $VIP:80 -r $(rs_addr r1):80 -m
		-a -t $VIP:80 -r $(rs_addr r2):80 -m
	EOF
	first=$(who)
	director ipvsadm -e -t "$VIP:80" -r "$(rs_addr "$first"):80" -m -w 0
	director sysctl -qw net.ipv4.vs.expire_quiescent_template=0
	[ "$(who)" = "$first" ] && echo "quiesced, expire_quiescent_template=0: same real server" ||
		echo "quiesced, expire_quiescent_template=0: another real server"
	director sysctl -qw net.ipv4.vs.expire_quiescent_template=1
	[ "$(who)" = "$first" ] && echo "quiesced, expire_quiescent_template=1: same real server" ||
		echo "quiesced, expire_quiescent_template=1: another real server"
	# The template given up stays listed until it expires, as stock's
	# rehash leaves it: virtual and real-server port 65535.
	got=$(director ipvsadm -Lnc | awk '$4 ~ /:0$/ { print $5, $6 }')
	echo "templates: $(echo "$got" | grep -c ":65535 .*:65535\$") given up (ports 65535), $(echo "$got" | grep -vc ":65535 .*:65535\$") in use"

	# ignore_tunneled: the client reaches the VIP through an IPIP
	# tunnel to the director; nothing listens on the director's port 53.
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -u $VIP:53 -s rr
		-a -u $VIP:53 -r $(rs_addr r1):53 -m
	EOF
	in_ns c ip link add t4 type ipip local 10.0.0.2 remote 10.0.0.1
	in_ns c ip link set t4 up
	in_ns c ip route add "$VIP/32" dev t4
	director ip link add t4 type ipip local 10.0.0.1 remote 10.0.0.2
	director ip link set t4 up
	for on in 0 1; do
		director sysctl -qw net.ipv4.vs.ignore_tunneled=$on
		echo "ignore_tunneled=$on, UDP through a tunnel: $(in_ns c "$TRAFFIC" udp-probe "$VIP:53")"
	done
	director sysctl -qw net.ipv4.vs.ignore_tunneled=0
	in_ns c ip link del t4
	director ip link del t4

	# nat_icmp_send: r1 sends from its real server port 5353 to a
	# client port that answers; no connection covers it.
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -u $VIP:5353 -s rr
		-a -u $VIP:5353 -r $(rs_addr r1):5353 -m
	EOF
	# Then the same to a port that answers on the director itself.
	in_ns c "$TRAFFIC" serve c 9999 >/dev/null 2>&1 &
	local server=$!
	director "$TRAFFIC" serve d 9999 >/dev/null 2>&1 &
	local dserver=$!
	in_ns c ip route add 192.168.1.0/24 via 10.0.0.1
	sleep 1
	for on in 0 1; do
		director sysctl -qw net.ipv4.vs.nat_icmp_send=$on
		echo "nat_icmp_send=$on, stray datagram from r1's real server port: $(in_ns r1 "$TRAFFIC" udp-probe 10.0.0.2:9999 5353)"
		echo "nat_icmp_send=$on, the same to the director: $(in_ns r1 "$TRAFFIC" udp-probe 192.168.1.1:9999 5353)"
	done
	director sysctl -qw net.ipv4.vs.nat_icmp_send=0
	kill $server $dserver
	wait $server $dserver 2>/dev/null
	in_ns c ip route del 192.168.1.0/24 via 10.0.0.1

	# schedule_icmp: port unreachable from the client about a datagram
	# VIP:5353 -> 10.0.0.2:4200x.
	# The connection is counted on the service: listed, it would be
	# gone after 3 s (no state set, as on stock), which a busy guest may
	# take to list it. Stock's counters shown are the estimator's copy,
	# up to 2 s old: each count waits 2.5 s.
	director ipvsadm -Z
	for on in 0 1; do
		director sysctl -qw net.ipv4.vs.schedule_icmp=$on
		in_ns c "$TRAFFIC" icmp-unreach "$VIP:5353" $((42000 + on))
		sleep 2.5
		echo "schedule_icmp=$on, ICMP error about an unknown flow: $(director ipvsadm -Ln --stats -u "$VIP:5353" | awk '$1 == "UDP" { print $3 }') connections"
	done
	# The same with a wrong ICMP checksum: scheduled, then dropped
	# uncounted (not forwarded through NAT).
	in_ns c "$TRAFFIC" icmp-unreach "$VIP:5353" 42002 bad
	sleep 2.5
	echo "schedule_icmp=1, the same with a bad checksum: $(director ipvsadm -Ln --stats -u "$VIP:5353" | awk '$1 == "UDP" { print $3 " connections, " $4 " packets in" }')"
	director sysctl -qw net.ipv4.vs.schedule_icmp=0

	# cache_bypass: datagrams to r3 itself, marked 7 and routed to the
	# director's own stack (as a transparent cache does), meet fwmark
	# service 7 without real servers. With 0 they are dropped (the port
	# unreachable IPVS sends would come from r3's address, which is not
	# the director's: no route takes it); with 1 they go on to r3 by a
	# connection without real server, counted nowhere.
	director ipvsadm -C
	director ipvsadm -A -f 7 -s rr
	director iptables -t mangle -A PREROUTING -i cli -d "$(rs_addr r3)" -j MARK --set-mark 7
	director ip rule add fwmark 7 table 100
	director ip route add local 0.0.0.0/0 dev lo table 100
	in_ns c ip route add 192.168.1.0/24 via 10.0.0.1
	for on in 0 1; do
		director sysctl -qw net.ipv4.vs.cache_bypass=$on
		echo "cache_bypass=$on, datagram to r3 through fwmark 7: $(in_ns c "$TRAFFIC" udp-probe "$(rs_addr r3):53" $((43000 + on)))"
	done
	echo "cache_bypass connection: $(director ipvsadm -Lnc | awk '$4 == "10.0.0.2:43001" { print $3, $5, $6 }')"
	echo "fwmark 7 counters: $(director ipvsadm -Ln --stats | awk '$1 == "FWM" { print $3, $4, $5 }')"
	director sysctl -qw net.ipv4.vs.cache_bypass=0
	in_ns c ip route del 192.168.1.0/24 via 10.0.0.1
	director ip route del local 0.0.0.0/0 dev lo table 100
	director ip rule del fwmark 7 table 100
	director iptables -t mangle -F PREROUTING

	# Rates: a few seconds of datagrams, then the service's packets in
	# per second (stock's estimator runs every 2 s).
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -u $VIP:53 -s rr
		-a -u $VIP:53 -r $(rs_addr r1):53 -m
	EOF
	for on in 1 0; do
		director sysctl -qw net.ipv4.vs.run_estimation=$on
		# The estimator's thread stops within a second (ipvs_rs: its
		# once-a-second check; stock: its reload work): a tick of it
		# after the zeroing below would leave a rate standing.
		[ "$on" = 0 ] && sleep 2
		director ipvsadm -Z
		in_ns c "$TRAFFIC" blast "$VIP:53" 1 6 >/dev/null
		inpps=$(director ipvsadm -Ln --rate --exact | awk '$1 == "UDP" { print $4 }')
		[ "${inpps:-0}" -gt 0 ] && echo "run_estimation=$on: packets in per second > 0" ||
			echo "run_estimation=$on: packets in per second 0"
	done
	director sysctl -qw net.ipv4.vs.run_estimation=1
	director ipvsadm -C
}

on_ipvs_rs scenario
expect_eq "transcript" "sloppy_tcp=0, bare ACK: 0 connections
sloppy_tcp=0, SYN+RST: 0 connections
sloppy_tcp=1, bare ACK: 1 connections
sloppy_tcp=1, all flags: 0 connections
SYN from port 20: 0 connections
before: 2 UDP to r1, 2 to r2, 2 new TCP and templates to r1
expire_nodest_conn=0, r1 deleted: 2 UDP to r1, 2 to r2
expire_nodest_conn=1, r2 deleted: 0 UDP to r1, 0 to r2, 0 TCP and templates to r1
quiesced, expire_quiescent_template=0: same real server
quiesced, expire_quiescent_template=1: another real server
templates: 1 given up (ports 65535), 1 in use
ignore_tunneled=0, UDP through a tunnel: r1
ignore_tunneled=1, UDP through a tunnel: r1
nat_icmp_send=0, stray datagram from r1's real server port: c
nat_icmp_send=0, the same to the director: d
nat_icmp_send=1, stray datagram from r1's real server port: refused
nat_icmp_send=1, the same to the director: refused
schedule_icmp=0, ICMP error about an unknown flow: 0 connections
schedule_icmp=1, ICMP error about an unknown flow: 1 connections
schedule_icmp=1, the same with a bad checksum: 2 connections, 1 packets in
cache_bypass=0, datagram to r3 through fwmark 7: timeout
cache_bypass=1, datagram to r3 through fwmark 7: r3
cache_bypass connection: UDP 192.168.1.13:53 0.0.0.0:0
fwmark 7 counters: 0 0 0
run_estimation=1: packets in per second > 0
run_estimation=0: packets in per second 0" "$out"

against_stock scenario "$out"
echo "sysctl behaviour ok"
