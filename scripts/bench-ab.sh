#!/usr/bin/env bash
# Compares two tagflow binaries on `tagflow bench engine`, the two running at the same moment, one on each
# core, so that both meet the same noise from the machine's other tenants (sequential runs here move by
# ±15–30 %; the ratio of simultaneous runs by ±3 %). The binary started first gains a few per cent, so
# each round runs both orders. Prints each run's ratio B/A and the median.
#
#   scripts/bench-ab.sh ROUNDS before/tagflow after/tagflow [bench engine options…]
#   scripts/bench-ab.sh 3 /tmp/tagflow-old .build/release/tagflow --events 1000000 --users 100000
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 ROUNDS BINARY_A BINARY_B [bench engine options…]" >&2
    exit 2
fi
rounds=$1 a=$2 b=$3
shift 3
options=("$@")
[ ${#options[@]} -eq 0 ] && options=(--events 1000000 --users 100000)
for binary in "$a" "$b"; do
    [ -x "$binary" ] || { echo "$0: $binary is not an executable" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
speed() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["events_per_second"])' "$1"; }

ratios=()
for round in $(seq "$rounds"); do
    for order in ab ba; do
        if [ $order = ab ]; then first=$a second=$b; else first=$b second=$a; fi
        "$first" bench engine --json "${options[@]}" > "$work/first.json" &
        "$second" bench engine --json "${options[@]}" > "$work/second.json" &
        wait
        if [ $order = ab ]; then sa=$(speed "$work/first.json") sb=$(speed "$work/second.json")
        else sb=$(speed "$work/first.json") sa=$(speed "$work/second.json"); fi
        ratio=$(python3 -c "print(f'{$sb / $sa:.3f}')")
        ratios+=("$ratio")
        echo "round $round ($order first): A $sa  B $sb events/s  B/A $ratio"
    done
done
python3 -c 'import statistics, sys; print(f"median B/A over {len(sys.argv) - 1} runs: {statistics.median(map(float, sys.argv[1:])):.3f}")' "${ratios[@]}"
