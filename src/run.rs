//! The frame around every job: logging, the runtime, the run summary, metrics, exit codes.
//!
//! A binary's `main` parses its flags and hands a job body to [`run`]; the body gets a
//! [`JobContext`] and returns a [`JobReport`]. Everything an operator or Airflow reads about a
//! run (the summary line, the metrics, the exit code) is produced here, once, the same way for
//! every stage.

use std::collections::BTreeMap;
use std::future::Future;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cli::CommonArgs;
use crate::date_range::DateRange;
use crate::domain::GameTitle;
use crate::env;
use crate::exit_codes::{ExitStatus, UsageError};
use crate::lake::{Committer, Lake, TableName, WriteOutcome};
use crate::telemetry::{self, RunFigures};

/// What a job body gets to work with.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job: &'static str,
    pub run_id: String,
    pub lake: Lake,
    pub range: Option<DateRange>,
    pub game: Option<GameTitle>,
    pub dry_run: bool,
}

impl JobContext {
    pub fn new(job: &'static str, common: &CommonArgs) -> Result<Self, UsageError> {
        let run_id = common.run_id.clone().unwrap_or_else(|| {
            format!(
                "manual__{}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
            )
        });
        let lake = Lake::new(
            common.lake.clone(),
            Committer {
                job: job.to_string(),
                run_id: Some(run_id.clone()),
            },
        );
        Ok(JobContext {
            job,
            run_id,
            lake,
            range: common.interval.range()?,
            game: common.game.clone(),
            dry_run: common.dry_run,
        })
    }

    /// The date range, for jobs that cannot run without one.
    pub fn require_range(&self) -> Result<DateRange, UsageError> {
        self.range.ok_or_else(|| {
            UsageError::new(format!("{} needs --date D or --from D --to D", self.job))
        })
    }
}

/// What a job did, as it appears in the run summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobReport {
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_quarantined: u64,
    /// Tables written, with the Delta version each is at after the run.
    pub tables: BTreeMap<String, Option<u64>>,
    /// Seconds from the newest event processed to the end of the run, when the job knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_event_lag_seconds: Option<f64>,
    /// Share of sessions that fired each golden event, when the job measured it (contract
    /// validation); exported as a metric so a drop can alert.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub golden_event_completeness: BTreeMap<String, f64>,
    /// Job-specific figures.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl JobReport {
    /// Counts a write: its rows go to `rows_out` and its table version to `tables`.
    pub fn record_write(&mut self, outcome: &WriteOutcome) {
        self.rows_out += outcome.rows_written;
        self.record_table(&outcome.table, outcome.version);
    }

    pub fn record_table(&mut self, table: &TableName, version: Option<u64>) {
        self.tables.insert(table.to_string(), version);
    }

    pub fn detail(&mut self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.details.insert(key.to_string(), value);
    }
}

/// A run that did its work and found the data failing (lint problems, breaking changes): the
/// report still reaches the summary line, and the run exits 1.
#[derive(Debug)]
pub struct FailedRun {
    pub report: JobReport,
    pub message: String,
}

impl std::fmt::Display for FailedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FailedRun {}

/// The one JSON line a run prints on stdout.
#[derive(Debug, Serialize)]
struct RunSummary<'a> {
    job: &'a str,
    run_id: &'a str,
    status: &'static str,
    range: Option<DateRange>,
    game: Option<&'a GameTitle>,
    dry_run: bool,
    #[serde(flatten)]
    report: &'a JobReport,
    duration_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    exit_code: u8,
}

/// Runs a job body with everything around it and returns the process exit code.
pub fn run<F, Fut>(job: &'static str, common: &CommonArgs, body: F) -> ExitCode
where
    F: FnOnce(JobContext) -> Fut,
    Fut: Future<Output = anyhow::Result<JobReport>>,
{
    telemetry::init_logging(common.log_format);
    let started = Instant::now();
    let context = match JobContext::new(job, common) {
        Ok(context) => context,
        Err(err) => {
            tracing::error!(job, error = %err, "invalid invocation");
            return ExitStatus::Usage.into();
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(job, error = %err, "cannot start the async runtime");
            return ExitStatus::Failure.into();
        }
    };
    let run_id = context.run_id.clone();
    let range = context.range;
    let game = context.game.clone();
    let dry_run = context.dry_run;
    tracing::info!(job, run_id, lake = %context.lake.uri(), range = range.map(|r| r.to_string()).unwrap_or_default(), dry_run, "starting");

    let outcome = runtime.block_on(body(context));
    let duration = started.elapsed();
    let (report, status, error) = match outcome {
        Ok(report) => (report, ExitStatus::Success, None),
        Err(mut err) => {
            let status = ExitStatus::of_error(&err);
            tracing::error!(job, run_id, error = format!("{err:#}"), "run failed");
            let report = err
                .downcast_mut::<FailedRun>()
                .map(|failed| std::mem::take(&mut failed.report))
                .unwrap_or_default();
            (report, status, Some(format!("{err:#}")))
        }
    };

    let summary = RunSummary {
        job,
        run_id: &run_id,
        status: if status == ExitStatus::Success {
            "ok"
        } else {
            "failed"
        },
        range,
        game: game.as_ref(),
        dry_run,
        report: &report,
        duration_ms: duration.as_millis(),
        error,
        exit_code: status.code(),
    };
    match serde_json::to_string(&summary) {
        Ok(line) => println!("{line}"),
        Err(err) => tracing::error!(error = %err, "cannot serialise the run summary"),
    }

    let figures = RunFigures {
        rows_in: report.rows_in,
        rows_out: report.rows_out,
        rows_quarantined: report.rows_quarantined,
        duration,
        succeeded: status == ExitStatus::Success,
        finished_at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs_f64())
            .unwrap_or_default(),
        newest_event_lag_seconds: report.newest_event_lag_seconds,
        golden_event_completeness: report.golden_event_completeness.clone(),
    };
    publish_metrics(&runtime, job, common, &figures);
    status.into()
}

/// Metrics are best effort: a missing Pushgateway must not fail a run that did its work.
fn publish_metrics(
    runtime: &tokio::runtime::Runtime,
    job: &str,
    common: &CommonArgs,
    figures: &RunFigures,
) {
    let text = telemetry::render_metrics(job, figures);
    if let Some(path) = &common.metrics_file
        && let Err(err) = telemetry::write_metrics_file(path, &text)
    {
        tracing::warn!(path = %path.display(), error = %err, "cannot write the metrics file");
    }
    if let Ok(gateway) = std::env::var(env::PUSHGATEWAY_URL)
        && let Err(err) = runtime.block_on(telemetry::push_metrics(&gateway, job, text))
    {
        tracing::warn!(error = %err, "cannot push metrics to the Pushgateway");
    }
}
