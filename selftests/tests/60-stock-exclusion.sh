#!/bin/bash
# ipvs_rs.ko and stock ip_vs.ko exclude each other, cleanly.
. selftests/lib.sh
modinfo ip_vs >/dev/null 2>&1 || skip "no stock ip_vs module"

modprobe ip_vs || fail "modprobe ip_vs"
before=$(dmesg | wc -l)
insmod "$IPVS_RS_KO" 2>/dev/null && fail "ipvs_rs loaded beside ip_vs"
out=$(insmod "$IPVS_RS_KO" 2>&1)
echo "$out" | grep -q "File exists" || fail "insmod error was not EEXIST: $out"
dmesg | tail -n +"$((before + 1))" | grep -q "ip_vs.ko is loaded" || fail "no clear dmesg line"
unload_all

load_rs
before=$(dmesg | wc -l)
modprobe ip_vs 2>/dev/null && fail "modprobe ip_vs succeeded beside ipvs_rs"
grep -q '^ip_vs ' /proc/modules && fail "stock ip_vs loaded beside ipvs_rs"
dmesg | tail -n +"$((before + 1))" | grep -q "refusing to load ip_vs.ko" || fail "no clear dmesg line for the refused ip_vs"
# ipvs_rs still answers.
[ -r $sysvs/amemthresh ] || fail "ipvs_rs sysctls gone after the failed stock load"
if command -v ipvsadm >/dev/null; then ipvsadm -Ln >/dev/null || fail "ipvsadm after failed stock load"; fi
rmmod ipvs_rs
echo "mutual exclusion ok"
