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

bin=""
args=()
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$bin" ] || bin="$(swift build -c release --show-bin-path)"
[ -x "$bin/skeind" ] || { echo "missing $bin/skeind (swift build -c release --product skeind)" >&2; exit 1; }

missing=()
for package in rsyslog rsyslog-kafka systemd-journal-remote; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "agent-journald: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

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
exec "$venv/bin/python" Benchmarks/agent_journald.py --bin "$bin" "${args[@]}"
