#!/usr/bin/env bash
# Bronze -> Silver -> Gold of a busy game's day (release build) next to plain PySpark:
# a generated studio of 8 days (BENCH_INSTALLS_PER_DAY installs a day; the default 25,000 makes
# about 10 million events) is replayed into one Bronze ingest day, validated by check-contracts,
# refined by bronze-to-silver and built into Gold by silver-to-gold --changed. Each stage prints
# rows/s and peak memory; then the whole chain's time and peak memory beside the same
# transformation in PySpark local[2] (scripts/bench_medallion_pyspark.py, installed once into
# a virtualenv; BENCH_PYSPARK=0 skips it).
set -euo pipefail
release=$1
installs_per_day=${BENCH_INSTALLS_PER_DAY:-25000}
repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${LTV_TOOLS:-$HOME/.cache/ltv-lakehouse/tools}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo"

"$release/gen-fixtures" --from 2026-01-01 --to 2026-01-08 --installs-per-day "$installs_per_day" \
  --out "$work/studio" --log-format json >/dev/null 2>&1
"$release/ingest-drain" --source "file:$work/studio" --date 2026-01-08 --lake "$work/lake" \
  --insecure-dev-key --log-format json >/dev/null 2>&1

: >"$work/chain"
measure() { # label command...
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" --lake "$work/lake" --log-format json >"$work/summary" 2>"$work/stderr" \
    || { echo "$label failed:"; tail -3 "$work/stderr"; return 1; }
  read -r seconds peak_kb <"$work/time"
  echo "$label $seconds $peak_kb" >>"$work/chain"
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
: >"$work/chain"
measure "bronze-to-silver" "$release/bronze-to-silver" --date 2026-01-08
measure "silver-to-gold --changed" "$release/silver-to-gold" --changed
rust_chain=$(cat "$work/chain")
measure "silver-to-gold rerun of 1 day" "$release/silver-to-gold" --date 2026-01-08

if [[ "${BENCH_PYSPARK:-1}" == 0 ]]; then
  exit 0
fi
venv="$tools/pyspark-venv"
if [[ ! -e "$venv/.installed-4.3.0" ]]; then
  echo "installing PySpark 4.3.0 into $venv (once)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==4.3.0" >&2
  touch "$venv/.installed-4.3.0"
fi
python3 scripts/tree_peak_memory.py "$work/pyspark_time" \
  "$venv/bin/python" scripts/bench_medallion_pyspark.py "$work/lake" 2026-01-08 \
  "$work/pyspark_out" config/studio.yaml >"$work/pyspark_stdout" 2>"$work/pyspark_stderr" \
  || { echo "PySpark failed:"; tail -5 "$work/pyspark_stderr"; exit 1; }
python3 - "$rust_chain" "$(cat "$work/pyspark_time")" "$(tail -1 "$work/pyspark_stdout")" <<'PY'
import sys
rust = [line.rsplit(" ", 2) for line in sys.argv[1].splitlines()]
rust_s = sum(float(seconds) for _, seconds, _ in rust)
rust_peak = max(int(peak) for _, _, peak in rust) / 1024
spark_s, spark_peak = sys.argv[2].split()
spark_s, spark_peak = float(spark_s), int(spark_peak) / 1024
rows = int(sys.argv[3].split()[0])
print(f"bronze->silver->gold of {rows:,} events (one ingest day):")
print(f"  this project (bronze-to-silver + silver-to-gold): {rust_s:7.1f} s, "
      f"peak memory {rust_peak:6,.0f} MiB")
print(f"  PySpark local[2], plain Parquet, fewer checks:    {spark_s:7.1f} s, "
      f"peak memory {spark_peak:6,.0f} MiB (process tree)")
print(f"  speed-up {spark_s / rust_s:.1f}x (target: 10x, the whole day under 30 s, under 4 GiB)")
PY
