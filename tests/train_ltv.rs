//! train-ltv on a generated studio of 60 days run through Bronze, Silver and Gold: the models
//! are evaluated on later cohorts against the heuristic, recorded in the registry, and the same
//! Gold and seed give the same models.

mod common;

use std::path::Path;

use common::{bronze_to_silver, ingest_files, lake, run_stage, silver_to_gold};
use ltv_lakehouse::tables::gold;
use polars::prelude::*;
use serde_json::Value;

/// Installs per day of the studio: enough players for cohort figures that mean something,
/// few enough for a debug build.
const INSTALLS_PER_DAY: &str = "120";

fn studio_gold(folder: &Path) {
    let studio = folder.join("studio");
    run_stage(
        env!("CARGO_BIN_EXE_gen-fixtures"),
        &[
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-01",
            "--installs-per-day",
            INSTALLS_PER_DAY,
            "--seed",
            "11",
            "--out",
            studio.to_str().unwrap(),
        ],
    );
    let lake = folder.join("lake");
    ingest_files(&lake, &studio, "2026-03-01");
    bronze_to_silver(&lake, "2026-03-01", &[]);
    silver_to_gold(&lake, &["--changed"]);
}

fn train(lake: &Path, report: &Path) -> (Value, Value) {
    let summary = run_stage(
        env!("CARGO_BIN_EXE_train-ltv"),
        &[
            "--lake",
            lake.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let report: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    (summary, report)
}

fn model<'a>(report: &'a Value, target: &str, n: i64) -> &'a Value {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["target"] == target && m["observation_days"] == n)
        .unwrap_or_else(|| panic!("no {target} model at N={n} in {report:#}"))
}

fn number(value: &Value, path: &[&str]) -> f64 {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("no number at {path:?} in {value:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn models_beat_the_heuristic_on_later_cohorts_and_a_rerun_gives_the_same_models() {
    let folder = tempfile::tempdir().unwrap();
    studio_gold(folder.path());
    let lake_path = folder.path().join("lake");
    let (summary, report) = train(&lake_path, &folder.path().join("report.json"));
    assert_eq!(report["as_of"], "2026-03-01");
    assert_eq!(summary["details"]["model_version"], "ltv-2026-03-01-s7");

    // D30 from a player's first week, on the holdout of the newest matured install days.
    let d30 = model(&report, "ltv_d30", 7);
    assert_eq!(d30["method"], "xgboost");
    assert!(d30["holdout_players"].as_u64().unwrap() > 500, "{d30:#}");
    let evaluation = &d30["evaluation"];
    let decile_mape = number(evaluation, &["model", "decile_mape", "mape"]);
    let heuristic_decile_mape = number(evaluation, &["heuristic", "decile_mape", "mape"]);
    assert!(
        decile_mape < heuristic_decile_mape,
        "decile MAPE {decile_mape} vs heuristic {heuristic_decile_mape}"
    );
    // No cohort MAPE here: the install day × channel cells of this studio hold fewer than
    // the 50 players a cohort figure needs, and the report leaves it empty.
    assert!(number(evaluation, &["model", "normalized_gini"]) > 0.5);
    assert_eq!(d30["promoted"], true);

    // Churn within a week of day 7 ranks players better than days since last seen.
    let churn = model(&report, "churn_d7", 7);
    assert!(
        number(&churn["evaluation"], &["model", "auc"])
            > number(&churn["evaluation"], &["heuristic", "auc"])
    );

    // No cohort is 180 days old: D180 is the D30 model carried along the cohort curve.
    let d180 = model(&report, "ltv_d180", 7);
    assert_eq!(d180["method"], "cohort_curve");
    let multiplier = number(&d180["evaluation"], &["multiplier"]);
    assert!(multiplier > 1.0 && multiplier < 10.0, "{multiplier}");

    // Every model is in the registry; the same Gold and seed give the same trees.
    let registry = |lake_path: &Path| {
        let lake_path = lake_path.to_path_buf();
        async move {
            lake(&lake_path)
                .read(&gold::LTV_MODELS, None)
                .await
                .unwrap()
                .sort(
                    ["target", "observation_days"],
                    SortMultipleOptions::default(),
                )
                .unwrap()
        }
    };
    let first = registry(&lake_path).await;
    assert_eq!(first.height(), report["models"].as_array().unwrap().len());
    train(&lake_path, &folder.path().join("again.json"));
    let second = registry(&lake_path).await;
    assert_eq!(second.height(), first.height(), "a rerun adds no version");
    for column in first.columns() {
        let again = second.column(column.name()).unwrap();
        assert!(
            column
                .as_materialized_series()
                .equals_missing(again.as_materialized_series()),
            "a rerun changed {}: {:?} then {:?}",
            column.name(),
            column.head(Some(3)),
            again.head(Some(3))
        );
    }
}

#[test]
fn train_ltv_on_a_lake_without_gold_names_the_missing_table() {
    let lake = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_train-ltv"))
        .args(["--lake", lake.path().to_str().unwrap()])
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("gold.fact_player_daily does not exist"),
        "{stderr}"
    );
}
