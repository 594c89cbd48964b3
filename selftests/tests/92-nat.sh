#!/bin/bash
# TCP and UDP through NAT services over IPv4 and IPv6 (unless
# IPVS_RS_V6=0),
# on ipvs_rs.ko and (unless IPVS_RS_STOCK=0) on stock ip_vs.ko, with the
# same transcript.
. selftests/lib.sh
. selftests/dataplane.sh
. selftests/nat-scenario.sh
