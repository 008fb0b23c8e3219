//! From verdicts to actions: the bandit's budgets within each verdict's bounds, the change
//! each platform is sent, and the ledger row that records it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::bandit::{self, Belief};
use super::config::OptimizerConfig;
use super::ledger::{self, LedgerRow, Recorded, Status};
use super::metrics::{Segment, SegmentMetrics};
use super::rules::{self, Judgement, Verdict};
use crate::ad_platforms::{AdPlatform, Change};
use crate::domain::MediaSource;

/// A campaign as the platforms last listed it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignState {
    pub campaign_name: String,
    pub media_source: String,
    pub active: bool,
    pub daily_budget_usd: Option<f64>,
    pub bid_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Pause,
    ScaleBudget {
        old: f64,
        new: f64,
    },
    SetBid {
        old: f64,
        new: f64,
        country_code: String,
    },
    Keep,
}

/// The ledger's name of a budget change.
const SCALE_BUDGET: &str = "scale_budget";

impl Action {
    pub const fn name(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::ScaleBudget { .. } => SCALE_BUDGET,
            Action::SetBid { .. } => "set_bid",
            Action::Keep => "keep",
        }
    }

    pub const fn is_budget_change(&self) -> bool {
        matches!(self, Action::ScaleBudget { .. })
    }

    /// What the platform is sent; `None` for keep.
    pub fn change(&self) -> Option<Change> {
        match self {
            Action::Pause => Some(Change::Pause),
            Action::ScaleBudget { new, .. } => Some(Change::DailyBudget { usd: *new }),
            Action::SetBid {
                new, country_code, ..
            } => Some(Change::Bid {
                usd: *new,
                country_code: country_code.clone(),
            }),
            Action::Keep => None,
        }
    }

    fn values(&self) -> (Option<String>, Option<String>) {
        let money = |v: &f64| Some(format!("{v:.2}"));
        match self {
            Action::Pause => (Some("ACTIVE".into()), Some("PAUSED".into())),
            Action::ScaleBudget { old, new } | Action::SetBid { old, new, .. } => {
                (money(old), money(new))
            }
            Action::Keep => (None, None),
        }
    }
}

/// One segment's decision, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub metrics: SegmentMetrics,
    pub judgement: Judgement,
    /// The platform whose API makes the change, when one can.
    pub platform: Option<AdPlatform>,
    pub object_id: String,
    pub action: Action,
    /// Proposed when an API can make it, manual when a person must, no_change for keep.
    pub status: Status,
    /// pROAS D30 at the previous decision, when it fell by the configured share since.
    pub dropped_from: Option<f64>,
}

impl Decision {
    /// The platform and the change an API call makes; `None` for a keep or an action a person
    /// makes.
    pub fn call(&self) -> Option<(AdPlatform, Change)> {
        Some((self.platform?, self.action.change()?))
    }

    pub fn ledger_row(&self, day: NaiveDate, run_id: &str, now: DateTime<Utc>) -> LedgerRow {
        let m = &self.metrics;
        let roas = m.predicted_roas_d30;
        let (old_value, new_value) = self.action.values();
        LedgerRow {
            decided_on: ledger::ledger_day(day),
            idempotency_key: ledger::idempotency_key(day, &m.segment),
            run_id: run_id.to_string(),
            game_id: m.segment.game_id.clone(),
            platform: self
                .platform
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| m.media_source.clone()),
            media_source: m.media_source.clone(),
            campaign_id: m.segment.campaign_id.clone(),
            campaign_name: m.campaign_name.clone(),
            country_code: m.segment.country_code.clone(),
            device_platform: m.segment.platform.clone(),
            object_id: self.object_id.clone(),
            recommendation: self.judgement.verdict.as_str().to_string(),
            action: self.action.name().to_string(),
            old_value,
            new_value,
            reason: self.judgement.reason.clone(),
            spend_usd: m.window.spend_usd,
            installs: m.window.installs as i64,
            cpi_usd: m.cpi_usd,
            predicted_roas_d30: roas.map(|r| r.value),
            predicted_roas_d30_low: roas.map(|r| r.low),
            predicted_roas_d30_high: roas.map(|r| r.high),
            predicted_roas_d180: m.predicted_roas_d180.map(|r| r.value),
            actual_roas_to_date: m.actual_roas_to_date,
            payback_days: m.payback_days.map(|d| d as i32),
            status: self.status,
            response: None,
            attempts: 0,
            updated_at: now.timestamp_micros(),
        }
    }
}

