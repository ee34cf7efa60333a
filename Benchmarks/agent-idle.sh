#!/usr/bin/env bash
# Idle CPU of skein-agent (issue #13, goal: under 0.1 % of a core): one agent with a files source, a journald
# source and a syslog source (UDP, TCP and a unix socket) configured, connected to a skeind, with no traffic.
# The sources first ship what they find (100 file lines, 100 journal entries), then nothing more happens; the
# agent's utime + stime (/proc/PID/stat, in clock ticks) is read at the start and the end of the window.
#
#   Benchmarks/agent-idle.sh [--bin DIR] [--seconds 60] [--host-metrics]
#
# --bin: where skeind and skein-agent are (default: the release build, swift build -c release --show-bin-path).
# --host-metrics: keep the host-metrics source on (15 s samples into `metrics`); off by default, so the figure
# is the three log sources'. A source kind this build does not know (check-config refuses its table) is left out
# and the summary says so.
#
# The journal is a directory of journal files written by systemd-journal-remote (Debian systemd-journal-remote)
# from an export stream: the journald source waits on it through sd_journal's inotify as it would on
# /var/log/journal. Everything lives in a temporary directory; both processes are stopped by pid.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
seconds=60
host_metrics=false
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --host-metrics) host_metrics=true; shift ;;
    *) echo "usage: $0 [--bin DIR] [--seconds N] [--host-metrics]" >&2; exit 2 ;;
  esac
done
[ -n "$bin" ] || bin="$(swift build -c release --show-bin-path)"
for exe in skeind skein-agent; do
  [ -x "$bin/$exe" ] || { echo "missing $bin/$exe (swift build -c release --product $exe)" >&2; exit 1; }
done
remote=/lib/systemd/systemd-journal-remote
[ -x "$remote" ] || { echo "missing $remote (apt-get install systemd-journal-remote)" >&2; exit 1; }

work="$(mktemp -d /tmp/skein-agent-idle.XXXXXX)"
skeind_pid=""
agent_pid=""
cleanup() {  # the agent first, while its broker is still there to take its last transaction
  for pid in $agent_pid $skeind_pid; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Free loopback ports, each distinct (bound together, then released).
read -r kafka_port http_port metrics_port syslog_udp syslog_tcp < <(python3 -c '
import socket
socks = [socket.socket(type=t) for t in (socket.SOCK_STREAM,) * 3 + (socket.SOCK_DGRAM, socket.SOCK_STREAM)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

wait_for() {  # wait_for SECONDS WHAT COMMAND...: polls every 0.1 s
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "agent-idle: timed out after ${limit}s waiting for $what" >&2; return 1
}
accepts() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1"; }

"$bin/skeind" --data-dir "$work/data" --listen "127.0.0.1:$kafka_port" --http-listen "127.0.0.1:$http_port" \
  </dev/null >"$work/skeind.log" 2>&1 &
skeind_pid=$!
wait_for 30 "skeind on port $kafka_port" accepts "$kafka_port"

mkdir -p "$work/logs" "$work/journal" "$work/state"
for n in $(seq 100); do echo "idle file line $n"; done >"$work/logs/app.log"
python3 - "$work/journal.export" <<'EOF'
import sys, time
now = int(time.time() * 1e6)
with open(sys.argv[1], "w") as f:
    for n in range(1, 101):
        f.write("__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
                "_HOSTNAME=idle-bench\n_SYSTEMD_UNIT=idle.service\nSYSLOG_IDENTIFIER=idle\nPRIORITY=6\n"
                "_TRANSPORT=stdout\nMESSAGE=idle journal entry %d\n\n" % (now - (101 - n) * 1000, n * 1000, n))
EOF
"$remote" --output="$work/journal/idle.journal" - <"$work/journal.export" 2>/dev/null

config="$work/agent.toml"
write_config() {  # write_config KIND...: the sources to configure
  cat >"$config" <<EOF
[agent]
bootstrap = "127.0.0.1:$kafka_port"
host_name = "idle-bench"
state_dir = "$work/state"
metrics_listen = "127.0.0.1:$metrics_port"

[sources.host_metrics]
enabled = $host_metrics
EOF
  local kind
  for kind in "$@"; do
    case $kind in
      files) printf '\n[sources.files.idle]\npaths = ["%s/logs/*.log"]\nstart_at = "beginning"\n' "$work" ;;
      journald) printf '\n[sources.journald.idle]\ndirectory = "%s/journal"\nstart_at = "beginning"\n' "$work" ;;
      syslog) printf '\n[sources.syslog.idle]\nudp = ["127.0.0.1:%s"]\ntcp = ["127.0.0.1:%s"]\nunix = ["%s/syslog.sock"]\n' \
        "$syslog_udp" "$syslog_tcp" "$work" ;;
    esac >>"$config"
  done
}
kinds=(files journald syslog)
left_out=()
for kind in journald syslog; do
  write_config "${kinds[@]}"
  if ! "$bin/skein-agent" check-config --config "$config" >"$work/check.log" 2>&1; then
    if grep -q "$kind" "$work/check.log"; then
      left_out+=("$kind")
      kinds=("${kinds[@]/$kind/}")
    else
      cat "$work/check.log" >&2; exit 1
    fi
  fi
