#!/usr/bin/env bash
# File shipping (issue #12): 1,000,000 lines of 150 bytes appended to a followed file and shipped to one release
# skeind, by rsyslog (Debian's rsyslog imfile → omkafka) and by skein-agent, in one run on the same input:
# lines/s, CPU seconds per million lines, RSS while shipping and idle. The driver is Benchmarks/agent_files.py;
# it runs in the interop venv (.venv-interop, made here as scripts/interop makes it, for confluent-kafka).
#
# rsyslog and rsyslog-kafka are installed with apt-get when missing (only this benchmark needs them, so
# scripts/setup does not install a second syslog daemon on every machine). rsyslogd runs in the foreground
# (-n) with its own configuration, work directory and pid file; the system's rsyslog, if any, is not touched.
#
#   Benchmarks/agent-files.sh [--bin DIR] [driver options: --lines N --line-bytes B --rounds R
#                             --shippers rsyslog,agent --idle-seconds S --poll-ms MS --json FILE --keep
#                             --rsyslog-queue-size N --agent-set 'K = V' --delivery-set 'K = V']
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages agent-files rsyslog rsyslog-kafka
run_bench_driver agent_files.py skeind skein-agent -- "$@"
