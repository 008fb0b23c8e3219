//! `optimize-campaigns`: for each campaign segment (campaign × country × platform), what the
//! last week's installs cost and are predicted to return, a Scale / Watch / Pause verdict with
//! its reason in words, and a budget (or bid) change; recorded in the action ledger
//! `gold.campaign_actions` and, with `--apply`, sent to the ad platforms.
//!
//! Two layers decide: [`rules`] (thresholds from `config/optimizer.yaml`) give the verdict,
//! and [`bandit`] reallocates the total daily budget across the segments not paused by
//! Thompson sampling, within the step caps the verdict allows. The same Gold, scores, config
//! and seed give the same actions; [`ledger`] keeps a rerun from recording or sending any
//! action twice.

pub mod bandit;
pub mod config;
mod decisions;
pub mod ledger;
pub mod metrics;
pub mod rules;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{Days, NaiveDate, Utc};
use clap::Args;
use polars::prelude::*;

use crate::ad_platforms::{AdPlatform, AdPlatformClients, CallOutcome, PlatformSettings};
use crate::date_range::DateRange;
use crate::domain::GameTitle;
use crate::env;
use crate::exit_codes::UsageError;
use crate::jobs::train_ltv::Target;
use crate::lake::{Lake, column_on_day, string_column};
use crate::ltv::registry;
use crate::run::{JobContext, JobReport};
use crate::tables::{gold, silver};

use config::OptimizerConfig;
use decisions::{CampaignState, Decision, Plan};
use ledger::{LedgerRow, Recorded, Status};
use metrics::{Segment, SegmentMetrics};

#[derive(Debug, Clone, Args)]
pub struct OptimizeOptions {
    /// Send the actions to the ad platforms (Meta, Google Ads, TikTok, ironSource); without
    /// it they are recorded as proposed and nothing is sent. Needs a single --date
    #[arg(long)]
    pub apply: bool,

    /// Ask the ad platforms to check each proposed action without making it (Google Ads'
    /// validateOnly); other platforms' actions are counted as not checked. Nothing changes on
    /// any platform and the ledger keeps the actions as proposed; a rejected action fails the
    /// run (exit 1) with the platform's answer. Needs a single --date, and no --dry-run
    #[arg(long, conflicts_with = "apply")]
    pub validate: bool,

    /// With --apply: send again the actions an earlier --apply run recorded as applying but
    /// stopped before recording the platform's answer (check the platform first)
    #[arg(long, requires = "apply")]
    pub resend_unconfirmed: bool,

    /// Thresholds of the rules and the bandit
    #[arg(long, value_name = "FILE", env = "OPTIMIZER_CONFIG", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
}

