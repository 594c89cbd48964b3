#!/bin/bash
# A third-party netlink client, pyroute2's IPVS API (build/pydeps, make
# deps), drives the module: services and real servers added, changed,
# got, dumped and deleted, the errors it gets for wrong requests, the
# timeouts. The same transcript on ipvs_rs.ko and stock ip_vs.ko (cheap:
# compared in CI mode too).
. selftests/lib.sh
pydeps=$PWD/build/pydeps
PYTHONPATH=$pydeps python3 -c 'import pyroute2' 2>/dev/null ||
	skip "no pyroute2 in build/pydeps (make deps)"

scenario() {
	PYTHONPATH=$pydeps python3 selftests/pyroute2-ipvs.py 2>&1
}

# Stock's transcript first, when it loads: the reference.
if modprobe ip_vs 2>/dev/null; then
	stock=$(scenario) || { echo "$stock"; fail "pyroute2 scenario on stock"; }
	unload_all
fi
load_rs
out=$(scenario) || { echo "$out"; fail "pyroute2 scenario on ipvs_rs"; }
echo "$out"
rmmod ipvs_rs || fail "rmmod ipvs_rs"
if [ -n "${stock:-}" ]; then
	expect_eq "transcript ipvs_rs vs stock" "$stock" "$out"
	echo "stock ip_vs.ko: same transcript"
fi

