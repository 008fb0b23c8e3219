//! `check-contracts validate`: every contract rule over the Bronze rows of a date range, with
//! the health figures a data contract promises (volume, null rate, freshness, golden-event
//! completeness), as a table, JSON or JUnit.
//!
//! The verdicts are the ones `bronze-to-silver` enforces (`contracts::judge`); this job only
//! counts them, so a report and the rejects it predicts never disagree.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use chrono::Duration;
use clap::{Args, ValueEnum};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::cli::BatchArgs;
use crate::contracts::judge::{
    AD_SPEND_SOURCE, BronzeRecord, CAMPAIGN_SOURCE, INSTALL_SOURCE, judge_event, judge_source,
    records,
};
use crate::contracts::{
    Contract, ContractSet, FieldRule, Json, JsonObject, Rule, Verdict, Violation,
};
use crate::date_range::DateRange;
use crate::lake::{Lake, TableSpec};
use crate::run::{FailedRun, JobContext, JobReport};
use crate::tables::bronze;

/// Failing rows kept as evidence per contract and rule.
const SAMPLES: usize = 5;
/// Days of history the volume check compares with.
const VOLUME_HISTORY_DAYS: i64 = 7;
/// A day's volume outside this ratio of the trailing median is flagged.
const VOLUME_BAND: (f64, f64) = (0.5, 2.0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text for a person at a terminal
    Table,
    /// One JSON document, for Airflow and scripts
    Json,
    /// JUnit XML: one test case per contract, for CI
    Junit,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateOptions {
    /// Report format; a table on a terminal, JSON otherwise
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,

    /// Write the report to this file instead of standard error
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Fail (exit 1) when a contract's share of failing rows is above this percentage
    #[arg(long, value_name = "PERCENT", default_value_t = 0.0)]
    pub max_failure_pct: f64,

    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    range: String,
    rows_checked: u64,
    rows_failing: u64,
    contracts: Vec<ContractCheck>,
    volume: Vec<VolumeCheck>,
    golden_completeness: Vec<GoldenCheck>,
    failed_contracts: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
struct ContractCheck {
    contract_id: String,
    version: String,
    rows_checked: u64,
    rows_failing: u64,
    failing_pct: f64,
    rules: Vec<RuleCheck>,
    /// Share of rows without the field, for fields that are ever missing.
    null_rates: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    freshness: Option<Freshness>,
}

#[derive(Debug, Default, Serialize)]
struct RuleCheck {
    field: String,
    rule: String,
    rows_failing: u64,
    failing_pct: f64,
    samples: Vec<Sample>,
}

#[derive(Debug, Clone, Serialize)]
struct Sample {
    /// The event or install id, else where the row came from.
    row: String,
    message: String,
}

#[derive(Debug, Serialize)]
struct Freshness {
    /// 99th percentile of receipt time minus event time.
    p99_lag_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sla_seconds: Option<u64>,
    breached: bool,
}

#[derive(Debug, Serialize)]
struct VolumeCheck {
    event_name: String,
    rows: u64,
    trailing_median: f64,
    ratio: f64,
    anomaly: bool,
}

#[derive(Debug, Serialize)]
struct GoldenCheck {
    event_name: String,
    sessions_with_event: u64,
    sessions: u64,
    share: f64,
}

/// Rows checked and failing, each row once whichever contracts judged it.
#[derive(Debug, Default)]
struct Totals {
    rows: u64,
    failing: u64,
}

impl Totals {
    fn count(&mut self, failing: bool) {
        self.rows += 1;
        self.failing += u64::from(failing);
    }

    fn absorb(&mut self, later: Totals) {
        self.rows += later.rows;
        self.failing += later.failing;
    }
}

/// Counts for one contract while rows stream by.
#[derive(Debug, Default)]
struct Tally {
    version: String,
    rows: u64,
    failing: u64,
    rules: BTreeMap<(String, String), (u64, Vec<Sample>)>,
    missing: BTreeMap<String, u64>,
    lags_ms: Vec<i64>,
    sla_seconds: Option<u64>,
}

impl Tally {
    /// Counts a row and the rules it failed; `row` names it, asked for only when the row is
    /// kept as a sample.
    fn count(
        &mut self,
        contract: Option<&Contract>,
        failures: &[&Violation],
        row: impl Fn() -> String,
    ) {
        // A tally is one contract's: its version is written once, not once per row.
        if let Some(contract) = contract
            && self.version.is_empty()
        {
            self.version = contract.version.to_string();
            self.sla_seconds = contract.freshness_seconds;
        }
        self.rows += 1;
        if !failures.is_empty() {
            self.failing += 1;
        }
        for failure in failures {
            let entry = self
                .rules
                .entry((failure.field.clone(), failure.rule.as_str().to_string()))
                .or_default();
            entry.0 += 1;
            if entry.1.len() < SAMPLES {
                entry.1.push(Sample {
                    row: row(),
                    message: failure.message.clone(),
                });
            }
        }
    }

    /// Adds the counts of rows that come after this tally's: samples stay the first failing
    /// rows, as one pass over all of them would keep.
    fn absorb(&mut self, later: Tally) {
        if self.version.is_empty() {
            self.version = later.version;
            self.sla_seconds = later.sla_seconds;
        }
        self.rows += later.rows;
        self.failing += later.failing;
        for (rule, (count, samples)) in later.rules {
            let entry = self.rules.entry(rule).or_default();
            entry.0 += count;
            let room = SAMPLES.saturating_sub(entry.1.len());
            entry.1.extend(samples.into_iter().take(room));
        }
        for (field, count) in later.missing {
            *self.missing.entry(field).or_default() += count;
        }
        self.lags_ms.extend(later.lags_ms);
    }

    fn count_missing(&mut self, fields: &[FieldRule], object: &JsonObject) {
        for field in fields {
            if object.get(&field.name).is_none_or(Json::is_null) {
                *self.missing.entry(field.name.clone()).or_default() += 1;
            }
        }
    }

    fn into_check(self, contract_id: String) -> ContractCheck {
        let rows = self.rows.max(1) as f64;
        let pct = |count: u64| 100.0 * count as f64 / rows;
        let freshness = (!self.lags_ms.is_empty()).then(|| {
            let mut lags = self.lags_ms;
            lags.sort_unstable();
            let index = ((lags.len() as f64 * 0.99).ceil() as usize).clamp(1, lags.len()) - 1;
            let p99 = lags[index] as f64 / 1000.0;
            Freshness {
                p99_lag_seconds: p99,
                sla_seconds: self.sla_seconds,
                breached: self.sla_seconds.is_some_and(|sla| p99 > sla as f64),
            }
        });
        ContractCheck {
            contract_id,
            version: self.version,
            rows_checked: self.rows,
            rows_failing: self.failing,
            failing_pct: pct(self.failing),
            rules: self
                .rules
                .into_iter()
                .map(|((field, rule), (count, samples))| RuleCheck {
                    field,
                    rule,
                    rows_failing: count,
                    failing_pct: pct(count),
                    samples,
                })
                .collect(),
            null_rates: self
                .missing
                .into_iter()
                .map(|(field, count)| (field, count as f64 / rows))
                .collect(),
            freshness,
        }
    }
}

pub async fn validate(
    context: &JobContext,
    contracts: &ContractSet,
    options: &ValidateOptions,
) -> anyhow::Result<JobReport> {
    let range = context.require_range()?;
    let lake = &context.lake;
    lake.open(&bronze::GAME_EVENTS.name).await?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();

    let mut totals = Totals::default();
    let mut sessions = SessionTally::default();
    let mut rows_by_event: BTreeMap<String, i64> = BTreeMap::new();
    let events_filter = Lake::range_filter(&bronze::GAME_EVENTS, &range)?;
    let slices = lake
        .player_slices(
            &bronze::GAME_EVENTS,
            events_filter.clone(),
            options.batch.max_batch_events,
        )
        .await?;
    for slice in &slices {
        let events = lake
            .read_slice(&bronze::GAME_EVENTS, &events_filter, slice)
            .await?;
        tally_events(&events, contracts, &mut tallies, &mut totals, &mut sessions)?;
        count_by_event(&events, &mut rows_by_event)?;
    }
    let golden = sessions.golden_checks(contracts);
    for (spec, source) in [
        (&bronze::ATTRIBUTION, INSTALL_SOURCE),
        (&bronze::AD_SPEND, AD_SPEND_SOURCE),
        (&bronze::CAMPAIGNS, CAMPAIGN_SOURCE),
    ] {
        let frame = lake
            .read_or_empty(spec, Some(Lake::range_filter(spec, &range)?))
            .await?;
        tally_source(&frame, contracts, source, &mut tallies, &mut totals)?;
    }

    let mut report = Report {
        range: range.to_string(),
        rows_checked: totals.rows,
        rows_failing: totals.failing,
        volume: volume(lake, rows_by_event, &range).await?,
        golden_completeness: golden,
        ..Report::default()
    };
    for (id, tally) in tallies {
        report.contracts.push(tally.into_check(id));
    }
    for check in &report.contracts {
        if check.failing_pct > options.max_failure_pct {
            report.failed_contracts.push(check.contract_id.clone());
        }
    }

    let format = options
        .format
        .unwrap_or(if std::io::stderr().is_terminal() {
            ReportFormat::Table
        } else {
            ReportFormat::Json
        });
    let text = match format {
        ReportFormat::Table => render_table(&report),
        ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ReportFormat::Junit => render_junit(&report, options.max_failure_pct),
    };
    match &options.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|err| anyhow::anyhow!("writing the report to {}: {err}", path.display()))?,
        None => eprint!("{text}"),
    }

    let mut job = JobReport {
        rows_in: report.rows_checked,
        ..JobReport::default()
    };
    job.rows_quarantined = report.rows_failing;
    job.golden_event_completeness = report
        .golden_completeness
        .iter()
        .map(|golden| (golden.event_name.clone(), golden.share))
        .collect();
    job.detail("contracts_checked", report.contracts.len());
    job.detail("failed_contracts", &report.failed_contracts);
    if report.failed_contracts.is_empty() {
        return Ok(job);
    }
    Err(FailedRun {
        message: format!(
            "{} contract(s) above {}% failing rows: {}",
            report.failed_contracts.len(),
            options.max_failure_pct,
            report.failed_contracts.join(", ")
        ),
        report: job,
    }
    .into())
}

