//! Judging Bronze rows: the raw JSON each Bronze table keeps, checked by the contracts. The one
//! way `bronze-to-silver` (which enforces) and `check-contracts validate` (which reports) read
//! a Bronze row's verdict.

use polars::prelude::{DataFrame, DataType, PolarsResult};

use super::{ContractSet, Json, JsonObject, Rule, Verdict, Violation};

/// Contract sources, by the name their contract declares.
pub const INSTALL_SOURCE: &str = "appsflyer_install";
pub const AD_SPEND_SOURCE: &str = "ad_spend_daily";
pub const CAMPAIGN_SOURCE: &str = "campaign";

/// Where a Bronze row came from, as the rejects table keeps it. It borrows the row's text from
/// its frame: a day's raw JSON is the bulk of its memory and is not copied to be judged.
#[derive(Debug, Clone)]
pub struct BronzeRecord<'a> {
    pub raw_json: &'a str,
    pub ingest_ts_us: i64,
    pub ingest_date: i32,
    pub source: &'a str,
    pub source_partition: Option<i32>,
    pub source_offset: i64,
}

impl<'a> BronzeRecord<'a> {
    /// Whether the row came from a CSV file, whose cells are all text.
    pub fn is_csv(&self) -> bool {
        self.source.ends_with(".csv") || self.source.ends_with(".csv.gz")
    }

    /// The raw row as a JSON object borrowing the row's text, or the violation saying it is
    /// not one.
    pub fn object(&self) -> Result<JsonObject<'a>, Violation> {
        match serde_json::from_str(self.raw_json) {
            Ok(Json::Object(object)) => Ok(object),
            _ => Err(Violation {
                field: String::new(),
                rule: Rule::NotJson,
                message: "the Bronze raw_json is not a JSON object".into(),
            }),
        }
    }
}

/// The provenance columns of every row of a Bronze frame, in order.
pub fn records(frame: &DataFrame) -> PolarsResult<Vec<BronzeRecord<'_>>> {
    let raw = frame.column("raw_json")?.str()?;
    let ingest_ts = frame.column("ingest_ts")?.cast(&DataType::Int64)?;
    let ingest_ts = ingest_ts.i64()?;
    let ingest_date = frame.column("ingest_date")?.cast(&DataType::Int32)?;
    let ingest_date = ingest_date.i32()?;
    let source = frame.column("source")?.str()?;
    let partition = frame.column("source_partition")?.cast(&DataType::Int32)?;
    let partition = partition.i32()?;
    let offset = frame.column("source_offset")?.cast(&DataType::Int64)?;
    let offset = offset.i64()?;
    // Walked chunk by chunk: a Bronze day arrives in many record batches, and fetching row i
    // of a column first searches its chunks for the one holding i.
    let rows = raw
        .iter()
        .zip(ingest_ts.iter())
        .zip(ingest_date.iter())
        .zip(source.iter())
        .zip(partition.iter())
        .zip(offset.iter());
    Ok(rows
        .map(
            |(((((raw_json, ingest_ts), ingest_date), source), partition), offset)| BronzeRecord {
                raw_json: raw_json.unwrap_or_default(),
                ingest_ts_us: ingest_ts.unwrap_or_default(),
                ingest_date: ingest_date.unwrap_or_default(),
                source: source.unwrap_or_default(),
                source_partition: partition,
                source_offset: offset.unwrap_or_default(),
            },
        )
        .collect())
}

/// The verdict on a telemetry event, and the event as JSON when it is an object. Events are
/// judged as of when they were received (the ingest time), never the wall clock.
pub fn judge_event<'c, 'r>(
    contracts: &'c ContractSet,
    record: &BronzeRecord<'r>,
) -> (Option<JsonObject<'r>>, Verdict<'c>) {
    match record.object() {
        Ok(object) => {
            let verdict = contracts.check_event_object(&object, Some(record.ingest_ts_us / 1000));
            (Some(object), verdict)
        }
        Err(violation) => (
            None,
            Verdict {
                contract: None,
                violations: vec![violation],
            },
        ),
    }
}

/// The verdict on a record of a source (CSV rows by column name, JSON by field name), and the
/// record as JSON when it is an object.
pub fn judge_source<'c, 'r>(
    contracts: &'c ContractSet,
    source: &str,
    record: &BronzeRecord<'r>,
) -> (Option<JsonObject<'r>>, Verdict<'c>) {
    match record.object() {
        Ok(object) => {
            let verdict = if record.is_csv() {
                contracts.check_csv_record(source, &object)
            } else {
                contracts.check_record(source, &object)
            };
            (Some(object), verdict)
        }
        Err(violation) => (
            None,
            Verdict {
                contract: contracts.source_contract(source),
                violations: vec![violation],
            },
        ),
    }
}
