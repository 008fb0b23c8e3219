//! Lint data contracts, check their compatibility, and validate lake partitions.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::check_contracts::{self, CheckOptions};

const HELP: &str =
    "Check the data contracts in contracts/: lint, compat against a git revision, validate.

Examples: check-contracts lint; check-contracts compat --base origin/main";

fn main() -> ExitCode {
    let cli = cli::parse::<CheckOptions>("check-contracts", HELP);
    ltv_lakehouse::run::run("check-contracts", &cli.common, |context| {
        check_contracts::run(context, cli.options.clone())
    })
}
