//! `gold.kpi_daily`: the design's KPIs per game and day, each defined once, here.

use polars::prelude::*;

use super::facts::{columns_of, is_event_in, is_session_start, ratio};
use super::ledger::PLAYER_NO;
use crate::money::money_sum;
use crate::tables::gold;

/// A whale is in the top 1% of spenders.
pub const WHALE_SHARE: f64 = 0.01;

/// True for the top [`WHALE_SHARE`] (at least one) of `candidate` within each `group`. A null
/// candidate (a minor, a player who has not paid) is never a whale. Ties go to the earlier
/// row, so sort the rows first.
pub fn is_whale(candidate: Expr, group: &[Expr]) -> PolarsResult<Expr> {
    let rank = candidate
        .clone()
        .rank(
            RankOptions {
                method: RankMethod::Ordinal,
                descending: true,
            },
            None,
        )
        .over(group)?
        .cast(DataType::Float64);
    let whale_count =
        (candidate.count().over(group)?.cast(DataType::Float64) * lit(WHALE_SHARE)).ceil();
    Ok(rank.lt_eq(whale_count).fill_null(lit(false)))
}

fn is(event: &str) -> Expr {
    col("event_type").eq(lit(event))
}

fn count_of(event: &str) -> Expr {
    is(event).sum().cast(DataType::Int64)
}

fn players_where(condition: Expr) -> Expr {
    col(PLAYER_NO)
        .filter(condition)
        .n_unique()
        .cast(DataType::Int64)
}

/// The KPIs of the days of `events` (Silver rows with their [`PLAYER_NO`]) that those events
/// alone decide: all but retention, which needs the run's cohorts and is added by
/// [`with_retention`]. So a run reads each day of events once, for its facts and its KPIs
/// together.
pub fn activity_kpis(events: &DataFrame) -> PolarsResult<DataFrame> {
    let events = events.clone().lazy();
    let key = [col("game_id"), col("event_date")];
    let whales = whale_revenue(events.clone())?;
    let golden = golden_complete_sessions(events.clone());
    events
        .with_column(
            ((col("ingest_ts").cast(DataType::Int64)
                - col("event_timestamp").cast(DataType::Int64))
            .cast(DataType::Float64)
                / lit(1e6))
            .alias("lag_seconds"),
        )
        .group_by(key.clone())
        .agg([
            players_where(is_session_start()).alias("dau"),
            players_where(col("day_number").eq(lit(0))).alias("installs"),
            players_where(is("tutorial_complete").and(col("day_number").eq(lit(0))))
                .alias("tutorials_completed"),
            players_where(is("game_launched").and(col("day_number").eq(lit(0))))
                .alias("first_launches"),
            players_where(is("level_complete").and(col("level").lt_eq(lit(5))))
                .alias("early_levels_completed"),
            players_where(is("tutorial_complete")).alias("tutorial_players"),
            (is("level_complete").or(is("match_end")))
                .and(col("day_number").gt_eq(lit(7)))
                .sum()
                .alias("core_loops_d7"),
            col("session_id")
                .filter(col("day_number").gt_eq(lit(7)))
                .n_unique()
                .alias("sessions_d7"),
            money_sum("revenue_usd").alias("revenue_usd"),
            money_sum("iap_revenue_usd").alias("iap_revenue"),
            money_sum("ad_revenue_usd").alias("ad_revenue"),
            players_where(col("is_iap")).alias("payers"),
            count_of("offer_viewed").alias("offers_viewed"),
            count_of("offer_purchased").alias("offers_purchased"),
            count_of("ad_reward_requested").alias("rewards_requested"),
            count_of("ad_reward_granted").alias("rewards_granted"),
            count_of("crash").alias("crashes"),
            col("session_id").n_unique().alias("sessions"),
            players_where(is_session_start().and(col("consent_personalization")))
                .alias("personalized_players"),
            col("lag_seconds")
                .quantile(lit(0.99), QuantileMethod::Linear)
                .alias("freshness_p99_seconds"),
        ])
        .rename(["event_date"], ["activity_date"], true)
        .join(
            whales,
            [col("game_id"), col("activity_date")],
            [col("game_id"), col("activity_date")],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            golden,
            [col("game_id"), col("activity_date")],
            [col("game_id"), col("activity_date")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            ratio(col("tutorials_completed"), col("first_launches"))
                .alias("tutorial_completion_rate"),
            ratio(col("early_levels_completed"), col("tutorial_players"))
                .alias("level_1_5_completion_rate"),
            ratio(col("core_loops_d7"), col("sessions_d7")).alias("core_loop_stickiness"),
            ratio(col("revenue_usd"), col("dau")).alias("arpdau"),
            ratio(col("iap_revenue"), col("payers")).alias("arppu"),
            ratio(col("payers"), col("dau")).alias("iap_conversion"),
            ratio(col("whale_revenue"), col("revenue_usd")).alias("whale_revenue_share"),
            ratio(col("offers_purchased"), col("offers_viewed")).alias("offer_conversion_rate"),
            (ratio(col("ad_revenue"), col("rewards_granted")) * lit(1000.0)).alias("rewarded_ecpm"),
            ratio(col("rewards_granted"), col("rewards_requested")).alias("ad_view_through_rate"),
            (lit(1.0) - ratio(col("crashes"), col("sessions"))).alias("crash_free_sessions"),
            ratio(col("personalized_players"), col("dau")).alias("personalization_opt_in"),
            ratio(col("golden_complete_sessions"), col("golden_sessions"))
                .alias("golden_event_completeness"),
        ])
        .collect()
}

