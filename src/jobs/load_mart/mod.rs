//! `load-mart`: publishes Gold into the Postgres mart that Tableau reads.
//!
//! Every mart table mirrors the days of one Gold table (see [`tables::MART_TABLES`]).
//! `--from/--to` names Gold days by each table's own date (install day for players and
//! campaigns, cohort day for cohorts, activity day for KPIs); `--changed` takes, per table, the
//! days whose Gold files changed since the version the last load published. A run migrates
//! the schema, then, in one transaction, copies days the mart does not hold yet straight into
//! their tables with binary COPY (a month without a partition is filled first and attached
//! after, so its indexes are built once instead of kept up row by row), and stages the others
//! the same way to upsert them: a reader sees the old mart or the new one, and a rerun on
//! unchanged Gold changes no row.

pub mod pgcopy;
mod postgres;
pub mod tables;

use std::sync::Arc;

use anyhow::Context as _;
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

use pgcopy::EncodedRows;
pub use postgres::{MIGRATOR, Mart, TableLoad};
use postgres::{MartColumns, NewMonths};
use tables::{ByInstallDay, Dimensions, MART_TABLES, MartTable};

#[derive(Debug, Clone, Args)]
pub struct MartOptions {
    #[command(subcommand)]
    pub command: Option<MartCommand>,

    /// Instead of --date/--from/--to: load, for each mart table, the Gold days changed since
    /// the last load recorded in mart.load_log (the DAGs' mode)
    #[arg(long)]
    pub changed: bool,

