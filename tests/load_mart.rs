//! load-mart against the machine's PostgreSQL: the mart equals Gold row for row, a rerun is a
//! no-op, a concurrent reader never sees half a load, and every dashboard view returns the
//! numbers worked out by hand.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{TestDatabase, run_stage_with, silver_lake, silver_to_gold, sorted};
use ltv_lakehouse::tables::gold;
use polars::prelude::*;
use serde_json::Value;
use sqlx::Row;

/// The fixture studio through Gold, built once for every test of this file (read-only).
fn gold_lake() -> &'static Path {
    static LAKE: OnceLock<tempfile::TempDir> = OnceLock::new();
    LAKE.get_or_init(|| {
        let folder = silver_lake();
        silver_to_gold(
            folder.path(),
            &["--from", "2026-01-01", "--to", "2026-01-08"],
        );
        folder
    })
    .path()
}

fn load_mart_command(database: &TestDatabase, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_load-mart"));
    command
        .args(args)
        .env("DATABASE_URL", &database.url)
        .env("LOG_FORMAT", "json");
    command
}

fn succeeded(output: Output) -> Value {
    assert!(
        output.status.success(),
        "load-mart failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn load_mart(database: &TestDatabase, args: &[&str]) -> Value {
    run_stage_with(
        env!("CARGO_BIN_EXE_load-mart"),
        args,
        &[("DATABASE_URL", &database.url)],
    )
}

fn load_fixture_days(database: &TestDatabase, from: &str, to: &str) -> Value {
    load_mart(
        database,
        &[
            "--lake",
            gold_lake().to_str().unwrap(),
            "--from",
            from,
            "--to",
            to,
        ],
    )
}

/// Rows of a query, each as column → text, for exact comparisons.
async fn texts(connection: &mut sqlx::PgConnection, query: &str) -> Vec<BTreeMap<String, String>> {
    let wrapped = format!("SELECT to_jsonb(q)::text AS row FROM ({query}) AS q");
    sqlx::query(sqlx::AssertSqlSafe(wrapped))
        .fetch_all(connection)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let json: Value = serde_json::from_str(&row.get::<String, _>("row")).unwrap();
            json.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string().trim_matches('"').to_string()))
                .collect()
        })
        .collect()
}

