#!/bin/bash
# The proxy engine's `mode http` against haproxy 2.6.12, same cfg, same namespace, one run.
# nginx serves a 100-byte and a 10 kB file; for each subject the script starts the proxy
# once and runs wrk three times through it: keep-alive requests for the 100-byte file,
# keep-alive for the 10 kB file, and the 100-byte file with `Connection: close` (a new
# client connection per request). It prints one line per case: req/s, p50/p99 latency,
# the proxy's CPU per request (utime+stime from /proc/PID/stat, before/after, divided by
# wrk's request count), its peak RSS so far (VmHWM) and how many log lines per request
# reached the log drain; then the means per subject and case, and the ratios
# ours / haproxy with the same cfg. ROUNDS rounds (default 3), subjects alternating.
# Needs root, haproxy, nginx, wrk, curl, bc, python3. Everything stays inside a network
# namespace the script makes and deletes (haphttp-bench-PID); traffic only on its
# 127.0.0.1.
#
# Ours is the ha-compat binary run as `haproxy -db -f FILE` (a symlink named haproxy), so
# the whole engine is measured. Subjects (SUBJECTS, in this order each round):
#   haproxy, ours         `option http-keep-alive` (the default, written out)
#   haproxy-sc, ours-sc   `option http-server-close`
#   haproxy-nolog, ours-nolog   keep-alive, no `option httplog` and no `log` line
# Every cfg but *-nolog has `option httplog` and `log global`, with LOG (default udp):
#   udp     `log 127.0.0.1:5514 local0`: a python3 loop in the namespace drains the
#           datagrams and counts them (what a local syslog daemon would do)
#   stdout  `log stdout format raw local0`, the proxy's stdout redirected to a file (as
#           operators do in containers); the file's lines are counted
# NBTHREAD (default 1): `nbthread` in global for both subjects (ours runs that many tokio
# workers); NBTHREAD=default leaves it out (both then use one thread per CPU).
# PIN (default 1): the proxy on CPU 0 (`taskset -c 0`), nginx, wrk and the log drain on
# CPU 1; PIN=0 lets the scheduler place everything.
#
#   sudo scripts/bench-http.sh            # builds ha-compat in release mode first
#   ROUNDS=5 OURS=path/to/ha-compat sudo -E scripts/bench-http.sh
#   SUBJECTS="haproxy ours" LOG=stdout NBTHREAD=default PIN=0 sudo -E scripts/bench-http.sh
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SUBJECTS=${SUBJECTS:-haproxy ours haproxy-sc ours-sc}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
WRK_THREADS=${WRK_THREADS:-2}
LOG=${LOG:-udp}
NBTHREAD=${NBTHREAD:-1}
PIN=${PIN:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${OURS:-}" ]; then
    cargo build --release -q -p ha-compat --manifest-path "$ROOT/Cargo.toml"
    OURS="${CARGO_TARGET_DIR:-$ROOT/target}/release/ha-compat"
fi
case $LOG in udp | stdout) ;; *) echo "LOG must be udp or stdout" >&2; exit 2 ;; esac
NS=haphttp-bench-$$
DIR=$(mktemp -d /tmp/haphttp-bench.XXXXXX)
cleanup() {
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
# Close mode opens ~10k connections a second: room for them (these sysctls are the
# namespace's own).
ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000"
ip netns exec "$NS" sysctl -q -w net.ipv4.tcp_tw_reuse=1
if [ "$PIN" = 1 ]; then
    PROXY_CPU=(taskset -c 0)
    LOAD_CPU=(taskset -c 1)
else
    PROXY_CPU=()
    LOAD_CPU=()
fi
chmod 755 "$DIR"   # nginx's workers (www-data) read the files
mkdir -p "$DIR/www"
head -c 100 /dev/zero | tr '\0' a > "$DIR/www/index.html"
head -c 10240 /dev/zero | tr '\0' b > "$DIR/www/10k"
mkdir -p "$DIR/bin"
ln -s "$(readlink -f "$OURS")" "$DIR/bin/haproxy"
cat > "$DIR/nginx.conf" <<NGINX
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:9001; root $DIR/www; }
}
NGINX
cat > "$DIR/drain.py" <<'PY'
# Counts the syslog datagrams sent to 127.0.0.1:5514; writes the count to argv[1] on SIGTERM.
import signal, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 5514))
n = 0
def done(*_):
    with open(sys.argv[1], "w") as f:
        f.write(f"{n}\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
open(sys.argv[1] + ".ready", "w").close()
while True:
    s.recv(65536)
    n += 1
PY
global_lines="    maxconn 4000"
[ "$NBTHREAD" != default ] && global_lines+=$'\n'"    nbthread $NBTHREAD"
if [ "$LOG" = udp ]; then
    log_line="    log 127.0.0.1:5514 local0"
else
    log_line="    log stdout format raw local0"
fi
# $1: the connection option; $2: yes for httplog + log lines.
make_cfg() {
    local log_global="" httplog=""
    if [ "$2" = yes ]; then
        log_global="$log_line"
        httplog=$'\n    log global\n    option httplog'
    fi
    cat <<CFG
global
$global_lines
$log_global
defaults
    mode http$httplog
    option $1
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:8001
    default_backend be
backend be
    server n1 127.0.0.1:9001
CFG
}
make_cfg http-keep-alive yes > "$DIR/ka.cfg"
make_cfg http-server-close yes > "$DIR/sc.cfg"
make_cfg http-keep-alive no > "$DIR/nolog.cfg"
ip netns exec "$NS" "${LOAD_CPU[@]}" nginx -c "$DIR/nginx.conf"
TICKS=$(getconf CLK_TCK)

# wrk's latency ("812.00us", "1.64ms", "1.02s") in ms.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0;
        else if (v ~ /s$/) printf "%.3f", v * 1000; else print "nan" }'
}

