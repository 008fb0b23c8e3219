//! `maintain-lake`: the nightly housekeeping of every Delta table: compaction of the small
//! files that micro-batches and MERGEs leave, then a vacuum of files older than the retention
//! (7 days by default) that no live version needs.

use clap::Args;

use crate::exit_codes::UsageError;
use crate::run::{JobContext, JobReport};
use crate::tables::CATALOG;

#[derive(Debug, Clone, Args)]
pub struct MaintainOptions {
    /// Keep files that versions of the last this many days need (time travel reaches back
    /// this far); Delta's own default and the design's is 7
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub retention_days: u32,

    /// Only these tables (`layer.name`, repeatable) [default: every table of the lake]
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
}

pub async fn run(context: JobContext, options: MaintainOptions) -> anyhow::Result<JobReport> {
    if context.range.is_some() || context.game.is_some() {
        return Err(UsageError::new(
            "maintain-lake acts on whole tables: run it without --date/--from/--to/--game",
        )
        .into());
    }
    let known: Vec<String> = CATALOG.iter().map(|spec| spec.name.to_string()).collect();
    if let Some(unknown) = options.tables.iter().find(|t| !known.contains(t)) {
        return Err(UsageError::new(format!(
            "no table {unknown} in the lake's catalog; tables are: {}",
            known.join(", ")
        ))
        .into());
    }
    let retention = chrono::Duration::days(options.retention_days.into());
    let mut report = JobReport::default();
    let mut done = Vec::new();
    for spec in CATALOG
        .iter()
        .filter(|spec| options.tables.is_empty() || options.tables.contains(&spec.name.to_string()))
    {
        if context.dry_run {
            continue;
        }
        if let Some(outcome) = context.lake.maintain(spec, retention).await? {
            tracing::info!(table = %spec.name, compacted = outcome.files_compacted,
                deleted = outcome.files_deleted, "maintained");
            report.record_table(&spec.name, outcome.version);
            done.push(outcome);
        }
    }
    report.detail("retention_days", options.retention_days);
    report.detail("tables", done);
    Ok(report)
}
