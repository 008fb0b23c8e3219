//! Every table of the lake: name, columns, partitioning and key, in one place.

use crate::lake::{ColumnSpec as C, ColumnType::*, Layer, TableName, TableSpec};

/// Bronze: raw inputs as ingested, typed just enough to partition and find them again.
pub mod bronze {
    use super::*;

    /// Columns every Bronze table ends with: where a row came from and when it arrived.
    macro_rules! provenance {
        () => {
            [
                C::required("raw_json", String),
                C::required("ingest_ts", Timestamp),
                C::required("ingest_date", Date),
                // `kafka:<topic>` or `file:<path>`.
                C::required("source", String),
                C::optional("source_partition", Int32),
                // Kafka offset, or line number (from 1) in a file.
                C::required("source_offset", Int64),
            ]
        };
    }

    const GAME_EVENT_COLUMNS: &[C] = &concat_columns::<13, 6, 19>(
        [
            C::required("event_id", String),
            C::required("player_id", String),
            C::required("game_id", String),
            C::required("event_type", String),
            C::required("event_timestamp", Timestamp),
            C::optional("session_id", String),
            C::optional("session_duration", Float64),
            C::optional("iap_revenue", Float64),
            C::optional("ad_revenue", Float64),
            C::optional("level", Int32),
            C::optional("device_type", String),
            C::optional("country", String),
            C::optional("campaign_id", String),
        ],
        provenance!(),
    );

    /// Telemetry events, PII already hashed (`player_id` is the keyed hash of `eternal_player_id`).
    pub const GAME_EVENTS: TableSpec = TableSpec {
        name: TableName::new(Layer::Bronze, "game_events"),
        columns: GAME_EVENT_COLUMNS,
        partition_by: &["ingest_date", "game_id"],
        date_column: Some("ingest_date"),
        key: &["event_id", "player_id"],
    };

    const ATTRIBUTION_COLUMNS: &[C] = &concat_columns::<15, 6, 21>(
        [
            C::required("install_id", String),
            C::optional("player_id", String),
            C::required("media_source", String),
            C::optional("campaign_id", String),
            C::optional("campaign_name", String),
            C::optional("adset_id", String),
            C::optional("adset_name", String),
            C::optional("creative_id", String),
            C::optional("platform", String),
            C::optional("country_code", String),
            C::optional("install_cost_usd", Float64),
            C::optional("cost_currency", String),
            C::required("install_timestamp", Timestamp),
            C::required("install_date", Date),
            C::optional("app_id", String),
        ],
        provenance!(),
    );

    /// AppsFlyer installs (Push API messages and Pull API report rows alike).
    pub const ATTRIBUTION: TableSpec = TableSpec {
        name: TableName::new(Layer::Bronze, "attribution"),
        columns: ATTRIBUTION_COLUMNS,
        partition_by: &["ingest_date"],
        date_column: Some("ingest_date"),
        key: &["install_id"],
    };

    const AD_SPEND_COLUMNS: &[C] = &concat_columns::<10, 6, 16>(
        [
            C::required("spend_date", Date),
            C::required("media_source", String),
            C::required("campaign_id", String),
            C::optional("campaign_name", String),
            C::required("country_code", String),
            C::required("platform", String),
            C::required("spend_usd", Float64),
            C::required("installs", Int64),
            C::required("impressions", Int64),
            C::required("clicks", Int64),
        ],
        provenance!(),
    );

    /// Daily spend per campaign × country × platform.
    pub const AD_SPEND: TableSpec = TableSpec {
        name: TableName::new(Layer::Bronze, "ad_spend"),
        columns: AD_SPEND_COLUMNS,
        partition_by: &["ingest_date"],
        date_column: Some("ingest_date"),
        key: &["spend_date", "campaign_id", "country_code", "platform"],
    };

    const CAMPAIGN_COLUMNS: &[C] = &concat_columns::<8, 6, 14>(
        [
            C::required("campaign_id", String),
            C::required("campaign_name", String),
            C::required("media_source", String),
            C::required("channel", String),
            C::required("platform", String),
            C::required("daily_budget_usd", Float64),
            C::required("status", String),
            C::optional("bid_usd", Float64),
        ],
        provenance!(),
    );

    /// Snapshots of the campaign list as the ad platforms hold it.
    pub const CAMPAIGNS: TableSpec = TableSpec {
        name: TableName::new(Layer::Bronze, "campaigns"),
        columns: CAMPAIGN_COLUMNS,
        partition_by: &["ingest_date"],
        date_column: Some("ingest_date"),
        key: &["campaign_id"],
    };

    /// Input that could not be read as its format: kept whole, with why, one row per message.
    pub const QUARANTINE: TableSpec = TableSpec {
        name: TableName::new(Layer::Bronze, "quarantine"),
        columns: &[
            C::required("raw", Binary),
            C::required("kind", String),
            C::required("error", String),
            C::required("stage", String),
            C::required("ingest_ts", Timestamp),
            C::required("ingest_date", Date),
            C::required("source", String),
            C::optional("source_partition", Int32),
            C::required("source_offset", Int64),
        ],
        partition_by: &["ingest_date"],
        date_column: Some("ingest_date"),
        key: &["source", "source_partition", "source_offset"],
    };
}

/// Joins two column lists at compile time (`N + M == T`).
const fn concat_columns<const N: usize, const M: usize, const T: usize>(
    first: [C; N],
    second: [C; M],
) -> [C; T] {
    assert!(N + M == T, "column counts do not add up");
    let mut out = [C::required("", String); T];
    let mut index = 0;
    while index < N {
        out[index] = first[index];
        index += 1;
    }
    while index < T {
        out[index] = second[index - N];
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::bronze;

    #[test]
    fn partition_and_key_columns_exist_in_every_table() {
        for spec in [
            bronze::GAME_EVENTS,
            bronze::ATTRIBUTION,
            bronze::AD_SPEND,
            bronze::CAMPAIGNS,
            bronze::QUARANTINE,
        ] {
            for column in spec
                .partition_by
                .iter()
                .chain(spec.key)
                .chain(spec.date_column.iter())
            {
                assert!(
                    spec.column(column).is_some(),
                    "{}: no column {column}",
                    spec.name
                );
            }
            let mut names: Vec<_> = spec.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(
                names.len(),
                spec.columns.len(),
                "{}: duplicate column",
                spec.name
            );
        }
    }
}
