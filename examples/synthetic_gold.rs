//! Writes a synthetic Gold layer of N players acquired over January 2026 (for the mart
//! benchmark): `gold.player_lifecycle`, `gold.dim_player` and `gold.dim_campaign` with varied,
//! deterministic values, and the other Gold tables load-mart reads, empty.
//!
//! Usage: synthetic_gold LAKE_DIR PLAYERS

use anyhow::Context;
use chrono::NaiveDate;
use ltv_lakehouse::date_range::DateRange;
use ltv_lakehouse::lake::{Committer, Lake, LakeUri, TableSpec, frame};
use ltv_lakehouse::tables::gold;
use polars::prelude::*;

const DAYS: u32 = 31;
const CAMPAIGNS: u64 = 40;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let root = args
        .next()
        .context("usage: synthetic_gold LAKE_DIR PLAYERS")?;
    let players: u64 = args.next().context("missing PLAYERS")?.parse()?;
    let lake = Lake::new(
        LakeUri::parse(&root).map_err(anyhow::Error::msg)?,
        Committer::default(),
    );
    let january = DateRange::new(day(1), day(DAYS))?;

    let n = players as usize;
    // A cheap deterministic spread: the low bits of a multiplicative hash of the row number.
    let spread =
        |i: u64, salt: u64| (i.wrapping_add(salt).wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 40;
    let ids: Vec<u64> = (0..players).collect();
    let pick = |salt: u64, m: u64| ids.iter().map(|i| spread(*i, salt) % m).collect::<Vec<_>>();
    let money = |salt: u64, scale: f64| {
        ids.iter()
            .map(|i| (spread(*i, salt) % 10_000) as f64 * scale / 10_000.0)
            .collect::<Vec<f64>>()
    };
    let day_index = pick(1, u64::from(DAYS));
    let campaign = pick(2, CAMPAIGNS + 10);
    let acquisition: Vec<NaiveDate> = day_index.iter().map(|d| day(*d as u32 + 1)).collect();
    let player_id: Vec<String> = ids.iter().map(|i| format!("player_{i:09}")).collect();
    let campaign_id: Vec<Option<String>> = campaign
        .iter()
        .map(|c| (*c < CAMPAIGNS).then(|| format!("campaign_{c:03}")))
        .collect();
    let media: Vec<&str> = campaign
        .iter()
        .map(|c| ["meta", "google", "tiktok", "ironsource", "organic"][(*c % 5) as usize])
        .collect();
    let flag = |salt: u64, per_100: u64| {
        pick(salt, 100)
            .iter()
            .map(|v| *v < per_100)
            .collect::<Vec<bool>>()
    };
    let lifecycle = df!(
        "acquisition_date" => &acquisition,
        "game_id" => pick(3, 2).iter().map(|g| ["FantasyQuest", "TinyTitans"][*g as usize]).collect::<Vec<_>>(),
        "player_id" => &player_id,
        "media_source" => &media,
        "campaign_id" => &campaign_id,
        "adset_id" => campaign_id.iter().map(|c| c.as_ref().map(|c| format!("{c}_a1"))).collect::<Vec<_>>(),
        "platform" => pick(4, 2).iter().map(|p| ["ios", "android"][*p as usize]).collect::<Vec<_>>(),
        "country_code" => pick(5, 9).iter().map(|c| ["US", "DE", "GB", "FR", "JP", "BR", "IN", "MX", "KR"][*c as usize]).collect::<Vec<_>>(),
        "is_minor" => flag(6, 3),
        "install_cost_usd" => money(7, 4.0),
        "d0_sessions" => pick(8, 6).iter().map(|v| *v as i64).collect::<Vec<_>>(),
        "d0_minutes_played" => money(9, 45.0),
        "d0_iap_revenue" => money(10, 2.0),
        "d0_ad_revenue" => money(11, 0.2),
        "d1_retained" => flag(12, 45),
        "d3_retained" => flag(13, 30),
        "d7_retained" => flag(14, 22),
        "d7_iap_revenue" => money(15, 8.0),
        "d7_total_revenue" => money(16, 9.0),
        "revenue_d30" => money(17, 20.0),
        "revenue_d90" => money(18, 40.0),
        "revenue_d180" => money(19, 60.0),
        "is_payer" => flag(20, 5),
        "install_ts" => acquisition.iter().map(|d| d.and_hms_opt(7, 13, 0).expect("a time of day")).collect::<Vec<_>>(),
        "days_observed" => day_index.iter().map(|d| (DAYS - 1 - *d as u32) as i32).collect::<Vec<_>>(),
    )?
    .lazy()
    .select(columns(&gold::PLAYER_LIFECYCLE))
    .collect()?;
    lake.replace_range(&gold::PLAYER_LIFECYCLE, &lifecycle, &january)
        .await?;

    let dim_player = lifecycle
        .clone()
        .lazy()
        .with_columns([
            col("media_source").alias("acquisition_channel"),
            col("revenue_d180").alias("lifetime_revenue"),
            col("is_payer")
                .and(col("revenue_d180").gt(lit(59.0)))
                .alias("is_whale"),
            col("install_ts").alias("first_seen_ts"),
            col("acquisition_date").alias("last_active_date"),
        ])
        .select(columns(&gold::DIM_PLAYER))
        .collect()?;
    lake.merge(&gold::DIM_PLAYER, &dim_player).await?;
    let names = |prefix: &str| {
        (0..CAMPAIGNS)
            .map(|c| format!("{prefix}{c:03}"))
            .collect::<Vec<_>>()
    };
    let unknown = vec![None::<String>; CAMPAIGNS as usize];
    let dim_campaign = df!(
        "campaign_id" => names("campaign_"),
        "game_id" => &unknown,
        "campaign_name" => names("Campaign "),
        "ad_network" => (0..CAMPAIGNS).map(|c| ["meta", "google", "tiktok", "ironsource", "organic"][(c % 5) as usize]).collect::<Vec<_>>(),
        "channel" => &unknown,
        "platform" => &unknown,
        "status" => &unknown,
        "daily_budget_usd" => vec![None::<f64>; CAMPAIGNS as usize],
        "start_date" => vec![None::<NaiveDate>; CAMPAIGNS as usize],
        "end_date" => vec![None::<NaiveDate>; CAMPAIGNS as usize],
    )?;
    lake.merge(&gold::DIM_CAMPAIGN, &dim_campaign).await?;

    for spec in [gold::CAMPAIGN_DAILY, gold::LTV_COHORTS, gold::KPI_DAILY] {
        let empty = frame::batches_to_frame(&spec.arrow_schema(), &[])?;
        lake.replace_range(&spec, &empty, &january).await?;
    }
    println!("{n} players in {root}");
    Ok(())
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, d).expect("a January day")
}

fn columns(spec: &TableSpec) -> Vec<Expr> {
    spec.columns.iter().map(|c| col(c.name)).collect()
}
