#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where inside a module's functions the profile's samples fell.

    scripts/perf-annotate.py build/perf-samples-nat-rs.txt [module.ko] [top]

Reads the samples `make bench` keeps with IPVS_RS_BENCH_SAMPLES=1 (perf
script's dso, symbol and offset) and the module's disassembly (objdump;
default build/bench-mod/ipvs_rs.ko), and prints, for the `top` (default
8) functions of the module with the most samples, their instructions
with the samples at each. Under TCG a sample lands at the start of a
translated block, so read it per block, not per instruction.
"""

import collections
import re
import subprocess
import sys


def samples(path, dso):
    per = collections.Counter()
    total = 0
    for line in open(path, errors="replace"):
        total += 1
        m = re.search(r"(\S+)\+0x([0-9a-f]+) \(\[?([^)\]]+)\]?\)", line)
        # A module perf found on disk shows as its path, else as [name].
        where = m.group(3).rsplit("/", 1)[-1].removesuffix(".ko") if m else None
        if where == dso:
            per[(m.group(1), int(m.group(2), 16))] += 1
    return per, total


def disassembly(ko):
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-r", ko],
        check=True, capture_output=True, text=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.+)>:", line)
        if m:
            cur = m.group(2)
            funcs[cur] = (int(m.group(1), 16), [])
        elif cur and line.strip():
            funcs[cur][1].append(line)
    return funcs


def main():
    path = sys.argv[1]
    ko = sys.argv[2] if len(sys.argv) > 2 else "build/bench-mod/ipvs_rs.ko"
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    dso = re.sub(r"\.ko$", "", ko.rsplit("/", 1)[-1])
    per, total = samples(path, dso)
    funcs = disassembly(ko)
    by_func = collections.Counter()
    for (sym, _), n in per.items():
        by_func[sym] += n
    print(f"# {sum(by_func.values())} of {total} samples in {dso}")
    for sym, n in by_func.most_common(top):
        print(f"\n## {sym}: {n} samples")
        if sym not in funcs:
            print("   (not in the disassembly)")
            continue
        base, lines = funcs[sym]
        for line in lines:
            m = re.match(r"\s+([0-9a-f]+):", line)
            hits = per.get((sym, int(m.group(1), 16) - base), 0) if m else 0
            print(f"{hits:>6} {line}" if hits else f"       {line}")


if __name__ == "__main__":
    main()
