#!/usr/bin/env bash
# Live benchmark: the highest packet rate that `blb balance -i` forwards on veth with NO loss,
# per algorithm and frame size, found by tcpreplay at increasing --pps, beside the rate
# tcpreplay itself achieved and a baseline without blb (tcpreplay into a veth whose peer is
# sniffed by `tcpdump -w /dev/null`, nothing forwarded). Needs root, ip, tcpreplay, python3
# (and tcpdump for the baseline). Usage:
#   sudo bench/live.sh
#   ALGOS="hash blb" SIZES="64 1024" FRAMES=200000 SENSORS=4 bench/live.sh
# FRAMES is the size of each generated capture; a step loops it for STEP_SECONDS (5) at the
# rate asked (at least 20 000 frames). Other settings: FLOWS (2000), START_PPS (20000), FACTOR
# (1.5), MAX_PPS (2000000), BISECT (2 bisection steps), SETTLE (0.25 s blb gets, after the
# replay, to finish before SIGTERM: frames still in its ring then count as lost),
# BASELINE (1; 0 skips it), METRICS (9187; empty: no metrics endpoint), TCPREPLAY_OPTS
# (extra tcpreplay flags, e.g. "--timer=nano"), WORK (scratch directory, kept; by default a
# fresh one on /dev/shm, removed unless KEEP=1). Takes 5 to 7 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

FRAMES=${FRAMES:-200000}
SENSORS=${SENSORS:-4}
ALGOS=${ALGOS:-"hash blb"}
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
KEEP=${KEEP:-0}
# A replay whose achieved rate is under this fraction of the requested one is "tcpreplay-bound".
REACH=0.95

die() { echo "live.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, AF_PACKET)"
for t in ip tcpreplay python3 cargo; do
  command -v "$t" >/dev/null || die "$t is needed (apt-get install iproute2 tcpreplay python3)"
done
if [ "$BASELINE" = 1 ] && ! command -v tcpdump >/dev/null; then
  echo "tcpdump is not installed: the no-blb baseline is skipped" >&2
  BASELINE=0
fi
for v in FRAMES SENSORS FLOWS START_PPS MAX_PPS BISECT STEP_SECONDS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$SENSORS" -ge 1 ] && [ "$SENSORS" -le 64 ] || die "SENSORS must be 1 to 64"
[ "$FRAMES" -ge 1000 ] || die "FRAMES must be at least 1000"
[ "$START_PPS" -ge 1000 ] || die "START_PPS must be at least 1000"
[ "$STEP_SECONDS" -ge 1 ] || die "STEP_SECONDS must be at least 1"
for s in $SIZES; do
  [[ $s =~ ^[0-9]+$ ]] && [ "$s" -ge 60 ] && [ "$s" -le 9000 ] || die "frame sizes are 60 to 9000 bytes, not '$s'"
done
for a in $ALGOS; do
  case "$a" in single | round-robin | hash | blb) ;; *) die "unknown algorithm '$a'" ;; esac
done

cat <<EOF
== blb live benchmark ==
What: the highest rate (packets/s) at which 'blb balance -i in0' forwards every frame, with no
loss, from veth in0 to $SENSORS sensor veths, per algorithm ($ALGOS) and frame size ($SIZES bytes,
the frame as captured, without FCS); $FLOWS UDP flows ($FRAMES-frame captures, looped).
How: tcpreplay --pps for ${STEP_SECONDS} s per step, from $START_PPS pps, x$FACTOR until a step
loses frames (or tcpreplay twice cannot reach the rate asked, or $MAX_PPS), then $BISECT bisection
steps; blb restarts for every step and gets ${SETTLE} s after the replay before SIGTERM.
A step passes when tcpreplay's sent count == blb's packets_in == the frames its capture saw
== the sum of rx_packets on the sensors' veth peers, with no kernel (ring) drops, no blb drops,
no full queues and no send errors. blb's 64 MiB capture ring can hide a short overload, so
steps are long: a rate passes only if blb keeps within about ${SETTLE}/${STEP_SECONDS} of it.
'achieved' is tcpreplay's own 'Rated: ... pps' (the rate that really flowed).
Baseline (no blb): tcpreplay into in0p, in0 sniffed by 'tcpdump -w /dev/null' (64 MiB ring,
as blb's); passes when tcpdump's 'received by filter' == sent and it dropped nothing.
Caveat: this machine has $(nproc) core(s); blb's loop, tcpreplay (which busy-waits for its
timing) and the kernel's veth/softirq work compete for them, so the figures are those of
this shared box, not of blb alone, and vary from run to run.
EOF

