//! Writes a synthetic game studio's telemetry, attribution, ad spend and ground truth.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::gen_fixtures::{self, FixtureOptions};

const HELP: &str = "Generate fixture days of a synthetic studio: same seed and range, same bytes.

Example: gen-fixtures --from 2026-01-01 --to 2026-01-07 --out fixtures/studio --seed 42";

fn main() -> ExitCode {
    let cli = cli::parse::<FixtureOptions>("gen-fixtures", HELP);
    ltv_lakehouse::run::run("gen-fixtures", &cli.common, |context| {
        gen_fixtures::run(context, cli.options.clone())
    })
}
