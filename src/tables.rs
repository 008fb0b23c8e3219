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

/// Silver: rows that passed their contracts, typed, deduplicated and enriched; by event date.
pub mod silver {
    use super::*;

    /// Telemetry events with consent, one row per `(player_id, event_id)`, each carrying its
    /// player's acquisition (install time, source, campaign) as of the latest run.
    pub const PLAYER_EVENTS: TableSpec = TableSpec {
        name: TableName::new(Layer::Silver, "player_events"),
        columns: &[
            C::required("event_id", String),
            C::required("player_id", String),
            C::required("game_id", String),
            C::required("event_type", String),
            C::required("event_timestamp", Timestamp),
            C::required("event_date", Date),
            C::required("session_id", String),
            // Seconds, from `game_background` (the session's length when it ends).
            C::optional("session_duration_s", Float64),
            // Level number of `level_*` events (`L-005` → 5).
            C::optional("level", Int32),
            // `iap_completed.revenue_usd` (offer_purchased repeats it and is not counted).
            C::required("iap_revenue_usd", Float64),
            // `ad_impression.revenue_usd`.
            C::required("ad_revenue_usd", Float64),
            C::required("revenue_usd", Float64),
            C::required("is_iap", Boolean),
            C::required("is_ad", Boolean),
            C::required("platform", String),
            C::required("country_code", String),
            C::required("app_version", String),
            C::required("is_minor", Boolean),
            C::required("consent_personalization", Boolean),
            // The event's own properties (not the global fields), as JSON.
            C::required("properties_json", String),
            // Acquisition: the earlier of the attributed install and the first event seen.
            C::required("install_ts", Timestamp),
            C::required("acquisition_date", Date),
            // UTC calendar days since acquisition (AppsFlyer, GameAnalytics): 0 = install day.
            C::required("day_number", Int32),
            // Whole 24-hour windows since install (Adjust, Amplitude).
            C::required("day_number_24h", Int32),
            C::required("media_source", String),
            C::optional("campaign_id", String),
            C::optional("adset_id", String),
            C::required("is_organic", Boolean),
            C::required("ingest_ts", Timestamp),
        ],
        partition_by: &["event_date", "game_id"],
        date_column: Some("event_date"),
        // event_date and game_id follow from the event, so they add nothing to identity; in
        // the key they let MERGE prune to the partitions a batch touches.
        key: &["event_date", "game_id", "player_id", "event_id"],
    };

    /// One row per player and game: what every event of the player is enriched with.
    pub const PLAYERS: TableSpec = TableSpec {
        name: TableName::new(Layer::Silver, "players"),
        columns: &[
            C::required("player_id", String),
            C::required("game_id", String),
            // The player's first event, and its platform and country (the organic default).
            C::required("first_seen_ts", Timestamp),
            C::required("first_platform", String),
            C::required("first_country_code", String),
            C::required("install_ts", Timestamp),
            C::required("acquisition_date", Date),
            C::optional("install_id", String),
            C::required("media_source", String),
            C::optional("campaign_id", String),
            C::optional("adset_id", String),
            C::required("is_organic", Boolean),
            C::optional("install_cost_usd", Float64),
            C::required("platform", String),
            C::required("country_code", String),
            C::required("is_minor", Boolean),
        ],
        partition_by: &[],
        date_column: None,
        key: &["game_id", "player_id"],
    };

    /// AppsFlyer installs, one per install id (Push and Pull report the same install).
    pub const ATTRIBUTION_INSTALLS: TableSpec = TableSpec {
        name: TableName::new(Layer::Silver, "attribution_installs"),
        columns: &[
            C::required("install_id", String),
            C::required("player_id", String),
            C::required("game_id", String),
            C::required("app_id", String),
            C::required("media_source", String),
            C::optional("campaign_id", String),
            C::optional("campaign_name", String),
            C::optional("adset_id", String),
            C::optional("creative_id", String),
            C::required("platform", String),
            C::required("country_code", String),
            C::optional("install_cost_usd", Float64),
            C::required("install_ts", Timestamp),
            C::required("install_date", Date),
            C::required("ingest_ts", Timestamp),
        ],
        partition_by: &["install_date"],
        date_column: Some("install_date"),
        key: &["install_date", "install_id"],
    };

