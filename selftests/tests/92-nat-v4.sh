#!/bin/bash
# IPv4 traffic through NAT services, on ipvs_rs.ko and stock ip_vs.ko.
. selftests/lib.sh
. selftests/dataplane.sh
FAM=4
. selftests/nat-scenario.sh
