#!/usr/bin/env bash
# Ingest throughput (release build), printed as events/s, MB/s and peak memory:
#  1. ~2 million fixture events replayed from NDJSON files (parse, PII hashing, Bronze write);
#  2. all of them drained from a tansu broker of its own that keeps whole record batches in
#     memory (`memory://` storage), so that the figure is the drain's;
#  3. 100,000 of them drained from the broker of `make services` (tansu with SQLite storage,
#     which answers a fetch with an SQL query per record: the broker's figure, not the drain's).
set -euo pipefail
release=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
tansu="$HOME/.cache/ltv-lakehouse/tools/bin/tansu"
work=$(mktemp -d)
broker_pid=
trap '[[ -z $broker_pid ]] || kill "$broker_pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$repo"

"$release/gen-fixtures" --from 2026-01-01 --to 2026-01-10 --installs-per-day 3600 \
  --out "$work/studio" --log-format json >/dev/null 2>&1

measure() { # label events bytes command... (events "" : as many as the summary says were read)
  local label=$1 events=$2 bytes=$3
  shift 3
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" --insecure-dev-key --log-format json >"$work/summary" 2>"$work/stderr" \
    || { echo "$label failed:"; tail -3 "$work/stderr"; return 1; }
  read -r seconds peak_kb <"$work/time"
  python3 - "$label" "$events" "$bytes" "$seconds" "$peak_kb" "$work/summary" <<'PY'
import json, sys
label, expected, size, seconds, peak_kb = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
summary = json.load(open(sys.argv[6]))
events = summary["rows_out"]
assert summary["rows_in"] == events and summary["rows_quarantined"] == 0, summary
if expected:
    assert events == int(expected), summary
print(f"{label}: {events:,} events ({size / 1e6:,.0f} MB) in {seconds:.1f} s = {events / seconds:,.0f} events/s, "
      f"{size / 1e6 / seconds:,.1f} MB/s, peak memory {peak_kb / 1024:,.0f} MiB")
PY
}

events=$(cat "$work"/studio/telemetry/*.ndjson | wc -l)
bytes=$(cat "$work"/studio/telemetry/*.ndjson | wc -c)
measure "ingest-drain (files)" "$events" "$bytes" \
  "$release/ingest-drain" --source "file:$work/studio/telemetry" --date 2026-01-10 --lake "$work/lake-files"

port=9094
(cd "$work" && exec "$tansu" broker --listener-url tcp://127.0.0.1:$port \
  --advertised-listener-url tcp://127.0.0.1:$port --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1) &
broker_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
"$tansu" topic create game-events.bench --partitions 4 --broker tcp://127.0.0.1:$port >/dev/null 2>&1
acknowledged=$("$release/examples/produce_fixtures" "$work/studio" game-events.bench 127.0.0.1:$port)
# tansu 0.6's in-memory storage keeps about 0.1% fewer messages than it acknowledges (its high
# watermarks say so too); the drain reads every offset up to them, which the tests check
# against the SQLite broker.
echo "  (tansu acknowledged $acknowledged messages)"
measure "ingest-drain (kafka, broker storing batches in memory)" "" "$bytes" \
  "$release/ingest-drain" --source kafka --brokers 127.0.0.1:$port --topics game-events.bench \
  --group-id bench --date 2026-01-10 --lake "$work/lake-kafka-memory"
kill "$broker_pid" 2>/dev/null || true
broker_pid=

mkdir -p "$work/small/telemetry"
head -n 100000 "$work/studio/telemetry/2026-01-10.ndjson" >"$work/small/telemetry/part.ndjson"
topic="game-events.bench$(date +%s)"
"$tansu" topic create "$topic" --partitions 4 --broker tcp://127.0.0.1:9092 >/dev/null 2>&1
produced=$("$release/examples/produce_fixtures" "$work/small" "$topic")
measure "ingest-drain (kafka, make services' broker with SQLite storage)" "$produced" "$(wc -c <"$work/small/telemetry/part.ndjson")" \
  "$release/ingest-drain" --source kafka --topics "$topic" --group-id "bench-$topic" --lake "$work/lake-kafka"
