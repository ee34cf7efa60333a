#!/usr/bin/env bash
# Syslog over TCP (issue #13): 1,000,000 RFC 5424 lines of 150 bytes from one sender to skein-agent → skeind,
# rsyslog imtcp → omfile and rsyslog imtcp → omkafka → skeind, in one run: lines/s until the last line is
# committed (or written), CPU seconds, RSS. The driver is Benchmarks/agent_syslog.py, run in the interop venv
# (confluent-kafka); rsyslog and rsyslog-kafka are installed with apt-get when missing, as agent-files.sh does.
#
#   Benchmarks/agent-syslog.sh [--bin DIR] [--lines N --line-bytes B --receivers agent,omfile,omkafka --json FILE]
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
for exe in skeind skein-agent; do
  [ -x "$bin/$exe" ] || { echo "missing $bin/$exe (swift build -c release)" >&2; exit 1; }
done

missing=()
for package in rsyslog rsyslog-kafka; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "agent-syslog: installing ${missing[*]}"
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
exec "$venv/bin/python" Benchmarks/agent_syslog.py --bin "$bin" "${args[@]}"
