#!/bin/bash
# The benchmark workloads, run inside the VM by scripts/bench.sh: the same
# traffic three ways (plain forwarding, stock ip_vs.ko, ipvs_rs.ko),
# alternating, IPVS_RS_BENCH_ROUNDS rounds. Prints "RESULT <workload>
# <way> <value>" lines; scripts/bench.sh summarises them. Lines starting
# with "# perf" are the profile.
#
# Topology (selftests/dataplane.sh): client -> director -> r1..r3 over
# veth. Plain forwarding sends to r1's own address; the IPVS ways to a
# virtual service whose only real server is r1 (NAT, or direct routing:
# r1 holds the VIP on lo).
. selftests/lib.sh
. selftests/dataplane.sh

rounds=${IPVS_RS_BENCH_ROUNDS:-5}
secs=3
R1=192.168.1.11

result() { echo "RESULT $1 $2 $3"; }

# want <part>: whether IPVS_RS_BENCH_PARTS (default: all of them) names it.
want() {
	[[ " ${IPVS_RS_BENCH_PARTS:-rounds idle reconnect scale resize sync perf restore est flood} " == *" $1 "* ]]
}

# ways <round> [way...]: the ways (plain, stock, rs), in an order that
# turns each round, so that none always goes first or last (drift
# within a round).
ways() {
	local r=$1 all i
	shift
	all=("$@")
	[ ${#all[@]} = 0 ] && all=(plain stock rs)
	for i in "${!all[@]}"; do echo "${all[$(((i + r) % ${#all[@]}))]}"; done
}

# load <plain|stock|rs>: unload both modules and load what that way
# needs (nothing for plain; then returns 1).
load() {
	# Stock's services hold ip_vs.ko: flush the director's first (and
	# the sync part's backup's, the idle part's r3).
	director ipvsadm -C 2>/dev/null
	[ -e "/run/netns/$(dp_ns bk)" ] && in_ns bk ipvsadm -C 2>/dev/null
	in_ns r3 ipvsadm -C 2>/dev/null
	unload_all >/dev/null 2>&1
	# Each way starts without the director's earlier conntrack entries:
	# plain forwarding's c:port -> r1:80 entries (TIME_WAIT, 2 minutes)
	# hold the reply tuples that NAT to r1:80 gives the same client ports
	# next, and every such SYN would be dropped at confirmation
	# (insert_failed), on stock and ipvs_rs alike.
	director conntrack -F >/dev/null 2>&1
	case $1 in
	plain) return 1 ;;
	stock) modprobe ip_vs && modprobe ip_vs_rr ;;
	rs | rsfast) insmod "$IPVS_RS_KO" ;;
	esac || fail "loading for $1"
}

# way <plain|stock|rs>: load what that way needs, configure the services.
way() {
	load "$1" || return 0
	director ipvsadm -R <<-EOF
		-A -u $VIP:9000 -s rr
		-a -u $VIP:9000 -r $R1:9000 -m
		-A -u $VIP:9001 -s rr -o
		-a -u $VIP:9001 -r $R1:9001 -m
		-A -u $VIP:9002 -s rr
		-a -u $VIP:9002 -r $R1:9002 -g
		-A -u $VIP:9003 -s rr
		-a -u $VIP:9003 -r $R1:9003 -m
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $R1:80 -m
		-A -t $VIP:5001 -s rr
		-a -t $VIP:5001 -r $R1:5001 -m
	EOF
	# rsfast: ipvs_rs with fast_path on.
	[ "$1" = rsfast ] && director sysctl -qw net.ipv4.vs.fast_path=1
	return 0
}

# target <way> <port>: where the client sends (r1 itself with
# TO_R1 set).
target() { if [ "$1" = plain ] || [ -n "${TO_R1:-}" ]; then echo "$R1:$2"; else echo "$VIP:$2"; fi; }

# Busy CPU time of the whole VM so far, microseconds (/proc/stat: all
# but idle and iowait; USER_HZ ticks).
busy_us() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / {
		printf "%d", ($2 + $3 + $4 + $7 + $8 + $9) * 1000000 / hz }' /proc/stat
}

