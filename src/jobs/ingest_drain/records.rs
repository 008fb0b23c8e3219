//! One input message or file record → one Bronze row, or a quarantine row saying why not.
//!
//! Ingestion checks only what Bronze needs to file a row (the envelope: ids, name, time, game);
//! every other rule of the contracts is enforced by `bronze-to-silver`, which keeps rejects.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use deltalake::arrow::array::{
    ArrayRef, BinaryArray, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use deltalake::arrow::error::ArrowError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::contracts::ContractSet;
use crate::date_range::days_since_epoch;
use crate::lake::{LakeError, TableSpec, rows_to_batch};
use crate::privacy::PiiHasher;
use crate::tables::bronze;
use crate::wire::{AdSpendRow, AppsFlyerInstallRow, AppsFlyerPushInstall, CampaignRow};

/// Messages above this size are quarantined unread.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// How much of an oversized message the quarantine keeps, as evidence.
pub const QUARANTINE_SAMPLE_BYTES: usize = 64 << 10;

/// The formats `ingest-drain` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputKind {
    /// Telemetry events, one JSON object per message or line
    Telemetry,
    /// AppsFlyer Push API v2 install messages (JSON)
    AppsflyerPush,
    /// AppsFlyer Pull API v5 installs report (CSV)
    AppsflyerPull,
    /// Daily ad spend (CSV)
    AdSpend,
    /// Campaign list (CSV)
    Campaigns,
}

impl InputKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            InputKind::Telemetry => "telemetry",
            InputKind::AppsflyerPush => "appsflyer_push",
            InputKind::AppsflyerPull => "appsflyer_pull",
            InputKind::AdSpend => "ad_spend",
            InputKind::Campaigns => "campaigns",
        }
    }

    pub const fn table(self) -> &'static TableSpec {
        match self {
            InputKind::Telemetry => &bronze::GAME_EVENTS,
            InputKind::AppsflyerPush | InputKind::AppsflyerPull => &bronze::ATTRIBUTION,
            InputKind::AdSpend => &bronze::AD_SPEND,
            InputKind::Campaigns => &bronze::CAMPAIGNS,
        }
    }
}

/// Where a message came from and when it arrived.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub source: String,
    pub partition: Option<i32>,
    pub offset: i64,
    pub ingest_ts_us: i64,
    pub ingest_date: NaiveDate,
}

impl Provenance {
    fn ingest_days(&self) -> i32 {
        days_since_epoch(self.ingest_date)
    }
}