pub async fn run(context: JobContext, options: OptimizeOptions) -> anyhow::Result<JobReport> {
    let config =
        OptimizerConfig::load(&options.config).map_err(|err| UsageError::new(err.to_string()))?;
    let range = context.require_range()?;
    if (options.apply || options.validate) && range.len_days() > 1 {
        return Err(UsageError::new(
            "--apply and --validate speak of today's campaigns: give one --date (a range only \
             records proposals)",
        )
        .into());
    }
    if options.validate && context.dry_run {
        return Err(UsageError::new(
            "--validate checks the proposals a run records, and a dry run records none: run it \
             without --dry-run (it changes nothing on the platforms)",
        )
        .into());
    }
    let mut report = JobReport::default();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut unconfirmed = Vec::new();
    let mut checks = ValidationCounts::default();
    for day in range.days() {
        // The ledger of the lookback and of `day`, read once: the previous pROAS of each
        // segment, what was applied already and the Meta budget changes of the last hour.
        let recorded = ledger::recorded(&context.lake, &lookback(day, &config)?).await?;
        let plan = plan_day(
            &context.lake,
            day,
            &config,
            context.game.as_ref(),
            &recorded,
        )
        .await?;
        report.rows_in += plan.decisions.len() as u64;
        for decision in &plan.decisions {
            *counts
                .entry(decision.judgement.verdict.as_str())
                .or_default() += 1;
        }
        report.detail("total_daily_budget_usd", plan.total_budget);
        report.detail("allocated_daily_budget_usd", plan.allocated_budget);
        if context.dry_run {
            for decision in &plan.decisions {
                tracing::info!(segment = %decision.metrics.segment, verdict = decision.judgement.verdict.as_str(),
                    action = decision.action.name(), reason = decision.judgement.reason, "decided");
            }
            continue;
        }
        let outcome = record_and_apply(&context, &plan, &recorded, &config, &options).await?;
        for row in &outcome.rows {
            *counts.entry(row.status.as_str()).or_default() += 1;
        }
        report.rows_out += outcome.rows.len() as u64;
        if let Some(version) = outcome.version {
            report.record_table(&gold::CAMPAIGN_ACTIONS.name, Some(version));
        }
        unconfirmed.extend(outcome.unconfirmed);
        if options.validate {
            checks.add(&outcome.rows, &outcome.validated);
        }
        alert(&plan, &outcome.rows, &mut report).await;
    }
    report.detail("decisions", counts);
    if options.validate {
        report.detail("validation", &checks);
        if !checks.rejections.is_empty() {
            return Err(crate::run::FailedRun {
                message: format!(
                    "{} proposed action(s) failed the ad platform's check, so --apply would \
                     fail on them: {}",
                    checks.rejections.len(),
                    checks.rejections.join("; ")
                ),
                report,
            }
            .into());
        }
    }
    if !unconfirmed.is_empty() {
        return Err(crate::run::FailedRun {
            report,
            message: format!(
                "{} action(s) were sent by an earlier run that stopped before recording the \
                 answer ({}): check them on the platform, then rerun with --apply \
                 --resend-unconfirmed to send them again",
                unconfirmed.len(),
                unconfirmed.join(", ")
            ),
        }
        .into());
    }
    Ok(report)
}

