#!/bin/bash
# The kernel's own IPVS selftest (DR, NAT and IPIP tunnel, TCP through
# socat), unchanged, against ipvs_rs.ko.
#
# The script gives its server 0.2 s to start listening and its client 2 s
# to finish; in this emulated guest (TCG, KASAN) starting a process takes
# about a second, so shims first in PATH stretch sub-second sleeps 20x and
# timeouts 5x. The script itself runs as the kernel ships it.
. selftests/lib.sh
command -v socat >/dev/null || skip "socat not installed"
dir=$(dirname "$IPVS_RS_KO")/build/linux-source-6.12/tools/testing/selftests/net/netfilter
[ -f "$dir/ipvs.sh" ] || skip "no kernel tree at $dir"

shim=$(mktemp -d)
cat >"$shim/sleep" <<'SH'
#!/bin/bash
case $1 in 0.*) exec /bin/sleep "$(awk -v s="$1" 'BEGIN { print s * 20 }')" ;; esac
exec /bin/sleep "$@"
SH
cat >"$shim/timeout" <<'SH'
#!/bin/bash
exec /usr/bin/timeout "$(($1 * 5))" "${@:2}"
SH
chmod +x "$shim/sleep" "$shim/timeout"

load_rs
out=$(cd "$dir" && PATH="$shim:$PATH" bash ./ipvs.sh 2>&1)
rc=$?
echo "$out"
rm -rf "$shim"
[ $rc = 0 ] || fail "ipvs.sh failed on ipvs_rs.ko"
rmmod ipvs_rs || fail "rmmod ipvs_rs after ipvs.sh"
echo "kernel ipvs.sh passes on ipvs_rs.ko"