echo "building: cargo build --release -p blb"
cargo build --release -q -p blb
BLB=$PWD/target/release/blb
[ -x "$BLB" ] || die "$BLB was not built"

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
    # Processes this script started inside the namespace (blb, tcpreplay, tcpdump).
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
gen_pcap() { # FILE FRAMES SIZE FLOWS
  python3 - "$@" <<'PY'
import struct, sys
out, frames, size, flows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pl = size - 42  # Ethernet 14 + IPv4 20 + UDP 8

def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

recs = []
for f in range(flows):
    src = bytes([10, 1 + (f >> 16), (f >> 8) & 255, f & 255])
    dst = bytes([10, 128 + ((f * 7) >> 16 & 127), (f * 7 >> 8) & 255, (f * 7) & 255])
    sport, dport = 1024 + f % 60000, 5000 + (f % 7) * 1000
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28 + pl, f & 0xffff, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    udp = struct.pack('!HHHH', sport, dport, 8 + pl, 0)
    # Locally administered MACs that are nobody's: the namespace's stack drops the frames
    # as "other host" after the capture tap saw them.
    eth = bytes.fromhex('020000000002' '020000000001' '0800')
    recs.append(eth + ip + udp + bytes(pl))
with open(out, 'wb') as o:
    o.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(frames):
        d = recs[i % flows]
        o.write(struct.pack('<IIII', i // 100000, (i % 100000) * 10, len(d), len(d)))
        o.write(d)
PY
}

for s in $SIZES; do
  f="$WORK/frames-$s.pcap"
  [ -s "$f" ] || gen_pcap "$f" "$FRAMES" "$s" "$FLOWS"
done
echo "captures: $FRAMES frames of each size ($SIZES bytes), $FLOWS UDP flows, in $WORK"

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
  veth "s$i" "s${i}p"
  printf '[[sensor]]\ninterface = "s%d"\n' "$i" >>"$CFG"
done
echo "namespace: $NS (in0/in0p, s0/s0p .. s$((SENSORS - 1))/s$((SENSORS - 1))p, mtu 9000)"

# Counters read in one go: in0 rx, sum of rx on s*p, sum of tx drops on s* (veth drops).
counters() {
  local files="/sys/class/net/in0/statistics/rx_packets"
  for ((i = 0; i < SENSORS; i++)); do
    files+=" /sys/class/net/s${i}p/statistics/rx_packets /sys/class/net/s$i/statistics/tx_dropped"
  done
  # shellcheck disable=SC2086
  inns grep -H . $files | awk -F: '
    /\/in0\// { in0 = $2 }
    /p\/statistics\/rx_packets/ { rx += $2 }
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

# CPU time of PID (all its threads), in clock ticks.
TICK_HZ=$(getconf CLK_TCK)
cputicks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
now() { date +%s.%N; }

# tcpreplay at PPS: sets SENT, ACHIEVED (pps), TR_FAILED; the output in $WORK/tcpreplay.out.
STEP=0
replay() { # FILE PPS
  local limit=$(($2 * STEP_SECONDS))
  ((limit < 20000)) && limit=20000
  local out="$WORK/tcpreplay.out"
  # In the background and waited for, so that a signal stops the script at once.
  # shellcheck disable=SC2086
  ip netns exec "$NS" tcpreplay -i in0p --pps="$2" --loop=0 --limit="$limit" $TCPREPLAY_OPTS "$1" \
    >"$out" 2>&1 &
  if ! wait $!; then
    echo "tcpreplay failed:" >&2
    cat "$out" >&2
    return 1
  fi
  SENT=$(awk '/Successful packets:/ {print $3}' "$out")
  TR_FAILED=$(awk '/Failed packets:/ {print $3}' "$out")
  ACHIEVED=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /^pps/) {print int($(i - 1) + 0.5)}}' "$out")
  [ -n "$SENT" ] && [ -n "$ACHIEVED" ] || { echo "cannot read tcpreplay's report:" >&2; cat "$out" >&2; return 1; }
  TR_FAILED=${TR_FAILED:-0}
}

# One step through blb: sets PASS (1/0), WHY, SENT, ACHIEVED, CPU (blb's CPU use while the
# replay ran, in % of one core).
blb_step() { # ALGO SIZE PPS
  local algo=$1 size=$2 pps=$3 err sum pid rc=0
  STEP=$((STEP + 1))
  err="$WORK/blb-$STEP.err"
  sum="$WORK/summary-$STEP.json"
  rm -f "$err" "$sum"
  local metrics=()
  [ -n "$METRICS" ] && metrics=(--metrics "$METRICS")
  # Not through inns: $! must be blb's own pid (ip netns exec execs it).
  RUST_LOG=info ip netns exec "$NS" "$BLB" balance -i in0 -a "$algo" --config "$CFG" --summary "$sum" \
    "${metrics[@]}" >/dev/null 2>"$err" &
  pid=$!
  wait_for "$err" "live balancing started" "$pid" blb || exit 1
  sleep 0.2
  read -r in0_0 rx_0 vd_0 < <(counters)
  local c0 t0 c1 t1
  c0=$(cputicks "$pid") t0=$(now)
  replay "$WORK/frames-$size.pcap" "$pps" || { stop "$pid" TERM || true; exit 1; }
  c1=$(cputicks "$pid") t1=$(now)
  CPU=$(awk -v c="$((c1 - c0))" -v hz="$TICK_HZ" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%d", 100 * c / hz / (t1 - t0) + 0.5}')
  sleep "$SETTLE"
  stop "$pid" TERM || rc=$?
  read -r in0_1 rx_1 vd_1 < <(counters)
  if [ "$rc" != 0 ] || [ ! -s "$sum" ]; then
    echo "blb exited with status $rc (summary: $([ -s "$sum" ] && echo written || echo missing)):" >&2
    tail -20 "$err" >&2
    exit 1
  fi
  local verdict
  verdict=$(python3 - "$sum" "$SENT" "$TR_FAILED" $((in0_1 - in0_0)) $((rx_1 - rx_0)) $((vd_1 - vd_0)) <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sent, failed, in0, delivered, vdrop = map(int, sys.argv[2:])
live = s["live"]
cap = live["capture"][0]
qf = sum(d["queue_full"] for d in live["delivery"])
se = sum(d["send_errors"] for d in live["delivery"])
rej = sum(d.get("frame_rejected", 0) for d in live["delivery"])
copies = s.get("copies", 0)
bad = []
if failed: bad.append(f"tcpreplay failed {failed}")
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
print(("1 " if not bad else "0 ") + ("ok" if not bad else "; ".join(bad)).replace(" ", "_"))
PY
)
  PASS=${verdict%% *}
  WHY=${verdict#* }
  WHY=${WHY//_/ }
  printf '  %-6s %5sB  ask %8s pps  sent %7s  achieved %8s pps  blb cpu %3s%%  %s  %s\n' "$algo" \
    "$size" "$pps" "$SENT" "$ACHIEVED" "$CPU" "$([ "$PASS" = 1 ] && echo PASS || echo LOSS)" "$WHY"
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
  replay "$WORK/frames-$size.pcap" "$pps" || { stop "$pid" INT || true; exit 1; }
  sleep "$SETTLE"
  stop "$pid" INT || true
  read -r in0_1 _ _ < <(counters)
  local got dropped bad=()
  got=$(awk '/packets received by filter/ {print $1}' "$err")
  dropped=$(awk '/packets dropped by kernel/ {print $1}' "$err")
  [ -n "$got" ] && [ -n "$dropped" ] || { echo "cannot read tcpdump's counts:" >&2; cat "$err" >&2; exit 1; }
  [ "$TR_FAILED" = 0 ] || bad+=("tcpreplay failed $TR_FAILED")
  [ $((in0_1 - in0_0)) = "$SENT" ] || bad+=("in0 got $((in0_1 - in0_0))")
  [ "$got" = "$SENT" ] || bad+=("tcpdump saw $got")
  [ "$dropped" = 0 ] || bad+=("tcpdump's kernel drops $dropped")
  if [ ${#bad[@]} = 0 ]; then PASS=1; WHY=ok; else PASS=0; WHY=$(IFS=';'; echo "${bad[*]}"); fi
  printf '  %-6s %5sB  ask %8s pps  sent %7s  achieved %8s pps  %13s  %s  %s\n' "no-blb" "$size" \
    "$pps" "$SENT" "$ACHIEVED" "" "$([ "$PASS" = 1 ] && echo PASS || echo LOSS)" "$WHY"
}

# A passing step: keep it if tcpreplay achieved more than at any passing step before.
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
        # tcpreplay could not send at the rate asked, and nothing was lost. Twice in a row
        # means it is at its top; once may be a moment of CPU starvation on a small box.
        short=$((short + 1))
        if ((short >= 2)); then LIMIT="tcpreplay"; break; fi
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

declare -A RES_BEST RES_ACH RES_CPU RES_LIMIT BASE_BEST BASE_ACH BASE_LIMIT TOP
t_start=$(date +%s)

for s in $SIZES; do
  # tcpreplay's own ceiling into the veth, nothing listening.
  # shellcheck disable=SC2086
  inns tcpreplay -i in0p --topspeed --loop=0 --limit=$((FRAMES * 5)) $TCPREPLAY_OPTS "$WORK/frames-$s.pcap" >"$WORK/top.out" 2>&1 ||
    { cat "$WORK/top.out" >&2; exit 1; }
  TOP[$s]=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /^pps/) {print int($(i - 1) + 0.5)}}' "$WORK/top.out")
  echo "tcpreplay --topspeed into in0p, ${s}-byte frames, nobody listening: ${TOP[$s]} pps"
done

for s in $SIZES; do
  for a in $ALGOS; do
    echo "-- blb -a $a, ${s}-byte frames"
    search blb_step "$a" "$s"
    RES_BEST[$a,$s]=$BEST RES_ACH[$a,$s]=$BEST_ACH RES_CPU[$a,$s]=$BEST_CPU RES_LIMIT[$a,$s]=$LIMIT
  done
  if [ "$BASELINE" = 1 ]; then
    echo "-- baseline (no blb), ${s}-byte frames"
    search base_step "$s"
    BASE_BEST[$s]=$BEST BASE_ACH[$s]=$BEST_ACH BASE_LIMIT[$s]=$LIMIT
  fi
done

echo
echo "== results ($(nproc) cores, $SENSORS sensors, $FLOWS flows, ${STEP_SECONDS} s steps, $(($(date +%s) - t_start)) s) =="
row() { printf '%-11s %5s | %10s %10s %7s %-15s | %10s %10s %-15s | %10s\n' "$@"; }
row algo frame noloss_pps asked_pps blb_cpu stopped_by base_pps base_asked base_stopped tr_topspeed
for s in $SIZES; do
  for a in $ALGOS; do
    if [ "$BASELINE" = 1 ]; then
      ba=${BASE_ACH[$s]} bb=${BASE_BEST[$s]} bl=${BASE_LIMIT[$s]}
    else
      ba=- bb=- bl=-
    fi
    row "$a" "$s" "${RES_ACH[$a,$s]}" "${RES_BEST[$a,$s]}" "${RES_CPU[$a,$s]}" "${RES_LIMIT[$a,$s]}" "$ba" "$bb" "$bl" "${TOP[$s]}"
  done
done
cat <<EOF
(packets/s. noloss_pps: the highest rate tcpreplay achieved ('Rated: ... pps') in a step that
lost no frame through blb; asked_pps: the --pps of that step (0: no step passed);
blb_cpu: blb's CPU use (all threads) during that step's replay, in % of one core.
stopped_by: 'loss at R' = the lowest rate asked that lost frames; 'tcpreplay' = tcpreplay fell
under ${REACH}x of the rate asked in two steps in a row while nothing was lost, so the figure
is tcpreplay's ceiling on this box (blb's own limit is higher); 'MAX_PPS' = the cap.
base_*: the same search with no blb, only 'tcpdump -w /dev/null' sniffing in0. tr_topspeed:
tcpreplay --topspeed into in0p, nobody listening. On $(nproc) cores tcpreplay, blb and the
kernel share the CPUs: the limits are those of this box, not of blb alone, and move by
10-20 % between runs.)
EOF
