#!/usr/bin/env bash
# Finds the highest replay rate `minetap live` takes without kernel drops, on a veth pair inside
# a network namespace this script creates (nothing leaves it). Needs root and iproute2.
#   scripts/capacity.sh [CAPTURE] [RATES...]
# CAPTURE defaults to a generated 50 MB mixed capture; RATES are frames per second (0 = as fast
# as the replayer goes).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/minetap
cargo build --release --quiet
cap=${1:-}
shift || true
if [ -z "$cap" ]; then
  cap=target/bench-data/mix-50mb.pcap
  [ -f "$cap" ] || cargo run --release --quiet --example gen_mix -- "$cap" 50 >/dev/null
fi
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(50000 100000 200000 400000 0)
ns=minetap-capacity-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add mt-a type veth peer name mt-b
ip -n "$ns" link set mt-a up
ip -n "$ns" link set mt-b up
tmp=$(mktemp -d)
printf 'rate_requested\trate_sent\tpackets_seen\tkernel_drops\n'
for rate in "${rates[@]}"; do
  ip netns exec "$ns" "$bin" live -q -i mt-b --no-rules --events /dev/null \
    --stats "$tmp/stats" --stats-interval 3600 2>"$tmp/err" &
  pid=$!
  until grep -q capturing "$tmp/err" 2>/dev/null; do sleep 0.1; done
  sent=$(ip netns exec "$ns" "$bin" replay -i mt-a --pps "$rate" "$cap" 2>&1 | sed -n 's/.*(\([0-9]*\) frames\/s).*/\1/p')
  sleep 2
  kill -TERM "$pid"; wait "$pid" || true
  last=$(tail -n 1 "$tmp/stats")
  packets=$(sed -n 's/.*"packets":\([0-9]*\).*/\1/p' <<<"$last")
  drops=$(sed -n 's/.*"kernel_drops":\([0-9]*\).*/\1/p' <<<"$last")
  printf '%s\t%s\t%s\t%s\n' "$rate" "$sent" "$packets" "$drops"
done
rm -rf "$tmp"
