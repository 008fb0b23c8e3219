#!/usr/bin/env bash
# The mart load against plain `psql \copy`: a synthetic Gold layer of BENCH_MART_PLAYERS
# players (default a million) installed in January 2026 is loaded into
# mart.player_analytics_daily by load-mart (read Delta, shape, binary COPY, one transaction),
# twice: into an empty mart, where January is a new month built without indexes and attached
# (a backfill, or the first load of a month), and into a mart whose January partition exists
# with its indexes (the other days of a month). The same rows, exported as CSV, are then
# \copy'd by psql into an empty January partition with its indexes. Rows/s side by side.
set -euo pipefail
release=$1
players=${BENCH_MART_PLAYERS:-1000000}
server=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d)
trap 'rm -rf "$work"; for db in bench_mart_load bench_mart_month bench_mart_copy; do psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done' EXIT

"$release/examples/synthetic_gold" "$work/lake" "$players" >/dev/null
for db in bench_mart_load bench_mart_month bench_mart_copy; do
  psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql "$server/postgres" -qc "CREATE DATABASE $db"
done

seconds() { python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$@"; }
now() { date +%s.%N; }

DATABASE_URL="$server/bench_mart_load" "$release/load-mart" migrate --log-format json >/dev/null
start=$(now)
DATABASE_URL="$server/bench_mart_load" "$release/load-mart" --from 2026-01-01 --to 2026-01-31 \
  --lake "$work/lake" --log-format json >"$work/summary" 2>"$work/stderr" \
  || { echo "load-mart failed:"; tail -3 "$work/stderr"; exit 1; }
load_s=$(seconds "$start" "$(now)")
rows=$(psql "$server/bench_mart_load" -tAc "SELECT count(*) FROM mart.player_analytics_daily")

january="CREATE TABLE mart.player_analytics_daily_y2026m01 PARTITION OF mart.player_analytics_daily FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"
DATABASE_URL="$server/bench_mart_month" "$release/load-mart" migrate --log-format json >/dev/null
psql "$server/bench_mart_month" -qc "$january"
start=$(now)
DATABASE_URL="$server/bench_mart_month" "$release/load-mart" --from 2026-01-01 --to 2026-01-31 \
  --lake "$work/lake" --log-format json >"$work/summary" 2>"$work/stderr" \
  || { echo "load-mart failed:"; tail -3 "$work/stderr"; exit 1; }
month_s=$(seconds "$start" "$(now)")

psql "$server/bench_mart_load" -qc "\copy (SELECT * FROM mart.player_analytics_daily) TO '$work/players.csv' CSV"
DATABASE_URL="$server/bench_mart_copy" "$release/load-mart" migrate --log-format json >/dev/null
psql "$server/bench_mart_copy" -qc "$january"
start=$(now)
psql "$server/bench_mart_copy" -qc "\copy mart.player_analytics_daily FROM '$work/players.csv' CSV"
copy_s=$(seconds "$start" "$(now)")

python3 - "$rows" "$load_s" "$month_s" "$copy_s" <<'PY'
import sys
rows = int(sys.argv[1])
load_s, month_s, copy_s = map(float, sys.argv[2:5])
def line(what, seconds):
    print(f"{what:<62} {rows:,} player rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s"
          f"  ({copy_s / seconds:.2f}x psql)")
line("load-mart, a new month (COPY, then indexes built at ATTACH):", load_s)
line("load-mart, into a month the mart has (COPY, indexes kept up):", month_s)
line("psql \\copy of the same rows as CSV into January with indexes:", copy_s)
PY