    /// Spend per day, campaign, country and platform, as the latest report says.
    pub const AD_SPEND_DAILY: TableSpec = TableSpec {
        name: TableName::new(Layer::Silver, "ad_spend_daily"),
        columns: &[
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
            C::required("ingest_ts", Timestamp),
        ],
        partition_by: &["spend_date"],
        date_column: Some("spend_date"),
        key: &["spend_date", "campaign_id", "country_code", "platform"],
    };

    /// The campaign list as last reported, with the days it was first and last listed.
    pub const CAMPAIGNS: TableSpec = TableSpec {
        name: TableName::new(Layer::Silver, "campaigns"),
        columns: &[
            C::required("campaign_id", String),
            C::required("campaign_name", String),
            C::required("media_source", String),
            C::required("channel", String),
            C::required("platform", String),
            C::required("daily_budget_usd", Float64),
            C::required("status", String),
            C::optional("bid_usd", Float64),
            C::required("ingest_ts", Timestamp),
        ],
        partition_by: &[],
        date_column: None,
        key: &["campaign_id"],
    };

    /// Bronze rows that broke a contract: one row per rejected row, with its first broken
    /// rule and all of them, kept by the Bronze ingest day so a rerun replaces them.
    pub const REJECTS: TableSpec = TableSpec {
        name: TableName::new(Layer::Silver, "rejects"),
        columns: &[
            C::required("bronze_table", String),
            C::optional("event_id", String),
            C::optional("event_name", String),
            C::optional("contract_id", String),
            C::optional("contract_version", String),
            C::required("field", String),
            C::required("rule", String),
            C::required("message", String),
            // Every violation of the row: [{field, rule, message}].
            C::required("violations_json", String),
            C::required("raw_json", String),
            C::required("ingest_ts", Timestamp),
            C::required("ingest_date", Date),
            C::required("source", String),
            C::optional("source_partition", Int32),
            C::required("source_offset", Int64),
        ],
        partition_by: &["ingest_date"],
        date_column: Some("ingest_date"),
        key: &[
            "ingest_date",
            "bronze_table",
            "source",
            "source_partition",
            "source_offset",
        ],
    };
}

/// Gold: the star schema, cohorts, campaign metrics and KPIs the models and the mart read.
pub mod gold {
    use super::*;

