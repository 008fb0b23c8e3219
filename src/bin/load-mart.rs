//! Load Gold into the Postgres mart that Tableau reads.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::load_mart::{self, MartOptions};

const HELP: &str =
    "Load Gold into the Postgres mart (schema mart) that the Tableau dashboards read.

The database comes from DATABASE_URL (postgres://user:password@host:5432/db); it is never
logged. Every run first applies the migrations of sql/mart. --date/--from/--to select Gold
days by each table's own date: install day for mart.player_analytics_daily and
mart.campaign_daily, cohort day for mart.cohort_retention and mart.cohort_ltv, activity day
for mart.kpi_daily. --changed loads, per table, the Gold days changed since the last load in
mart.load_log. All tables are published in one transaction: dashboards see the old mart or
the new one, never half a day, and a rerun on unchanged Gold changes no row. Examples:
  load-mart migrate                                  # schema only
  load-mart --changed                                # the DAGs: whatever Gold changed
  load-mart --from 2026-01-01 --to 2026-01-08        # backfill those days";

fn main() -> ExitCode {
    let cli = cli::parse::<MartOptions>("load-mart", HELP);
    ltv_lakehouse::run::run("load-mart", &cli.common, |context| {
        load_mart::run(context, cli.options.clone())
    })
}
