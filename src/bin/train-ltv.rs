//! Train the pLTV (D7/D30/D180) and churn models on matured cohorts.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::train_ltv::{self, TrainOptions};

const HELP: &str = "Train the pLTV (D7/D30/D180) and churn models on matured players of Gold.

Features are each player's first N days (N = 1, 3, 7) from gold.fact_player_daily and
gold.player_lifecycle; labels are revenue through day 7/30/180 and churn (no session in the 7
days after day N) of players old enough by --as-of. XGBoost with a Tweedie objective for
revenue, logistic for churn. The newest 20% of matured install days are held out: the report
(a table on standard error, JSON with --report) gives normalized Gini, Spearman, decile and
cohort (install day x channel) MAPE and calibration, next to the heuristic \"day-N revenue x
channel multiplier\"; a model that does not beat it is recorded but not promoted. Models go
to gold.ltv_models as version ltv-<as-of>-s<seed>: the same Gold and seed give the same
models. Takes --as-of, not a date range. Examples:
  train-ltv                                   # learn from everything up to the newest day
  train-ltv --as-of 2026-02-28 --report ltv-report.json";

fn main() -> ExitCode {
    let cli = cli::parse::<TrainOptions>("train-ltv", HELP);
    ltv_lakehouse::run::run("train-ltv", &cli.common, |context| {
        train_ltv::run(context, cli.options.clone())
    })
}
