#!/bin/bash
# The FTP helper: a real FTP server (vsftpd) on each real server behind a
# NAT service on port 21, a real client (curl) fetching files in passive
# (EPSV, PASV) and active (EPRT, PORT) mode, two files per control
# connection so that the second one crosses a rewritten, resized answer
# (sequence numbers adjusted); a hand-driven control connection shows
# the rewritten 227 answer and the data connection waiting for the
# client's port. IPv4, and IPv6 (EPSV, EPRT) with IPVS_RS_V6=1. On
# ipvs_rs.ko and (unless IPVS_RS_STOCK=0) on stock ip_vs.ko with
# ip_vs_ftp, with the same transcript.
. selftests/lib.sh
. selftests/dataplane.sh

command -v vsftpd >/dev/null || skip "no vsftpd (make deps)"
command -v curl >/dev/null || skip "no curl (make deps)"
getent passwd ftp >/dev/null || skip "no ftp user (vsftpd's package makes it)"

FTP_DIR=$(mktemp -d /tmp/ipvs-ftp.XXXXXX)
# vsftpd serves anonymous sessions as the ftp user.
chmod 755 "$FTP_DIR"
# ftp_setup: vsftpd on r1..r3, anonymous, each serving its own files.
ftp_setup() {
	local r
	mkdir -p "$FTP_DIR/empty"
	for r in "${RS_NAMES[@]}"; do
		mkdir -p "$FTP_DIR/$r"
		echo "$r file a" > "$FTP_DIR/$r/a.txt"
		# Big enough for several segments.
		seq 1 3000 | sed "s/^/$r /" > "$FTP_DIR/$r/b.txt"
		cat > "$FTP_DIR/$r.conf" <<-EOF
			listen=NO
			listen_ipv6=YES
			anonymous_enable=YES
			no_anon_password=YES
			anon_root=$FTP_DIR/$r
			local_enable=NO
			write_enable=NO
			seccomp_sandbox=NO
			secure_chroot_dir=$FTP_DIR/empty
			connect_from_port_20=YES
			pasv_min_port=40000
			pasv_max_port=40999
			xferlog_enable=NO
			dirmessage_enable=NO
			ftpd_banner=$r ready
		EOF
		# Off the scenario's output: a server holding the pipe of a
		# failed scenario's $(...) would keep it open forever. Its pid
		# in a file: the scenario runs in a subshell.
		nsenter --net="/run/netns/$DP-$r" vsftpd "$FTP_DIR/$r.conf" \
			>"$FTP_DIR/$r.log" 2>&1 &
		echo $! >>"$FTP_DIR/pids"
	done
	sleep 1
}

ftp_teardown() {
	[ -f "$FTP_DIR/pids" ] || return 0
	xargs kill <"$FTP_DIR/pids" 2>/dev/null
	rm -f "$FTP_DIR/pids"
}

# ftp_run <function>: it, with the servers up.
ftp_run() {
	ftp_setup
	"$1"
	local rc=$?
	ftp_teardown
	return $rc
}
# The servers go before dp_teardown waits for its own.
trap 'ftp_teardown; dp_teardown; rm -rf "$FTP_DIR"' EXIT

# fetch <curl options...>: both files over one control connection (to
# port $FTP_PORT, 21 by default); prints who served them and how many
# lines came, or curl's error.
fetch() {
	local got rc
	got=$(in_ns c curl -s -S -g --max-time 30 "$@" \
		"ftp://$(vip):${FTP_PORT:-21}/a.txt" "ftp://$(vip):${FTP_PORT:-21}/b.txt" 2>&1)
	rc=$?
	[ "$rc" = 0 ] || { echo "curl $* failed ($rc): $got"; return 0; }
	echo "$(echo "$got" | head -1) / $(echo "$got" | tail -n +2 | wc -l) lines from $(echo "$got" | tail -1 | cut -d' ' -f1)"
}

