#!/usr/bin/env bash
# Journal shipping (issue #13): a journal of 1,000,000 entries, written by systemd-journal-remote, shipped to one
# release skeind by rsyslog (Debian's imjournal → omkafka) and by skein-agent's journald source, in one run on the
# same journal files: entries/s, CPU seconds per million entries, RSS, idle CPU. The driver is
# Benchmarks/agent_journald.py; it runs in the interop venv (.venv-interop, made here as scripts/interop makes it).
#
# rsyslog 8.2302's imjournal reads only the system journal, so both shippers run in a private mount namespace
# (unshare -m, so root) where the generated journal is bind-mounted on /var/log/journal; the host's journal is
# not touched. rsyslog, rsyslog-kafka and systemd-journal-remote are installed with apt-get when missing.
#
#   Benchmarks/agent-journald.sh [--bin DIR] [driver options: --entries N --message-bytes B --shippers rsyslog,agent
#                                --rsyslog-persist N --idle-seconds S --poll-ms MS --json FILE --keep]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages agent-journald rsyslog rsyslog-kafka systemd-journal-remote
run_bench_driver agent_journald.py skeind skein-agent -- "$@"