    /// One row per player and day with activity.
    pub const FACT_PLAYER_DAILY: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "fact_player_daily"),
        columns: &[
            C::required("activity_date", Date),
            C::required("game_id", String),
            C::required("player_id", String),
            C::required("acquisition_date", Date),
            C::required("day_number", Int32),
            C::required("media_source", String),
            C::optional("campaign_id", String),
            C::required("platform", String),
            C::required("country_code", String),
            C::required("is_minor", Boolean),
            C::required("sessions", Int64),
            C::required("minutes_played", Float64),
            C::required("iap_revenue", Float64),
            C::required("ad_revenue", Float64),
            C::required("total_revenue", Float64),
            C::required("iap_purchases", Int64),
            C::required("ad_impressions", Int64),
            // Distinct levels completed that day.
            C::required("levels_gained", Int64),
            // Fired a session-start event (game_launched, game_foreground, daily_login).
            C::required("is_active", Boolean),
            // Revenue from install through this day.
            C::required("actual_ltv_to_date", Float64),
        ],
        partition_by: &["activity_date"],
        date_column: Some("activity_date"),
        key: &["activity_date", "game_id", "player_id"],
    };

    /// Per install cohort and day N: retention both ways and cumulative revenue per install.
    pub const LTV_COHORTS: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "ltv_cohorts"),
        columns: &[
            C::required("cohort_date", Date),
            C::required("game_id", String),
            C::required("day_n", Int32),
            C::required("installs", Int64),
            // Active on UTC calendar day N after the install day (AppsFlyer, GameAnalytics).
            C::required("retained_calendar", Int64),
            C::required("retention_calendar", Float64),
            // Active in the N-th 24-hour window after install (Adjust, Amplitude).
            C::required("retained_24h", Int64),
            C::required("retention_24h", Float64),
            C::required("cumulative_revenue", Float64),
            C::required("revenue_per_install", Float64),
            C::required("payers_to_date", Int64),
            // Day N is complete in the data: the cohort has had N whole days.
            C::required("is_mature", Boolean),
        ],
        partition_by: &["cohort_date"],
        date_column: Some("cohort_date"),
        key: &["cohort_date", "game_id", "day_n"],
    };

    /// Per campaign and install day: spend, installs and the revenue curve of those installs.
    pub const CAMPAIGN_DAILY: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "campaign_daily"),
        columns: &[
            C::required("install_date", Date),
            C::required("game_id", String),
            C::required("campaign_id", String),
            C::required("media_source", String),
            C::required("spend_usd", Float64),
            // Installs attributed by AppsFlyer; the network's own count is beside it.
            C::required("installs", Int64),
            C::required("network_installs", Int64),
            C::optional("cpi_usd", Float64),
            C::required("revenue_d0", Float64),
            C::required("revenue_d1", Float64),
            C::required("revenue_d3", Float64),
            C::required("revenue_d7", Float64),
            C::required("revenue_d14", Float64),
            C::required("revenue_d30", Float64),
            C::optional("roas_d0", Float64),
            C::optional("roas_d1", Float64),
            C::optional("roas_d3", Float64),
            C::optional("roas_d7", Float64),
            C::optional("roas_d14", Float64),
            C::optional("roas_d30", Float64),
            // First day N whose cumulative revenue covers the spend; null until it does.
            C::optional("payback_day", Int32),
            // Days of data the cohort has had (revenue_dN beyond it is still growing).
            C::required("days_observed", Int32),
        ],
        partition_by: &["install_date"],
        date_column: Some("install_date"),
        key: &["install_date", "game_id", "campaign_id"],
    };

    /// One row per player of an install cohort: the early signals pLTV learns from and the
    /// revenue actually earned by D30/D90/D180 (the labels), followed to the horizon. The
    /// mart's `player_analytics_daily` is this row with its dimensions and predictions.
    pub const PLAYER_LIFECYCLE: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "player_lifecycle"),
        columns: &[
            C::required("acquisition_date", Date),
            C::required("game_id", String),
            C::required("player_id", String),
            C::required("install_ts", Timestamp),
            C::required("media_source", String),
            C::optional("campaign_id", String),
            C::optional("adset_id", String),
            C::required("platform", String),
            C::required("country_code", String),
            C::required("is_minor", Boolean),
            C::optional("install_cost_usd", Float64),
            C::required("d0_sessions", Int64),
            C::required("d0_minutes_played", Float64),
            C::required("d0_iap_revenue", Float64),
            C::required("d0_ad_revenue", Float64),
            // Active (a session start) on UTC calendar day N after the install day.
            C::required("d1_retained", Boolean),
            C::required("d3_retained", Boolean),
            C::required("d7_retained", Boolean),
            // Revenue from install through day N; still growing while days_observed < N.
            C::required("d7_iap_revenue", Float64),
            C::required("d7_total_revenue", Float64),
            C::required("revenue_d30", Float64),
            C::required("revenue_d90", Float64),
            C::required("revenue_d180", Float64),
            // Made an in-app purchase within the horizon so far.
            C::required("is_payer", Boolean),
            // Whole days of data after the install day, capped at the horizon.
            C::required("days_observed", Int32),
        ],
        partition_by: &["acquisition_date"],
        date_column: Some("acquisition_date"),
        key: &["acquisition_date", "game_id", "player_id"],
    };

    /// The design's KPIs per game and day, where the data supports them.
    pub const KPI_DAILY: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "kpi_daily"),
        columns: &[
            C::required("activity_date", Date),
            C::required("game_id", String),
            C::required("dau", Int64),
            C::required("installs", Int64),
            C::optional("d1_retention", Float64),
            C::optional("d7_retention", Float64),
            C::optional("d30_retention", Float64),
            C::optional("tutorial_completion_rate", Float64),
            C::optional("level_1_5_completion_rate", Float64),
            C::optional("core_loop_stickiness", Float64),
            C::required("revenue_usd", Float64),
            C::optional("arpdau", Float64),
            C::optional("arppu", Float64),
            C::optional("iap_conversion", Float64),
            C::optional("whale_revenue_share", Float64),
            C::optional("offer_conversion_rate", Float64),
            C::optional("rewarded_ecpm", Float64),
            C::optional("ad_view_through_rate", Float64),
            C::optional("crash_free_sessions", Float64),
            C::optional("personalization_opt_in", Float64),
            C::optional("golden_event_completeness", Float64),
            C::optional("freshness_p99_seconds", Float64),
        ],
        partition_by: &["activity_date"],
        date_column: Some("activity_date"),
        key: &["activity_date", "game_id"],
    };

    pub const DIM_DATE: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "dim_date"),
        columns: &[
            C::required("date_sk", Int32),
            C::required("calendar_date", Date),
            C::required("year", Int32),
            C::required("month", Int32),
            C::required("day_of_week", Int32),
            C::required("is_weekend", Boolean),
        ],
        partition_by: &[],
        date_column: Some("calendar_date"),
        key: &["date_sk"],
    };

    pub const DIM_PLAYER: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "dim_player"),
        columns: &[
            C::required("game_id", String),
            C::required("player_id", String),
            C::required("acquisition_date", Date),
            C::required("acquisition_channel", String),
            C::optional("campaign_id", String),
            C::required("country_code", String),
            C::required("platform", String),
            C::required("is_minor", Boolean),
            C::required("lifetime_revenue", Float64),
            // Top 1% of the game's players by lifetime revenue; never a minor.
            C::required("is_whale", Boolean),
            C::required("first_seen_ts", Timestamp),
            C::optional("last_active_date", Date),
        ],
        partition_by: &[],
        date_column: None,
        key: &["game_id", "player_id"],
    };

    pub const DIM_CAMPAIGN: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "dim_campaign"),
        columns: &[
            C::required("campaign_id", String),
            C::optional("game_id", String),
            C::optional("campaign_name", String),
            C::required("ad_network", String),
            C::optional("channel", String),
            C::optional("platform", String),
            C::optional("status", String),
            C::optional("daily_budget_usd", Float64),
            C::optional("start_date", Date),
            C::optional("end_date", Date),
        ],
        partition_by: &[],
        date_column: None,
        key: &["campaign_id"],
    };

    /// The pLTV model registry: every model train-ltv fitted, with what it saw and how it did.
    /// A version is one training run (as-of day and seed); its models are promoted together
    /// when each beat the heuristic on the holdout.
    pub const LTV_MODELS: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "ltv_models"),
        columns: &[
            C::required("model_version", String),
            // ltv_d7, ltv_d30, ltv_d180 or churn_d7.
            C::required("target", String),
            // The model sees a player's days 0..=N after install.
            C::required("observation_days", Int32),
            C::required("as_of", Date),
            // xgboost (booster_json) or cohort_curve (the D30 model times multiplier).
            C::required("method", String),
            C::optional("booster_json", String),
            C::optional("multiplier", Float64),
            // JSON: feature names, categorical vocabulary, training settings.
            C::required("features_json", String),
            C::required("settings_json", String),
            C::required("training_players", Int64),
            C::required("holdout_players", Int64),
            C::optional("first_cohort", Date),
            C::optional("last_cohort", Date),
            // JSON: the evaluation on the holdout, model and heuristic side by side.
            C::required("metrics_json", String),
            C::required("promoted", Boolean),
        ],
        partition_by: &[],
        date_column: None,
        key: &["model_version", "target", "observation_days"],
    };

    /// What score-ltv predicted for each player in their first 180 days, per scoring day.
    pub const PLAYER_LTV_SCORES: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "player_ltv_scores"),
        columns: &[
            C::required("score_date", Date),
            C::required("game_id", String),
            C::required("player_id", String),
            C::required("acquisition_date", Date),
            // Days from install to the scoring day.
            C::required("age_days", Int32),
            // The observation window (days 0..=N) of the D30 model that scored the player.
            C::optional("observation_days", Int32),
            // Revenue from install through day 7/30/180: the actual once the player is that
            // old, else the revenue so far plus the model's prediction of the rest. Null when
            // no promoted model covers the player yet.
            C::optional("predicted_ltv_d7", Float64),
            C::optional("predicted_ltv_d30", Float64),
            C::optional("predicted_ltv_d180", Float64),
            // 0-1: the share of the 30 days already observed, the rest weighted by the D30
            // model's holdout accuracy (1 - decile MAPE).
            C::optional("ltv_confidence", Float64),
            // Probability of no session in the next 7 days.
            C::optional("churn_risk", Float64),
            C::optional("predicted_churn_d7", Boolean),
            // Top 1% of the game's scored players by predicted D180 LTV; never a minor.
            C::required("is_whale", Boolean),
            C::required("model_version", String),
        ],
        partition_by: &["score_date"],
        date_column: Some("score_date"),
        key: &["score_date", "game_id", "player_id"],
    };

    /// The optimizer's action ledger: one row per campaign segment and decision day, with the
    /// figures it was judged on, what was decided, and what the ad platform answered. The key
    /// is the idempotency key, so a rerun of the day updates its proposals and never records
    /// (or sends) an action twice.
    pub const CAMPAIGN_ACTIONS: TableSpec = TableSpec {
        name: TableName::new(Layer::Gold, "campaign_actions"),
        columns: &[
            C::required("decided_on", Date),
            // Hash of the decision day and the segment.
            C::required("idempotency_key", String),
            C::required("run_id", String),
            C::required("game_id", String),
            // meta, google, tiktok, ironsource; other networks by their AppsFlyer id.
            C::required("platform", String),
            C::required("media_source", String),
            C::required("campaign_id", String),
            C::optional("campaign_name", String),
            C::required("country_code", String),
            C::required("device_platform", String),
            // What the platform's API acts on: the campaign, or campaign:country:platform for
            // one segment of a campaign that spans several (applied by hand).
            C::required("object_id", String),
            // scale, watch or pause: the rules' verdict.
            C::required("recommendation", String),
            // pause, scale_budget, set_bid or keep.
            C::required("action", String),
            C::optional("old_value", String),
            C::optional("new_value", String),
            C::required("reason", String),
            C::required("spend_usd", Float64),
            C::required("installs", Int64),
            C::optional("cpi_usd", Float64),
            C::optional("predicted_roas_d30", Float64),
            C::optional("predicted_roas_d30_low", Float64),
            C::optional("predicted_roas_d30_high", Float64),
            C::optional("predicted_roas_d180", Float64),
            C::optional("actual_roas_to_date", Float64),
            C::optional("payback_days", Int32),
            // proposed (not sent), applying (sent, answer not recorded yet), applied, failed,
            // deferred (a platform limit; a later run sends it), manual (no API for it),
            // no_change.
            C::required("status", String),
            C::optional("response", String),
            C::required("attempts", Int32),
            C::required("updated_at", Timestamp),
        ],
        partition_by: &["decided_on"],
        date_column: Some("decided_on"),
        key: &["decided_on", "idempotency_key"],
    };
}