/// Everything decided for `day`, before anything is recorded or sent.
async fn plan_day(
    lake: &Lake,
    day: NaiveDate,
    config: &OptimizerConfig,
    game: Option<&GameTitle>,
    recorded: &BTreeMap<String, Recorded>,
) -> anyhow::Result<Plan> {
    let yesterday = day.pred_opt().context("--date is too early")?;
    let window = DateRange::new(lookback(day, config)?.first(), yesterday)?;

    let scores = lake
        .read_or_empty(
            &gold::PLAYER_LTV_SCORES,
            Some(column_on_day("score_date", day)),
        )
        .await?;
    if scores.height() == 0 {
        anyhow::bail!(
            "gold.player_ltv_scores has no scores for {day}: run score-ltv --date {day} first"
        );
    }
    let by_game = |frame: LazyFrame| match game {
        Some(game) => frame.filter(col("game_id").eq(lit(game.as_str()))),
        None => frame,
    };
    let players = by_game(
        lake.read(
            &gold::PLAYER_LIFECYCLE,
            Some(Lake::range_filter(&gold::PLAYER_LIFECYCLE, &window)?),
        )
        .await?
        .lazy(),
    )
    .filter(col("campaign_id").is_not_null())
    .select([
        col("game_id"),
        col("player_id"),
        col("acquisition_date"),
        col("campaign_id"),
        col("country_code"),
        col("platform"),
        col("revenue_d180").alias("revenue_to_date"),
    ])
    .join(
        scores.lazy().select([
            col("game_id"),
            col("player_id"),
            col("age_days"),
            col("observation_days"),
            col("model_version"),
            col("predicted_ltv_d7"),
            col("predicted_ltv_d30"),
            col("predicted_ltv_d180"),
        ]),
        [col("game_id"), col("player_id")],
        [col("game_id"), col("player_id")],
        JoinArgs::new(JoinType::Left),
    )
    // How far the D30 model that scored each player was off on its holdout.
    .join(
        registry::holdout_errors(lake, &Target::Ltv(metrics::HORIZON_DAYS).name())
            .await?
            .lazy(),
        [col("model_version"), col("observation_days")],
        [col("model_version"), col("observation_days")],
        JoinArgs::new(JoinType::Left),
    )
    .collect()?;

    // Spend is reported per campaign; the game is the campaign's.
    let campaign_games = lake
        .read_or_empty(&gold::DIM_CAMPAIGN, None)
        .await?
        .lazy()
        .filter(col("game_id").is_not_null())
        .select([col("campaign_id"), col("game_id")])
        .unique(None, UniqueKeepStrategy::First);
    let spend_rows = lake
        .read_or_empty(
            &silver::AD_SPEND_DAILY,
            Some(Lake::range_filter(&silver::AD_SPEND_DAILY, &window)?),
        )
        .await?;
    let sources = source_of_campaigns(&spend_rows)?;
    let spend = by_game(spend_rows.lazy().join(
        campaign_games,
        [col("campaign_id")],
        [col("campaign_id")],
        JoinArgs::new(JoinType::Inner),
    ))
    .select([
        col("game_id"),
        col("campaign_id"),
        col("country_code"),
        col("platform"),
        col("spend_date"),
        col("spend_usd"),
    ])
    .collect()?;

    let campaigns = campaign_states(lake).await?;
    let segment_days = metrics::segment_days(players, spend)?;
    let metrics: Vec<SegmentMetrics> = segment_days
        .iter()
        .map(|(segment, days)| {
            let state = campaigns.get(&segment.campaign_id);
            let media_source = state
                .map(|c| c.media_source.clone())
                .or_else(|| sources.get(&segment.campaign_id).cloned())
                .unwrap_or_default();
            SegmentMetrics::from_days(
                segment.clone(),
                media_source,
                state.map(|c| c.campaign_name.clone()),
                days,
                config.floor_days as usize,
            )
        })
        .collect();
    let previous = previous_roas(recorded, day);
    Ok(decisions::plan(day, metrics, &campaigns, &previous, config))
}

/// `campaign_id` → `media_source` from the spend feed, for campaigns the campaign list lacks.
fn source_of_campaigns(spend: &DataFrame) -> PolarsResult<BTreeMap<String, String>> {
    let ids = spend.column("campaign_id")?.str()?;
    let sources = spend.column("media_source")?.str()?;
    Ok(ids
        .iter()
        .zip(sources.iter())
        .filter_map(|(id, source)| Some((id?.to_string(), source?.to_string())))
        .collect())
}

/// The campaigns as the platforms last listed them (`silver.campaigns`).
async fn campaign_states(lake: &Lake) -> anyhow::Result<BTreeMap<String, CampaignState>> {
    let frame = lake.read_or_empty(&silver::CAMPAIGNS, None).await?;
    let text = |name: &str| string_column(&frame, name);
    let (ids, names, sources, statuses) = (
        text("campaign_id")?,
        text("campaign_name")?,
        text("media_source")?,
        text("status")?,
    );
    let budgets: Vec<Option<f64>> = frame.column("daily_budget_usd")?.f64()?.iter().collect();
    let bids: Vec<Option<f64>> = frame.column("bid_usd")?.f64()?.iter().collect();
    let mut states = BTreeMap::new();
    for row in 0..frame.height() {
        let Some(id) = ids[row].clone() else { continue };
        states.insert(
            id,
            CampaignState {
                campaign_name: names[row].clone().unwrap_or_default(),
                media_source: sources[row].clone().unwrap_or_default(),
                active: statuses[row]
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case("active")),
                daily_budget_usd: budgets[row],
                bid_usd: bids[row],
            },
        );
    }
    Ok(states)
}