/// A day's decisions and the budget they share.
#[derive(Debug, Clone)]
pub struct Plan {
    pub day: NaiveDate,
    pub decisions: Vec<Decision>,
    pub total_budget: f64,
    pub allocated_budget: f64,
}

/// A segment's place in the budget: what it has and how far the verdict lets it move.
struct Arm {
    index: usize,
    budget: f64,
    bounds: (f64, f64),
    belief: Belief,
}

/// Decides every segment of `day`: the rules' verdict, then the bandit's budgets.
pub fn plan(
    day: NaiveDate,
    metrics: Vec<SegmentMetrics>,
    campaigns: &BTreeMap<String, CampaignState>,
    previous: &BTreeMap<Segment, f64>,
    config: &OptimizerConfig,
) -> Plan {
    // A campaign's budget is shared by its segments in proportion to their spend.
    let mut campaign_spend: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for m in &metrics {
        let entry = campaign_spend
            .entry(m.segment.campaign_id.clone())
            .or_default();
        entry.0 += 1;
        entry.1 += m.window.spend_usd;
    }
    let judgements: Vec<Judgement> = metrics.iter().map(|m| rules::judge(m, config)).collect();

    let mut arms = Vec::new();
    let mut total = 0.0;
    for (index, (m, judgement)) in metrics.iter().zip(&judgements).enumerate() {
        let Some(state) = campaigns.get(&m.segment.campaign_id).filter(|s| s.active) else {
            continue;
        };
        let (segments, spend) = campaign_spend[m.segment.campaign_id.as_str()];
        let share = if segments == 1 || spend <= 0.0 {
            1.0 / segments as f64
        } else {
            m.window.spend_usd / spend
        };
        let Some(budget) = state
            .daily_budget_usd
            .map(|b| b * share)
            .filter(|b| *b > 0.0)
        else {
            continue;
        };
        total += budget;
        let judged = m.window.installs >= config.min_installs && m.predicted_roas_d30.is_some();
        let bounds = match judgement.verdict {
            Verdict::Pause => continue,
            Verdict::Scale => (budget, budget * (1.0 + config.max_step_up)),
            Verdict::Watch if judged => (budget * (1.0 - config.max_step_down), budget),
            Verdict::Watch => (budget, budget),
        };
        // A segment with nothing spent has no pROAS; its bounds keep its budget anyway.
        let belief = m
            .predicted_roas_d30
            .map_or(Belief { mean: 0.0, sd: 0.0 }, |roas| Belief {
                mean: roas.value,
                sd: roas.sd(),
            });
        arms.push(Arm {
            index,
            budget,
            bounds,
            belief,
        });
    }
    let total = config.total_daily_budget_usd.unwrap_or(total);
    let beliefs: Vec<Belief> = arms.iter().map(|a| a.belief).collect();
    let weights = bandit::with_exploration(
        &bandit::probability_best(&beliefs, config.thompson_draws, config.seed),
        config.exploration_share,
    );
    let bounds: Vec<(f64, f64)> = arms.iter().map(|a| a.bounds).collect();
    let budgets = bandit::allocate(total, &weights, &bounds);
    let mut new_budget: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for (arm, budget) in arms.iter().zip(&budgets) {
        new_budget.insert(arm.index, (arm.budget, (budget * 100.0).round() / 100.0));
    }

    let mut allocated = 0.0;
    let decisions = metrics
        .into_iter()
        .zip(judgements)
        .enumerate()
        .map(|(index, (m, mut judgement))| {
            let state = campaigns.get(&m.segment.campaign_id);
            let whole_campaign = campaign_spend[m.segment.campaign_id.as_str()].0 == 1;
            let platform = MediaSource::from_appsflyer_id(&m.media_source).and_then(AdPlatform::of);
            let object_id = if whole_campaign {
                m.segment.campaign_id.clone()
            } else {
                format!(
                    "{}:{}:{}",
                    m.segment.campaign_id, m.segment.country_code, m.segment.platform
                )
            };
            let action = match (state, judgement.verdict) {
                (Some(state), _) if !state.active => {
                    judgement
                        .reason
                        .push_str("; the campaign is already paused");
                    Action::Keep
                }
                (_, Verdict::Pause) => Action::Pause,
                _ => match new_budget.get(&index) {
                    Some(&(old, new)) => {
                        allocated += new;
                        budget_action(old, new, &m, state, platform, &mut judgement, config)
                    }
                    None => Action::Keep,
                },
            };
            let api_can = platform.is_some_and(|p| {
                whole_campaign
                    && match action {
                        Action::SetBid { .. } => !p.manages_budgets(),
                        Action::Pause | Action::ScaleBudget { .. } => p.manages_budgets(),
                        Action::Keep => false,
                    }
            });
            let status = match action {
                Action::Keep => Status::NoChange,
                _ if api_can => Status::Proposed,
                _ => Status::Manual,
            };
            let dropped_from = previous.get(&m.segment).copied().filter(|before| {
                m.predicted_roas_d30.is_some_and(|now| {
                    *before > 0.0 && (before - now.value) / before >= config.sharp_drop
                })
            });
            Decision {
                platform: platform.filter(|_| api_can),
                object_id,
                action,
                status,
                dropped_from,
                judgement,
                metrics: m,
            }
        })
        .collect();
    Plan {
        day,
        decisions,
        total_budget: total,
        allocated_budget: (allocated * 100.0_f64).round() / 100.0,
    }
}

