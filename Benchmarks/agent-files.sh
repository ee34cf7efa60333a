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
for package in rsyslog rsyslog-kafka; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "agent-files: installing ${missing[*]}"
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
exec "$venv/bin/python" Benchmarks/agent_files.py --bin "$bin" "${args[@]}"