/// How many sessions the events tallied so far belong to, and how many of them fired each
/// golden event. A session is one player's, so it never spans two slices of players: each
/// slice's distinct sessions are counted and the counts added.
#[derive(Debug, Default)]
struct SessionTally {
    sessions: u64,
    sessions_by_event: BTreeMap<String, u64>,
}

impl SessionTally {
    /// Each golden event's share of sessions.
    fn golden_checks(self, contracts: &ContractSet) -> Vec<GoldenCheck> {
        let total = self.sessions;
        let mut golden: Vec<GoldenCheck> = contracts
            .contracts()
            .filter(|c| c.golden)
            .filter_map(|c| match &c.key {
                crate::contracts::ContractKey::Event { event, .. } => Some(event.clone()),
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|event_name| {
                let with = self
                    .sessions_by_event
                    .get(&event_name)
                    .copied()
                    .unwrap_or(0);
                GoldenCheck {
                    share: if total == 0 {
                        0.0
                    } else {
                        with as f64 / total as f64
                    },
                    sessions_with_event: with,
                    sessions: total,
                    event_name,
                }
            })
            .collect();
        golden.sort_by(|a, b| a.event_name.cmp(&b.event_name));
        golden
    }
}

/// Counts the telemetry rows of a slice per contract, and the sessions each golden event was
/// fired in. Judging is most of the work and each row stands alone, so every core counts a run
/// of rows and the runs' counts are added in row order.
fn tally_events(
    events: &DataFrame,
    contracts: &ContractSet,
    tallies: &mut BTreeMap<String, Tally>,
    totals: &mut Totals,
    session_tally: &mut SessionTally,
) -> anyhow::Result<()> {
    let global_names: PlHashSet<&str> = contracts.global_field_names().into_iter().collect();
    let records = records(events)?;
    let slice = records
        .par_iter()
        .fold(EventCounts::default, |mut counts, record| {
            counts.count(contracts, &global_names, record);
            counts
        })
        .reduce(EventCounts::default, EventCounts::then);
    totals.absorb(slice.totals);
    for (id, tally) in slice.tallies {
        tallies.entry(id).or_default().absorb(tally);
    }
    session_tally.sessions += slice.sessions.len() as u64;
    for (event_name, sessions) in slice.sessions_by_event {
        *session_tally
            .sessions_by_event
            .entry(event_name.into_owned())
            .or_default() += sessions.len() as u64;
    }
    Ok(())
}

/// What a run of a slice's telemetry rows adds to the report. Session ids and event names
/// borrow the slice's raw JSON.
#[derive(Default)]
struct EventCounts<'a> {
    totals: Totals,
    tallies: PlHashMap<String, Tally>,
    sessions: PlHashSet<Cow<'a, str>>,
    sessions_by_event: PlHashMap<Cow<'a, str>, PlHashSet<Cow<'a, str>>>,
}

