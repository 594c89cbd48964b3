# Traffic through a director (sourced by the data-plane selftests).
#
#   client (10.0.0.2) -- veth -- director (10.0.0.1, VIP 10.0.0.100)
#                                   |  br0 192.168.1.1
#                   r1 .11, r2 .12, r3 .13 (default route via the director)
#
# Real servers answer every TCP connection and UDP datagram with their
# name, so the client sees where it was scheduled.

VIP=10.0.0.100
VIP6=fd00:1::100
RS_NAMES=(r1 r2 r3)
# Address family the helpers use: 4 or 6.
FAM=4

TRAFFIC=${IPVS_RS_TRAFFIC:-${IPVS_RS_TOP:-$(dirname "$IPVS_RS_KO")}/selftests/traffic/target/release/ipvs-traffic}
[ -x "$TRAFFIC" ] || skip "no $TRAFFIC (make traffic)"

# Namespaces are $DP-c, $DP-d, $DP-r1... (dp_ns c prints the first).
DP=ipvs-dp
dp_ns() { echo "$DP-$1"; }
# nsenter, not `ip netns exec`: 0.05 s where that costs 0.2 s in the
# guest (it remounts /sys, which no test here reads). It execs the
# command, so $! of `in_ns ... &` is the command itself.
in_ns() { local n=$1; shift; nsenter --net="/run/netns/$DP-$n" "$@"; }
director() { in_ns d "$@"; }

# A process start costs about 0.3 s in the emulated guest: each
# namespace is set up by one `ip -batch`.
dp_setup() {
	local c=$DP-c d=$DP-d i r ns b bd
	b="netns add $c
netns add $d
link add veth0 netns $c type veth peer name cli netns $d"
	for r in "${RS_NAMES[@]}"; do
		b+=$'\n'"netns add $DP-$r"
		b+=$'\n'"link add eth0 netns $DP-$r type veth peer name $r netns $d"
	done
	ip -batch - <<<"$b" || fail "dp_setup: namespaces and links"
	netns_list+=("$c" "$d")
	for r in "${RS_NAMES[@]}"; do netns_list+=("$DP-$r"); done
	ip -n "$c" -batch - <<-EOF || fail "dp_setup: client"
		link set lo up
		addr add 10.0.0.2/24 dev veth0
		addr add fd00:1::2/64 dev veth0 nodad
		link set veth0 up
	EOF
	bd="link set lo up
addr add 10.0.0.1/24 dev cli
addr add $VIP/24 dev cli
addr add fd00:1::1/64 dev cli nodad
addr add $VIP6/64 dev cli nodad
link set cli up
link add br0 type bridge
addr add 192.168.1.1/24 dev br0
addr add fd00:2::1/64 dev br0 nodad
link set br0 up"
	i=11
	for r in "${RS_NAMES[@]}"; do
		ns=$DP-$r
		bd+=$'\n'"link set $r master br0 up"
		ip -n "$ns" -batch - <<-EOF || fail "dp_setup: $r"
			link set lo up
			addr add 192.168.1.$i/24 dev eth0
			addr add fd00:2::$i/64 dev eth0 nodad
			link set eth0 up
			route add default via 192.168.1.1
			route add default via fd00:2::1
		EOF
		# Servers: every TCP connection and UDP datagram on ports 80
		# and 53 gets the name, over IPv4 and IPv6.
		for port in 80 53; do
			# Not through in_ns: $! must be the server itself.
			nsenter --net="/run/netns/$ns" "$TRAFFIC" serve "$r" "$port" &
			dp_pids+=($!)
		done
		i=$((i + 1))
	done
	ip -n "$d" -batch - <<<"$bd" || fail "dp_setup: director"
	director sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	sleep 1
}

dp_pids=()
# Stops the servers and removes the namespaces.
dp_teardown() {
	for p in "${dp_pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	cleanup_netns
	dp_pids=()
	netns_list=()
}
trap dp_teardown EXIT

rs_addr() { # rs_addr r2 -> 192.168.1.12, or [fd00:2::12] with FAM=6
	local n
	case $1 in r1) n=11 ;; r2) n=12 ;; r3) n=13 ;; esac
	if [ "$FAM" = 6 ]; then echo "[fd00:2::$n]"; else echo "192.168.1.$n"; fi
}

# The virtual address as ipvsadm and socat write it.
vip() { if [ "$FAM" = 6 ]; then echo "[$VIP6]"; else echo "$VIP"; fi; }

# traffic <tcp|udp|udp-one> <port> <count> [source port]: from the client
# to the VIP; prints "r1=N r2=N r3=N other=N" (who answered how often).
traffic() {
	local mode=$1 port=$2 n=$3
	shift 3
	in_ns c "$TRAFFIC" "$mode" "$(vip):$port" "$n" "$@"
}

# answered: "r1=N r2=N r3=N other=N" as "answered=N other=N".
answered() {
	tr ' =' '\n ' | awk '$1 ~ /^r[0-9]/ { a += $2 } $1 == "other" { o = $2 }
		END { printf "answered=%d other=%d\n", a, o }'
}

# udp_from <source port>: the real server one datagram from that port
# reaches.
udp_from() {
	traffic udp 53 1 "$1" | tr ' ' '\n' | sed -n 's/=1$//p' | grep -v other
}

# both_families <scenario function>: IPv4, then IPv6 with IPVS_RS_V6=1
# (run.sh's default outside CI, which leaves it out for time), on one
# set of namespaces.
both_families() {
	FAM=4 "$1" || return 1
	[ "${IPVS_RS_V6:-0}" = 1 ] || return 0
	FAM=6 "$1"
}

add_rs() { # add_rs <-t|-u> <port> <rs> <weight> [fwd flag]
	director ipvsadm -a "$1" "$(vip):$2" -r "$(rs_addr "$3"):$2" -w "$4" "${5:--m}"
}

# on_ipvs_rs <scenario function> [insmod args...]: runs it on
# ipvs_rs.ko in fresh namespaces, shows its transcript and leaves it in
# $out; the module is unloaded after.
on_ipvs_rs() {
	load_rs "${@:2}"
	dp_setup
	module=ipvs_rs
	out=$($1) || { echo "$out"; exit 1; }
	echo "$out"
	dp_teardown
	rmmod ipvs_rs || fail "rmmod ipvs_rs"
}

# against_stock <scenario function> <ipvs_rs transcript> [module...]:
# with IPVS_RS_STOCK=1 (the default outside CI), runs the scenario on
# stock ip_vs.ko (and the modules named, each "name [param=value...]")
# in fresh namespaces and fails unless its transcript equals ipvs_rs's.
against_stock() {
	local fn=$1 want=$2 m out
	shift 2
	[ "${IPVS_RS_STOCK:-1}" = 1 ] || return 0
	for m in ip_vs "$@"; do
		# shellcheck disable=SC2086 # a name and its parameters
		modprobe $m 2>/dev/null || return 0
	done
	dp_setup
	module=stock
	out=$($fn) || { echo "$out"; exit 1; }
	dp_teardown
	unload_all
	expect_eq "transcript ipvs_rs vs stock" "$out" "$want"
	echo "stock ip_vs.ko $*: same transcript"
}
