//! Logs, progress bars and Prometheus metrics: how a run tells the world what it did.
//!
//! Logs go to stderr (JSON when stderr is not a terminal, so Airflow and log shippers get one
//! object per line); stdout carries only the run summary. Metric names follow
//! `ltv_<name>_<unit>` with the job as their one label, and `ltv_job_last_success_timestamp_seconds`
//! is the Prometheus batch-job pattern for "has this job succeeded recently?".

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;
use crate::env;

/// Installs the global tracing subscriber; `format` defaults to JSON off a terminal.
pub fn init_logging(format: Option<LogFormat>) {
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let filter =
        // Our own events at info; libraries (delta-rs, DataFusion, object_store) when they warn.
        // The Delta kernel logs an ERROR for every table that does not exist yet, which is how
        // each first run starts; its real failures reach us as errors and are logged with context.
        EnvFilter::try_from_env(env::LOG_FILTER)
            .unwrap_or_else(|_| EnvFilter::new("warn,ltv_lakehouse=info,buoyant_kernel=off,deltalake_core::operations::merge=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling a job twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A progress bar on a terminal, an invisible one elsewhere.
pub fn progress_bar(len: u64, message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg:24} [{bar:32}] {pos}/{len} {per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The figures of one run that become metrics.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_quarantined: u64,
    pub duration: Duration,
    pub succeeded: bool,
    /// Wall-clock time the run ended, as Unix seconds.
    pub finished_at_unix: f64,
    /// Seconds between the newest event seen and the end of the run, when the job knows it.
    pub newest_event_lag_seconds: Option<f64>,
    /// Share of sessions with each golden event, by event name.
    pub golden_event_completeness: std::collections::BTreeMap<String, f64>,
}

type JobLabel = Vec<(String, String)>;

/// Prometheus text exposition of a run's figures.
pub fn render_metrics(job: &str, figures: &RunFigures) -> String {
    let label: JobLabel = vec![("job_name".to_string(), job.to_string())];
    let mut registry = Registry::with_prefix("ltv");

    let counter = |registry: &mut Registry, name: &str, help: &str, value: u64| {
        let family = Family::<JobLabel, Counter>::default();
        family.get_or_create(&label).inc_by(value);
        registry.register(name, help, family);
    };
    counter(
        &mut registry,
        "job_rows_in",
        "Rows read by the run",
        figures.rows_in,
    );
    counter(
        &mut registry,
        "job_rows_out",
        "Rows written by the run",
        figures.rows_out,
    );
    counter(
        &mut registry,
        "job_rows_quarantined",
        "Rows the run sent to quarantine",
        figures.rows_quarantined,
    );

    let gauge = |registry: &mut Registry, name: &str, help: &str, value: f64| {
        let family = Family::<JobLabel, Gauge<f64, AtomicU64>>::default();
        family.get_or_create(&label).set(value);
        registry.register(name, help, family);
    };
    gauge(
        &mut registry,
        "job_duration_seconds",
        "Wall time of the run",
        figures.duration.as_secs_f64(),
    );
    gauge(
        &mut registry,
        "job_success",
        "1 when the last run succeeded, 0 when it failed",
        if figures.succeeded { 1.0 } else { 0.0 },
    );
    if figures.succeeded {
        gauge(
            &mut registry,
            "job_last_success_timestamp_seconds",
            "Unix time the job last succeeded",
            figures.finished_at_unix,
        );
    }
    if let Some(lag) = figures.newest_event_lag_seconds {
        gauge(
            &mut registry,
            "job_newest_event_lag_seconds",
            "Seconds from the newest event processed to the end of the run",
            lag,
        );
    }
    if !figures.golden_event_completeness.is_empty() {
        let family = Family::<JobLabel, Gauge<f64, AtomicU64>>::default();
        for (event, share) in &figures.golden_event_completeness {
            let mut labels = label.clone();
            labels.push(("event_name".to_string(), event.clone()));
            family.get_or_create(&labels).set(*share);
        }
        registry.register(
            "golden_event_completeness",
            "Share of sessions that fired the golden event, in the validated range",
            family,
        );
    }

    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

/// Writes the metrics textfile atomically (a collector never reads half a file).
pub fn write_metrics_file(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("prom.tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// Pushes the metrics to a Pushgateway, replacing the job's previous group.
pub async fn push_metrics(gateway: &str, job: &str, text: String) -> Result<(), reqwest::Error> {
    let url = format!("{}/metrics/job/{job}", gateway.trim_end_matches('/'));
    reqwest::Client::new()
        .put(url)
        .header("content-type", "text/plain; version=0.0.4")
        .body(text)
        .timeout(Duration::from_secs(10))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_carry_the_run_figures() {
        let figures = RunFigures {
            rows_in: 10,
            rows_out: 7,
            rows_quarantined: 3,
            duration: Duration::from_millis(1500),
            succeeded: true,
            finished_at_unix: 1_767_225_600.0,
            newest_event_lag_seconds: None,
            ..RunFigures::default()
        };
        let text = render_metrics("bronze-to-silver", &figures);
        assert!(
            text.contains("ltv_job_rows_in_total{job_name=\"bronze-to-silver\"} 10"),
            "{text}"
        );
        assert!(text.contains("ltv_job_rows_quarantined_total{job_name=\"bronze-to-silver\"} 3"));
        assert!(text.contains("ltv_job_duration_seconds{job_name=\"bronze-to-silver\"} 1.5"));
        assert!(text.contains("ltv_job_last_success_timestamp_seconds"));
        assert!(!text.contains("newest_event_lag"));
    }

    #[test]
    fn golden_event_completeness_is_a_gauge_per_event() {
        let figures = RunFigures {
            succeeded: true,
            golden_event_completeness: [("tutorial_complete".to_string(), 0.625)].into(),
            ..RunFigures::default()
        };
        let text = render_metrics("check-contracts", &figures);
        assert!(
            text.contains(
                "ltv_golden_event_completeness{job_name=\"check-contracts\",event_name=\"tutorial_complete\"} 0.625"
            ),
            "{text}"
        );
    }

    /// Every metric the alerting rules of `monitoring/alerts.yml` use is one a run writes.
    #[test]
    fn alert_rules_name_metrics_that_exist() {
        let rules: serde_json::Value =
            serde_yaml_ng::from_str(include_str!("../monitoring/alerts.yml")).unwrap();
        let figures = RunFigures {
            succeeded: true,
            newest_event_lag_seconds: Some(1.0),
            golden_event_completeness: [("level_complete".to_string(), 1.0)].into(),
            ..RunFigures::default()
        };
        let text = render_metrics("ingest-drain", &figures);
        let pattern = regex::Regex::new(r"ltv_[a-z_]+").unwrap();
        let mut names = 0;
        for rule in rules["groups"][0]["rules"].as_array().unwrap() {
            let expr = rule["expr"].as_str().unwrap();
            for name in pattern.find_iter(expr) {
                names += 1;
                assert!(
                    text.contains(&format!("\n{} ", name.as_str()))
                        || text.contains(&format!("\n{}{{", name.as_str())),
                    "{} in alert {} is not a metric:\n{text}",
                    name.as_str(),
                    rule["alert"]
                );
            }
        }
        assert!(names >= 5);
    }

    #[test]
    fn a_failed_run_does_not_move_last_success() {
        let figures = RunFigures::default();
        let text = render_metrics("load-mart", &figures);
        assert!(
            text.contains("ltv_job_success{job_name=\"load-mart\"} 0"),
            "{text}"
        );
        assert!(!text.contains("last_success"));
    }
}
