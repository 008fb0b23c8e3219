//! `bronze-to-silver`: Bronze ingest days into Silver, by event date.
//!
//! For each ingest day of the range: every Bronze row is judged by the contracts (failures go to
//! `silver.rejects`, which is replaced for that day so a rerun after a contract fix leaves no
//! stale rejects); installs are deduplicated across AppsFlyer Push and Pull and mapped to their
//! game; ad spend and campaigns keep their latest report; events without analytics consent are
//! left out, re-sent events keep their first arrival, and each event is enriched with its
//! player's acquisition. Silver tables are MERGEd on their keys, so rerunning a day, or
//! loading a late event or install, changes exactly the rows it should.
//!
//! A day's events are refined in slices of players (`--max-batch-events`), so a busy day needs
//! the memory of one slice; installs, spend and campaigns are small and read whole.

mod bronze;
mod events;
mod players;
mod sources;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use polars::prelude::*;
use tokio::task::JoinHandle;

use crate::cli::{BatchArgs, ContractsArgs};
use crate::contracts::ContractSet;
use crate::date_range::DateRange;
use crate::exit_codes::UsageError;
use crate::lake::frame::distinct_strings;
use crate::lake::{Columns, Lake, LakeError, TableSpec, WriteOutcome, rows_to_batch};
use crate::run::{JobContext, JobReport};
use crate::studio::{self, Studio};
use crate::tables::{bronze as bronze_tables, silver};
use crate::telemetry;
use bronze::RejectRow;

pub use players::ORGANIC;

#[derive(Debug, Clone, Args)]
pub struct SilverOptions {
    /// The studio's games and the app ids they ship under
    #[arg(long, value_name = "FILE", env = crate::env::STUDIO_CONFIG, default_value = studio::DEFAULT_PATH)]
    pub studio_config: PathBuf,

    #[command(flatten)]
    pub contracts: ContractsArgs,

    #[command(flatten)]
    pub batch: BatchArgs,
}

/// What a run did, summed over its days.
#[derive(Debug, Default)]
struct Tally {
    bronze_rows: u64,
    rejects_by_rule: BTreeMap<String, u64>,
    without_consent: u64,
    duplicates: u64,
    players_changed: u64,
    events_enriched_again: u64,
    player_slices: u64,
    silver_rows: BTreeMap<&'static str, u64>,
}

pub async fn run(context: JobContext, options: SilverOptions) -> anyhow::Result<JobReport> {
    crate::tune_allocator();
    let range = context.require_range()?;
    if context.game.is_some() {
        return Err(UsageError::new(
            "bronze-to-silver refines every game of a Bronze day together (a day's rejects are \
             replaced as a whole); run it without --game",
        )
        .into());
    }
    let contracts = Arc::new(ContractSet::load(&options.contracts.contracts)?);
    let studio = Studio::load(&options.studio_config)?;
    // Events are the one input every studio has: a lake without them is the wrong lake.
    context.lake.open(&bronze_tables::GAME_EVENTS.name).await?;

    let mut tally = Tally::default();
    let mut report = JobReport::default();
    let progress = telemetry::progress_bar(range.len_days(), "ingest days");
    for day in range.days() {
        let day = DateRange::single(day);
        refine_day(
            &context,
            &contracts,
            &studio,
            &options,
            &day,
            &mut tally,
            &mut report,
        )
        .await
        .with_context(|| format!("refining Bronze ingest day {}", day.first()))?;
        progress.inc(1);
    }
    progress.finish_and_clear();

    report.rows_in = tally.bronze_rows;
    report.rows_quarantined = tally.rejects_by_rule.values().sum();
    report.detail("rejects_by_rule", &tally.rejects_by_rule);
    report.detail("excluded_without_consent", tally.without_consent);
    report.detail("duplicates_dropped", tally.duplicates);
    report.detail("players_changed", tally.players_changed);
    report.detail("events_enriched_again", tally.events_enriched_again);
    report.detail("player_slices", tally.player_slices);
    report.detail("silver_rows", &tally.silver_rows);
    if context.dry_run {
        report.detail("dry_run", "nothing was written");
    }
    Ok(report)
}

