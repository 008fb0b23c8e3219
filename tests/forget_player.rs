//! forget-player erases a player from every table of the lake and from the mart, and nobody
//! else.

mod common;

use std::process::Command;

use common::{TestDatabase, lake, run_stage_with, silver_lake, silver_to_gold};
use ltv_lakehouse::lake::TableSpec;
use ltv_lakehouse::tables::{CATALOG, gold};
use polars::prelude::*;
use serde_json::Value;

fn forget(database: &TestDatabase, lake_path: &std::path::Path, hash: &str) -> Value {
    run_stage_with(
        env!("CARGO_BIN_EXE_forget-player"),
        &["--player-hash", hash, "--lake", lake_path.to_str().unwrap()],
        &[("DATABASE_URL", &database.url)],
    )
}

/// Rows of `spec` mentioning `hash` in `player_id` or in the raw JSON, and all its rows.
async fn mentions(lake_path: &std::path::Path, spec: &TableSpec, hash: &str) -> (usize, usize) {
    let Ok(rows) = lake(lake_path).read(spec, None).await else {
        return (0, 0);
    };
    let mut condition = lit(false);
    if spec.column("player_id").is_some() {
        condition = condition.or(col("player_id").eq(lit(hash)));
    }
    if spec.column("raw_json").is_some() {
        condition = condition.or(col("raw_json").str().contains_literal(lit(hash)));
    }
    let matching = rows.clone().lazy().filter(condition).collect().unwrap();
    (matching.height(), rows.height())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forgotten_player_leaves_no_trace_and_everyone_else_stays() {
    let folder = silver_lake();
    silver_to_gold(
        folder.path(),
        &["--from", "2026-01-01", "--to", "2026-01-08"],
    );
    let database = TestDatabase::create("forget").await;
    run_stage_with(
        env!("CARGO_BIN_EXE_load-mart"),
        &["--lake", folder.path().to_str().unwrap(), "--changed"],
        &[("DATABASE_URL", &database.url)],
    );

    // A paying player from a paid campaign: present in every layer.
    let lifecycle = lake(folder.path())
        .read(&gold::PLAYER_LIFECYCLE, None)
        .await
        .unwrap()
        .lazy()
        .filter(col("is_payer").and(col("campaign_id").is_not_null()))
        .sort(["player_id"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    let hash = lifecycle
        .column("player_id")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();

    let mut before = Vec::new();
    for spec in CATALOG {
        before.push(mentions(folder.path(), &spec, &hash).await);
    }
    for (spec, (found, _)) in CATALOG.iter().zip(&before) {
        if [
            "bronze.game_events",
            "silver.player_events",
            "gold.dim_player",
        ]
        .contains(&spec.name.to_string().as_str())
        {
            assert!(*found > 0, "{} holds the player before", spec.name);
        }
    }
    let mut mart = database.connect().await;
    let in_mart = "SELECT count(*) FROM mart.player_analytics_daily WHERE player_id = $1";
    let mart_rows: i64 = sqlx::query_scalar(in_mart)
        .bind(&hash)
        .fetch_one(&mut mart)
        .await
        .unwrap();
    assert_eq!(mart_rows, 1);
    let mart_total = "SELECT count(*) FROM mart.player_analytics_daily";
    let total_before: i64 = sqlx::query_scalar(mart_total)
        .fetch_one(&mut mart)
        .await
        .unwrap();

    let summary = forget(&database, folder.path(), &hash);
    for (spec, (found, total)) in CATALOG.iter().zip(&before) {
        let (left, now) = mentions(folder.path(), spec, &hash).await;
        assert_eq!(left, 0, "{} still holds the player", spec.name);
        assert_eq!(now, total - found, "{} lost other rows", spec.name);
        // delta-rs counts rows it rewrites; a file dropped whole reports no count (null).
        let reported = &summary["details"]["rows_removed"][spec.name.to_string()];
        if *found > 0 && !reported.is_null() {
            assert_eq!(reported, *found as u64, "{}: {summary}", spec.name);
        }
    }
    let mart_rows: i64 = sqlx::query_scalar(in_mart)
        .bind(&hash)
        .fetch_one(&mut mart)
        .await
        .unwrap();
    assert_eq!(mart_rows, 0);
    let total_after: i64 = sqlx::query_scalar(mart_total)
        .fetch_one(&mut mart)
        .await
        .unwrap();
    assert_eq!(total_after, total_before - 1);

    // Asking again finds nothing more to remove.
    let again = forget(&database, folder.path(), &hash);
    assert_eq!(again["rows_out"], 0, "{again}");
}

#[test]
fn a_malformed_hash_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_forget-player"))
        .args(["--player-hash", "not-a-hash", "--lake-only"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("64 lowercase hex"));
}
