//! Drain Kafka topics or replay files into the Bronze tables, exactly once.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::ingest_drain::{self, IngestOptions};

const HELP: &str =
    "Load telemetry, AppsFlyer installs, ad spend and campaigns into Bronze, exactly once.

PII is hashed with PII_HASH_KEY before anything is written; bad input lands in
bronze.quarantine with its reason. Examples:
  ingest-drain --source kafka --brokers 127.0.0.1:9092          # drain to the high watermarks
  ingest-drain --source file:fixtures/studio --date 2026-01-08  # replay files";

fn main() -> ExitCode {
    let cli = cli::parse::<IngestOptions>("ingest-drain", HELP);
    ltv_lakehouse::run::run("ingest-drain", &cli.common, |context| {
        ingest_drain::run(context, cli.options.clone())
    })
}