async fn refine_day(
    context: &JobContext,
    contracts: &Arc<ContractSet>,
    studio: &Studio,
    options: &SilverOptions,
    day: &DateRange,
    tally: &mut Tally,
    report: &mut JobReport,
) -> anyhow::Result<()> {
    let lake = &context.lake;
    let read_day = |spec: &'static TableSpec| async move {
        lake.read_or_empty(spec, Some(Lake::range_filter(spec, day)?))
            .await
    };
    // Installs, spend and campaigns are a few rows per player at most: read whole.
    let install_rows = read_day(&bronze_tables::ATTRIBUTION).await?;
    let spend_rows = read_day(&bronze_tables::AD_SPEND).await?;
    let campaign_rows = read_day(&bronze_tables::CAMPAIGNS).await?;
    tally.bronze_rows += [&install_rows, &spend_rows, &campaign_rows]
        .iter()
        .map(|frame| frame.height() as u64)
        .sum::<u64>();
    let installs = sources::installs(install_rows, contracts, studio)?;
    let spend = sources::ad_spend(spend_rows, contracts)?;
    let campaigns = sources::campaigns(campaign_rows, contracts)?;
    let mut rejects: Vec<RejectRow> = [
        installs.judged.rejects,
        spend.judged.rejects,
        campaigns.judged.rejects,
    ]
    .concat();

    let write = !context.dry_run;
    if write {
        merge(
            lake,
            &silver::ATTRIBUTION_INSTALLS,
            &installs.rows,
            tally,
            report,
        )
        .await?;
        merge(lake, &silver::AD_SPEND_DAILY, &spend.rows, tally, report).await?;
        merge(lake, &silver::CAMPAIGNS, &campaigns.rows, tally, report).await?;
    }

    let events_filter = Lake::range_filter(&bronze_tables::GAME_EVENTS, day)?;
    let slices = lake
        .player_slices(
            &bronze_tables::GAME_EVENTS,
            events_filter.clone(),
            options.batch.max_batch_events,
        )
        .await?;
    tally.player_slices += slices.len() as u64;
    // A slice's MERGE into Silver runs while the next slice is read and judged: slices hold
    // disjoint players, so the next one reads nothing the MERGE writes. One MERGE at a time
    // keeps the commits in slice order.
    let mut merging: Option<JoinHandle<Result<Vec<WriteOutcome>, LakeError>>> = None;
    for slice in &slices {
        if slices.len() > 1 {
            tracing::info!(day = %day.first(), %slice, "refining a slice of the day's players");
        }
        let event_rows = lake
            .read_slice(&bronze_tables::GAME_EVENTS, &events_filter, slice)
            .await?;
        tally.bronze_rows += event_rows.height() as u64;
        let judging = Arc::clone(contracts);
        // Judging runs on every core, off the async workers that run the MERGE.
        let events = tokio::task::spawn_blocking(move || events::refine(event_rows, &judging))
            .await
            .context("judging a slice of events")??;
        tally.without_consent += events.without_consent;
        tally.duplicates += events.duplicates;
        rejects.extend(events.judged.rejects);

        let slice_installs = slice.of(&installs.rows)?;
        let Some((enriched, changed)) =
            enrich_with_players(lake, &events.rows, &slice_installs, write, tally).await?
        else {
            continue;
        };
        if write {
            settle(merging.take(), tally, report).await?;
            let lake = lake.clone();
            merging = Some(tokio::spawn(async move {
                // Events before players: a run cut off between the two finds the profile
                // unchanged on its rerun only once the events carry it.
                let mut outcomes = Vec::new();
                for (spec, rows) in [
                    (&silver::PLAYER_EVENTS, enriched),
                    (&silver::PLAYERS, changed),
                ] {
                    outcomes.extend(merge_rows(&lake, spec, &rows).await?);
                }
                Ok(outcomes)
            }));
        } else {
            *tally.silver_rows.entry("player_events").or_default() += enriched.height() as u64;
        }
    }
    settle(merging, tally, report).await?;

    for reject in &rejects {
        *tally
            .rejects_by_rule
            .entry(reject.rule.clone())
            .or_default() += 1;
    }
    if write {
        // Replaced even when empty: a day that now passes must not keep its old rejects.
        let outcome = lake
            .replace_range(
                &silver::REJECTS,
                vec![rows_to_batch(&silver::REJECTS, &rejects)?],
                day,
            )
            .await?;
        report.record_table(&outcome.table, outcome.version);
    }
    Ok(())
}