impl<'a> EventCounts<'a> {
    fn count(
        &mut self,
        contracts: &ContractSet,
        global_names: &PlHashSet<&str>,
        record: &BronzeRecord<'a>,
    ) {
        let (object, verdict) = judge_event(contracts, record);
        let row = || row_reference(object.as_ref(), record, "event_id");
        let (global_failures, event_failures): (Vec<&Violation>, Vec<&Violation>) =
            verdict.violations.iter().partition(|violation| {
                let about_the_contract =
                    matches!(violation.rule, Rule::UnknownEvent | Rule::Tombstoned);
                !about_the_contract
                    && global_names.contains(violation.field.split('.').next().unwrap_or_default())
            });
        self.totals.count(!verdict.violations.is_empty());
        if let Some(global) = contracts.global() {
            let tally = self.tally(&global.id);
            tally.count(Some(global), &global_failures, row);
            if let Some(object) = &object {
                tally.count_missing(&global.fields, object);
            }
        }
        let tally = self.tally(&contract_label(&verdict, object.as_ref()));
        tally.count(verdict.contract, &event_failures, row);
        let Some(object) = object else { return };
        if let Some(contract) = verdict.contract {
            tally.count_missing(&contract.fields, &object);
        }
        if let Some(sent) = object.get("event_timestamp").and_then(Json::as_i64) {
            tally.lags_ms.push(record.ingest_ts_us / 1000 - sent);
        }
        if let Some(session) = text_of(&object, "session_id") {
            if verdict.contract.is_some_and(|c| c.golden) {
                let name = text_of(&object, "event_name").unwrap_or_default();
                self.sessions_by_event
                    .entry(name)
                    .or_default()
                    .insert(session.clone());
            }
            self.sessions.insert(session);
        }
    }

