#!/usr/bin/env bash
# Transactions (issue #11), against one release skeind: (i) transactional produce with one commit per 100 ms
# against idempotent-only produce, same records, rounds alternating; (ii) read_committed against
# read_uncommitted consume of the same data with 10 % of its transactions aborted, read by `skein bench consume`
# and by confluent-kafka, then an untimed strace -c of each to show the bytes still leave by sendfile. skeind's
# CPU time (/proc/PID/stat) is given for every timed run. The driver is Benchmarks/transactions.py; it runs
# in the interop venv (.venv-interop, made here as scripts/interop makes it, for confluent-kafka).
#
#   Benchmarks/transactions.sh [--bin DIR] [driver options: --records N --consume-records N --record-size B
#                              --partitions P --rounds R --commit-ms MS --txn-records N --abort-every N
#                              --bench-repeat N]
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
args=()
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$bin" ] || bin="$(swift build -c release --show-bin-path)"
for tool in "$bin/skeind" "$bin/skein"; do
  [ -x "$tool" ] || { echo "missing $tool (swift build -c release --product skeind; --product skein)" >&2; exit 1; }
done

venv=.venv-interop
requirements=Tests/Interop/requirements.txt
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" >"$stamp"
fi
exec "$venv/bin/python" Benchmarks/transactions.py --bin "$bin" "${args[@]}"
