//! `load-mart`: publishes Gold into the Postgres mart that Tableau reads.
//!
//! Every mart table mirrors the days of one Gold table (see [`tables::MART_TABLES`]).
//! `--from/--to` names Gold days by each table's own date (install day for players and
//! campaigns, cohort day for cohorts, activity day for KPIs); `--changed` takes, per table, the
//! days whose Gold files changed since the version the last load published. A run migrates
//! the schema, creates the monthly partitions it needs, then, in one transaction, copies days
//! the mart does not hold yet straight into their tables with binary COPY, and stages the
//! others the same way to upsert them: a reader sees the old mart or the new one, and a rerun
//! on unchanged Gold changes no row.

pub mod pgcopy;
mod postgres;
pub mod tables;

use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use polars::prelude::*;

use crate::date_range::DateRange;
use crate::env;
use crate::exit_codes::UsageError;
use crate::lake::Lake;
use crate::run::{JobContext, JobReport};
use crate::tables::gold;
use crate::telemetry;

pub use postgres::{MIGRATOR, Mart, TableLoad};
use tables::{Dimensions, MART_TABLES, MartTable};

#[derive(Debug, Clone, Args)]
pub struct MartOptions {
    #[command(subcommand)]
    pub command: Option<MartCommand>,

    /// Instead of --date/--from/--to: load, for each mart table, the Gold days changed since
    /// the last load recorded in mart.load_log (the DAGs' mode)
    #[arg(long)]
    pub changed: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum MartCommand {
    /// Apply the schema migrations of sql/mart and exit (a load also does this first)
    Migrate,
}

pub async fn run(context: JobContext, options: MartOptions) -> anyhow::Result<JobReport> {
    let url = std::env::var(env::DATABASE_URL).map_err(|_| {
        UsageError::new(format!(
            "set {} to the mart's PostgreSQL URL (postgres://user@host:5432/db)",
            env::DATABASE_URL
        ))
    })?;
    let mut report = JobReport::default();
    let mut mart = Mart::connect(&url).await?;
    let migrations = mart.migrate().await?;
    report.detail("migrations", migrations);
    if let Some(MartCommand::Migrate) = options.command {
        return Ok(report);
    }
    if context.game.is_some() {
        return Err(UsageError::new(
            "load-mart publishes every game of a day together; run it without --game",
        )
        .into());
    }
    let plan = if options.changed {
        if context.range.is_some() {
            return Err(UsageError::new("give either --changed or a date range, not both").into());
        }
        changed_plan(&context.lake, &mut mart).await?
    } else {
        range_plan(&context.lake, &context.require_range()?).await?
    };
    report.detail(
        "plan",
        plan.iter()
            .map(|p| (p.table.name, p.days.len()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    );
    let loads = load(&context, &mut mart, &plan).await?;
    for load in &loads {
        report.rows_in += load.rows_staged;
        report.rows_out += load.rows_inserted + load.rows_updated + load.rows_deleted;
    }
    report.detail("loads", &loads);
    Ok(report)
}

/// One table's share of a load: the Gold days to publish and the Gold version they come from.
struct TablePlan {
    table: &'static MartTable,
    days: Vec<NaiveDate>,
    gold_version: Option<u64>,
    /// The version of `gold.player_ltv_scores` the rows carry, for a table with predictions.
    predictions_version: Option<u64>,
}

async fn range_plan(lake: &Lake, range: &DateRange) -> anyhow::Result<Vec<TablePlan>> {
    let mut plan = Vec::new();
    for table in MART_TABLES {
        let gold_version = lake.version(&table.source.name).await?;
        if gold_version.is_none() && table.optional {
            continue;
        }
        if gold_version.is_none() {
            anyhow::bail!(
                "{} does not exist in {}: run silver-to-gold for these days first",
                table.source.name,
                lake.uri()
            );
        }
        let predictions_version = match table.predicted {
            true => lake.version(&gold::PLAYER_LTV_SCORES.name).await?,
            false => None,
        };
        plan.push(TablePlan {
            table,
            days: range.days().collect(),
            gold_version,
            predictions_version,
        });
    }
    Ok(plan)
}

async fn changed_plan(lake: &Lake, mart: &mut Mart) -> anyhow::Result<Vec<TablePlan>> {
    let mut plan = Vec::new();
    for table in MART_TABLES {
        if table.optional && lake.version(&table.source.name).await?.is_none() {
            continue;
        }
        let since = mart.last_loaded_version(table, table.source).await?;
        let (gold_version, mut days) = lake.changed_dates(table.source, since).await?;
        let mut predictions_version = None;
        if table.predicted {
            let since = mart
                .last_loaded_version(table, &gold::PLAYER_LTV_SCORES)
                .await?;
            let scores = &gold::PLAYER_LTV_SCORES;
            if let Some(newest) = lake.latest_date(scores).await? {
                let (version, changed) = lake.changed_dates(scores, since).await?;
                predictions_version = version;
                // The mart carries the newest day's scores: when that day is rescored, every
                // install day it scored is republished.
                if changed.contains(&newest) {
                    days.extend(scored_install_days(newest));
                }
            }
        }
        plan.push(TablePlan {
            table,
            days: days.into_iter().collect(),
            gold_version,
            predictions_version,
        });
    }
    Ok(plan)
}

/// The install days score-ltv scores on `day`.
fn scored_install_days(day: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    (1..=crate::jobs::score_ltv::SCORED_DAYS)
        .filter_map(move |age| day.checked_sub_days(chrono::Days::new(age as u64)))
}

/// Stages each planned day and publishes every table in one transaction.
async fn load(
    context: &JobContext,
    mart: &mut Mart,
    plan: &[TablePlan],
) -> anyhow::Result<Vec<TableLoad>> {
    let lake = &context.lake;
    for part in plan.iter().filter(|p| p.table.monthly_partitions) {
        mart.ensure_month_partitions(part.table, &part.days).await?;
    }
    let dims = Arc::new(dimensions(lake).await?);
    let total_days: usize = plan.iter().map(|p| p.days.len()).sum();
    let progress = telemetry::progress_bar(total_days as u64, "mart days");
    let work = plan
        .iter()
        .flat_map(|part| part.days.iter().map(move |day| (part.table, *day)))
        .collect();
    let mut gold_days = read_ahead(lake.clone(), dims, work);
    let mut transaction = mart.begin().await?;
    for part in plan {
        let table = part.table;
        // Days the mart does not hold yet have nothing to match or delete: their rows are
        // copied straight into the table. Others go through staging and the upsert.
        let fresh = !transaction.holds_any(table, &part.days).await?;
        let mut columns: Option<Vec<String>> = None;
        let mut sent = 0;
        for _ in &part.days {
            let rows = gold_days
                .recv()
                .await
                .ok_or_else(|| anyhow::anyhow!("the Gold reader of load-mart stopped early"))??;
            sent += if fresh {
                transaction.copy_fresh(table, &rows).await?
            } else {
                transaction.stage(table, &rows, columns.is_none()).await?
            };
            columns.get_or_insert_with(|| {
                rows.get_column_names()
                    .iter()
                    .map(|c| c.to_string())
                    .collect()
            });
            progress.inc(1);
        }
        let Some(columns) = columns else {
            continue;
        };
        let loaded = if fresh {
            transaction.record_fresh(table, &part.days, part.gold_version, sent)
        } else {
            transaction
                .publish(table, &columns, &part.days, part.gold_version, sent)
                .await?
        };
        if let Some(version) = part.predictions_version {
            transaction.record_source(table, &gold::PLAYER_LTV_SCORES, &part.days, version);
        }
        tracing::info!(
            table = table.name,
            days = loaded.days,
            staged = loaded.rows_staged,
            inserted = loaded.rows_inserted,
            updated = loaded.rows_updated,
            deleted = loaded.rows_deleted,
            "published"
        );
    }
    progress.finish_and_clear();
    if context.dry_run {
        transaction.rollback().await
    } else {
        transaction.commit(&context.run_id).await
    }
}

/// Days a load reads and shapes ahead of the one it is sending.
const READ_AHEAD_DAYS: usize = 2;

/// Reads and shapes `work` (each table's Gold days, in load order) on a task of its own, a few
/// days ahead of the COPY that sends them: reading Delta and shaping rows overlaps the
/// server's work on the previous day, and memory holds at most a few days.
fn read_ahead(
    lake: Lake,
    dims: Arc<Dimensions>,
    work: Vec<(&'static MartTable, NaiveDate)>,
) -> tokio::sync::mpsc::Receiver<anyhow::Result<DataFrame>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD_DAYS);
    tokio::spawn(async move {
        for (table, day) in work {
            let rows = match lake.read_range(table.source, &DateRange::single(day)).await {
                Ok(gold_rows) => {
                    anyhow::Context::with_context((table.shape)(gold_rows, &dims), || {
                        format!("shaping {} rows of {day}", table.name)
                    })
                }
                Err(err) => Err(err.into()),
            };
            let failed = rows.is_err();
            // A closed channel means the load gave up; a failure ends the reading.
            if sender.send(rows).await.is_err() || failed {
                break;
            }
        }
    });
    receiver
}

/// The player and campaign dimensions, one row per player and campaign, and each scored
/// player's newest predictions.
async fn dimensions(lake: &Lake) -> anyhow::Result<Dimensions> {
    let players = lake
        .read_or_empty(&gold::DIM_PLAYER, None)
        .await?
        .lazy()
        .select([
            col("game_id"),
            col("player_id"),
            col("acquisition_channel"),
            col("lifetime_revenue"),
            col("is_whale"),
            col("last_active_date"),
        ])
        .collect()?;
    let campaigns = lake
        .read_or_empty(&gold::DIM_CAMPAIGN, None)
        .await?
        .lazy()
        .select([col("campaign_id"), col("campaign_name"), col("ad_network")])
        .collect()?;
    let scores = &gold::PLAYER_LTV_SCORES;
    let predictions = match lake.latest_date(scores).await? {
        Some(day) => lake.read_range(scores, &DateRange::single(day)).await?,
        None => lake.read_or_empty(scores, None).await?,
    }
    .lazy()
    .select([
        col("game_id"),
        col("player_id"),
        col("predicted_ltv_d7"),
        col("predicted_ltv_d30"),
        col("predicted_ltv_d180"),
        col("ltv_confidence"),
        col("churn_risk"),
        col("predicted_churn_d7"),
        col("model_version"),
    ])
    .collect()?;
    Ok(Dimensions {
        players,
        campaigns,
        predictions,
    })
}