/// A Gold column as text, floats at full precision.
fn column_texts(frame: &DataFrame, column: &str) -> Vec<String> {
    let series = frame.column(column).unwrap().as_materialized_series();
    (0..series.len())
        .map(|i| match series.get(i).unwrap() {
            AnyValue::Null => "null".to_string(),
            AnyValue::String(s) => s.to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// The mart's values of `column` equal Gold's; money is NUMERIC(…,4) in the mart, so numbers
/// may differ by the rounding to 4 decimals.
fn assert_same_column(mart: &[BTreeMap<String, String>], column: &str, gold: &[String]) {
    assert_eq!(mart.len(), gold.len(), "{column}: row counts");
    for (index, (row, expected)) in mart.iter().zip(gold).enumerate() {
        let actual = &row[column];
        let same = match (actual.parse::<f64>(), expected.parse::<f64>()) {
            (Ok(a), Ok(b)) => (a - b).abs() <= 5.01e-5,
            _ => actual == expected,
        };
        assert!(
            same,
            "{column} of row {index}: mart {actual}, gold {expected}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mart_equals_gold_row_for_row_and_a_rerun_changes_nothing() {
    let database = TestDatabase::create("rows").await;
    // A dry run builds January's partition inside its transaction and rolls it back.
    let dry = load_mart(
        &database,
        &[
            "--lake",
            gold_lake().to_str().unwrap(),
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-08",
            "--dry-run",
        ],
    );
    assert!(
        dry["details"]["loads"].as_array().unwrap().len() >= 5,
        "{dry}"
    );
    let mut mart = database.connect().await;
    let partitions = "SELECT count(*) FROM pg_inherits \
                      WHERE inhparent = 'mart.player_analytics_daily'::regclass";
    let left: i64 = sqlx::query_scalar(partitions)
        .fetch_one(&mut mart)
        .await
        .unwrap();
    assert_eq!(left, 0, "a dry run leaves no partition behind");

    let summary = load_fixture_days(&database, "2026-01-01", "2026-01-08");
    // Days new to the mart are copied straight in, with nothing to update or delete.
    for load in summary["details"]["loads"].as_array().unwrap() {
        assert!(load["rows_staged"].as_u64().unwrap() > 0, "{load}");
        assert_eq!(load["rows_inserted"], load["rows_staged"], "{load}");
        assert_eq!(load["rows_updated"], 0, "{load}");
        assert_eq!(load["rows_deleted"], 0, "{load}");
    }

    // Players: every gold.player_lifecycle row, with its numbers.
    let lifecycle = sorted(gold_lake(), &gold::PLAYER_LIFECYCLE).await;
    let players = texts(
        &mut mart,
        "SELECT acquisition_date, game_name, player_id, d0_sessions, d7_total_revenue::float8,
                cumulative_revenue_d30::float8, d1_retention, is_payer, install_cost_usd::float8
         FROM mart.player_analytics_daily ORDER BY acquisition_date, game_name, player_id",
    )
    .await;
    assert_eq!(players.len(), lifecycle.height());
    for (column, gold_column) in [
        ("player_id", "player_id"),
        ("d0_sessions", "d0_sessions"),
        ("d7_total_revenue", "d7_total_revenue"),
        ("cumulative_revenue_d30", "revenue_d30"),
        ("d1_retention", "d1_retained"),
        ("is_payer", "is_payer"),
        ("install_cost_usd", "install_cost_usd"),
    ] {
        assert_same_column(&players, column, &column_texts(&lifecycle, gold_column));
    }
    // Monthly partitions were created for the cohorts, built and attached with the parent's
    // primary key and indexes.
    let created: i64 = sqlx::query_scalar(partitions)
        .fetch_one(&mut mart)
        .await
        .unwrap();
    assert_eq!(created, 1, "January 2026 only");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'mart'
           AND tablename = 'player_analytics_daily_y2026m01' ORDER BY indexdef",
    )
    .fetch_all(&mut mart)
    .await
    .unwrap();
    assert_eq!(indexes.len(), 4, "{indexes:?}");
    assert!(
        indexes.iter().any(|i| i.starts_with("CREATE UNIQUE INDEX")
            && i.ends_with("(acquisition_date, game_name, player_id)")),
        "{indexes:?}"
    );

    // Campaigns and KPIs: same keys and numbers as Gold.
    let campaigns = sorted(gold_lake(), &gold::CAMPAIGN_DAILY).await;
    let mart_campaigns = texts(
        &mut mart,
        "SELECT campaign_id, spend_usd::float8, installs, roas_d7::float8, payback_day
         FROM mart.campaign_daily ORDER BY install_date, game_name, campaign_id",
    )
    .await;
    for column in [
        "campaign_id",
        "spend_usd",
        "installs",
        "roas_d7",
        "payback_day",
    ] {
        assert_same_column(&mart_campaigns, column, &column_texts(&campaigns, column));
    }
    let kpis = sorted(gold_lake(), &gold::KPI_DAILY).await;
    let dau: Vec<String> = texts(
        &mut mart,
        "SELECT dau FROM mart.kpi_daily ORDER BY activity_date, game_name",
    )
    .await
    .into_iter()
    .map(|row| row["dau"].clone())
    .collect();
    assert_eq!(dau, column_texts(&kpis, "dau"));
    let cohorts = sorted(gold_lake(), &gold::LTV_COHORTS).await.height() as i64;
    for table in ["mart.cohort_retention", "mart.cohort_ltv"] {
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut mart)
                .await
                .unwrap();
        assert_eq!(rows, cohorts, "{table}");
    }
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM mart.load_log")
        .fetch_one(&mut mart)
        .await
        .unwrap();
    assert_eq!(logged, 5, "one load_log row per mart table: {summary}");

    // A rerun stages everything again and changes no row, not even updated_at: the values
    // copied straight into the mart's types equal what the staging path's casts give.
    let fingerprint = "SELECT md5(string_agg(p::text, '|' ORDER BY p::text))
                       FROM mart.player_analytics_daily p";
    let before: String = sqlx::query_scalar(fingerprint)
        .fetch_one(&mut mart)
        .await
        .unwrap();
    let rerun = load_fixture_days(&database, "2026-01-01", "2026-01-08");
    for load in rerun["details"]["loads"].as_array().unwrap() {
        assert!(load["rows_staged"].as_u64().unwrap() > 0, "{load}");
        for count in ["rows_inserted", "rows_updated", "rows_deleted"] {
            assert_eq!(load[count], 0, "{count} on rerun: {load}");
        }
    }
    let after: String = sqlx::query_scalar(fingerprint)
        .fetch_one(&mut mart)
        .await
        .unwrap();
    assert_eq!(before, after);

    // A mart that drifted from Gold (a changed value, a lost row, a row Gold does not have) is
    // repaired by a rerun: one update, one insert, one delete, and the same rows as before.
    sqlx::raw_sql(
        "UPDATE mart.player_analytics_daily SET d0_sessions = d0_sessions + 100
             WHERE (acquisition_date, player_id) = (SELECT acquisition_date, min(player_id)
                 FROM mart.player_analytics_daily WHERE acquisition_date = '2026-01-02'
                 GROUP BY acquisition_date);
         DELETE FROM mart.player_analytics_daily
             WHERE (acquisition_date, player_id) = (SELECT acquisition_date, max(player_id)
                 FROM mart.player_analytics_daily WHERE acquisition_date = '2026-01-03'
                 GROUP BY acquisition_date);
         INSERT INTO mart.player_analytics_daily (player_id, acquisition_date, game_name)
             VALUES ('not-in-gold', '2026-01-04', 'FantasyQuest');",
    )
    .execute(&mut mart)
    .await
    .unwrap();
    let repair = load_fixture_days(&database, "2026-01-01", "2026-01-08");
    let players = repair["details"]["loads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|load| load["mart_table"] == "mart.player_analytics_daily")
        .unwrap();
    for count in ["rows_inserted", "rows_updated", "rows_deleted"] {
        assert_eq!(players[count], 1, "{count} on repair: {players}");
    }
    let strays: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mart.player_analytics_daily WHERE player_id = 'not-in-gold'",
    )
    .fetch_one(&mut mart)
    .await
    .unwrap();
    assert_eq!(strays, 0, "the row Gold does not have is gone");
    let players_now = texts(
        &mut mart,
        "SELECT player_id, d0_sessions FROM mart.player_analytics_daily
         ORDER BY acquisition_date, game_name, player_id",
    )
    .await;
    assert_same_column(
        &players_now,
        "player_id",
        &column_texts(&lifecycle, "player_id"),
    );
    assert_same_column(
        &players_now,
        "d0_sessions",
        &column_texts(&lifecycle, "d0_sessions"),
    );

    // --changed after a full load finds nothing new in Gold.
    let changed = load_mart(
        &database,
        &["--lake", gold_lake().to_str().unwrap(), "--changed"],
    );
    for (table, days) in changed["details"]["plan"].as_object().unwrap() {
        assert_eq!(days, 0, "{table}");
    }
}

/// Doubles copied straight into NUMERIC(12,4) and INTEGER columns are stored as PostgreSQL's
/// own casts from a double store them, including halves and values whose 15 significant
/// digits differ from their exact binary value.
#[tokio::test(flavor = "multi_thread")]
async fn copying_into_mart_types_stores_what_postgres_casts_would() {
    use ltv_lakehouse::jobs::load_mart::pgcopy::{TargetType, encode_as};
    let database = TestDatabase::create("pgcopy").await;
    let mut connection = database.connect().await;
    sqlx::query("CREATE TABLE typed (n NUMERIC(12,4), i INTEGER, x DOUBLE PRECISION)")
        .execute(&mut connection)
        .await
        .unwrap();
    let mut values = vec![
        0.12345,
        0.00005,
        -0.00005,
        2.5,
        3.5,
        -2.5,
        1234.56785,
        99_999_999.999_94,
        1e-9,
        0.1 + 0.2,
        7.0 / 3.0,
        -1.0 / 3.0,
        12.345_65 - 1e-14,
        0.0,
    ];
    values.extend((0..5000).map(|i| (f64::from(i) * 0.7391).sin() * 10f64.powi(i % 9 - 4)));
    let frame = df!("n" => &values, "i" => &values, "x" => &values).unwrap();
    let data = encode_as(
        &frame,
        &[TargetType::Numeric, TargetType::Integer, TargetType::Double],
    )
    .unwrap();
    let mut copy = connection
        .copy_in_raw("COPY typed (n, i, x) FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    copy.send(data).await.unwrap();
    assert_eq!(copy.finish().await.unwrap(), values.len() as u64);
    let different: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT n::text, i::text, x FROM typed \
         WHERE n IS DISTINCT FROM x::numeric(12,4) OR i IS DISTINCT FROM x::integer",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert!(different.is_empty(), "{different:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrent_reader_sees_the_old_mart_or_the_new_never_half_a_day() {
    let database = TestDatabase::create("atomic").await;
    load_mart(&database, &["migrate"]);
    let mut reader = database.connect().await;
    // A read that waited on the load's locks would fail here instead of hanging the test.
    sqlx::query("SET statement_timeout = '20s'")
        .execute(&mut reader)
        .await
        .unwrap();
    let rows_of = |from: &str, to: &str| {
        format!(
            "SELECT (SELECT count(*) FROM mart.player_analytics_daily
                     WHERE acquisition_date BETWEEN '{from}' AND '{to}')
                  + (SELECT count(*) FROM mart.kpi_daily WHERE activity_date BETWEEN '{from}' AND '{to}')"
        )
    };
    // Into an empty mart: January's partition is built inside the load and attached at its
    // end, so the reader must not see it before commit either.
    let first_week = rows_of("2026-01-01", "2026-01-07");
    hold_load_at_its_last_statement(&database, &mut reader, "2026-01-07", &first_week).await;
    // Then a day of that month, copied into the partition that is now there.
    let last_day = rows_of("2026-01-08", "2026-01-08");
    hold_load_at_its_last_statement(&database, &mut reader, "2026-01-08", &last_day).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_the_server_does_not_take_fails_the_load_after_the_stall_timeout() {
    let database = TestDatabase::create("stall").await;
    load_mart(&database, &["migrate"]);
    let mut blocker = database.connect().await;
    sqlx::query(
        "CREATE TABLE mart.player_analytics_daily_y2026m01 PARTITION OF \
         mart.player_analytics_daily FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
    )
    .execute(&mut blocker)
    .await
    .unwrap();
    // A session holding January against writers: the load's COPY into it cannot proceed.
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE mart.player_analytics_daily_y2026m01 IN SHARE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let mut load = load_mart_command(
        &database,
        &[
            "--lake",
            gold_lake().to_str().unwrap(),
            "--date",
            "2026-01-02",
            "--stall-timeout",
            "2",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // A load that waited on the lock for good would hang the test: give it a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    while load.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            load.kill().unwrap();
            panic!("the stalled load was still waiting after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let output = load.wait_with_output().unwrap();
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("COPY into mart.player_analytics_daily made no progress for 2 s"),
        "{stderr}"
    );
    // Rolled back whole: not even the tables copied before the stalled one were published.
    let published: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM mart.player_analytics_daily)
              + (SELECT count(*) FROM mart.kpi_daily)
              + (SELECT count(*) FROM mart.load_log)",
    )
    .fetch_one(&mut blocker)
    .await
    .unwrap();
    assert_eq!(published, 0);
}

/// Runs a load of 2026-01-01 to `to`, holds it at its last statement (its load_log insert,
/// after it has published every table inside its transaction), and checks that `reader` sees
/// none of the rows `counted` counts until the load commits.
async fn hold_load_at_its_last_statement(
    database: &TestDatabase,
    reader: &mut sqlx::PgConnection,
    to: &str,
    counted: &str,
) {
    let before: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(counted))
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    assert_eq!(before, 0);

    let mut blocker = database.connect().await;
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE mart.load_log IN SHARE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let load = load_mart_command(
        database,
        &[
            "--lake",
            gold_lake().to_str().unwrap(),
            "--from",
            "2026-01-01",
            "--to",
            to,
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE 'INSERT INTO mart.load_log%'",
        )
        .fetch_one(&mut *reader)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the load never reached load_log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(counted))
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    assert_eq!(during, 0, "the published days are invisible until commit");

    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    succeeded(load.wait_with_output().unwrap());
    let after: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(counted))
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    assert!(after > 0, "the days are there after commit");
}

/// A mart filled by hand (no Gold), so every view's numbers can be worked out on paper.
async fn hand_built_mart(database: &TestDatabase) -> sqlx::PgConnection {
    load_mart(database, &["migrate"]);
    let mut mart = database.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE mart.player_analytics_daily_hand PARTITION OF mart.player_analytics_daily
             FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
         INSERT INTO mart.player_analytics_daily (player_id, acquisition_date, game_name,
             campaign_id, acquisition_channel, country, platform, install_ts, d1_retention,
             d7_retention, last_active_date, is_payer, is_whale, is_minor, install_cost_usd,
             cumulative_revenue_d30, lifetime_revenue, predicted_ltv_d30, predicted_ltv_d180,
             churn_risk_score, predicted_churn_d7, days_observed) VALUES
         ('p1', '2026-03-01', 'G', 'c1', 'meta', 'US', 'ios', '2026-03-01 10:00+00', true,
             true, '2026-03-31', true, true, false, 2, 100, 150, 120, 300, 0.9, true, 30),
         ('p2', '2026-03-02', 'G', 'c1', 'meta', 'US', 'ios', '2026-03-02 02:00+00', true,
             false, '2026-03-03', false, false, false, 2, 10, 10, 8, 12, 0.2, false, 29),
         ('p3', '2026-03-02', 'G', NULL, 'organic', 'DE', 'android', '2026-03-02 06:00+00',
             false, false, '2026-03-02', false, false, false, NULL, 0, 0, 1, 2, 0.6, true, 29),
         ('p4', '2026-03-02', 'G', 'c1', 'meta', 'US', 'ios', '2026-03-02 09:00+00', false,
             false, '2026-03-02', true, false, true, 2, 50, 50, NULL, NULL, 0.95, true, 29);
         INSERT INTO mart.campaign_daily (install_date, game_name, campaign_id, campaign_name,
             acquisition_channel, spend_usd, installs, network_installs, revenue_d0,
             revenue_d1, revenue_d3, revenue_d7, revenue_d14, revenue_d30, roas_d30,
             payback_day, days_observed) VALUES
         ('2026-03-01', 'G', 'c1', 'Spring US', 'meta', 100, 50, 52, 1, 2, 5, 40, 60, 120, 1.2,
             21, 30),
         ('2026-03-02', 'G', 'c1', 'Spring US', 'meta', 60, 20, 20, 1, 2, 5, 20, 30, 50,
             0.8333, NULL, 29);
         INSERT INTO mart.campaign_actions (idempotency_key, run_id, decided_on, game_name,
             platform, campaign_id, object_id, action, reason, status) VALUES
         ('k1', 'r1', '2026-03-01', 'G', 'meta', 'c1', 'c1', 'scale_budget', 'roas', 'applied'),
         ('k2', 'r2', '2026-03-02', 'G', 'meta', 'c1', 'c1', 'pause', 'roas fell', 'applied');
         INSERT INTO mart.cohort_retention (cohort_date, game_name, day_n, installs,
             retained_calendar, retention_calendar, retained_24h, retention_24h, is_mature)
         VALUES ('2026-03-01', 'G', 0, 4, 4, 1.0, 4, 1.0, true),
                ('2026-03-01', 'G', 1, 4, 2, 0.5, 1, 0.25, true),
                ('2026-03-01', 'G', 7, 4, 1, 0.25, 1, 0.25, false);
         INSERT INTO mart.cohort_ltv (cohort_date, game_name, day_n, installs,
             cumulative_revenue, revenue_per_install, payers_to_date, is_mature)
         VALUES ('2026-03-01', 'G', 0, 4, 2, 0.5, 1, true),
                ('2026-03-01', 'G', 1, 4, 6, 1.5, 1, true),
                ('2026-03-01', 'G', 7, 4, 10, 2.5, 2, false);",
    )
    .execute(&mut mart)
    .await
    .unwrap();
    mart
}

fn row<'a>(
    rows: &'a [BTreeMap<String, String>],
    key: &str,
    value: &str,
) -> &'a BTreeMap<String, String> {
    rows.iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no row with {key} = {value} in {rows:?}"))
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {} is not a number", row[column]))
}

fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: {actual} != {expected}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_view_gives_the_numbers_worked_out_by_hand() {
    let database = TestDatabase::create("views").await;
    let mut mart = hand_built_mart(&database).await;

    // God dashboard: 4 installs, 2 activated, 1 retained D7, 1 active on day 30+, 2 payers,
    // 1 whale (the minor p4 pays but is never a whale).
    let stages = texts(&mut mart, "SELECT * FROM mart.v_god_overview").await;
    assert_eq!(stages.len(), 6, "every stage, reached or not");
    for (stage, players) in [
        ("Acquisition", 4),
        ("Activation", 2),
        ("D7 Retained", 1),
        ("D30 Retained", 1),
        ("Paying", 2),
        ("Whales", 1),
    ] {
        assert_eq!(row(&stages, "stage", stage)["players"], players.to_string());
    }
    close(
        number(row(&stages, "stage", "Activation"), "share_of_previous"),
        0.5,
        "activation",
    );
    close(
        number(row(&stages, "stage", "Paying"), "share_of_previous"),
        2.0,
        "paying",
    );
    // (120 + 8 + 1) / 3 players with a prediction.
    close(
        number(
            row(&stages, "stage", "Acquisition"),
            "avg_predicted_ltv_d30",
        ),
        43.0,
        "pLTV D30",
    );
    let totals = texts(&mut mart, "SELECT * FROM mart.v_god_totals").await;
    close(number(&totals[0], "realized_revenue"), 210.0, "realised");
    close(
        number(&totals[0], "predicted_cohort_value"),
        314.0,
        "predicted",
    );
    // Paid: revenue 150 + 10 + 50 over cost 2 + 2 + 2.
    close(
        number(&totals[0], "blended_paid_roas"),
        35.0,
        "blended ROAS",
    );

    // LTV waterfall: meta US ios holds p1, p2, p4.
    let waterfall = texts(&mut mart, "SELECT * FROM mart.v_ltv_waterfall").await;
    let meta = row(&waterfall, "acquisition_channel", "meta");
    assert_eq!(meta["installs"], "3");
    close(
        number(meta, "avg_actual_ltv_d30"),
        160.0 / 3.0,
        "actual LTV",
    );
    close(number(meta, "roas_d30"), 160.0 / 6.0, "ROAS D30");
    close(number(meta, "predicted_roas_d30"), 128.0 / 6.0, "pROAS D30");

    // Campaign board: both days of c1, and its latest decision.
    let board = texts(&mut mart, "SELECT * FROM mart.v_campaign_board").await;
    assert_eq!(board.len(), 1);
    close(number(&board[0], "spend_7d"), 160.0, "spend");
    close(number(&board[0], "cpi_usd"), 160.0 / 70.0, "CPI");
    close(number(&board[0], "roas_d7"), 60.0 / 160.0, "ROAS D7");
    close(
        number(&board[0], "predicted_roas_d30"),
        128.0 / 160.0,
        "pROAS",
    );
    assert_eq!(board[0]["last_action"], "pause");

    // Live board: the 4 hours to 09:00 hold p3 and p4; the 4 before them p2.
    let live = texts(&mut mart, "SELECT * FROM mart.v_live_last_4h").await;
    let meta = row(&live, "acquisition_channel", "meta");
    assert_eq!(
        (
            meta["installs"].as_str(),
            meta["installs_previous_4h"].as_str()
        ),
        ("1", "1")
    );
    close(
        number(meta, "predicted_value_previous_4h"),
        8.0,
        "value before",
    );
    let organic = row(&live, "acquisition_channel", "organic");
    assert_eq!(organic["installs"], "1");
    close(number(organic, "predicted_value_added"), 1.0, "value added");

    // Whale rescue: p1 only (p4 is a minor, p3 no whale).
    let whales = texts(&mut mart, "SELECT * FROM mart.v_whale_churn_alerts").await;
    assert_eq!(whales.len(), 1);
    assert_eq!(whales[0]["player_id"], "p1");
    close(
        number(&whales[0], "predicted_remaining"),
        150.0,
        "remaining",
    );
    assert_eq!(whales[0]["recommended_action"], "Personal VIP message");

    // Cohort tabs.
    let retention = texts(&mut mart, "SELECT * FROM mart.v_cohort_retention_heatmap").await;
    close(number(&retention[0], "day_1"), 0.5, "D1");
    assert_eq!(retention[0]["day_7"], "null", "D7 is not mature yet");
    let ltv = texts(&mut mart, "SELECT * FROM mart.v_cohort_ltv_heatmap").await;
    close(number(&ltv[0], "day_1"), 1.5, "LTV D1");
    close(number(&ltv[0], "maturity"), 1.0 / 180.0, "maturity");
    let grid = texts(
        &mut mart,
        "SELECT * FROM mart.v_cohort_roas_payback ORDER BY install_date",
    )
    .await;
    assert_eq!(grid.len(), 2);
    assert_eq!(grid[0]["payback_day"], "21");
    assert_eq!(grid[1]["payback_day"], "null");
    assert_eq!(grid[1]["status"], "pause");
    let dive = texts(
        &mut mart,
        "SELECT * FROM mart.v_cohort_deep_dive WHERE cohort_date = '2026-03-01'",
    )
    .await;
    assert_eq!(dive.len(), 1);
    // p1 alone: predicted 120 against 100 realised.
    close(number(&dive[0], "accuracy_d30"), 0.8, "accuracy");
    close(number(&dive[0], "whale_share"), 1.0, "whales");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_database_url_load_mart_exits_2_and_names_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_load-mart"))
        .args(["--date", "2026-01-01"])
        .env_remove("DATABASE_URL")
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_of_the_database_url_never_reaches_the_output() {
    let output = Command::new(env!("CARGO_BIN_EXE_load-mart"))
        .arg("migrate")
        .env(
            "DATABASE_URL",
            "postgres://mart:s3cret-pa55@127.0.0.1:5432/no_such_db",
        )
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("DATABASE_URL"), "{all}");
    assert!(!all.contains("s3cret-pa55"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lake_without_gold_names_the_missing_table() {
    let database = TestDatabase::create("nogold").await;
    let lake = tempfile::tempdir().unwrap();
    let output = load_mart_command(
        &database,
        &[
            "--lake",
            lake.path().to_str().unwrap(),
            "--date",
            "2026-01-01",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("gold.player_lifecycle does not exist")
            && stderr.contains("silver-to-gold"),
        "{stderr}"
    );
}
