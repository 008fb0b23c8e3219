//! Writes a synthetic game studio's telemetry, attribution, ad spend and ground truth.

use std::process::ExitCode;

use clap::Parser;
use ltv_lakehouse::cli::{self, AFTER_HELP, CommonArgs, JobArgs};
use ltv_lakehouse::jobs::gen_fixtures::{self, FixtureOptions};

/// Generate fixture days of a synthetic studio: same seed and range, same bytes.
///
/// Example: gen-fixtures --from 2026-01-01 --to 2026-01-07 --out fixtures/studio --seed 42
#[derive(Debug, Parser)]
#[command(name = "gen-fixtures", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    options: FixtureOptions,
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
    ltv_lakehouse::run::run("gen-fixtures", &cli.common, |context| {
        gen_fixtures::run(context, cli.options.clone())
    })
}
