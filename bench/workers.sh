#!/usr/bin/env bash
# What K live balancing workers cost in detection: the detection suite (blb experiment
# --suite) with the engine fed in the order K fanout rings would hand it the packets
# (--workers K, see crates/blb/src/experiment/workers.rs), against one worker, seed by seed.
# Usage: bench/workers.sh            # K = 2 and 4, 20 seeds
#        WORKERS="2" SEEDS=5 OUT=/tmp/w bench/workers.sh
# Prints one table per K (bench/workers_compare.py): per scenario, for blb and blb-paper, the
# change of detection delay, detections lost and gained, the largest share of attack sources
# and the seconds within V. Takes about 1.5 minutes per suite on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-"2 4"}
SEEDS=${SEEDS:-20}
OUT=${OUT:-$(mktemp -d /tmp/blb-workers.XXXXXX)}
die() { echo "workers.sh: $*" >&2; exit 1; }
[[ $SEEDS =~ ^[0-9]+$ ]] && [ "$SEEDS" -ge 1 ] || die "SEEDS must be a whole number of at least 1"
for k in $WORKERS; do
  [[ $k =~ ^[0-9]+$ ]] && [ "$k" -ge 2 ] && [ "$k" -le 64 ] || die "WORKERS are 2 to 64, not '$k'"
done
command -v python3 >/dev/null || die "python3 is needed"
cargo build --release -q -p blb
runs=()
for k in 1 $WORKERS; do
  echo "suite with --workers $k, $SEEDS seeds -> $OUT/w$k"
  target/release/blb experiment --suite --no-progress --seeds "$SEEDS" --workers "$k" \
    --out "$OUT/w$k" >"$OUT/w$k.log" 2>&1 || { cat "$OUT/w$k.log" >&2; die "the suite failed"; }
  runs+=("$OUT/w$k/runs.csv")
done
python3 bench/workers_compare.py "${runs[@]}"
