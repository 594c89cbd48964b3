#!/bin/bash
# The benchmark workloads, run inside the VM by scripts/bench.sh: the same
# traffic three ways (plain forwarding, stock ip_vs.ko, ipvs_rs.ko),
# alternating, IPVS_RS_BENCH_ROUNDS rounds. Prints "RESULT <workload>
# <way> <value>" lines; scripts/bench.sh summarises them.
#
# Topology (selftests/dataplane.sh): client -> director -> r1..r3 over
# veth. Plain forwarding sends to r1's own address; the IPVS ways to a
# NAT virtual service whose only real server is r1.
. selftests/lib.sh
. selftests/dataplane.sh

rounds=${IPVS_RS_BENCH_ROUNDS:-5}
secs=5
R1=192.168.1.11

result() { echo "RESULT $1 $2 $3"; }

# way <plain|stock|rs>: load what that way needs, configure the services.
way() {
	unload_all >/dev/null 2>&1
	case $1 in
	plain) return 0 ;;
	stock) modprobe ip_vs && modprobe ip_vs_rr ;;
	rs) insmod "$IPVS_RS_KO" ;;
	esac || fail "loading for $1"
	director ipvsadm -R <<-EOF
		-A -u $VIP:9000 -s rr
		-a -u $VIP:9000 -r $R1:9000 -m
		-A -u $VIP:9001 -s rr -o
		-a -u $VIP:9001 -r $R1:9001 -m
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $R1:80 -m
	EOF
}

# target <way> <port>: where the client sends.
target() { if [ "$1" = plain ]; then echo "$R1:$2"; else echo "$VIP:$2"; fi; }

# udp <workload> <way> <port> <flows>: packets/s reaching r1.
udp() {
	local out
	in_ns r1 "$TRAFFIC" sink "$3" $secs >/tmp/bench.sink &
	sleep 3
	in_ns c "$TRAFFIC" blast "$(target "$2" "$3")" "$4" $((secs + 2)) >/dev/null
	wait $!
	out=$(cat /tmp/bench.sink)
	result "$1" "$2" "${out:-0}"
}

dp_setup
# Plain forwarding needs a route to the real servers.
ip -n "$(dp_ns c)" route add 192.168.1.0/24 via 10.0.0.1

for round in $(seq "$rounds"); do
	echo "# round $round"
	for w in plain stock rs; do
		way $w
		director sysctl -qw net.ipv4.vs.conntrack=0 2>/dev/null
		udp udp-nat-8flows "$w" 9000 8
		# One-packet scheduling: one socket, every packet scheduled.
		if [ $w = plain ]; then udp udp-ops "$w" 9000 1; else udp udp-ops "$w" 9001 1; fi
		result tcp-conn-per-s-ct0 "$w" "$(in_ns c "$TRAFFIC" tcp-rate "$(target $w 80)" $secs)"
		# With conntrack tracking the director (a firewall rule uses it).
		director iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
		director iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
		director sysctl -qw net.ipv4.vs.conntrack=1 2>/dev/null
		result tcp-conn-per-s-ct1 "$w" "$(in_ns c "$TRAFFIC" tcp-rate "$(target $w 80)" $secs)"
		director iptables -F
		director ipvsadm -C 2>/dev/null
	done
done

# Reconnect delay from a reused client port after its real server was
# quiesced (conntrack=1, expire_nodest_conn=1), as 95-conntrack checks.
for r in r1 r2 r3; do
	in_ns "$r" "$TRAFFIC" serve-hold "$r" 8080 &
	dp_pids+=($!)
done
in_ns c iptables -A OUTPUT -p tcp --tcp-flags RST RST -j DROP
for round in $(seq "$rounds"); do
	for w in stock rs; do
		way $w
		director iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
		director iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
		director sysctl -qw net.ipv4.vs.conntrack=1 net.ipv4.vs.expire_nodest_conn=1
		director ipvsadm -R <<-EOF
			-A -t $VIP:8080 -s rr
			-a -t $VIP:8080 -r $(rs_addr r1):8080 -m
			-a -t $VIP:8080 -r $(rs_addr r2):8080 -m
			-a -t $VIP:8080 -r $(rs_addr r3):8080 -m
		EOF
		port=$((47000 + round * 2))
		[ $w = rs ] && port=$((port + 1))
		first=$(in_ns c "$TRAFFIC" tcp-abort "$VIP:8080" 1 $port)
		director ipvsadm -e -t "$VIP:8080" -r "$(rs_addr "$first"):8080" -m -w 0
		set -- $(in_ns c "$TRAFFIC" tcp-from "$VIP:8080" 1 $port)
		result reconnect-ms "$w" "${2:-0}"
		director iptables -F
		director ipvsadm -C
	done
done

# Control plane: restore services with ten real servers each (10k
# services, 100k real servers by default).
services=${IPVS_RS_BENCH_SERVICES:-10000}
gen() {
	local s d
	for s in $(seq 0 $((services - 1))); do
		echo "-A -t 10.$((s / 250)).$((s % 250)).1:80 -s wlc"
		for d in $(seq 1 10); do
			echo "-a -t 10.$((s / 250)).$((s % 250)).1:80 -r 172.16.$((s % 250)).$d:80 -m -w 1"
		done
	done
}
gen >/tmp/bench.rules
for w in stock rs; do
	for tool in ipvsadm ipvsadm-rs; do
		way $w
		director ipvsadm -C
		start=$(date +%s.%N)
		timeout 300 ip netns exec "$(dp_ns d)" "$tool" -R </tmp/bench.rules ||
			echo "# $tool -R on $w failed or timed out"
		end=$(date +%s.%N)
		n=$(director ipvsadm -Ln | grep -c '^  ->')
		echo "# $tool -R on $w: $n real servers"
		result "restore-s-$tool" "$w" "$(awk "BEGIN { printf \"%.1f\", $end - $start }")"
		director ipvsadm -C
	done
done
unload_all
dp_teardown
echo "BENCH DONE"
