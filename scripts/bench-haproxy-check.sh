#!/usr/bin/env bash
# Benchmark: time to check a large haproxy.cfg with the real HAProxy 2.6 (`haproxy -c -f FILE`)
# and with ha-compat invoked as `haproxy` (same command line).
#
# Usage (as root or as a normal user; nothing here needs privileges):
#   scripts/bench-haproxy-check.sh
#
# Environment:
#   RUNS=N            timed runs per tool (default 5; one untimed warm-up run each comes first;
#                     the runs of the two tools alternate)
#   HA_COMPAT_BIN=P   use this ha-compat binary (default target/release/ha-compat, built with
#                     `cargo build --release -p ha-compat` if it is missing; rebuilt if a
#                     source file under crates/ or a Cargo.toml/Cargo.lock is newer, and if
#                     that rebuild fails (e.g. a normal user without cargo or without write
#                     access to target/) the existing binary is used, with a warning)
#   HAPROXY_BIN=P     the real haproxy (default: haproxy in /usr/sbin, /usr/local/sbin, PATH)
#   BACKENDS=N        backends (default 5000)
#   SERVERS=N         servers per backend (default 10)
#
# What it does:
#   * generates, in a temporary directory, a haproxy.cfg shaped like a shared HTTP ingress
#     that routes by virtual host (the shape templated configs for many sites have):
#       - global: log to 127.0.0.1, maxconn, tune.bufsize; no user/group/chroot/stats
#         socket, so it checks the same as a normal user and as root;
#       - defaults: mode http, log global, option httplog/dontlognull/forwardfor,
#         timeout connect/client/server/http-request/queue, retries, default-server;
#       - one frontend `fe_http` (bind :8080) with BACKENDS routing rules
#           use_backend bN if { hdr(host) -i bN.example.com }
#         and a default_backend, plus a small `listen stats` page;
#       - BACKENDS backends, each `balance roundrobin`, `option httpchk GET /healthz`,
#         `http-check expect status 200` and SERVERS servers at literal IPv4 addresses
#           server sJ 10.a.b.c:8080 check inter 2s fall 3 rise 2
#         (distinct addresses, no DNS resolution needed);
#   * runs each tool RUNS times as
#       env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TOOL -c -f FILE
#     (working directory: the temporary directory), timing the wall clock of the whole command
#     (date +%s%N) and, if /usr/bin/time exists, the maximum resident set size and the
#     user+system CPU time of the tool (GNU time %M %U %S). Without /usr/bin/time the max RSS
#     is sampled from /proc/PID/status (VmHWM) in one extra, untimed run of each tool;
#   * requires both tools to exit with the same status, and reports medians and the ratio.
#
# Output: one line per run on stderr, then on stdout:
#   exit status: haproxy -c = S, ha-compat = S
#   stderr lines: haproxy -c = N, ha-compat = N
#   note: wall-clock includes the wrapper (...): median X ms around /bin/true.
#   check B backends / S servers: haproxy -c median X ms, ha-compat median Y ms, ratio
#     haproxy/ha-compat = Rx (higher is better for ha-compat)
#   max RSS (median): haproxy -c X MiB (K KiB), ha-compat Y MiB (K KiB); user+sys CPU ...
#
# Exit status: 0 if ha-compat's median is not slower than haproxy's, 1 if it is slower,
# 2 on a setup problem or if the exit statuses differ. The figures are printed first in any case.
set -euo pipefail

RUNS=${RUNS:-5}
BACKENDS=${BACKENDS:-5000}
SERVERS=${SERVERS:-10}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
me=bench-haproxy-check.sh

die() { echo "$me: $*" >&2; exit 2; }

case "$RUNS" in '' | *[!0-9]* | 0) die "RUNS must be a positive integer" ;; esac
case "$BACKENDS" in '' | *[!0-9]* | 0) die "BACKENDS must be a positive integer" ;; esac
case "$SERVERS" in '' | *[!0-9]* | 0) die "SERVERS must be a positive integer" ;; esac
[ $((BACKENDS * SERVERS)) -le 16000000 ] || die "at most 16,000,000 servers (10.0.0.0/8)"

if [ -z "${HAPROXY_BIN:-}" ]; then
	for d in /usr/sbin /usr/local/sbin; do
		if [ -x "$d/haproxy" ]; then HAPROXY_BIN=$d/haproxy; break; fi
	done
	[ -n "${HAPROXY_BIN:-}" ] || HAPROXY_BIN=$(command -v haproxy || true)
