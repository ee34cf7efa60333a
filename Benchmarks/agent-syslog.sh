#!/usr/bin/env bash
# Syslog over TCP (issue #13): 1,000,000 RFC 5424 lines of 150 bytes from one sender to skein-agent → skeind,
# rsyslog imtcp → omfile and rsyslog imtcp → omkafka → skeind, in one run: lines/s until the last line is
# committed (or written), CPU seconds, RSS. The driver is Benchmarks/agent_syslog.py, run in the interop venv
# (confluent-kafka); rsyslog and rsyslog-kafka are installed with apt-get when missing, as agent-files.sh does.
#
#   Benchmarks/agent-syslog.sh [--bin DIR] [--lines N --line-bytes B --receivers agent,omfile,omkafka --json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages agent-syslog rsyslog rsyslog-kafka
run_bench_driver agent_syslog.py skeind skein-agent -- "$@"
