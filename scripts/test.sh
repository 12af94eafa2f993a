#!/usr/bin/env bash
# Runs every test of ha-compat. Installs what the tests need on a fresh Debian machine
# (the reference keepalived and haproxy, iproute2, psmisc for `killall`), so CI and a new
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
if [ ${#need[@]} -gt 0 ]; then
    echo "scripts/test.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian packages start their daemons; the tests run their own copies in namespaces.
systemctl stop keepalived haproxy >/dev/null 2>&1 || true

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo build --workspace --release -q
cargo test --workspace --release -q 2>&1 | tee target/test-output.txt
