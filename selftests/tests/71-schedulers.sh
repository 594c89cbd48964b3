#!/bin/bash
# The schedulers beyond the classic eight (dh, lblc, lblcr, fo, ovf,
# twos) through NAT over UDP, on ipvs_rs.ko and (unless IPVS_RS_STOCK=0)
# on stock ip_vs.ko with its scheduler modules, with the same transcript.
# The destination-keyed ones (dh, lblc, lblcr) see four virtual
# addresses through one fwmark service.
. selftests/lib.sh
. selftests/dataplane.sh

MARK=7
VIPS="10.0.0.100 10.0.0.101 10.0.0.102 10.0.0.103"

# to <address> <count>: that many datagrams to address:53, each from a
# port of its own; prints who answered. The ports are new to the whole
# run (counted up from 20000, below the ephemeral range): a random one
# could be that of a live earlier connection, which would take the
# datagram past the scheduler. `to` runs in $(...): the count goes
# through a file, read and written by bash (a process start costs
# about 0.3 s in the guest).
PORTS=$(mktemp)
to() {
	local first
	read -r first <"$PORTS"
	echo $((first + $2)) >"$PORTS"
	in_ns c "$TRAFFIC" udp-ports "$1:53" "$2" "$first"
}

# fwmark_service "<options>" <weight r1> <weight r2> <weight r3>
fwmark_service() {
	local opts=$1 i=1 w
	shift
	echo "-A -f $MARK $opts"
	for w in "$@"; do
		echo "-a -f $MARK -r $(rs_addr r$i):53 -m -w $w"
		i=$((i + 1))
	done
}

# one_server <what> <answers> <count>: all answered, by a single server.
one_server() {
	local w busy=0 all=0
	for w in $2; do
		case $w in
		r[0-9]=0) ;;
		r[0-9]="$3") busy=$((busy + 1)); all=1 ;;
		r[0-9]=*) busy=$((busy + 1)) ;;
		other=0) ;;
		*) busy=9 ;;
		esac
	done
	[ "$busy" = 1 ] && [ "$all" = 1 ] ||
		fail "$1: '$2', want all $3 at one real server ($module)"
}

# per_vip <scheduler> <count> [any]: each virtual address's answers, all
# from one server unless "any".
per_vip() {
	local v got
	for v in $VIPS; do
		got=$(to "$v" "$2")
		echo "$1 $v: $got"
		[ "${3:-}" = any ] || one_server "$1 $v" "$got" "$2"
	done
}

scenario() {
	local v got
	echo 20000 >"$PORTS"
	for v in $VIPS; do
		[ "$v" = "$VIP" ] || director ip addr add "$v/24" dev cli
	done
	director iptables -t mangle -A PREROUTING -d 10.0.0.100/30 -p udp --dport 53 \
		-j MARK --set-mark $MARK || fail "iptables MARK ($module)"
	director ipvsadm -C

	# dh: a virtual address is one server's, whoever asks.
	fwmark_service "-s dh" 1 1 1 | director ipvsadm -R
	per_vip dh 3
	# Weights do not spread it.
	director ipvsadm -e -f $MARK -r "$(rs_addr r2):53" -m -w 5
	per_vip "dh r2 weight 5" 2

	# lblc: the least loaded server at first, then the same one.
	director ipvsadm -C
	fwmark_service "-s lblc" 1 1 1 | director ipvsadm -R
	per_vip lblc 3
	per_vip "lblc again" 2
	# Quiesced: its addresses move to the least loaded, and stay.
	director ipvsadm -e -f $MARK -r "$(rs_addr r3):53" -m -w 0
	per_vip "lblc r3 quiesced" 2
	director ipvsadm -e -f $MARK -r "$(rs_addr r3):53" -m -w 1
	per_vip "lblc r3 back" 2

	# lblcr: the same, but a quiesced server's addresses gain a second
	# server, and the least loaded of the set serves. (The real servers
	# come back from the trash with the counts of the services before.)
	director ipvsadm -C
	fwmark_service "-s lblcr" 1 1 1 | director ipvsadm -R
	per_vip lblcr 3
	director ipvsadm -e -f $MARK -r "$(rs_addr r3):53" -m -w 0
	per_vip "lblcr r3 quiesced" 2
	director ipvsadm -e -f $MARK -r "$(rs_addr r3):53" -m -w 1
	per_vip "lblcr r3 back" 4 any

	# fo: the heaviest available server takes everything.
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -u $VIP:53 -s fo
		-a -u $VIP:53 -r $(rs_addr r1):53 -m -w 1
		-a -u $VIP:53 -r $(rs_addr r2):53 -m -w 3
		-a -u $VIP:53 -r $(rs_addr r3):53 -m -w 2
	EOF
	got=$(to $VIP 4)
	echo "fo 1:3:2: $got"
	expect_eq "fo ($module)" "r1=0 r2=4 r3=0 other=0" "$got"
	director ipvsadm -e -u $VIP:53 -r "$(rs_addr r2):53" -m -w 0
	got=$(to $VIP 4)
	echo "fo r2 quiesced: $got"
	expect_eq "fo r2 quiesced ($module)" "r1=0 r2=0 r3=4 other=0" "$got"

	# ovf: the heaviest server while its active connections do not
	# exceed its weight (datagrams are never active).
	director ipvsadm -E -u $VIP:53 -s ovf
	director ipvsadm -e -u $VIP:53 -r "$(rs_addr r2):53" -m -w 3
	got=$(to $VIP 4)
	echo "ovf 1:3:2: $got"
	expect_eq "ovf ($module)" "r1=0 r2=4 r3=0 other=0" "$got"

	# twos: random, by weight; a quiesced server gets nothing.
	director ipvsadm -E -u $VIP:53 -s twos
	director ipvsadm -e -u $VIP:53 -r "$(rs_addr r1):53" -m -w 0
	got=$(to $VIP 20)
	echo "twos 0:3:2: $(echo "$got" | answered), $(echo "$got" | grep -o 'r1=[0-9]*')"
	director ipvsadm -Ln | awk '$1 == "UDP" || $1 == "FWM" { print $1, $2, $3 }'

	# Persistence on a fwmark service and on a port-zero one: templates
	# without ports, connections to the packet's port even where the
	# real server has another (stock's ip_vs_sched_persist).
	director ipvsadm -C
	director ip addr add 10.0.0.104/24 dev cli
	director ipvsadm -R <<-EOF
		-A -f $MARK -s rr -p 60
		-a -f $MARK -r $(rs_addr r1):53 -m
		-A -u 10.0.0.104:0 -s rr -p 60
		-a -u 10.0.0.104:0 -r $(rs_addr r3):80 -m
	EOF
	echo "persistent fwmark: $(to 10.0.0.101 2)"
	echo "persistent port zero: $(to 10.0.0.104 2)"
	# Expiry times and client ports vary: left out; so are twos's
	# connections (random) to 10.0.0.100.
	director ipvsadm -Lnc | awk 'NR > 2 && $5 !~ /^10\.0\.0\.100:/ {
		$2 = ""; sub(/:[0-9]+$/, "", $4); print }' | sort
	director ipvsadm -C
}

on_ipvs_rs scenario
rs=$out
against_stock scenario "$rs" ip_vs_dh ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf ip_vs_twos
echo "ipvs_rs: $(echo "$rs" | grep -c ': r1=') placements checked"
