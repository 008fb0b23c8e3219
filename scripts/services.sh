#!/usr/bin/env bash
# Starts (or stops) the services the tests and the demo use, on loopback:
#   Kafka protocol: tansu on 127.0.0.1:9092, SQLite storage, topics game-events (4 partitions),
#                   attribution and ad-spend (2 each);
#   S3 API:         moto on 127.0.0.1:5000 (for s3:// lakes: AWS_ENDPOINT_URL=http://127.0.0.1:5000).
# PostgreSQL is the machine's own (127.0.0.1:5432). Usage: services.sh start|stop|status
set -euo pipefail
TOOLS=${LTV_TOOLS:-$HOME/.cache/ltv-lakehouse/tools}
STATE=${LTV_SERVICES_STATE:-$HOME/.cache/ltv-lakehouse/services}
KAFKA_PORT=9092
S3_PORT=5000
here=$(cd "$(dirname "$0")" && pwd)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.2; done
  echo "service on port $1 did not start; see $STATE/*.log" >&2
  return 1
}

start() {
  "$here/install_services.sh"
  mkdir -p "$STATE"
  if ! port_open $KAFKA_PORT; then
    # tansu reads the SQLite path of the URL relative to its working directory.
    (cd "$STATE" && exec nohup "$TOOLS/bin/tansu" broker \
      --listener-url tcp://127.0.0.1:$KAFKA_PORT --advertised-listener-url tcp://127.0.0.1:$KAFKA_PORT \
      --storage-engine "sqlite://tansu.db" >"$STATE/tansu.log" 2>&1) &
    echo $! >"$STATE/tansu.pid"
    wait_for_port $KAFKA_PORT
    for spec in game-events:4 attribution:2 ad-spend:2; do
      "$TOOLS/bin/tansu" topic create "${spec%%:*}" --partitions "${spec##*:}" \
        --broker tcp://127.0.0.1:$KAFKA_PORT >>"$STATE/tansu.log" 2>&1 || true
    done
  fi
  if ! port_open $S3_PORT; then
    nohup "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p $S3_PORT >"$STATE/moto.log" 2>&1 &
    echo $! >"$STATE/moto.pid"
    wait_for_port $S3_PORT
  fi
  status
}

stop() {
  for name in tansu moto; do
    if [[ -f "$STATE/$name.pid" ]]; then
      kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
      rm -f "$STATE/$name.pid"
    fi
  done
}

status() {
  port_open $KAFKA_PORT && echo "kafka (tansu)  127.0.0.1:$KAFKA_PORT  up" || echo "kafka (tansu)  down"
  port_open $S3_PORT && echo "s3 (moto)      127.0.0.1:$S3_PORT  up" || echo "s3 (moto)      down"
  port_open 5432 && echo "postgres       127.0.0.1:5432  up" || echo "postgres       down"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
