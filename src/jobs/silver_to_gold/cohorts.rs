//! `gold.ltv_cohorts`, `gold.campaign_daily` and `gold.player_lifecycle`: what an install
//! cohort, its campaigns and each of its players did on each day N.

use chrono::NaiveDate;
use polars::prelude::*;

use super::facts::{columns_of, is_session_start, ratio};
use crate::money::{dollars, micros, money_sum_where};
use crate::tables::gold;

/// Days after install that cohorts are followed for (D180, the longest pLTV horizon).
pub const HORIZON_DAYS: i32 = 180;
/// Days whose cumulative revenue and ROAS `campaign_daily` reports.
pub const ROAS_DAYS: [i32; 6] = [0, 1, 3, 7, 14, 30];

/// `keys × day_n` for day_n in 0..=HORIZON_DAYS, with `value_column` (an integer) summed over
/// the rows of `values` at or before each day (`values` has the key columns, `day_number` and
/// the value).
fn cumulative(
    keys: LazyFrame,
    values: LazyFrame,
    key: &[&str],
    value_column: &str,
) -> PolarsResult<LazyFrame> {
    let days = df!("day_n" => (0..=HORIZON_DAYS).collect::<Vec<i32>>())
        .expect("a one-column frame")
        .lazy();
    let key_exprs: Vec<Expr> = key.iter().map(|k| col(*k)).collect();
    let mut on: Vec<Expr> = key_exprs.clone();
    on.push(col("day_n"));
    let per_day = values
        .filter(col("day_number").lt_eq(lit(HORIZON_DAYS)))
        .group_by(
            key_exprs
                .iter()
                .cloned()
                .chain([col("day_number").alias("day_n")])
                .collect::<Vec<_>>(),
        )
        .agg([col(value_column).sum()]);
    let mut sort_by: Vec<PlSmallStr> = key.iter().map(|k| PlSmallStr::from(*k)).collect();
    sort_by.push("day_n".into());
    Ok(keys
        .cross_join(days, None)
        .join(per_day, on.clone(), on, JoinArgs::new(JoinType::Left))
        .sort(sort_by, SortMultipleOptions::default())
        .with_column(
            col(value_column)
                .fill_null(lit(0))
                .cum_sum(false)
                .over(key_exprs)?
                .alias(value_column),
        ))
}

/// Cohort rows for one install day: `events` are the cohort's Silver events (every game),
/// `players` its players (`silver.players` rows acquired that day), `as_of` the last day of
/// data. A row is mature when its day N has fully happened.
pub fn cohort_rows(
    cohort: NaiveDate,
    events: &DataFrame,
    players: &DataFrame,
    as_of: NaiveDate,
) -> PolarsResult<DataFrame> {
    let events = events.clone().lazy();
    let installs = players
        .clone()
        .lazy()
        .group_by([col("game_id")])
        .agg([len().cast(DataType::Int64).alias("installs")]);
    let games = installs.clone().select([col("game_id")]);
    let active = |day_column: &str, name: &str| {
        events
            .clone()
            .filter(is_session_start())
            .group_by([col("game_id"), col(day_column).alias("day_n")])
            .agg([col("player_id")
                .n_unique()
                .cast(DataType::Int64)
                .alias(name)])
    };
    let revenue = cumulative(
        games.clone(),
        events.clone().select([
            col("game_id"),
            col("day_number"),
            micros(col("revenue_usd")).alias("revenue_usd"),
        ]),
        &["game_id"],
        "revenue_usd",
    )?;
    let first_payments = events
        .clone()
        .filter(col("is_iap"))
        .group_by([col("game_id"), col("player_id")])
        .agg([col("day_number").min()])
        .with_column(lit(1i64).alias("payers"));
    let payers = cumulative(games, first_payments, &["game_id"], "payers")?;
    let on = [col("game_id"), col("day_n")];
    let days_elapsed = (as_of - cohort).num_days() as i32;
    revenue
        .join(
            payers,
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            active("day_number", "retained_calendar"),
            on.clone(),
            on.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            active("day_number_24h", "retained_24h"),
            on.clone(),
            on,
            JoinArgs::new(JoinType::Left),
        )
        .join(
            installs,
            [col("game_id")],
            [col("game_id")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            lit(cohort).alias("cohort_date"),
            col("retained_calendar").fill_null(lit(0i64)),
            col("retained_24h").fill_null(lit(0i64)),
            dollars(col("revenue_usd")).alias("cumulative_revenue"),
            col("payers").alias("payers_to_date"),
            col("day_n").lt_eq(lit(days_elapsed)).alias("is_mature"),
        ])
        .with_columns([
            ratio(col("retained_calendar"), col("installs")).alias("retention_calendar"),
            ratio(col("retained_24h"), col("installs")).alias("retention_24h"),
            ratio(col("cumulative_revenue"), col("installs")).alias("revenue_per_install"),
        ])
        .with_columns([
            col("retention_calendar").fill_null(lit(0.0)),
            col("retention_24h").fill_null(lit(0.0)),
            col("revenue_per_install").fill_null(lit(0.0)),
        ])
        .select(columns_of(&gold::LTV_COHORTS))
        .sort(["game_id", "day_n"], SortMultipleOptions::default())
        .collect()
}