/// The budget move, or keep when it is too small to be worth a call. ironSource bids rather
/// than budgets: the bid moves by the budget's ratio.
fn budget_action(
    old: f64,
    new: f64,
    m: &SegmentMetrics,
    state: Option<&CampaignState>,
    platform: Option<AdPlatform>,
    judgement: &mut Judgement,
    config: &OptimizerConfig,
) -> Action {
    if (new - old).abs() < config.min_budget_change * old {
        return Action::Keep;
    }
    judgement.reason.push_str(&format!(
        "; daily budget {old:.2} -> {new:.2} ({:+.0}%)",
        (new / old - 1.0) * 100.0
    ));
    match (platform, state.and_then(|s| s.bid_usd)) {
        (Some(p), Some(bid)) if !p.manages_budgets() => Action::SetBid {
            old: bid,
            new: (bid * new / old * 100.0).round() / 100.0,
            country_code: m.segment.country_code.clone(),
        },
        _ => Action::ScaleBudget { old, new },
    }
}

/// Budget changes applied per object in the hour before `now` (Meta's limit).
pub fn recent_budget_changes(
    before: &BTreeMap<String, Recorded>,
    now: DateTime<Utc>,
) -> BTreeMap<String, u32> {
    let hour_ago = (now - chrono::Duration::hours(1)).timestamp_micros();
    let mut counts = BTreeMap::new();
    for row in before.values() {
        if row.status == Status::Applied && row.action == SCALE_BUDGET && row.updated_at >= hour_ago
        {
            *counts.entry(row.object_id.clone()).or_default() += 1;
        }
    }
    counts
}

