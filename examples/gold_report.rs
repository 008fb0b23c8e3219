//! Prints what Gold says about a lake: KPIs by day, cohort retention and revenue per install,
//! and campaigns by ROAS. `make demo` runs it; `cargo run --example gold_report -- LAKE`.

use ltv_lakehouse::lake::{Committer, Lake, LakeUri};
use ltv_lakehouse::tables::gold;
use polars::prelude::*;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = std::env::args().nth(1).unwrap_or_else(|| "lake".into());
    let lake = Lake::new(
        LakeUri::parse(&root).map_err(anyhow::Error::msg)?,
        Committer::default(),
    );
    // SAFETY: set before any other thread reads the environment.
    unsafe {
        std::env::set_var("POLARS_FMT_MAX_ROWS", "40");
        std::env::set_var("POLARS_FMT_MAX_COLS", "12");
        std::env::set_var("POLARS_TABLE_WIDTH", "140");
        std::env::set_var("POLARS_FMT_TABLE_ROUNDED_CORNERS", "1");
    }

    let kpis = lake.read(&gold::KPI_DAILY, None).await?;
    println!("\nKPIs by game and day (gold.kpi_daily)");
    println!(
        "{}",
        kpis.lazy()
            .sort(["game_id", "activity_date"], SortMultipleOptions::default())
            .select([
                col("game_id"),
                col("activity_date"),
                col("dau"),
                col("installs"),
                col("d1_retention").round(3, RoundMode::HalfToEven),
                col("revenue_usd").round(2, RoundMode::HalfToEven),
                col("arpdau").round(3, RoundMode::HalfToEven),
                col("iap_conversion").round(3, RoundMode::HalfToEven),
            ])
            .collect()?
    );

    let cohorts = lake.read(&gold::LTV_COHORTS, None).await?;
    println!(
        "\nCohorts: calendar and 24-hour retention, revenue per install (gold.ltv_cohorts, mature days)"
    );
    let at = |n: i32, column: &str, name: &str| {
        col(column)
            .filter(col("day_n").eq(lit(n)).and(col("is_mature")))
            .first()
            .round(3, RoundMode::HalfToEven)
            .alias(name)
    };
    println!(
        "{}",
        cohorts
            .lazy()
            .group_by([col("game_id"), col("cohort_date")])
            .agg([
                col("installs").first(),
                at(1, "retention_calendar", "d1"),
                at(1, "retention_24h", "d1_24h"),
                at(7, "retention_calendar", "d7"),
                at(0, "revenue_per_install", "arpi_d0"),
                at(7, "revenue_per_install", "arpi_d7"),
            ])
            .sort(["game_id", "cohort_date"], SortMultipleOptions::default())
            .collect()?
    );

    let campaigns = lake.read(&gold::CAMPAIGN_DAILY, None).await?;
    println!(
        "\nCampaigns, install days with 3 days of data, best ROAS D3 first (gold.campaign_daily)"
    );
    println!(
        "{}",
        campaigns
            .lazy()
            .filter(col("days_observed").gt_eq(lit(3)))
            .group_by([col("game_id"), col("campaign_id")])
            .agg([
                col("spend_usd").sum(),
                col("installs").sum(),
                col("revenue_d3").sum(),
                col("payback_day").min(),
            ])
            .with_columns([
                (col("spend_usd") / col("installs").cast(DataType::Float64))
                    .round(2, RoundMode::HalfToEven)
                    .alias("cpi"),
                (col("revenue_d3") / col("spend_usd"))
                    .round(3, RoundMode::HalfToEven)
                    .alias("roas_d3"),
                col("spend_usd").round(2, RoundMode::HalfToEven),
                col("revenue_d3").round(2, RoundMode::HalfToEven),
            ])
            .sort(
                ["roas_d3"],
                SortMultipleOptions::default().with_order_descending(true),
            )
            .collect()?
    );
    Ok(())
}