/// Serialised into an Arrow batch by column name; the names are the Bronze table's.
#[derive(Debug, Clone, Serialize)]
struct ProvenanceColumns {
    raw_json: String,
    ingest_ts: i64,
    ingest_date: i32,
    source: String,
    source_partition: Option<i32>,
    source_offset: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GameEventRow {
    event_id: String,
    player_id: String,
    game_id: String,
    event_type: String,
    event_timestamp: i64,
    session_id: Option<String>,
    session_duration: Option<f64>,
    iap_revenue: Option<f64>,
    ad_revenue: Option<f64>,
    level: Option<i32>,
    device_type: Option<String>,
    country: Option<String>,
    campaign_id: Option<String>,
    #[serde(flatten)]
    provenance: ProvenanceColumns,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttributionRow {
    install_id: String,
    player_id: Option<String>,
    media_source: String,
    campaign_id: Option<String>,
    campaign_name: Option<String>,
    adset_id: Option<String>,
    adset_name: Option<String>,
    creative_id: Option<String>,
    platform: Option<String>,
    country_code: Option<String>,
    install_cost_usd: Option<f64>,
    cost_currency: Option<String>,
    install_timestamp: i64,
    install_date: i32,
    app_id: Option<String>,
    #[serde(flatten)]
    provenance: ProvenanceColumns,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdSpendBronzeRow {
    spend_date: i32,
    media_source: String,
    campaign_id: String,
    campaign_name: Option<String>,
    country_code: String,
    platform: String,
    spend_usd: f64,
    installs: i64,
    impressions: i64,
    clicks: i64,
    #[serde(flatten)]
    provenance: ProvenanceColumns,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignBronzeRow {
    #[serde(flatten)]
    campaign: CampaignRow,
    #[serde(flatten)]
    provenance: ProvenanceColumns,
}

#[derive(Debug, Clone)]
pub struct QuarantineRow {
    pub raw: Vec<u8>,
    pub kind: InputKind,
    pub error: String,
    pub provenance: Provenance,
}

/// The Bronze rows of one batch of input, by table.
#[derive(Debug, Default)]
pub struct BronzeBatch {
    pub game_events: Vec<GameEventRow>,
    pub attribution: Vec<AttributionRow>,
    pub ad_spend: Vec<AdSpendBronzeRow>,
    pub campaigns: Vec<CampaignBronzeRow>,
    pub quarantine: Vec<QuarantineRow>,
}

impl BronzeBatch {
    /// Moves every row of `other` into this batch.
    pub fn absorb(&mut self, mut other: BronzeBatch) {
        self.game_events.append(&mut other.game_events);
        self.attribution.append(&mut other.attribution);
        self.ad_spend.append(&mut other.ad_spend);
        self.campaigns.append(&mut other.campaigns);
        self.quarantine.append(&mut other.quarantine);
    }

    pub fn rows(&self) -> usize {
        self.game_events.len() + self.attribution.len() + self.ad_spend.len() + self.campaigns.len()
    }

    /// Record batches per table, for the tables that have rows. Events are ordered by player
    /// (a stable sort: a player's events keep their arrival order): bronze-to-silver and
    /// check-contracts read a busy day in slices of players, and a file, a row group or a page
    /// that holds only some players' rows is skipped by the slices of the others, instead of
    /// every slice decompressing all of the day.
    pub fn into_tables(mut self) -> Result<Vec<(&'static TableSpec, Vec<RecordBatch>)>, LakeError> {
        self.game_events
            .sort_by(|a, b| a.player_id.cmp(&b.player_id));
        let mut tables = Vec::new();
        // Quarantine first: a data table's commit then implies the file's rejects are stored.
        if !self.quarantine.is_empty() {
            let batch = quarantine_batch(&self.quarantine).map_err(|err| LakeError::Schema {
                table: bronze::QUARANTINE.name,
                detail: err.to_string(),
            })?;
            tables.push((&bronze::QUARANTINE, vec![batch]));
        }
        push_rows(&mut tables, &bronze::GAME_EVENTS, &self.game_events)?;
        push_rows(&mut tables, &bronze::ATTRIBUTION, &self.attribution)?;
        push_rows(&mut tables, &bronze::AD_SPEND, &self.ad_spend)?;
        push_rows(&mut tables, &bronze::CAMPAIGNS, &self.campaigns)?;
        Ok(tables)
    }
}

fn push_rows<R: Serialize>(
    tables: &mut Vec<(&'static TableSpec, Vec<RecordBatch>)>,
    spec: &'static TableSpec,
    rows: &[R],
) -> Result<(), LakeError> {
    if !rows.is_empty() {
        tables.push((spec, vec![rows_to_batch(spec, rows)?]));
    }
    Ok(())
}

fn quarantine_batch(rows: &[QuarantineRow]) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(
            rows.iter().map(|r| r.raw.as_slice()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.kind.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.error.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| "ingest"))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.provenance.ingest_ts_us),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| r.provenance.ingest_days()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.provenance.source.as_str()),
        )),
        Arc::new(Int32Array::from_iter(
            rows.iter().map(|r| r.provenance.partition),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.provenance.offset),
        )),
    ];
    RecordBatch::try_new(bronze::QUARANTINE.arrow_schema(), columns)
}

/// Turns input into Bronze rows: parses, hashes PII, types the columns Bronze keeps.
pub struct RecordParser {
    hasher: PiiHasher,
    contracts: ContractSet,
}

