#!/usr/bin/env bash
# Failover outage per fault type: the real keepalived 2.2.7 and ha-compat's VRRP engine in
# the same run, on the seed labs (client request every 10 ms; outage = fault -> first
# successful request after the first failure). Prints one row per fault: the median of
# ROUNDS runs for each subject and the ratio ours/reference.
#
#   sudo scripts/bench-failover.sh            # ROUNDS=3 by default
#   ROUNDS=5 SCENARIOS="seed001 seed003" sudo -E scripts/bench-failover.sh
#
# Needs root (network namespaces) and the packages scripts/test.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
SCENARIOS="${SCENARIOS:-seed000 seed001 seed003 seed003-nopreempt}"
OUT="$(mktemp -d /tmp/bench-failover.XXXXXX)"
cargo build -q --release -p ha-compat -p compat-tests
for round in $(seq 1 "$ROUNDS"); do
    for subject in reference ha-compat; do
        # shellcheck disable=SC2086
        HA_COMPAT_SUBJECT="$subject" cargo test -q --release -p compat-tests --test labs -- $SCENARIOS \
            >"$OUT/$subject-$round.log" 2>&1 || true
    done
done
python3 - "$OUT" <<'EOF'
import glob, re, statistics, sys
out = sys.argv[1]
rows = {}
pat = re.compile(r"\[(\S+) (reference|ha-compat)\] outage: ([^:]+): (.*)")
for path in sorted(glob.glob(out + "/*.log")):
    for line in open(path):
        m = pat.search(line)
        if not m:
            continue
        scenario, subject, fault, rest = m.groups()
        r = re.search(r"recovered after (\d+) ms", rest)
        ms = int(r.group(1)) if r else (0 if "no failed request" in rest else None)
        if "interruption" in rest:
            i = re.search(r"interruption (\d+) ms", rest)
            ms = int(i.group(1)) if i else ms
        if ms is None:
            ms = float("inf")
        rows.setdefault((scenario, fault), {}).setdefault(subject, []).append(ms)
print("| scenario | fault | reference (median ms, n) | ha-compat (median ms, n) | ours / reference |")
print("|---|---|---|---|---|")
for (scenario, fault), by in sorted(rows.items()):
    ref = by.get("reference", [])
    ours = by.get("ha-compat", [])
    fmt = lambda v: f"{statistics.median(v):.0f} ({len(v)})" if v else "-"
    ratio = "-"
    if ref and ours and statistics.median(ref) > 0:
        ratio = f"{statistics.median(ours) / statistics.median(ref):.2f}"
    print(f"| {scenario} | {fault} | {fmt(ref)} | {fmt(ours)} | {ratio} |")
print(f"\nlogs: {out}")
EOF
