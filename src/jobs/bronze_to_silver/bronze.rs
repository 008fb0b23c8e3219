//! Reading Bronze rows and judging them against the contracts: what passes goes on to Silver,
//! what fails becomes a `silver.rejects` row with every rule it broke.

use polars::prelude::{BooleanChunked, DataFrame, DataType, NewChunkedArray, PolarsResult};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::contracts::{Contract, Verdict, Violation};
use crate::lake::TableSpec;

/// Where a Bronze row came from, as the rejects table keeps it.
#[derive(Debug, Clone)]
pub struct BronzeRecord {
    pub raw_json: String,
    pub ingest_ts_us: i64,
    pub ingest_date: i32,
    pub source: String,
    pub source_partition: Option<i32>,
    pub source_offset: i64,
}

impl BronzeRecord {
    /// Whether the row came from a CSV file, whose cells are all text.
    pub fn is_csv(&self) -> bool {
        self.source.ends_with(".csv") || self.source.ends_with(".csv.gz")
    }

    /// The raw row as a JSON object, or the violation saying it is not one.
    pub fn object(&self) -> Result<Map<String, Value>, Violation> {
        match serde_json::from_str(&self.raw_json) {
            Ok(Value::Object(object)) => Ok(object),
            _ => Err(Violation {
                field: String::new(),
                rule: crate::contracts::Rule::NotJson,
                message: "the Bronze raw_json is not a JSON object".into(),
            }),
        }
    }
}

/// The provenance columns of every row of a Bronze frame, in order.
pub fn records(frame: &DataFrame) -> PolarsResult<Vec<BronzeRecord>> {
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
    Ok((0..frame.height())
        .map(|row| BronzeRecord {
            raw_json: raw.get(row).unwrap_or_default().to_owned(),
            ingest_ts_us: ingest_ts.get(row).unwrap_or_default(),
            ingest_date: ingest_date.get(row).unwrap_or_default(),
            source: source.get(row).unwrap_or_default().to_owned(),
            source_partition: partition.get(row),
            source_offset: offset.get(row).unwrap_or_default(),
        })
        .collect())
}

/// One row of `silver.rejects`.
#[derive(Debug, Clone, Serialize)]
pub struct RejectRow {
    bronze_table: String,
    event_id: Option<String>,
    event_name: Option<String>,
    contract_id: Option<String>,
    contract_version: Option<String>,
    field: String,
    pub rule: String,
    message: String,
    violations_json: String,
    raw_json: String,
    ingest_ts: i64,
    ingest_date: i32,
    source: String,
    source_partition: Option<i32>,
    source_offset: i64,
}

impl RejectRow {
    pub fn new(
        table: &TableSpec,
        record: &BronzeRecord,
        contract: Option<&Contract>,
        violations: &[Violation],
    ) -> Self {
        let first = violations.first();
        let raw: Option<Map<String, Value>> = serde_json::from_str(&record.raw_json).ok();
        let text = |key: &str| {
            raw.as_ref()
                .and_then(|r| r.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        RejectRow {
            bronze_table: table.name.to_string(),
            event_id: text("event_id").or_else(|| text("appsflyer_id")),
            event_name: text("event_name"),
            contract_id: contract.map(|c| c.id.clone()),
            contract_version: contract.map(|c| c.version.to_string()),
            field: first.map(|v| v.field.clone()).unwrap_or_default(),
            rule: first.map(|v| v.rule.to_string()).unwrap_or_default(),
            message: first.map(|v| v.message.clone()).unwrap_or_default(),
            violations_json: serde_json::to_string(violations).unwrap_or_else(|_| "[]".into()),
            raw_json: record.raw_json.clone(),
            ingest_ts: record.ingest_ts_us,
            ingest_date: record.ingest_date,
            source: record.source.clone(),
            source_partition: record.source_partition,
            source_offset: record.source_offset,
        }
    }
}

/// The outcome of judging every row of one Bronze frame.
#[derive(Debug, Default)]
pub struct Judged {
    /// Per row: whether it goes on to Silver.
    pub passed: Vec<bool>,
    pub rejects: Vec<RejectRow>,
}

impl Judged {
    pub fn push(&mut self, table: &TableSpec, record: &BronzeRecord, verdict: Verdict<'_>) {
        self.passed.push(verdict.is_valid());
        if !verdict.is_valid() {
            self.rejects.push(RejectRow::new(
                table,
                record,
                verdict.contract,
                &verdict.violations,
            ));
        }
    }

    pub fn mask(&self) -> BooleanChunked {
        BooleanChunked::from_slice("passed".into(), &self.passed)
    }
}
