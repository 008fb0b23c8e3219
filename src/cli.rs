//! Command-line conventions shared by every binary: one flattened [`CommonArgs`].
//!
//! A binary declares its own flags beside `#[command(flatten)] common: CommonArgs` and calls
//! [`parse`], which also checks what clap cannot (a reversed date range) and exits 2 with a
//! usage message when something is wrong.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, FromArgMatches, Parser, ValueEnum};

use crate::date_range::{DateRange, parse_day};
use crate::domain::GameTitle;
use crate::env;
use crate::exit_codes::UsageError;
use crate::lake::LakeUri;

/// Text appended to every binary's `--help`.
pub const AFTER_HELP: &str = "\
Dates are UTC calendar days, both ends included. Reruns of the same range are idempotent.
Exit codes: 0 ok (one JSON summary line on stdout), 1 runtime or data failure (rerun after fixing),
2 usage or configuration error (fix the command line).";

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Root of the lake: a local folder, or s3://bucket/prefix (endpoint from AWS_ENDPOINT_URL)
    #[arg(long, env = env::LAKE_URI, default_value = "./lake", value_name = "URI",
          value_parser = LakeUri::parse_arg, help_heading = "Common", global = true)]
    pub lake: LakeUri,

    #[command(flatten)]
    pub interval: IntervalArgs,

    /// Only this game (its exact game_title); all games when absent
    #[arg(long, value_name = "GAME", help_heading = "Common", global = true)]
    pub game: Option<GameTitle>,

    /// Plan and report what would change, but write nothing
    #[arg(long, help_heading = "Common", global = true)]
    pub dry_run: bool,

    /// Log format on stderr; json when stderr is not a terminal
    #[arg(long, value_enum, env = env::LOG_FORMAT, value_name = "FORMAT", help_heading = "Common", global = true)]
    pub log_format: Option<LogFormat>,

    /// Write Prometheus metrics of the run to this textfile (node-exporter collector)
    #[arg(long, env = env::METRICS_FILE, value_name = "PATH", help_heading = "Common", global = true)]
    pub metrics_file: Option<PathBuf>,

    /// Identifier of this run (Airflow's run_id); recorded in commits and the summary
    #[arg(long, env = env::RUN_ID, value_name = "ID", help_heading = "Common", global = true)]
    pub run_id: Option<String>,
}

/// `--date D` or `--from D --to D`.
#[derive(Debug, Clone, Args)]
pub struct IntervalArgs {
    /// One UTC day to process (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = parse_day,
          conflicts_with_all = ["from", "to"], help_heading = "Common", global = true)]
    pub date: Option<NaiveDate>,

    /// First UTC day of a range (inclusive); needs --to
    #[arg(long, value_name = "DATE", value_parser = parse_day, requires = "to", help_heading = "Common", global = true)]
    pub from: Option<NaiveDate>,

    /// Last UTC day of a range (inclusive); needs --from
    #[arg(long, value_name = "DATE", value_parser = parse_day, requires = "from", help_heading = "Common", global = true)]
    pub to: Option<NaiveDate>,
}

impl IntervalArgs {
    /// The range given on the command line, if any.
    pub fn range(&self) -> Result<Option<DateRange>, UsageError> {
        match (self.date, self.from, self.to) {
            (Some(day), _, _) => Ok(Some(DateRange::single(day))),
            (None, Some(first), Some(last)) => DateRange::new(first, last)
                .map(Some)
                .map_err(|err| UsageError::new(err.to_string())),
            // clap's `requires` makes a lone --from or --to unreachable.
            _ => Ok(None),
        }
    }
}

/// `--contracts DIR`, for the binaries that judge rows by the data contracts.
#[derive(Debug, Clone, Args)]
pub struct ContractsArgs {
    /// Folder of the data contracts
    #[arg(long, value_name = "DIR", env = env::CONTRACTS_DIR, default_value = crate::contracts::DEFAULT_DIR, global = true)]
    pub contracts: PathBuf,
}

