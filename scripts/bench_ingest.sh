#!/usr/bin/env bash
# Drain throughput: ~2 million fixture events produced to the broker, drained into a local lake
# by a release build. Prints events/s, MB/s and peak memory. Needs `make services`.
set -euo pipefail
release=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
topic="game-events.bench$(date +%s)"
"$release/gen-fixtures" --from 2026-01-01 --to 2026-01-10 --installs-per-day 3500 \
  --out "$work/studio" --log-format json >/dev/null 2>&1
bytes=$(cat "$work"/studio/telemetry/*.ndjson | wc -c)
"$HOME/.cache/ltv-lakehouse/tools/bin/tansu" topic create "$topic" --partitions 4 \
  --broker tcp://127.0.0.1:9092 >/dev/null 2>&1
events=$("$release/examples/produce_fixtures" "$work/studio" "$topic")
/usr/bin/time -f "%e %M" -o "$work/time" "$release/ingest-drain" --source kafka --topics "$topic" \
  --group-id "bench-$topic" --lake "$work/lake" --insecure-dev-key --log-format json >"$work/summary" 2>/dev/null
read -r seconds peak_kb <"$work/time"
python3 - "$events" "$bytes" "$seconds" "$peak_kb" "$work/summary" <<'PY'
import json, sys
events, size, seconds, peak_kb = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
summary = json.load(open(sys.argv[5]))
assert summary["rows_out"] == events, summary
print(f"ingest-drain: {events:,} events ({size / 1e6:,.0f} MB) from 4 partitions in {seconds:.1f} s "
      f"= {events / seconds:,.0f} events/s, {size / 1e6 / seconds:,.1f} MB/s, peak memory {peak_kb / 1024:,.0f} MiB")
PY
