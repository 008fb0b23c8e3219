//! Every environment variable the binaries read, named once.
//!
//! Secrets (database URL, ad-platform tokens, the PII hashing key) are read from here and
//! never logged; flags that mirror a variable say so in `--help`.

/// Root of the lake, same as `--lake`.
pub const LAKE_URI: &str = "LAKE_URI";
/// Identifier of the run (Airflow's `run_id`), same as `--run-id`.
pub const RUN_ID: &str = "RUN_ID";
/// Prometheus textfile to write at the end of a run, same as `--metrics-file`.
pub const METRICS_FILE: &str = "METRICS_FILE";
/// Prometheus Pushgateway base URL (`http://host:9091`); metrics are pushed there when set.
pub const PUSHGATEWAY_URL: &str = "PUSHGATEWAY_URL";
/// `text` or `json`, same as `--log-format`.
pub const LOG_FORMAT: &str = "LOG_FORMAT";
/// tracing filter directives, e.g. `info,ltv_lakehouse=debug`.
pub const LOG_FILTER: &str = "LTV_LOG";

/// Object-store endpoint override for `s3://` lakes (MinIO, moto). The other usual `AWS_*`
/// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`,
/// `AWS_CONDITIONAL_PUT`) are read by the object store itself.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Folder of the data contracts, same as `--contracts`.
pub const CONTRACTS_DIR: &str = "CONTRACTS_DIR";

/// Kafka bootstrap servers, same as `--brokers`.
pub const KAFKA_BROKERS: &str = "KAFKA_BROKERS";

/// The studio's games and app ids, same as `--studio-config`.
pub const STUDIO_CONFIG: &str = "STUDIO_CONFIG";

/// PostgreSQL URL of the mart (`postgres://user:password@host:5432/db`), same as
/// `--database-url`. A secret: never logged, and hidden in `--help`.
pub const DATABASE_URL: &str = "DATABASE_URL";

/// Slack incoming-webhook URL for the optimizer's alerts. A secret: never logged.
pub const SLACK_WEBHOOK_URL: &str = "SLACK_WEBHOOK_URL";

/// Ad-platform APIs of `optimize-campaigns --apply`: base URLs (defaults are the real APIs;
/// tests point them at local servers) and credentials. Tokens are secrets: never logged.
pub const META_API_URL: &str = "META_API_URL";
pub const META_ACCESS_TOKEN: &str = "META_ACCESS_TOKEN";
pub const GOOGLE_ADS_API_URL: &str = "GOOGLE_ADS_API_URL";
pub const GOOGLE_ADS_ACCESS_TOKEN: &str = "GOOGLE_ADS_ACCESS_TOKEN";
pub const GOOGLE_ADS_DEVELOPER_TOKEN: &str = "GOOGLE_ADS_DEVELOPER_TOKEN";
pub const GOOGLE_ADS_CUSTOMER_ID: &str = "GOOGLE_ADS_CUSTOMER_ID";
pub const TIKTOK_API_URL: &str = "TIKTOK_API_URL";
pub const TIKTOK_ACCESS_TOKEN: &str = "TIKTOK_ACCESS_TOKEN";
pub const TIKTOK_ADVERTISER_ID: &str = "TIKTOK_ADVERTISER_ID";
pub const IRONSOURCE_API_URL: &str = "IRONSOURCE_API_URL";
pub const IRONSOURCE_API_TOKEN: &str = "IRONSOURCE_API_TOKEN";
