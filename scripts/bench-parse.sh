#!/usr/bin/env bash
# Benchmark: time to check a large keepalived.conf with the real keepalived 2.2.7
# (`keepalived -t -f FILE`) and with ha-compat invoked as `keepalived` (same command line).
#
# Usage (as root):
#   sudo scripts/bench-parse.sh
#
# Environment:
#   RUNS=N            timed runs per tool (default 5; one untimed warm-up run each comes first;
#                     the runs of the two tools alternate)
#   HA_COMPAT_BIN=P   use this ha-compat binary instead of building
#                     (default: cargo build --release -p ha-compat -> target/release/ha-compat)
#   KEEPALIVED_BIN=P  the real keepalived (default /usr/sbin/keepalived)
#   INSTANCES=N       vrrp_instance blocks (default 2000; 10 VIPs each, 250 per interface)
#
# What it does:
#   * generates, in a temporary directory, a keepalived.conf with INSTANCES vrrp_instance blocks
#     (10 VIPs each from 10.0.0.0/8, 250 instances per interface eth0..ethK so that the VRIDs
#     1..250 never repeat on one interface), a global_defs with enable_script_security and
#     script_user root, and two vrrp_script blocks running /bin/true that the instances track;
#   * creates a throwaway network namespace holding lo and the ethN interfaces (veth pairs whose
#     peers are in the same namespace: dummy links are not always available in containers);
#   * runs each tool RUNS times there as
#       ip netns exec NS env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TOOL -t -f FILE
#     timing the wall clock of the whole command (date +%s%N) and, if /usr/bin/time exists,
#     the maximum resident set size and the user+system CPU time of the tool (GNU time %M %U
#     %S; CPU time is shown too because wall clock is noisy on a busy machine);
#   * requires both tools to exit with the same status, and reports medians and the ratio.
#
# Exit status: 0 if ha-compat's median is not slower than keepalived's, 1 if it is slower,
# 2 on a setup problem or if the exit statuses differ. The figures are printed first in any case.
set -euo pipefail

RUNS=${RUNS:-5}
INSTANCES=${INSTANCES:-2000}
VIPS_PER_INSTANCE=10
PER_IF=250
KEEPALIVED_BIN=${KEEPALIVED_BIN:-/usr/sbin/keepalived}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

die() { echo "bench-parse.sh: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root (it creates a network namespace)"
case "$RUNS" in '' | *[!0-9]* | 0) die "RUNS must be a positive integer" ;; esac
case "$INSTANCES" in '' | *[!0-9]* | 0) die "INSTANCES must be a positive integer" ;; esac
command -v ip >/dev/null || die "iproute2 (ip) not installed"
[ -x "$KEEPALIVED_BIN" ] || die "keepalived not found at $KEEPALIVED_BIN"
kv=$("$KEEPALIVED_BIN" --version 2>&1 | head -1 || true)
case "$kv" in *"v2.2.7 "*) ;; *) echo "bench-parse.sh: WARNING expected keepalived v2.2.7, got: $kv" >&2 ;; esac

if [ -n "${HA_COMPAT_BIN:-}" ]; then
	bin=$HA_COMPAT_BIN
else
	echo "bench-parse.sh: building: cargo build --release -p ha-compat" >&2
	(cd "$root" && cargo build --release -p ha-compat) >&2
	bin=$root/target/release/ha-compat
fi
[ -x "$bin" ] || die "ha-compat binary not found at $bin"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

if [ -x /usr/bin/time ]; then
	have_time=1
else
	have_time=0
	echo "bench-parse.sh: NOTE /usr/bin/time not installed: wall-clock only, no max RSS (apt-get install time)" >&2
fi

NS=bench-parse-$$
tmp=$(mktemp -d)
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nif=$(((INSTANCES + PER_IF - 1) / PER_IF))

