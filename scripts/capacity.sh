#!/usr/bin/env bash
# Finds the highest replay rate `minetap live` takes without kernel drops, on a veth pair inside
# a network namespace this script creates (nothing leaves it). Needs root and iproute2.
#   [THREADS="1 2"] [REPLAYERS=2] scripts/capacity.sh [CAPTURE] [RATES...]
# CAPTURE defaults to a generated 50 MB mixed capture; RATES are frames per second in all (0 =
# as fast as the replayers go). Each rate is tried with every number of capture threads in
# THREADS (`live --threads`, a fan-out group), sent by REPLAYERS replayer processes at once, each
# at its share of the rate, so that the sender is not the limit; `rate_sent` is what they
# reached together.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/minetap
cargo build --release --quiet
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
ns=minetap-capacity-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add mt-a type veth peer name mt-b
ip -n "$ns" link set mt-a up
ip -n "$ns" link set mt-b up
tmp=$(mktemp -d)
printf 'threads\treplayers\trate_requested\trate_sent\tpackets_seen\tkernel_drops\n'
for t in "${threads[@]}"; do
  for rate in "${rates[@]}"; do
    ip netns exec "$ns" "$bin" live -q -i mt-b --threads "$t" --no-rules --events /dev/null \
      --stats "$tmp/stats" --stats-interval 3600 2>"$tmp/err" &
    pid=$!
    until grep -q capturing "$tmp/err" 2>/dev/null; do sleep 0.1; done
    share=$(( rate / replayers ))
    for r in $(seq "$replayers"); do
      ip netns exec "$ns" "$bin" replay -i mt-a --pps "$share" "$cap" >"$tmp/replay.$r" 2>&1 &
    done
    wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || true
    sent=0
    for r in $(seq "$replayers"); do
      s=$(sed -n 's/.*(\([0-9]*\) frames\/s).*/\1/p' "$tmp/replay.$r")
      sent=$(( sent + ${s:-0} ))
    done
    sleep 2
    kill -TERM "$pid"; wait "$pid" || true
    last=$(tail -n 1 "$tmp/stats")
    packets=$(sed -n 's/.*"packets":\([0-9]*\).*/\1/p' <<<"$last")
    drops=$(sed -n 's/.*"kernel_drops":\([0-9]*\).*/\1/p' <<<"$last")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$replayers" "$rate" "$sent" "$packets" "$drops"
  done
done
rm -rf "$tmp"