/// The day's events enriched with their players' profiles, plus the stored events of players
/// whose profile changed (enriched again), and the new or changed profiles. `None` when the
/// day concerns no player.
async fn enrich_with_players(
    lake: &Lake,
    events: &DataFrame,
    installs: &DataFrame,
    write: bool,
    tally: &mut Tally,
) -> anyhow::Result<Option<(DataFrame, DataFrame)>> {
    // The players these rows concern, and what the lake knows of them.
    let touched = concat(
        [
            events
                .clone()
                .lazy()
                .select([col("game_id"), col("player_id")]),
            installs
                .clone()
                .lazy()
                .select([col("game_id"), col("player_id")]),
        ],
        UnionArgs::default(),
    )?
    .unique_stable(None, UniqueKeepStrategy::First)
    .collect()?;
    if touched.height() == 0 {
        return Ok(None);
    }
    let ids = distinct_strings(&touched, "player_id")?;
    let stored = lake
        .read_matching_or_empty(&silver::PLAYERS, "player_id", &ids, None, Columns::All)
        .await?;
    // In a dry run this day's installs are not stored yet, so they are added here.
    let known_installs = lake
        .read_matching_or_empty(
            &silver::ATTRIBUTION_INSTALLS,
            "player_id",
            &ids,
            None,
            Columns::All,
        )
        .await?;
    let known_installs = if write {
        known_installs
    } else {
        let columns = known_installs.get_column_names_owned();
        known_installs.vstack(&installs.select(columns)?)?
    };
    let (profiles, changed) = players::profiles(events, &stored, &known_installs)?;
    tally.players_changed += changed.height() as u64;

    // Players whose stored profile changed have stored events to enrich again.
    let restated = changed
        .clone()
        .lazy()
        .join(
            stored
                .clone()
                .lazy()
                .select([col("game_id"), col("player_id")]),
            [col("game_id"), col("player_id")],
            [col("game_id"), col("player_id")],
            JoinArgs::new(JoinType::Semi),
        )
        .select([col("game_id"), col("player_id")])
        .collect()?;
    let mut facts = events.clone().lazy();
    if restated.height() > 0 {
        let stored_events = lake
            .read_matching_or_empty(
                &silver::PLAYER_EVENTS,
                "player_id",
                &distinct_strings(&restated, "player_id")?,
                None,
                Columns::All,
            )
            .await?;
        let key = [col("game_id"), col("player_id"), col("event_id")];
        let again = players::facts_of(stored_events)?
            .lazy()
            .join(
                restated.lazy(),
                [col("game_id"), col("player_id")],
                [col("game_id"), col("player_id")],
                JoinArgs::new(JoinType::Semi),
            )
            .join(
                events.clone().lazy(),
                key.clone(),
                key,
                JoinArgs::new(JoinType::Anti),
            )
            .collect()?;
        tally.events_enriched_again += again.height() as u64;
        facts = concat([facts, again.lazy()], UnionArgs::default())?;
    }
    let enriched = players::enrich(facts, &profiles).collect()?;
    Ok(Some((enriched, changed)))
}

async fn merge(
    lake: &Lake,
    spec: &TableSpec,
    rows: &DataFrame,
    tally: &mut Tally,
    report: &mut JobReport,
) -> anyhow::Result<()> {
    if let Some(outcome) = merge_rows(lake, spec, rows).await? {
        record(&outcome, tally, report);
    }
    Ok(())
}

/// MERGEs `rows` into `spec`'s table; no rows, no commit.
async fn merge_rows(
    lake: &Lake,
    spec: &TableSpec,
    rows: &DataFrame,
) -> Result<Option<WriteOutcome>, LakeError> {
    if rows.height() == 0 {
        return Ok(None);
    }
    lake.merge(spec, rows).await.map(Some)
}

/// Waits for a slice's MERGE, if one is running, and counts what it wrote.
async fn settle(
    merging: Option<JoinHandle<Result<Vec<WriteOutcome>, LakeError>>>,
    tally: &mut Tally,
    report: &mut JobReport,
) -> anyhow::Result<()> {
    let Some(merging) = merging else {
        return Ok(());
    };
    for outcome in merging.await.context("merging a slice into Silver")?? {
        record(&outcome, tally, report);
    }
    Ok(())
}

fn record(outcome: &WriteOutcome, tally: &mut Tally, report: &mut JobReport) {
    *tally.silver_rows.entry(outcome.table.name()).or_default() += outcome.rows_written;
    report.record_write(outcome);
}
