//! The first layer of decisions: rules an analyst can read, with thresholds from the config.
//! A segment is paused, watched or scaled here; how much budget it gets is the bandit's.

use super::config::OptimizerConfig;
use super::metrics::SegmentMetrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Scale,
    Watch,
    Pause,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Scale => "scale",
            Verdict::Watch => "watch",
            Verdict::Pause => "pause",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// In words, with the figures and thresholds that decided it.
    pub reason: String,
}

fn judged(verdict: Verdict, reason: String) -> Judgement {
    Judgement { verdict, reason }
}

/// Pause a segment predicted to lose money for `floor_days` running, or over the window and
/// `pause_confidence` sure of it with no recent day as sure of the opposite; scale one
/// predicted to earn the target and `scale_confidence` sure to clear the floor; watch the rest
/// and anything too small to judge.
pub fn judge(metrics: &SegmentMetrics, config: &OptimizerConfig) -> Judgement {
    let installs = metrics.window.installs;
    let Some(roas) = metrics.predicted_roas_d30 else {
        return judged(
            Verdict::Watch,
            format!(
                "no spend reported for {} installs in the last {} days",
                thousands(installs),
                config.lookback_days
            ),
        );
    };
    if installs < config.min_installs {
        return judged(
            Verdict::Watch,
            format!(
                "{} installs < {} needed to judge (pROAS D30 {:.2} so far)",
                thousands(installs),
                config.min_installs,
                roas.value
            ),
        );
    }
    let figure = format!(
        "pROAS D30 {:.2} ({:.2}-{:.2})",
        roas.value, roas.low, roas.high
    );
    let floor = config.roas_floor_d30;
    // Rounded down, so that a segment short of the bar never reads as reaching it.
    let percent = |chance: f64| format!("{:.0}%", (chance * 100.0).floor());
    if roas.value < floor {
        let needed = config.floor_days as usize;
        let recent = &metrics.daily_roas_d30;
        let days_below = recent
            .iter()
            .filter(|day| day.is_some_and(|r| r.value < floor))
            .count();
        let installs = thousands(installs);
        let judged_days = recent.len() >= needed;
        if days_below >= needed && judged_days {
            return judged(
                Verdict::Pause,
                format!("{figure} < {floor} floor for {needed} days, {installs} installs"),
            );
        }
        let chance_under_floor = 1.0 - roas.chance_at_least(floor);
        let recovered = recent
            .iter()
            .any(|day| day.is_some_and(|r| r.chance_at_least(floor) >= config.pause_confidence));
        if chance_under_floor >= config.pause_confidence && !recovered && judged_days {
            return judged(
                Verdict::Pause,
                format!(
                    "{figure} < {floor} floor, {} sure to be under it, and none of the last \
                     {needed} days as sure to be over it, {installs} installs",
                    percent(chance_under_floor)
                ),
            );
        }
        return judged(
            Verdict::Watch,
            format!(
                "{figure} < {floor} floor, but on {days_below} of the last {needed} days only, \
                 {installs} installs"
            ),
        );
    }
    let target = config.roas_target_d30;
    let chance_over_floor = roas.chance_at_least(floor);
    if roas.value >= target && chance_over_floor >= config.scale_confidence {
        let payback = metrics
            .payback_days
            .map(|day| format!(", payback ~day {day}"))
            .unwrap_or_default();
        return judged(
            Verdict::Scale,
            format!(
                "{figure} >= {target} target, {} sure to clear the {floor} floor, {} \
                 installs{payback}",
                percent(chance_over_floor),
                thousands(installs)
            ),
        );
    }
    let why = if roas.value >= target {
        format!(
            "{figure} >= {target} target, but only {} sure to clear the {floor} floor ({:.0}% \
             needed)",
            percent(chance_over_floor),
            config.scale_confidence * 100.0
        )
    } else {
        format!("{figure} between the {floor} floor and the {target} target")
    };
    judged(
        Verdict::Watch,
        format!("{why}, {} installs", thousands(installs)),
    )
}

