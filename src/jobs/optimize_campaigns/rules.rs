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

/// Pause a segment predicted to lose money for `floor_days` running, scale one predicted to
/// earn the target with an interval clear of the floor, watch the rest and anything too small
/// to judge.
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
    if roas.value < floor {
        let days_below = metrics
            .daily_roas_d30
            .iter()
            .filter(|day| day.is_some_and(|r| r < floor))
            .count();
        let needed = config.floor_days as usize;
        return if days_below >= needed && metrics.daily_roas_d30.len() >= needed {
            judged(
                Verdict::Pause,
                format!(
                    "{figure} < {floor} floor for {needed} days, {} installs",
                    thousands(installs)
                ),
            )
        } else {
            judged(
                Verdict::Watch,
                format!(
                    "{figure} < {floor} floor, but on {days_below} of the last {needed} days \
                     only, {} installs",
                    thousands(installs)
                ),
            )
        };
    }
    let target = config.roas_target_d30;
    if roas.value >= target && roas.low >= floor {
        let payback = metrics
            .payback_days
            .map(|day| format!(", payback ~day {day}"))
            .unwrap_or_default();
        return judged(
            Verdict::Scale,
            format!(
                "{figure} >= {target} target, {} installs{payback}",
                thousands(installs)
            ),
        );
    }
    let why = if roas.value >= target {
        format!("{figure} >= {target} target, but its low end is under the {floor} floor")
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
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let days: BTreeMap<_, _> = daily_roas
            .iter()
            .enumerate()
            .map(|(i, roas)| {
                let d30 = roas * 100.0;
                let day = SegmentDay {
                    spend_usd: 100.0,
                    installs: installs_per_day,
                    revenue_to_date: d30 / 3.0,
                    predicted: [d30 / 2.0, d30, d30 * 2.5],
                    predicted_d30_squares: d30 * d30 / installs_per_day as f64,
                    model_uncertainty_d30: 0.0,
                    unscored: 0,
                };
                (first + chrono::Days::new(i as u64), day)
            })
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
                "pROAS D30 1.50 (1.50-1.50) >= 1.2 target, 700 installs, payback ~day"
            ),
            "{judgement:?}"
        );
    }

    #[test]
    fn the_target_with_a_low_end_under_the_floor_is_watched() {
        let mut metrics = segment_with(&[1.5; 7], 100);
        let roas = metrics.predicted_roas_d30.as_mut().unwrap();
        roas.low = 0.7;
        let judgement = judge(&metrics, &default_config());
        assert_eq!(judgement.verdict, Verdict::Watch);
        assert!(judgement.reason.contains("low end"), "{judgement:?}");
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
