//! Compact and vacuum every Delta table of the lake.

use std::process::ExitCode;

use ltv_lakehouse::cli;
use ltv_lakehouse::jobs::maintain_lake::{self, MaintainOptions};

const HELP: &str = "Compact small files and vacuum old ones in every Delta table of the lake.

Each table is optimized (small files rewritten into larger ones, same rows, one commit) and
then vacuumed: files that no version of the last --retention-days (7) needs are deleted, so
time travel reaches back that far and no further. The nightly DAG runs it last. Reruns are
harmless: a compacted table has nothing left to compact.
Examples:
  maintain-lake
  maintain-lake --table silver.player_events --retention-days 14";

fn main() -> ExitCode {
    let cli = cli::parse::<MaintainOptions>("maintain-lake", HELP);
    ltv_lakehouse::run::run("maintain-lake", &cli.common, |context| {
        maintain_lake::run(context, cli.options.clone())
    })
}