# $1 subject, $2 cfg; the proxy runs all the cases.
run() {
    local name=$1 cfg=$2 bin=haproxy
    case $name in ours*) bin="$DIR/bin/haproxy" ;; esac
    local logging=no drain_pid=""
    case $name in *-nolog) ;; *) logging=$LOG ;; esac
    rm -f "$DIR/count" "$DIR/count.ready" "$DIR/stdout"
    if [ "$logging" = udp ]; then
        ip netns exec "$NS" "${LOAD_CPU[@]}" /usr/bin/python3 "$DIR/drain.py" "$DIR/count" &
        drain_pid=$!
        for _ in $(seq 50); do [ -e "$DIR/count.ready" ] && break; sleep 0.1; done
    fi
    ip netns exec "$NS" "${PROXY_CPU[@]}" "$bin" -db -f "$DIR/$cfg" >"$DIR/stdout" 2>"$DIR/stderr" &
    local pid=$!
    for _ in $(seq 50); do
        ip netns exec "$NS" curl -s -o /dev/null http://127.0.0.1:8001/ && break
        sleep 0.1
    done
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "$name: the proxy did not start:" >&2; cat "$DIR/stderr" >&2; exit 1
    fi
    # `ip netns exec` and taskset exec the command: $! is the proxy itself.
    cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
    local lines0=0 case path header
    lines_now() {
        if [ "$logging" = stdout ]; then wc -l < "$DIR/stdout"; else echo 0; fi
    }
    lines0=$(lines_now)
    local logged_total=0 requests_total=0
    for case in ka-100 ka-10k close-100; do
        path=/ header=()
        case $case in
            *-10k) path=/10k ;;
        esac
        case $case in
            close-*) header=(-H "Connection: close") ;;
        esac
        local c0 c1 out
        c0=$(cpu)
        out=$(ip netns exec "$NS" "${LOAD_CPU[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" \
            -d"$DURATION" --latency "${header[@]}" "http://127.0.0.1:8001$path" 2>&1)
        c1=$(cpu)
        if echo "$out" | grep -q "Non-2xx"; then echo "$name $case: wrk got errors: $out" >&2; exit 1; fi
        local reqs total p50 p99 rss cpureq errors
        reqs=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
        total=$(echo "$out" | awk '/requests in/ {print $1}')
        p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
        p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
        errors=$(echo "$out" | awk '/Socket errors/ {sub(/^ *Socket errors: */, ""); print}')
        rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
        cpureq=$(echo "($c1-$c0)*1000000/$TICKS/$total" | bc -l)
        requests_total=$((requests_total + total))
        printf "%-14s %-10s req/s %9s  p50 %7.2f ms  p99 %7.2f ms  cpu/req %5.1f us  RSS %6s kB%s\n" \
            "$name" "$case" "$reqs" "$p50" "$p99" "$cpureq" "$rss" "${errors:+  socket errors: $errors}"
        echo "$name $case $reqs $p50 $p99 $cpureq $rss" >> "$DIR/results"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    if [ "$logging" = stdout ]; then
        logged_total=$(( $(lines_now) - lines0 ))
    elif [ -n "$drain_pid" ]; then
        sleep 0.2
        kill "$drain_pid"
        wait "$drain_pid" 2>/dev/null || true
        logged_total=$(cat "$DIR/count" 2>/dev/null || echo 0)
    fi
    if [ "$logging" != no ]; then
        # The readiness probes and the connections wrk cuts at the end log lines too.
        echo "$name: $logged_total log lines ($logging) for $requests_total requests"
        if [ "$logged_total" -lt "$((requests_total * 9 / 10))" ]; then
            echo "$name: fewer than 90% of the requests were logged" >&2
        fi
    fi
}

subject() {
    case $1 in
        *-sc) run "$1" sc.cfg ;;
        *-nolog) run "$1" nolog.cfg ;;
        *) run "$1" ka.cfg ;;
    esac
}

echo "nbthread $NBTHREAD, pinned $PIN, log $LOG, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
    for s in $SUBJECTS; do subject "$s"; done
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Means per subject and case, then each subject against haproxy with the same cfg.
echo
echo "means over $ROUNDS rounds (req/s, p50 ms, p99 ms, cpu/req us, peak RSS kB):"
awk '{k = $1 " " $2; n[k]++; for (i = 3; i <= 7; i++) sum[k, i] += $i}
     END {for (k in n) {split(k, p, " "); printf "%-14s %-10s", p[1], p[2];
          for (i = 3; i <= 7; i++) printf " %10.2f", sum[k, i] / n[k]; print ""}}' \
    "$DIR/results" | sort > "$DIR/means"
cat "$DIR/means"
echo
echo "ratios (req/s, p50, p99, cpu/req, RSS):"
ratio() {
    awk -v a="$1" -v b="$2" '
        $1 == a {for (i = 3; i <= 7; i++) x[$2, i] = $i; c[$2] = 1}
        $1 == b {for (i = 3; i <= 7; i++) y[$2, i] = $i}
        END {for (k in c) {if (!((k, 3) in y)) continue; printf "%-28s %-10s", a " / " b, k;
             for (i = 3; i <= 7; i++) printf " %6.2fx", x[k, i] / y[k, i]; print ""}}' "$DIR/means" | sort
}
ratio ours haproxy
ratio ours-sc haproxy-sc
ratio ours-nolog haproxy-nolog