/// The part of a telemetry event Bronze cannot do without; the rest stays in `raw_json`.
#[derive(Debug, Deserialize)]
struct Envelope {
    event_id: String,
    eternal_player_id: String,
    event_name: String,
    event_timestamp: i64,
    game_title: String,
}

impl RecordParser {
    pub fn new(hasher: PiiHasher, contracts: ContractSet) -> Self {
        RecordParser { hasher, contracts }
    }

    /// Adds the row parsed from one message (or file line) to `batch`, or its quarantine row.
    pub fn push_message(
        &self,
        kind: InputKind,
        raw: &[u8],
        provenance: Provenance,
        batch: &mut BronzeBatch,
    ) {
        if raw.len() > MAX_MESSAGE_BYTES {
            let error = format!(
                "message of {} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit",
                raw.len()
            );
            return quarantine(
                batch,
                kind,
                &raw[..QUARANTINE_SAMPLE_BYTES],
                error,
                provenance,
            );
        }
        let parsed = match kind {
            InputKind::Telemetry => self
                .telemetry(raw, &provenance)
                .map(|row| batch.game_events.push(row)),
            InputKind::AppsflyerPush => self
                .appsflyer_push(raw, &provenance)
                .map(|row| batch.attribution.push(row)),
            // On a topic, ad-spend and campaign records are JSON objects with the CSV's columns.
            InputKind::AppsflyerPull | InputKind::AdSpend | InputKind::Campaigns => {
                match serde_json::from_slice::<Map<String, Value>>(raw) {
                    Ok(record) => {
                        return self.push_csv_record(kind, record, raw, provenance, batch);
                    }
                    Err(err) => Err(format!("not a JSON object: {err}")),
                }
            }
        };
        if let Err(error) = parsed {
            quarantine(batch, kind, raw, error, provenance);
        }
    }

    /// Adds the row parsed from one CSV record (as a header → value object) to `batch`.
    pub fn push_csv_record(
        &self,
        kind: InputKind,
        record: Map<String, Value>,
        raw: &[u8],
        provenance: Provenance,
        batch: &mut BronzeBatch,
    ) {
        let parsed = match kind {
            InputKind::AppsflyerPull => self
                .appsflyer_pull(record, &provenance)
                .map(|row| batch.attribution.push(row)),
            InputKind::AdSpend => ad_spend(record, &provenance).map(|row| batch.ad_spend.push(row)),
            InputKind::Campaigns => {
                campaign(record, &provenance).map(|row| batch.campaigns.push(row))
            }
            _ => Err(format!(
                "{} records arrive as JSON messages, not CSV rows",
                kind.as_str()
            )),
        };
        if let Err(error) = parsed {
            quarantine(batch, kind, raw, error, provenance);
        }
    }