    /// Fail the load (rolled back, exit 1) when a COPY goes this many seconds without the
    /// server taking any data: a lock held by another session, or a lost connection
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub stall_timeout: u64,
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
    let stall_limit = std::time::Duration::from_secs(options.stall_timeout);
    let loads = load(&context, &mut mart, &plan, stall_limit).await?;
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

/// Where one table's days go in a load, decided before its rows are read so that they are
/// encoded for it ahead of the COPY.
struct Route {
    /// Months the mart has no partition for yet, being built.
    new_months: NewMonths,
    /// The mart holds none of the days.
    fresh: bool,
    /// The mart's column types, which rows copied straight in are encoded in; read only when
    /// some day is.
    columns: Option<Arc<MartColumns>>,
}

impl Route {
    /// The relation `day`'s rows are copied straight into, or `None` when they are staged for
    /// the upsert. Days the mart does not hold yet have nothing to match or delete.
    fn copy_target<'r>(&'r self, table: &'r MartTable, day: NaiveDate) -> Option<&'r str> {
        self.new_months
            .relation_of(day)
            .or(self.fresh.then_some(table.name))
    }
}

/// One Gold day of one table to read, shape and encode: in the mart's column types when it is
/// copied straight in, else in the staging table's plain types.
struct DayWork {
    table: &'static MartTable,
    day: NaiveDate,
    mart_types: Option<Arc<MartColumns>>,
}

/// Stages each planned day and publishes every table in one transaction.
async fn load(
    context: &JobContext,
    mart: &mut Mart,
    plan: &[TablePlan],
    stall_limit: std::time::Duration,
) -> anyhow::Result<Vec<TableLoad>> {
    let lake = &context.lake;
    let dims = Arc::new(dimensions(lake).await?);
    let mut transaction = mart.begin(stall_limit).await?;
    let mut routes = Vec::with_capacity(plan.len());
    for part in plan {
        let new_months = transaction.start_new_months(part.table, &part.days).await?;
        let fresh = !transaction.holds_any(part.table, &part.days).await?;
        let columns = match fresh || !new_months.is_empty() {
            true => Some(Arc::new(transaction.column_types(part.table).await?)),
            false => None,
        };
        routes.push(Route {
            new_months,
            fresh,
            columns,
        });
    }
    let work = plan
        .iter()
        .zip(&routes)
        .flat_map(|(part, route)| {
            part.days.iter().map(move |&day| DayWork {
                table: part.table,
                day,
                mart_types: route
                    .copy_target(part.table, day)
                    .and(route.columns.clone()),
            })
        })
        .collect();
    let mut gold_days = read_ahead(lake.clone(), dims, work);
    let total_days: usize = plan.iter().map(|p| p.days.len()).sum();
    let progress = telemetry::progress_bar(total_days as u64, "mart days");
    for (part, route) in plan.iter().zip(routes) {
        let table = part.table;
        if part.days.is_empty() {
            continue;
        }
        let mut copied = 0;
        let mut staged: Option<(Vec<String>, u64)> = None;
        for &day in &part.days {
            let rows = gold_days
                .recv()
                .await
                .ok_or_else(|| anyhow::anyhow!("the Gold reader of load-mart stopped early"))??;
            match route.copy_target(table, day) {
                Some(relation) => copied += transaction.copy_into(relation, rows).await?,
                None => {
                    let columns = rows.columns.clone();
                    let sent = transaction.stage(table, rows, staged.is_none()).await?;
                    staged.get_or_insert((columns, 0)).1 += sent;
                }
            }
            progress.inc(1);
        }
        let upserted = match staged {
            Some((columns, rows_staged)) => {
                transaction
                    .publish(table, &columns, &part.days, rows_staged)
                    .await?
            }
            None => TableLoad::of(table, &part.days, None, 0),
        };
        // After the upsert: its delete of unstaged rows must not see the new months.
        transaction.attach(table, route.new_months).await?;
        let loaded = transaction.record(TableLoad {
            gold_version: part.gold_version,
            rows_staged: upserted.rows_staged + copied,
            rows_inserted: upserted.rows_inserted + copied,
            ..upserted
        });
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

/// Days a load reads, shapes and encodes ahead of the one it is sending.
const READ_AHEAD_DAYS: usize = 2;

/// Reads, shapes and encodes `work` (each table's Gold days, in load order) on a task of its
/// own, a few days ahead of the COPY that sends them: the client's work overlaps the server's
/// on the previous day, and memory holds at most a few days.
fn read_ahead(
    lake: Lake,
    dims: Arc<Dimensions>,
    work: Vec<DayWork>,
) -> tokio::sync::mpsc::Receiver<anyhow::Result<EncodedRows>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD_DAYS);
    tokio::spawn(async move {
        for item in work {
            let rows = read_day(&lake, &dims, item).await;
            let failed = rows.is_err();
            // A closed channel means the load gave up; a failure ends the reading.
            if sender.send(rows).await.is_err() || failed {
                break;
            }
        }
    });
    receiver
}

/// One day of `work`, read from Gold, then shaped and encoded on a blocking thread: seconds
/// of CPU per busy day that would otherwise hold a runtime worker the COPY needs.
async fn read_day(
    lake: &Lake,
    dims: &Arc<Dimensions>,
    work: DayWork,
) -> anyhow::Result<EncodedRows> {
    let gold_rows = lake
        .read_range(work.table.source, &DateRange::single(work.day))
        .await?;
    let dims = Arc::clone(dims);
    tokio::task::spawn_blocking(move || encode_day(gold_rows, &dims, &work))
        .await
        .context("the encoder of load-mart stopped")?
}

fn encode_day(
    gold_rows: DataFrame,
    dims: &Dimensions,
    work: &DayWork,
) -> anyhow::Result<EncodedRows> {
    let (table, day) = (work.table, work.day);
    // Both anyhow and polars name this method; the error becomes anyhow's.
    let rows = anyhow::Context::with_context((table.shape)(gold_rows, dims), || {
        format!("shaping {} rows of {day}", table.name)
    })?;
    let targets = match &work.mart_types {
        Some(columns) => Some(columns.targets_of(&rows)?),
        None => None,
    };
    EncodedRows::of(&rows, targets.as_deref())
        .with_context(|| format!("encoding {} rows of {day}", table.name))
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
            col("acquisition_date"),
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
        col("acquisition_date"),
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
        players: ByInstallDay::split(players)?,
        campaigns,
        predictions: ByInstallDay::split(predictions)?,
    })
}
