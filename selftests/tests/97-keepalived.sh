#!/bin/bash
# keepalived's checker (no VRRP) drives the module unchanged: it creates a
# TCP and a UDP NAT service, its TCP health check takes out a real server
# nobody answers on, traffic follows the weights, and on exit it removes
# what it made. On ipvs_rs.ko and (unless IPVS_RS_STOCK=0) stock ip_vs.ko,
# with the same transcript.
. selftests/lib.sh
. selftests/dataplane.sh
command -v keepalived >/dev/null || skip "no keepalived (make deps)"

conf=$(mktemp)
cat >"$conf" <<EOF
global_defs {
	router_id ipvs_rs_selftest
}
virtual_server $VIP 80 {
	delay_loop 1
	lb_algo wrr
	lb_kind NAT
	protocol TCP
	real_server $(rs_addr r1) 80 {
		weight 1
		TCP_CHECK {
			connect_timeout 2
		}
	}
	real_server $(rs_addr r2) 80 {
		weight 2
		TCP_CHECK {
			connect_timeout 2
		}
	}
	# Nobody listens on port 81: the check takes it out.
	real_server $(rs_addr r3) 81 {
		weight 3
		TCP_CHECK {
			connect_timeout 2
			retry 1
		}
	}
}
virtual_server $VIP 53 {
	lb_algo rr
	lb_kind NAT
	protocol UDP
	persistence_timeout 120
	real_server $(rs_addr r3) 53 {
		weight 5
	}
}
EOF

# The listing without counters, sorted: both depend on the checks' timing.
# The table's size is stock's fixed 4096 and ipvs_rs's current one (256
# here; see deviations.rst).
listing() {
	director ipvsadm -Ln --sort | awk '{ NF = ($1 == "->") ? 4 : NF; print }' |
		sed 's/(size=[0-9]*)/(size=N)/'
}

scenario() {
	local pid i
	director ipvsadm -C
	ip netns exec "$(dp_ns d)" keepalived --check --dont-fork --log-console \
		--use-file "$conf" --pid /tmp/ka.pid --checkers_pid /tmp/kac.pid \
		>/tmp/keepalived.log 2>&1 &
	pid=$!
	# Wait until the failed check has removed r3 from the TCP service.
	for i in $(seq 60); do
		listing | grep -q "$(rs_addr r2):80" && ! listing | grep -q ":81 " && break
		sleep 1
	done
	echo "--- configured by keepalived"
	listing
	echo "--- traffic"
	traffic tcp 80 30
	traffic udp 53 3
	kill "$pid"
	wait "$pid"
	echo "--- after keepalived stopped"
	listing
}

load_rs
dp_setup
module=ipvs_rs
out=$(scenario) || { echo "$out"; cat /tmp/keepalived.log; exit 1; }
echo "$out"
dp_teardown
rmmod ipvs_rs || { cat /tmp/keepalived.log; fail "rmmod ipvs_rs"; }
want="--- configured by keepalived
IP Virtual Server version 1.2.1 (size=N)
Prot LocalAddress:Port Scheduler Flags
-> RemoteAddress:Port Forward Weight
TCP $VIP:80 wrr
-> $(rs_addr r1):80 Masq 1
-> $(rs_addr r2):80 Masq 2
UDP $VIP:53 rr persistent 120
-> $(rs_addr r3):53 Masq 5
--- traffic
r1=10 r2=20 r3=0 other=0
r1=0 r2=0 r3=3 other=0
--- after keepalived stopped
IP Virtual Server version 1.2.1 (size=N)
Prot LocalAddress:Port Scheduler Flags
-> RemoteAddress:Port Forward Weight"
expect_eq "transcript" "$want" "$out"

against_stock scenario "$out"
rm -f "$conf"
echo "keepalived ok"