# udp <workload> <way> <port> <flows>: packets/s reaching r1, the VM's
# busy CPU time per packet reaching r1 while the sender runs
# ("<workload>-cpu-us"), and the share of the sent packets dropped at
# r1's full socket buffer ("-sink-full-pct") or at a full input queue
# ("-backlog-drop-pct"): a rate the sink or a queue capped is not the
# director's.
udp() {
	local out b0 b1 sent e0 e1 q0 q1
	in_ns r1 "$TRAFFIC" sink "$3" $secs >/tmp/bench.sink &
	sleep 1
	e0=$(rcvbuf_errors)
	q0=$(backlog_drops)
	b0=$(busy_us)
	sent=$(in_ns c "$TRAFFIC" blast "$(target "$2" "$3")" "$4" $((secs + 1)))
	b1=$(busy_us)
	wait $!
	e1=$(rcvbuf_errors)
	q1=$(backlog_drops)
	out=$(cat /tmp/bench.sink)
	result "$1" "$2" "${out:-0}"
	[ "${out:-0}" != 0 ] &&
		result "$1-cpu-us" "$2" "$(awk "BEGIN { printf \"%.2f\", ($b1 - $b0) / ($out * ($secs + 1)) }")"
	[ "${sent:-0}" -gt 0 ] 2>/dev/null &&
		result "$1-sink-full-pct" "$2" "$(awk "BEGIN { printf \"%.1f\", 100 * ($e1 - $e0) / $sent }")" &&
		result "$1-backlog-drop-pct" "$2" "$(awk "BEGIN { printf \"%.1f\", 100 * ($q1 - $q0) / $sent }")"
	return 0
}

