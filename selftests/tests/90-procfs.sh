#!/bin/bash
# /proc/net/ip_vs, ip_vs_stats and ip_vs_conn read the same on ipvs_rs.ko
# as on stock ip_vs.ko for the same configuration; ipvsadm -Lnc works.
. selftests/lib.sh
command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
modinfo ip_vs >/dev/null 2>&1 || skip "no stock ip_vs module to compare with"

snap() {
	ipvsadm -A -t 10.0.0.1:80 -s rr -p 300 -M 255.255.255.0
	ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 3
	ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.3:80 -g
	echo "--- ip_vs"; cat /proc/net/ip_vs
	ipvsadm -C
	ipvsadm -A -u [2001:db8::1]:53 -s wlc
	ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -m -w 2
	echo "--- ip_vs v6"; cat /proc/net/ip_vs
	ipvsadm -C
	ipvsadm -A -f 9 -s sed -p 60
	echo "--- ip_vs fwm"; cat /proc/net/ip_vs
	echo "--- ip_vs_stats"; cat /proc/net/ip_vs_stats
	echo "--- ip_vs_conn"; cat /proc/net/ip_vs_conn
	echo "--- ip_vs_conn_sync"; cat /proc/net/ip_vs_conn_sync
	echo "--- ipvsadm -Lnc"; ipvsadm -Lnc; echo "rc=$?"
	echo "--- ipvsadm-rs -Lnc"; ipvsadm-rs -Lnc; echo "rc=$?"
	ipvsadm -C
}

load_rs
snap >/tmp/rs.proc 2>&1
unload_all
modprobe ip_vs || fail "modprobe ip_vs"
snap >/tmp/stock.proc 2>&1
unload_all
cat /tmp/rs.proc
# The table's size: stock's fixed 4096, ipvs_rs's current one (see
# deviations.rst).
sed -i 's/(size=[0-9]*)/(size=N)/' /tmp/stock.proc /tmp/rs.proc
diff -u /tmp/stock.proc /tmp/rs.proc || fail "/proc/net/ip_vs* differ (- stock, + ipvs_rs)"