/// `1240` as `1,240`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;

    use super::super::config::default_config;
    use super::super::metrics::{Segment, SegmentDay};
    use super::*;

    /// A segment whose install days had these pROAS D30, 100 installs and $100 each, every
    /// player predicted alike and the model sure of itself (a tight interval).
    fn segment_with(daily_roas: &[f64], installs_per_day: u64) -> SegmentMetrics {
        segment_of(days_at(daily_roas, installs_per_day))
    }

    /// The install days of [`segment_with`].
    fn days_at(daily_roas: &[f64], installs_per_day: u64) -> Vec<SegmentDay> {
        daily_roas
            .iter()
            .map(|roas| {
                let d30 = roas * 100.0;
                SegmentDay {
                    spend_usd: 100.0,
                    installs: installs_per_day,
                    revenue_to_date: d30 / 3.0,
                    predicted: [d30 / 2.0, d30, d30 * 2.5],
                    predicted_d30_squares: d30 * d30 / installs_per_day as f64,
                    model_uncertainty_d30: 0.0,
                    unscored: 0,
                }
            })
            .collect()
    }

    /// A segment of these install days, in order.
    fn segment_of(days: Vec<SegmentDay>) -> SegmentMetrics {
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let days: BTreeMap<_, _> = days
            .into_iter()
            .enumerate()
            .map(|(i, day)| (first + chrono::Days::new(i as u64), day))
            .collect();
        let segment = Segment {
            game_id: "fq".into(),
            campaign_id: "fq_facebook_br_android".into(),
            country_code: "BR".into(),
            platform: "android".into(),
        };
        SegmentMetrics::from_days(segment, "Facebook Ads".into(), None, &days, 3)
    }

    #[test]
    fn three_days_under_the_floor_pause_with_the_figures_in_words() {
        let judgement = judge(
            &segment_with(&[0.7, 0.6, 0.62, 0.6, 0.58, 0.6, 0.64], 180),
            &default_config(),
        );
        assert_eq!(judgement.verdict, Verdict::Pause);
        assert_eq!(
            judgement.reason,
            "pROAS D30 0.62 (0.62-0.62) < 0.8 floor for 3 days, 1,260 installs"
        );
    }

    #[test]
    fn a_recent_recovery_keeps_a_segment_under_watch() {
        let judgement = judge(
            &segment_with(&[0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.95], 180),
            &default_config(),
        );
        assert_eq!(judgement.verdict, Verdict::Watch, "{judgement:?}");
        assert!(
            judgement.reason.contains("on 1 of the last 3 days"),
            "{judgement:?}"
        );
    }

    /// Six days at 0.2, then a day of 100 installs read at 1.2 because one player is predicted
    /// $110: that day is 1.20 (0.00-3.00), only 64% sure to clear the floor, while the week,
    /// 0.34 (0.08-0.60), is over 99% sure to be under it.
    #[test]
    fn a_week_sure_to_lose_is_paused_through_a_day_read_over_the_floor_on_one_whale() {
        let with = |pause_confidence: f64| {
            let mut days = days_at(&[0.2; 6], 100);
            days.push(SegmentDay {
                spend_usd: 100.0,
                installs: 100,
                revenue_to_date: 5.0,
                predicted: [20.0, 120.0, 300.0],
                predicted_d30_squares: 110.0 * 110.0 + 99.0 * (10.0f64 / 99.0).powi(2),
                model_uncertainty_d30: 0.0,
                unscored: 0,
            });
            let config = OptimizerConfig {
                pause_confidence,
                ..default_config()
            };
            judge(&segment_of(days), &config)
        };
        let shipped = with(default_config().pause_confidence);
        assert_eq!(shipped.verdict, Verdict::Pause, "{shipped:?}");
        assert_eq!(
            shipped.reason,
            "pROAS D30 0.34 (0.08-0.60) < 0.8 floor, 99% sure to be under it, and none of the \
             last 3 days as sure to be over it, 700 installs"
        );
        let stricter = with(0.999);
        assert_eq!(stricter.verdict, Verdict::Watch, "{stricter:?}");
        assert!(
            stricter.reason.contains("but on 2 of the last 3 days only"),
            "{stricter:?}"
        );
    }

    #[test]
    fn too_few_installs_are_not_judged() {
        let judgement = judge(&segment_with(&[0.2; 7], 10), &default_config());
        assert_eq!(judgement.verdict, Verdict::Watch);
        assert!(
            judgement.reason.starts_with("70 installs < 100"),
            "{judgement:?}"
        );
    }

    #[test]
    fn the_target_with_a_sure_interval_scales() {
        let judgement = judge(&segment_with(&[1.5; 7], 100), &default_config());
        assert_eq!(judgement.verdict, Verdict::Scale);
        assert!(
            judgement.reason.starts_with(
                "pROAS D30 1.50 (1.50-1.50) >= 1.2 target, 100% sure to clear the 0.8 floor, \
                 700 installs, payback ~day"
            ),
            "{judgement:?}"
        );
    }

    /// pROAS 1.50 whose 90% interval reaches `high`: the belief's sd is (high − 1.5) / 1.645,
    /// and the chance of clearing the 0.8 floor Φ(0.7 / sd). 2.8 gives Φ(0.886) = 81.2%, 2.9
    /// gives Φ(0.823) = 79.5%, on either side of the shipped 80%.
    #[test]
    fn the_target_scales_only_when_sure_enough_to_clear_the_floor() {
        let with_high = |high: f64| {
            let mut metrics = segment_with(&[1.5; 7], 100);
            let roas = metrics.predicted_roas_d30.as_mut().unwrap();
            roas.low = 0.0;
            roas.high = high;
            judge(&metrics, &default_config())
        };
        let sure = with_high(2.8);
        assert_eq!(sure.verdict, Verdict::Scale, "{sure:?}");
        assert!(sure.reason.contains(", 81% sure to clear"), "{sure:?}");
        let unsure = with_high(2.9);
        assert_eq!(unsure.verdict, Verdict::Watch, "{unsure:?}");
        assert!(
            unsure.reason.starts_with(
                "pROAS D30 1.50 (0.00-2.90) >= 1.2 target, but only 79% sure to clear the 0.8 \
                 floor (80% needed), 700 installs"
            ),
            "{unsure:?}"
        );
    }

    #[test]
    fn between_floor_and_target_is_watched() {
        let judgement = judge(&segment_with(&[1.0; 7], 100), &default_config());
        assert_eq!(judgement.verdict, Verdict::Watch);
        assert!(judgement.reason.contains("between"), "{judgement:?}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1240), "1,240");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