/// Day numbers whose revenue to date `gold.player_lifecycle` keeps (the pLTV horizons).
const LIFECYCLE_REVENUE_DAYS: [i32; 3] = [30, 90, HORIZON_DAYS];

/// One `gold.player_lifecycle` row per player acquired on `cohort`: `events` are the cohort's
/// Silver events (every game) and `players` its `silver.players` rows. Day numbers are UTC
/// calendar days after the install day, like `retention_calendar`.
pub fn player_rows(
    cohort: NaiveDate,
    events: &DataFrame,
    players: &DataFrame,
    as_of: NaiveDate,
) -> PolarsResult<DataFrame> {
    let on_day = |n: i32| col("day_number").eq(lit(n));
    let through = |n: i32| col("day_number").lt_eq(lit(n));
    let retained = |n: i32| {
        is_session_start()
            .and(on_day(n))
            .any(true)
            .alias(format!("d{n}_retained"))
    };
    let mut signals = vec![
        col("session_id")
            .filter(on_day(0))
            .n_unique()
            .cast(DataType::Int64)
            .alias("d0_sessions"),
        (col("session_duration_s").filter(on_day(0)).sum() / lit(60.0)).alias("d0_minutes_played"),
        money_sum_where("iap_revenue_usd", on_day(0)).alias("d0_iap_revenue"),
        money_sum_where("ad_revenue_usd", on_day(0)).alias("d0_ad_revenue"),
        retained(1),
        retained(3),
        retained(7),
        money_sum_where("iap_revenue_usd", through(7)).alias("d7_iap_revenue"),
        money_sum_where("revenue_usd", through(7)).alias("d7_total_revenue"),
        col("is_iap").any(true).alias("is_payer"),
    ];
    signals.extend(
        LIFECYCLE_REVENUE_DAYS
            .iter()
            .map(|n| money_sum_where("revenue_usd", through(*n)).alias(format!("revenue_d{n}"))),
    );
    let per_player = events
        .clone()
        .lazy()
        .filter(through(HORIZON_DAYS))
        .group_by([col("game_id"), col("player_id")])
        .agg(signals);
    let key = [col("game_id"), col("player_id")];
    let days_observed = ((as_of - cohort).num_days() as i32).clamp(0, HORIZON_DAYS);
    let zero_if_missing = [
        "d0_sessions",
        "d0_minutes_played",
        "d0_iap_revenue",
        "d0_ad_revenue",
        "d7_iap_revenue",
        "d7_total_revenue",
        "revenue_d30",
        "revenue_d90",
        "revenue_d180",
    ];
    let false_if_missing = ["d1_retained", "d3_retained", "d7_retained", "is_payer"];
    players
        .clone()
        .lazy()
        .join(per_player, key.clone(), key, JoinArgs::new(JoinType::Left))
        .with_columns(
            zero_if_missing
                .iter()
                .map(|c| col(*c).fill_null(lit(0)).alias(*c))
                .chain(
                    false_if_missing
                        .iter()
                        .map(|c| col(*c).fill_null(lit(false)).alias(*c)),
                )
                .chain([lit(days_observed).alias("days_observed")])
                .collect::<Vec<_>>(),
        )
        .select(columns_of(&gold::PLAYER_LIFECYCLE))
        .sort(["game_id", "player_id"], SortMultipleOptions::default())
        .collect()
}

