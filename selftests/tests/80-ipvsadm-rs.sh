#!/bin/bash
# ipvsadm-rs against both modules (see IPVS_RS_STOCK below): configured with every option, its
# listings are byte-identical to ipvsadm's; -S/-R and --json round-trip;
# a failing -R changes nothing.
. selftests/lib.sh
command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
modinfo ip_vs >/dev/null 2>&1 || skip "no stock ip_vs module to compare with"
rs=ipvsadm-rs

configure() {
	$rs -A -t 10.0.0.1:80 -s rr || return 1
	$rs -a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 1 || return 1
	$rs -a -t 10.0.0.1:80 -r 192.168.0.3 -g -w 3 -x 200 -y 100 || return 1
	$rs -A -u 10.0.0.1:53 -s wlc -p 300 -M 255.255.255.0 || return 1
	$rs -a -u 10.0.0.1:53 -r 192.168.0.2 -i -w 2 || return 1
	$rs -A -u 10.0.0.5:5060 -s sed -o || return 1
	$rs -A -u 10.0.0.6:5060 -s rr -p 120 --pe sip || return 1
	$rs -A -f 7 -s wrr -p || return 1
	$rs -a -f 7 -r 192.168.0.4:0 -i --tun-type gue --tun-port 6080 --tun-csum || return 1
	$rs -a -f 7 -r 192.168.0.5:0 -i --tun-type gre --tun-csum -w 2 || return 1
	$rs -a -u 10.0.0.1:53 -r 192.168.0.6 -i --tun-type gre || return 1
	$rs -A -f 8 -6 -s lc -p 60 -M 64 || return 1
	$rs -A -t [2001:db8::1]:443 -s nq -b flag-1,flag-2 || return 1
	$rs -a -t [2001:db8::1]:443 -r [2001:db8::2]:8443 -m -w 5 || return 1
	$rs -A --sctp-service 10.0.0.1:9 -s wlc || return 1
	$rs -E -t 10.0.0.1:80 -s wrr || return 1
	$rs -e -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 4 || return 1
	$rs -A -t 10.0.0.9:81 -s rr || return 1
	$rs -D -t 10.0.0.9:81 || return 1
	$rs -a -t 10.0.0.1:80 -r 192.168.0.9 -g || return 1
	$rs -d -t 10.0.0.1:80 -r 192.168.0.9 || return 1
	$rs --set 100 20 30 || return 1
	$rs -Z || return 1
	$rs -Z -t 10.0.0.1:80 || return 1
}

listings=(
	"-Ln" "-L" "-Ln --stats" "-Ln --rate" "-Ln --thresholds" "-Ln --persistent-conn"
	"-Ln --stats --exact" "-Ln --tun-info" "-Ln --nosort" "-Sn" "-S" "-L --timeout"
	"-L --daemon" "-Ln -t 10.0.0.1:80" "-Ln -f 7 --thresholds" "-Ln -u 10.0.0.1:53 --stats"
	"-Lnc" "-l -n" "-Ln --sort" "-Lcn --exact"
)