# backlog_drops: packets the CPUs' input queues dropped, all namespaces
# (netdev_max_backlog; veth hands every packet to one).
backlog_drops() {
	local d=0 n dropped rest
	while read -r n dropped rest; do
		d=$((d + 16#$dropped))
	done </proc/net/softnet_stat
	echo $d
}

# rcvbuf_errors: UDP datagrams r1 dropped at a full socket buffer.
rcvbuf_errors() {
	in_ns r1 awk '$1 == "Udp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") n = i; next } print $n }' /proc/net/snmp
}

dp_setup
# Plain forwarding needs a route to the real servers.
ip -n "$(dp_ns c)" route add 192.168.1.0/24 via 10.0.0.1
# Direct routing: r1 takes packets to the VIP as its own.
ip -n "$(dp_ns r1)" addr add "$VIP/32" dev lo
in_ns r1 "$TRAFFIC" bulk-sink 5001 &
dp_pids+=($!)
# The table-scale flows end at r1 unanswered (no ICMP either).
in_ns r1 iptables -A INPUT -p udp --dport 9003 -j DROP
director sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.cli.rp_filter=0

if want rounds; then
	for round in $(seq "$rounds"); do
		echo "# round $round"
		for w in $(ways "$round" plain stock rs rsfast); do
			way $w
			director sysctl -qw net.ipv4.vs.conntrack=0 2>/dev/null
			udp udp-nat-8flows "$w" 9000 8
			udp udp-dr-8flows "$w" 9002 8
			# One-packet scheduling: one socket, every packet scheduled.
			if [ $w = plain ]; then udp udp-ops "$w" 9000 1; else udp udp-ops "$w" 9001 1; fi
			result tcp-bulk-mbps "$w" "$(in_ns c "$TRAFFIC" bulk "$(target $w 5001)" $secs)"
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
fi
echo "# ${SECONDS} s into the VM run, after rounds"

# Namespaces without services: a module whose services are elsewhere
# (here in r3's namespace) must cost nothing in them. The director only
# forwards to r1's own address, and r1 connects to itself; "plain" is
# no IPVS module loaded, "stock" and "rs" each module loaded with one
# service in r3 (rs/plain is the figure: loaded against not loaded).
idle_way() {
	load "$1" || return 0
	in_ns r3 ipvsadm -A -u 10.9.9.9:9000 -s rr &&
		in_ns r3 ipvsadm -a -u 10.9.9.9:9000 -r 192.168.1.11:9000 -m ||
		fail "a service in r3 for $1"
}
if want idle; then
	for round in $(seq "$rounds"); do
		echo "# idle round $round"
		for w in $(ways "$round"); do
			idle_way $w
			TO_R1=1 udp idle-fwd-udp-8flows "$w" 9000 8
			result idle-fwd-tcp-conn-per-s "$w" "$(TO_R1=1 in_ns c "$TRAFFIC" tcp-rate "$(TO_R1=1 target $w 80)" $secs)"
			result idle-local-tcp-conn-per-s "$w" "$(in_ns r1 "$TRAFFIC" tcp-rate 127.0.0.1:80 $secs)"
		done
	done
	in_ns r3 ipvsadm -C 2>/dev/null
fi
echo "# ${SECONDS} s into the VM run, after idle"

# Reconnect delay from a reused client port after its real server was
# quiesced (conntrack=1, expire_nodest_conn=1), as 95-conntrack checks.
if want reconnect; then
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
fi
echo "# ${SECONDS} s into the VM run, after reconnect"

# Connection table scale: N connections (one datagram each, from N
# client address/port pairs), then the memory they take (slab growth per
# connection), how fast they were made, and the established flows'
# packets/s beside them (the lookup cost).
# conns: connections the scale service made, once the count stands still
# (stock sums its per-CPU counters with some delay).
conns() {
	local a b i
	b=$(director ipvsadm -Ln --stats --exact -u "$VIP:9003" | awk '$1 == "UDP" { print $3 }')
	for i in $(seq 10); do
		sleep 1
		a=$b
		b=$(director ipvsadm -Ln --stats --exact -u "$VIP:9003" | awk '$1 == "UDP" { print $3 }')
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}
slab_kb() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }
if want scale; then
	for n in ${IPVS_RS_BENCH_SCALE:-1000 100000 1000000 4000000}; do
		for w in stock rs; do
			way $w
			# Long enough for stock's slow fill of a large table: every
			# sprayed connection is still there at the end.
			director ipvsadm --set 0 0 1800
			director sysctl -qw net.ipv4.vs.conntrack=0
			sync
			echo 3 >/proc/sys/vm/drop_caches
			s0=$(slab_kb)
			t0=$(date +%s.%N)
			in_ns c "$TRAFFIC" spray "$VIP:9003" "$n" 0 >/dev/null
			t1=$(date +%s.%N)
			have=$(conns)
			result "scale-$n-new-conn-per-s" $w "$(awk "BEGIN { printf \"%.0f\", $have / ($t1 - $t0) }")"
			# Datagrams dropped before IPVS saw them are sent again from
			# new sources, a few times.
			sent=$n
			for try in 1 2 3; do
				[ "$have" -ge "$n" ] && break
				in_ns c "$TRAFFIC" spray "$VIP:9003" $((n - have)) "$sent" >/dev/null
				sent=$((sent + n - have))
				have=$(conns)
			done
			s1=$(slab_kb)
			echo "# scale $n on $w: $have connections, slab +$((s1 - s0)) kB"
			result "scale-$n-bytes-per-conn" $w "$(awk "BEGIN { printf \"%.0f\", ($s1 - $s0) * 1024 / $have }")"
			# The buckets (8 bytes each; vmalloc, so not in Slab): ipvs_rs's
			# as sized now, stock's fixed 4096.
			size=$(director ipvsadm -Ln | awk 'NR == 1 { gsub(/.*size=|\).*/, ""); print }')
			echo "# scale $n on $w: table size $size"
			result "scale-$n-table-bytes-per-conn" $w "$(awk "BEGIN { printf \"%.1f\", $size * 8 / $have }")"
			for round in $(seq "$rounds"); do
				udp "scale-$n-udp-nat-8flows" $w 9000 8
			done
		done
	done
fi
echo "# ${SECONDS} s into the VM run, after scale"

# The table resizing online under IPVS_RS_BENCH_RESIZE connections
# (1.5M; the debug kernel's make check runs 100k): 75-conn-resize on this
# kernel, its flows checked as there (every answer from the flow's first
# real server) while the table grows to 2^25 buckets and back.
if want resize; then
	way plain
	n=${IPVS_RS_BENCH_RESIZE:-1500000}
	out=$(IPVS_RS_RESIZE_CONNS=$n IPVS_RS_RESIZE_MAX_BITS=25 IPVS_RS_RESIZE_SPRAY_SECS=0 IPVS_RS_RESIZE_UDP_TIMEOUT=90 bash selftests/tests/75-conn-resize.sh 2>&1)
	ok=$?
	echo "$out" | sed 's/^/# resize: /'
	result "resize-$n-flows-kept" rs $((ok == 0))
	unload_all >/dev/null 2>&1
fi
echo "# ${SECONDS} s into the VM run, after resize"

# Connection sync. What a master's daemon costs per new TCP connection
# (the same client with the daemon off and on) and how many of them the
# backup learns a second; then a flood of new UDP connections, each one
# synced (sync_threshold 1): how fast the master makes them with the
# daemon on and how many the backup learns; on ipvs_rs last, the whole
# table sent to a backup that joins late (full resync).
#
# The backup is the namespace bk on a veth link "sync0" to the director,
# with the same services (learned connections bind to its real server).
bk_setup() {
	new_netns "$(dp_ns bk)"
	ip link add sync0 netns "$(dp_ns d)" type veth peer name sync0 netns "$(dp_ns bk)"
	ip -n "$(dp_ns d)" addr add 192.168.9.1/24 dev sync0
	ip -n "$(dp_ns bk)" addr add 192.168.9.2/24 dev sync0
	ip -n "$(dp_ns d)" link set sync0 up
	ip -n "$(dp_ns bk)" link set sync0 up
}
bk_teardown() {
	# The pair goes at once; the namespace (with a million connections)
	# may take a while.
	ip -n "$(dp_ns d)" link del sync0 2>/dev/null
	ip netns del "$(dp_ns bk)"
	netns_list=("${netns_list[@]/$(dp_ns bk)/}")
	sleep 1
}
# sync_on: the backup's services, then both daemons.
sync_on() {
	in_ns bk ipvsadm -R <<-EOF
		-A -t $VIP:80 -s rr
		-a -t $VIP:80 -r $R1:80 -m
		-A -u $VIP:9003 -s rr
		-a -u $VIP:9003 -r $R1:9003 -m
	EOF
	director ipvsadm --start-daemon master --mcast-interface sync0 --syncid 1 &&
		in_ns bk ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 1 ||
		echo "# sync: the daemons did not start"
	sleep 1
}
sync_off() {
	director ipvsadm --stop-daemon master 2>/dev/null
	in_ns bk ipvsadm --stop-daemon backup 2>/dev/null
}
# held <ns> <proto> <vip:port>: connections of that service in ns.
held() {
	in_ns "$1" ipvsadm -Ln "$2" "$3" | awk '$1 == "->" { n += $5 + $6 } END { print n + 0 }'
}
# settle_held <ns> <proto> <vip:port>: held, once it stands still 2 s.
settle_held() {
	local a b=-1
	while :; do
		sleep 2
		a=$b
		b=$(held "$@")
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}
# perf_ok: whether this kernel can profile (then set up for it).
perf_ok() {
	command -v perf >/dev/null && perf record -o /dev/null -e cpu-clock -a -- true 2>/dev/null || return 1
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	echo 0 >/proc/sys/kernel/kptr_restrict
}
# profile <label>: five seconds of cpu-clock samples of the whole VM, the
# top symbols as "# perf <label>" lines.
profile() {
	perf record -q -o /tmp/perf.data -e cpu-clock -F 999 -a -- sleep 5 2>/dev/null
	# IPVS_RS_BENCH_SAMPLES=1: every sample's symbol and offset too, for
	# scripts/perf-annotate.py (build/ is shared with the host).
	if [ "${IPVS_RS_BENCH_SAMPLES:-0}" = 1 ]; then
		perf script -i /tmp/perf.data -F ip,sym,symoff,dso --kallsyms=/proc/kallsyms \
			2>/dev/null >"build/perf-samples-${1// /-}.txt" || true
	fi
	perf report -i /tmp/perf.data --stdio --no-children --sort dso,sym \
		--kallsyms=/proc/kallsyms 2>/dev/null |
		awk -v w="$1" 'BEGIN { n = 0; m = 0 }
		/^ +[0-9.]+%/ {
			pct = $1; sub(/%/, "", pct)
			if ($4 ~ /halt|idle/) { idle += pct; next }
			if ($2 ~ /^\[ip_vs|^\[ipvs_rs/) {
				mod += pct
				if (m < 25) { mp[m] = pct; ms[m] = $4; m++ }
			}
			if (n < 30) { p[n] = pct; d[n] = $2; s[n] = $4; n++ }
		}
		END {
			printf "# perf %s: idle %.1f%% of the samples; share of the busy rest:\n", w, idle
			printf "# perf %s: all of the IPVS module(s) %.2f%%\n", w, mod * 100 / (100 - idle)
			for (i = 0; i < n; i++)
				printf "# perf %s %6.2f%% %-18s %s\n", w, p[i] * 100 / (100 - idle), d[i], s[i]
			for (i = 0; i < m; i++)
				printf "# perf %s module %6.2f%% %s\n", w, mp[i] * 100 / (100 - idle), ms[i]
		}'
}
if want sync; then
	bk_setup
	for round in $(seq "$rounds"); do
		echo "# sync round $round"
		for w in stock rs; do
			way $w
			# Long enough for stock's slow fill of a large table: every
			# sprayed connection is still there at the end.
			director ipvsadm --set 0 0 1800
			director sysctl -qw net.ipv4.vs.conntrack=0
			# Off and on take turns at going first.
			if [ $((round % 2)) = 1 ]; then
				result sync-tcp-conn-per-s-off $w "$(in_ns c "$TRAFFIC" tcp-rate "$VIP:80" $secs)"
				# A fresh table: a joining backup would learn these
				# (ipvs_rs sends it the table) and the count of what
				# it learned of the next run would be off.
				way $w
				director sysctl -qw net.ipv4.vs.conntrack=0
			fi
			sync_on
			l0=$(held bk -t "$VIP:80")
			made=$(in_ns c "$TRAFFIC" tcp-rate "$VIP:80" $secs)
			result sync-tcp-conn-per-s-on $w "$made"
			# A message waits up to 2 s for more entries.
			l1=$(settle_held bk -t "$VIP:80")
			result sync-backup-learned-per-s $w $(((l1 - l0) / secs))
			result sync-backup-learned-pct $w "$(awk "BEGIN { printf \"%.1f\", 100 * ($l1 - $l0) / ($made * $secs) }")"
			sync_off
			[ $((round % 2)) = 0 ] &&
				result sync-tcp-conn-per-s-off $w "$(in_ns c "$TRAFFIC" tcp-rate "$VIP:80" $secs)"
		done
	done
	# Where the time goes with the daemons on (the perf part's profile).
	if want perf && perf_ok; then
		for w in stock rs; do
			way $w
			# Long enough for stock's slow fill of a large table: every
			# sprayed connection is still there at the end.
			director ipvsadm --set 0 0 1800
			director sysctl -qw net.ipv4.vs.conntrack=0
			sync_on
			in_ns c "$TRAFFIC" tcp-rate "$VIP:80" 7 >/dev/null &
			rate=$!
			sleep 1
			profile "synctcp $w"
			wait $rate
			sync_off
		done
	fi
	flood=${IPVS_RS_BENCH_SYNC_FLOOD:-1000000}
	for w in stock rs; do
		way $w
		bk_teardown
		bk_setup
		director sysctl -qw net.ipv4.vs.conntrack=0 net.ipv4.vs.sync_threshold="1 50"
		sync_on
		sync
		echo 3 >/proc/sys/vm/drop_caches
		s0=$(slab_kb)
		t0=$(date +%s.%N)
		in_ns c "$TRAFFIC" spray "$VIP:9003" "$flood" 0 >/dev/null
		t1=$(date +%s.%N)
		have=$(conns)
		learned=$(settle_held bk -u "$VIP:9003")
		s1=$(slab_kb)
		result sync-flood-new-conn-per-s $w "$(awk "BEGIN { printf \"%.0f\", $have / ($t1 - $t0) }")"
		result sync-flood-learned-pct $w "$(awk "BEGIN { printf \"%.1f\", 100 * $learned / $have }")"
		echo "# sync flood on $w: $have connections on the master, $learned learned; slab +$((s1 - s0)) kB for both"
		[ $w = rs ] && director cat /proc/net/ip_vs_sync_stats | sed 's/^/# sync flood master: /'
		if [ $w = rs ]; then
			# A new backup: the late joiner asks for the whole table.
			sync_off
			bk_teardown
			bk_setup
			t0=$(date +%s.%N)
			sync_on
			learned=$(settle_held bk -u "$VIP:9003")
			t1=$(date +%s.%N)
			# settle_held's last 2 s saw nothing new.
			result sync-resync-conn-per-s rs "$(awk "BEGIN { printf \"%.0f\", $learned / ($t1 - $t0 - 2) }")"
			echo "# sync resync: $learned of $have learned in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 - 2 }") s"
		fi
		sync_off
	done
	in_ns bk ipvsadm -C
	bk_teardown
	# A loop that never yields shows as an RCU stall (or soft lockup).
	if dmesg | grep -Eq 'rcu.*stall|soft lockup|hung task'; then
		dmesg | grep -E 'rcu.*stall|soft lockup|hung task' | sed 's/^/# sync: kernel log: /'
	else
		echo "# sync: kernel log: no stall, no lockup"
	fi
fi
echo "# ${SECONDS} s into the VM run, after sync"

# Profile: where the CPU goes while UDP passes through NAT (8 flows),
# one-packet scheduling (1 socket) and direct routing (8 flows), on
# stock and ipvs_rs (perf, cpu-clock samples of the whole VM).
if want perf && perf_ok; then
	for load in "nat 9000 8" "ops 9001 1" "dr 9002 8"; do
		set -- $load
		for w in stock rs rsfast; do
			way $w
			in_ns r1 "$TRAFFIC" sink "$2" 6 >/dev/null &
			sink=$!
			sleep 1
			in_ns c "$TRAFFIC" blast "$VIP:$2" "$3" 8 >/dev/null &
			blast=$!
			sleep 1
			profile "$1 $w"
			wait $sink $blast
		done
	done
elif want perf; then
	echo "# perf: not available in this kernel (no profile)"
fi
echo "# ${SECONDS} s into the VM run, after perf"

# Control plane: restore services with ten real servers each (10k
# services and 100k real servers by default; IPVS_RS_BENCH_SERVICES).
services=${IPVS_RS_BENCH_SERVICES:-10000}
# gen: $services services of ten real servers each, as `ipvsadm -R`
# reads them. One awk process: a subshell per service costs minutes in
# the guest.
gen() {
	awk -v n="$services" 'BEGIN {
		for (s = 0; s < n; s++) {
			v = sprintf("10.%d.%d.1:80", int(s / 250), s % 250)
			print "-A -t " v " -s wlc"
			for (d = 1; d <= 10; d++)
				printf "-a -t %s -r 172.16.%d.%d:80 -m -w 1\n", v, s % 250, d
		}
	}'
}
if want restore; then
	gen >/tmp/bench.rules
	for w in stock rs; do
		for tool in ipvsadm ipvsadm-rs; do
			echo "# restore with $tool on $w"
			way $w
			director ipvsadm -C
			start=$(date +%s.%N)
			timeout -k 10 300 ip netns exec "$(dp_ns d)" "$tool" -R </tmp/bench.rules ||
				echo "# $tool -R on $w failed or timed out"
			end=$(date +%s.%N)
			n=$(director ipvsadm -Ln | grep -c '^  -> [0-9]')
			echo "# $tool -R on $w: $n real servers"
			result "restore-s-$tool" "$w" "$(awk "BEGIN { printf \"%.1f\", $end - $start }")"
			director ipvsadm -C
		done
	done
fi
echo "# ${SECONDS} s into the VM run, after restore"

# The rate estimator's cost with $services services of ten real servers
# (both modules run it in "ipvs-e:" kthreads that est_cpulist and
# est_nice steer): the VM's busy time a second, idle but for that,
# estimating (run_estimation=1) and not (0), on both modules in turns
# (the difference is the estimator's), and the CPU time of the
# estimator threads themselves.
# est_ticks: CPU time of the estimator kthreads so far, clock ticks.
est_ticks() {
	local p t=0
	for p in $(ps -e -o pid=,comm= | awk '$2 ~ /^ipvs-e:/ { print $1 }'); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
if want est; then
	[ -s /tmp/bench.rules ] || gen >/tmp/bench.rules
	est_secs=${IPVS_RS_BENCH_EST_SECS:-20}
	for round in 1 2; do
		for w in $(ways "$round"); do
			[ "$w" = plain ] && continue
			load "$w"
			director ipvsadm-rs -R </tmp/bench.rules || fail "est: restore on $w"
			for on in 1 0; do
				director sysctl -qw net.ipv4.vs.run_estimation=$on
				# Stock places its estimators in steps after a start
				# (its kthread 0 calibrates first).
				sleep "${IPVS_RS_BENCH_EST_SETTLE:-30}"
				b0=$(busy_us) k0=$(est_ticks)
				sleep "$est_secs"
				b1=$(busy_us) k1=$(est_ticks)
				result "est-busy-ms-per-s-run$on" "$w" "$(((b1 - b0) / 1000 / est_secs))"
				[ "$on" = 1 ] && result "est-thread-ms-per-s" "$w" \
					"$(((k1 - k0) * 1000 / $(getconf CLK_TCK) / est_secs))"
			done
			# How many estimators stock's kthreads can hold: each takes
			# a calibrated number; those beyond stay unestimated.
			if [ "$w" = stock ]; then
				dmesg | grep -E 'IPVS: (using max|starting estimator)' | tail -9 | sed 's/^/# est: /'
				echo "# est: $(ps -e -o comm= | grep -c '^ipvs-e:') estimator kthreads on stock"
			fi
			director ipvsadm -C
		done
	done
fi
echo "# ${SECONDS} s into the VM run, after est"

# A SYN flood from IPVS_RS_BENCH_FLOOD (a million) spoofed sources at one
# NAT service whose real server drops them (every connection stays in
# SYN_RECV, 60 s on both modules), while a client keeps making TCP
# connections to another service: how fast each module takes the SYNs,
# what a flood connection costs (slab growth over connections made), how
# many of the other client's connections were answered, the slab left
# once the flood's connections have expired, and the soft lockups
# reported meanwhile.
if want flood; then
	n=${IPVS_RS_BENCH_FLOOD:-1000000}
	in_ns r1 iptables -A INPUT -p tcp --dport 5002 -j DROP || fail "flood: iptables"
	for w in stock rs; do
		way $w
		director ipvsadm -R <<-EOF
			-A -t $VIP:5002 -s rr
			-a -t $VIP:5002 -r $R1:5002 -m
		EOF
		director sysctl -qw net.ipv4.vs.conntrack=0
		lockups0=$(dmesg | grep -c 'soft lockup')
		sync
		echo 3 >/proc/sys/vm/drop_caches
		s0=$(slab_kb)
		rm -f /tmp/bench.flood.go
		(
			while [ ! -e /tmp/bench.flood.go ]; do in_ns c "$TRAFFIC" tcp "$VIP:80" 10 | answered; done |
				awk '{ sub(/answered=/, "", $1); a += $1; n += 10 } END { print a + 0, n + 0 }'
		) >/tmp/bench.flood.other &
		other=$!
		t0=$(date +%s.%N)
		in_ns c "$TRAFFIC" spray "$VIP:5002" "$n" 0 syn >/dev/null
		t1=$(date +%s.%N)
		touch /tmp/bench.flood.go
		wait $other
		have=$(director ipvsadm -Ln --stats --exact -t "$VIP:5002" | awk '$1 == "TCP" { print $3 }')
		s1=$(slab_kb)
		# Those made early may have expired by now: the cost is over the
		# connections still there (the real server's active and inactive
		# counts: SYN_RECV counts as active on stock).
		live=$(director ipvsadm -Ln -t "$VIP:5002" | awk '$1 == "->" && $3 == "Masq" { print $5 + $6 }')
		read -r answered asked </tmp/bench.flood.other
		echo "# flood on $w: $have connections in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s, $live still there, slab +$((s1 - s0)) kB; the other service answered $answered of $asked"
		result "flood-syn-per-s" $w "$(awk "BEGIN { printf \"%.0f\", $have / ($t1 - $t0) }")"
		result "flood-bytes-per-conn" $w "$(awk "BEGIN { printf \"%.0f\", ($s1 - $s0) * 1024 / ($live ? $live : 1) }")"
		result "flood-other-answered-pct" $w "$(awk "BEGIN { printf \"%.1f\", 100 * $answered / ($asked ? $asked : 1) }")"
		# SYN_RECV lasts 60 s: wait for the table to empty (up to 3 min).
		for _ in $(seq 36); do
			left=$(director ipvsadm -Lnc | grep -c SYN_RECV)
			[ "$left" = 0 ] && break
			sleep 5
		done
		sync
		echo 3 >/proc/sys/vm/drop_caches
		s2=$(slab_kb)
		echo "# flood on $w: $left connections left, slab $((s2 - s0)) kB above the start"
		result "flood-slab-kb-left" $w "$((s2 - s0))"
		result "flood-soft-lockups" $w "$(($(dmesg | grep -c 'soft lockup') - lockups0))"
	done
	in_ns r1 iptables -D INPUT -p tcp --dport 5002 -j DROP
fi
echo "# ${SECONDS} s into the VM run, after flood"
unload_all
dp_teardown
echo "BENCH DONE"
