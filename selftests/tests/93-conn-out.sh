#!/bin/bash
# Connections started by real servers (conn_out, ipvs_rs only): a real
# server calls an outside client over UDP through a NAT service. With
# net.ipv4.vs.conn_out=0 the datagram passes untouched (stock); with 1 the
# client sees the virtual address and its answer reaches the real server
# that called; a persistent service gets a template, so the client's next
# flow goes to that real server too. Fwmark and port-less services (which
# stock leaves out) take the real server's port as the virtual one; a
# fwmark service shows the director's own address toward the client.
. selftests/lib.sh
. selftests/dataplane.sh

CLIENT=10.0.0.2
PORT=5060

# call <real server> <client port>: the real server calls the client from
# port $PORT; prints "<what the client saw> / <what the real server got
# back>".
call() {
	local seen got
	in_ns c "$TRAFFIC" udp-answer "$2" >/tmp/conn-out.seen &
	# Starting a process in a namespace takes seconds in this guest.
	sleep 6
	got=$(in_ns "$1" "$TRAFFIC" udp-call "$CLIENT:$2" $PORT)
	wait $!
	seen=$(cat /tmp/conn-out.seen)
	echo "$seen / $got"
}

load_rs
dp_setup
director ipvsadm -R <<-EOF
	-A -u $VIP:$PORT -s rr
	-a -u $VIP:$PORT -r $(rs_addr r1):$PORT -m
	-a -u $VIP:$PORT -r $(rs_addr r2):$PORT -m
EOF

got=$(call r1 $PORT)
echo "conn_out=0: $got"
case $got in
"from $(rs_addr r1):$PORT / "*) ;;
*) fail "conn_out=0: the client should see the real server itself: $got" ;;
esac

director sysctl -qw net.ipv4.vs.conn_out=1
got=$(call r1 $PORT)
echo "conn_out=1: $got"
expect_eq "conn_out=1" "from $VIP:$PORT / answer" "$got"
director ipvsadm -Lnc
director ipvsadm -Lnc | grep -q "^UDP .* $CLIENT:$PORT *$VIP:$PORT *$(rs_addr r1):$PORT" ||
	fail "no connection client -> VIP -> r1 listed"
conns=$(director ipvsadm -Ln --stats | awk -v v="$VIP:$PORT" '$2 == v { print $3 }')
expect_eq "service connections" 1 "$conns"

# Persistent: the call leaves a template, the client's next flow follows.
# (Another client port: the first flow still stands for port $PORT.)
director ipvsadm -E -u "$VIP:$PORT" -s rr -p 60
got=$(call r2 5070)
echo "persistent, r2 calls: $got"
expect_eq "persistent call" "from $VIP:$PORT / answer" "$got"
# ASSURED: a connection of the template has seen its real server's side.
director ipvsadm -Lnc | grep -q "^UDP .* ASSURED .*$CLIENT:0 *$VIP:$PORT *$(rs_addr r2):$PORT" ||
	fail "no template for r2: $(director ipvsadm -Lnc)"
traffic udp $PORT 1 40123 >/dev/null
line=$(director ipvsadm -Lnc | grep ":40123 ")
echo "client's next flow: $line"
echo "$line" | grep -q "$(rs_addr r2):$PORT" || fail "next flow did not follow the template: $line"

# A fwmark service and a port-less one (persistent, real server without
# port).
director ipvsadm -C
director ipvsadm -R <<-EOF
	-A -f 7 -s rr
	-a -f 7 -r $(rs_addr r3):$PORT -m
	-A -u $VIP:0 -s rr -p 60
	-a -u $VIP:0 -r $(rs_addr r1) -m
EOF
got=$(call r3 5080)
echo "fwmark service, r3 calls: $got"
expect_eq "fwmark call" "from 10.0.0.1:$PORT / answer" "$got"
director ipvsadm -Lnc | grep -q "^UDP .*$CLIENT:5080 *10.0.0.1:$PORT *$(rs_addr r3):$PORT" ||
	fail "no connection client -> director -> r3: $(director ipvsadm -Lnc)"
got=$(call r1 5090)
echo "port-less service, r1 calls: $got"
expect_eq "port-less call" "from $VIP:$PORT / answer" "$got"
director ipvsadm -Lnc | grep -q "^UDP .* ASSURED .*$CLIENT:0 *$VIP:0 *$(rs_addr r1):" ||
	fail "no template of the port-less service: $(director ipvsadm -Lnc)"

director ipvsadm -C
dp_teardown
rmmod ipvs_rs || fail "rmmod ipvs_rs"
echo "conn_out ok"
