#!/usr/bin/env bash
# Contract validation, Silver and Gold throughput (release build), printed as rows/s and peak
# memory: a generated studio of 8 days (about a million events) is replayed into one Bronze
# ingest day, validated by check-contracts, refined by bronze-to-silver and built into Gold
# by silver-to-gold --changed.
set -euo pipefail
release=$1
installs_per_day=${BENCH_INSTALLS_PER_DAY:-2400}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo"

"$release/gen-fixtures" --from 2026-01-01 --to 2026-01-08 --installs-per-day "$installs_per_day" \
  --out "$work/studio" --log-format json >/dev/null 2>&1
"$release/ingest-drain" --source "file:$work/studio" --date 2026-01-08 --lake "$work/lake" \
  --insecure-dev-key --log-format json >/dev/null 2>&1

measure() { # label command...
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" --lake "$work/lake" --log-format json >"$work/summary" 2>"$work/stderr" \
    || { echo "$label failed:"; tail -3 "$work/stderr"; return 1; }
  read -r seconds peak_kb <"$work/time"
  python3 - "$label" "$seconds" "$peak_kb" "$work/summary" <<'PY'
import json, sys
label, seconds, peak_kb = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
summary = json.load(open(sys.argv[4]))
assert summary["status"] == "ok", summary
rows = summary["rows_in"]
print(f"{label}: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s, "
      f"peak memory {peak_kb / 1024:,.0f} MiB; {json.dumps(summary.get('details', {}))[:160]}")
PY
}

measure "check-contracts validate" "$release/check-contracts" validate --date 2026-01-08 \
  --format json --output "$work/report.json"
measure "bronze-to-silver" "$release/bronze-to-silver" --date 2026-01-08
measure "silver-to-gold --changed" "$release/silver-to-gold" --changed
measure "silver-to-gold rerun of 1 day" "$release/silver-to-gold" --date 2026-01-08
