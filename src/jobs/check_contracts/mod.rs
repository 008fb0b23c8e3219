//! `check-contracts`: lint the contracts, check their compatibility with a git revision, and
//! validate lake partitions against them.

pub mod validate;

use clap::{Args, Subcommand};

use crate::cli::ContractsArgs;
use crate::contracts::{self, compat, lint};
use crate::exit_codes::UsageError;
use crate::run::{FailedRun, JobContext, JobReport};

#[derive(Debug, Clone, Args)]
pub struct CheckOptions {
    #[command(subcommand)]
    pub command: ContractCommand,
    #[command(flatten)]
    pub contracts: ContractsArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ContractCommand {
    /// Check that every contract parses and is well formed; one line per problem, exit 1 if any
    Lint,
    /// Fail on breaking changes (removed or newly required field, narrowed type or enum,
    /// tightened range or pattern) against the contracts at a git revision, unless the
    /// contract's major version was bumped
    Compat {
        /// Git revision to compare with
        #[arg(long, value_name = "REV", default_value = "HEAD~1")]
        base: String,
    },
    /// Run every rule over the Bronze ingest days of --date/--from..--to and report, per
    /// contract and rule, rows checked and failing with samples, plus volume against the
    /// trailing 7-day median, null rates, freshness and golden-event completeness
    Validate(validate::ValidateOptions),
}

pub async fn run(context: JobContext, options: CheckOptions) -> anyhow::Result<JobReport> {
    let contracts = &options.contracts;
    match options.command {
        ContractCommand::Lint => run_lint(contracts),
        ContractCommand::Compat { base } => run_compat(contracts, &base),
        ContractCommand::Validate(validate) => {
            // Judging a busy Bronze day builds and drops slices of a GB, as bronze-to-silver.
            crate::tune_allocator();
            let set = contracts::ContractSet::load(&contracts.contracts)?;
            validate::validate(&context, &set, &validate).await
        }
    }
}

fn run_lint(options: &ContractsArgs) -> anyhow::Result<JobReport> {
    let documents = contracts::read_documents(&options.contracts)?;
    let problems = lint::lint(&documents);
    let mut report = JobReport {
        rows_in: documents.len() as u64,
        ..JobReport::default()
    };
    report.detail("contracts", documents.len());
    report.detail("problems", problems.len());
    if problems.is_empty() {
        return Ok(report);
    }
    for problem in &problems {
        eprintln!("{}/{problem}", options.contracts.display());
    }
    report.detail(
        "problem_lines",
        problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
    );
    Err(FailedRun {
        report,
        message: format!(
            "{} problem(s) in {}",
            problems.len(),
            options.contracts.display()
        ),
    }
    .into())
}

fn run_compat(options: &ContractsArgs, base: &str) -> anyhow::Result<JobReport> {
    let head = contracts::read_documents(&options.contracts)?;
    let old = compat::documents_at(&options.contracts, base).map_err(|err| {
        UsageError::new(format!("cannot read the contracts at --base {base}: {err}"))
    })?;
    let changes = compat::compare(&old, &head);
    let mut report = JobReport {
        rows_in: head.len() as u64,
        ..JobReport::default()
    };
    report.detail("base", base);
    report.detail("base_contracts", old.len());
    report.detail("breaking_changes", changes.len());
    if changes.is_empty() {
        return Ok(report);
    }
    for change in &changes {
        eprintln!("breaking: {change}");
    }
    report.detail("changes", &changes);
    Err(FailedRun {
        report,
        message: format!("{} breaking change(s) against {base}", changes.len()),
    }
    .into())
}
