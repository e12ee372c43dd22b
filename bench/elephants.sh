#!/usr/bin/env bash
# Elephant flows and the per-flow cutoff: per-second load variance over 4 sensors of a
# generated capture in which one TCP download carries about 90 % of the bytes, with and
# without a cutoff, for blb, hash and round-robin, over many seeds. Prints, per (capacity,
# cutoff, algorithm), the median and worst of each run's highest per-second variance, and how
# many runs had a second above V = 9.
#
#   bench/elephants.sh             20 seeds, 30 s each
#   SEEDS=5 DURATION=10 bench/elephants.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-20}
DURATION=${DURATION:-30}
BACKGROUND=${BACKGROUND:-200}
CAPACITIES=${CAPACITIES:-"1000000 2000000"}
CUTOFFS=${CUTOFFS:-"none 20000 50000 100000"}
cargo build --release -q -p blb
BLB=$PWD/target/release/blb
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for seed in $(seq 1 "$SEEDS"); do
  "$BLB" generate elephant -w "$TMP/e.pcap" --duration "$DURATION" \
    --background-rate "$BACKGROUND" --seed "$seed" >/dev/null 2>&1
  for cap in $CAPACITIES; do
    for cut in $CUTOFFS; do
      for alg in blb hash round-robin; do
        extra=()
        [ "$cut" = none ] || extra=(--flow-cutoff-bytes "$cut")
        "$BLB" balance -r "$TMP/e.pcap" -w "$TMP/out" -n 4 -a "$alg" --capacity "$cap" \
          --no-progress "${extra[@]}" --summary "$TMP/s.json" >/dev/null 2>&1
        python3 - "$TMP/s.json" "$seed" "$cap" "$cut" "$alg" >>"$TMP/rows" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["load"]
print(*sys.argv[2:], s["variance_max"], s["seconds_over_bound"])
EOF
      done
    done
  done
done

python3 - "$TMP/rows" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    seed, cap, cut, alg, vmax, over = line.split()
    runs[(int(cap), cut, alg)].append((float(vmax), int(over)))
print(f"{'capacity B/s':>12} {'cutoff':>7} {'algorithm':<12} {'runs':>4} "
      f"{'max var median':>14} {'worst':>8} {'runs with a second > V':>22}")
for (cap, cut, alg), v in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][1] != "none", kv[0][1], kv[0][2])):
    m = [x[0] for x in v]
    bad = sum(1 for x in v if x[1] > 0)
    print(f"{cap:>12} {cut:>7} {alg:<12} {len(v):>4} {statistics.median(m):>14.2f} "
          f"{max(m):>8.2f} {bad:>22}")
EOF