/// The Slack message of a day: paused and scaled segments and sharp pROAS drops.
pub fn alert_text(plan: &Plan, rows: &[LedgerRow]) -> Option<String> {
    let status_by_key: BTreeMap<&str, &str> = rows
        .iter()
        .map(|r| (r.idempotency_key.as_str(), r.status.as_str()))
        .collect();
    let mut lines = Vec::new();
    let (mut paused, mut scaled) = (0, 0);
    for decision in &plan.decisions {
        let segment = &decision.metrics.segment;
        let key = ledger::idempotency_key(plan.day, segment);
        let label = format!(
            "{} ({}/{})",
            decision
                .metrics
                .campaign_name
                .as_deref()
                .unwrap_or(&segment.campaign_id),
            segment.country_code,
            segment.platform
        );
        match decision.action {
            Action::Pause => paused += 1,
            Action::ScaleBudget { new, old } | Action::SetBid { new, old, .. } if new > old => {
                scaled += 1
            }
            _ => {}
        }
        if matches!(decision.action, Action::Keep) && decision.dropped_from.is_none() {
            continue;
        }
        let verb = match decision.action {
            Action::Pause => "Pause",
            Action::ScaleBudget { new, old } | Action::SetBid { new, old, .. } if new > old => {
                "Scale"
            }
            Action::ScaleBudget { .. } | Action::SetBid { .. } => "Trim",
            Action::Keep => "Watch",
        };
        let mut line = format!(
            "• {verb} {label}: {} [{}]",
            decision.judgement.reason,
            status_by_key
                .get(key.as_str())
                .copied()
                .unwrap_or("already recorded")
        );
        if let (Some(before), Some(now)) =
            (decision.dropped_from, decision.metrics.predicted_roas_d30)
        {
            line.push_str(&format!(
                " — pROAS D30 dropped {before:.2} -> {:.2}",
                now.value
            ));
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "optimize-campaigns {}: {paused} paused, {scaled} scaled\n{}",
        plan.day,
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::config::default_config;
    use super::super::metrics::SegmentDay;
    use super::*;

    fn metrics(campaign: &str, source: &str, roas: f64, installs: u64) -> SegmentMetrics {
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let days: BTreeMap<_, _> = (0..7)
            .map(|i| {
                let d30 = roas * 100.0;
                let day = SegmentDay {
                    spend_usd: 100.0,
                    installs,
                    revenue_to_date: d30 / 3.0,
                    predicted: [d30 / 2.0, d30, d30 * 2.5],
                    predicted_d30_squares: d30 * d30 / installs as f64,
                    model_uncertainty_d30: d30 * 0.05,
                    unscored: 0,
                };
                (first + chrono::Days::new(i), day)
            })
            .collect();
        let segment = Segment {
            game_id: "fq".into(),
            campaign_id: campaign.into(),
            country_code: "US".into(),
            platform: "ios".into(),
        };
        SegmentMetrics::from_days(segment, source.into(), None, &days, 3)
    }

    fn state(source: &str) -> CampaignState {
        CampaignState {
            campaign_name: "n".into(),
            media_source: source.into(),
            active: true,
            daily_budget_usd: Some(500.0),
            bid_usd: Some(2.0),
        }
    }

    #[test]
    fn losers_pause_winners_take_the_freed_budget_within_the_step_cap() {
        let segments = vec![
            metrics("loser", "Facebook Ads", 0.4, 100),
            metrics("winner", "googleadwords_int", 1.8, 100),
            metrics("middling", "tiktokglobal_int", 1.0, 100),
            metrics("bidder", "ironsource_int", 1.6, 100),
            metrics("unity", "unityads_int", 1.7, 100),
        ];
        let campaigns: BTreeMap<_, _> = segments
            .iter()
            .map(|m| (m.segment.campaign_id.clone(), state(&m.media_source)))
            .collect();
        let day = NaiveDate::from_ymd_opt(2026, 1, 8).unwrap();
        let config = default_config();
        let plan = plan(day, segments, &campaigns, &BTreeMap::new(), &config);
        let by_id = |id: &str| {
            plan.decisions
                .iter()
                .find(|d| d.metrics.segment.campaign_id == id)
                .unwrap()
        };
        assert_eq!(by_id("loser").action, Action::Pause);
        assert_eq!(by_id("loser").status, Status::Proposed);
        assert_eq!(by_id("loser").platform, Some(AdPlatform::Meta));
        let Action::ScaleBudget { old, new } = by_id("winner").action else {
            panic!("{:?}", by_id("winner"));
        };
        assert_eq!(old, 500.0);
        assert!(new > 500.0 && new <= 750.0, "{new}");
        // ironSource moves its bid by the budget's ratio.
        let Action::SetBid { old, new, .. } = &by_id("bidder").action else {
            panic!("{:?}", by_id("bidder"));
        };
        assert_eq!(*old, 2.0);
        assert!(*new > 2.0 && *new <= 3.0, "{new}");
        // No client for Unity Ads: a person applies it.
        assert_eq!(by_id("unity").status, Status::Manual);
        // The middling campaign is never raised.
        match by_id("middling").action {
            Action::Keep => {}
            Action::ScaleBudget { old, new } => assert!(new < old),
            ref other => panic!("{other:?}"),
        }
        assert!(plan.allocated_budget <= plan.total_budget + 1e-6);
        assert_eq!(plan.total_budget, 2500.0);
        // The same inputs give the same plan.
        let again = super::plan(
            day,
            plan.decisions.iter().map(|d| d.metrics.clone()).collect(),
            &campaigns,
            &BTreeMap::new(),
            &config,
        );
        assert_eq!(again.decisions, plan.decisions);
    }

    #[test]
    fn a_sharp_drop_since_the_last_decision_is_flagged_and_alerted() {
        let segment = metrics("fallen", "Facebook Ads", 0.9, 100);
        let campaigns = BTreeMap::from([("fallen".to_string(), state("Facebook Ads"))]);
        let previous = BTreeMap::from([(segment.segment.clone(), 1.5)]);
        let day = NaiveDate::from_ymd_opt(2026, 1, 8).unwrap();
        let plan = plan(day, vec![segment], &campaigns, &previous, &default_config());
        assert_eq!(plan.decisions[0].dropped_from, Some(1.5));
        let text = alert_text(&plan, &[]).unwrap();
        assert!(text.contains("dropped 1.50 -> 0.90"), "{text}");
    }
}
