#!/usr/bin/env bash
# Longer fuzzing: every blb-fuzz target, MINUTES in all (default 30), shared evenly, seeded
# from ../shared/pcaps when it is there. Failing inputs are kept in fuzz-crashes/ (replay one
# with: target/release/blb-fuzz --target NAME --replay FILE). Exit status 1 if any input broke
# an invariant, 3 on a hang.
#
#   bench/fuzz.sh                 30 minutes
#   MINUTES=5 SEED=7 bench/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${MINUTES:-30}
SEED=${SEED:-$(date +%s)}
cargo build --release -q -p blb-fuzz
echo "== blb-fuzz, $MINUTES minutes, seed $SEED"
target/release/blb-fuzz --seconds "$((MINUTES * 60))" --total-execs 100000000000 --seed "$SEED"