want=$(cat <<'EOF'
dump empty: ok
add tcp: ok
add tcp again: EEXIST
add udp persistent: ok
add v6 without netmask: EINVAL
add v6: ok
add fwmark: ok
add unknown scheduler: ENOENT
dump: ok
  svc IPVS_SVC_ATTR_AF=10 IPVS_SVC_ATTR_FLAGS=0x12/0xffffffff IPVS_SVC_ATTR_NETMASK=128.0.0.0 IPVS_SVC_ATTR_PORT=443 IPVS_SVC_ATTR_PROTOCOL=6 IPVS_SVC_ATTR_SCHED_NAME=sh IPVS_SVC_ATTR_TIMEOUT=0 counters=STATS,STATS64
  svc IPVS_SVC_ATTR_AF=2 IPVS_SVC_ATTR_FLAGS=0x2/0xffffffff IPVS_SVC_ATTR_FWMARK=7 IPVS_SVC_ATTR_NETMASK=255.255.255.255 IPVS_SVC_ATTR_SCHED_NAME=wrr IPVS_SVC_ATTR_TIMEOUT=0 counters=STATS,STATS64
  svc IPVS_SVC_ATTR_AF=2 IPVS_SVC_ATTR_FLAGS=0x2/0xffffffff IPVS_SVC_ATTR_NETMASK=255.255.255.255 IPVS_SVC_ATTR_PORT=80 IPVS_SVC_ATTR_PROTOCOL=6 IPVS_SVC_ATTR_SCHED_NAME=rr IPVS_SVC_ATTR_TIMEOUT=0 counters=STATS,STATS64
  svc IPVS_SVC_ATTR_AF=2 IPVS_SVC_ATTR_FLAGS=0x3/0xffffffff IPVS_SVC_ATTR_NETMASK=255.255.255.0 IPVS_SVC_ATTR_PORT=53 IPVS_SVC_ATTR_PROTOCOL=17 IPVS_SVC_ATTR_SCHED_NAME=wlc IPVS_SVC_ATTR_TIMEOUT=300 counters=STATS,STATS64
add dest masq: ok
add dest again: EEXIST
add dest droute: ok
add dest tunnel: ok
add dest to missing service: ESRCH
add dest v6: ok
add dest v4 to v6 masq: EINVAL
add dest fwmark: ok
set dest weight: ok
set missing dest: ENOENT
dests tcp: ok
  dest IPVS_DEST_ATTR_ACTIVE_CONNS=0 IPVS_DEST_ATTR_ADDR_FAMILY=2 IPVS_DEST_ATTR_FWD_METHOD=0 IPVS_DEST_ATTR_INACT_CONNS=0 IPVS_DEST_ATTR_L_THRESH=0 IPVS_DEST_ATTR_PERSIST_CONNS=0 IPVS_DEST_ATTR_PORT=8080 IPVS_DEST_ATTR_TUN_FLAGS=0 IPVS_DEST_ATTR_TUN_PORT=0 IPVS_DEST_ATTR_TUN_TYPE=0 IPVS_DEST_ATTR_U_THRESH=0 IPVS_DEST_ATTR_WEIGHT=5 counters=STATS,STATS64
  dest IPVS_DEST_ATTR_ACTIVE_CONNS=0 IPVS_DEST_ATTR_ADDR_FAMILY=2 IPVS_DEST_ATTR_FWD_METHOD=3 IPVS_DEST_ATTR_INACT_CONNS=0 IPVS_DEST_ATTR_L_THRESH=50 IPVS_DEST_ATTR_PERSIST_CONNS=0 IPVS_DEST_ATTR_PORT=80 IPVS_DEST_ATTR_TUN_FLAGS=0 IPVS_DEST_ATTR_TUN_PORT=0 IPVS_DEST_ATTR_TUN_TYPE=0 IPVS_DEST_ATTR_U_THRESH=100 IPVS_DEST_ATTR_WEIGHT=1 counters=STATS,STATS64
dests udp: ok
  dest IPVS_DEST_ATTR_ACTIVE_CONNS=0 IPVS_DEST_ATTR_ADDR_FAMILY=2 IPVS_DEST_ATTR_FWD_METHOD=2 IPVS_DEST_ATTR_INACT_CONNS=0 IPVS_DEST_ATTR_L_THRESH=0 IPVS_DEST_ATTR_PERSIST_CONNS=0 IPVS_DEST_ATTR_PORT=53 IPVS_DEST_ATTR_TUN_FLAGS=0 IPVS_DEST_ATTR_TUN_PORT=0 IPVS_DEST_ATTR_TUN_TYPE=0 IPVS_DEST_ATTR_U_THRESH=0 IPVS_DEST_ATTR_WEIGHT=3 counters=STATS,STATS64
dests v6: ok
  dest IPVS_DEST_ATTR_ACTIVE_CONNS=0 IPVS_DEST_ATTR_ADDR_FAMILY=10 IPVS_DEST_ATTR_FWD_METHOD=0 IPVS_DEST_ATTR_INACT_CONNS=0 IPVS_DEST_ATTR_L_THRESH=0 IPVS_DEST_ATTR_PERSIST_CONNS=0 IPVS_DEST_ATTR_PORT=443 IPVS_DEST_ATTR_TUN_FLAGS=0 IPVS_DEST_ATTR_TUN_PORT=0 IPVS_DEST_ATTR_TUN_TYPE=0 IPVS_DEST_ATTR_U_THRESH=0 IPVS_DEST_ATTR_WEIGHT=4 counters=STATS,STATS64
dests fwmark: ok
  dest IPVS_DEST_ATTR_ACTIVE_CONNS=0 IPVS_DEST_ATTR_ADDR_FAMILY=2 IPVS_DEST_ATTR_FWD_METHOD=3 IPVS_DEST_ATTR_INACT_CONNS=0 IPVS_DEST_ATTR_L_THRESH=0 IPVS_DEST_ATTR_PERSIST_CONNS=0 IPVS_DEST_ATTR_PORT=0 IPVS_DEST_ATTR_TUN_FLAGS=0 IPVS_DEST_ATTR_TUN_PORT=0 IPVS_DEST_ATTR_TUN_TYPE=0 IPVS_DEST_ATTR_U_THRESH=0 IPVS_DEST_ATTR_WEIGHT=1 counters=STATS,STATS64
dests missing service: ok
get dest (no dump): ENOTSUP
set service scheduler: ok
get service: ok
  svc IPVS_SVC_ATTR_AF=2 IPVS_SVC_ATTR_FLAGS=0x2/0xffffffff IPVS_SVC_ATTR_NETMASK=255.255.255.255 IPVS_SVC_ATTR_PORT=80 IPVS_SVC_ATTR_PROTOCOL=6 IPVS_SVC_ATTR_SCHED_NAME=lc IPVS_SVC_ATTR_TIMEOUT=0
get missing service: ESRCH
get config: ok
  timeout_tcp=900 timeout_tcp_fin=120 timeout_udp=300
del dest: ok
del dest again: ENOENT
del service: ok
del service again: ESRCH
dump after deletes: ok
  svc IPVS_SVC_ATTR_AF=10 IPVS_SVC_ATTR_FLAGS=0x12/0xffffffff IPVS_SVC_ATTR_NETMASK=128.0.0.0 IPVS_SVC_ATTR_PORT=443 IPVS_SVC_ATTR_PROTOCOL=6 IPVS_SVC_ATTR_SCHED_NAME=sh IPVS_SVC_ATTR_TIMEOUT=0 counters=STATS,STATS64
  svc IPVS_SVC_ATTR_AF=2 IPVS_SVC_ATTR_FLAGS=0x2/0xffffffff IPVS_SVC_ATTR_FWMARK=7 IPVS_SVC_ATTR_NETMASK=255.255.255.255 IPVS_SVC_ATTR_SCHED_NAME=wrr IPVS_SVC_ATTR_TIMEOUT=0 counters=STATS,STATS64
  svc IPVS_SVC_ATTR_AF=2 IPVS_SVC_ATTR_FLAGS=0x2/0xffffffff IPVS_SVC_ATTR_NETMASK=255.255.255.255 IPVS_SVC_ATTR_PORT=80 IPVS_SVC_ATTR_PROTOCOL=6 IPVS_SVC_ATTR_SCHED_NAME=lc IPVS_SVC_ATTR_TIMEOUT=0 counters=STATS,STATS64
del: ok
del: ok
del: ok
dump at the end: ok
EOF
)
expect_eq "transcript" "$want" "$out"
echo "pyroute2 ok"
