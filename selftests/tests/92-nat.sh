#!/bin/bash
# TCP and UDP through NAT services over IPv4 (and IPv6 with IPVS_RS_V6=1,
# run.sh's default outside CI),
# on ipvs_rs.ko and (unless IPVS_RS_STOCK=0) on stock ip_vs.ko, with the
# same transcript.
. selftests/lib.sh
. selftests/dataplane.sh
. selftests/nat-scenario.sh
