//! `gold.fact_player_daily`: one row per player and day, from Silver events.

use polars::prelude::*;

use super::ledger::PLAYER_NO;
use crate::money::{dollars, micros, money_sum};
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
    let player_day = [col(PLAYER_NO), col("event_date")];
    // What the player-day's first event (by time, then event id) says. Only each
    // player-day's earliest rows are sorted: sorting every event took half of the facts' time.
    let earliest =
        col("event_timestamp").eq(col("event_timestamp").min().over(player_day.clone())?);
    let first_event = events
        .clone()
        .filter(earliest)
        .sort(
            ["event_timestamp", "event_id"],
            SortMultipleOptions::default(),
        )
        .group_by(player_day.clone())
        .agg(
            [
                "game_id",
                "player_id",
                "acquisition_date",
                "day_number",
                "media_source",
                "campaign_id",
                "platform",
                "country_code",
            ]
            .map(|name| col(name).first()),
        );
    Ok(events
        .group_by(player_day.clone())
        .agg([
            col("is_minor").any(true),
            col("session_id")
                .n_unique()
                .cast(DataType::Int64)
                .alias("sessions"),
            // Sorted first, so that the float sum does not depend on the order rows were read in.
            (col("session_duration_s").sort(SortOptions::default()).sum() / lit(60.0))
                .alias("minutes_played"),
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
        .join(
            first_event,
            player_day.clone(),
            player_day,
            JoinArgs::new(JoinType::Inner),
        )
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

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime};

    use super::*;
    use crate::lake::{float_column, string_column};

    /// An event: time, event id, event type, platform, country, session duration, revenue.
    type Event<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Option<f64>,
        f64,
    );

    /// One player-day of events, in the order given.
    fn events(rows: &[Event]) -> DataFrame {
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let n = rows.len();
        let time = |text: &str| {
            NaiveDateTime::parse_from_str(&format!("2026-01-02 {text}"), "%Y-%m-%d %H:%M:%S")
                .unwrap()
        };
        df!(
            PLAYER_NO => vec![0u32; n],
            "event_date" => vec![day; n],
            "event_timestamp" => rows.iter().map(|r| time(r.0)).collect::<Vec<_>>(),
            "event_id" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "event_type" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "platform" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "country_code" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            "session_duration_s" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
            "revenue_usd" => rows.iter().map(|r| r.6).collect::<Vec<_>>(),
            "iap_revenue_usd" => rows.iter().map(|r| r.6).collect::<Vec<_>>(),
            "ad_revenue_usd" => vec![0.0; n],
            "is_iap" => rows.iter().map(|r| r.6 > 0.0).collect::<Vec<_>>(),
            "is_ad" => vec![false; n],
            "game_id" => vec!["g"; n],
            "player_id" => vec!["p"; n],
            "acquisition_date" => vec![day; n],
            "day_number" => vec![0i32; n],
            "media_source" => vec!["organic"; n],
            "campaign_id" => vec![None::<&str>; n],
            "is_minor" => vec![false; n],
            "session_id" => vec!["s"; n],
            "level" => vec![None::<i32>; n],
        )
        .unwrap()
    }

    fn one_day(events: DataFrame, revenue_before: f64) -> DataFrame {
        let before = df!(PLAYER_NO => [0u32], "revenue_before" => [revenue_before]).unwrap();
        player_days(events.lazy(), before.lazy())
            .unwrap()
            .collect()
            .unwrap()
    }

    #[test]
    fn a_player_day_takes_its_platform_and_country_from_its_first_event() {
        // Read out of order; the two earliest events share a time, so the event id decides.
        let day = events(&[
            ("12:00:00", "a", "purchase", "ios", "JP", None, 4.99),
            ("09:00:00", "c", "game_launched", "android", "US", None, 0.0),
            ("09:00:00", "b", "game_launched", "ios", "DE", None, 0.0),
            (
                "10:00:00",
                "d",
                "session_end",
                "android",
                "FR",
                Some(90.0),
                0.0,
            ),
        ]);
        let facts = one_day(day, 1.0);
        assert_eq!(facts.height(), 1);
        let text = |column: &str| string_column(&facts, column).unwrap();
        assert_eq!(text("platform"), [Some("ios".to_owned())]);
        assert_eq!(text("country_code"), [Some("DE".to_owned())]);
        // All three are non-zero, so a null (read as 0) fails too.
        let value = |column: &str| float_column(&facts, column).unwrap();
        assert_eq!(value("minutes_played"), [1.5]);
        assert_eq!(value("total_revenue"), [4.99]);
        assert_eq!(value("actual_ltv_to_date"), [5.99]);
    }
}
