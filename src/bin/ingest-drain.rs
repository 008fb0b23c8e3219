//! Drain Kafka topics or replay files into the Bronze tables, exactly once.

use std::process::ExitCode;

use clap::Parser;
use ltv_lakehouse::cli::{self, AFTER_HELP, CommonArgs, JobArgs};
use ltv_lakehouse::jobs::ingest_drain::{self, IngestOptions};

/// Load telemetry, AppsFlyer installs, ad spend and campaigns into Bronze.
///
/// PII is hashed with PII_HASH_KEY before anything is written; bad input lands in
/// bronze.quarantine with its reason. Example (replay a fixture day):
///   ingest-drain --source file:fixtures/studio --date 2026-01-08 --lake ./lake
#[derive(Debug, Parser)]
#[command(name = "ingest-drain", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    options: IngestOptions,
    #[command(flatten)]
    common: CommonArgs,
}

impl JobArgs for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    ltv_lakehouse::run::run("ingest-drain", &cli.common, |context| {
        ingest_drain::run(context, cli.options.clone())
    })
}
