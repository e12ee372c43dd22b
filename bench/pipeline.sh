#!/usr/bin/env bash
# Pipeline benchmark: `blb balance` against `tcpdump -r in.pcap -w out.pcap` on the same
# generated capture (at least 2 million packets), run alternately, reported as the ratio of
# wall times (median of the runs). Usage:
#   bench/pipeline.sh [ALGORITHM...]        default: hash
#   RUNS=5 SCENARIO=background RATE=20000 DURATION=100 bench/pipeline.sh hash blb
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
SCENARIO=${SCENARIO:-background}
RATE=${RATE:-20000}
DURATION=${DURATION:-100}
SENSORS=${SENSORS:-10}
ALGORITHMS=("${@:-hash}")
# tmpfs by default: the figures then compare processing, not the disk's writeback.
WORK=${WORK:-$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp )/blb-bench.XXXXXX")}

command -v tcpdump >/dev/null || { echo "tcpdump is needed (apt-get install tcpdump)" >&2; exit 1; }
cargo build --release -q -p blb
BLB=target/release/blb

IN="$WORK/in.pcap"
if [ ! -s "$IN" ]; then
  case "$SCENARIO" in
    background) "$BLB" generate background --write "$IN" --duration "$DURATION" --background-rate "$RATE" ;;
    syn-flood) "$BLB" generate syn-flood --write "$IN" --duration "$DURATION" --syn-rate "$RATE" --background-rate 100 ;;
    udp-flood) "$BLB" generate udp-flood --write "$IN" --duration "$DURATION" --attack-rate "$((RATE * 1024))" --attackers 1000000 --join-rate 10000 ;;
    *) echo "unknown SCENARIO $SCENARIO" >&2; exit 2 ;;
  esac
fi
PACKETS=$(capinfos -c -M "$IN" 2>/dev/null | awk '/Number of packets/ {print $NF}' || echo "?")
SIZE=$(stat -c %s "$IN")
echo "input: $IN, $PACKETS packets, $SIZE bytes ($SCENARIO)"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -A times
for ((r = 1; r <= RUNS; r++)); do
  rm -f "$WORK/copy.pcap"
  t0=$(now); tcpdump -r "$IN" -w "$WORK/copy.pcap" 2>/dev/null; t1=$(now)
  times[tcpdump]+="$(elapsed "$t0" "$t1") "
  for a in "${ALGORITHMS[@]}"; do
    rm -rf "$WORK/out-$a"
    t0=$(now)
    "$BLB" balance -r "$IN" --sensors "$SENSORS" --algorithm "$a" --write-dir "$WORK/out-$a" \
      --hash-key 000102030405060708090a0b0c0d0e0f --no-progress --summary "$WORK/summary-$a.json" 2>/dev/null
    t1=$(now)
    times[$a]+="$(elapsed "$t0" "$t1") "
  done
done

base=$(echo "${times[tcpdump]}" | tr ' ' '\n' | grep . | median)
printf '%-12s %10s %12s %10s\n' command median_s Mpackets/s ratio
printf '%-12s %10.3f %12.2f %10s\n' tcpdump "$base" "$(echo "$PACKETS / $base / 1000000" | bc -l)" 1.00
for a in "${ALGORITHMS[@]}"; do
  m=$(echo "${times[$a]}" | tr ' ' '\n' | grep . | median)
  printf '%-12s %10.3f %12.2f %10.2f\n' "blb-$a" "$m" "$(echo "$PACKETS / $m / 1000000" | bc -l)" "$(echo "$m / $base" | bc -l)"
done
echo "(ratio = blb wall time / tcpdump wall time, median of $RUNS alternating runs; lower is better)"
