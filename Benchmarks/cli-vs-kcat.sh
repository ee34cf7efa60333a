#!/usr/bin/env bash
# skein produce/consume against kcat -P/-C, same file, same broker, same run (issue #5's benchmark).
# Starts its own release skeind on a free loopback port with a temporary data directory, writes N lines of
# 100 bytes, then alternates kcat and skein ROUNDS times for each direction and prints the medians.
#
#   Benchmarks/cli-vs-kcat.sh [--records N] [--rounds R] [--bin DIR]
#
# DIR holds release builds of skeind and skein (default: swift build -c release --show-bin-path).
set -euo pipefail
cd "$(dirname "$0")/.."

records=1000000
rounds=3
bin=""
while (($#)); do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
  esac
done
[ -n "$bin" ] || bin="$(swift build -c release --show-bin-path)"
for tool in "$bin/skeind" "$bin/skein"; do [ -x "$tool" ] || { echo "missing $tool (build with -c release)" >&2; exit 1; }; done
command -v kcat >/dev/null || { echo "kcat is not installed (scripts/setup)" >&2; exit 1; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
http=(); "$bin/skeind" --help 2>&1 | grep -q -- --http-listen && http=(--http-listen off)
"$bin/skeind" --data-dir "$work/data" --listen "127.0.0.1:$port" "${http[@]}" --log-level warning >"$work/skeind.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
bootstrap=127.0.0.1:$port

# 100-byte lines: a counter padded with a fixed pattern (99 bytes + newline).
python3 - "$records" "$work/lines.txt" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
pad = ("abcdefghijklmnopqrstuvwxyz0123456789" * 3)
with open(path, "w") as f:
    for i in range(n):
        head = "%010d " % i
        f.write(head + pad[: 99 - len(head)] + "\n")
PY

now() { date +%s.%N; }
rate() { python3 -c "print(int($records / ($2 - $1)))"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

kcat_produce=(); skein_produce=(); kcat_consume=(); skein_consume=()
for round in $(seq 1 "$rounds"); do
  "$bin/skein" topics create "k$round" --bootstrap "$bootstrap" >/dev/null
  "$bin/skein" topics create "s$round" --bootstrap "$bootstrap" >/dev/null
  t0=$(now); kcat -b "$bootstrap" -P -t "k$round" -p 0 -l "$work/lines.txt"; t1=$(now)
  kcat_produce+=("$(rate "$t0" "$t1")")
  t0=$(now); "$bin/skein" produce -t "s$round" -p 0 -f "$work/lines.txt" --bootstrap "$bootstrap"; t1=$(now)
  skein_produce+=("$(rate "$t0" "$t1")")
  # Both readers read the same topic (the one kcat wrote), to /dev/null.
  t0=$(now); kcat -b "$bootstrap" -C -t "k$round" -o beginning -e -q >/dev/null; t1=$(now)
  kcat_consume+=("$(rate "$t0" "$t1")")
  t0=$(now); "$bin/skein" consume -t "k$round" --bootstrap "$bootstrap" >/dev/null; t1=$(now)
  skein_consume+=("$(rate "$t0" "$t1")")
  got=$("$bin/skein" topics describe "s$round" --bootstrap "$bootstrap" | awk '$1=="0"{print $5}')
  [ "$got" = "$records" ] || { echo "skein produce stored $got records, expected $records" >&2; exit 1; }
done

kp=$(median "${kcat_produce[@]}"); sp=$(median "${skein_produce[@]}")
kc=$(median "${kcat_consume[@]}"); sc=$(median "${skein_consume[@]}")
echo "records: $records x 100 bytes, rounds: $rounds, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo "| direction | kcat records/s | skein records/s | skein / kcat |"
echo "|---|---|---|---|"
echo "| produce (file, acks=all) | $kp | $sp | $(python3 -c "print(round($sp/$kp,2))") |"
echo "| consume (to /dev/null) | $kc | $sc | $(python3 -c "print(round($sc/$kc,2))") |"
echo "rounds: kcat produce ${kcat_produce[*]}; skein produce ${skein_produce[*]}; kcat consume ${kcat_consume[*]}; skein consume ${skein_consume[*]}"
