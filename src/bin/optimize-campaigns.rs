//! Decide Scale / Watch / Pause and budget or bid changes per campaign segment from pROAS.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::optimize_campaigns::{self, OptimizeOptions};

const HELP: &str = "Decide Scale / Watch / Pause and budget or bid changes per campaign from pROAS.

For --date D, every campaign × country × platform with installs in the 7 days before D is
judged on its spend, CPI, predicted ROAS D30/D180 (from gold.player_ltv_scores of D: run
score-ltv first) with a 90% interval, actual ROAS to date and payback. Rules from --config
pause a segment below the pROAS floor for 3 days and scale one above the target; a seeded
Thompson-sampling bandit then moves the total daily budget toward the likely best, at most
+50%/-50% a day. Every decision, with its reason in words, goes to gold.campaign_actions
(load-mart copies it to mart.campaign_actions). Nothing is sent without --apply; with it,
changes go to Meta, Google Ads, TikTok and ironSource (base URLs and tokens from META_*,
GOOGLE_ADS_*, TIKTOK_*, IRONSOURCE_* variables), each recorded before and after its call, so
a rerun never applies one twice. SLACK_WEBHOOK_URL, when set, gets a summary.
Examples:
  optimize-campaigns --date 2026-03-01                 # propose, send nothing
  optimize-campaigns --date 2026-03-01 --apply         # send to the ad platforms
  optimize-campaigns --from 2026-02-01 --to 2026-02-28 # backfill proposals";

fn main() -> ExitCode {
    let cli = cli::parse::<OptimizeOptions>("optimize-campaigns", HELP);
    ltv_lakehouse::run::run("optimize-campaigns", &cli.common, |context| {
        optimize_campaigns::run(context, cli.options.clone())
    })
}
