#!/usr/bin/env bash
# What record validation costs on the produce path (issue #10): broker CPU seconds per GiB appended, with and
# without the record walk, same release binary, same run. Rounds alternate the two modes so machine noise
# falls on both; the broker's own CPU time (utime + stime from /proc/PID/stat) is the figure, the produced
# bytes come from the bench's report.
#
#   Benchmarks/validation-cost.sh [--rounds R] [--duration 5s] [--record-size 100] [--batch-records 1000] [--bin DIR]
#
# The "without" broker runs with SKEIN_BENCH_SKIP_RECORD_VALIDATION=1, which exists for this script only.
# On a shared machine the two medians move by more than the walk costs, so the script also runs
# skein-validation-bench (the walk alone, this thread's CPU time, same batch shape) and relates it to the
# broker's produce CPU without validation: that ratio is the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
duration=5s
record_size=100
batch_records=1000
bin=""
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --record-size) record_size=$2; shift 2 ;;
    --batch-records) batch_records=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
  esac
done
[ -n "$bin" ] || bin="$(swift build -c release --show-bin-path)"
for tool in "$bin/skeind" "$bin/skein" "$bin/skein-validation-bench"; do [ -x "$tool" ] || { echo "missing $tool (build with -c release)" >&2; exit 1; }; done

work=$(mktemp -d)
broker=""
cleanup() { [ -n "$broker" ] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
ticks=$(getconf CLK_TCK)

# One round: a fresh broker in the given mode, one bench run, then "<cpu seconds> <bytes>".
round() {
  local skip=$1 port data
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  data="$work/data-$skip-$RANDOM"
  SKEIN_BENCH_SKIP_RECORD_VALIDATION=$skip "$bin/skeind" --data-dir "$data" --listen "127.0.0.1:$port" \
    --http-listen off --log-level warning >>"$work/skeind.log" 2>&1 &
  broker=$!
  for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  "$bin/skein" topics create bench --partitions 4 --bootstrap "127.0.0.1:$port" >/dev/null
  local before after report
  before=$(awk '{print $14 + $15}' "/proc/$broker/stat")
  report=$("$bin/skein" bench produce --bootstrap "127.0.0.1:$port" --topic bench --duration "$duration" \
    --acks 1 --record-size "$record_size" --batch-records "$batch_records" --json --quiet)
  after=$(awk '{print $14 + $15}' "/proc/$broker/stat")
  kill "$broker"; wait "$broker" 2>/dev/null || true; broker=""
  rm -rf "$data"
  python3 -c '
import json, sys
report = json.loads(sys.argv[1])
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
print(cpu, report["bytes"])' "$report" "$before" "$after" "$ticks"
}

with=(); without=()
for r in $(seq 1 "$rounds"); do
  with+=("$(round 0)")
  without+=("$(round 1)")
done
walk=$("$bin/skein-validation-bench" --codecs none --seconds 3 --record-size "$record_size" --batch-records "$batch_records" | awk '/^none/ {print $5}')
python3 - "$record_size" "$batch_records" "$walk" "${with[@]}" -- "${without[@]}" <<'PY'
import statistics, sys
walk = float(sys.argv[3])
args = sys.argv[4:]
split = args.index("--")
def per_gib(rows):
    values = [float(cpu) / (int(nbytes) / 2**30) for cpu, nbytes in (r.split() for r in rows)]
    return values
w, wo = per_gib(args[:split]), per_gib(args[split + 1:])
print("record size %s bytes, %s records per batch, acks=1" % (sys.argv[1], sys.argv[2]))
print("broker CPU s/GiB with validation:    %s  median %.3f" % (" ".join("%.3f" % v for v in w), statistics.median(w)))
print("broker CPU s/GiB without validation: %s  median %.3f" % (" ".join("%.3f" % v for v in wo), statistics.median(wo)))
print("end to end, validation adds %.1f %% (difference of medians)" % (100 * (statistics.median(w) / statistics.median(wo) - 1)))
print("the walk alone (skein-validation-bench, uncompressed): %.3f CPU s/GiB = %.1f %% of the produce path without it"
      % (walk, 100 * walk / statistics.median(wo)))
PY
