#!/usr/bin/env bash
# Finds the highest replay rate `minetap live` takes without kernel drops, on a veth pair inside
# a network namespace this script creates (nothing leaves it). Needs root and iproute2.
#   [THREADS="1 2"] [REPLAYERS=2] [REPEAT=1] scripts/capacity.sh [CAPTURE] [RATES...]
# CAPTURE defaults to a generated 50 MB mixed capture; RATES are frames per second in all (0 =
# as fast as the replayers go). Each rate is tried with every number of capture threads in
# THREADS (`live --threads`, a fan-out group), sent by REPLAYERS replayer processes at once, each
# at its share of the rate, so that the sender is not the limit; `rate_sent` is what they
# reached together. Each replayer sends the capture REPEAT times: the capture ring (64 MiB) must
# not hold the whole run, or no rate can show a drop. `sensor_cpu_s` is the CPU time the sensor took (user and system) while the
# frames came, and `cpu_us_per_frame` that time over the frames it saw. BIN=path runs another
# build of minetap as the sensor (to compare two builds); the replayers are always this one.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/minetap
sensor=${BIN:-$bin}
cap=${1:-}
shift || true
if [ -z "$cap" ]; then
  cap=target/bench-data/mix-50mb.pcap
  mkdir -p target/bench-data
  [ -f "$cap" ] || cargo run --release --quiet --example gen_mix -- "$cap" 50 >/dev/null
fi
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(50000 100000 200000 400000 0)
threads=(${THREADS:-1 2})
replayers=${REPLAYERS:-2}
repeat=${REPEAT:-1}
ns=minetap-capacity-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add mt-a type veth peer name mt-b
ip -n "$ns" link set mt-a up
ip -n "$ns" link set mt-b up
tmp=$(mktemp -d)
printf 'threads\treplayers\trate_requested\trate_sent\tpackets_seen\tkernel_drops\tsensor_cpu_s\tcpu_us_per_frame\n'
tick=$(getconf CLK_TCK)
# User and system CPU ticks of process $1.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
for t in "${threads[@]}"; do
  for rate in "${rates[@]}"; do
    ip netns exec "$ns" "$sensor" live -q -i mt-b --threads "$t" --no-rules --events /dev/null \
      --stats "$tmp/stats" --stats-interval 3600 2>"$tmp/err" &
    pid=$!
    until grep -q capturing "$tmp/err" 2>/dev/null; do sleep 0.1; done
    cpu0=$(cpu_ticks "$pid")
    share=$(( rate / replayers ))
    for r in $(seq "$replayers"); do
      ip netns exec "$ns" "$bin" replay -i mt-a --pps "$share" --repeat "$repeat" "$cap" >"$tmp/replay.$r" 2>&1 &
    done
    wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || true
    sent=0
    for r in $(seq "$replayers"); do
      s=$(sed -n 's/.*(\([0-9]*\) frames\/s).*/\1/p' "$tmp/replay.$r")
      sent=$(( sent + ${s:-0} ))
    done
    sleep 2
    cpu=$(( $(cpu_ticks "$pid") - cpu0 ))
    kill -TERM "$pid"; wait "$pid" || true
    last=$(tail -n 1 "$tmp/stats")
    packets=$(sed -n 's/.*"packets":\([0-9]*\).*/\1/p' <<<"$last")
    drops=$(sed -n 's/.*"kernel_drops":\([0-9]*\).*/\1/p' <<<"$last")
    cpu_s=$(awk -v c="$cpu" -v t="$tick" 'BEGIN { printf "%.2f", c / t }')
    per=$(awk -v c="$cpu" -v t="$tick" -v p="${packets:-0}" 'BEGIN { printf "%.2f", p ? c / t / p * 1e6 : 0 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$replayers" "$rate" "$sent" "$packets" "$drops" "$cpu_s" "$per"
  done
done
rm -rf "$tmp"