    /// The contract's tally; its id is copied only the first time.
    fn tally(&mut self, contract_id: &str) -> &mut Tally {
        self.tallies.entry_ref(contract_id).or_default()
    }

    /// These counts followed by those of the rows after them.
    fn then(mut self, later: EventCounts<'a>) -> EventCounts<'a> {
        self.totals.absorb(later.totals);
        for (id, tally) in later.tallies {
            self.tallies.entry(id).or_default().absorb(tally);
        }
        union(&mut self.sessions, later.sessions);
        for (event_name, sessions) in later.sessions_by_event {
            union(
                self.sessions_by_event.entry(event_name).or_default(),
                sessions,
            );
        }
        self
    }
}

/// Adds `other` to `set`, moving the smaller of the two into the larger.
fn union<'a>(set: &mut PlHashSet<Cow<'a, str>>, mut other: PlHashSet<Cow<'a, str>>) {
    if other.len() > set.len() {
        std::mem::swap(set, &mut other);
    }
    set.extend(other);
}

/// A text field of a row, borrowing the row's JSON when it can.
fn text_of<'a>(object: &JsonObject<'a>, key: &str) -> Option<Cow<'a, str>> {
    match object.get(key) {
        Some(Json::Str(text)) => Some(text.clone()),
        _ => None,
    }
}

