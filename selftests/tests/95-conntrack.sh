#!/bin/bash
# Conntrack (ipvs_rs only): with net.ipv4.vs.conntrack=1 and a firewall
# that drops INVALID packets in INPUT and FORWARD (as a kube-proxy node
# has), NAT works and conntrack expects the replies from the real
# servers. A client that lost its socket silently reconnects from the
# same port after its real server was quiesced (expire_nodest_conn=1):
# with conn_reuse_old_conntrack=1 at once on a live real server, with 0
# (stock) only after the SYN retransmit a second later. A client reusing
# its port after a clean close stays fast either way.
. selftests/lib.sh
. selftests/dataplane.sh

load_rs
dp_setup
for r in r1 r2 r3; do
	in_ns "$r" "$TRAFFIC" serve-hold "$r" 8080 &
	dp_pids+=($!)
done
director iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
director iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
director sysctl -qw net.ipv4.vs.conntrack=1
director sysctl -qw net.ipv4.vs.expire_nodest_conn=1
director ipvsadm -R <<-EOF2
	-A -t $VIP:80 -s rr
	-a -t $VIP:80 -r $(rs_addr r1):80 -m
	-a -t $VIP:80 -r $(rs_addr r2):80 -m
	-a -t $VIP:80 -r $(rs_addr r3):80 -m
	-A -t $VIP:8080 -s rr
	-a -t $VIP:8080 -r $(rs_addr r1):8080 -m
	-a -t $VIP:8080 -r $(rs_addr r2):8080 -m
	-a -t $VIP:8080 -r $(rs_addr r3):8080 -m
EOF2
# The client's resets never leave: its sockets can vanish silently.
in_ns c iptables -A OUTPUT -p tcp --tcp-flags RST RST -j DROP

got=$(traffic tcp 80 9)
echo "tcp rr through conntrack: $got"
expect_eq "tcp rr through conntrack" "r1=3 r2=3 r3=3 other=0" "$got"
n=$(director conntrack -L -p tcp --orig-dst "$VIP" --dport 80 2>/dev/null | grep -c "src=192.168.1.1[123] ")
echo "conntrack entries expecting replies from real servers: $n"
[ "$n" -ge 3 ] || fail "conntrack does not expect the real servers' replies: $(director conntrack -L 2>&1)"

# Clean close, then the same client port: conn_reuse_mode reschedules.
got=$(traffic tcp-from 80 2 45000)
echo "port reuse after a clean close:" $got
set -- $got
[ "$1" != none ] && [ "$3" != none ] && [ "$1" != "$3" ] ||
	fail "port reuse after close: '$got'"
[ "$4" -lt 500 ] || fail "reconnect after a clean close took $4 ms"

# SYNs the client retransmitted so far (a dropped SYN costs one).
syn_retrans() {
	in_ns c awk '$1 == "TcpExt:" && !n { for (i = 2; i <= NF; i++) k[i] = $i; n = 1; next }
		$1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (k[i] == "TCPSynRetrans") print $i }' /proc/net/netstat
}

# reconnect <conn_reuse_old_conntrack> <client port>: prints the real
# server of the lost connection, of the new one, the connect time and
# the SYNs retransmitted meanwhile.
reconnect() {
	local first got before
	director sysctl -qw net.ipv4.vs.conn_reuse_old_conntrack="$1"
	first=$(traffic tcp-abort 8080 1 "$2")
	director ipvsadm -e -t "$VIP:8080" -r "$(rs_addr "$first"):8080" -m -w 0
	before=$(syn_retrans)
	got=$(traffic tcp-from 8080 1 "$2")
	echo "$first $got $(($(syn_retrans) - before))"
	director ipvsadm -e -t "$VIP:8080" -r "$(rs_addr "$first"):8080" -m -w 1
}

set -- $(reconnect 1 46001)
echo "conn_reuse_old_conntrack=1: lost $1, reconnected to $2 in $3 ms, SYNs retransmitted: $4"
[ "$2" != none ] && [ "$2" != "$1" ] || fail "reuse=1: reconnected to '$2' (lost $1)"
[ "$3" -lt 500 ] || fail "reuse=1: reconnect took $3 ms"
[ "$4" = 0 ] || fail "reuse=1: $4 SYNs retransmitted (dropped on the way)"

set -- $(reconnect 0 46002)
echo "conn_reuse_old_conntrack=0: lost $1, reconnected to $2 in $3 ms, SYNs retransmitted: $4"
[ "$2" != none ] && [ "$2" != "$1" ] || fail "reuse=0: reconnected to '$2' (lost $1)"
[ "$3" -ge 900 ] || fail "reuse=0 (stock): reconnect took only $3 ms; the SYN should have been dropped"
[ "$4" -ge 1 ] || fail "reuse=0 (stock): no SYN retransmitted"

director ipvsadm -C
dp_teardown
rmmod ipvs_rs || fail "rmmod ipvs_rs"
echo "conntrack ok"
