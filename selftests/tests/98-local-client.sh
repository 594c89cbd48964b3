#!/bin/bash
# Clients on the director itself (LOCAL_OUT): TCP and UDP to NAT services
# over IPv4 and IPv6 are scheduled, and the answers come back from the
# virtual address. Then the other way round: a NAT real server on the
# director itself, whose answers leave through LOCAL_OUT and must leave
# from the virtual address. On ipvs_rs.ko and (unless IPVS_RS_STOCK=0)
# stock ip_vs.ko, with the same transcript.
. selftests/lib.sh
. selftests/dataplane.sh

# local <tcp|udp> <addr:port> <count>: from the director.
local_traffic() {
	director "$TRAFFIC" "$1" "$2" "$3"
}

scenario() {
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $(FAM=4 rs_addr r1):80 -m
		-a -t $VIP:80 -r $(FAM=4 rs_addr r2):80 -m
		-a -t $VIP:80 -r $(FAM=4 rs_addr r3):80 -m
		-A -u $VIP:53 -s rr
		-a -u $VIP:53 -r $(FAM=4 rs_addr r1):53 -m
		-a -u $VIP:53 -r $(FAM=4 rs_addr r2):53 -m
		-A -t [$VIP6]:80 -s rr
		-a -t [$VIP6]:80 -r $(FAM=6 rs_addr r2):80 -m
		-a -t [$VIP6]:80 -r $(FAM=6 rs_addr r3):80 -m
	EOF
	echo "tcp: $(local_traffic tcp "$VIP:80" 6)"
	echo "udp: $(local_traffic udp "$VIP:53" 4)"
	echo "tcp6: $(local_traffic tcp "[$VIP6]:80" 4)"

	# A real server on the director (named r3, so that the client's
	# report counts it) beside r1, for clients elsewhere.
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $(FAM=4 rs_addr r1):80 -m
		-a -t $VIP:80 -r 10.0.0.1:8080 -m
		-A -u $VIP:53 -s rr
		-a -u $VIP:53 -r $(FAM=4 rs_addr r1):53 -m
		-a -u $VIP:53 -r 10.0.0.1:8053 -m
	EOF
	director "$TRAFFIC" serve r3 8080 >/dev/null 2>&1 &
	local tcp_server=$!
	director "$TRAFFIC" serve r3 8053 >/dev/null 2>&1 &
	local udp_server=$!
	sleep 1
	echo "tcp to a real server on the director: $(FAM=4 traffic tcp 80 4)"
	echo "udp to a real server on the director: $(FAM=4 traffic udp 53 4)"
	echo "its connections: $(director ipvsadm -Lnc | awk '$6 == "10.0.0.1:8080" || $6 == "10.0.0.1:8053" { print $1, $3 }' | sort | uniq -c | xargs)"
	kill $tcp_server $udp_server
	wait $tcp_server $udp_server 2>/dev/null
	director ipvsadm -C
}

on_ipvs_rs scenario
expect_eq "transcript" "tcp: r1=2 r2=2 r3=2 other=0
udp: r1=2 r2=2 r3=0 other=0
tcp6: r1=0 r2=2 r3=2 other=0
tcp to a real server on the director: r1=2 r2=0 r3=2 other=0
udp to a real server on the director: r1=2 r2=0 r3=2 other=0
its connections: 2 TCP TIME_WAIT 2 UDP UDP" "$out"

against_stock scenario "$out"
echo "local clients ok"
