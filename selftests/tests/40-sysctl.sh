#!/bin/bash
# The sysctls exist with stock defaults, validate ranges, and are writable
# only with CAP_NET_ADMIN.
. selftests/lib.sh

load_rs
expect_eq amemthresh 1024 "$(cat $sysvs/amemthresh)"
expect_eq am_droprate 10 "$(cat $sysvs/am_droprate)"
expect_eq conn_reuse_mode 1 "$(cat $sysvs/conn_reuse_mode)"
expect_eq pmtu_disc 1 "$(cat $sysvs/pmtu_disc)"
expect_eq sync_version 1 "$(cat $sysvs/sync_version)"
expect_eq expire_nodest_conn 0 "$(cat $sysvs/expire_nodest_conn)"

echo 2048 > $sysvs/amemthresh || fail "root cannot write amemthresh"
expect_eq "amemthresh after write" 2048 "$(cat $sysvs/amemthresh)"

# Ranges as stock: drop_entry is 0..3, sync_version 0..1.
echo 5 > $sysvs/drop_entry 2>/dev/null && fail "drop_entry=5 accepted"
expect_eq "drop_entry after bad write" 0 "$(cat $sysvs/drop_entry)"
echo 2 > $sysvs/sync_version 2>/dev/null && fail "sync_version=2 accepted"
echo 3 > $sysvs/drop_entry || fail "drop_entry=3 refused"

# Jiffies knob: seconds in and out.
echo 7 > $sysvs/sync_refresh_period
expect_eq sync_refresh_period 7 "$(cat $sysvs/sync_refresh_period)"

# Unprivileged user: read yes, write no.
setpriv --reuid=65534 --regid=65534 --clear-groups cat $sysvs/amemthresh >/dev/null ||
	fail "nobody cannot read amemthresh"
setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo 1 > $sysvs/amemthresh" 2>/dev/null &&
	fail "nobody without CAP_NET_ADMIN could write"
expect_eq "amemthresh after refused write" 2048 "$(cat $sysvs/amemthresh)"
# Same user with CAP_NET_ADMIN: allowed (net sysctls grant it the owner bits).
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin \
	sh -c "echo 4096 > $sysvs/amemthresh" || fail "nobody with CAP_NET_ADMIN could not write"
expect_eq "amemthresh after CAP_NET_ADMIN write" 4096 "$(cat $sysvs/amemthresh)"

rmmod ipvs_rs
echo "sysctls ok"