# Stock's half only with IPVS_RS_STOCK=1 (the default outside CI, which
# has no time for it).
mods=ipvs_rs
[ "${IPVS_RS_STOCK:-1}" = 1 ] && mods="ipvs_rs ip_vs"
for mod in $mods; do
	unload_all
	if [ $mod = ipvs_rs ]; then load_rs; else modprobe ip_vs || fail "modprobe ip_vs"; fi
	configure || fail "$mod: configuring with ipvsadm-rs failed"
	for l in "${listings[@]}"; do
		# shellcheck disable=SC2086
		diff -u <(ipvsadm $l 2>&1) <($rs $l 2>&1) || fail "$mod: ipvsadm-rs $l differs from ipvsadm $l"
	done
	echo "$mod: ${#listings[@]} listings identical"

	# Sync daemons: both modules run them and both tools list them alike.
	ip link add ipvs-sync type dummy && ip addr add 10.99.0.1/24 dev ipvs-sync &&
		ip link set ipvs-sync multicast on up || fail "dummy sync interface"
	$rs --start-daemon master --mcast-interface ipvs-sync --syncid 5 ||
		fail "$mod: --start-daemon master"
	$rs --start-daemon backup --mcast-interface ipvs-sync --syncid 6 \
		--mcast-group 224.0.0.82 --mcast-port 8850 --mcast-ttl 2 --sync-maxlen 1400 ||
		fail "$mod: --start-daemon backup"
	diff -u <(ipvsadm -L --daemon) <($rs -L --daemon) || fail "$mod: -L --daemon differs"
	echo "$mod: daemons: $($rs -L --daemon | tr '\n' ';')"
	expect_eq "$mod: the backup's group, port, TTL and size" \
		"backup sync daemon (mcast=ipvs-sync, syncid=6, maxlen=1400, group=224.0.0.82, port=8850, ttl=2)" \
		"$($rs -L --daemon | grep '^backup')"
	# A second master is refused (EEXIST), in one line.
	out=$($rs --start-daemon master --mcast-interface ipvs-sync 2>&1)
	expect_eq "$mod: second master exit status" 1 "$?"
	[ "$(echo "$out" | wc -l)" = 1 ] || fail "$mod: --start-daemon error is not one line: $out"
	echo "$mod: second master -> $out"
	$rs --stop-daemon master && $rs --stop-daemon backup || fail "$mod: --stop-daemon"
	expect_eq "$mod: daemons after stopping them" "" "$($rs -L --daemon)"
	# A missing interface: ENODEV, nothing started.
	out=$($rs --start-daemon master --mcast-interface ipvs-none 2>&1)
	expect_eq "$mod: --start-daemon on a missing interface" 1 "$?"
	echo "$mod: missing interface -> $out"
	expect_eq "$mod: daemons after the refused start" "" "$($rs -L --daemon)"
	ip link del ipvs-sync

	# -S / -R round trip, through ipvsadm's own -R too.
	saved=$(ipvsadm -Sn)
	$rs -C && $rs -R <<<"$saved" || fail "$mod: ipvsadm-rs -R of ipvsadm -Sn"
	expect_eq "$mod: -Sn after -R" "$saved" "$(ipvsadm -Sn)"
	ours=$($rs -Sn)
	ipvsadm -C && ipvsadm -R <<<"$ours" || fail "$mod: ipvsadm -R of ipvsadm-rs -Sn"
	expect_eq "$mod: -Sn after ipvsadm -R" "$saved" "$(ipvsadm -Sn)"

	# --json round trip.
	json=$($rs -Ln --json) || fail "$mod: --json"
	$rs -C && $rs -R --json <<<"$json" || fail "$mod: -R --json"
	expect_eq "$mod: --json after -R --json" "$json" "$($rs -Ln --json)"
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["services"]) == 8, len(d["services"])' "$json" ||
		fail "$mod: JSON document"

	# A failing -R (line 3 names a missing service) leaves the table alone.
	before=$(ipvsadm -Sn)
	out=$(printf '%s\n' "-A -t 10.1.1.1:80 -s rr" "-a -t 10.1.1.1:80 -r 10.2.2.2 -m" \
		"-a -t 10.9.9.9:80 -r 10.2.2.3 -m" | $rs -R 2>&1)
	rc=$?
	expect_eq "$mod: -R exit status" 1 "$rc"
	echo "$out" | grep -q "^ipvsadm-rs: line 3: " || fail "$mod: -R error does not name line 3: $out"
	expect_eq "$mod: table after failed -R" "$before" "$(ipvsadm -Sn)"
	# A syntax error: exit 2, nothing applied.
	out=$(printf '%s\n' "-A -t 10.1.1.1:80 -s rr" "-A -t 10.1.1.2:80 --bogus" | $rs -R 2>&1)
	expect_eq "$mod: -R syntax error exit status" 2 "$?"
	echo "$out" | grep -q "line 2" || fail "$mod: syntax error does not name line 2: $out"
	expect_eq "$mod: table after bad syntax" "$before" "$(ipvsadm -Sn)"

	# Tunnel options each type refuses: ipvsadm's words and exit status.
	for opts in "gre --tun-port 5000" "gre --tun-remcsum" "gre --tun-csum --tun-nocsum" \
		"gue --tun-port 5000 --tun-csum --tun-remcsum" "gue" "ipip --tun-csum"; do
		# shellcheck disable=SC2086
		want=$(ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.7 -i --tun-type $opts 2>&1; echo "rc=$?")
		# shellcheck disable=SC2086
		got=$($rs -a -t 10.0.0.1:80 -r 192.168.0.7 -i --tun-type $opts 2>&1; echo "rc=$?")
		expect_eq "$mod: --tun-type $opts" "$want" "${got#ipvsadm-rs: }"
	done
	echo "$mod: tunnel option errors as ipvsadm's: $(ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.7 -i --tun-type gre --tun-remcsum 2>&1)"

	# Errors: one line, non-zero.
	out=$($rs -A -t 10.0.0.1:80 -s rr 2>&1)
	expect_eq "$mod: duplicate service exit" 1 "$?"
	[ "$(echo "$out" | wc -l)" = 1 ] || fail "$mod: error is not one line: $out"
	echo "$mod: duplicate service -> $out"
	unload_all
done
echo "ipvsadm-rs matches ipvsadm on: $mods"