fi
[ -n "${HAPROXY_BIN:-}" ] && [ -x "$HAPROXY_BIN" ] || die "haproxy not found (apt-get install haproxy, or set HAPROXY_BIN)"
hv=$("$HAPROXY_BIN" -v 2>&1 | head -1 || true)
case "$hv" in *"version 2.6."*) ;; *) echo "$me: WARNING expected HAProxy 2.6, got: $hv" >&2 ;; esac

if [ -n "${HA_COMPAT_BIN:-}" ]; then
	bin=$HA_COMPAT_BIN
else
	bin=$root/target/release/ha-compat
	stale=
	if [ -x "$bin" ]; then
		stale=$(find "$root/crates" "$root/Cargo.toml" "$root/Cargo.lock" -newer "$bin" \
			\( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock -o -path '*/data/*' \) \
			-print -quit 2>/dev/null || true)
	fi
	if [ ! -x "$bin" ]; then
		echo "$me: building: cargo build --release -p ha-compat" >&2
		(cd "$root" && cargo build --release -p ha-compat) >&2 ||
			die "cargo build failed (it needs cargo and a writable target/ directory; or set HA_COMPAT_BIN)"
	elif [ -n "$stale" ]; then
		echo "$me: building: cargo build --release -p ha-compat ($stale is newer than the binary)" >&2
		(cd "$root" && cargo build --release -p ha-compat) >&2 ||
			echo "$me: WARNING cargo build failed: benchmarking the existing, possibly stale $bin" >&2
	fi
fi
[ -x "$bin" ] || die "ha-compat binary not found at $bin"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

if [ -x /usr/bin/time ]; then
	have_time=1
else
	have_time=0
	echo "$me: NOTE /usr/bin/time not installed: max RSS sampled from /proc, no CPU time (apt-get install time)" >&2
fi

tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The configuration.
conf=$tmp/haproxy.cfg
awk -v nb="$BACKENDS" -v ns="$SERVERS" 'BEGIN {
	print "global"
	print "    log 127.0.0.1:514 local0"
	print "    maxconn 100000"
	print "    tune.bufsize 16384"
	print ""
	print "defaults"
	print "    mode http"
	print "    log global"
	print "    option httplog"
	print "    option dontlognull"
	print "    option forwardfor"
	print "    retries 3"
	print "    timeout connect 5s"
	print "    timeout client 30s"
	print "    timeout server 30s"
	print "    timeout http-request 10s"
	print "    timeout queue 30s"
	print "    default-server maxconn 256"
	print ""
	print "listen stats"
	print "    bind 127.0.0.1:8404"
	print "    stats enable"
	print "    stats uri /stats"
	print "    stats refresh 10s"
	print ""
	print "frontend fe_http"
	print "    bind :8080"
	print "    http-request set-header X-Forwarded-Proto http"
	for (b = 1; b <= nb; b++)
		printf "    use_backend b%d if { hdr(host) -i b%d.example.com }\n", b, b
	print "    default_backend b1"
	k = 0
	for (b = 1; b <= nb; b++) {
		print ""
		printf "backend b%d\n", b
		print "    balance roundrobin"
		print "    option httpchk GET /healthz"
		print "    http-check expect status 200"
		for (s = 1; s <= ns; s++) {
			# 10.a.b.c with c in 1..250: distinct for up to 16 million addresses.
			printf "    server s%d 10.%d.%d.%d:8080 check inter 2s fall 3 rise 2\n", s, int(k / 62500) % 256, int(k / 250) % 250, k % 250 + 1
			k++
		}
	}
}' >"$conf"
total_servers=$((BACKENDS * SERVERS))
conf_lines=$(wc -l <"$conf")
conf_bytes=$(wc -c <"$conf")

# ha-compat decides its personality from the name it is invoked under.
mkdir "$tmp/bin"
ln -s "$bin" "$tmp/bin/haproxy"
ours=$tmp/bin/haproxy

# run_one TOOL_PATH LABEL -> sets last_ms, last_rc, last_rss_kb, last_cpu_ms;
# stdout/stderr in $tmp/LABEL.stdout, $tmp/LABEL.stderr
run_one() {
	local tool=$1 label=$2 t0 t1
	local cmd=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin)
	if [ "$have_time" = 1 ]; then
		cmd+=(/usr/bin/time -f '%M %U %S' -o "$tmp/$label.time")
	fi
	cmd+=("$tool" -c -f "$conf")
	t0=$(date +%s%N)
	set +e
	(cd "$tmp" && "${cmd[@]}" >"$tmp/$label.stdout" 2>"$tmp/$label.stderr" </dev/null)
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