/// The days `day` looks back over, `day` included.
fn lookback(day: NaiveDate, config: &OptimizerConfig) -> anyhow::Result<DateRange> {
    let first = day
        .checked_sub_days(Days::new(config.lookback_days as u64))
        .context("--date is too early")?;
    Ok(DateRange::new(first, day)?)
}

/// Each segment's pROAS D30 at its newest decision before `day`.
fn previous_roas(recorded: &BTreeMap<String, Recorded>, day: NaiveDate) -> BTreeMap<Segment, f64> {
    let before_day = ledger::ledger_day(day);
    let mut newest: BTreeMap<&Segment, (i32, f64)> = BTreeMap::new();
    for row in recorded.values().filter(|row| row.decided_on < before_day) {
        let Some(roas) = row.predicted_roas_d30 else {
            continue;
        };
        let entry = newest.entry(&row.segment).or_insert((row.decided_on, roas));
        if row.decided_on > entry.0 {
            *entry = (row.decided_on, roas);
        }
    }
    newest
        .into_iter()
        .map(|(segment, (_, roas))| (segment.clone(), roas))
        .collect()
}

/// What one day's recording and sending left in the ledger.
struct DayOutcome {
    rows: Vec<LedgerRow>,
    version: Option<u64>,
    /// Keys of rows an earlier run left `applying`, not sent again.
    unconfirmed: Vec<String>,
    /// With `--validate`: the platform's check of each proposed row it could check, by row.
    validated: BTreeMap<usize, CallOutcome>,
}

/// What `--validate` found, in the run summary.
#[derive(Debug, Default, serde::Serialize)]
struct ValidationCounts {
    accepted: u64,
    rejected: u64,
    /// Proposed actions of platforms with no check-only call.
    not_checked: u64,
    /// `platform object action: answer` of each rejected action.
    #[serde(skip)]
    rejections: Vec<String>,
}

impl ValidationCounts {
    fn add(&mut self, rows: &[LedgerRow], validated: &BTreeMap<usize, CallOutcome>) {
        for (index, row) in rows.iter().enumerate() {
            if row.status != Status::Proposed {
                continue;
            }
            match validated.get(&index) {
                None => self.not_checked += 1,
                // A check-only call that succeeds is the platform's acceptance; nothing is
                // applied.
                Some(check) if check.applied => self.accepted += 1,
                Some(check) => {
                    self.rejected += 1;
                    self.rejections.push(format!(
                        "{} {} {}: {}",
                        row.platform, row.object_id, row.action, check.response
                    ));
                }
            }
        }
    }
}

