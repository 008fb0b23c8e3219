//! Build the Gold star schema, cohorts, campaign metrics and KPIs from Silver.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::silver_to_gold::{self, GoldOptions};

const HELP: &str = "Build Gold from Silver: fact_player_daily, ltv_cohorts, campaign_daily, kpi_daily and the dimensions.

--date/--from/--to select ACTIVITY days (Silver event dates), or --changed finds them: from
the earliest Silver day changed since the last --changed run. Those days' facts and KPIs are
replaced; so are the cohorts and campaign days of every player active in them, so a late
event re-computes its cohort without touching the rest of history. Rerunning a range leaves
the tables unchanged. Examples:
  silver-to-gold --changed                            # nightly: whatever Silver changed
  silver-to-gold --date 2026-01-08                    # one day
  silver-to-gold --from 2026-01-01 --to 2026-01-08    # backfill";

fn main() -> ExitCode {
    let cli = cli::parse::<GoldOptions>("silver-to-gold", HELP);
    ltv_lakehouse::run::run("silver-to-gold", &cli.common, |context| {
        silver_to_gold::run(context, cli.options.clone())
    })
}
