#!/usr/bin/env bash
# Ingest throughput (release build), printed as events/s, MB/s and peak memory:
#  1. ~2 million fixture events replayed from NDJSON files (parse, PII hashing, Bronze write);
#  2. 100,000 of them drained from the broker of `make services` (tansu with SQLite storage).
set -euo pipefail
release=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo"

"$release/gen-fixtures" --from 2026-01-01 --to 2026-01-10 --installs-per-day 3600 \
  --out "$work/studio" --log-format json >/dev/null 2>&1

measure() { # label events bytes command...
  local label=$1 events=$2 bytes=$3
  shift 3
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" --insecure-dev-key --log-format json >"$work/summary" 2>"$work/stderr" \
    || { echo "$label failed:"; tail -3 "$work/stderr"; return 1; }
  read -r seconds peak_kb <"$work/time"
  python3 - "$label" "$events" "$bytes" "$seconds" "$peak_kb" "$work/summary" <<'PY'
import json, sys
label, events, size, seconds, peak_kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
summary = json.load(open(sys.argv[6]))
assert summary["rows_out"] == events, summary
print(f"{label}: {events:,} events ({size / 1e6:,.0f} MB) in {seconds:.1f} s = {events / seconds:,.0f} events/s, "
      f"{size / 1e6 / seconds:,.1f} MB/s, peak memory {peak_kb / 1024:,.0f} MiB")
PY
}

events=$(cat "$work"/studio/telemetry/*.ndjson | wc -l)
bytes=$(cat "$work"/studio/telemetry/*.ndjson | wc -c)
measure "ingest-drain (files)" "$events" "$bytes" \
  "$release/ingest-drain" --source "file:$work/studio/telemetry" --date 2026-01-10 --lake "$work/lake-files"

mkdir -p "$work/small/telemetry"
head -n 100000 "$work/studio/telemetry/2026-01-10.ndjson" >"$work/small/telemetry/part.ndjson"
topic="game-events.bench$(date +%s)"
"$HOME/.cache/ltv-lakehouse/tools/bin/tansu" topic create "$topic" --partitions 4 --broker tcp://127.0.0.1:9092 >/dev/null 2>&1
produced=$("$release/examples/produce_fixtures" "$work/small" "$topic")
measure "ingest-drain (kafka)" "$produced" "$(wc -c <"$work/small/telemetry/part.ndjson")" \
  "$release/ingest-drain" --source kafka --topics "$topic" --group-id "bench-$topic" --lake "$work/lake-kafka"
