# Helpers for the selftests (sourced). Each test is a bash script: exit 0
# to pass, 4 to skip, anything else to fail; what it prints is shown on
# failure.
set -u
ksft_skip=4
sysvs=/proc/sys/net/ipv4/vs

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit $ksft_skip; }

# expect_eq <what> <expected> <actual>
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# Namespaces go away asynchronously: stock's modules stay busy until
# their cleanup ran, so this tries for up to ten seconds. A process start
# costs about 0.3 s in the emulated guest: /proc/modules is read by bash
# and one rmmod takes every module loaded, users first.
unload_all() {
	local i m list
	local -A have
	_loaded() {
		have=()
		while read -r m _; do have[$m]=1; done </proc/modules
		[ -n "${have[ip_vs]:-}${have[ipvs_rs]:-}" ]
	}
	for i in {1..20}; do
		_loaded || return 0
		# Stock IPVS holds a module reference per service: flush first.
		[ -n "${have[ip_vs]:-}" ] && ipvsadm -C 2>/dev/null
		list=()
		for m in ipvs_rs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sed ip_vs_nq \
			ip_vs_sh ip_vs_mh ip_vs_dh ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf \
			ip_vs_twos ip_vs_pe_sip ip_vs_ftp xt_ipvs ip_vs; do
			[ -n "${have[$m]:-}" ] && list+=("$m")
		done
		rmmod "${list[@]}" 2>/dev/null
		_loaded || return 0
		[ "$i" = 20 ] || sleep 0.5
	done
	echo "unload_all: ip_vs.ko or ipvs_rs.ko still loaded" >&2
	return 1
}

# nobody [setpriv options] <command...>: runs it as user nobody, no groups.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

load_rs() {
	insmod "$IPVS_RS_KO" "$@" || fail "insmod ipvs_rs.ko $*"
}

# Fresh network namespaces, removed when the test exits.
netns_list=()
new_netns() { # new_netns <name>
	ip netns add "$1" || fail "ip netns add $1"
	ip -n "$1" link set lo up
	netns_list+=("$1")
}
cleanup_netns() {
	[ ${#netns_list[@]} -gt 0 ] &&
		printf 'netns del %s\n' "${netns_list[@]}" | ip -force -batch - 2>/dev/null
	return 0
}
trap cleanup_netns EXIT

unload_all
