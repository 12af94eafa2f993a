#!/usr/bin/env bash
# Runs every test of ha-compat. Installs what the tests need on a fresh Debian machine
# (the reference keepalived and haproxy, nginx-light for the labs' web nodes, tcpdump for
# the VRRP captures, iproute2, psmisc for `killall`, iputils-ping, chromium for the stats
# page's screenshot test), so CI and a new
# developer machine need nothing else. Must run as root: the compat tests create network
# namespaces (and always delete them).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v keepalived >/dev/null || need+=(keepalived)
command -v haproxy >/dev/null || need+=(haproxy)
command -v ip >/dev/null || need+=(iproute2)
command -v killall >/dev/null || need+=(psmisc)
command -v prlimit >/dev/null || need+=(util-linux)
command -v nginx >/dev/null || need+=(nginx-light)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v socat >/dev/null || need+=(socat)
command -v ping >/dev/null || need+=(iputils-ping)
command -v chromium >/dev/null || need+=(chromium)
# packaging/build-deb.sh and test-deb.sh: dpkg-shlibdeps, strip, a bookworm root.
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v strip >/dev/null || need+=(binutils)
command -v debootstrap >/dev/null || need+=(debootstrap)
# ha-compat status's test parses the VRRP metrics with the Prometheus project's own parser.
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need+=(python3-prometheus-client)
if [ ${#need[@]} -gt 0 ]; then
    echo "scripts/test.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The packages would start their daemons on the host (nginx on port 80); the tests
    # run their own copies inside namespaces. policy-rc.d 101 = "do not start".
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    rm -f "$policy"
    trap - EXIT
fi
# Where something started them anyway (a systemd machine), stop them.
systemctl stop keepalived haproxy nginx >/dev/null 2>&1 || true

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo build --workspace --release -q
status=0
cargo test --workspace --release -q 2>&1 | tee target/test-output.txt || status=$?
# The seed labs' table (scenario x subject -> pass / fail / not implemented, outages),
# also when something failed.
echo
echo "== seed labs: target/compat/labs/summary.md"
cat target/compat/labs/summary.md 2>/dev/null || echo "(the labs did not run)"
# The Debian package, from the release binary just tested: installed into a clean bookworm
# root (never on this machine) and over Debian's own haproxy and keepalived there, with
# `haproxy -c` / `keepalived -t` on the seeds compared with the real ones. test-deb.sh
# unmounts what it mounted even when it fails or is interrupted.
echo
echo "== packaging: packaging/build-deb.sh + packaging/test-deb.sh --replace"
packaging_started=$(date +%s)
if deb=$(packaging/build-deb.sh --binary "${CARGO_TARGET_DIR:-target}/release/ha-compat" | tail -1) &&
    packaging/test-deb.sh --replace --deb "$deb"; then
    echo "packaging: passed in $(($(date +%s) - packaging_started)) s"
else
    echo "packaging: FAILED (see above)"
    status=1
fi
# Nothing may outlive the labs: namespaces, their directories, daemons started in them.
left=$(ip netns list | awk '{print $1}' | grep -E '^hac' || true)
# (only those outside the host's network namespace count: a developer's own nginx is fine)
strays=""
host_net=$(readlink /proc/self/ns/net || true)
for name in keepalived haproxy nginx lab-agent tcpdump ha-compat; do
    for pid in $(pgrep -x "$name" || true); do
        if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null || true)" != "$host_net" ]; then
            strays+="$pid:$name "
        fi
    done
done
if [ -n "$left" ] || [ -n "$strays" ] || ls /etc/netns 2>/dev/null | grep -q '^hacl-'; then
    echo "scripts/test.sh: left behind after the tests:"
    echo "${left}"
    echo "${strays}"
    ls /etc/netns 2>/dev/null | grep '^hacl-' || true
    status=1
fi
exit "$status"
