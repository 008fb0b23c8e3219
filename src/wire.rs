//! The wire formats the lakehouse accepts, as Rust types: telemetry events, AppsFlyer installs
//! (Pull API v5 CSV and Push API v2 JSON), daily ad spend and the campaign list.
//!
//! The generator writes these and the ingest reads them, so both sides share one definition.
//! Field-level rules (required, ranges, enums) live in `contracts/`, not here.

use serde::{Deserialize, Serialize};

/// One telemetry event: the core global fields, the context objects, and the event's own
/// properties at top level (flattened into `properties`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryEvent {
    pub event_id: String,
    pub eternal_player_id: String,
    pub anonymous_id: String,
    pub event_name: String,
    /// Server time, Unix milliseconds UTC.
    pub event_timestamp: i64,
    pub game_title: String,
    pub platform: String,
    pub country_code: String,
    pub session_id: String,
    pub app_version: String,
    pub is_minor: bool,
    pub consent_analytics: bool,
    pub consent_personalization: bool,
    pub device: DeviceContext,
    pub network: NetworkContext,
    pub attribution: AttributionContext,
    pub consent: ConsentContext,
    #[serde(flatten)]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceContext {
    pub os_version: String,
    pub device_model: String,
    pub locale: String,
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkContext {
    pub carrier: String,
    pub connection_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionContext {
    pub campaign_source: String,
    pub install_referrer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentContext {
    pub analytics_consent: bool,
    pub personalization_consent: bool,
    /// When consent was last given or changed, Unix milliseconds UTC.
    pub consent_timestamp: i64,
}

/// AppsFlyer timestamps: `YYYY-MM-DD HH:MM:SS` in UTC (Pull API reports).
pub const APPSFLYER_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// AppsFlyer Push API timestamps carry milliseconds.
pub const APPSFLYER_PUSH_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// One row of the AppsFlyer Pull API v5 installs report (CSV, Title Case header). The report
/// has more columns than these; readers match columns by name, ignore the rest, and read a
/// missing column as empty (which contracts may then reject).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppsFlyerInstallRow {
    #[serde(rename = "Attributed Touch Type")]
    pub attributed_touch_type: String,
    #[serde(rename = "Attributed Touch Time")]
    pub attributed_touch_time: String,
    #[serde(rename = "Install Time")]
    pub install_time: String,
    #[serde(rename = "Event Time")]
    pub event_time: String,
    #[serde(rename = "Event Name")]
    pub event_name: String,
    #[serde(rename = "Partner")]
    pub partner: String,
    #[serde(rename = "Media Source")]
    pub media_source: String,
    #[serde(rename = "Channel")]
    pub channel: String,
    #[serde(rename = "Campaign")]
    pub campaign: String,
    #[serde(rename = "Campaign ID")]
    pub campaign_id: String,
    #[serde(rename = "Adset")]
    pub adset: String,
    #[serde(rename = "Adset ID")]
    pub adset_id: String,
    #[serde(rename = "Ad")]
    pub ad: String,
    #[serde(rename = "Ad ID")]
    pub ad_id: String,
    #[serde(rename = "Cost Model")]
    pub cost_model: String,
    #[serde(rename = "Cost Value")]
    pub cost_value: String,
    #[serde(rename = "Cost Currency")]
    pub cost_currency: String,
    #[serde(rename = "Region")]
    pub region: String,
    #[serde(rename = "Country Code")]
    pub country_code: String,
    #[serde(rename = "Language")]
    pub language: String,
    #[serde(rename = "AppsFlyer ID")]
    pub appsflyer_id: String,
    #[serde(rename = "Customer User ID")]
    pub customer_user_id: String,
    #[serde(rename = "Platform")]
    pub platform: String,
    #[serde(rename = "Device Type")]
    pub device_type: String,
    #[serde(rename = "OS Version")]
    pub os_version: String,
    #[serde(rename = "App Version")]
    pub app_version: String,
    #[serde(rename = "App ID")]
    pub app_id: String,
    #[serde(rename = "App Name")]
    pub app_name: String,
    #[serde(rename = "Is Retargeting")]
    pub is_retargeting: String,
    #[serde(rename = "Is Primary Attribution")]
    pub is_primary_attribution: String,
}

/// One AppsFlyer Push API v2 install message (JSON, snake_case). Messages vary by partner and
/// app settings, so a missing field reads as empty; the contract decides what is required.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppsFlyerPushInstall {
    pub event_name: String,
    pub appsflyer_id: String,
    pub customer_user_id: String,
    pub install_time: String,
    pub event_time: String,
    pub attributed_touch_type: String,
    pub attributed_touch_time: String,
    pub media_source: String,
    pub af_channel: String,
    pub campaign: String,
    pub af_c_id: String,
    pub af_adset: String,
    pub af_adset_id: String,
    pub af_ad: String,
    pub af_ad_id: String,
    pub af_cost_model: String,
    pub af_cost_value: Option<f64>,
    pub af_cost_currency: String,
    pub country_code: String,
    pub platform: String,
    pub device_model: String,
    pub os_version: String,
    pub app_version: String,
    pub app_id: String,
    pub app_name: String,
    pub is_retargeting: bool,
    pub is_primary_attribution: bool,
}

/// One row of the daily ad-spend CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdSpendRow {
    pub date: String,
    pub media_source: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub country_code: String,
    pub platform: String,
    pub spend_usd: f64,
    pub installs: u64,
    pub impressions: u64,
    pub clicks: u64,
}

/// One row of the campaigns CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub campaign_id: String,
    pub campaign_name: String,
    pub media_source: String,
    pub channel: String,
    pub platform: String,
    pub daily_budget_usd: f64,
    pub status: String,
    pub bid_usd: f64,
}