# sample_rss TOOL_PATH -> prints the last VmHWM (KiB) seen in /proc/PID/status while it runs
# (a lower bound: growth after the last sample is missed). `env` execs the tool, so the PID
# is the tool's.
sample_rss() {
	local tool=$1 pid hwm=0 key value rest
	(cd "$tmp" && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$tool" -c -f "$conf" \
		>/dev/null 2>&1 </dev/null) &
	pid=$!
	while :; do
		local seen=0
		while IFS=$': \t' read -r key value rest; do
			if [ "$key" = VmHWM ]; then
				seen=1
				[ "$value" -gt "$hwm" ] && hwm=$value
			fi
		done 2>/dev/null <"/proc/$pid/status" || true
		# A zombie (exited, not yet waited for) has no VmHWM line any more.
		[ "$seen" = 1 ] || break
	done
	wait "$pid" || true
	echo "$hwm"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "$me: config: $BACKENDS backends, $total_servers servers, $BACKENDS use_backend rules in one frontend, $conf_lines lines, $conf_bytes bytes" >&2
echo "$me: haproxy:   $HAPROXY_BIN ($hv)" >&2
echo "$me: ha-compat: $bin (invoked as haproxy)" >&2
echo "$me: $RUNS timed runs each, interleaved, after one warm-up run each" >&2

# Warm-up (page cache, binary loading), then RUNS rounds. Each round runs haproxy, ha-compat
# and the baseline (the fixed cost of the wrapper: env, time, around /bin/true) one after the
# other, so a change in machine load affects all three alike.
run_one "$HAPROXY_BIN" haproxy
run_one "$ours" ha-compat
for ((r = 1; r <= RUNS; r++)); do
	for label in haproxy ha-compat baseline; do
		case $label in
		haproxy) tool=$HAPROXY_BIN ;;
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

p_rc=$(sort -u "$tmp/haproxy.rc" | paste -sd, -)
h_rc=$(sort -u "$tmp/ha-compat.rc" | paste -sd, -)
p_ms=$(median <"$tmp/haproxy.ms")
h_ms=$(median <"$tmp/ha-compat.ms")
b_ms=$(median <"$tmp/baseline.ms")
ratio=$(awk -v p="$p_ms" -v h="$h_ms" 'BEGIN { if (h > 0) printf "%.2f", p / h; else print "inf" }')
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "exit status: haproxy -c = $p_rc, ha-compat = $h_rc"
echo "stderr lines: haproxy -c = $(wc -l <"$tmp/haproxy.stderr"), ha-compat = $(wc -l <"$tmp/ha-compat.stderr")"
wrapper="env"
[ "$have_time" = 1 ] && wrapper="$wrapper + /usr/bin/time"
echo "note: wall-clock includes the wrapper ($wrapper): median $b_ms ms around /bin/true."
echo "check $BACKENDS backends / $total_servers servers: haproxy -c median $p_ms ms, ha-compat median $h_ms ms, ratio haproxy/ha-compat = ${ratio}x (higher is better for ha-compat)"
if [ "$have_time" = 1 ]; then
	p_rss=$(median <"$tmp/haproxy.rsskb")
	h_rss=$(median <"$tmp/ha-compat.rsskb")
	p_cpu=$(median <"$tmp/haproxy.cpums")
	h_cpu=$(median <"$tmp/ha-compat.cpums")
	echo "max RSS (median): haproxy -c $(mib "$p_rss") MiB (${p_rss} KiB), ha-compat $(mib "$h_rss") MiB (${h_rss} KiB); user+sys CPU (median, 10 ms resolution): haproxy -c $p_cpu ms, ha-compat $h_cpu ms"
else
	p_rss=$(sample_rss "$HAPROXY_BIN")
	h_rss=$(sample_rss "$ours")
	echo "max RSS (VmHWM sampled from /proc in one extra run, a lower bound): haproxy -c $(mib "$p_rss") MiB (${p_rss} KiB), ha-compat $(mib "$h_rss") MiB (${h_rss} KiB); CPU time: not measured (/usr/bin/time not installed)"
fi

status=0
if [ "$p_rc" != "$h_rc" ]; then
	echo >&2
	echo "$me: FAIL exit statuses differ (haproxy $p_rc, ha-compat $h_rc)" >&2
	echo "--- haproxy -c stderr (head) ---" >&2
	head -n 20 "$tmp/haproxy.stderr" >&2
	echo "--- ha-compat stderr (head) ---" >&2
	head -n 20 "$tmp/ha-compat.stderr" >&2
	status=2
fi
if awk -v r="$ratio" 'BEGIN { exit !(r != "inf" && r + 0 < 1) }'; then
	echo "$me: FAIL ha-compat is slower than haproxy -c (ratio $ratio < 1)" >&2
	[ $status = 0 ] && status=1
fi
exit $status
