#!/bin/bash
# The sysctls exist with stock defaults, validate ranges, and are writable
# only with CAP_NET_ADMIN.
. selftests/lib.sh

# name=default of every knob (sync_qlen_max depends on free memory), in
# two processes: each start costs about a second in the emulated guest.
knobs() {
	grep -H . "$sysvs"/* | sed -e "s|^$sysvs/||" -e 's/:/=/' -e 's/\t/ /g' \
		-e 's/^sync_qlen_max=.*/sync_qlen_max/'
}

if modprobe ip_vs 2>/dev/null; then
	stock=$(knobs)
	unload_all
fi
load_rs
rs=$(knobs)
echo "$rs"
if [ -n "${stock:-}" ]; then
	# Stock's knobs, with stock defaults, plus ours, and the two of its
	# lblc and lblcr modules (not loaded here).
	expect_eq "knobs and defaults" "$stock" "$(echo "$rs" | grep -Ev '^(conn_out|conn_reuse_old_conntrack|fast_path|conn_lfactor|svc_lfactor|lblcr?_expiration)=')"
fi
expect_eq "knob count" 36 "$(echo "$rs" | wc -l)"
# Upstream's name, range and default (net-next, 2026).
expect_eq conn_lfactor "conn_lfactor=-4" "$(echo "$rs" | grep '^conn_lfactor=')"
echo 9 > $sysvs/conn_lfactor 2>/dev/null && fail "conn_lfactor=9 accepted"
echo -9 > $sysvs/conn_lfactor 2>/dev/null && fail "conn_lfactor=-9 accepted"
echo -8 > $sysvs/conn_lfactor || fail "conn_lfactor=-8 refused"
expect_eq "conn_lfactor after write" -8 "$(cat $sysvs/conn_lfactor)"
expect_eq svc_lfactor "svc_lfactor=-3" "$(echo "$rs" | grep '^svc_lfactor=')"
echo 9 > $sysvs/svc_lfactor 2>/dev/null && fail "svc_lfactor=9 accepted"
echo 8 > $sysvs/svc_lfactor || fail "svc_lfactor=8 refused"
expect_eq conn_out "conn_out=0" "$(echo "$rs" | grep '^conn_out=')"
expect_eq conn_reuse_old_conntrack "conn_reuse_old_conntrack=1" "$(echo "$rs" | grep '^conn_reuse_old_conntrack=')"
expect_eq fast_path "fast_path=0" "$(echo "$rs" | grep '^fast_path=')"
expect_eq amemthresh 1024 "$(cat $sysvs/amemthresh)"
expect_eq am_droprate 10 "$(cat $sysvs/am_droprate)"
expect_eq conn_reuse_mode 1 "$(cat $sysvs/conn_reuse_mode)"
expect_eq pmtu_disc 1 "$(cat $sysvs/pmtu_disc)"
expect_eq sync_version 1 "$(cat $sysvs/sync_version)"
expect_eq expire_nodest_conn 0 "$(cat $sysvs/expire_nodest_conn)"
# Stock's lblc and lblcr defaults: a day, shown in seconds.
expect_eq lblc_expiration 86400 "$(cat $sysvs/lblc_expiration)"
expect_eq lblcr_expiration 86400 "$(cat $sysvs/lblcr_expiration)"
echo 60 > $sysvs/lblc_expiration || fail "lblc_expiration=60 refused"
expect_eq "lblc_expiration after write" 60 "$(cat $sysvs/lblc_expiration)"

echo 2048 > $sysvs/amemthresh || fail "root cannot write amemthresh"
expect_eq "amemthresh after write" 2048 "$(cat $sysvs/amemthresh)"

# Ranges as stock: drop_entry is 0..3, sync_version 0..1.
echo 5 > $sysvs/drop_entry 2>/dev/null && fail "drop_entry=5 accepted"
expect_eq "drop_entry after bad write" 0 "$(cat $sysvs/drop_entry)"
echo 2 > $sysvs/sync_version 2>/dev/null && fail "sync_version=2 accepted"
echo 3 > $sysvs/drop_entry || fail "drop_entry=3 refused"

# The knobs with checks of their own, as stock.
echo 3 > $sysvs/sync_ports 2>/dev/null && fail "sync_ports=3 accepted"
echo 4 > $sysvs/sync_ports || fail "sync_ports=4 refused"
expect_eq sync_ports 4 "$(cat $sysvs/sync_ports)"
echo "50 50" > $sysvs/sync_threshold 2>/dev/null && fail "sync_threshold=50 50 accepted"
echo "5 0" > $sysvs/sync_threshold || fail "sync_threshold=5 0 refused"
expect_eq sync_threshold "5 0" "$(tr '\t' ' ' <$sysvs/sync_threshold)"
echo 20 > $sysvs/est_nice 2>/dev/null && fail "est_nice=20 accepted"
echo 2 > $sysvs/conn_out 2>/dev/null && fail "conn_out=2 accepted"
echo 2 > $sysvs/conn_reuse_old_conntrack 2>/dev/null && fail "conn_reuse_old_conntrack=2 accepted"
echo 2 > $sysvs/fast_path 2>/dev/null && fail "fast_path=2 accepted"
echo 1 > $sysvs/fast_path || fail "fast_path=1 refused"
echo 0 > $sysvs/fast_path || fail "fast_path=0 refused"
echo 1000 > $sysvs/sync_qlen_max || fail "sync_qlen_max=1000 refused"
expect_eq sync_qlen_max 1000 "$(cat $sysvs/sync_qlen_max)"
echo 0 > $sysvs/est_cpulist || fail "est_cpulist=0 refused"
expect_eq est_cpulist 0 "$(cat $sysvs/est_cpulist)"
echo "x-" > $sysvs/est_cpulist 2>/dev/null && fail "est_cpulist=x- accepted"

# Jiffies knob: seconds in and out.
echo 7 > $sysvs/sync_refresh_period
expect_eq sync_refresh_period 7 "$(cat $sysvs/sync_refresh_period)"

# Unprivileged user: read yes, write no.
nobody cat $sysvs/amemthresh >/dev/null ||
	fail "nobody cannot read amemthresh"
nobody sh -c "echo 1 > $sysvs/amemthresh" 2>/dev/null &&
	fail "nobody without CAP_NET_ADMIN could write"
expect_eq "amemthresh after refused write" 2048 "$(cat $sysvs/amemthresh)"
# Same user with CAP_NET_ADMIN: allowed (net sysctls grant it the owner bits).
nobody --inh-caps=+net_admin --ambient-caps=+net_admin \
	sh -c "echo 4096 > $sysvs/amemthresh" || fail "nobody with CAP_NET_ADMIN could not write"
expect_eq "amemthresh after CAP_NET_ADMIN write" 4096 "$(cat $sysvs/amemthresh)"

rmmod ipvs_rs
echo "sysctls ok"