/// Campaign rows for one install day: the day's attributed installs (`installs`, from
/// `silver.attribution_installs`, consent or not: spend bought them all), the revenue curve of
/// the cohort's players by campaign (`events`), and the day's spend (`spend`: `campaign_id`,
/// `game_id`, `media_source`, `spend_usd`, `network_installs`).
pub fn campaign_rows(
    cohort: NaiveDate,
    events: &DataFrame,
    installs: &DataFrame,
    spend: &DataFrame,
    as_of: NaiveDate,
) -> PolarsResult<DataFrame> {
    let key = [col("game_id"), col("campaign_id")];
    let installs = installs
        .clone()
        .lazy()
        .filter(col("campaign_id").is_not_null())
        .group_by([col("game_id"), col("campaign_id")])
        .agg([
            col("media_source").first(),
            len().cast(DataType::Int64).alias("installs"),
        ]);
    // Every campaign that spent or installed that day.
    let campaigns = concat(
        [
            installs
                .clone()
                .select([col("game_id"), col("campaign_id"), col("media_source")]),
            spend
                .clone()
                .lazy()
                .select([col("game_id"), col("campaign_id"), col("media_source")]),
        ],
        UnionArgs::default(),
    )?
    .unique_stable_generic(
        Some(vec![col("game_id"), col("campaign_id")]),
        UniqueKeepStrategy::First,
    );
    let curve = cumulative(
        campaigns
            .clone()
            .select([col("game_id"), col("campaign_id")]),
        events
            .clone()
            .lazy()
            .filter(col("campaign_id").is_not_null())
            .select([
                col("game_id"),
                col("campaign_id"),
                col("day_number"),
                micros(col("revenue_usd")).alias("revenue_usd"),
            ]),
        &["game_id", "campaign_id"],
        "revenue_usd",
    )?;
    let days_elapsed = ((as_of - cohort).num_days() as i32).min(HORIZON_DAYS);
    let spent = spend.clone().lazy();
    let mut revenue_at: Vec<Expr> = ROAS_DAYS
        .iter()
        .map(|day| {
            col("revenue_usd")
                .filter(col("day_n").eq(lit(*day)))
                .first()
                .alias(format!("revenue_d{day}"))
        })
        .collect();
    revenue_at.push(
        col("day_n")
            .filter(
                col("revenue_usd")
                    .gt_eq(col("spend_usd"))
                    .and(col("spend_usd").gt(lit(0.0)))
                    .and(col("day_n").lt_eq(lit(days_elapsed))),
            )
            .min()
            .alias("payback_day"),
    );
    let curve_with_spend = curve
        .with_column(dollars(col("revenue_usd")).alias("revenue_usd"))
        .join(
            spent
                .clone()
                .select([col("game_id"), col("campaign_id"), col("spend_usd")]),
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col("spend_usd").fill_null(lit(0.0)))
        .group_by(key.clone())
        .agg(revenue_at);
    let roas: Vec<Expr> = ROAS_DAYS
        .iter()
        .map(|day| {
            ratio(col(format!("revenue_d{day}")), col("spend_usd")).alias(format!("roas_d{day}"))
        })
        .collect();
    campaigns
        .join(
            installs.select([col("game_id"), col("campaign_id"), col("installs")]),
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            spent.select([
                col("game_id"),
                col("campaign_id"),
                col("spend_usd"),
                col("network_installs"),
            ]),
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            curve_with_spend,
            key.clone(),
            key,
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            lit(cohort).alias("install_date"),
            col("installs").fill_null(lit(0i64)),
            col("network_installs").fill_null(lit(0i64)),
            col("spend_usd").fill_null(lit(0.0)),
            lit(days_elapsed).alias("days_observed"),
        ])
        .with_column(ratio(col("spend_usd"), col("installs")).alias("cpi_usd"))
        .with_columns(roas)
        .select(columns_of(&gold::CAMPAIGN_DAILY))
        .sort(["game_id", "campaign_id"], SortMultipleOptions::default())
        .collect()
}
