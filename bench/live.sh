#!/usr/bin/env bash
# Live benchmark, on veth in a network namespace, 'blb balance -i in0' forwarding to SENSORS
# sensor veths. Two measurements, per algorithm and frame size:
#  * CPU per forwarded packet at fixed offered rates (RATES): the user + system time of every
#    blb thread (deltas of /proc/PID/task/*/stat while the generator runs and blb drains),
#    divided by the frames blb's deliveries sent; the main (balancing) thread and the sensor
#    threads apart; REPEAT runs per rate, the median shown;
#  * the highest rate forwarded with NO loss (SEARCH=1), found at increasing rates, beside the
#    generator alone and a baseline without blb ('tcpdump -w /dev/null' on the capture veth).
# The generator is trafgen (netsniff-ng; GEN=trafgen, the default when installed) or
# tcpreplay (GEN=tcpreplay). Needs root, ip, python3, trafgen or tcpreplay (and tcpdump for
# the baseline). Usage:
#   sudo bench/live.sh
#   ALGOS="hash blb" SIZES="64 1024" RATES="50000 100000 200000" SENSORS=4 bench/live.sh
#   SEARCH=0 REPEAT=5 RATES=100000 bench/live.sh       # CPU per packet only
# SINK=ifb makes the sensor interfaces ifb devices instead of veth pairs, whose peer's receive
# runs in blb's delivery threads: ifb frees every frame that tc did not redirect to it, counting
# it in its own rx_packets, which the step counts as delivered. That is blb's cost with
# the transmit side only, nearer to a NIC's. QDISC_BYPASS=1 sets qdisc_bypass = true on every
# sensor (PACKET_QDISC_BYPASS: frames go straight to the driver). WORKERS ("1 2") lists the balancing workers (--workers) each algorithm runs with; rows are
# labelled ALGO/K, and the balancing threads (main and blb-worker-*) are summed as main_ns.
# FRAMES is the size of each tcpreplay capture (trafgen sends one packet per flow round robin);
# a step lasts STEP_SECONDS (5) at the rate asked (at least 20 000 frames). Other settings:
# FLOWS (2000), START_PPS (20000), FACTOR (1.5), MAX_PPS (2000000), BISECT (2 bisection
# steps), SETTLE (0.25 s blb gets, after the generator, to finish before SIGTERM: frames still
# in its ring then count as lost), BASELINE (1; 0 skips it), METRICS (9187; empty: no metrics
# endpoint), TCPREPLAY_OPTS / TRAFGEN_OPTS (extra flags), BLB (the binary; by default
# target/release/blb, built first), WORK (scratch directory, kept; by default a fresh one on
# /dev/shm, removed unless KEEP=1). Takes 10 to 15 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

FRAMES=${FRAMES:-200000}
SENSORS=${SENSORS:-4}
ALGOS=${ALGOS:-"hash blb"}
WORKERS=${WORKERS:-"1 2"}
SINK=${SINK:-veth}
QDISC_BYPASS=${QDISC_BYPASS:-0}
SIZES=${SIZES:-"64 1024"}
FLOWS=${FLOWS:-2000}
START_PPS=${START_PPS:-20000}
FACTOR=${FACTOR:-1.5}
MAX_PPS=${MAX_PPS:-2000000}
BISECT=${BISECT:-2}
STEP_SECONDS=${STEP_SECONDS:-5}
SETTLE=${SETTLE:-0.25}
BASELINE=${BASELINE:-1}
METRICS=${METRICS-9187}
TCPREPLAY_OPTS=${TCPREPLAY_OPTS:-}
TRAFGEN_OPTS=${TRAFGEN_OPTS:-}
RATES=${RATES-"50000 100000 200000"}
REPEAT=${REPEAT:-3}
SEARCH=${SEARCH:-1}
KEEP=${KEEP:-0}
if [ -z "${GEN:-}" ]; then
  if command -v trafgen >/dev/null; then GEN=trafgen; else GEN=tcpreplay; fi
