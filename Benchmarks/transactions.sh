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
. scripts/lib.sh

run_bench_driver transactions.py skeind skein -- "$@"
