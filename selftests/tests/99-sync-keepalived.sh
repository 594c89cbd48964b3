#!/bin/bash
# keepalived's lvs_sync_daemon: a VRRP pair whose master runs the master
# sync daemon and whose backup runs the backup daemon; the master's
# keepalived stops, the backup takes the virtual address, switches its
# daemon to master, and the client's connections go on to the same real
# servers. Direct routing. On ipvs_rs.ko and (unless IPVS_RS_STOCK=0)
# stock ip_vs.ko, with the same transcript.
. selftests/lib.sh
command -v keepalived >/dev/null || skip "no keepalived (make deps)"
export SY_KEEPALIVED=1
. selftests/sync.sh

TCP_CONNS=12
UDP_FLOWS=4

# kaconf <node> <state> <priority>
kaconf() {
	local r
	cat <<-EOF
		global_defs {
			router_id $1
			lvs_sync_daemon sync0 VI_1 id 7
		}
		vrrp_instance VI_1 {
			state $2
			interface eth0
			virtual_router_id 51
			priority $3
			advert_int 1
			virtual_ipaddress {
				$SY_VIP/24 dev eth0
			}
		}
	EOF
	for p in TCP UDP; do
		echo "virtual_server $SY_VIP 80 {"
		echo "	lb_algo rr"
		echo "	lb_kind DR"
		echo "	protocol $p"
		for r in 1 2 3; do echo "	real_server 10.0.0.2$r 80 { weight 1 }"; done
		echo "}"
	done
}

ka_pids=()
# ka <node> <state> <priority>: keepalived in the node's namespace.
ka() {
	local conf=/tmp/ka-$1.conf
	kaconf "$@" >"$conf"
	# ip netns exec execs keepalived: $! is keepalived itself, for kill.
	ip netns exec "ipvs-sy-$1" keepalived --dont-fork --log-console --use-file "$conf" \
		--pid "/tmp/ka-$1.pid" --vrrp_pid "/tmp/ka-$1-vrrp.pid" \
		--checkers_pid "/tmp/ka-$1-check.pid" >"/tmp/ka-$1.log" 2>&1 &
	ka_pids+=($!)
}

# wait_for <secs> <command...>: until the command succeeds.
wait_for() {
	local n=$(($1 * 2))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
		n=$((n - 1))
	done
	return 1
}
# ka_abort <why>: stops both keepalived and the namespaces; fails scenario.
ka_abort() {
	echo "$1"
	kill "${ka_pids[@]}" 2>/dev/null
	wait "${ka_pids[@]}" 2>/dev/null
	ka_pids=()
	sy_teardown
	return 1
}
has_vip() { sy_in "$1" ip -4 addr show dev eth0 | grep -q "$SY_VIP/"; }
daemon_is() { sy_in "$1" ipvsadm -L --daemon | grep -q "^$2 sync daemon"; }

scenario() {
	sy_setup dr
	ka m MASTER 150
	ka b BACKUP 100
	wait_for 60 has_vip m || { ka_abort "m never took the address"; return 1; }
	wait_for 30 daemon_is m master || { ka_abort "m runs no master daemon"; return 1; }
	wait_for 30 daemon_is b backup || { ka_abort "b runs no backup daemon"; return 1; }
	echo "m: $(sy_in m ipvsadm -L --daemon)"
	echo "b: $(sy_in b ipvsadm -L --daemon)"
	sy_hold "$TCP_CONNS" "$UDP_FLOWS"
	cat "$sy_out"
	echo "synced: $(sy_synced b $((TCP_CONNS + UDP_FLOWS)))"
	# The master's keepalived goes (priority 0 advert): b takes over.
	kill "${ka_pids[0]}"
	wait "${ka_pids[0]}"
	wait_for 60 has_vip b || echo "b never took the address"
	wait_for 30 daemon_is b master || echo "b did not switch to the master daemon"
	echo "b after failover: $(sy_in b ipvsadm -L --daemon)"
	sy_in c ip neigh flush all
	sy_hold_end
	kill "${ka_pids[1]}"
	wait "${ka_pids[1]}"
	echo "b after keepalived: $(sy_in b ipvsadm -L --daemon | wc -l) daemons"
	ka_pids=()
	sy_teardown
}

daemon_line() {
	echo "$1 sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"
}
want="m: $(daemon_line master)
b: $(daemon_line backup)
tcp r1=4 r2=4 r3=4 other=0
udp r1=1 r2=1 r3=2 other=0
synced: $((TCP_CONNS + UDP_FLOWS))
b after failover: $(daemon_line master)
tcp same=$TCP_CONNS moved=0 lost=0
udp same=$UDP_FLOWS moved=0 lost=0
b after keepalived: 0 daemons"

load_rs
out=$(scenario)
echo "$out"
rmmod ipvs_rs || fail "rmmod ipvs_rs"
[ "$out" = "$want" ] || cat /tmp/ka-m.log /tmp/ka-b.log
expect_eq "keepalived failover transcript" "$want" "$out"

if [ "${IPVS_RS_STOCK:-1}" = 1 ] && modprobe ip_vs 2>/dev/null && modprobe ip_vs_rr; then
	stock=$(scenario)
	unload_all
	expect_eq "transcript ipvs_rs vs stock" "$out" "$stock"
fi
echo "keepalived sync failover ok"
