//! `silver-to-gold`: the star schema, cohorts, campaign metrics and KPIs from Silver.
//!
//! `--from/--to` are activity days. The run rewrites, each with one replace-where commit:
//! `gold.fact_player_daily` and `gold.kpi_daily` for those days; `gold.ltv_cohorts`,
//! `gold.campaign_daily` and `gold.player_lifecycle` for the install days of every player active in them (a late event
//! re-computes its player's cohort, not the whole history); `gold.dim_date` for the days.
//! `gold.dim_player` gets the run's players MERGEd in, and the whale flag is ranked again over
//! one row per player (never their history); `gold.dim_campaign` is MERGEd from the campaign
//! list. Facts and KPIs are computed one activity day at a time and cohorts one install day
//! at a time, read a few install days together (about `COHORT_BATCH_EVENTS` events); across
//! days the run keeps one row per player (revenue to date, last active day), so memory follows
//! a day of events, a batch of cohorts and the player count, not the history.

mod cohorts;
mod dims;
mod facts;
mod kpis;
mod ledger;

use anyhow::Context as _;
use chrono::{Duration, NaiveDate};
use clap::Args;
use polars::prelude::*;

use crate::date_range::DateRange;
use crate::exit_codes::UsageError;
use crate::lake::{AppTxn, Columns, Lake, column_in_range};
use crate::money::money_sum;
use crate::run::{JobContext, JobReport};
use crate::tables::{gold, silver};
use crate::telemetry;

pub use cohorts::{HORIZON_DAYS, ROAS_DAYS};
pub use facts::{SESSION_STARTS, ratio};
pub use kpis::is_whale;
use ledger::{LtvLedger, PLAYER_NO};

#[derive(Debug, Clone, Args)]
pub struct GoldOptions {
    /// Instead of --date/--from/--to: recompute from the earliest Silver event day changed
    /// since the last --changed run through the latest day (the nightly DAG's mode)
    #[arg(long)]
    pub changed: bool,
}

/// The Delta application id under which `--changed` runs record the Silver version they built.
const SILVER_WATERMARK: &str = "silver-to-gold:silver.player_events";

