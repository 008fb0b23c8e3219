//! The action ledger, `gold.campaign_actions`: one row per segment and decision day, keyed
//! by an idempotency key, written before an action is sent and again with the answer.
//!
//! A crash between a call and its record leaves the row `applying`. A later run does not send
//! it again unless told to (`--resend-unconfirmed`, after checking the platform): the ledger,
//! not luck, is what keeps an action from being applied twice.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::metrics::Segment;
use crate::date_range::{DateRange, days_since_epoch};
use crate::lake::{Lake, LakeError, WriteOutcome, rows_to_batch, string_column};
use crate::tables::gold;

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Decided, not sent (the default run, without `--apply`).
    Proposed,
    /// Recorded as about to be sent; the platform's answer is not in the ledger yet.
    Applying,
    Applied,
    Failed,
    /// Held back by a platform limit (Meta's budget changes per hour); a later run sends it.
    Deferred,
    /// No API call can make it (a network without a client, part of a campaign): for a person.
    Manual,
    /// Nothing to change.
    NoChange,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Applying => "applying",
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::Deferred => "deferred",
            Status::Manual => "manual",
            Status::NoChange => "no_change",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Status::Proposed,
            Status::Applying,
            Status::Applied,
            Status::Failed,
            Status::Deferred,
            Status::Manual,
            Status::NoChange,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// The platform may have made the change: the row is never overwritten by a rerun.
    pub const fn is_settled(self) -> bool {
        matches!(self, Status::Applying | Status::Applied)
    }
}

/// One ledger row, in the columns of `gold.campaign_actions` (dates as days since the epoch,
/// timestamps as microseconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerRow {
    pub decided_on: i32,
    pub idempotency_key: String,
    pub run_id: String,
    pub game_id: String,
    pub platform: String,
    pub media_source: String,
    pub campaign_id: String,
    pub campaign_name: Option<String>,
    pub country_code: String,
    pub device_platform: String,
    pub object_id: String,
    pub recommendation: String,
    pub action: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: String,
    pub spend_usd: f64,
    pub installs: i64,
    pub cpi_usd: Option<f64>,
    pub predicted_roas_d30: Option<f64>,
    pub predicted_roas_d30_low: Option<f64>,
    pub predicted_roas_d30_high: Option<f64>,
    pub predicted_roas_d180: Option<f64>,
    pub actual_roas_to_date: Option<f64>,
    pub payback_days: Option<i32>,
    pub status: Status,
    pub response: Option<String>,
    pub attempts: i32,
    pub updated_at: i64,
}

/// The same day and segment always give the same key, whatever the run decides.
pub fn idempotency_key(day: NaiveDate, segment: &Segment) -> String {
    let text = format!(
        "{day}|{}|{}|{}|{}",
        segment.game_id, segment.campaign_id, segment.country_code, segment.platform
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// What the ledger already holds of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub status: Status,
    pub action: String,
    pub platform: String,
    pub object_id: String,
    pub predicted_roas_d30: Option<f64>,
    pub decided_on: i32,
    pub updated_at: i64,
    pub segment: Segment,
}

/// The rows of `days`, by idempotency key.
pub async fn recorded(
    lake: &Lake,
    days: &DateRange,
) -> Result<BTreeMap<String, Recorded>, LakeError> {
    let spec = &gold::CAMPAIGN_ACTIONS;
    let frame = lake
        .read_or_empty(spec, Some(Lake::range_filter(spec, days)?))
        .await?;
    let frame_error = |source: PolarsError| LakeError::Schema {
        table: spec.name,
        detail: source.to_string(),
    };
    let rows = recorded_rows(&frame).map_err(frame_error)?;
    Ok(rows)
}

fn recorded_rows(frame: &DataFrame) -> PolarsResult<BTreeMap<String, Recorded>> {
    let frame = frame
        .clone()
        .lazy()
        .with_columns([
            col("decided_on").cast(DataType::Int32),
            col("updated_at")
                .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                .cast(DataType::Int64),
        ])
        .collect()?;
    let text = |name: &str| -> PolarsResult<Vec<String>> {
        Ok(string_column(&frame, name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    };
    let (keys, statuses, actions, platforms, objects) = (
        text("idempotency_key")?,
        text("status")?,
        text("action")?,
        text("platform")?,
        text("object_id")?,
    );
    let (games, campaigns, countries, devices) = (
        text("game_id")?,
        text("campaign_id")?,
        text("country_code")?,
        text("device_platform")?,
    );
    let roas: Vec<Option<f64>> = frame.column("predicted_roas_d30")?.f64()?.iter().collect();
    let days: Vec<Option<i32>> = frame.column("decided_on")?.i32()?.iter().collect();
    let updated: Vec<Option<i64>> = frame.column("updated_at")?.i64()?.iter().collect();
    let mut rows = BTreeMap::new();
    for row in 0..frame.height() {
        let Some(status) = Status::parse(&statuses[row]) else {
            continue;
        };
        rows.insert(
            keys[row].clone(),
            Recorded {
                status,
                action: actions[row].clone(),
                platform: platforms[row].clone(),
                object_id: objects[row].clone(),
                predicted_roas_d30: roas[row],
                decided_on: days[row].unwrap_or_default(),
                updated_at: updated[row].unwrap_or_default(),
                segment: Segment {
                    game_id: games[row].clone(),
                    campaign_id: campaigns[row].clone(),
                    country_code: countries[row].clone(),
                    platform: devices[row].clone(),
                },
            },
        );
    }
    Ok(rows)
}

/// Upserts `rows` on their key in one commit.
pub async fn record(lake: &Lake, rows: &[LedgerRow]) -> Result<Option<WriteOutcome>, LakeError> {
    if rows.is_empty() {
        return Ok(None);
    }
    let batch = rows_to_batch(&gold::CAMPAIGN_ACTIONS, rows)?;
    lake.merge(&gold::CAMPAIGN_ACTIONS, vec![batch])
        .await
        .map(Some)
}

/// `day` as the ledger stores it.
pub fn ledger_day(day: NaiveDate) -> i32 {
    days_since_epoch(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_the_day_and_segment_only() {
        let segment = Segment {
            game_id: "fq".into(),
            campaign_id: "c".into(),
            country_code: "US".into(),
            platform: "ios".into(),
        };
        let day = NaiveDate::from_ymd_opt(2026, 1, 8).unwrap();
        let key = idempotency_key(day, &segment);
        assert_eq!(key.len(), 32);
        assert_eq!(key, idempotency_key(day, &segment.clone()));
        assert_ne!(key, idempotency_key(day.succ_opt().unwrap(), &segment));
        let other = Segment {
            platform: "android".into(),
            ..segment
        };
        assert_ne!(key, idempotency_key(day, &other));
    }

    #[test]
    fn statuses_round_trip_and_only_sent_ones_are_settled() {
        for status in [
            Status::Proposed,
            Status::Applying,
            Status::Applied,
            Status::Manual,
        ] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert!(Status::Applying.is_settled() && Status::Applied.is_settled());
        assert!(!Status::Failed.is_settled() && !Status::Proposed.is_settled());
    }
}
