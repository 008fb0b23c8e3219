//! The dimensions: dates, players (with lifetime revenue and the whale flag) and campaigns.

use chrono::{Datelike, NaiveDate};
use polars::lazy::dsl::max_horizontal;
use polars::prelude::*;

use super::facts::columns_of;
use super::kpis::is_whale;
use crate::date_range::DateRange;
use crate::tables::gold;

/// `gold.dim_date` rows of the days of `range`; `date_sk` is `YYYYMMDD`.
pub fn date_rows(range: &DateRange) -> PolarsResult<DataFrame> {
    let days: Vec<NaiveDate> = range.days().collect();
    let number = |f: fn(&NaiveDate) -> i32| days.iter().map(f).collect::<Vec<i32>>();
    df!(
        "date_sk" => number(|d| d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32),
        "calendar_date" => days.clone(),
        "year" => number(|d| d.year()),
        "month" => number(|d| d.month() as i32),
        // ISO: Monday = 1 … Sunday = 7.
        "day_of_week" => number(|d| d.weekday().number_from_monday() as i32),
        "is_weekend" => days.iter().map(|d| d.weekday().number_from_monday() >= 6).collect::<Vec<bool>>(),
    )
}

/// The `gold.dim_player` rows that change: the players of this run (`players`, their
/// `silver.players` rows, and `run_totals`: `game_id`, `player_id`, `run_ltv` and
/// `run_last_active` through the run's last day) folded into `stored` (the current dimension),
/// with the whale flag ranked again over every player of each game. Only one row per player
/// is held, never their history.
pub fn player_rows(
    players: &DataFrame,
    run_totals: LazyFrame,
    stored: &DataFrame,
) -> PolarsResult<DataFrame> {
    let key = [col("game_id"), col("player_id")];
    let before = stored.clone().lazy().select([
        col("game_id"),
        col("player_id"),
        col("lifetime_revenue").alias("stored_ltv"),
        col("last_active_date").alias("stored_last_active"),
    ]);
    // Revenue never goes down, so a backfill of an older range cannot lower what a later
    // day already counted.
    let fresh = players
        .clone()
        .lazy()
        .join(
            run_totals,
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            before,
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            max_horizontal([col("run_ltv"), col("stored_ltv")])?
                .fill_null(lit(0.0))
                .alias("lifetime_revenue"),
            max_horizontal([col("run_last_active"), col("stored_last_active")])?
                .alias("last_active_date"),
            col("media_source").alias("acquisition_channel"),
            lit(false).alias("is_whale"),
        ])
        .select(columns_of(&gold::DIM_PLAYER));
    let others = stored.clone().lazy().join(
        fresh.clone(),
        key.clone(),
        key,
        JoinArgs::new(JoinType::Anti),
    );
    let all = concat([fresh, others], UnionArgs::default())?;
    let columns = columns_of(&gold::DIM_PLAYER);
    let mut unchanged = JoinArgs::new(JoinType::Anti);
    unchanged.nulls_equal = true;
    all.with_column(
        // Ranked among the game's adult payers: the top 1% (at least one) are whales.
        when(
            col("is_minor")
                .not()
                .and(col("lifetime_revenue").gt(lit(0.0))),
        )
        .then(col("lifetime_revenue"))
        .otherwise(lit(NULL).cast(DataType::Float64))
        .alias("whale_candidate"),
    )
    .with_column(is_whale(col("whale_candidate"), &[col("game_id")])?.alias("is_whale"))
    .select(columns.clone())
    .join(stored.clone().lazy(), columns.clone(), columns, unchanged)
    .sort(["game_id", "player_id"], SortMultipleOptions::default())
    .collect()
}

/// `gold.dim_campaign` rows: the campaign list, each campaign's game (from its installs) and
/// the first and last day it spent.
pub fn campaign_rows(
    campaigns: &DataFrame,
    games: LazyFrame,
    spend: LazyFrame,
) -> PolarsResult<DataFrame> {
    let spend_days = spend.group_by([col("campaign_id")]).agg([
        col("spend_date").min().alias("start_date"),
        col("spend_date").max().alias("end_date"),
        col("media_source").first().alias("spend_media_source"),
    ]);
    let listed = campaigns.clone().lazy().select([
        col("campaign_id"),
        col("campaign_name"),
        col("media_source"),
        col("channel"),
        col("platform"),
        col("status"),
        col("daily_budget_usd"),
    ]);
    // Campaigns that spent but are missing from the list still get a row.
    let all_ids = concat(
        [
            listed.clone().select([col("campaign_id")]),
            spend_days.clone().select([col("campaign_id")]),
        ],
        UnionArgs::default(),
    )?
    .unique_stable(None, UniqueKeepStrategy::First);
    let on = [col("campaign_id")];
    all_ids
        .join(
            listed,
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            spend_days,
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(games, on.clone(), on, JoinArgs::new(JoinType::Left))
        .with_column(
            coalesce(&[col("media_source"), col("spend_media_source")]).alias("ad_network"),
        )
        .select(columns_of(&gold::DIM_CAMPAIGN))
        .sort(["campaign_id"], SortMultipleOptions::default())
        .collect()
}
