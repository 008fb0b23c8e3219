//! The Airflow DAGs, run for real: the DagBag checks (pytest), then `airflow dags test` of the
//! micro-batch DAG and the nightly DAG on a generated studio, running the real binaries
//! against the real lake and Postgres, and the mart checked afterwards. A replay of the same
//! day through the micro-batch DAG leaves the mart as it was.
//!
//! Airflow is installed once into `~/.cache/ltv-lakehouse/tools/airflow-venv` by
//! `scripts/airflow.sh` (pinned by `airflow/constraints.txt`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{PII_KEY, TestDatabase, lake};
use ltv_lakehouse::tables::gold;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The folder of the `airflow`, `python` and `pytest` executables, installing them when needed.
fn airflow_bin() -> PathBuf {
    let script = Path::new(REPO).join("scripts/airflow.sh");
    let install = Command::new(&script).arg("install").status().unwrap();
    assert!(install.success(), "scripts/airflow.sh install failed");
    let path = Command::new(&script).arg("path").output().unwrap();
    PathBuf::from(String::from_utf8(path.stdout).unwrap().trim())
}

/// Runs an Airflow command line with the DAGs folder and `env`; panics with its log on failure.
fn airflow(bin: &Path, home: &Path, args: &[&str], env: &[(&str, String)]) {
    let output = Command::new(bin.join(args[0]))
        .args(&args[1..])
        .env("AIRFLOW_HOME", home)
        .env(
            "AIRFLOW__CORE__DAGS_FOLDER",
            Path::new(REPO).join("airflow/dags"),
        )
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("PYTHONPATH", Path::new(REPO).join("airflow/dags"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(home)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `airflow dags test DAG LOGICAL_DATE`: one real run of every task, no scheduler.
fn dags_test(bin: &Path, home: &Path, dag: &str, logical_date: &str, env: &[(&str, String)]) {
    airflow(
        bin,
        home,
        &["airflow", "dags", "test", dag, logical_date],
        env,
    );
}

/// Each mart table's rows, as one text per table (load bookkeeping and timestamps left out).
async fn mart_contents(database: &TestDatabase) -> Vec<(String, i64, String)> {
    let mut connection = database.connect().await;
    let mut contents = Vec::new();
    for table in [
        "player_analytics_daily",
        "campaign_daily",
        "cohort_retention",
        "cohort_ltv",
        "kpi_daily",
        "campaign_actions",
    ] {
        let query = format!(
            "SELECT count(*), coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') \
             FROM (SELECT to_jsonb(t) - 'updated_at' AS r FROM mart.{table} t) s"
        );
        let (rows, digest): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(query))
            .fetch_one(&mut connection)
            .await
            .unwrap();
        contents.push((table.to_string(), rows, digest));
    }
    contents
}

#[tokio::test(flavor = "multi_thread")]
async fn both_dags_run_the_real_binaries_and_a_replay_leaves_the_mart_unchanged() {
    let bin = airflow_bin();
    let folder = tempfile::tempdir().unwrap();
    let home = folder.path().join("airflow");
    std::fs::create_dir_all(&home).unwrap();

    // The DagBag checks: imports, task order, retries, timeouts.
    let pytest = Command::new(bin.join("python"))
        .args(["-m", "pytest", "-q", "airflow/tests"])
        .env("AIRFLOW_HOME", &home)
        .env("PYTHONPATH", Path::new(REPO).join("airflow/dags"))
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(
        pytest.status.success(),
        "{}",
        String::from_utf8_lossy(&pytest.stdout)
    );

    // Sixty days of a studio: enough matured players for the nightly training.
    let studio = folder.path().join("studio");
    common::gen_studio(&studio, "2026-03-01", "120", "11");
    let lake_path = folder.path().join("lake");
    let database = TestDatabase::create("dags").await;
    let binaries = Path::new(env!("CARGO_BIN_EXE_score-ltv")).parent().unwrap();
    // What a worker's environment gives the binaries (tasks run in a temporary folder, so
    // every path is absolute).
    let env = vec![
        ("LTV_BIN_DIR", binaries.display().to_string()),
        ("LAKE_URI", lake_path.display().to_string()),
        ("DATABASE_URL", database.url.clone()),
        ("PII_HASH_KEY", PII_KEY.to_string()),
        ("LTV_INGEST_SOURCE", format!("file:{}", studio.display())),
        ("CONTRACTS_DIR", format!("{REPO}/contracts")),
        ("STUDIO_CONFIG", format!("{REPO}/config/studio.yaml")),
        ("OPTIMIZER_CONFIG", format!("{REPO}/config/optimizer.yaml")),
        ("LTV_METRICS_DIR", folder.path().display().to_string()),
        // Debug binaries loading sixty days at once: far more than a five-minute batch.
        ("LTV_TASK_TIMEOUT_SCALE", "20".to_string()),
    ];
    airflow(&bin, &home, &["airflow", "db", "migrate"], &env);

    // The day's micro-batch: files into Bronze, Silver, Gold, no model yet, the mart.
    dags_test(
        &bin,
        &home,
        "ltv_micro_batch",
        "2026-03-01T12:00:00+00:00",
        &env,
    );
    let players = lake(&lake_path)
        .read(&gold::PLAYER_LIFECYCLE, None)
        .await
        .unwrap()
        .height() as i64;
    assert!(players > 5000, "{players}");
    let after_micro_batch = mart_contents(&database).await;
    assert_eq!(after_micro_batch[0].1, players, "{after_micro_batch:?}");
    assert!(
        folder.path().join("ingest_drain.prom").exists(),
        "each task writes its metrics"
    );

    // The night after: contracts, Silver/Gold again, training, scores, campaigns, mart,
    // maintenance.
    dags_test(
        &bin,
        &home,
        "ltv_nightly",
        "2026-03-02T03:00:00+00:00",
        &env,
    );
    let mut connection = database.connect().await;
    let (rows, predicted, versions): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(predicted_ltv_d30), count(DISTINCT prediction_version) \
         FROM mart.player_analytics_daily",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert_eq!(rows, players);
    assert!(
        predicted > players / 2,
        "{predicted} of {players} predicted"
    );
    assert_eq!(versions, 1);
    let decisions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mart.campaign_actions WHERE decided_on = '2026-03-01'",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert!(decisions >= 9, "{decisions} campaign decisions");
    // The run id reached the binaries through the environment.
    let airflow_runs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mart.load_log WHERE run_id LIKE 'manual__%'")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert!(airflow_runs > 0);

    // Replaying the day through the micro-batch DAG changes nothing in the mart.
    let before = mart_contents(&database).await;
    dags_test(
        &bin,
        &home,
        "ltv_micro_batch",
        "2026-03-01T12:05:00+00:00",
        &env,
    );
    assert_eq!(mart_contents(&database).await, before);
}
