//! Lint data contracts, check their compatibility, and validate lake partitions.

use std::process::ExitCode;

use clap::Parser;
use ltv_lakehouse::cli::{self, AFTER_HELP, CommonArgs, ContractsArgs, JobArgs};
use ltv_lakehouse::jobs::check_contracts::{self, ContractCommand};

/// Check the data contracts in contracts/: lint, compat against a git revision, validate.
///
/// Examples: check-contracts lint; check-contracts compat --base origin/main
#[derive(Debug, Parser)]
#[command(name = "check-contracts", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: ContractCommand,
    #[command(flatten)]
    options: ContractsArgs,
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
    ltv_lakehouse::run::run("check-contracts", &cli.common, |context| {
        check_contracts::run(context, cli.options.clone(), cli.command.clone())
    })
}
