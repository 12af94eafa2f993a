#!/bin/bash
# The proxy engine's TCP data path against haproxy 2.6.12, same cfg, same namespace:
# wrk keep-alive requests (100-byte answers from nginx) through `mode tcp`, then 1 GiB
# through one connection (curl), then 100 connections in parallel downloading 10 MiB each
# (one curl, `--parallel`). Runs the subjects in turn, ROUNDS times (default 3), and prints
# one line per run: req/s, p50/p99, proxy CPU per request, bulk MB/s and the proxy's CPU
# per GB for both bulk cases, peak RSS; then the mean of each figure per subject and the
# ratios. Needs root, haproxy, nginx, wrk, curl, bc. Everything stays inside a network
# namespace the script makes and deletes (hapio-bench-PID); traffic only on its 127.0.0.1.
#
# Ours is the ha-compat binary run as `haproxy -db -f FILE` (a symlink named haproxy), so
# the whole engine is measured: listeners, the roundrobin balancer, health checks, logs.
# Subjects (SUBJECTS, in this order each round): haproxy, ours (no splice option), and
# haproxy-splice, ours-splice (`option splice-auto` in defaults; haproxy-splice-always,
# ours-splice-always: `option splice-request` + `option splice-response`).
#
#   sudo scripts/bench-tcp-io.sh            # builds ha-compat in release mode first
#   ROUNDS=5 OURS=path/to/ha-compat sudo -E scripts/bench-tcp-io.sh
#   SUBJECTS="haproxy ours" sudo -E scripts/bench-tcp-io.sh
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SUBJECTS=${SUBJECTS:-haproxy ours haproxy-splice ours-splice}
PARALLEL=${PARALLEL:-100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${OURS:-}" ]; then
    cargo build --release -q -p ha-compat --manifest-path "$ROOT/Cargo.toml"
    OURS="${CARGO_TARGET_DIR:-$ROOT/target}/release/ha-compat"
fi
NS=hapio-bench-$$
DIR=$(mktemp -d /tmp/hapio-bench.XXXXXX)
cleanup() {
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
chmod 755 "$DIR"   # nginx's workers (www-data) read the files
mkdir -p "$DIR/www"
head -c 100 /dev/zero | tr '\0' a > "$DIR/www/index.html"
head -c 1073741824 /dev/zero > "$DIR/www/big"
head -c 10485760 /dev/zero > "$DIR/www/m10"
for _ in $(seq "$PARALLEL"); do
    printf 'url = "http://127.0.0.1:8001/m10"\noutput = "/dev/null"\n'
done > "$DIR/parallel.curl"
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
cat > "$DIR/proxy.cfg" <<CFG
global
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:8001
    default_backend be
backend be
    server n1 127.0.0.1:9001
CFG
sed 's/^defaults$/defaults\n    option splice-auto/' "$DIR/proxy.cfg" > "$DIR/splice.cfg"
sed 's/^defaults$/defaults\n    option splice-request\n    option splice-response/' \
    "$DIR/proxy.cfg" > "$DIR/splice-always.cfg"
ip netns exec "$NS" nginx -c "$DIR/nginx.conf"
TICKS=$(getconf CLK_TCK)

run() {
    local name=$1; shift
    ip netns exec "$NS" "$@" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 50); do
        ip netns exec "$NS" curl -s -o /dev/null http://127.0.0.1:8001/ && break
        sleep 0.1
    done
    # `ip netns exec` execs the command: $! is the proxy itself.
    cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
    local c0 c1 c2 c3 c4 out
    c0=$(cpu)
    out=$(ip netns exec "$NS" wrk -t2 -c50 -d10s --latency http://127.0.0.1:8001/ 2>&1)
    c1=$(cpu)
    if echo "$out" | grep -q "Non-2xx"; then echo "$name: wrk got errors: $out" >&2; exit 1; fi
    local reqs total p50 p99 bulk rss
    reqs=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    total=$(echo "$out" | awk '/requests in/ {print $1}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    c2=$(cpu)
    bulk=$(ip netns exec "$NS" curl -sf -o /dev/null -w '%{speed_download}' http://127.0.0.1:8001/big)
    c3=$(cpu)
    local t0 t1 got
    t0=$(date +%s.%N)
    got=$(ip netns exec "$NS" curl -sf --parallel --parallel-max "$PARALLEL" -K "$DIR/parallel.curl" \
        -w '%{size_download}\n' 2>/dev/null | awk '{s+=$1} END {print s}')
    t1=$(date +%s.%N)
    c4=$(cpu)
    if [ "$got" != "$((PARALLEL * 10485760))" ]; then
        echo "$name: the parallel downloads got $got bytes" >&2; exit 1
    fi
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    local cpureq mbs cpugb pmbs pcpugb
    cpureq=$(echo "($c1-$c0)*1000000/$TICKS/$total" | bc -l)
    mbs=$(echo "$bulk/1000000" | bc -l)
    cpugb=$(echo "($c3-$c2)/$TICKS/1.073741824" | bc -l)
    pmbs=$(echo "$got/($t1-$t0)/1000000" | bc -l)
    pcpugb=$(echo "($c4-$c3)/$TICKS/($got/1000000000)" | bc -l)
    printf "%-20s req/s %9s  p50 %7s  p99 %7s  cpu/req %5.1f us  1x1GiB %5.0f MB/s %.2f s/GB  %dx10MiB %5.0f MB/s %.2f s/GB  RSS %s kB\n" \
        "$name" "$reqs" "$p50" "$p99" "$cpureq" "$mbs" "$cpugb" "$PARALLEL" "$pmbs" "$pcpugb" "$rss"
    echo "$name $reqs $cpureq $mbs $cpugb $pmbs $pcpugb $rss" >> "$DIR/results"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

subject() {
    local cfg=proxy.cfg bin=haproxy
    case $1 in
        *-splice) cfg=splice.cfg ;;
        *-splice-always) cfg=splice-always.cfg ;;
    esac
    case $1 in ours*) bin="$DIR/bin/haproxy" ;; esac
    run "$1" "$bin" -db -f "$DIR/$cfg"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
    for s in $SUBJECTS; do subject "$s"; done
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Means per subject, then each subject against haproxy with the same options.
echo
echo "means over $ROUNDS rounds (req/s, cpu/req us, 1x1GiB MB/s, s/GB, ${PARALLEL}x10MiB MB/s, s/GB, RSS kB):"
awk '{n[$1]++; for (i = 2; i <= 8; i++) sum[$1, i] += $i}
     END {for (s in n) {printf "%-20s", s; for (i = 2; i <= 8; i++) printf " %10.2f", sum[s, i] / n[s]; print ""}}' \
    "$DIR/results" | sort > "$DIR/means"
cat "$DIR/means"
echo
echo "ratios (req/s, cpu/req, 1x1GiB MB/s, s/GB, ${PARALLEL}x10MiB MB/s, s/GB, RSS):"
ratio() {
    awk -v a="$1" -v b="$2" '$1 == a {for (i = 2; i <= 8; i++) x[i] = $i} $1 == b {for (i = 2; i <= 8; i++) y[i] = $i}
        END {if (!(2 in x) || !(2 in y)) exit; printf "%-40s", a " / " b; for (i = 2; i <= 8; i++) printf " %6.2fx", x[i] / y[i]; print ""}' "$DIR/means"
}
ratio ours haproxy
ratio ours-splice haproxy-splice
ratio ours-splice-always haproxy-splice-always
ratio ours-splice ours
ratio ours-splice-always ours
ratio haproxy-splice haproxy
