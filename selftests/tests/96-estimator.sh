#!/bin/bash
# The rate estimator's kernel thread, on ipvs_rs.ko and (unless
# IPVS_RS_STOCK=0) on stock ip_vs.ko, with the same transcript:
# - no "ipvs-e:" thread before the namespace's first service, one after,
#   and it stays when the services go;
# - est_nice gives it its nice value and est_cpulist its CPUs; an empty
#   est_cpulist stops it, as run_estimation=0 does, and it comes back
#   when either is undone;
# - with 60 services (the thread updates a 50th of them each tick), the
#   first and the last service and their real servers get rates.
. selftests/lib.sh
. selftests/dataplane.sh

# est_pids: the estimator threads (all namespaces).
est_pids() { ps -e -o pid=,comm= | awk '$2 ~ /^ipvs-e:[0-9]+:0$/ { print $1 }'; }
threads() { est_pids | wc -l; }

# settle <command> <want>: up to 10 s for the command to print want;
# prints what it printed last.
settle() {
	local i got
	for i in $(seq 1 50); do
		got=$($1)
		[ "$got" = "$2" ] && break
		sleep 0.2
	done
	echo "$got"
}

nice_of() { ps -o ni= -p "$(est_pids | head -1)" | tr -d ' '; }
cpus_of() { awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$(est_pids | head -1)/status"; }
vs() { director sysctl -qw "net.ipv4.vs.$1"; }

# rate <service port> <column>: the service's (s) or its real server's
# (d) packets in a second, from ipvsadm -Ln --rate.
rate() {
	director ipvsadm -Ln --rate --exact | awk -v p=":$1" -v w="$2" '
		$1 == "UDP" { s = ($2 ~ p"$") } s && w == "s" && $1 == "UDP" { print $4 }
		s && w == "d" && $1 == "->" { print $4 }'
}

scenario() {
	echo "before a service: $(threads) threads"
	director ipvsadm -A -u $VIP:53 -s rr
	director ipvsadm -a -u $VIP:53 -r "$(rs_addr r1)":53 -m
	echo "with a service: $(settle threads 1) threads"
	vs est_nice=5
	echo "est_nice=5: nice $(settle nice_of 5)"
	vs est_nice=-3
	echo "est_nice=-3: nice $(settle nice_of -3)"
	vs est_nice=0
	vs est_cpulist=1
	echo "est_cpulist=1: on CPUs $(settle cpus_of 1)"
	director sh -c 'echo > /proc/sys/net/ipv4/vs/est_cpulist'
	echo "est_cpulist empty: $(settle threads 0) threads"
	vs est_cpulist=0-1
	echo "est_cpulist=0-1: $(settle threads 1) threads, on CPUs $(settle cpus_of 0-1)"
	vs run_estimation=0
	echo "run_estimation=0: $(settle threads 0) threads"
	vs run_estimation=1
	echo "run_estimation=1: $(settle threads 1) threads"

	# 60 services; traffic to the first and the last.
	for p in $(seq 1001 1059); do
		echo "-A -u $VIP:$p -s rr"
		echo "-a -u $VIP:$p -r $(rs_addr r1):53 -m"
	done | director ipvsadm -R
	in_ns c "$TRAFFIC" blast "$VIP:53" 1 7 >/dev/null &
	in_ns c "$TRAFFIC" blast "$VIP:1059" 1 7 >/dev/null
	wait
	for p in 53 1059; do
		s=$(rate $p s) d=$(rate $p d)
		[ "${s:-0}" -gt 0 ] && [ "${d:-0}" -gt 0 ] && echo "service $p: rates > 0" ||
			echo "service $p: service $s, real server $d packets/s"
	done
	director ipvsadm -C
	sleep 1
	echo "services deleted: $(threads) threads"
}

on_ipvs_rs scenario
expect_eq "transcript" "before a service: 0 threads
with a service: 1 threads
est_nice=5: nice 5
est_nice=-3: nice -3
est_cpulist=1: on CPUs 1
est_cpulist empty: 0 threads
est_cpulist=0-1: 1 threads, on CPUs 0-1
run_estimation=0: 0 threads
run_estimation=1: 1 threads
service 53: rates > 0
service 1059: rates > 0
services deleted: 1 threads" "$out"

against_stock scenario "$out"
echo "estimator ok"
