#!/bin/bash
# The SIP persistence engine (--pe sip) with one-packet scheduling: SIP
# requests from one client socket stick to a real server per Call-ID,
# different Call-IDs spread, a request without Call-ID is dropped (as
# stock's ip_vs_sip_fill_param fails), so is one whose Call-ID header
# follows a line naming it without a colon (stock's parser stops at that
# line), and /proc/net/ip_vs_conn shows
# each template's Call-ID.
# The same transcript is compared with stock ip_vs.ko (ip_vs_pe_sip) when
# IPVS_RS_STOCK=1.
. selftests/lib.sh
. selftests/dataplane.sh

# hex address of /proc/net/ip_vs_conn -> r1..r3
rs_name() {
	case $1 in
	C0A8010B) echo r1 ;; C0A8010C) echo r2 ;; C0A8010D) echo r3 ;; *) echo "?$1" ;;
	esac
}

scenario() {
	# Nobody listens on the real servers' port: answers would start
	# connections of their own (the engine's conn_out) and blur the count.
	director ipvsadm -A -u $VIP:5060 -s rr -p 60 --pe sip -o
	for r in r1 r2 r3; do add_rs -u 5060 $r 1; done
	director ipvsadm -Ln | grep -q "persistent 60 pe sip ops" ||
		fail "service does not show its engine ($module): $(director ipvsadm -Ln)"
	# One socket: three requests for each of three calls, then two
	# without Call-ID and one with a Call-ID header stock does not find.
	in_ns c "$TRAFFIC" sip-send "$VIP:5060" call-a call-b call-c call-a call-b call-c \
		call-a call-b call-c - - '!call-d'
	sleep 1
	# Templates with a Call-ID: which call went where.
	director cat /proc/net/ip_vs_conn | awk '($8 == "NONE" || $8 == "ASSURED") && $10 == "sip"' |
		while read -r _ _ _ _ _ d _ _ _ _ id; do echo "$id -> $(rs_name "$d")"; done | sort
	plain=$(director cat /proc/net/ip_vs_conn | awk '($8 == "NONE" || $8 == "ASSURED") && NF == 9' | wc -l)
	echo "templates without Call-ID: $plain"
	# Packets per real server: three per call (the plain pair is dropped).
	director ipvsadm -Ln --stats | awk '$1 == "->" && $3 ~ /^[0-9]+$/ { print $2, $4 }'
	director ipvsadm -C
}

load_rs
dp_setup
module=ipvs_rs
out_rs=$(scenario) || { echo "$out_rs"; exit 1; }
echo "$out_rs"
# Each call on its own real server, all three used.
calls=$(echo "$out_rs" | grep -c "^call-. -> r[123]$")
servers=$(echo "$out_rs" | grep "^call-. -> " | awk '{ print $3 }' | sort -u | wc -l)
expect_eq "calls with a template" 3 "$calls"
expect_eq "real servers the calls went to" 3 "$servers"
# Requests without Call-ID start nothing (stock drops them).
expect_eq "plain templates" "templates without Call-ID: 0" "$(echo "$out_rs" | grep "^templates without")"
pkts=$(echo "$out_rs" | awk '$1 ~ /^192\.168\.1\./ { print $2 }' | sort -n | tr '\n' ' ')
expect_eq "packets per real server" "3 3 3 " "$pkts"
dp_teardown
rmmod ipvs_rs || fail "rmmod ipvs_rs"

against_stock scenario "$out_rs" ip_vs_pe_sip
echo "SIP persistence ok"
