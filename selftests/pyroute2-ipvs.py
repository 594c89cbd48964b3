#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pyroute2's IPVS API (a third-party netlink client) against the module.

Prints what the client sees, one line per step: a result, an errno, or
the objects a dump or get returned, sorted, without their counters (whose
presence is printed instead). 81-pyroute2 compares the transcript with
the expected one and with stock ip_vs.ko's.
"""

import errno
import sys
from socket import AF_INET, IPPROTO_TCP, IPPROTO_UDP

from pyroute2 import IPVS, IPVSDest, IPVSService
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import ipvs as genl_ipvs

PERSISTENT = 0x1
SCHED2 = 0x10
MASQ, DROUTE, TUNNEL = 0, 3, 2
SKIP = ("IPVS_SVC_ATTR_STATS", "IPVS_SVC_ATTR_STATS64",
        "IPVS_DEST_ATTR_STATS", "IPVS_DEST_ATTR_STATS64")

sock = IPVS()


def show(obj):
    """What the kernel sent of an object: its attributes (pyroute2's
    defaults for the request beside them left out), sorted, without
    counters."""
    if isinstance(obj, dict) and "mask" in obj:
        return f"{obj['flags']:#x}/{obj['mask']:#x}"
    if isinstance(obj, dict):
        return " ".join(f"{k}={show(v)}" for k, v in sorted(obj.items())
                        if k.startswith("IPVS_") and k not in SKIP)
    return str(obj)


def counters(msg, nla, prefix):
    """Which counter attributes an object carries."""
    attrs = [name for name, _ in msg.get(nla)["attrs"]]
    return ",".join(a[len(prefix):] for a in (prefix + "STATS", prefix + "STATS64") if a in attrs)


def step(what, fn):
    """Runs `fn`, printing its outcome; returns its messages or None."""
    try:
        out = fn()
    except NetlinkError as e:
        print(f"{what}: {errno.errorcode.get(e.code, e.code)}")
        return None
    print(f"{what}: ok")
    return out


def services(what):
    out = step(what, lambda: list(sock.service("dump")))
    for m in sorted(out or [], key=lambda m: show(IPVSService.from_message(m))):
        print(f"  svc {show(IPVSService.from_message(m))}"
              f" counters={counters(m, 'IPVS_CMD_ATTR_SERVICE', 'IPVS_SVC_ATTR_')}")


def dests(what, svc):
    out = step(what, lambda: list(sock.dest("dump", service=svc)))
    for m in sorted(out or [], key=lambda m: show(IPVSDest.from_message(m))):
        print(f"  dest {show(IPVSDest.from_message(m))}"
              f" counters={counters(m, 'IPVS_CMD_ATTR_DEST', 'IPVS_DEST_ATTR_')}")


tcp = IPVSService(addr="192.0.2.1", port=80, protocol=IPPROTO_TCP, sched_name="rr")
udp = IPVSService(addr="192.0.2.1", port=53, protocol=IPPROTO_UDP, sched_name="wlc",
                  timeout=300, netmask="255.255.255.0",
                  flags={"flags": PERSISTENT, "mask": 0xFFFF})
# An IPv6 netmask is a prefix length in host order: 128 on a
# little-endian machine, as ipvsadm sends it.
v6 = IPVSService(addr="2001:db8::1", port=443, protocol=IPPROTO_TCP, sched_name="sh",
                 flags={"flags": SCHED2, "mask": 0xFFFF})
fwm = IPVSService(fwmark=7, af=AF_INET, sched_name="wrr", netmask="255.255.255.255")
missing = IPVSService(addr="192.0.2.9", port=80, protocol=IPPROTO_TCP)

services("dump empty")
step("add tcp", lambda: sock.service("add", service=tcp))
step("add tcp again", lambda: sock.service("add", service=tcp))
step("add udp persistent", lambda: sock.service("add", service=udp))
step("add v6 without netmask", lambda: sock.service("add", service=v6))
v6["netmask"] = "128.0.0.0" if sys.byteorder == "little" else "0.0.0.128"
step("add v6", lambda: sock.service("add", service=v6))
step("add fwmark", lambda: sock.service("add", service=fwm))
step("add unknown scheduler",
     lambda: sock.service("add", service=IPVSService(addr="192.0.2.2", port=80,
                                                     protocol=IPPROTO_TCP, sched_name="nosuch")))
services("dump")

step("add dest masq", lambda: sock.dest("add", service=tcp, dest=IPVSDest(
    addr="10.0.0.2", port=8080, fwd_method=MASQ, weight=2)))
step("add dest again", lambda: sock.dest("add", service=tcp, dest=IPVSDest(
    addr="10.0.0.2", port=8080, fwd_method=MASQ, weight=2)))
step("add dest droute", lambda: sock.dest("add", service=tcp, dest=IPVSDest(
    addr="10.0.0.3", port=80, fwd_method=DROUTE, weight=1, u_thresh=100, l_thresh=50)))
step("add dest tunnel", lambda: sock.dest("add", service=udp, dest=IPVSDest(
    addr="10.0.0.4", port=53, fwd_method=TUNNEL, weight=3)))
step("add dest to missing service", lambda: sock.dest("add", service=missing, dest=IPVSDest(
    addr="10.0.0.5", port=80)))
step("add dest v6", lambda: sock.dest("add", service=v6, dest=IPVSDest(
    addr="2001:db8::2", port=443, fwd_method=MASQ, weight=4)))
step("add dest v4 to v6 masq", lambda: sock.dest("add", service=v6, dest=IPVSDest(
    addr="10.0.0.6", port=443, fwd_method=MASQ)))
step("add dest fwmark", lambda: sock.dest("add", service=fwm, dest=IPVSDest(
    addr="10.0.0.7", port=0, fwd_method=DROUTE, weight=1)))
step("set dest weight", lambda: sock.dest("set", service=tcp, dest=IPVSDest(
    addr="10.0.0.2", port=8080, fwd_method=MASQ, weight=5)))
step("set missing dest", lambda: sock.dest("set", service=tcp, dest=IPVSDest(
    addr="10.0.0.9", port=8080, fwd_method=MASQ, weight=5)))
dests("dests tcp", tcp)
dests("dests udp", udp)
dests("dests v6", v6)
dests("dests fwmark", fwm)
dests("dests missing service", missing)
step("get dest (no dump)", lambda: list(sock.dest("get", service=tcp, dest=IPVSDest(
    addr="10.0.0.2", port=8080))))

tcp["sched_name"] = "lc"
step("set service scheduler", lambda: sock.service("set", service=tcp))
got = step("get service", lambda: list(sock.service("get", service=tcp)))
for m in got or []:
    print(f"  svc {show(IPVSService.from_message(m))}")
step("get missing service", lambda: list(sock.service("get", service=missing)))


def config():
    msg = genl_ipvs.ipvsmsg()
    msg["cmd"] = genl_ipvs.IPVS_CMD_GET_CONFIG
    msg["version"] = genl_ipvs.GENL_VERSION
    return sock._run_with_cleanup(sock.asyncore._do_request, msg)


got = step("get config", lambda: list(config()))
for m in got or []:
    print("  " + " ".join(
        f"{name[len('IPVS_CMD_ATTR_'):].lower()}="
        f"{int.from_bytes(bytes.fromhex(value.replace(':', '')), sys.byteorder)}"
        for name, value in m["attrs"]))

step("del dest", lambda: sock.dest("del", service=tcp, dest=IPVSDest(addr="10.0.0.3", port=80)))
step("del dest again", lambda: sock.dest("del", service=tcp, dest=IPVSDest(addr="10.0.0.3", port=80)))
step("del service", lambda: sock.service("del", service=udp))
step("del service again", lambda: sock.service("del", service=udp))
services("dump after deletes")
for s in (tcp, v6, fwm):
    step("del", lambda s=s: sock.service("del", service=s))
services("dump at the end")
sock.close()
