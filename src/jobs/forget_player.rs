//! `forget-player`: GDPR erasure of one player from every layer of the lake and the mart.
//!
//! The lake holds players pseudonymised (HMAC of their id, see [`crate::privacy`]), so the
//! player is found by that hash: in every table with a `player_id` column, and inside the raw
//! JSON that Bronze and `silver.rejects` keep. Unparseable input in `bronze.quarantine` was
//! never pseudonymised; it is searched for the player's raw id when `--player` gives it. The
//! rows go in one Delta commit per table; their old files stay reachable by time travel until
//! the nightly vacuum (7-day retention) deletes them. Aggregates (cohorts, campaign metrics,
//! KPIs) keep the player only as a count, which identifies nobody.

use std::collections::BTreeMap;

use clap::Args;
use regex::Regex;

use crate::env;
use crate::exit_codes::UsageError;
use crate::jobs::load_mart::Mart;
use crate::lake::TableSpec;
use crate::privacy::PiiHasher;
use crate::run::{JobContext, JobReport};
use crate::tables::{CATALOG, bronze};

#[derive(Debug, Clone, Args)]
pub struct ForgetOptions {
    /// The player's id as the game sends it (eternal_player_id); hashed with PII_HASH_KEY the
    /// way ingest-drain hashed it
    #[arg(long, value_name = "ID", required_unless_present = "player_hash")]
    pub player: Option<String>,

    /// The pseudonymised id as stored in the lake (64 hex digits), instead of --player
    #[arg(long, value_name = "HASH", conflicts_with = "player")]
    pub player_hash: Option<String>,

    /// Hash --player with the well-known development key (demos and tests only)
    #[arg(long)]
    pub insecure_dev_key: bool,

    /// Erase from the lake only, not the mart (DATABASE_URL is then not needed)
    #[arg(long)]
    pub lake_only: bool,
}

pub async fn run(context: JobContext, options: ForgetOptions) -> anyhow::Result<JobReport> {
    if context.game.is_some() || context.range.is_some() {
        return Err(UsageError::new(
            "forget-player erases the player from every game and every day; run it without \
             --game and without a date range",
        )
        .into());
    }
    let hashed = match (&options.player, &options.player_hash) {
        (Some(player), _) => PiiHasher::from_env(options.insecure_dev_key)?.hash(player),
        (None, Some(hash)) => {
            let hex = Regex::new("^[0-9a-f]{64}$").expect("a valid pattern");
            if !hex.is_match(hash) {
                return Err(UsageError::new("--player-hash takes 64 lowercase hex digits").into());
            }
            hash.clone()
        }
        (None, None) => return Err(UsageError::new("give --player or --player-hash").into()),
    };
    let mart = if options.lake_only {
        None
    } else {
        let url = std::env::var(env::DATABASE_URL).map_err(|_| {
            UsageError::new(format!(
                "set {} to erase from the mart too, or pass --lake-only",
                env::DATABASE_URL
            ))
        })?;
        Some(Mart::connect(&url).await?)
    };

    let mut report = JobReport::default();
    let mut removed: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for spec in CATALOG {
        let Some(predicate) = erasure_predicate(&spec, &hashed, options.player.as_deref()) else {
            continue;
        };
        if context.dry_run {
            continue;
        }
        let outcome = context.lake.delete_where(&spec, &predicate).await?;
        if outcome.version.is_some() {
            report.record_table(&outcome.table, outcome.version);
        }
        report.rows_out += outcome.rows_deleted.unwrap_or(0);
        removed.insert(spec.name.to_string(), outcome.rows_deleted);
    }
    if let Some(mut mart) = mart {
        let rows = if context.dry_run {
            0
        } else {
            mart.forget_player(&hashed).await?
        };
        report.rows_out += rows;
        removed.insert("mart.player_analytics_daily".into(), Some(rows));
    }
    // The hash is already pseudonymous; logging it lets an auditor match the request.
    report.detail("player_hash", &hashed);
    report.detail("rows_removed", removed);
    report.detail(
        "physically_removed",
        "Delta files that held the rows are deleted by the next vacuum (7-day retention)",
    );
    Ok(report)
}

/// The SQL predicate selecting the player's rows of `spec`, `None` when it has none to hold.
fn erasure_predicate(spec: &TableSpec, hashed: &str, raw_id: Option<&str>) -> Option<String> {
    let mut clauses = Vec::new();
    if spec.column("player_id").is_some() {
        clauses.push(format!("player_id = '{hashed}'"));
    }
    if spec.column("raw_json").is_some() {
        clauses.push(format!("strpos(raw_json, '{hashed}') > 0"));
    }
    if spec.name == bronze::QUARANTINE.name
        && let Some(raw_id) = raw_id
    {
        let quoted = raw_id.replace('\'', "''");
        clauses.push(format!("strpos(CAST(raw AS VARCHAR), '{quoted}') > 0"));
    }
    (!clauses.is_empty()).then(|| clauses.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{gold, silver};

    #[test]
    fn matches_the_player_column_and_the_raw_json() {
        let hash = "ab".repeat(32);
        assert_eq!(
            erasure_predicate(&gold::DIM_PLAYER, &hash, None).unwrap(),
            format!("player_id = '{hash}'")
        );
        assert_eq!(
            erasure_predicate(&silver::REJECTS, &hash, None).unwrap(),
            format!("strpos(raw_json, '{hash}') > 0")
        );
        assert!(erasure_predicate(&gold::KPI_DAILY, &hash, None).is_none());
        assert!(erasure_predicate(&bronze::QUARANTINE, &hash, None).is_none());
        assert_eq!(
            erasure_predicate(&bronze::QUARANTINE, &hash, Some("o'neil")).unwrap(),
            "strpos(CAST(raw AS VARCHAR), 'o''neil') > 0"
        );
    }
}
