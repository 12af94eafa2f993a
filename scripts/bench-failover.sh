#!/usr/bin/env bash
# Failover outage per fault type: the real keepalived 2.2.7 and ha-compat's VRRP engine in
# the same run, on the seed labs (client request every 10 ms; outage = fault -> first
# successful request after the first failure). Prints one row per fault: the median of
# ROUNDS runs for each subject and the ratio ours/reference; then, for node-loss faults, the
# takeover delay on the wire (the lost master's last advert -> the new master's first, from
# the lab's capture), which does not depend on when the fault fell in the advert cycle.
#
#   sudo scripts/bench-failover.sh            # ROUNDS=3 by default
#   ROUNDS=5 SCENARIOS="seed001 seed003" sudo -E scripts/bench-failover.sh
#   SUBJECTS="reference ha-compat mixed" ...  # reference and ha-compat by default
#
# Needs root (network namespaces) and the packages scripts/test.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
SCENARIOS="${SCENARIOS:-seed000 seed001 seed003 seed003-nopreempt}"
SUBJECTS="${SUBJECTS:-reference ha-compat}"
OUT="$(mktemp -d /tmp/bench-failover.XXXXXX)"
cargo build -q --release -p ha-compat -p compat-tests
for round in $(seq 1 "$ROUNDS"); do
    # shellcheck disable=SC2086
    for subject in $SUBJECTS; do
        # shellcheck disable=SC2086
        HA_COMPAT_SUBJECT="$subject" cargo test -q --release -p compat-tests --test labs -- $SCENARIOS \
            >"$OUT/$subject-$round.log" 2>&1 || true
    done
done
python3 - "$OUT" <<'EOF'
import glob, re, statistics, sys
out = sys.argv[1]
rows = {}
takeovers = {}
pat = re.compile(r"\[(\S+) (reference|ha-compat|mixed)\] outage: ([^:]+): (.*)")
tpat = re.compile(r"\[(\S+) (reference|ha-compat|mixed)\] takeover: ([^:]+): (\d+) ms .*formula (\d+) ms")
for path in sorted(glob.glob(out + "/*.log")):
    for line in open(path):
        t = tpat.search(line)
        if t:
            scenario, subject, fault, ms, formula = t.groups()
            takeovers.setdefault((scenario, fault), {}).setdefault(subject, []).append((int(ms), int(formula)))
            continue
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
subjects = [s for s in ("reference", "ha-compat", "mixed") if any(s in by for by in rows.values())]
def fmt(v):
    if not v:
        return "-"
    med = statistics.median(v)
    return f"{med:.0f} ({len(v)})" if med != float("inf") else f"never recovered ({len(v)})"
print("Client-side outage (fault -> first successful request), median ms (n):\n")
print("| scenario | fault | " + " | ".join(subjects) + " | ha-compat / reference |")
print("|---|---|" + "---|" * len(subjects) + "---|")
for (scenario, fault), by in sorted(rows.items()):
    ref = by.get("reference", [])
    ours = by.get("ha-compat", [])
    ratio = "-"
    finite = lambda v: v and statistics.median(v) < float("inf")
    if finite(ref) and finite(ours) and statistics.median(ref) > 0:
        ratio = f"{statistics.median(ours) / statistics.median(ref):.2f}"
    cells = " | ".join(fmt(by.get(s, [])) for s in subjects)
    print(f"| {scenario} | {fault} | {cells} | {ratio} |")
wire = takeovers
if wire:
    print("\nTakeover on the wire (last advert of the lost master -> first of the new one),")
    print("median ms (n) and min-max, against 3 x advert_int + (256 - priority)/256 s:\n")
    print("| scenario | fault | " + " | ".join(subjects) + " |")
    print("|---|---|" + "---|" * len(subjects))
    for (scenario, fault), by in sorted(wire.items()):
        def cell(s):
            v = by.get(s, [])
            if not v:
                return "-"
            ms = [m for m, _ in v]
            return f"{statistics.median(ms):.0f} ({len(ms)}, {min(ms)}-{max(ms)}; formula {v[0][1]})"
        print(f"| {scenario} | {fault} | " + " | ".join(cell(s) for s in subjects) + " |")
print(f"\nlogs: {out}")
EOF
