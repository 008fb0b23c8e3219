//! The verdicts on a Bronze frame: what passes goes on to Silver, what fails becomes a
//! `silver.rejects` row with every rule it broke.

use polars::prelude::{BooleanChunked, NewChunkedArray};
use serde::Serialize;

pub use crate::contracts::judge::{BronzeRecord, records};
use crate::contracts::{Contract, Json, Verdict, Violation};
use crate::lake::TableSpec;

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
        let raw = record.object().ok();
        let text = |key: &str| {
            raw.as_ref()
                .and_then(|r| r.get(key))
                .and_then(Json::as_str)
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
            raw_json: record.raw_json.to_owned(),
            ingest_ts: record.ingest_ts_us,
            ingest_date: record.ingest_date,
            source: record.source.to_owned(),
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
