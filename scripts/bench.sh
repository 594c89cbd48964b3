#!/bin/bash
# make bench: a kernel without the debug checkers (build/kernel-bench,
# otherwise the test config), ipvs_rs.ko built against it in a copy of
# the tree (build/bench-mod), one VM boot running selftests/bench.sh, and
# a table of medians and ratios (build/bench-results.txt).
# IPVS_RS_BENCH_BUILD_ONLY=1 stops after the builds; IPVS_RS_BENCH_PARTS
# picks workloads (rounds idle reconnect scale resize sync perf restore est),
# IPVS_RS_BENCH_SCALE the table sizes, IPVS_RS_BENCH_RESIZE the resize
# part's connections, IPVS_RS_BENCH_SYNC_FLOOD the sync flood's connections,
# IPVS_RS_BENCH_ROUNDS the rounds, IPVS_RS_BENCH_SAMPLES=1 keeps the
# profile's samples (build/perf-samples-*.txt, for scripts/perf-annotate.py).
#
# A benchmark, not a test: it reports. The VM runs under TCG here, so
# only the ratios between the three ways carry meaning.
set -euo pipefail

top=$(realpath "$(dirname "$0")/..")
cd "$top"
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
export PATH=$HOME/.cargo/bin:$PATH
start=$(date +%s)

# The test fragment without its debug checkers.
cfg=build/bench.config
mkdir -p build
{
	sed '/^# --- debug checkers ---/,$d' selftests/config
	cat <<-EOF
		# --- benchmark: no debug checkers ---
		# CONFIG_SLUB_TINY is not set
		# CONFIG_KASAN is not set
		# CONFIG_PROVE_LOCKING is not set
		# CONFIG_DEBUG_KMEMLEAK is not set
		# CONFIG_DEBUG_ATOMIC_SLEEP is not set
		# --- the profile: perf with kernel and module symbols ---
		CONFIG_PERF_EVENTS=y
		CONFIG_KALLSYMS=y
	EOF
} >"$cfg.new"
cmp -s "$cfg.new" "$cfg" 2>/dev/null || mv "$cfg.new" "$cfg"
rm -f "$cfg.new"
scripts/kernel.sh "$cfg" build/kernel-bench

# The module against that kernel, built in a copy of the sources.
mod=build/bench-mod
mkdir -p "$mod"
cp -r Kbuild src include "$mod/"
make -C build/kernel-bench M="$top/$mod" LLVM=-19 -j"$(nproc)" modules >/dev/null
make ipvsadm-rs traffic >/dev/null
if [ "${IPVS_RS_BENCH_BUILD_ONLY:-0}" = 1 ]; then
	echo "# built ($(($(date +%s) - start)) s); IPVS_RS_BENCH_BUILD_ONLY=1: no VM run"
	exit 0
fi

raw=build/bench-raw.txt
echo "# booting the benchmark kernel ($(($(date +%s) - start)) s so far)"
timeout --foreground -k 10 "${IPVS_RS_BENCH_TIMEOUT:-3600}" \
	vng --run build/kernel-bench --disable-kvm --cpus 2 --memory "${IPVS_RS_BENCH_MEMORY:-6G}" \
	--rwdir "$top/build" --cwd "$top" --append "pty.legacy_count=0" \
	--exec "IPVS_RS_KO=$top/$mod/ipvs_rs.ko IPVS_RS_TRAFFIC=$top/selftests/traffic/target/release/ipvs-traffic PATH=$top/ipvsadm-rs/target/release:\$PATH IPVS_RS_BENCH_ROUNDS=${IPVS_RS_BENCH_ROUNDS:-5} IPVS_RS_BENCH_SAMPLES=${IPVS_RS_BENCH_SAMPLES:-0} IPVS_RS_BENCH_SERVICES=${IPVS_RS_BENCH_SERVICES:-10000} IPVS_RS_BENCH_PARTS='${IPVS_RS_BENCH_PARTS:-rounds idle reconnect scale resize sync perf restore est flood}' IPVS_RS_BENCH_FLOOD=${IPVS_RS_BENCH_FLOOD:-1000000} IPVS_RS_BENCH_RESIZE=${IPVS_RS_BENCH_RESIZE:-1500000} IPVS_RS_BENCH_SCALE='${IPVS_RS_BENCH_SCALE:-1000 100000 1000000 4000000}' IPVS_RS_BENCH_SYNC_FLOOD=${IPVS_RS_BENCH_SYNC_FLOOD:-1000000} bash selftests/bench.sh" \
	2>&1 </dev/null | tee "$raw"
grep -q "^BENCH DONE" "$raw" || { echo "bench: the VM run did not finish" >&2; exit 1; }

python3 - "$raw" <<'EOF' | tee build/bench-results.txt
import statistics, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1], errors="replace"):
    f = line.split()
    if len(f) == 4 and f[0] == "RESULT":
        try:
            runs[(f[1], f[2])].append(float(f[3]))
        except ValueError:
            pass
work = list(dict.fromkeys(w for w, _ in runs))
def num(v):
    return f"{v:>10.0f}" if abs(v) >= 100 else f"{v:>10.2f}"
print(f"{'workload':<32} {'way':<6} {'median':>10} {'min':>10} {'max':>10} {'n':>3}  ratios")
for w in work:
    med = {m: statistics.median(v) for (x, m), v in runs.items() if x == w}
    for m in ("plain", "stock", "rs", "rsfast"):
        v = runs.get((w, m))
        if not v:
            continue
        r = ""
        if m.startswith("rs"):
            if med.get("stock"):
                r += f"{m}/stock {med[m] / med['stock']:.2f}"
            if med.get("plain"):
                r += f"  {m}/plain {med[m] / med['plain']:.2f}"
        print(f"{w:<32} {m:<6} {num(statistics.median(v))} {num(min(v))} {num(max(v))} {len(v):>3}  {r}")
# The table-scale flows beside N connections, as a ratio to the same
# flows beside the first (smallest) N, per way: flat is the goal.
import re
sizes = sorted({int(m.group(1)) for w, _ in runs if (m := re.fullmatch(r"scale-(\d+)-udp-nat-8flows", w))})
if len(sizes) > 1:
    print(f"\n{'flows beside N connections':<32} {'way':<6} " + " ".join(f"{n:>9}" for n in sizes))
    for m in ("stock", "rs"):
        med = [statistics.median(runs.get((f"scale-{n}-udp-nat-8flows", m), [0])) for n in sizes]
        if med[0]:
            print(f"{'  / flows beside ' + str(sizes[0]):<32} {m:<6} " + " ".join(f"{v / med[0]:>9.2f}" for v in med))
EOF
grep -E '^# (perf|scale|resize|sync|ipvsadm)' "$raw" | tr -d '\r' >>build/bench-results.txt || true
echo "# make bench took $(($(date +%s) - start)) s; table in build/bench-results.txt"
