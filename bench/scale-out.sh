#!/usr/bin/env bash
# Scale-out past one machine, simulated (docs/scale-out.md): the detection suite with the
# sensors split over 1, 2, 4 and 8 blb nodes behind a broker that hashes the inside /24.
#
#   bench/scale-out.sh             20 seeds per scenario (results/scale-out/), then the table
#   SEEDS=10 bench/scale-out.sh    fewer seeds (about 20 min with 20 on 2 cores)
#   TABLE=1 bench/scale-out.sh     only print the table from results already there
#
# Every configuration runs the same scenarios and seeds with 16 sensors in all; each node's
# BLB keeps either the cluster's V over its own sensors (same) or V scaled to the node's size
# (scaled). The table compares robust BLB's column against one node, seed by seed.
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-20}
OUT=${OUT:-results/scale-out}
THREADS=${THREADS:-2}
SENSORS=16
# The suite's scenarios that bear on the tier (the others are variants of the flood): one
# victim, two victims in two /24s, a SYN flood, a sweep of a /16, and two real captures.
scenarios=(--only flood --only two-floods --only syn-flood --only port-sweep
  --only capture-synflood --only capture-snmp)

run() { # name flags...
  local name=$1
  shift
  [ -s "$OUT/$name/runs.csv" ] && [ "${FORCE:-0}" != 1 ] && return
  echo "== $name: $*" >&2
  "$BLB" experiment --suite --seeds "$SEEDS" --threads "$THREADS" --no-progress \
    --sensors "$SENSORS" --out "$OUT/$name" "$@" >/dev/null
}

if [ "${TABLE:-0}" != 1 ]; then
  cargo build --release -q -p blb
  BLB=target/release/blb
  start=$(date +%s)
  run n1 "${scenarios[@]}"
  for n in 2 4 8; do
    run "n$n-same" "${scenarios[@]}" --nodes "$n"
    run "n$n-scaled" "${scenarios[@]}" --nodes "$n" --node-bound scaled
  done
  # What the key costs: the broker's usual symmetric pair hash, and a sweep wider than /24.
  run n4-scaled-pair --only flood --only syn-flood --only capture-synflood --nodes 4 \
    --node-bound scaled --node-key pair
  run n4-scaled-prefix16 --only port-sweep --nodes 4 --node-bound scaled --node-prefix 16
  echo "runs took $(($(date +%s) - start)) s" >&2
fi

python3 - "$OUT" <<'PY'
import csv, os, statistics, sys
out = sys.argv[1]

def load(name):
    path = os.path.join(out, name, "runs.csv")
    if not os.path.exists(path):
        return None
    rows = {}
    for r in csv.DictReader(open(path)):
        if r["algorithm"] == "blb":
            rows[(r["scenario"], int(r["seed"]))] = r
    return rows

base = load("n1")
others = [load(f"n{n}-{b}") for n in (2, 4, 8) for b in ("same", "scaled")]
tiered = {k[0] for r in others if r for k in r}
scen = [s for s in dict.fromkeys(s for s, _ in base) if s in tiered]
det = lambda r: float(r["detection_secs"]) if r["detection_secs"] else None

def cell(rows, sc):
    seeds = sorted(k[1] for k in base if k[0] == sc)
    pairs = [(base[(sc, s)], rows[(sc, s)]) for s in seeds if (sc, s) in rows]
    n = len(pairs)
    hit = sum(det(r) is not None for _, r in pairs)
    lost = sum(det(b) is not None and det(r) is None for b, r in pairs)
    deltas = [det(r) - det(b) for b, r in pairs if det(b) is not None and det(r) is not None]
    shares = [100 * float(r["source_share"]) for _, r in pairs]
    d = f"{statistics.median(deltas):+.0f} ({max(deltas):+.0f})" if deltas else "–"
    lost_s = f", {lost} lost" if lost else ""
    return (f"{hit}/{n}{lost_s}; {d}; {statistics.median(shares):.0f} % ({min(shares):.0f} %)")

def okv(rows, sc):
    r = [v for k, v in rows.items() if k[0] == sc]
    secs = sum(int(x["seconds"]) for x in r)
    over = sum(int(x["seconds_over_v"]) for x in r)
    mean = statistics.mean(float(x["variance_mean"]) for x in r)
    return f"{100 * (secs - over) / max(secs, 1):.0f} % ({mean:.1f})"

def absolute(sc):
    r = [base[k] for k in base if k[0] == sc]
    if not r:
        return "–"
    d = [det(x) for x in r if det(x) is not None]
    s = [100 * float(x["source_share"]) for x in r]
    dd = f"{statistics.median(d):.0f} s ({max(d):.0f} s)" if d else "–"
    return f"{sum(x is not None for x in map(det, r))}/{len(r)}; {dd}; {statistics.median(s):.0f} % ({min(s):.0f} %)"

for bound in ("same", "scaled"):
    cols = [(n, load(f"n{n}-{bound}")) for n in (2, 4, 8)]
    cols = [(n, r) for n, r in cols if r]
    print(f"\n### Each node's V: {bound}\n")
    print("| scenario | 1 node (absolute) | " + " | ".join(f"{n} nodes" for n, _ in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for sc in scen:
        print(f"| {sc} | {absolute(sc)} | " + " | ".join(cell(r, sc) for _, r in cols) + " |")

print("\n### Seconds with the whole cluster's variance ≤ V (mean variance, %²)\n")
cfgs = [("1 node", base)] + [(f"{n} {b}", load(f"n{n}-{b}")) for b in ("same", "scaled") for n in (2, 4, 8)]
cfgs = [(n, r) for n, r in cfgs if r]
print("| scenario | " + " | ".join(n for n, _ in cfgs) + " |")
print("|---|" + "---|" * len(cfgs))
for sc in scen:
    print(f"| {sc} | " + " | ".join(okv(r, sc) for _, r in cfgs) + " |")

extra = [("n4-scaled-pair", "4 nodes, scaled, broker hashes the pair of /24s"),
         ("n4-scaled-prefix16", "4 nodes, scaled, broker hashes the inside /16")]
extra = [(load(n), what) for n, what in extra if load(n)]
if extra:
    print("\n### Other keys\n")
    print("| configuration | scenario | against 1 node |")
    print("|---|---|---|")
    for rows, what in extra:
        for sc in dict.fromkeys(k[0] for k in rows):
            print(f"| {what} | {sc} | {cell(rows, sc)} |")
PY
