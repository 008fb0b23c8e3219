//! `gold.fact_player_daily`: one row per player and day, from Silver events.

use polars::prelude::*;

use crate::money::{dollars, micros, money_sum};

use super::ledger::PLAYER_NO;
use crate::tables::gold;

/// Events that open a session: a player who fires one on a day is active that day.
pub const SESSION_STARTS: [&str; 3] = ["game_launched", "game_foreground", "daily_login"];

/// Whether the event is one of [`SESSION_STARTS`].
pub fn is_session_start() -> Expr {
    is_event_in(&SESSION_STARTS)
}

/// Whether the event's type is one of `names`.
pub fn is_event_in(names: &[&str]) -> Expr {
    names
        .iter()
        .map(|name| col("event_type").eq(lit(*name)))
        .reduce(Expr::or)
        .unwrap_or(lit(false))
}

/// `numerator / denominator` as a float, null when the denominator is zero.
pub fn ratio(numerator: Expr, denominator: Expr) -> Expr {
    when(denominator.clone().gt(lit(0)))
        .then(numerator.cast(DataType::Float64) / denominator.cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// Player-days of `events` (Silver rows of the days to compute, each with its player's
/// [`PLAYER_NO`]). `revenue_before` holds each player's revenue before those days
/// ([`PLAYER_NO`], `revenue_before`), so that `actual_ltv_to_date` counts from install. The
/// rows keep [`PLAYER_NO`] after the table's columns.
pub fn player_days(events: LazyFrame, revenue_before: LazyFrame) -> PolarsResult<LazyFrame> {
    let player = [col(PLAYER_NO)];
    let ltv_to_date = dollars(
        micros(col("total_revenue"))
            .cum_sum(false)
            .over(player.clone())?
            + micros(col("revenue_before")),
    );
    let mut columns = columns_of(&gold::FACT_PLAYER_DAILY);
    columns.push(col(PLAYER_NO));
    Ok(events
        .sort(
            ["event_timestamp", "event_id"],
            SortMultipleOptions::default(),
        )
        // The number stands for the game and the player id: both are the same on every row.
        .group_by([col(PLAYER_NO), col("event_date")])
        .agg([
            col("game_id").first(),
            col("player_id").first(),
            col("acquisition_date").first(),
            col("day_number").first(),
            col("media_source").first(),
            col("campaign_id").first(),
            col("platform").first(),
            col("country_code").first(),
            col("is_minor").any(true),
            col("session_id")
                .n_unique()
                .cast(DataType::Int64)
                .alias("sessions"),
            (col("session_duration_s").sum() / lit(60.0)).alias("minutes_played"),
            money_sum("iap_revenue_usd").alias("iap_revenue"),
            money_sum("ad_revenue_usd").alias("ad_revenue"),
            money_sum("revenue_usd").alias("total_revenue"),
            col("is_iap")
                .sum()
                .cast(DataType::Int64)
                .alias("iap_purchases"),
            col("is_ad")
                .sum()
                .cast(DataType::Int64)
                .alias("ad_impressions"),
            col("level")
                .filter(col("event_type").eq(lit("level_complete")))
                .drop_nulls()
                .n_unique()
                .cast(DataType::Int64)
                .alias("levels_gained"),
            is_session_start().any(true).alias("is_active"),
        ])
        .rename(["event_date"], ["activity_date"], true)
        .join(
            revenue_before,
            player.clone(),
            player,
            JoinArgs::new(JoinType::Left),
        )
        .sort([PLAYER_NO, "activity_date"], SortMultipleOptions::default())
        .with_column(ltv_to_date.alias("actual_ltv_to_date"))
        .select(columns)
        .sort(
            ["activity_date", "game_id", "player_id"],
            SortMultipleOptions::default(),
        ))
}

/// The columns of a table, in its order.
pub fn columns_of(spec: &crate::lake::TableSpec) -> Vec<Expr> {
    spec.columns.iter().map(|c| col(c.name)).collect()
}