/// Every table of the lake, for the jobs that act on all of them (erasure, maintenance).
pub const CATALOG: [TableSpec; 22] = [
    bronze::GAME_EVENTS,
    bronze::ATTRIBUTION,
    bronze::AD_SPEND,
    bronze::CAMPAIGNS,
    bronze::QUARANTINE,
    silver::PLAYER_EVENTS,
    silver::PLAYERS,
    silver::ATTRIBUTION_INSTALLS,
    silver::AD_SPEND_DAILY,
    silver::CAMPAIGNS,
    silver::REJECTS,
    gold::FACT_PLAYER_DAILY,
    gold::LTV_COHORTS,
    gold::PLAYER_LIFECYCLE,
    gold::CAMPAIGN_DAILY,
    gold::KPI_DAILY,
    gold::DIM_DATE,
    gold::DIM_PLAYER,
    gold::DIM_CAMPAIGN,
    gold::LTV_MODELS,
    gold::PLAYER_LTV_SCORES,
    gold::CAMPAIGN_ACTIONS,
];

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
    use super::CATALOG;

    #[test]
    fn the_catalog_names_each_table_once() {
        let mut names: Vec<String> = CATALOG.iter().map(|spec| spec.name.to_string()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
    }

    #[test]
    fn partition_and_key_columns_exist_in_every_table() {
        for spec in CATALOG {
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
