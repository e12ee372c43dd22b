#!/usr/bin/env bash
# The detection suite (blb experiment --suite) and the ablations behind docs/robust-blb.md.
#
#   bench/detection.sh            the suite, 20 seeds (results/suite/), then the ablations
#   SEEDS=10 bench/detection.sh   fewer seeds
#   ABLATIONS=0 bench/detection.sh
#
# The suite lays the attack captures of ../shared/pcaps/ddos over generated background when
# that folder is there. Each ablation removes one part of robust BLB (or adds one to the
# paper's) and runs the scenarios where that part matters; the table prints robust BLB's
# column ("blb", or "blb-paper" for the variants built on the paper's weights).
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-20}
ABLATIONS=${ABLATIONS:-1}
OUT=${OUT:-results}
cargo build --release -q -p blb
BLB=target/release/blb

echo "== detection suite, $SEEDS seeds per scenario"
"$BLB" experiment --suite --seeds "$SEEDS" --no-progress --out "$OUT/suite"

[ "$ABLATIONS" = 1 ] || exit 0
scenarios=(--only flood --only flood-no-training --only flood-late --only flood-1MBps
  --only heavy-background --only two-floods --only syn-flood)
run() { # name column flags...
  local name=$1 column=$2
  shift 2
  "$BLB" experiment --suite --seeds "$SEEDS" --no-progress --out "$OUT/ablation-$name" \
    "${scenarios[@]}" "$@" >/dev/null
  python3 - "$OUT/ablation-$name/suite.json" "$name" "$column" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cells = []
for a in r["aggregates"]:
    if a["algorithm"] != sys.argv[3]:
        continue
    within = f'{a["within_slack"]}/{a["single_detected"]}' if a["single_detected"] else "–"
    d = a["delay_median"]
    ok = 100 * (a["seconds"] - a["seconds_over_v"]) / max(a["seconds"], 1)
    cells.append(f'{a["scenario"]}: {"%+.0f" % d if d is not None else "–"} s, {a["misses"]} miss, '
                 f'{within} ≤+3 s, share {100 * a["source_share_median"]:.0f} %, ≤V {ok:.1f} %')
print(f"{sys.argv[2]:<22} " + " | ".join(cells))
PY
}
echo "== ablations, $SEEDS seeds: delay median vs single, misses, runs within +3 s, median share, seconds ≤ V"
run robust blb
run no-join-distance blb --join-distance 1
run no-mass-weights blb-paper --blb-variant paper --join-distance 0.5 --headroom 0.03 --noise-sigmas 2 --start on-line
run no-noise blb --no-noise
run no-headroom blb --headroom 0
run warm-up-start blb --start warm-up
run paper blb-paper