pub async fn run(context: JobContext, options: GoldOptions) -> anyhow::Result<JobReport> {
    crate::tune_allocator();
    let lake = &context.lake;
    let mut report = JobReport::default();
    let (range, watermark) = if options.changed {
        if context.range.is_some() {
            return Err(UsageError::new("give either --changed or a date range, not both").into());
        }
        match changed_range(lake).await? {
            Some(found) => found,
            None => {
                report.detail("changed_days", 0);
                return Ok(report);
            }
        }
    } else {
        (context.require_range()?, None)
    };
    if context.game.is_some() {
        return Err(UsageError::new(
            "silver-to-gold computes every game of a day together (a day's partitions are \
             replaced as a whole); run it without --game",
        )
        .into());
    }
    lake.open(&silver::PLAYER_EVENTS.name).await?;
    let write = !context.dry_run;
    report.detail("range", range.to_string());

    // Facts and KPIs, one activity day at a time, carrying one running LTV per player.
    let mut ledger = LtvLedger::default();
    let mut install_days: Option<DateRange> = None;
    let mut player_days = 0;
    let mut kpi_days = Vec::new();
    let progress = telemetry::progress_bar(range.len_days(), "activity days");
    for day in range.days() {
        let day = DateRange::single(day);
        let mut events = read_events(
            lake,
            Lake::range_filter(&silver::PLAYER_EVENTS, &day)?,
            ACTIVITY_DAY_COLUMNS,
        )
        .await?;
        report.rows_in += events.height() as u64;
        ledger.number_players_of(lake, &mut events, &range).await?;
        kpi_days.push(kpis::activity_kpis(&events)?.lazy());
        let mut facts = facts::player_days(events.lazy(), ledger.revenue_before()?)?.collect()?;
        ledger.absorb(&facts)?;
        facts.drop_in_place(PLAYER_NO)?;
        install_days = widen(install_days, install_day_span(&facts)?)?;
        player_days += facts.height();
        if write {
            report.record_write(
                &lake
                    .replace_range(&gold::FACT_PLAYER_DAILY, &facts, &day)
                    .await?,
            );
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    report.detail("player_days", player_days);

    // Cohorts: the install days of the players active in the range.
    let as_of = lake
        .latest_date(&silver::PLAYER_EVENTS)
        .await?
        .map_or(range.last(), |latest| latest.max(range.last()));
    if let Some(install_days) = &install_days {
        let (cohort_rows, campaign_rows, lifecycle_rows) =
            cohorts_of(lake, install_days, as_of).await?;
        report.detail("cohorts", install_days.to_string());
        report.detail("cohort_rows", cohort_rows.height());
        report.detail("campaign_rows", campaign_rows.height());
        report.detail("player_lifecycle_rows", lifecycle_rows.height());
        if write {
            report.record_write(
                &lake
                    .replace_range(&gold::PLAYER_LIFECYCLE, &lifecycle_rows, install_days)
                    .await?,
            );
            report.record_write(
                &lake
                    .replace_range(&gold::LTV_COHORTS, &cohort_rows, install_days)
                    .await?,
            );
            report.record_write(
                &lake
                    .replace_range(&gold::CAMPAIGN_DAILY, &campaign_rows, install_days)
                    .await?,
            );
        }
    }

    // Retention comes from the cohorts just written, so the KPIs are finished last.
    let kpis = kpis::with_retention(
        concat(kpi_days, UnionArgs::default())?,
        retention_by_day(lake, &range).await?,
    )?;
    report.detail("kpi_rows", kpis.height());
    if write {
        // Last write of the run: the watermark moves only once everything before it landed.
        let txns: Vec<AppTxn> = watermark
            .map(|version| AppTxn {
                app_id: SILVER_WATERMARK.into(),
                version: version as i64,
            })
            .into_iter()
            .collect();
        report.record_write(
            &lake
                .replace_range_recording(&gold::KPI_DAILY, &kpis, &range, &txns)
                .await?,
        );
        report.record_write(
            &lake
                .replace_range(&gold::DIM_DATE, &dims::date_rows(&range)?, &range)
                .await?,
        );
        if ledger.players() > 0 {
            let players = player_dimension(lake, &ledger).await?;
            report.detail("dim_player_rows_changed", players.height());
            if players.height() > 0 {
                report.record_write(&lake.merge(&gold::DIM_PLAYER, &players).await?);
            }
        }
        let campaigns = campaign_dimension(lake, install_days.as_ref()).await?;
        if campaigns.height() > 0 {
            report.record_write(&lake.merge(&gold::DIM_CAMPAIGN, &campaigns).await?);
        }
    }
    report.detail("as_of", as_of.to_string());
    Ok(report)
}

/// The columns of `silver.player_events` that an activity day's facts and KPIs are built
/// from. The rest are never read: the event's properties (about a tenth of Silver's compressed
/// bytes) and a few columns Gold does not use.
const ACTIVITY_DAY_COLUMNS: &[&str] = &[
    "event_id",
    "player_id",
    "game_id",
    "event_type",
    "event_timestamp",
    "event_date",
    "session_id",
    "session_duration_s",
    "level",
    "iap_revenue_usd",
    "ad_revenue_usd",
    "revenue_usd",
    "is_iap",
    "is_ad",
    "platform",
    "country_code",
    "is_minor",
    "consent_personalization",
    "acquisition_date",
    "day_number",
    "media_source",
    "campaign_id",
    "ingest_ts",
];

/// The columns a cohort is built from. A cohort reads the events of its whole follow window,
/// so it leaves out what only the daily facts and KPIs need, above all `event_id` (a random
/// UUID, over half of Silver's compressed bytes) and the timestamps.
const COHORT_COLUMNS: &[&str] = &[
    "event_date",
    "acquisition_date",
    "player_id",
    "game_id",
    "event_type",
    "session_id",
    "session_duration_s",
    "iap_revenue_usd",
    "ad_revenue_usd",
    "revenue_usd",
    "is_iap",
    "day_number",
    "day_number_24h",
    "campaign_id",
];

/// The `columns` of the Silver events that match `filter`.
async fn read_events(
    lake: &Lake,
    filter: crate::lake::Expr,
    columns: &[&str],
) -> anyhow::Result<DataFrame> {
    Ok(lake
        .read_columns(&silver::PLAYER_EVENTS, columns, Some(filter))
        .await?)
}

/// The days to recompute for `--changed`: from the earliest Silver day whose files changed
/// since the recorded watermark through the latest day (a player's LTV to date carries every
/// later day), and the Silver version to record. `None` when nothing changed.
async fn changed_range(lake: &Lake) -> anyhow::Result<Option<(DateRange, Option<u64>)>> {
    let since = lake
        .app_txn_version(&gold::KPI_DAILY.name, SILVER_WATERMARK)
        .await?
        .and_then(|version| u64::try_from(version).ok());
    let (version, changed) = lake.changed_dates(&silver::PLAYER_EVENTS, since).await?;
    let (Some(first), Some(last_changed)) = (changed.first(), changed.last()) else {
        return Ok(None);
    };
    let latest = lake
        .latest_date(&silver::PLAYER_EVENTS)
        .await?
        .map_or(*last_changed, |latest| latest.max(*last_changed));
    Ok(Some((DateRange::new(*first, latest)?, version)))
}

/// The smallest range holding both.
fn widen(range: Option<DateRange>, other: Option<DateRange>) -> anyhow::Result<Option<DateRange>> {
    Ok(match (range, other) {
        (Some(a), Some(b)) => Some(DateRange::new(
            a.first().min(b.first()),
            a.last().max(b.last()),
        )?),
        (a, b) => a.or(b),
    })
}

/// The first to the last install day of the players in `facts`.
fn install_day_span(facts: &DataFrame) -> anyhow::Result<Option<DateRange>> {
    let days = facts.column("acquisition_date")?.cast(&DataType::Int32)?;
    let days = days.i32()?;
    let first = days
        .min()
        .and_then(crate::date_range::from_days_since_epoch);
    let last = days
        .max()
        .and_then(crate::date_range::from_days_since_epoch);
    Ok(match (first, last) {
        (Some(first), Some(last)) => Some(DateRange::new(first, last)?),
        _ => None,
    })
}

/// Cohort, campaign and player-lifecycle rows of every install day of `install_days`, computed
/// one day at a time from reads of a few days each.
async fn cohorts_of(
    lake: &Lake,
    install_days: &DateRange,
    as_of: NaiveDate,
) -> anyhow::Result<(DataFrame, DataFrame, DataFrame)> {
    let players = lake
        .read(
            &silver::PLAYERS,
            Some(column_in_range("acquisition_date", install_days)),
        )
        .await?;
    let installs = lake
        .read_or_empty(
            &silver::ATTRIBUTION_INSTALLS,
            Some(Lake::range_filter(
                &silver::ATTRIBUTION_INSTALLS,
                install_days,
            )?),
        )
        .await?;
    let spend = daily_spend(lake, install_days).await?;
    let mut cohort_parts = Vec::new();
    let mut campaign_parts = Vec::new();
    let mut lifecycle_parts = Vec::new();
    let progress = telemetry::progress_bar(install_days.len_days(), "cohorts");
    let days: Vec<NaiveDate> = install_days.days().collect();
    let installs_per_day = players_per_day(&players, &days)?;
    let mut events_per_player = None;
    let mut next = 0;
    while next < days.len() {
        let end = cohort_batch_end(&installs_per_day, next, events_per_player);
        let batch = DateRange::new(days[next], days[end - 1])?;
        let followed = DateRange::new(batch.first(), last_followed_day(batch.last()))?;
        let batch_events = read_events(
            lake,
            Lake::range_filter(&silver::PLAYER_EVENTS, &followed)?
                .and(column_in_range("acquisition_date", &batch)),
            COHORT_COLUMNS,
        )
        .await
        .with_context(|| format!("reading the cohorts of {batch}"))?;
        let batch_installs: usize = installs_per_day[next..end].iter().sum();
        if batch_installs > 0 {
            events_per_player = Some(batch_events.height() as f64 / batch_installs as f64);
        }
        for day in batch.days() {
            let on_day = |frame: &DataFrame, column: &str| -> PolarsResult<DataFrame> {
                frame
                    .clone()
                    .lazy()
                    .filter(col(column).eq(lit(day)))
                    .collect()
            };
            // The cohort's own follow window, as if read alone.
            let events = batch_events
                .clone()
                .lazy()
                .filter(
                    col("acquisition_date")
                        .eq(lit(day))
                        .and(col("event_date").gt_eq(lit(day)))
                        .and(col("event_date").lt_eq(lit(last_followed_day(day)))),
                )
                .collect()?;
            let cohort_players = on_day(&players, "acquisition_date")?;
            cohort_parts.push(cohorts::cohort_rows(day, &events, &cohort_players, as_of)?.lazy());
            lifecycle_parts
                .push(cohorts::player_rows(day, &events, &cohort_players, as_of)?.lazy());
            campaign_parts.push(
                cohorts::campaign_rows(
                    day,
                    &events,
                    &on_day(&installs, "install_date")?,
                    &on_day(&spend, "spend_date")?,
                    as_of,
                )?
                .lazy(),
            );
            progress.inc(1);
        }
        next = end;
    }
    progress.finish_and_clear();
    Ok((
        concat(cohort_parts, UnionArgs::default())?.collect()?,
        concat(campaign_parts, UnionArgs::default())?.collect()?,
        concat(lifecycle_parts, UnionArgs::default())?.collect()?,
    ))
}

/// The last day a cohort installed on `install_day` is followed for.
fn last_followed_day(install_day: NaiveDate) -> NaiveDate {
    install_day + Duration::days(i64::from(HORIZON_DAYS))
}

/// About how many events a read of cohorts holds. Cohorts are read several install days at a
/// time: Silver is ordered by player, not install day, so each read decompresses every page of
/// the days it follows, and a read per cohort did that again for each of them.
const COHORT_BATCH_EVENTS: f64 = 4_000_000.0;

/// How many of `players` (`silver.players` rows) were acquired on each of `days`.
fn players_per_day(players: &DataFrame, days: &[NaiveDate]) -> PolarsResult<Vec<usize>> {
    let acquired = players.column("acquisition_date")?.cast(&DataType::Int32)?;
    let mut counts = vec![0; days.len()];
    let first = days
        .first()
        .map_or(0, |day| crate::date_range::days_since_epoch(*day));
    for day in acquired.i32()?.iter().flatten() {
        if let Some(count) = usize::try_from(day - first)
            .ok()
            .and_then(|index| counts.get_mut(index))
        {
            *count += 1;
        }
    }
    Ok(counts)
}

/// The end (exclusive) of the batch of install days starting at `next`: as many days as fit
/// [`COHORT_BATCH_EVENTS`] at `events_per_player` (what the reads so far found), at least one;
/// one alone until a read has shown what a player costs.
fn cohort_batch_end(
    installs_per_day: &[usize],
    next: usize,
    events_per_player: Option<f64>,
) -> usize {
    let Some(per_player) = events_per_player else {
        return next + 1;
    };
    let mut expected = 0.0;
    let mut end = next;
    while end < installs_per_day.len() {
        expected += per_player * installs_per_day[end] as f64;
        if end > next && expected > COHORT_BATCH_EVENTS {
            break;
        }
        end += 1;
    }
    end
}

/// Spend per campaign and day, summed over countries and platforms, with the campaign's game.
async fn daily_spend(lake: &Lake, days: &DateRange) -> anyhow::Result<DataFrame> {
    let spend = lake
        .read_or_empty(
            &silver::AD_SPEND_DAILY,
            Some(Lake::range_filter(&silver::AD_SPEND_DAILY, days)?),
        )
        .await?;
    Ok(spend
        .lazy()
        .group_by([col("campaign_id"), col("spend_date")])
        .agg([
            col("media_source").first(),
            money_sum("spend_usd").alias("spend_usd"),
            col("installs").sum().alias("network_installs"),
        ])
        .join(
            campaign_games(lake, days).await?,
            [col("campaign_id")],
            [col("campaign_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .collect()?)
}

/// Which game each campaign installs, from the attributed installs of `days`.
async fn campaign_games(lake: &Lake, days: &DateRange) -> anyhow::Result<LazyFrame> {
    Ok(lake
        .read_or_empty(
            &silver::ATTRIBUTION_INSTALLS,
            Some(Lake::range_filter(&silver::ATTRIBUTION_INSTALLS, days)?),
        )
        .await?
        .lazy()
        .filter(col("campaign_id").is_not_null())
        .group_by([col("campaign_id")])
        .agg([col("game_id").first()]))
}

/// D1, D7 and D30 calendar retention of the cohorts reaching each day of `range`.
async fn retention_by_day(lake: &Lake, range: &DateRange) -> anyhow::Result<LazyFrame> {
    let cohorts = DateRange::new(range.first() - Duration::days(30), range.last())?;
    let rows = lake
        .read_or_empty(
            &gold::LTV_COHORTS,
            Some(Lake::range_filter(&gold::LTV_COHORTS, &cohorts)?),
        )
        .await?
        .lazy()
        .filter(col("is_mature"));
    let at_day = |day: i32, name: &str| retention_at(rows.clone(), day, name);
    let key = [col("game_id"), col("activity_date")];
    Ok(at_day(1, "d1_retention")
        .join(
            at_day(7, "d7_retention"),
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .join(
            at_day(30, "d30_retention"),
            key.clone(),
            key,
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        ))
}

/// The retention on day `day` of each cohort, keyed by the day it was reached.
fn retention_at(rows: LazyFrame, day: i32, name: &str) -> LazyFrame {
    rows.filter(col("day_n").eq(lit(day))).select([
        col("game_id"),
        (col("cohort_date").cast(DataType::Int32) + lit(day))
            .cast(DataType::Date)
            .alias("activity_date"),
        col("retention_calendar").alias(name),
    ])
}

/// Every player with lifetime revenue and last active day from the fact table.
/// The dimension rows that change for the players the run walked.
async fn player_dimension(lake: &Lake, ledger: &LtvLedger) -> anyhow::Result<DataFrame> {
    if ledger.players() == 0 {
        return Ok(DataFrame::empty());
    }
    let totals = &ledger.totals()?;
    let key = [col("game_id"), col("player_id")];
    let players = lake
        .read_matching(
            &silver::PLAYERS,
            "player_id",
            &ledger.player_ids(),
            None,
            Columns::All,
        )
        .await?
        .lazy()
        .join(
            totals.clone().lazy(),
            key.clone(),
            key,
            JoinArgs::new(JoinType::Semi),
        )
        .collect()?;
    let run_totals = totals.clone().lazy().select([
        col("game_id"),
        col("player_id"),
        col("ltv").alias("run_ltv"),
        col("last_active").alias("run_last_active"),
    ]);
    let stored = lake.read_or_empty(&gold::DIM_PLAYER, None).await?;
    Ok(dims::player_rows(&players, run_totals, &stored)?)
}

/// The campaign list with each campaign's game (from the installs of `install_days`, else as
/// stored) and the days it spent.
async fn campaign_dimension(
    lake: &Lake,
    install_days: Option<&DateRange>,
) -> anyhow::Result<DataFrame> {
    let campaigns = lake.read_or_empty(&silver::CAMPAIGNS, None).await?;
    let spend = lake
        .read_or_empty(&silver::AD_SPEND_DAILY, None)
        .await?
        .lazy();
    let stored = lake
        .read_or_empty(&gold::DIM_CAMPAIGN, None)
        .await?
        .lazy()
        .filter(col("game_id").is_not_null())
        .select([col("campaign_id"), col("game_id")]);
    let games = match install_days {
        Some(days) => concat(
            [campaign_games(lake, days).await?, stored],
            UnionArgs::default(),
        )?
        .unique_stable_generic(Some(vec![col("campaign_id")]), UniqueKeepStrategy::First),
        None => stored,
    };
    Ok(dims::campaign_rows(&campaigns, games, spend)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohorts_are_read_one_day_first_then_as_many_days_as_the_budget_holds() {
        let installs = [1_000, 1_000, 1_000, 1_000, 3_000_000, 10];
        // Nothing read yet: a day alone.
        assert_eq!(cohort_batch_end(&installs, 0, None), 1);
        // 1,000 events a player: days 1 to 3 are 3M events; day 4 would pass the 4M.
        assert_eq!(cohort_batch_end(&installs, 1, Some(1_000.0)), 4);
        // A day over the budget on its own is still read, alone.
        assert_eq!(cohort_batch_end(&installs, 4, Some(1_000.0)), 5);
        assert_eq!(cohort_batch_end(&installs, 5, Some(1_000.0)), 6);
        assert_eq!(cohort_batch_end(&installs, 0, Some(1.0)), 6);
    }

    #[test]
    fn players_are_counted_on_their_install_day() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let players = df!("acquisition_date" => [day(2), day(1), day(2), day(9)]).unwrap();
        assert_eq!(
            players_per_day(&players, &[day(1), day(2), day(3)]).unwrap(),
            [1, 2, 0]
        );
    }
}
