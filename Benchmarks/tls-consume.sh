#!/usr/bin/env bash
# TLS consume throughput against plaintext, same broker, same data, same run (issue #15's goal: TLS at
# least 0.5x plaintext). Starts its own skeind with a PLAINTEXT and an SSL listener (certificates from a
# throwaway CA made here by openssl, deleted at exit), fills a topic with `skein bench produce`, then runs
# `skein bench consume` from the beginning over each listener in turn, ROUNDS times, and prints the medians.
#
#   Benchmarks/tls-consume.sh [--records N] [--rounds R] [--bin DIR]
#
# DIR holds builds of skeind and skein (default: swift build -c release --show-bin-path).
set -euo pipefail
cd "$(dirname "$0")/.."

records=5000000
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
for tool in "$bin/skeind" "$bin/skein"; do [ -x "$tool" ] || { echo "missing $tool" >&2; exit 1; }; done

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
plain=$(free_port)
tls=$(free_port)
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=bench-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 \
    -extfile server.ext 2>/dev/null
)
"$bin/skeind" --data-dir "$work/data" --http-listen off --log-level warning \
  --set "listeners=PLAINTEXT://127.0.0.1:$plain,SSL://127.0.0.1:$tls" \
  --set "ssl.certificate.location=$work/server.pem" --set "ssl.key.location=$work/server.key" \
  >"$work/skeind.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/$tls) 2>/dev/null && break; sleep 0.1; done

"$bin/skein" bench produce --bootstrap "127.0.0.1:$plain" --topic tlsbench --partitions 4 --records "$records" \
  --acks 1 --quiet --json >/dev/null
ssl=(-X security.protocol=SSL -X "ssl.ca.location=$work/ca.pem")
measure() {  # $1: bootstrap, then extra flags; prints MB/s
  local bootstrap=$1; shift
  "$bin/skein" bench consume --bootstrap "$bootstrap" --topic tlsbench --from beginning --quiet --json "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert not r.get("failures"), r; print("%.1f" % r["megabytes_per_second"])'
}
plain_runs=(); tls_runs=()
for _ in $(seq 1 "$rounds"); do
  plain_runs+=("$(measure "127.0.0.1:$plain")")
  tls_runs+=("$(measure "127.0.0.1:$tls" "${ssl[@]}")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "${plain_runs[@]}"); t=$(median "${tls_runs[@]}")
echo "records: $records (100 bytes, 4 partitions), rounds: $rounds"
echo "plaintext consume MB/s: ${plain_runs[*]} (median $p)"
echo "TLS consume MB/s:       ${tls_runs[*]} (median $t)"
python3 -c "print('TLS / plaintext: %.2f' % ($t / $p))"