/// Writes the day's decisions to the ledger and, with `--apply`, sends each change: first
/// recorded as `applying` (one commit), then sent, then recorded with the answers (a second
/// commit). Rows an earlier run applied, or left applying, are not overwritten. With
/// `--validate`, the proposed changes a platform can check are sent as checks only, after
/// they are recorded, and the ledger is not touched again.
async fn record_and_apply(
    context: &JobContext,
    plan: &Plan,
    before: &BTreeMap<String, Recorded>,
    config: &OptimizerConfig,
    options: &OptimizeOptions,
) -> anyhow::Result<DayOutcome> {
    let lake = &context.lake;
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut unconfirmed = Vec::new();
    let mut to_send: Vec<(usize, &Decision)> = Vec::new();
    let mut to_check: Vec<(usize, &Decision)> = Vec::new();
    let mut budget_changes_last_hour = decisions::recent_budget_changes(before, now);
    for decision in &plan.decisions {
        let mut row = decision.ledger_row(plan.day, &context.run_id, now);
        if let Some(earlier) = before.get(&row.idempotency_key) {
            match earlier.status {
                Status::Applied => continue,
                Status::Applying if !options.resend_unconfirmed => {
                    unconfirmed.push(format!("{} {}", earlier.platform, earlier.object_id));
                    continue;
                }
                _ => {}
            }
        }
        if row.status == Status::Proposed && options.apply {
            let platform = decision.platform.expect("proposed actions have a platform");
            if platform == AdPlatform::Meta && decision.action.is_budget_change() {
                let changes = budget_changes_last_hour
                    .entry(row.object_id.clone())
                    .or_default();
                if *changes >= config.meta_max_budget_changes_per_hour {
                    row.status = Status::Deferred;
                    row.response = Some(format!(
                        "Meta allows {} budget changes per ad set per hour; {} already made",
                        config.meta_max_budget_changes_per_hour, changes
                    ));
                    rows.push(row);
                    continue;
                }
                *changes += 1;
            }
            row.status = Status::Applying;
            to_send.push((rows.len(), decision));
        }
        if row.status == Status::Proposed
            && options.validate
            && decision.platform.is_some_and(AdPlatform::validates_changes)
        {
            to_check.push((rows.len(), decision));
        }
        rows.push(row);
    }

    let mut version = ledger::record(lake, &rows).await?.and_then(|o| o.version);
    if !to_send.is_empty() {
        let clients = clients_for(&to_send, config)?;
        let progress = crate::telemetry::progress_bar(to_send.len() as u64, "actions sent");
        for (index, decision) in to_send {
            let (platform, change) = decision.call().expect("sent actions have a call");
            let row = &mut rows[index];
            let outcome = clients.send(platform, &row.object_id, &change, false).await;
            row.status = if outcome.applied {
                Status::Applied
            } else {
                Status::Failed
            };
            row.attempts = outcome.attempts as i32;
            row.response = Some(outcome.response);
            row.updated_at = Utc::now().timestamp_micros();
            tracing::info!(%platform, object_id = row.object_id, action = row.action,
                status = row.status.as_str(), attempts = row.attempts, "sent");
            progress.inc(1);
        }
        progress.finish_and_clear();
        version = ledger::record(lake, &rows)
            .await?
            .and_then(|o| o.version)
            .or(version);
    }
    let mut validated = BTreeMap::new();
    if !to_check.is_empty() {
        let clients = clients_for(&to_check, config)?;
        for (index, decision) in to_check {
            let (platform, change) = decision.call().expect("checked actions have a call");
            let row = &rows[index];
            let check = clients.send(platform, &row.object_id, &change, true).await;
            tracing::info!(%platform, object_id = row.object_id, action = row.action,
                accepted = check.applied, response = check.response, "checked");
            validated.insert(index, check);
        }
    }
    Ok(DayOutcome {
        rows,
        version,
        unconfirmed,
        validated,
    })
}

/// Clients for the platforms the actions go to; missing credentials are a usage error that
/// names the variables.
fn clients_for(
    to_send: &[(usize, &Decision)],
    config: &OptimizerConfig,
) -> anyhow::Result<AdPlatformClients> {
    let mut settings = BTreeMap::new();
    for platform in to_send.iter().filter_map(|(_, d)| d.platform) {
        if let std::collections::btree_map::Entry::Vacant(entry) = settings.entry(platform) {
            entry.insert(
                PlatformSettings::from_env(platform)
                    .map_err(|err| UsageError::new(err.to_string()))?,
            );
        }
    }
    Ok(AdPlatformClients::new(settings, config.api.clone())?)
}

/// Posts the day's paused and scaled segments and sharp pROAS drops to Slack, when
/// `SLACK_WEBHOOK_URL` is set. An alert that cannot be posted is logged, not fatal: the
/// decisions are already in the ledger.
async fn alert(plan: &Plan, rows: &[LedgerRow], report: &mut JobReport) {
    let Ok(webhook) = std::env::var(env::SLACK_WEBHOOK_URL) else {
        return;
    };
    let Some(text) = decisions::alert_text(plan, rows) else {
        return;
    };
    match crate::alerts::post_slack(&webhook, &text).await {
        Ok(()) => report.detail("slack_alert", "sent"),
        Err(err) => {
            tracing::warn!(error = %err, "cannot post the Slack alert");
            report.detail("slack_alert", "failed");
        }
    }
}
