#!/bin/bash
# Services and real servers through the real ipvsadm: every command and its
# listing, and the errors, are the same on ipvs_rs.ko as on stock ip_vs.ko.
# ipvsadm-rs lists the same table byte for byte.
. selftests/lib.sh
command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
modinfo ip_vs >/dev/null 2>&1 || skip "no stock ip_vs module to compare with"

scenario() {
	run() { echo "\$ ipvsadm $*"; ipvsadm "$@" 2>&1; echo "rc=$?"; }
	run -A -t 10.0.0.1:80 -s rr
	run -a -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 1
	run -a -t 10.0.0.1:80 -r 192.168.0.3:80 -m -w 3
	run -A -u 10.0.0.1:53 -s wlc -p 300
	run -a -u 10.0.0.1:53 -r 192.168.0.2:53 -g -w 2
	run -A -f 7 -s wrr -p 60 -M 255.255.255.0
	run -a -f 7 -r 192.168.0.4:0 -i -x 100 -y 50
	run -A -t [2001:db8::1]:443 -s lc
	run -a -t [2001:db8::1]:443 -r [2001:db8::2]:443 -m -w 5
	run -A --sctp-service 10.0.0.1:9 -s nq
	run -A -u 10.0.0.5:5060 -s sed -o
	run -E -t 10.0.0.1:80 -s sed
	run -e -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 0
	run -d -t 10.0.0.1:80 -r 192.168.0.3:80
	run -Ln
	run -Ln --thresholds
	run -Ln --persistent-conn
	run -Sn
	run -Ln -t 10.0.0.1:80
	# errors
	run -A -t 10.0.0.1:80 -s rr
	run -A -t 10.0.0.2:80 -s bogus
	run -a -t 10.9.9.9:80 -r 1.1.1.1:80
	run -d -t 10.0.0.1:80 -r 9.9.9.9:80
	run -a -t 10.0.0.1:80 -r 192.168.0.2:80 -m
	run -e -t 10.0.0.1:80 -r 192.168.0.9:80 -m -x 1 -y 5
	# Real servers must be unicast or local (multicast, broadcast,
	# link-local: EINVAL; loopback is local).
	run -a -t 10.0.0.1:80 -r 224.0.0.9:80 -g
	run -a -t 10.0.0.1:80 -r 255.255.255.255:80 -g
	run -a -t 10.0.0.1:80 -r 0.0.0.0:80 -g
	run -a -t [2001:db8::1]:443 -r [ff02::1]:443 -m
	run -a -t [2001:db8::1]:443 -r [fe80::1]:443 -m
	run -a -t 10.0.0.1:80 -r 127.0.0.1:80 -g
	run -a -t [2001:db8::1]:443 -r [::1]:443 -m
	run -D -t 10.9.9.9:80
	run -Ln -t 10.9.9.9:80
	run --set 100 20 30
	run -L --timeout
	run -D -u 10.0.0.1:53
	run -Ln
	run -C
	run -Ln
}

load_rs
scenario >/tmp/rs.out
rmmod ipvs_rs || fail "rmmod"
modprobe ip_vs || fail "modprobe ip_vs"
scenario >/tmp/stock.out
unload_all
# The table's size: stock's fixed 4096, ipvs_rs's current one (see
# deviations.rst).
sed -i 's/(size=[0-9]*)/(size=N)/' /tmp/stock.out /tmp/rs.out
if ! diff -u /tmp/stock.out /tmp/rs.out; then
	fail "ipvsadm on ipvs_rs differs from stock (- stock, + ipvs_rs)"
fi
cat /tmp/rs.out
echo "$(grep -c "^rc=0" /tmp/rs.out) commands succeeded, $(grep -c "^rc=[1-9]" /tmp/rs.out) failed, identically on both modules"

# ipvsadm-rs lists what ipvsadm lists, on both modules.
setup() {
	ipvsadm -A -t 10.0.0.1:80 -s rr
	ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 1
	ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.3:80 -g -w 3
	ipvsadm -A -u 10.0.0.1:53 -s wlc -p 300
	ipvsadm -A -f 7 -s wrr
	ipvsadm -a -f 7 -r 192.168.0.4:0 -i
	ipvsadm -A -t [2001:db8::1]:443 -s lc
	ipvsadm -a -t [2001:db8::1]:443 -r [2001:db8::2]:443 -m -w 5
}
mods=rs
[ "${IPVS_RS_STOCK:-1}" = 1 ] && mods="rs stock"
for mod in $mods; do
	if [ $mod = rs ]; then load_rs; else modprobe ip_vs; fi
	setup
	diff -u <(ipvsadm -Ln) <(ipvsadm-rs -Ln) || fail "ipvsadm-rs -Ln differs from ipvsadm -Ln on $mod"
	ipvsadm-rs --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["services"]) == 4, d
assert sum(len(s["dests"]) for s in d["services"]) == 4, d
' || fail "ipvsadm-rs --json on $mod"
	unload_all
done
echo "ipvsadm and ipvsadm-rs agree on: $mods"