    fn telemetry(&self, raw: &[u8], provenance: &Provenance) -> Result<GameEventRow, String> {
        let mut object: Map<String, Value> =
            serde_json::from_slice(raw).map_err(|err| format!("not a JSON object: {err}"))?;
        let envelope: Envelope = serde_json::from_value(Value::Object(object.clone()))
            .map_err(|err| format!("envelope: {err}"))?;
        let mut pii: Vec<&str> = self
            .contracts
            .global()
            .map(|c| c.pii_fields())
            .unwrap_or_default();
        if let Some(contract) = self
            .contracts
            .event_contract(&envelope.game_title, &envelope.event_name)
        {
            pii.extend(contract.pii_fields());
        }
        self.hasher.hash_fields(&mut object, &pii);

        let number = |key: &str| object.get(key).and_then(Value::as_f64);
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let name = envelope.event_name.as_str();
        let level = object
            .get("level_id")
            .and_then(Value::as_str)
            .and_then(|id| {
                id.trim_start_matches(|c: char| !c.is_ascii_digit())
                    .parse::<i32>()
                    .ok()
            });
        Ok(GameEventRow {
            player_id: self.hasher.hash(&envelope.eternal_player_id),
            event_timestamp: envelope.event_timestamp.saturating_mul(1000),
            session_id: text("session_id"),
            session_duration: if name == "game_background" {
                number("session_duration_seconds")
            } else {
                None
            },
            iap_revenue: if name == "iap_completed" {
                number("revenue_usd")
            } else {
                None
            },
            ad_revenue: if name == "ad_impression" {
                number("revenue_usd")
            } else {
                None
            },
            level,
            device_type: text("platform"),
            country: text("country_code"),
            campaign_id: object
                .get("attribution")
                .and_then(|a| a.get("campaign_source"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            provenance: provenance_columns(&Value::Object(object), provenance),
            event_id: envelope.event_id,
            game_id: envelope.game_title,
            event_type: envelope.event_name,
        })
    }

    fn appsflyer_push(
        &self,
        raw: &[u8],
        provenance: &Provenance,
    ) -> Result<AttributionRow, String> {
        let object: Map<String, Value> =
            serde_json::from_slice(raw).map_err(|err| format!("not a JSON object: {err}"))?;
        let install: AppsFlyerPushInstall = serde_json::from_value(Value::Object(object.clone()))
            .map_err(|err| format!("install: {err}"))?;
        self.attribution_row(
            object,
            Install {
                appsflyer_id: install.appsflyer_id,
                customer_user_id: install.customer_user_id,
                install_time: install.install_time,
                media_source: install.media_source,
                campaign_id: install.af_c_id,
                campaign_name: install.campaign,
                adset_id: install.af_adset_id,
                adset_name: install.af_adset,
                creative_id: install.af_ad_id,
                platform: install.platform,
                country_code: install.country_code,
                cost: install.af_cost_value,
                cost_currency: install.af_cost_currency,
                app_id: install.app_id,
            },
            provenance,
        )
    }

    fn appsflyer_pull(
        &self,
        record: Map<String, Value>,
        provenance: &Provenance,
    ) -> Result<AttributionRow, String> {
        let row: AppsFlyerInstallRow = serde_json::from_value(Value::Object(record.clone()))
            .map_err(|err| format!("installs report row: {err}"))?;
        let cost = match row.cost_value.trim() {
            "" => None,
            value => Some(
                value
                    .parse::<f64>()
                    .map_err(|_| format!("Cost Value `{value}` is not a number"))?,
            ),
        };
        self.attribution_row(
            record,
            Install {
                appsflyer_id: row.appsflyer_id,
                customer_user_id: row.customer_user_id,
                install_time: row.install_time,
                media_source: row.media_source,
                campaign_id: row.campaign_id,
                campaign_name: row.campaign,
                adset_id: row.adset_id,
                adset_name: row.adset,
                creative_id: row.ad_id,
                platform: row.platform,
                country_code: row.country_code,
                cost,
                cost_currency: row.cost_currency,
                app_id: row.app_id,
            },
            provenance,
        )
    }

    fn attribution_row(
        &self,
        mut raw: Map<String, Value>,
        install: Install,
        provenance: &Provenance,
    ) -> Result<AttributionRow, String> {
        if install.appsflyer_id.trim().is_empty() {
            return Err("install has no appsflyer_id".into());
        }
        if install.media_source.trim().is_empty() {
            return Err("install has no media_source".into());
        }
        let installed = parse_appsflyer_time(&install.install_time)?;
        let pii: Vec<String> = self
            .contracts
            .source_contract("appsflyer_install")
            .map(|contract| {
                contract
                    .fields
                    .iter()
                    .filter(|field| field.pii)
                    .flat_map(|field| [Some(field.name.clone()), field.csv_column.clone()])
                    .flatten()
                    .collect()
            })
            .unwrap_or_default();
        self.hasher.hash_fields(
            &mut raw,
            &pii.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let non_empty = |text: String| Some(text).filter(|t| !t.trim().is_empty());
        Ok(AttributionRow {
            install_id: install.appsflyer_id,
            player_id: non_empty(install.customer_user_id).map(|id| self.hasher.hash(&id)),
            media_source: install.media_source,
            campaign_id: non_empty(install.campaign_id),
            campaign_name: non_empty(install.campaign_name),
            adset_id: non_empty(install.adset_id),
            adset_name: non_empty(install.adset_name),
            creative_id: non_empty(install.creative_id),
            platform: non_empty(install.platform.to_lowercase()),
            country_code: non_empty(install.country_code),
            install_cost_usd: install.cost,
            cost_currency: non_empty(install.cost_currency),
            install_timestamp: installed.and_utc().timestamp_micros(),
            install_date: days_since_epoch(installed.date()),
            app_id: non_empty(install.app_id),
            provenance: provenance_columns(&Value::Object(raw), provenance),
        })
    }
}

/// The fields of an install, whichever AppsFlyer API it came from.
struct Install {
    appsflyer_id: String,
    customer_user_id: String,
    install_time: String,
    media_source: String,
    campaign_id: String,
    campaign_name: String,
    adset_id: String,
    adset_name: String,
    creative_id: String,
    platform: String,
    country_code: String,
    cost: Option<f64>,
    cost_currency: String,
    app_id: String,
}

fn ad_spend(
    record: Map<String, Value>,
    provenance: &Provenance,
) -> Result<AdSpendBronzeRow, String> {
    let row: AdSpendRow =
        serde_json::from_value(typed_csv(&record)).map_err(|err| format!("ad spend row: {err}"))?;
    let date = NaiveDate::parse_from_str(&row.date, "%Y-%m-%d")
        .map_err(|_| format!("date `{}` is not YYYY-MM-DD", row.date))?;
    Ok(AdSpendBronzeRow {
        spend_date: days_since_epoch(date),
        media_source: row.media_source,
        campaign_id: row.campaign_id,
        campaign_name: Some(row.campaign_name).filter(|name| !name.is_empty()),
        country_code: row.country_code,
        platform: row.platform,
        spend_usd: row.spend_usd,
        installs: row.installs as i64,
        impressions: row.impressions as i64,
        clicks: row.clicks as i64,
        provenance: provenance_columns(&Value::Object(record), provenance),
    })
}

fn campaign(
    record: Map<String, Value>,
    provenance: &Provenance,
) -> Result<CampaignBronzeRow, String> {
    let row: CampaignRow =
        serde_json::from_value(typed_csv(&record)).map_err(|err| format!("campaign row: {err}"))?;
    Ok(CampaignBronzeRow {
        campaign: row,
        provenance: provenance_columns(&Value::Object(record), provenance),
    })
}

/// CSV cells are text; numbers in them become JSON numbers so typed rows can be read.
fn typed_csv(record: &Map<String, Value>) -> Value {
    Value::Object(
        record
            .iter()
            .map(|(key, value)| {
                let typed = value
                    .as_str()
                    .and_then(|text| serde_json::from_str::<serde_json::Number>(text).ok())
                    .map(Value::Number)
                    .unwrap_or_else(|| value.clone());
                (key.clone(), typed)
            })
            .collect(),
    )
}

fn provenance_columns(raw: &Value, provenance: &Provenance) -> ProvenanceColumns {
    ProvenanceColumns {
        raw_json: raw.to_string(),
        ingest_ts: provenance.ingest_ts_us,
        ingest_date: provenance.ingest_days(),
        source: provenance.source.clone(),
        source_partition: provenance.partition,
        source_offset: provenance.offset,
    }
}

fn quarantine(
    batch: &mut BronzeBatch,
    kind: InputKind,
    raw: &[u8],
    error: String,
    provenance: Provenance,
) {
    batch.quarantine.push(QuarantineRow {
        raw: raw.to_vec(),
        kind,
        error,
        provenance,
    });
}

/// AppsFlyer times are UTC `YYYY-MM-DD HH:MM:SS`, with milliseconds in the Push API.
fn parse_appsflyer_time(text: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .map_err(|_| format!("install_time `{text}` is not YYYY-MM-DD HH:MM:SS"))
}
