#!/bin/bash
# The memory-pressure defense (drop_entry, drop_packet, secure_tcp,
# amemthresh, am_droprate) on ipvs_rs.ko and (unless IPVS_RS_STOCK=0) on
# stock ip_vs.ko, with the same transcript. Memory runs short first by
# raising amemthresh above what the VM has free, then for real (a balloon
# of tmpfs pages, during a SYN flood from ten addresses): modes 1 switch
# to 2 within a second (2 back to 1 when memory returns), and act:
# - drop_packet drops new connections (one in amemthresh / (amemthresh -
#   free) under pressure; one in am_droprate in mode 3);
# - secure_tcp follows the state table against SYN floods (opening
#   connections wait in SYNACK);
# - drop_entry drops connections at random, a 32nd of the table a
#   second, those of a SYN flood (still opening) first.
. selftests/lib.sh
. selftests/dataplane.sh

FLOOD=3000
# The flood goes to a real server that is not there: nothing answers,
# the connections stay SYN_RECV.
NOBODY=192.168.1.99

vs() { director sysctl -n "net.ipv4.vs.$1"; }
set_vs() { director sysctl -qw "net.ipv4.vs.$1=$2"; }

# modes <what>: the three mode knobs as they read now.
modes() {
	echo "$1: drop_entry=$(vs drop_entry) drop_packet=$(vs drop_packet) secure_tcp=$(vs secure_tcp)"
}

# settle <modes>: waits up to ten seconds for drop_entry, drop_packet
# and secure_tcp to read "<modes>" (the level is assessed every second;
# memory comes and goes at its own pace), then prints them.
settle() {
	local i now
	for i in $(seq 1 20); do
		now="$(vs drop_entry) $(vs drop_packet) $(vs secure_tcp)"
		[ "$now" = "$1" ] && break
		sleep 0.5
	done
	echo "$now"
}

# states <port> [addresses]: the states of the TCP connections to that
# port of the VIP (from client addresses matching that regex), each once.
states() {
	director ipvsadm -Lnc | awk -v v="$VIP:$1" -v c="${2:-}" \
		'$1 == "TCP" && $5 == v && (c == "" || $4 ~ ("^(" c "):")) { print $3 }' |
		sort -u | tr '\n' ' '
}

# free_pages: what the defense compares with amemthresh (si_meminfo's
# free and buffer pages).
free_pages() {
	awk '$1 == "MemFree:" || $1 == "Buffers:" { kb += $2 } END { print int(kb / 4) }' /proc/meminfo
}

# ballooned: connections of the balloon's flood (10.0.0.13 to .22).
ballooned() {
	director ipvsadm -Lnc | awk -v v="$VIP:81" \
		'$1 == "TCP" && $5 == v && $4 ~ /^10\.0\.0\.(1[3-9]|2[0-2]):/ { n++ } END { print n + 0 }'
}

# flooded: connections of the flooded service.
flooded() {
	director ipvsadm -Ln -t "$VIP:81" | awk -v rs="$NOBODY:81" '$2 == rs { print $5 + $6 }'
}

