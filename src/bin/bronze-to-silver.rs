//! Refine Bronze ingest days into the Silver tables.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::bronze_to_silver::{self, SilverOptions};

const HELP: &str = "Refine Bronze ingest days into Silver: contracts enforced, duplicates dropped, events enriched.

--date/--from/--to select Bronze INGEST days; rows land in Silver by event date, MERGEd on
their keys, so rerunning a day changes nothing and a late event or install updates exactly
the players it concerns. Rows that break a contract go to silver.rejects (replaced per
ingest day, so a rerun after a contract fix clears them). Events without analytics consent
are left out. Examples:
  bronze-to-silver --date 2026-01-08                       # the day Airflow just ingested
  bronze-to-silver --from 2026-01-01 --to 2026-01-08       # backfill after a contract fix
  bronze-to-silver --date 2026-01-08 --dry-run             # count rejects, write nothing";

fn main() -> ExitCode {
    let cli = cli::parse::<SilverOptions>("bronze-to-silver", HELP);
    ltv_lakehouse::run::run("bronze-to-silver", &cli.common, |context| {
        bronze_to_silver::run(context, cli.options.clone())
    })
}