/// `--max-batch-events N`, for the stages that go through a Bronze day's events.
#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    /// Go through a busy ingest day in slices of players of about this many events each, so
    /// memory follows the slice, not the day (the result is the same either way).
    /// bronze-to-silver holds two slices at a time, merging one while it judges the next:
    /// lower this when memory is short
    // Half a million rather than a million: on a 3.1M-event day bronze-to-silver took 14 s
    // and 1.4 GB instead of 16.4 s and 2.3 GB (the kernel zeroing fresh pages for the bigger
    // slices' buffers was a fifth of its CPU), and check-contracts validate 11.9 s and 1.0 GB
    // instead of 13.1 s and 1.5 GB. Slices of 250,000 used 1.0 GB but took 15.6 s. Since
    // bronze-to-silver overlaps a slice's MERGE with the next slice, the 10M-event day takes
    // 41–45 s and 2.6–2.8 GB at this default, 41.6 s and 2.3 GB at 350,000, and 46.1 s and
    // 1.6 GB at 250,000.
    #[arg(long, value_name = "N", default_value_t = 500_000)]
    pub max_batch_events: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A binary's command line: its own options beside the common ones.
#[derive(Debug, Clone, Parser)]
pub struct StageArgs<O: Args> {
    #[command(flatten)]
    pub options: O,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// For binaries with no options of their own.
#[derive(Debug, Clone, Args)]
pub struct NoOptions {}

/// Parses the command line of the binary `name` like clap does and also checks what clap cannot
/// (a reversed range); on any problem it prints a usage error and exits with 2. The first line
/// of `help` heads `-h`; all of it heads `--help`.
pub fn parse<O: Args>(name: &'static str, help: &'static str) -> StageArgs<O> {
    try_parse_from(name, help, std::env::args_os()).unwrap_or_else(|err| err.exit())
}

/// [`parse`] without exiting, for tests.
pub fn try_parse_from<O, I, T>(
    name: &'static str,
    help: &'static str,
    argv: I,
) -> Result<StageArgs<O>, clap::Error>
where
    O: Args,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = StageArgs::<O>::command()
        .name(name)
        .bin_name(name)
        .version(env!("CARGO_PKG_VERSION"))
        .about(help.lines().next().unwrap_or_default())
        .long_about(help)
        .after_help(AFTER_HELP);
    let matches = command.try_get_matches_from_mut(argv)?;
    let args = StageArgs::<O>::from_arg_matches(&matches).map_err(|err| err.with_cmd(&command))?;
    if let Err(err) = args.common.interval.range() {
        return Err(command.error(ErrorKind::ArgumentConflict, err));
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(argv: &[&str]) -> Result<StageArgs<NoOptions>, clap::Error> {
        try_parse_from(
            "some-stage",
            "A stage.",
            std::iter::once("some-stage").chain(argv.iter().copied()),
        )
    }

    #[test]
    fn single_date_and_inclusive_range() {
        let args = parse_args(&["--date", "2026-01-03"]).unwrap();
        assert_eq!(args.common.interval.range().unwrap().unwrap().len_days(), 1);
        let args = parse_args(&["--from", "2026-01-01", "--to", "2026-01-07"]).unwrap();
        assert_eq!(args.common.interval.range().unwrap().unwrap().len_days(), 7);
    }

    #[test]
    fn reversed_range_is_a_usage_error() {
        let err = parse_args(&["--from", "2026-01-07", "--to", "2026-01-01"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("is after --to"), "{err}");
    }

    #[test]
    fn date_and_range_conflict() {
        let err = parse_args(&[
            "--date",
            "2026-01-01",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn from_without_to_is_rejected() {
        let err = parse_args(&["--from", "2026-01-01"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn malformed_date_names_the_expected_format() {
        let err = parse_args(&["--date", "01/02/2026"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
    }

    #[test]
    fn lake_defaults_to_a_local_folder() {
        let args = parse_args(&[]).unwrap();
        assert!(args.common.lake.is_local());
        assert!(args.common.interval.range().unwrap().is_none());
    }
}
