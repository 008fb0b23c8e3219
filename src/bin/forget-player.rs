//! Erase one player from the lake and the mart (GDPR).

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::forget_player::{self, ForgetOptions};

const HELP: &str =
    "Erase one player from every Bronze, Silver and Gold table and from the mart (GDPR).

The player is given as the game sends the id (--player, hashed with PII_HASH_KEY like at
ingestion) or as the stored hash (--player-hash). Rows go in one Delta commit per table and one
DELETE in mart.player_analytics_daily (DATABASE_URL); the summary lists what each table lost.
Old Delta files are removed by the nightly vacuum. Takes no date range or --game. Examples:
  forget-player --player 3f2c9a...                 # the id from the erasure request
  forget-player --player-hash 8c0c5e... --lake-only";

fn main() -> ExitCode {
    let cli = cli::parse::<ForgetOptions>("forget-player", HELP);
    ltv_lakehouse::run::run("forget-player", &cli.common, |context| {
        forget_player::run(context, cli.options.clone())
    })
}