/// `gold.kpi_daily` rows: the rows of [`activity_kpis`] with the D1, D7 and D30 calendar
/// retention of the cohorts reaching each day (`retention`, per game and day, from
/// `gold.ltv_cohorts`).
pub fn with_retention(activity_kpis: LazyFrame, retention: LazyFrame) -> PolarsResult<DataFrame> {
    let key = [col("game_id"), col("activity_date")];
    activity_kpis
        .join(retention, key.clone(), key, JoinArgs::new(JoinType::Left))
        .select(columns_of(&gold::KPI_DAILY))
        .sort(["activity_date", "game_id"], SortMultipleOptions::default())
        .collect()
}

/// Per game and day, the sessions whose golden events are whole. No session fires all 15
/// golden events (a purchase or a player report is not in every session), so "% of sessions
/// firing all 15" is read as: a session fires every golden event its own events imply. It is
/// opened by `game_launched` or `game_foreground`, every `level_start` has its `level_complete`
/// or `level_fail`, and every `match_start` its `match_end`. A session missing one lost an
/// event on its way here, which is what the KPI watches. Sessions are cut at midnight UTC like
/// every daily KPI.
fn golden_complete_sessions(events: LazyFrame) -> LazyFrame {
    let count = |names: &[&str]| is_event_in(names).sum();
    events
        .filter(col("session_id").is_not_null())
        .group_by([col("game_id"), col("event_date"), col("session_id")])
        .agg([count(&["game_launched", "game_foreground"])
            .gt(lit(0))
            .and(count(&["level_start"]).eq(count(&["level_complete", "level_fail"])))
            .and(count(&["match_start"]).eq(count(&["match_end"])))
            .alias("is_whole")])
        .group_by([col("game_id"), col("event_date")])
        .agg([
            col("is_whole")
                .sum()
                .cast(DataType::Int64)
                .alias("golden_complete_sessions"),
            len().alias("golden_sessions"),
        ])
        .rename(["event_date"], ["activity_date"], true)
}

/// Revenue of the day's top 1% of adult spenders (at least one), per game and day. Minors are
/// never whales: their revenue counts in the total but never in the whale share.
fn whale_revenue(events: LazyFrame) -> PolarsResult<LazyFrame> {
    let day = [col("game_id"), col("event_date")];
    Ok(events
        .filter(col("revenue_usd").gt(lit(0.0)))
        .group_by([col("game_id"), col("event_date"), col(PLAYER_NO)])
        .agg([
            money_sum("revenue_usd").alias("revenue_usd"),
            col("is_minor").any(true),
        ])
        .filter(col("is_minor").not())
        .filter(is_whale(col("revenue_usd"), &day)?)
        .group_by([col("game_id"), col("event_date")])
        .agg([money_sum("revenue_usd").alias("whale_revenue")])
        .rename(["event_date"], ["activity_date"], true))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn a_session_that_lost_a_golden_event_is_not_whole() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let sessions = [
            ("whole", "game_launched"),
            ("whole", "level_start"),
            ("whole", "level_complete"),
            ("whole", "match_start"),
            ("whole", "match_end"),
            ("resumed", "game_foreground"),
            ("resumed", "level_start"),
            ("resumed", "level_fail"),
            ("no_start", "level_start"),
            ("no_start", "level_complete"),
            ("no_outcome", "game_foreground"),
            ("no_outcome", "level_start"),
            ("no_match_end", "game_launched"),
            ("no_match_end", "match_start"),
        ];
        let events = df!(
            "game_id" => vec!["g"; sessions.len()],
            "event_date" => vec![day; sessions.len()],
            "session_id" => sessions.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            "event_type" => sessions.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
        )
        .unwrap();
        let golden = golden_complete_sessions(events.lazy()).collect().unwrap();
        let count = |name: &str| {
            golden
                .column(name)
                .unwrap()
                .get(0)
                .unwrap()
                .extract::<i64>()
        };
        assert_eq!(count("golden_complete_sessions"), Some(2));
        assert_eq!(count("golden_sessions"), Some(5));
    }
}
