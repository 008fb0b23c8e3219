#!/usr/bin/env bash
# Throughput of the fixture generator (release build): events/s and MB/s of NDJSON written.
set -euo pipefail
binary=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
summary=$("$binary" --from 2026-01-01 --to 2026-01-07 --installs-per-day 10000 --out "$out" --log-format json 2>/dev/null)
end=$(date +%s.%N)
events=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rows_out"])' "$summary")
bytes=$(du -sb "$out/telemetry" | cut -f1)
python3 - "$events" "$bytes" "$start" "$end" <<'PY'
import sys
events, size, start, end = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
seconds = end - start
print(f"gen-fixtures: {events:,} events, {size / 1e6:,.0f} MB NDJSON in {seconds:.1f} s "
      f"= {events / seconds:,.0f} events/s, {size / 1e6 / seconds:,.1f} MB/s")
PY
