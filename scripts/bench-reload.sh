#!/bin/bash
# Reload under load (issue 8): wrk through a VIP while the master is sent SIGUSR2 20
# times, one of them with an invalid configuration file in place. Three subjects, same
# cfg, same lab, one after the other:
#   haproxy          haproxy 2.6.12 -W, no stats socket
#   haproxy-expose   haproxy 2.6.12 -W, `stats socket ... level admin expose-fd listeners`
#   ours             ha-compat run as `haproxy -W` (a symlink named haproxy), the
#                    haproxy-expose cfg
#   haproxy-icor     haproxy-expose plus `option idle-close-on-response` in defaults: an
#                    old worker answers the next request on an idle keep-alive connection
#                    (`connection: close`) instead of closing it (2.6's default closes it,
#                    racing with a client that is sending a request: wrk counts a read
#                    error, it does not retry)
# and two passes each: keep-alive (wrk's default; exercises how a soft-stopped worker ends
# its keep-alive connections) and `Connection: close` (a new connection per request;
# exercises the hand-over of the listening socket, where an accept queue can be lost).
# Per run it prints wrk's requests, non-2xx responses and socket errors
# (connect/read/write/timeout), whether the LB served right after the invalid reload and
# whether the master reported it, and how many worker processes were left 3 s after the
# last reload, wrk still running (1 = the old ones all exited: a soft-stopped worker must
# not wait for the clients to close their keep-alive connections); then ours against each
# reference.
#
# Lab: network namespaces rld-{c,lb,w1,w2}-PID: client 10.77.0.1 -- lb 10.77.0.2 with the
# VIP 10.77.0.100:80; lb 10.77.1.1 -- web1 10.77.1.2:80 and lb 10.77.2.1 -- web2
# 10.77.2.2:80 (nginx, a 100-byte file). Nothing outside these namespaces is touched; all
# are deleted on exit.
#
#   sudo scripts/bench-reload.sh              # builds ha-compat in release mode first
#   OURS=path/to/ha-compat SUBJECTS="haproxy ours" sudo -E scripts/bench-reload.sh
#   RELOADS=20 INTERVAL=0.4 CONNECTIONS=32 sudo -E scripts/bench-reload.sh
# Needs root, haproxy, nginx, wrk, curl. About 2 min with the defaults.
set -euo pipefail
SUBJECTS=${SUBJECTS:-haproxy haproxy-expose haproxy-icor ours}
RELOADS=${RELOADS:-20}
INTERVAL=${INTERVAL:-0.4}
# The reload that finds the invalid file (1-based).
INVALID_AT=${INVALID_AT:-10}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${OURS:-}" ]; then
    cargo build --release -q -p ha-compat --manifest-path "$ROOT/Cargo.toml"
    OURS="${CARGO_TARGET_DIR:-$ROOT/target}/release/ha-compat"
fi
# wrk runs 1 s before the first reload and ~4 s after the last one (the workers are
# counted 3 s after it, while wrk's keep-alive connections are still open).
DURATION=$(awk -v n="$RELOADS" -v i="$INTERVAL" 'BEGIN { printf "%d", n * i + 7 }')
C=rld-c-$$ LB=rld-lb-$$ W1=rld-w1-$$ W2=rld-w2-$$
DIR=$(mktemp -d /tmp/bench-reload.XXXXXX)
cleanup() {
    for ns in $C $LB $W1 $W2; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    done
    sleep 0.3
    for ns in $C $LB $W1 $W2; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
for ns in $C $LB $W1 $W2; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip link add rld-c-$$ netns "$C" type veth peer name l0 netns "$LB"
ip link add rld-1-$$ netns "$W1" type veth peer name l1 netns "$LB"
ip link add rld-2-$$ netns "$W2" type veth peer name l2 netns "$LB"
ip -n "$C" addr add 10.77.0.1/24 dev rld-c-$$
ip -n "$C" link set rld-c-$$ up
ip -n "$LB" addr add 10.77.0.2/24 dev l0
ip -n "$LB" addr add 10.77.0.100/32 dev l0
ip -n "$C" route add 10.77.0.100/32 via 10.77.0.2
ip -n "$W1" addr add 10.77.1.2/24 dev rld-1-$$
ip -n "$W2" addr add 10.77.2.2/24 dev rld-2-$$
ip -n "$LB" addr add 10.77.1.1/24 dev l1
ip -n "$LB" addr add 10.77.2.1/24 dev l2
ip -n "$W1" link set rld-1-$$ up
ip -n "$W2" link set rld-2-$$ up
for i in l0 l1 l2; do ip -n "$LB" link set "$i" up; done
# `Connection: close` opens thousands of connections a second (these sysctls are the
# namespaces' own).
for ns in $C $LB; do
    ip netns exec "$ns" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000"
    ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_tw_reuse=1
done

chmod 755 "$DIR"   # nginx's workers read the files
mkdir -p "$DIR/www" "$DIR/bin"
head -c 100 /dev/zero | tr '\0' a > "$DIR/www/index.html"
ln -s "$(readlink -f "$OURS")" "$DIR/bin/haproxy"
for w in 1 2; do
    cat > "$DIR/nginx$w.conf" <<NGINX
worker_processes 1;
pid $DIR/nginx$w.pid;
error_log $DIR/nginx$w.err;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 80; root $DIR/www; }
}
NGINX
done
ip netns exec "$W1" nginx -c "$DIR/nginx1.conf"
ip netns exec "$W2" nginx -c "$DIR/nginx2.conf"

