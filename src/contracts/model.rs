//! The YAML form of a data contract, as authors write it (the design's template).

use chrono::NaiveDate;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContractKind {
    /// One telemetry event (`event_name`), for one game or all (`game_title: "*"`).
    #[default]
    Event,
    /// The fields every telemetry event carries.
    Global,
    /// A non-telemetry input: attribution, ad spend, campaigns.
    Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Active,
    Deprecated,
    /// Disabled: its events are rejected.
    Tombstone,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContractDoc {
    pub contract_id: String,
    #[serde(default)]
    pub kind: ContractKind,
    pub event_name: Option<String>,
    pub game_title: Option<String>,
    pub source: Option<String>,
    #[serde(default)]
    pub golden: bool,
    pub version: String,
    #[serde(default)]
    pub status: Status,
    pub deprecation_date: Option<NaiveDate>,
    #[serde(default)]
    pub fields: Vec<FieldDoc>,
    pub sla: Option<SlaDoc>,
    #[serde(default)]
    pub change_history: Vec<ChangeDoc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    pub pattern: Option<String>,
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<serde_yaml_ng::Value>>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    #[serde(default)]
    pub pii: bool,
    /// Members of an `object` field.
    pub fields: Option<Vec<FieldDoc>>,
    /// The column name of the field in a CSV form of the source (AppsFlyer Pull reports).
    pub csv_column: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SlaDoc {
    pub uptime: Option<String>,
    pub freshness_seconds: Option<u64>,
    pub completeness_threshold: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChangeDoc {
    pub version: String,
    pub date: NaiveDate,
    pub change: String,
}