fi
# A step whose achieved rate is under this fraction of the requested one is generator-bound.
REACH=0.95

die() { echo "live.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, AF_PACKET)"
case "$GEN" in trafgen | tcpreplay) ;; *) die "GEN must be trafgen or tcpreplay, not '$GEN'" ;; esac
case "$SINK" in veth | ifb) ;; *) die "SINK must be veth or ifb, not '$SINK'" ;; esac
for t in ip "$GEN" python3; do
  command -v "$t" >/dev/null || die "$t is needed (apt-get install iproute2 netsniff-ng tcpreplay python3)"
done
if [ "$BASELINE" = 1 ] && [ "$SEARCH" = 1 ] && ! command -v tcpdump >/dev/null; then
  echo "tcpdump is not installed: the no-blb baseline is skipped" >&2
  BASELINE=0
fi
for v in FRAMES SENSORS FLOWS START_PPS MAX_PPS BISECT STEP_SECONDS REPEAT SEARCH; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$SENSORS" -ge 1 ] && [ "$SENSORS" -le 64 ] || die "SENSORS must be 1 to 64"
[ "$FRAMES" -ge 1000 ] || die "FRAMES must be at least 1000"
[ "$START_PPS" -ge 1000 ] || die "START_PPS must be at least 1000"
[ "$STEP_SECONDS" -ge 1 ] || die "STEP_SECONDS must be at least 1"
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"
for s in $SIZES; do
  [[ $s =~ ^[0-9]+$ ]] && [ "$s" -ge 60 ] && [ "$s" -le 9000 ] || die "frame sizes are 60 to 9000 bytes, not '$s'"
done
for r in $RATES; do
  [[ $r =~ ^[0-9]+$ ]] && [ "$r" -ge 1000 ] || die "RATES are whole packets/s of at least 1000, not '$r'"
done
for a in $ALGOS; do
  case "$a" in single | round-robin | hash | blb) ;; *) die "unknown algorithm '$a'" ;; esac
done
COMBOS=""
for a in $ALGOS; do
  for w in $WORKERS; do
    [[ $w =~ ^[0-9]+$ ]] && [ "$w" -ge 1 ] && [ "$w" -le 64 ] || die "WORKERS are 1 to 64, not '$w'"
    COMBOS+="$a/$w "
  done
done
if [ "$GEN" = trafgen ]; then
  GEN_HOW="trafgen -P 1 -b RATEpps (one process, pinned by trafgen to CPU 0; sendto(2) per
frame at the rate asked; one configured packet per flow, sent round robin)"
else
  GEN_HOW="tcpreplay --pps=RATE --loop=0 (a $FRAMES-frame capture, looped; it busy-waits)"
fi

