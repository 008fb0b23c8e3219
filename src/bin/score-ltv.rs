//! Score players in their first 180 days with the promoted pLTV and churn models.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::score_ltv::{self, ScoreOptions};

const HELP: &str = "Score players with the pLTV (D7/D30/D180) and churn models of gold.ltv_models.

For each day of --date or --from/--to, every player installed in the 180 days before it gets
predicted LTV D7/D30/D180, ltv_confidence (0-1), churn risk, predicted churn within 7 days and
a whale flag (top 1% of predicted D180 per game, never a minor), in gold.player_ltv_scores
(partition score_date; a rerun replaces the day). Each player is scored by the promoted model
of the longest window (1, 3 or 7 days) their age has completed; players installed that day
wait a day. The model version is, per day, the newest trained on data up to that day with a
promoted model; --model-version picks one. Before any model is promoted a day is skipped
with a warning (exit 0). load-mart copies the newest scores to the mart.
Examples:
  score-ltv --date 2026-03-01
  score-ltv --from 2026-02-01 --to 2026-02-28 --model-version ltv-2026-02-28-s7";

fn main() -> ExitCode {
    let cli = cli::parse::<ScoreOptions>("score-ltv", HELP);
    ltv_lakehouse::run::run("score-ltv", &cli.common, |context| {
        score_ltv::run(context, cli.options.clone())
    })
}