# ---------------------------------------------------------------------------------------------
# The configuration.
conf=$tmp/keepalived.conf
awk -v n="$INSTANCES" -v per_if="$PER_IF" -v vips="$VIPS_PER_INSTANCE" 'BEGIN {
	print "global_defs {"
	print "    router_id bench_parse"
	print "    enable_script_security"
	print "    script_user root"
	print "}"
	print ""
	for (s = 1; s <= 2; s++) {
		print "vrrp_script chk_true_" s " {"
		print "    script \"/bin/true\""
		print "    interval 2"
		print "    weight " (s == 1 ? 2 : -2)
		print "    fall 2"
		print "    rise 2"
		print "}"
		print ""
	}
	k = 0
	for (i = 0; i < n; i++) {
		printf "vrrp_instance VI_%d {\n", i + 1
		printf "    state %s\n", (i % 2 ? "BACKUP" : "MASTER")
		printf "    interface eth%d\n", int(i / per_if)
		printf "    virtual_router_id %d\n", i % per_if + 1
		printf "    priority %d\n", 100 + i % 100
		print "    advert_int 1"
		print "    authentication {"
		print "        auth_type PASS"
		printf "        auth_pass p%d\n", i % 10000
		print "    }"
		print "    virtual_ipaddress {"
		for (j = 0; j < vips; j++) {
			# 10.a.b.c with c in 1..250: distinct for up to 16 million addresses.
			printf "        10.%d.%d.%d/32\n", int(k / 62500) % 256, int(k / 250) % 250, k % 250 + 1
			k++
		}
		print "    }"
		print "    track_script {"
		printf "        chk_true_%d\n", i % 2 + 1
		print "    }"
		print "}"
	}
}' >"$conf"
total_vips=$((INSTANCES * VIPS_PER_INSTANCE))
conf_lines=$(wc -l <"$conf")
conf_bytes=$(wc -c <"$conf")

# ---------------------------------------------------------------------------------------------
# The namespace.
ip netns add "$NS" || die "cannot create network namespace $NS"
ip -n "$NS" link set lo up
for ((i = 0; i < nif; i++)); do
	ip -n "$NS" link add "eth$i" type veth peer name "peth$i" || die "cannot create veth eth$i"
	ip -n "$NS" link set "eth$i" up
	ip -n "$NS" link set "peth$i" up
	ip -n "$NS" addr add "192.168.$((100 + i)).1/24" dev "eth$i"
done

# ha-compat decides its personality from the name it is invoked under.
mkdir "$tmp/bin"
ln -s "$bin" "$tmp/bin/keepalived"
ours=$tmp/bin/keepalived

# run_one TOOL_PATH LABEL -> sets last_ms, last_rc, last_rss_kb, last_cpu_ms;
# stderr in $tmp/LABEL.stderr
run_one() {
	local tool=$1 label=$2 t0 t1
	local cmd=(ip netns exec "$NS" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin)
	if [ "$have_time" = 1 ]; then
		cmd+=(/usr/bin/time -f '%M %U %S' -o "$tmp/$label.time")
	fi
	cmd+=("$tool" -t -f "$conf")
	t0=$(date +%s%N)
	set +e
	(cd "$tmp" && "${cmd[@]}" >"$tmp/$label.stdout" 2>"$tmp/$label.stderr")
	last_rc=$?
	set -e
	t1=$(date +%s%N)
	last_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
	last_rss_kb=
	last_cpu_ms=
	if [ "$have_time" = 1 ]; then
		# GNU time writes "Command exited with non-zero status N" before the figures.
		read -r last_rss_kb last_cpu_ms < <(tail -n 1 "$tmp/$label.time" |
			awk '{ printf "%d %.0f\n", $1, ($2 + $3) * 1000 }')
	fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "bench-parse.sh: config: $INSTANCES vrrp_instance, $total_vips VIPs, $nif interfaces, $conf_lines lines, $conf_bytes bytes" >&2
echo "bench-parse.sh: keepalived: $kv" >&2
echo "bench-parse.sh: ha-compat:  $bin (invoked as keepalived)" >&2
echo "bench-parse.sh: $RUNS timed runs each, interleaved, after one warm-up run each" >&2

# Warm-up (page cache, binary loading), then RUNS rounds. Each round runs keepalived, ha-compat
# and the baseline (the fixed cost of the wrapper: ip netns exec, env, time, around /bin/true)
# one after the other, so a change in machine load affects all three alike.
run_one "$KEEPALIVED_BIN" keepalived
run_one "$ours" ha-compat
for ((r = 1; r <= RUNS; r++)); do
	for label in keepalived ha-compat baseline; do
		case $label in
		keepalived) tool=$KEEPALIVED_BIN ;;
		ha-compat) tool=$ours ;;
		baseline) tool=/bin/true ;;
		esac
		run_one "$tool" "$label"
		echo "$last_ms" >>"$tmp/$label.ms"
		[ "$label" = baseline ] && continue
		echo "$last_rc" >>"$tmp/$label.rc"
		if [ -n "$last_rss_kb" ]; then
			echo "$last_rss_kb" >>"$tmp/$label.rsskb"
			echo "$last_cpu_ms" >>"$tmp/$label.cpums"
		fi
		printf '  %-10s run %d: %8s ms  exit %s%s%s\n' "$label" "$r" "$last_ms" "$last_rc" \
			"${last_cpu_ms:+  cpu ${last_cpu_ms} ms}" "${last_rss_kb:+  max RSS ${last_rss_kb} KiB}" >&2
	done
