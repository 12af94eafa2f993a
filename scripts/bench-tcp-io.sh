#!/bin/bash
# The proxy engine's TCP data path against haproxy 2.6.12, same cfg, same namespace:
# wrk keep-alive requests (100-byte answers from nginx) through `mode tcp`, then 1 GiB
# through one connection (curl). Alternates the two subjects ROUNDS times (default 3) and
# prints one line per run: req/s, p50/p99, proxy CPU per request, bulk MB/s and its CPU,
# peak RSS. Needs root, haproxy, nginx, wrk, curl, bc. Everything stays inside a network
# namespace the script makes and deletes (hapio-bench-PID); traffic only on its 127.0.0.1.
#
# Ours is the ha-compat binary run as `haproxy -db -f FILE` (a symlink named haproxy), so
# the whole engine is measured: listeners, the roundrobin balancer, health checks, logs.
#
#   sudo scripts/bench-tcp-io.sh            # builds ha-compat in release mode first
#   ROUNDS=5 OURS=path/to/ha-compat sudo -E scripts/bench-tcp-io.sh
set -euo pipefail
ROUNDS=${ROUNDS:-3}
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
    local c0 c1 c2 c3 out
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
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    printf "%-8s req/s %9s  p50 %7s  p99 %7s  cpu/req %5.1f us  1 GiB %5.0f MB/s, cpu %.2f s  peak RSS %s kB\n" \
        "$name" "$reqs" "$p50" "$p99" \
        "$(echo "($c1-$c0)*1000000/$TICKS/$total" | bc -l)" \
        "$(echo "$bulk/1000000" | bc -l)" "$(echo "($c3-$c2)/$TICKS" | bc -l)" "$rss"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
    run haproxy haproxy -db -f "$DIR/proxy.cfg"
    run ours "$DIR/bin/haproxy" -db -f "$DIR/proxy.cfg"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