# pasv_by_hand [port]: a control connection driven from bash: the 227
# answer the client sees (the port normalized) and the connection
# waiting for the client's data port.
pasv_by_hand() {
	in_ns c timeout 20 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		read -r -t 10 banner <&3
		printf "USER anonymous\r\nPASS x\r\n" >&3
		read -r -t 10 l <&3; read -r -t 10 l <&3
		printf "PASV\r\n" >&3
		read -r -t 10 answer <&3
		echo "${answer%$'"'"'\r'"'"'}"
		sleep 1
		printf "QUIT\r\n" >&3
	' _ "$VIP" "${1:-21}" > "$FTP_DIR/pasv.out" &
	local bg=$! tries=0
	while [ "$tries" -lt 40 ] && ! grep -q "^227" "$FTP_DIR/pasv.out"; do
		sleep 0.25
		tries=$((tries + 1))
	done
	sed -E 's/\(([0-9]+,[0-9]+,[0-9]+,[0-9]+),[0-9]+,[0-9]+\)/(\1,P1,P2)/' "$FTP_DIR/pasv.out"
	# The data connection: client port 0, in LISTEN, to the real
	# server's passive port (both ports normalized).
	director ipvsadm -Lnc | awk '$3 == "LISTEN" { sub(/:4[0-9]+$/, ":PASV", $5); sub(/:4[0-9]+$/, ":PASV", $6); print "listed:", $1, $3, $4, $5, $6 }'
	wait "$bg"
}

scenario() {
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $(vip):21 -s rr
		-a -t $(vip):21 -r $(rs_addr r1):21 -m
		-a -t $(vip):21 -r $(rs_addr r2):21 -m
		-a -t $(vip):21 -r $(rs_addr r3):21 -m
	EOF
	echo "epsv: $(fetch)"
	echo "active eprt: $(fetch -P -)"
	if [ "$FAM" = 4 ]; then
		echo "pasv: $(fetch --disable-epsv)"
		echo "active port: $(fetch -P - --disable-eprt)"
		pasv_by_hand
	fi
	# Persistent: the client's control and data connections stay on one
	# real server (its template leaves the ports out for port 21), and
	# the helper still rewrites.
	director ipvsadm -E -t "$(vip):21" -s rr -p 60
	echo "persistent epsv: $(fetch)"
	echo "persistent active eprt: $(fetch -P -)"
	echo "persistent epsv again: $(fetch)"
	echo "templates: $(director ipvsadm -Lnc | awk '$3 == "NONE" || $3 == "ASSURED"' | wc -l)"
	# Control and data connections are listed (data connections to the
	# passive ports or from port 20).
	local ctl data
	# (Not the hand-driven one: CLOSE lasts 10 s, which a slow guest
	# may or may not have spent by now.)
	ctl=$(director ipvsadm -Lnc | awk -v v="$(vip):21" '$5 == v && $3 != "CLOSE"' | wc -l)
	data=$(director ipvsadm -Lnc | awk -v v="$(vip):" 'index($5, v) == 1 && $5 !~ /:21$/' | wc -l)
	echo "control connections listed: $ctl"
	[ "$data" -ge 2 ] || fail "$data data connections listed ($module): $(director ipvsadm -Lnc)"
	director ipvsadm -C
}

both() { both_families scenario; }
ftp_both() { ftp_run both; }

on_ipvs_rs ftp_both
echo "$out" | grep -q "failed" && fail "a transfer failed on ipvs_rs"
against_stock ftp_both "$out" ip_vs_ftp

# The helper's ports: with ftp_ports=2121 (stock: ip_vs_ftp
# ports=2121) a service on 2121 is helped (real servers on 21: the
# active data port is still the control port less one on either side)
# and one on 21 is not: the real server's address reaches the client.
ports() {
	director ipvsadm -C
	director ipvsadm -R <<-EOF
		-A -t $VIP:2121 -s rr
		-a -t $VIP:2121 -r $(rs_addr r1):21 -m
		-A -t $VIP:21 -s rr
		-a -t $VIP:21 -r $(rs_addr r2):21 -m
	EOF
	echo "2121 pasv: $(FTP_PORT=2121 fetch --disable-epsv)"
	echo "2121 active port: $(FTP_PORT=2121 fetch -P - --disable-eprt)"
	echo "21, not watched:"
	pasv_by_hand 21
	director ipvsadm -C
}
ftp_ports() { FAM=4 ftp_run ports; }

on_ipvs_rs ftp_ports ftp_ports=2121
echo "$out" | grep -q "failed" && fail "a transfer failed on ipvs_rs with ftp_ports=2121"
echo "$out" | grep -q "^227 .*(192,168,1,12," || fail "port 21 was rewritten with ftp_ports=2121"
against_stock ftp_ports "$out" "ip_vs_ftp ports=2121"
echo "FTP through NAT behaves as stock (IPv6 pass: IPVS_RS_V6=${IPVS_RS_V6:-0})"