scenario() {
	local k got before after sent
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -u $VIP:53 -s rr
		-a -u $VIP:53 -r $(rs_addr r1):53 -m
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $(rs_addr r1):80 -g
		-A -t $VIP:81 -s rr
		-a -t $VIP:81 -r $NOBODY:81 -g
	EOF
	# Direct routing: r1 takes the VIP as its own and answers from it;
	# the director forwards what comes from its own VIP.
	in_ns r1 ip addr add "$VIP/32" dev lo
	director sysctl -qw net.ipv4.conf.br0.accept_local=1

	for k in drop_entry drop_packet secure_tcp; do
		if set_vs $k 4 2>/dev/null; then echo "$k=4: accepted"; else echo "$k=4: refused"; fi
	done
	modes "defaults"

	# The real server's replies pass this director (it routes for r1):
	# counted and tracked as stock does, the closed connection waits in
	# TIME_WAIT (seeing the client alone it would stay FIN_WAIT).
	echo "DR TCP: $(traffic tcp 80 1)"
	expect_eq "DR connection closed ($module)" "TIME_WAIT" "$(states 80 | xargs)"
	# (Stock's listed counters follow its estimator, seconds late.)
	for k in $(seq 1 30); do
		got=$(director ipvsadm -Ln --stats -t "$VIP:80" |
			awk -v rs="$(rs_addr r1):80" '$2 == rs { print $4 }')
		[ "${got:-0}" -gt 0 ] && break
		sleep 0.5
	done
	expect_eq "DR replies counted ($module)" "yes" "$([ "${got:-0}" -gt 0 ] && echo yes || echo "no ($got)")"

	# Plenty of memory: 1 stays 1, a written 2 falls back at once.
	for k in drop_entry drop_packet secure_tcp; do set_vs $k 1; done
	modes "amemthresh $(vs amemthresh), written 1"
	for k in drop_entry drop_packet secure_tcp; do set_vs $k 2; done
	modes "amemthresh $(vs amemthresh), written 2"
	expect_eq "modes with memory ($module)" "1 1 1" "$(vs drop_entry) $(vs drop_packet) $(vs secure_tcp)"
	echo "with memory, DR TCP: $(traffic tcp 80 1)"
	echo "with memory, UDP: $(traffic udp 53 2)"

	# Short of memory: within a second every mode 1 becomes 2.
	set_vs amemthresh 2147483647
	got=$(settle "2 2 2")
	echo "amemthresh max: $got"
	expect_eq "modes without memory ($module)" "2 2 2" "$got"
	got=$(traffic udp 53 2)
	echo "without memory, drop_packet 2, UDP: $got"
	expect_eq "drop_packet 2 ($module)" "answered=0 other=2" "$(echo "$got" | answered)"
	set_vs drop_packet 0
	echo "without memory, drop_packet 0, DR TCP: $(traffic tcp 80 1)"
	echo "DR TCP states: $(states 80)"

	# A SYN flood: under secure_tcp its connections wait in SYNACK
	# (without: SYN_RECV, below), and drop_entry takes them away second
	# by second.
	set_vs drop_entry 0
	sent=$(in_ns c "$TRAFFIC" spray "$VIP:81" $FLOOD 0 syn)
	sleep 1
	before=$(flooded)
	got=$(states 81)
	echo "flood of $sent SYNs: $got"
	expect_eq "secure_tcp on ($module)" "SYNACK " "$got"
	set_vs drop_entry 1
	sleep 6
	after=$(flooded)
	echo "flood: $([ "$after" -lt "$before" ] && echo fewer || echo "not fewer") after 6 s of drop_entry"
	[ "$before" -ge $((FLOOD * 9 / 10)) ] && [ "$after" -lt "$before" ] ||
		fail "drop_entry: $before then $after of $FLOOD ($module)"
	modes "flood, drop_entry written 1"

	# Memory back: modes 2 fall back to 1 within a second.
	set_vs amemthresh 1024
	set_vs drop_packet 1
	got=$(settle "1 1 1")
	echo "amemthresh 1024 again: $got"
	expect_eq "modes with memory again ($module)" "1 1 1" "$got"
	# From 10.0.0.4: the normal state table.
	in_ns c "$TRAFFIC" spray "$VIP:81" 4 100000 syn >/dev/null
	sleep 1
	got=$(states 81 10.0.0.4)
	echo "SYNs with memory: $got"
	expect_eq "secure_tcp off again ($module)" "SYN_RECV " "$got"

	# Mode 3 drops one new connection in am_droprate, memory or not.
	set_vs am_droprate 4
	set_vs drop_packet 3
	got=$(traffic udp 53 8)
	echo "drop_packet 3, am_droprate 4, UDP: $(echo "$got" | answered)"
	expect_eq "drop_packet 3 ($module)" "answered=6 other=2" "$(echo "$got" | answered)"

	# Real pressure: a balloon of tmpfs pages takes free memory 128 MB
	# below amemthresh, during a SYN flood from ten addresses.
	set_vs am_droprate 10
	set_vs amemthresh $(($(free_pages) - 32768))
	for k in drop_entry drop_packet secure_tcp; do set_vs $k 1; done
	got=$(settle "1 1 1")
	echo "amemthresh 128 MB below free: $got"
	expect_eq "modes before the balloon ($module)" "1 1 1" "$got"
	# (Not in the director's namespace: its mount namespace goes with
	# the command.)
	mkdir -p /tmp/balloon
	mount -t tmpfs -o size=512m balloon /tmp/balloon
	dd if=/dev/zero of=/tmp/balloon/fill bs=1M count=256 status=none
	set_vs drop_entry 0
	got=$(settle "0 2 2")
	echo "balloon of 256 MB: $got"
	expect_eq "modes in a balloon ($module)" "0 2 2" "$got"
	sent=0
	for k in $(seq 10 19); do
		sent=$((sent + $(in_ns c "$TRAFFIC" spray "$VIP:81" $((FLOOD / 10)) $((k * 64512)) syn)))
	done
	sleep 1
	before=$(ballooned)
	got=$(states 81 "10.0.0.1[3-9]|10.0.0.2[0-2]")
	echo "balloon, flood of $sent SYNs from ten addresses: $got"
	expect_eq "secure_tcp in a balloon ($module)" "SYNACK " "$got"
	echo "balloon flood: $([ "$before" -lt "$sent" ] && echo "some dropped" || echo "none dropped") by drop_packet"
	[ "$before" -lt "$sent" ] || fail "drop_packet in a balloon: $before of $sent ($module)"
	set_vs drop_entry 1
	sleep 6
	after=$(ballooned)
	echo "balloon flood: $([ "$after" -lt "$before" ] && echo fewer || echo "not fewer") after 6 s of drop_entry"
	[ "$after" -lt "$before" ] || fail "drop_entry in a balloon: $before then $after ($module)"
	umount /tmp/balloon
	got=$(settle "1 1 1")
	echo "balloon gone: $got"
	expect_eq "modes after the balloon ($module)" "1 1 1" "$got"

	for k in drop_entry drop_packet secure_tcp; do set_vs $k 0; done
	set_vs amemthresh 1024
	in_ns r1 ip addr del "$VIP/32" dev lo
	director sysctl -qw net.ipv4.conf.br0.accept_local=0
	director ipvsadm -C
}

on_ipvs_rs scenario
rs=$out
against_stock scenario "$rs"
