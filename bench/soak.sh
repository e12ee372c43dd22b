#!/usr/bin/env bash
# Soak: a long flood of new flows streamed through `blb balance -r -`, its resident memory
# sampled, checked flat after warm-up and under the ceiling the caps give (docs/memory.md).
#
#   bench/soak.sh                         both cases below, hash and blb
#   bench/soak.sh RATE SECONDS [ALGO...]  one case: RATE new flows/s for SECONDS of capture
#
# The flood is `blb generate syn-flood`: every SYN from a fresh source address and port, so
# every packet is a new flow (60-byte frames, one victim). The cases of issue 12: 100 000 new
# flows/s for 3 600 s (360 M packets), and 1 000 000/s for 600 s (600 M packets). The
# sensors' outputs are /dev/null (symbolic links in the output directory), so nothing but
# blb's own memory grows. Every INTERVAL seconds (10) of wall time the balancer's VmRSS is
# read from /proc/PID/status, and the capture time it has reached from the bytes it has read
# (/proc/PID/io rchar: 76 bytes a record). Samples before WARMUP (10 %, at least 60 s, of
# capture time) are the warm-up; after it the largest sample must be within TOLERANCE
# (10 %) of the smallest, and every sample under the ceiling.
#
# Environment: BLB (target/release/blb, built if absent), SENSORS (4), FLOW_CAP (524288, the
# default), INTERVAL (10), OUT (results/soak): per run a CSV of the samples and blb's JSON
# summary; a line per run in $OUT/soak.txt. Exit status 1 when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

SENSORS=${SENSORS:-4}
FLOW_CAP=${FLOW_CAP:-524288}
INTERVAL=${INTERVAL:-10}
TOLERANCE=${TOLERANCE:-10}
OUT=${OUT:-results/soak}
if [ -z "${BLB:-}" ]; then
  cargo build --release -q -p blb
  BLB=target/release/blb
fi
mkdir -p "$OUT"

MIB=1048576
next_pow2() { local n=1; while [ "$n" -lt "$1" ]; do n=$((n * 2)); done; echo "$n"; }

# The ceiling, in bytes, from the caps (docs/memory.md gives each term).
ceiling() {
  local algo=$1
  local program=$((16 * MIB))
  local entries=$(($(next_pow2 "$FLOW_CAP") * (128 + 4)))
  local index=$(($(next_pow2 $((FLOW_CAP * 16 / 7 + 1))) * 49))
  local fragments=$(($(next_pow2 $((65536 * 16 / 7 + 1))) * 57 + 2 * 65536 * 48))
  # Held fragments: 2 × fragment_hold_bytes, the records (fragment_hold_bytes / 256 × 176)
  # and the datagrams (fragment_hold_datagrams × 448), as docs/memory.md writes it.
  local hold=$((2 * 4 * MIB + 4 * MIB / 256 * 176 + 4096 * 448))
  local destinations=$(($(next_pow2 $((1048576 * 8 / 7))) * 41))
  local samples=$((2 * 3600 * 32))
  local writer=$(((SENSORS + 33) * MIB))
  local blb=0
  if [ "$algo" = blb ]; then
    # One slot of 40 bytes per live flow; at most 65 536 clusters, 1.2 KiB each measured,
    # 1.5 KiB in the ceiling (docs/memory.md).
    blb=$(($(next_pow2 "$FLOW_CAP") * 40 + 65536 * 1536))
  fi
  echo $((program + entries + index + fragments + hold + destinations + samples + writer + blb))
}

run() {
  local rate=$1 secs=$2 algo=$3
  local name="$algo-${rate}-per-s-${secs}-s"
  local dir csv summary
  dir=$(mktemp -d "${TMPDIR:-/tmp}/blb-soak.XXXXXX")
  for ((i = 0; i < SENSORS; i++)); do ln -s /dev/null "$dir/sensor-$i.pcap"; done
  csv="$OUT/$name.csv"
  summary="$OUT/$name.json"
  local limit
  limit=$(ceiling "$algo")
  echo "== $name: ceiling $((limit / MIB)) MiB" >&2
  echo "wall_s,capture_s,rss_kib" >"$csv"
  local started=$SECONDS
  "$BLB" generate syn-flood --syn-rate "$rate" --duration "$secs" --training 0 \
    --background-rate 0 --seed 1 --write - 2>/dev/null |
    "$BLB" balance -r - --sensors "$SENSORS" --algorithm "$algo" --flow-cap "$FLOW_CAP" \
      --hash-key 000102030405060708090a0b0c0d0e0f --write-dir "$dir" --summary "$summary" \
      --no-progress 2>/dev/null &
  local pid=$!
  # $! is the pipeline's last command, blb balance.
  while kill -0 "$pid" 2>/dev/null; do
    local rss rchar
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    rchar=$(awk '/^rchar:/ {print $2}' "/proc/$pid/io" 2>/dev/null || true)
    if [ -n "$rss" ] && [ -n "$rchar" ]; then
      echo "$((SECONDS - started)),$(echo "($rchar - 24) / 76 / $rate" | bc -l | xargs printf '%.1f'),$rss" >>"$csv"
    fi
    sleep "$INTERVAL"
  done
  wait "$pid" || { echo "$name: blb balance failed" >&2; rm -rf "$dir"; return 1; }
  rm -rf "$dir"
  local warmup=$((secs / 10 > 60 ? secs / 10 : 60))
  local packets
  packets=$(grep -m1 '"packets_in"' "$summary" | tr -dc 0-9)
  awk -F, -v w="$warmup" -v tol="$TOLERANCE" -v lim="$limit" -v name="$name" \
    -v wall="$((SECONDS - started))" -v packets="$packets" '
    NR > 1 && $2 >= w { n++; if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
    NR > 1 { if ($3 > peak) peak = $3 }
    END {
      flat = (n > 0 && max <= min * (1 + tol / 100)); under = (peak * 1024 <= lim)
      printf "%s: %d packets in %d s; RSS after warm-up %.1f to %.1f MiB (%d samples, %s within %d %%), peak %.1f MiB, ceiling %.1f MiB (%s)\n",
        name, packets, wall, min / 1024, max / 1024, n, flat ? "flat" : "NOT flat", tol,
        peak / 1024, lim / 1048576, under ? "under" : "ABOVE"
      exit !(flat && under)
    }' "$csv" | tee -a "$OUT/soak.txt"
}

status=0
if [ $# -ge 2 ]; then
  rate=$1 secs=$2
  shift 2
  for algo in "${@:-hash blb}"; do
    for a in $algo; do run "$rate" "$secs" "$a" || status=1; done
  done
else
  for algo in hash blb; do run 100000 3600 "$algo" || status=1; done
  for algo in hash blb; do run 1000000 600 "$algo" || status=1; done
fi
exit $status