# $1: yes for the stats socket with expose-fd listeners; $2: yes for an invalid file;
# $3: yes for `option idle-close-on-response`.
make_cfg() {
    echo "global"
    echo "    maxconn 4000"
    [ "$1" = yes ] && echo "    stats socket $DIR/admin.sock mode 600 level admin expose-fd listeners"
    [ "$2" = yes ] && echo "    this-keyword-does-not-exist 1"
    echo "defaults"
    [ "${3:-no}" = yes ] && echo "    option idle-close-on-response"
    cat <<CFG
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 10.77.0.100:80
    default_backend be
backend be
    balance roundrobin
    server w1 10.77.1.2:80
    server w2 10.77.2.2:80
CFG
}
make_cfg no no > "$DIR/plain.good"
make_cfg no yes > "$DIR/plain.bad"
make_cfg yes no > "$DIR/expose.good"
make_cfg yes yes > "$DIR/expose.bad"
make_cfg yes no yes > "$DIR/icor.good"
make_cfg yes yes yes > "$DIR/icor.bad"

served() { ip netns exec "$C" curl -s -m 2 -o /dev/null -w '%{http_code}' http://10.77.0.100/ 2>/dev/null || true; }

# The master's children that are workers (all its children, for both programs).
workers_of() { ps -o pid= --ppid "$1" | wc -l; }

# $1 subject, $2 pass (ka or close).
run() {
    local name=$1 pass=$2 bin=haproxy kind=expose
    case $name in
        ours) bin="$DIR/bin/haproxy" ;;
        haproxy) kind=plain ;;
        haproxy-icor) kind=icor ;;
    esac
    local cfg="$DIR/$name.cfg" err="$DIR/$name-$pass.err"
    cp "$DIR/$kind.good" "$cfg"
    rm -f "$DIR/admin.sock"
    ip netns exec "$LB" "$bin" -W -f "$cfg" </dev/null >/dev/null 2>"$err" &
    local master=$!
    local ok=""
    for _ in $(seq 50); do
        [ "$(served)" = 200 ] && { ok=1; break; }
        sleep 0.1
    done
    if [ -z "$ok" ]; then echo "$name: the proxy did not start:" >&2; cat "$err" >&2; exit 1; fi
    local header=()
    [ "$pass" = close ] && header=(-H "Connection: close")
    ip netns exec "$C" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "${header[@]}" \
        http://10.77.0.100/ > "$DIR/wrk.out" 2>&1 &
    local wrk=$!
    sleep 1
    local after_invalid="-" alerted=no alerts0
    for i in $(seq "$RELOADS"); do
        if [ "$i" = "$INVALID_AT" ]; then
            alerts0=$(grep -c "this-keyword-does-not-exist" "$err" || true)
            cp "$DIR/$kind.bad" "$cfg"
            kill -USR2 "$master"
            # The refusal is on the master's stderr (HAProxy's master parses; our
            # worker does, its stderr is the master's).
            for _ in $(seq 40); do
                [ "$(grep -c "this-keyword-does-not-exist" "$err" || true)" -gt "$alerts0" ] && { alerted=yes; break; }
                sleep 0.05
            done
            after_invalid=$(served)
            cp "$DIR/$kind.good" "$cfg"
        else
            kill -USR2 "$master"
        fi
        sleep "$INTERVAL"
    done
    sleep 3
    local left
    left=$(workers_of "$master")
    wait "$wrk" || true
    local out requests non2xx sockerr connect read write timeout
    out=$(cat "$DIR/wrk.out")
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    sockerr=$(echo "$out" | sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p')
    read -r connect read write timeout <<< "${sockerr:-0 0 0 0}"
    non2xx=${non2xx:-0}
    local failed=$((non2xx + connect + read + write + timeout))
    printf "%-15s %-6s requests %8s  non-2xx %4s  socket errors: connect %s read %s write %s timeout %s  failed %s  after invalid: %s (alert %s)  workers left %s\n" \
        "$name" "$pass" "$requests" "$non2xx" "$connect" "$read" "$write" "$timeout" "$failed" \
        "$after_invalid" "$alerted" "$left"
    echo "$name $pass $requests $failed" >> "$DIR/results"
    kill "$master" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$master" 2>/dev/null || true
    wait "$master" 2>/dev/null || true
    if [ -n "${KEEP_STDERR:-}" ]; then cp "$err" "$KEEP_STDERR/"; fi
}

echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, $RELOADS SIGUSR2 ${INTERVAL}s apart (#$INVALID_AT with an invalid file)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for pass in ka close; do
    for s in $SUBJECTS; do run "$s" "$pass"; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "ours against each reference (failed requests / requests; requests ratio):"
awk '{req[$1, $2] = $3; fail[$1, $2] = $4; seen[$1] = 1}
     END {for (s in seen) { if (s == "ours") continue;
            for (p = 1; p <= 2; p++) { pass = (p == 1) ? "ka" : "close";
              if (!(("ours", pass) in req) || !((s, pass) in req)) continue;
              printf "ours / %-15s %-6s failed %s / %s vs %s / %s   requests %.2fx\n", s, pass,
                fail["ours", pass], req["ours", pass], fail[s, pass], req[s, pass],
                req["ours", pass] / req[s, pass] } } }' "$DIR/results" | sort