fn tally_source(
    frame: &DataFrame,
    contracts: &ContractSet,
    source: &str,
    tallies: &mut BTreeMap<String, Tally>,
    totals: &mut Totals,
) -> anyhow::Result<()> {
    for record in records(frame)? {
        let (object, verdict) = judge_source(contracts, source, &record);
        let row = || row_reference(object.as_ref(), &record, "appsflyer_id");
        let failures: Vec<&Violation> = verdict.violations.iter().collect();
        totals.count(!failures.is_empty());
        let id = verdict.contract.map_or_else(
            || format!("no contract for source {source}"),
            |c| c.id.clone(),
        );
        tallies
            .entry(id)
            .or_default()
            .count(verdict.contract, &failures, row);
    }
    Ok(())
}

/// The contract a row is reported under: its event's, or what kept it from having one.
fn contract_label<'c>(verdict: &Verdict<'c>, object: Option<&JsonObject>) -> Cow<'c, str> {
    match (verdict.contract, object) {
        (Some(contract), _) => Cow::Borrowed(&contract.id),
        (None, None) => Cow::Borrowed("(not a JSON object)"),
        (None, Some(object)) => Cow::Owned(format!(
            "(no contract: {})",
            object
                .get("event_name")
                .and_then(Json::as_str)
                .unwrap_or("no event_name")
        )),
    }
}

fn row_reference(object: Option<&JsonObject>, record: &BronzeRecord, id: &str) -> String {
    object
        .and_then(|o| o.get(id))
        .and_then(Json::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}@{}", record.source, record.source_offset))
}

/// Adds the rows of `events` per event type to `rows`.
fn count_by_event(events: &DataFrame, rows: &mut BTreeMap<String, i64>) -> PolarsResult<()> {
    let counts = events
        .clone()
        .lazy()
        .group_by([col("event_type")])
        .agg([len().cast(DataType::Int64).alias("rows")])
        .collect()?;
    let names = counts.column("event_type")?.str()?;
    let counts = counts.column("rows")?.i64()?;
    for (name, count) in names.iter().zip(counts.iter()) {
        if let (Some(name), Some(count)) = (name, count) {
            *rows.entry(name.to_owned()).or_default() += count;
        }
    }
    Ok(())
}

/// Rows per event name in the range against the median of the days before it.
async fn volume(
    lake: &Lake,
    rows_by_event: BTreeMap<String, i64>,
    range: &DateRange,
) -> anyhow::Result<Vec<VolumeCheck>> {
    let spec: &TableSpec = &bronze::GAME_EVENTS;
    let history_days = DateRange::new(
        range.first() - Duration::days(VOLUME_HISTORY_DAYS),
        range.first() - Duration::days(1),
    )?;
    // Only the two columns counted: a week of busy days would not fit in memory whole.
    let history = lake
        .read_columns(
            spec,
            &["event_type", "ingest_date"],
            Some(Lake::range_filter(spec, &history_days)?),
        )
        .await?
        .lazy()
        .group_by([col("event_type"), col("ingest_date")])
        .agg([len().cast(DataType::Int64).alias("rows")])
        .collect()?;
    let mut by_event: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let names = history.column("event_type")?.str()?;
    let counts = history.column("rows")?.i64()?;
    for (name, count) in names.iter().zip(counts.iter()) {
        if let (Some(name), Some(count)) = (name, count) {
            by_event.entry(name.to_owned()).or_default().push(count);
        }
    }
    let days_in_range = range.len_days() as f64;
    let mut checks = Vec::new();
    for (name, count) in rows_by_event {
        let Some(mut past) = by_event.remove(&name) else {
            continue;
        };
        // Days without the event count as zero.
        past.resize(VOLUME_HISTORY_DAYS as usize, 0);
        past.sort_unstable();
        let median = (past[past.len() / 2] + past[(past.len() - 1) / 2]) as f64 / 2.0;
        let per_day = count as f64 / days_in_range;
        let ratio = if median > 0.0 {
            per_day / median
        } else {
            f64::INFINITY
        };
        checks.push(VolumeCheck {
            event_name: name,
            rows: count as u64,
            trailing_median: median,
            ratio,
            anomaly: !(VOLUME_BAND.0..=VOLUME_BAND.1).contains(&ratio),
        });
    }
    Ok(checks)
}

fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "contracts over Bronze {}: {} rows checked, {} failing",
        report.range, report.rows_checked, report.rows_failing
    );
    let _ = writeln!(
        out,
        "{:<34} {:>9} {:>9} {:>8}  rule (field): failing, sample",
        "contract", "rows", "failing", "%"
    );
    for check in &report.contracts {
        let _ = writeln!(
            out,
            "{:<34} {:>9} {:>9} {:>7.3}%",
            check.contract_id, check.rows_checked, check.rows_failing, check.failing_pct
        );
        for rule in &check.rules {
            let sample = rule.samples.first().map_or("", |s| s.message.as_str());
            let _ = writeln!(
                out,
                "{:<34} {:>9} {:>9} {:>7.3}%  {} ({}): {}",
                "", "", rule.rows_failing, rule.failing_pct, rule.rule, rule.field, sample
            );
        }
        if let Some(freshness) = check.freshness.as_ref().filter(|f| f.breached) {
            let _ = writeln!(
                out,
                "{:<34} freshness p99 {:.0} s breaches the SLA of {} s",
                "",
                freshness.p99_lag_seconds,
                freshness.sla_seconds.unwrap_or_default()
            );
        }
    }
    for volume in report.volume.iter().filter(|v| v.anomaly) {
        let _ = writeln!(
            out,
            "volume: {} has {} rows, {:.2}× the trailing median of {}",
            volume.event_name, volume.rows, volume.ratio, volume.trailing_median
        );
    }
    let _ = writeln!(out, "golden events: share of sessions firing each");
    for golden in &report.golden_completeness {
        let _ = writeln!(
            out,
            "  {:<28} {:>7.2}%",
            golden.event_name,
            100.0 * golden.share
        );
    }
    out
}