done
kinds=(${kinds[@]})
write_config "${kinds[@]}"
"$bin/skein-agent" check-config --config "$config" >"$work/check.log" 2>&1 || { cat "$work/check.log" >&2; exit 1; }

"$bin/skein-agent" --config "$config" </dev/null >"$work/agent.log" 2>&1 &
agent_pid=$!
wait_for 30 "the agent's /metrics" accepts "$metrics_port"
if [[ " ${kinds[*]} " == *" syslog "* ]]; then  # the syslog listeners are really there
  wait_for 30 "the syslog TCP listener" accepts "$syslog_tcp"
  wait_for 30 "the syslog unix socket" test -S "$work/syslog.sock"
fi

committed() {  # sum of skein_agent_log_records_committed_total over sources
  python3 -c '
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
print(int(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
              if l.startswith("skein_agent_log_records_committed_total{"))))' "$metrics_port"
}
want=0
for kind in "${kinds[@]}"; do [ "$kind" = syslog ] || want=$((want + 100)); done
shipped() { [ "$(committed)" -ge "$want" ]; }
wait_for 60 "the agent to ship the $want file lines and journal entries" shipped
# Settle: the first checkpoint and the delivery core's timers after the initial shipping.
sleep 5

ticks() { awk '{ print $14 + $15 }' "/proc/$agent_pid/stat"; }
switches() {
  cat /proc/"$agent_pid"/task/*/status 2>/dev/null \
    | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }'
}
threads_now() {  # per thread: tid, name, ticks, context switches (who wakes, if anyone does)
  local task
  for task in /proc/"$agent_pid"/task/*; do
    printf '%s %s %s %s\n' "${task##*/}" "$(tr ' ' _ <"$task/comm")" "$(awk '{ print $14 + $15 }' "$task/stat")" \
      "$(awk '/ctxt_switches/ { s += $2 } END { print s }' "$task/status")"
  done 2>/dev/null
}
hz=$(getconf CLK_TCK)
threads_now >"$work/threads.0"
t0=$(ticks); c0=$(switches); start=$(date +%s.%N)
sleep "$seconds"   # the measuring window
t1=$(ticks); c1=$(switches); end=$(date +%s.%N)
threads_now >"$work/threads.1"
kill -0 "$agent_pid" 2>/dev/null || { echo "agent exited during the window:" >&2; tail -20 "$work/agent.log" >&2; exit 1; }
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$agent_pid/status")
threads=$(ls /proc/"$agent_pid"/task | wc -l)

awk -v t=$((t1 - t0)) -v hz="$hz" -v s0="$start" -v s1="$end" -v cs=$((c1 - c0)) -v rss="$rss" \
    -v threads="$threads" -v sources="${kinds[*]}" -v left="${left_out[*]:-none}" -v hm="$host_metrics" '
BEGIN {
  secs = s1 - s0; cpu = t / hz; pct = 100 * cpu / secs
  printf "agent-idle: sources %s (left out: %s), host metrics %s\n", sources, left, hm
  printf "agent-idle: %d ticks (%.2f s CPU) in %.1f s = %.4f %% of a core (goal < 0.1 %%: %s); " \
         "%.1f context switches/s over %d threads; RSS %.1f MiB\n", \
         t, cpu, secs, pct, (pct < 0.1 ? "met" : "NOT met"), cs / secs, threads, rss / 1024
}'
# Threads that ran during the window: name, ticks, context switches.
awk 'NR == FNR { t[$1] = $3; c[$1] = $4; next }
     ($3 - t[$1]) > 0 || ($4 - c[$1]) > 0 { printf "  thread %s (%s): %d ticks, %d context switches\n", $1, $2, $3 - t[$1], $4 - c[$1] }' \
  "$work/threads.0" "$work/threads.1"