done

k_rc=$(sort -u "$tmp/keepalived.rc" | paste -sd, -)
h_rc=$(sort -u "$tmp/ha-compat.rc" | paste -sd, -)
k_ms=$(median <"$tmp/keepalived.ms")
h_ms=$(median <"$tmp/ha-compat.ms")
b_ms=$(median <"$tmp/baseline.ms")
ratio=$(awk -v k="$k_ms" -v h="$h_ms" 'BEGIN { if (h > 0) printf "%.2f", k / h; else print "inf" }')

echo
echo "exit status: keepalived -t = $k_rc, ha-compat = $h_rc"
echo "stderr lines: keepalived -t = $(wc -l <"$tmp/keepalived.stderr"), ha-compat = $(wc -l <"$tmp/ha-compat.stderr")"
echo "note: keepalived -t parses the file 4 times, in one process (the parent, checker, VRRP and BFD passes that a running keepalived does in its 4 processes); ha-compat parses it once."
wrapper="ip netns exec + env"
[ "$have_time" = 1 ] && wrapper="$wrapper + /usr/bin/time"
echo "note: wall-clock includes the wrapper ($wrapper): median $b_ms ms around /bin/true."
rss_line=
if [ "$have_time" = 1 ]; then
	k_rss=$(median <"$tmp/keepalived.rsskb")
	h_rss=$(median <"$tmp/ha-compat.rsskb")
	k_cpu=$(median <"$tmp/keepalived.cpums")
	h_cpu=$(median <"$tmp/ha-compat.cpums")
	mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
	rss_line="max RSS (median): keepalived -t $(mib "$k_rss") MiB (${k_rss} KiB), ha-compat $(mib "$h_rss") MiB (${h_rss} KiB); user+sys CPU (median, 10 ms resolution): keepalived -t $k_cpu ms, ha-compat $h_cpu ms"
else
	rss_line="max RSS, CPU time: not measured (/usr/bin/time not installed)"
fi
echo "parse $INSTANCES instances / $total_vips VIPs: keepalived -t median $k_ms ms, ha-compat median $h_ms ms, ratio keepalived/ha-compat = ${ratio}x (higher is better for ha-compat)"
echo "$rss_line"

status=0
if [ "$k_rc" != "$h_rc" ]; then
	echo >&2
	echo "bench-parse.sh: FAIL exit statuses differ (keepalived $k_rc, ha-compat $h_rc)" >&2
	echo "--- keepalived -t stderr (head) ---" >&2
	head -n 20 "$tmp/keepalived.stderr" >&2
	echo "--- ha-compat stderr (head) ---" >&2
	head -n 20 "$tmp/ha-compat.stderr" >&2
	status=2
fi
if awk -v r="$ratio" 'BEGIN { exit !(r != "inf" && r + 0 < 1) }'; then
	echo "bench-parse.sh: FAIL ha-compat is slower than keepalived -t (ratio $ratio < 1)" >&2
	[ $status = 0 ] && status=1
fi
exit $status