fn render_junit(report: &Report, max_failure_pct: f64) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = report.failed_contracts.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"contracts {}\" tests=\"{}\" failures=\"{failures}\">",
        escape(&report.range),
        report.contracts.len()
    );
    for check in &report.contracts {
        let _ = write!(
            out,
            "  <testcase classname=\"contracts\" name=\"{}\">",
            escape(&check.contract_id)
        );
        if check.failing_pct > max_failure_pct {
            let mut detail = String::new();
            for rule in &check.rules {
                let _ = writeln!(
                    detail,
                    "{} ({}): {} rows ({:.3}%)",
                    rule.rule, rule.field, rule.rows_failing, rule.failing_pct
                );
                for sample in &rule.samples {
                    let _ = writeln!(detail, "  {}: {}", sample.row, sample.message);
                }
            }
            let _ = write!(
                out,
                "<failure message=\"{} of {} rows fail\">{}</failure>",
                check.rows_failing,
                check.rows_checked,
                escape(&detail)
            );
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::contracts::tests::good_event;

    /// The contracts' good event, as the given event of the given session.
    fn event(name: &str, session: &str, id: usize) -> Value {
        let mut event = good_event();
        event["event_id"] = json!(format!("8f14e45f-ceea-467f-a1d2-{id:012}"));
        event["event_name"] = json!(name);
        event["event_timestamp"] = json!(1_767_225_600_000i64 + id as i64);
        event["session_id"] = json!(session);
        event
    }

    /// Rows of every kind: passing, failing a global rule (more than [`SAMPLES`] times), failing
    /// an event rule, of an unknown event, not JSON; sessions that recur far apart.
    fn raw_rows() -> Vec<String> {
        (0..40)
            .map(|i| {
                let session = format!("s-{}", i % 7);
                let mut row = event(
                    ["level_complete", "game_launched", "level_start"][i % 3],
                    &session,
                    i,
                );
                match i % 5 {
                    1 => row["country_code"] = json!(format!("usa{i}")),
                    2 if i % 2 == 0 => row["attempts"] = json!("two"),
                    3 => row["event_name"] = json!("warp_drive"),
                    _ => {}
                }
                if i % 11 == 4 {
                    return format!("not json {i}");
                }
                row.to_string()
            })
            .collect()
    }

    /// What counts add up to, in the report's own terms.
    fn outcome(counts: EventCounts) -> (u64, u64, Value, usize, BTreeMap<String, usize>) {
        let checks: BTreeMap<String, ContractCheck> = counts
            .tallies
            .into_iter()
            .map(|(id, tally)| (id.clone(), tally.into_check(id)))
            .collect();
        (
            counts.totals.rows,
            counts.totals.failing,
            serde_json::to_value(checks).expect("checks serialise"),
            counts.sessions.len(),
            counts
                .sessions_by_event
                .into_iter()
                .map(|(name, sessions)| (name.into_owned(), sessions.len()))
                .collect(),
        )
    }

    /// One pass over `rows`.
    fn counted<'a>(
        contracts: &ContractSet,
        global_names: &PlHashSet<&str>,
        rows: &[BronzeRecord<'a>],
    ) -> EventCounts<'a> {
        let mut counts = EventCounts::default();
        for record in rows {
            counts.count(contracts, global_names, record);
        }
        counts
    }

    #[test]
    fn counts_of_runs_added_in_order_equal_one_pass_over_the_rows() {
        let contracts = ContractSet::repository();
        let global_names: PlHashSet<&str> = contracts.global_field_names().into_iter().collect();
        let raw = raw_rows();
        let records: Vec<BronzeRecord> = raw
            .iter()
            .enumerate()
            .map(|(offset, raw_json)| BronzeRecord {
                raw_json,
                ingest_ts_us: 1_767_225_900_000_000,
                ingest_date: 20_454,
                source: "file:day.ndjson",
                source_partition: None,
                source_offset: offset as i64,
            })
            .collect();
        let counted = |rows| counted(&contracts, &global_names, rows);

        let whole = outcome(counted(&records));
        let (rows, failing, checks, sessions, golden) = &whole;
        assert_eq!((*rows, *sessions), (40, 7));
        assert!(*failing > 20, "most rows break a rule: {failing}");
        let country = &checks["global_fields_v1"]["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|rule| rule["field"] == "country_code")
            .expect("the country rule fails")["samples"];
        assert_eq!(
            country.as_array().map(Vec::len),
            Some(SAMPLES),
            "more rows fail than samples are kept"
        );
        assert!(golden.values().all(|&with| with <= 7), "{golden:?}");
        for split in 0..=records.len() {
            let (earlier, later) = records.split_at(split);
            assert_eq!(
                outcome(counted(earlier).then(counted(later))),
                whole,
                "split at row {split}"
            );
        }
        // The way validate counts a slice: runs on every core, added in row order.
        let frame_order = records
            .par_iter()
            .with_max_len(3)
            .fold(EventCounts::default, |mut counts, record| {
                counts.count(&contracts, &global_names, record);
                counts
            })
            .reduce(EventCounts::default, EventCounts::then);
        assert_eq!(outcome(frame_order), whole);
    }
}
