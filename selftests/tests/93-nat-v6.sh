#!/bin/bash
# IPv6 traffic through NAT services, on ipvs_rs.ko and stock ip_vs.ko.
. selftests/lib.sh
. selftests/dataplane.sh
FAM=6
. selftests/nat-scenario.sh