cat <<EOF
== blb live benchmark ==
What: 'blb balance -i in0' forwarding from veth in0 to $SENSORS sensor veths, per algorithm
and workers ($COMBOS) and frame size ($SIZES bytes, the frame as captured, without FCS); $FLOWS UDP flows.
Generator: $GEN_HOW, into in0's peer in0p.
CPU per forwarded packet (RATES: ${RATES:-none}; $REPEAT runs each): blb starts, then the
generator runs ${STEP_SECONDS} s at the rate; the CPU time (user + system) of every thread of
blb from just before the generator to ${SETTLE} s after it (deltas of /proc/PID/task/*/schedstat,
in ns; the user share from .../stat), divided by the frames blb's deliveries sent (the
summary's sent_packets).
System time includes the kernel's work in blb's threads: the AF_PACKET sends and the veth
peer's receive path, which the kernel runs in the sender's context. The capture side's kernel
work (veth receive into blb's ring) runs in the generator's context and is not counted.
No-loss search (SEARCH=$SEARCH): from $START_PPS pps, x$FACTOR until a step loses frames (or the
generator twice cannot reach the rate asked, or $MAX_PPS), then $BISECT bisection steps; blb
restarts for every step and gets ${SETTLE} s after the generator before SIGTERM.
A step passes when the generator's sent count == blb's packets_in == the frames its capture saw
== the sum of rx_packets on the sensors' veth peers, with no kernel (ring) drops, no blb drops,
no full queues and no send errors. 'achieved' is the rate the generator reports.
Baseline (no blb): the generator into in0p, in0 sniffed by 'tcpdump -w /dev/null' (64 MiB
ring, as blb's); passes when tcpdump's 'received by filter' == sent and it dropped nothing.
Caveat: this machine has $(nproc) core(s) (load average now: $(cut -d' ' -f1-3 /proc/loadavg));
blb, the generator and the kernel's veth/softirq work compete for them, so rates are those of
this shared box, not of blb alone. CPU per packet is the figure that carries across machines.
EOF

if [ -z "${BLB:-}" ]; then
  echo "building: cargo build --release -p blb"
  cargo build --release -q -p blb
  BLB=$PWD/target/release/blb
fi
[ -x "$BLB" ] || die "$BLB is not an executable"

# tmpfs by default (the captures are replayed from it); a WORK of one's own is never removed.
OWN_WORK=0
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d "$([ -d /dev/shm ] && echo /dev/shm || echo /tmp)/blb-live.XXXXXX")
  OWN_WORK=1
fi
mkdir -p "$WORK"
NS="blb-live-$$-$RANDOM"

cleanup() {
  local rc=$?
  set +e
  if ip netns list 2>/dev/null | grep -qw "$NS"; then
    # Processes this script started inside the namespace (blb, the generator, tcpdump).
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
  fi
  if [ "$OWN_WORK" = 1 ] && [ "$KEEP" != 1 ]; then rm -rf "$WORK"; else echo "scratch left in $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inns() { ip netns exec "$NS" "$@"; }

# --- frames -------------------------------------------------------------------------------
for s in $SIZES; do
  f="$WORK/frames-$s.pcap"
  [ -s "$f" ] || python3 bench/live_frames.py "$f" "$WORK/frames-$s.cfg" "$FRAMES" "$s" "$FLOWS"
done
echo "frames: $FLOWS UDP flows of each size ($SIZES bytes), in $WORK"

# --- the namespace ------------------------------------------------------------------------
ip netns add "$NS"
inns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
inns ip link set lo up
veth() {
  inns ip link add "$1" type veth peer name "$2"
  inns ip link set "$1" mtu 9000 up
  inns ip link set "$2" mtu 9000 up
}
veth in0 in0p
CFG="$WORK/blb.toml"
: >"$CFG"
for ((i = 0; i < SENSORS; i++)); do
  if [ "$SINK" = ifb ]; then
    inns ip link add "s$i" type ifb
    inns ip link set "s$i" mtu 9000 up
  else
    veth "s$i" "s${i}p"
  fi
  printf '[[sensor]]\ninterface = "s%d"\n' "$i" >>"$CFG"
  if [ "$QDISC_BYPASS" = 1 ]; then echo "qdisc_bypass = true" >>"$CFG"; fi
done
echo "namespace: $NS (in0/in0p, sensors s0 .. s$((SENSORS - 1)): $SINK, mtu 9000)"

# Counters read in one go: in0 rx, sum of rx on s*p, sum of tx drops on s* (veth drops).
# With ifb sensors: in0 rx, the frames each ifb freed (its rx_packets), 0.
counters() {
  local files="/sys/class/net/in0/statistics/rx_packets"
  for ((i = 0; i < SENSORS; i++)); do
    if [ "$SINK" = ifb ]; then
      files+=" /sys/class/net/s$i/statistics/rx_packets"
    else
      files+=" /sys/class/net/s${i}p/statistics/rx_packets /sys/class/net/s$i/statistics/tx_dropped"
    fi
  done
  # shellcheck disable=SC2086
  inns grep -H . $files | awk -F: '
    /\/in0\// { in0 = $2 }
    /\/s[0-9]+p?\/statistics\/rx_packets/ { rx += $2 }
    /tx_dropped/ { vd += $2 }
    END { print in0 + 0, rx + 0, vd + 0 }'
}

# Wait until FILE contains TEXT while PID lives; 20 s at most.
wait_for() { # FILE TEXT PID WHAT
  local i
  for ((i = 0; i < 400; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "$4 exited before '$2':" >&2; cat "$1" >&2; return 1; }
    sleep 0.05
  done
  echo "$4 did not say '$2' within 20 s:" >&2
  cat "$1" >&2
  return 1
}

# Stop PID with SIGNAL; SIGKILL after 20 s. Returns its exit status.
stop() { # PID SIGNAL
  local i rc=0
  kill -"$2" "$1" 2>/dev/null || true
  for ((i = 0; i < 400; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$1" 2>/dev/null && { echo "pid $1 ignored SIG$2; killed" >&2; kill -KILL "$1" 2>/dev/null || true; }
  wait "$1" || rc=$?
  return "$rc"
}

now() { date +%s.%N; }

# Every thread of PID, one line each: "tid name utime stime runtime": utime and stime in clock
# ticks (/proc/PID/task/TID/stat), runtime in ns (the first field of .../schedstat: the same
# user + system time, to the nanosecond instead of the tick). Spaces in names become '_'.
threads() { # PID
  local d line tid name rest run
  for d in /proc/"$1"/task/*; do
    line=$(cat "$d/stat" 2>/dev/null) || continue
    run=$(cut -d' ' -f1 "$d/schedstat" 2>/dev/null) || continue
    tid=${line%% *}
    name=${line#*(}
    name=${name%)*}
    rest=${line##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo "$tid ${name// /_} ${12} ${13} $run"
  done
}

# CPU between two `threads` snapshots: "total main sensors other" in ns, then "user system"
# in ticks. The balancing threads are blb's pid and the other workers (blb-worker-K); the sensors' delivery threads carry
# the sensors' names (sensor-K).
cpu_delta() { # PID BEFORE AFTER
  awk -v pid="$1" 'NR == FNR { u[$1] = $3; s[$1] = $4; r[$1] = $5; next }
    { t = $5 - r[$1]; tot += t; us += $3 - u[$1]; sy += $4 - s[$1]
      if ($1 == pid || $2 ~ /^blb-worker/) main += t; else if ($2 ~ /^sensor-/) sen += t; else oth += t }
    # %.0f, not %d: mawk clamps %d at 2^31 - 1, and a step easily takes more than 2.1 s of CPU.
    END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", tot, main, sen, oth, us, sy }' "$2" "$3"
}

# The generator into in0p at PPS packets/s ("top": as fast as it can) for STEP_SECONDS (or
# 5 × FRAMES frames at top speed): sets SENT, ACHIEVED (pps), GEN_FAILED; its output is in
# $WORK/gen.out.
STEP=0
generate() { # SIZE PPS
  local size=$1 pps=$2 limit out="$WORK/gen.out" rate
  if [ "$pps" = top ]; then
    limit=$((FRAMES * 5))
  else
    limit=$((pps * STEP_SECONDS))
    ((limit < 20000)) && limit=20000
  fi
  # In the background and waited for, so that a signal stops the script at once.
  if [ "$GEN" = trafgen ]; then
    rate=()
    [ "$pps" = top ] || rate=(-b "${pps}pps")
    # shellcheck disable=SC2086
    ip netns exec "$NS" trafgen -o in0p -i "$WORK/frames-$size.cfg" -P 1 "${rate[@]}" -n "$limit" \
      -Q $TRAFGEN_OPTS >"$out" 2>&1 &
  else
    rate=(--topspeed)
    [ "$pps" = top ] || rate=(--pps="$pps")
    # shellcheck disable=SC2086
    ip netns exec "$NS" tcpreplay -i in0p "${rate[@]}" --loop=0 --limit="$limit" $TCPREPLAY_OPTS \
      "$WORK/frames-$size.pcap" >"$out" 2>&1 &
  fi
  if ! wait $!; then
    echo "$GEN failed:" >&2
    cat "$out" >&2
    return 1
  fi
  if [ "$GEN" = trafgen ]; then
    # "N packets outgoing" and, per process, "S sec, U usec on CPUk (N packets)": the time
    # its sending loop took (each line starts with a carriage return).
    SENT=$(tr -d '\r' <"$out" | awk '/packets outgoing/ {print $1}')
    ACHIEVED=$(tr -d '\r' <"$out" | awk -v n="${SENT:-0}" '/ on CPU/ {t += $1 + $3 / 1e6}
      END {if (t > 0) printf "%d", n / t + 0.5}')
    GEN_FAILED=0
  else
    SENT=$(awk '/Successful packets:/ {print $3}' "$out")
    GEN_FAILED=$(awk '/Failed packets:/ {print $3}' "$out")
    ACHIEVED=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /^pps/) {print int($(i - 1) + 0.5)}}' "$out")
  fi
  [ -n "$SENT" ] && [ -n "$ACHIEVED" ] || { echo "cannot read $GEN's report:" >&2; cat "$out" >&2; return 1; }
  GEN_FAILED=${GEN_FAILED:-0}
}

# One step through blb: sets PASS (1/0), WHY, SENT, ACHIEVED, FORWARDED (frames the deliveries
# sent), CPU (blb's CPU use from the generator's start to SETTLE after it, in % of one core),
# and CPU_NS, MAIN_NS, SENSORS_NS (CPU ns per forwarded frame: all threads, the balancing
# thread, the delivery threads), USER_PCT (the user share of it).
blb_step() { # ALGO/WORKERS SIZE PPS
  local algo=${1%/*} workers=${1#*/} size=$2 pps=$3 err sum pid rc=0
  STEP=$((STEP + 1))
  err="$WORK/blb-$STEP.err"
  sum="$WORK/summary-$STEP.json"
  rm -f "$err" "$sum"
  local metrics=()
  [ -n "$METRICS" ] && metrics=(--metrics "$METRICS")
  # Not through inns: $! must be blb's own pid (ip netns exec execs it).
  RUST_LOG=info ip netns exec "$NS" "$BLB" balance -i in0 -a "$algo" --workers "$workers" \
    --config "$CFG" --summary "$sum" "${metrics[@]}" >/dev/null 2>"$err" &
  pid=$!
  wait_for "$err" "live balancing started" "$pid" blb || exit 1
  sleep 0.2
  read -r in0_0 rx_0 vd_0 < <(counters)
  local t0 t1
  threads "$pid" >"$WORK/threads-0"
  t0=$(now)
  generate "$size" "$pps" || { stop "$pid" TERM || true; exit 1; }
  sleep "$SETTLE"
  threads "$pid" >"$WORK/threads-1"
  t1=$(now)
  stop "$pid" TERM || rc=$?
  read -r in0_1 rx_1 vd_1 < <(counters)
  if [ "$rc" != 0 ] || [ ! -s "$sum" ]; then
    echo "blb exited with status $rc (summary: $([ -s "$sum" ] && echo written || echo missing)):" >&2
    tail -20 "$err" >&2
    exit 1
  fi
  local verdict
  verdict=$(python3 - "$sum" "$SENT" "$GEN_FAILED" $((in0_1 - in0_0)) $((rx_1 - rx_0)) $((vd_1 - vd_0)) <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sent, failed, in0, delivered, vdrop = map(int, sys.argv[2:])
live = s["live"]
cap = live["capture"][0]
qf = sum(d["queue_full"] for d in live["delivery"])
se = sum(d["send_errors"] for d in live["delivery"])
rej = sum(d.get("frame_rejected", 0) for d in live["delivery"])
forwarded = sum(d["sent_packets"] for d in live["delivery"])
copies = s.get("copies", 0)
bad = []
if failed: bad.append(f"generator failed {failed}")
if in0 != sent: bad.append(f"in0 got {in0}")
if cap["received"] != sent: bad.append(f"capture saw {cap['received']}")
if cap["kernel_dropped"]: bad.append(f"kernel dropped {cap['kernel_dropped']}")
if s["packets_in"] != sent: bad.append(f"packets_in {s['packets_in']}")
if s["drops_total"]: bad.append(f"blb drops {s['drops_total']} {s.get('drops')}")
if qf: bad.append(f"queue full {qf}")
if se: bad.append(f"send errors {se}")
if rej: bad.append(f"rejected {rej}")
if vdrop: bad.append(f"veth drops {vdrop}")
if delivered != sent + copies: bad.append(f"sensors got {delivered}")
print(("1 " if not bad else "0 ") + str(forwarded) + " " + ("ok" if not bad else "; ".join(bad)).replace(" ", "_"))
PY
)
  read -r PASS FORWARDED WHY <<<"$verdict"
  WHY=${WHY//_/ }
  local tot main sen oth us sy
  read -r tot main sen oth us sy < <(cpu_delta "$pid" "$WORK/threads-0" "$WORK/threads-1")
  CPU=$(awk -v c="$tot" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%d", 100 * c / 1e9 / (t1 - t0) + 0.5}')
  per() { awk -v c="$1" -v n="$FORWARDED" 'BEGIN {if (n > 0) printf "%d", c / n + 0.5; else print "-"}'; }
  CPU_NS=$(per "$tot") MAIN_NS=$(per "$main") SENSORS_NS=$(per "$sen")
  USER_PCT=$(awk -v u="$us" -v s="$sy" 'BEGIN {if (u + s > 0) printf "%d", 100 * u / (u + s) + 0.5; else print "-"}')
  printf '  %-8s %5sB  ask %8s pps  sent %8s  achieved %8s pps  blb cpu %3s%%  %5s ns/pkt (main %s, sensors %s, user %s%%)  %s  %s\n' \
    "$algo" "$size" "$pps" "$SENT" "$ACHIEVED" "$CPU" "$CPU_NS" "$MAIN_NS" "$SENSORS_NS" "$USER_PCT" \
    "$([ "$PASS" = 1 ] && echo PASS || echo LOSS)" "$WHY"
}

# One baseline step: tcpdump on in0, no blb. Sets PASS, WHY, SENT, ACHIEVED.
base_step() { # SIZE PPS
  local size=$1 pps=$2 err pid
  STEP=$((STEP + 1))
  err="$WORK/tcpdump-$STEP.err"
  rm -f "$err"
  ip netns exec "$NS" tcpdump -i in0 -n -B 65536 -s 0 -w /dev/null 2>"$err" &
  pid=$!
  wait_for "$err" "listening on" "$pid" tcpdump || exit 1
  sleep 0.2
  read -r in0_0 _ _ < <(counters)
  generate "$size" "$pps" || { stop "$pid" INT || true; exit 1; }
  sleep "$SETTLE"
  stop "$pid" INT || true
  read -r in0_1 _ _ < <(counters)
  local got dropped bad=()
  got=$(awk '/packets received by filter/ {print $1}' "$err")
  dropped=$(awk '/packets dropped by kernel/ {print $1}' "$err")
  [ -n "$got" ] && [ -n "$dropped" ] || { echo "cannot read tcpdump's counts:" >&2; cat "$err" >&2; exit 1; }
  [ "$GEN_FAILED" = 0 ] || bad+=("generator failed $GEN_FAILED")
  [ $((in0_1 - in0_0)) = "$SENT" ] || bad+=("in0 got $((in0_1 - in0_0))")
  [ "$got" = "$SENT" ] || bad+=("tcpdump saw $got")
  [ "$dropped" = 0 ] || bad+=("tcpdump's kernel drops $dropped")
  if [ ${#bad[@]} = 0 ]; then PASS=1; WHY=ok; else PASS=0; WHY=$(IFS=';'; echo "${bad[*]}"); fi
  printf '  %-8s %5sB  ask %8s pps  sent %8s  achieved %8s pps  %13s  %s  %s\n' "no-blb" "$size" \
    "$pps" "$SENT" "$ACHIEVED" "" "$([ "$PASS" = 1 ] && echo PASS || echo LOSS)" "$WHY"
}

# A passing step: keep it if the generator achieved more than at any passing step before.
record() { # ASKED
  if ((ACHIEVED > BEST_ACH)); then BEST=$1 BEST_ACH=$ACHIEVED BEST_CPU="$CPU%"; fi
}

# The ramp and bisection for one (kind, size): sets BEST_ACH (the highest achieved rate of a
# passing step, 0 if none), BEST (the rate asked at that step), BEST_CPU (blb's CPU there),
# LIMIT (what stopped the ramp).
search() { # STEPFN [ALGO] SIZE
  local fn=$1
  shift
  local lo=0 hi=0 rate=$START_PPS mid n short=0
  BEST=0 BEST_ACH=0 BEST_CPU=- LIMIT="" CPU=-
  while :; do
    "$fn" "$@" "$rate"
    if [ "$PASS" = 1 ]; then
      lo=$rate
      record "$rate"
      if awk -v a="$ACHIEVED" -v r="$rate" -v k="$REACH" 'BEGIN {exit !(a < k * r)}'; then
        # The generator could not send at the rate asked, and nothing was lost. Twice in a
        # row means it is at its top; once may be a moment of CPU starvation on a small box.
        short=$((short + 1))
        if ((short >= 2)); then LIMIT="$GEN"; break; fi
      else
        short=0
      fi
      rate=$(awk -v r="$rate" -v f="$FACTOR" 'BEGIN {printf "%d", r * f / 1000 + 0.5}')
      rate=$((rate * 1000))
      if ((rate > MAX_PPS)); then LIMIT="MAX_PPS"; break; fi
    else
      hi=$rate
      LIMIT="loss"
      break
    fi
  done
  if [ "$LIMIT" = loss ]; then
    for ((n = 0; n < BISECT; n++)); do
      mid=$(((lo + hi) / 2000 * 1000))
      ((mid <= lo || mid >= hi)) && break
      "$fn" "$@" "$mid"
      if [ "$PASS" = 1 ]; then lo=$mid; record "$mid"; else hi=$mid; fi
    done
    LIMIT="loss at $hi"
  fi
}

# REPEAT steps at one fixed rate: sets RATE_ROW (the row of the CPU table: the median run
# by CPU per packet, the range, and how many runs lost nothing).
at_rate() { # ALGO SIZE PPS
  local k runs=() passes=0 med lo hi c m s u a f
  for ((k = 0; k < REPEAT; k++)); do
    blb_step "$@"
    [ "$PASS" = 1 ] && passes=$((passes + 1))
    runs+=("$CPU_NS $MAIN_NS $SENSORS_NS $USER_PCT $ACHIEVED $FORWARDED")
  done
  med=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((REPEAT + 1) / 2))p")
  lo=$(printf '%s\n' "${runs[@]}" | sort -n | head -1 | cut -d' ' -f1)
  hi=$(printf '%s\n' "${runs[@]}" | sort -n | tail -1 | cut -d' ' -f1)
  read -r c m s u a f <<<"$med"
  RATE_ROW=$(printf '%-8s %5s %8s | %8s %9s %6s/%-3s | %6s %-13s %6s %8s %5s' "$1" "$2" "$3" "$a" "$f" \
    "$passes" "$REPEAT" "$c" "($lo-$hi)" "$m" "$s" "$u%")
}

declare -A RES_BEST RES_ACH RES_CPU RES_LIMIT BASE_BEST BASE_ACH BASE_LIMIT TOP RATE_ROWS
t_start=$(date +%s)

for s in $SIZES; do
  # The generator's own ceiling into the veth, nobody listening.
  generate "$s" top || exit 1
  TOP[$s]=$ACHIEVED
  echo "$GEN at top speed into in0p, ${s}-byte frames, nobody listening: ${TOP[$s]} pps"
done

for s in $SIZES; do
  for a in $COMBOS; do
    for r in $RATES; do
      echo "-- blb -a ${a%/*} --workers ${a#*/}, ${s}-byte frames, $r pps offered, $REPEAT runs"
      at_rate "$a" "$s" "$r"
      RATE_ROWS[$a,$s,$r]=$RATE_ROW
    done
    if [ "$SEARCH" = 1 ]; then
      echo "-- blb -a ${a%/*} --workers ${a#*/}, ${s}-byte frames: the highest rate with no loss"
      search blb_step "$a" "$s"
      RES_BEST[$a,$s]=$BEST RES_ACH[$a,$s]=$BEST_ACH RES_CPU[$a,$s]=$BEST_CPU RES_LIMIT[$a,$s]=$LIMIT
    fi
  done
  if [ "$SEARCH" = 1 ] && [ "$BASELINE" = 1 ]; then
    echo "-- baseline (no blb), ${s}-byte frames"
    search base_step "$s"
    BASE_BEST[$s]=$BEST BASE_ACH[$s]=$BEST_ACH BASE_LIMIT[$s]=$LIMIT
  fi
done

echo
echo "== results ($(nproc) cores, $SENSORS sensors, $FLOWS flows, $GEN, ${STEP_SECONDS} s steps, $(($(date +%s) - t_start)) s; load average now $(cut -d' ' -f1-3 /proc/loadavg)) =="
if [ -n "$RATES" ]; then
  printf '%-8s %5s %8s | %8s %9s %10s | %6s %-13s %6s %8s %5s\n' algo frame offered achieved forwarded no-loss \
    cpu_ns "(min-max)" main_ns sensors user
  for s in $SIZES; do
    for a in $COMBOS; do
      for r in $RATES; do echo "${RATE_ROWS[$a,$s,$r]}"; done
    done
  done
  cat <<EOF
(CPU per forwarded packet, ns: user + system time of every blb thread over the step, divided by
the frames its deliveries sent; the median of $REPEAT runs by that figure, its range, and
the balancing thread (main_ns) and delivery threads (sensors) of the median run; 'user' is
the user-space share. achieved: what $GEN reports for that run; no-loss: runs that lost
nothing, out of $REPEAT.)
EOF
fi
if [ "$SEARCH" = 1 ]; then
  row() { printf '%-11s %5s | %10s %10s %7s %-15s | %10s %10s %-15s | %10s\n' "$@"; }
  row algo frame noloss_pps asked_pps blb_cpu stopped_by base_pps base_asked base_stopped gen_top
  for s in $SIZES; do
    for a in $COMBOS; do
      if [ "$BASELINE" = 1 ]; then
        ba=${BASE_ACH[$s]} bb=${BASE_BEST[$s]} bl=${BASE_LIMIT[$s]}
      else
        ba=- bb=- bl=-
      fi
      row "$a" "$s" "${RES_ACH[$a,$s]}" "${RES_BEST[$a,$s]}" "${RES_CPU[$a,$s]}" "${RES_LIMIT[$a,$s]}" "$ba" "$bb" "$bl" "${TOP[$s]}"
    done
  done
  cat <<EOF
(packets/s. noloss_pps: the highest rate $GEN achieved in a step that lost no frame through
blb; asked_pps: the rate asked at that step (0: no step passed); blb_cpu: blb's CPU use (all
threads) during that step, in % of one core. stopped_by: 'loss at R' = the lowest rate asked
that lost frames; '$GEN' = the generator fell under ${REACH}x of the rate asked in two steps in
a row while nothing was lost, so the figure is the generator's ceiling on this box (blb's own
limit is higher); 'MAX_PPS' = the cap. base_*: the same search with no blb, only
'tcpdump -w /dev/null' sniffing in0. gen_top: $GEN at top speed into in0p, nobody listening.
On $(nproc) cores the generator, blb and the kernel share the CPUs: the limits are those of
this box, not of blb alone, and move by 10-20 % between runs.)
EOF
fi
