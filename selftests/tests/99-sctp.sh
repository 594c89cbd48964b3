#!/bin/bash
# SCTP through NAT: associations to an SCTP virtual service over IPv4 and
# IPv6 are balanced round robin over the real servers (whose SCTP stack
# drops any packet whose CRC32c NAT got wrong), and the state machine
# follows them to CLOSED after the server shuts down. On ipvs_rs.ko and
# (unless IPVS_RS_STOCK=0) stock ip_vs.ko, with the same transcript.
. selftests/lib.sh
. selftests/dataplane.sh

[ -d /proc/sys/net/sctp ] || skip "the kernel has no SCTP (CONFIG_IP_SCTP)"
command -v socat >/dev/null || skip "no socat"

# Each real server answers an association on port 7000 with its name;
# bound to its one address, so it offers the client no other path.
sctp_servers() {
	local r
	for r in "${RS_NAMES[@]}"; do
		# Not on the transcript's pipe: a stuck child would hold it open.
		in_ns "$r" socat -T5 "SCTP4-LISTEN:7000,bind=$(FAM=4 rs_addr "$r"),reuseaddr,fork" \
			SYSTEM:"echo $r" </dev/null >/dev/null 2>&1 &
		in_ns "$r" socat -T5 "SCTP6-LISTEN:7000,bind=$(FAM=6 rs_addr "$r"),ipv6only=1,reuseaddr,fork" \
			SYSTEM:"echo $r" </dev/null >/dev/null 2>&1 &
	done
	sleep 1
}

# sctp_clients <4|6> <count> [port]: associations from the client, one
# after the other, to the virtual port (7000); prints "r1=N r2=N r3=N"
# (who answered how often).
sctp_clients() {
	local i r1=0 r2=0 r3=0 name target port=${3:-7000}
	if [ "$1" = 6 ]; then
		target="SCTP6-CONNECT:[$VIP6]:$port,bind=[fd00:1::2]"
	else
		target="SCTP4-CONNECT:$VIP:$port,bind=10.0.0.2"
	fi
	for i in $(seq "$2"); do
		name=$(in_ns c timeout 10 socat -T5 -u "$target" -)
		echo "# association $i over IPv$1: '$name'" >&2
		case $name in r1) r1=$((r1 + 1)) ;; r2) r2=$((r2 + 1)) ;; r3) r3=$((r3 + 1)) ;; esac
	done
	echo "r1=$r1 r2=$r2 r3=$r3"
}

# The states of the SCTP entries left (CLOSED ones expire after 61 s,
# which a slow guest may reach before the listing).
entries() {
	echo "states:" $(director ipvsadm -Lnc | awk '$1 == "SCTP" { print $3 }' | sort -u)
}

scenario() {
	sctp_servers
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A --sctp-service $VIP:7000 -s rr
		-a --sctp-service $VIP:7000 -r $(FAM=4 rs_addr r1):7000 -m
		-a --sctp-service $VIP:7000 -r $(FAM=4 rs_addr r2):7000 -m
		-a --sctp-service $VIP:7000 -r $(FAM=4 rs_addr r3):7000 -m
		-A --sctp-service [$VIP6]:7000 -s rr
		-a --sctp-service [$VIP6]:7000 -r $(FAM=6 rs_addr r1):7000 -m
		-a --sctp-service [$VIP6]:7000 -r $(FAM=6 rs_addr r2):7000 -m
		-a --sctp-service [$VIP6]:7000 -r $(FAM=6 rs_addr r3):7000 -m
	EOF
	echo "sctp4: $(sctp_clients 4 6)"
	sleep 1
	entries
	echo "sctp6: $(sctp_clients 6 6)"
	sleep 1
	entries
	echo "counted:" $(director ipvsadm -Ln --stats | awk '$1 == "->" && $3 ~ /^[0-9]+$/ { print $3 }')
	# A virtual port other than the real server's: NAT rewrites the
	# ports, so the CRC32c is computed anew both ways (with the same
	# port it is left to the device, as stock).
	director ipvsadm -R <<-EOF
		-A --sctp-service $VIP:7001 -s rr
		-a --sctp-service $VIP:7001 -r $(FAM=4 rs_addr r2):7000 -m
		-A --sctp-service [$VIP6]:7001 -s rr
		-a --sctp-service [$VIP6]:7001 -r $(FAM=6 rs_addr r2):7000 -m
	EOF
	echo "sctp4 to port 7001: $(sctp_clients 4 2 7001)"
	echo "sctp6 to port 7001: $(sctp_clients 6 2 7001)"
	for r in "${RS_NAMES[@]}"; do
		kill $(ip netns pids "$(dp_ns "$r")") 2>/dev/null
	done
	director ipvsadm -C
}

on_ipvs_rs scenario
expect_eq "transcript" "sctp4: r1=2 r2=2 r3=2
states: CLOSED
sctp6: r1=2 r2=2 r3=2
states: CLOSED
counted: 2 2 2 2 2 2
sctp4 to port 7001: r1=0 r2=2 r3=0
sctp6 to port 7001: r1=0 r2=2 r3=0" "$out"

against_stock scenario "$out"
echo "sctp ok"
