//! The holdout report of a pLTV model next to the industry heuristic, and the cohort-curve
//! extrapolation used for a horizon no cohort has reached yet.

use std::collections::HashMap;

use serde::Serialize;

use super::metrics::{self, Group, Mape};

/// The industry heuristic: a player's revenue by day N times the ratio of horizon revenue to
/// day-N revenue of their game × channel in training ("D7 revenue × cohort multiplier").
#[derive(Debug, Clone, Serialize)]
pub struct Heuristic {
    multipliers: HashMap<String, f64>,
    overall: f64,
}

impl Heuristic {
    /// Multipliers from training players: `groups` (game × channel), revenue by day N and
    /// revenue by the horizon.
    pub fn fit(groups: &[String], revenue_n: &[f64], label: &[f64]) -> Self {
        let mut sums: HashMap<String, (f64, f64)> = HashMap::new();
        for ((group, n), h) in groups.iter().zip(revenue_n).zip(label) {
            let entry = sums.entry(group.clone()).or_default();
            entry.0 += n;
            entry.1 += h;
        }
        let total_n: f64 = revenue_n.iter().sum();
        let total_h: f64 = label.iter().sum();
        let overall = if total_n > 0.0 {
            total_h / total_n
        } else {
            1.0
        };
        let multipliers = sums
            .into_iter()
            .filter(|(_, (n, _))| *n > 0.0)
            .map(|(group, (n, h))| (group, h / n))
            .collect();
        Heuristic {
            multipliers,
            overall,
        }
    }

    pub fn predict(&self, groups: &[String], revenue_n: &[f64]) -> Vec<f64> {
        groups
            .iter()
            .zip(revenue_n)
            .map(|(group, n)| n * self.multipliers.get(group).copied().unwrap_or(self.overall))
            .collect()
    }
}

/// How one set of predictions did on the holdout.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub normalized_gini: Option<f64>,
    pub spearman: Option<f64>,
    pub decile_mape: Mape,
    /// Install date × channel, groups of at least [`MIN_COHORT_PLAYERS`].
    pub cohort_mape: Mape,
    /// Acquisition segment (game × channel × country × platform) over all the holdout's
    /// install days, groups of at least [`MIN_COHORT_PLAYERS`]: how far off the sum is for
    /// what optimize-campaigns judges, a segment's installs of several days.
    pub segment_mape: Mape,
    /// The same segments' error without the luck of which of their players went on to spend
    /// (see [`metrics::systematic_error`]): one standard deviation, as a share of a segment's
    /// summed prediction, of what the model misreads on a segment of any size.
    pub segment_systematic_error: Option<f64>,
    /// Σ predicted / Σ actual over the holdout.
    pub total_ratio: Option<f64>,
    /// Mean predicted and actual per predicted decile.
    pub calibration: Vec<Group>,
}

/// Cohorts smaller than this are left out of the cohort MAPE: a handful of players, one of
/// them a whale, is noise no model can predict.
pub const MIN_COHORT_PLAYERS: usize = 50;

/// The holdout players' group keys, one per player, for the group-level errors.
#[derive(Debug, Clone, Copy)]
pub struct HoldoutGroups<'a> {
    /// Install date × game × channel.
    pub cohorts: &'a [String],
    /// Game × channel × country × platform.
    pub segments: &'a [String],
}

impl Scores {
    pub fn of(actual: &[f64], predicted: &[f64], groups: HoldoutGroups) -> Self {
        let calibration = metrics::deciles(actual, predicted);
        let large = |keys: &[String]| -> Vec<Group> {
            metrics::groups_by(keys, actual, predicted)
                .into_iter()
                .filter(|g| g.players >= MIN_COHORT_PLAYERS)
                .collect()
        };
        let segments = large(groups.segments);
        Scores {
            normalized_gini: metrics::normalized_gini(actual, predicted),
            spearman: metrics::spearman(actual, predicted),
            decile_mape: metrics::mape(&calibration),
            cohort_mape: metrics::mape(&large(groups.cohorts)),
            segment_mape: metrics::mape(&segments),
            segment_systematic_error: metrics::systematic_error(&segments),
            total_ratio: metrics::total_ratio(actual, predicted),
            calibration,
        }
    }
}

/// A pLTV model against the heuristic on the same holdout players.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub holdout_players: usize,
    pub model: Scores,
    pub heuristic: Scores,
    /// The model's decile MAPE is below the heuristic's.
    pub beats_heuristic: bool,
}

impl Evaluation {
    pub fn of(actual: &[f64], model: &[f64], heuristic: &[f64], groups: HoldoutGroups) -> Self {
        let model = Scores::of(actual, model, groups);
        let heuristic = Scores::of(actual, heuristic, groups);
        let beats_heuristic = match (model.decile_mape.mape, heuristic.decile_mape.mape) {
            (Some(m), Some(h)) => m < h,
            (Some(_), None) => true,
            _ => false,
        };
        Evaluation {
            holdout_players: actual.len(),
            model,
            heuristic,
            beats_heuristic,
        }
    }
}

/// A power law `revenue per install at day t ∝ (t + 1)^exponent`, fitted by least squares in
/// log–log space to the mature days of the cohort curve from `from_day` on. What carries a
/// D30 prediction to D180 before any cohort is 180 days old.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CohortCurve {
    pub exponent: f64,
    pub fitted_days: (i32, i32),
}

impl CohortCurve {
    /// `points`: (day N, revenue per install, installs) of mature cohort days; each day's
    /// revenue per install is the install-weighted mean over cohorts. `None` with fewer than
    /// two days to fit.
    pub fn fit(points: &[(i32, f64, f64)], from_day: i32) -> Option<Self> {
        // Added in one order whatever order the rows were read in, so a refit is bit-identical.
        let mut points: Vec<(i32, f64, f64)> =
            points.iter().copied().filter(|p| p.0 >= from_day).collect();
        points.sort_by(|a, b| {
            (a.0.cmp(&b.0))
                .then(a.1.total_cmp(&b.1))
                .then(a.2.total_cmp(&b.2))
        });
        let mut by_day: std::collections::BTreeMap<i32, (f64, f64)> = Default::default();
        for &(day, rpi, installs) in &points {
            let entry = by_day.entry(day).or_default();
            entry.0 += rpi * installs;
            entry.1 += installs;
        }
        let xy: Vec<(f64, f64)> = by_day
            .iter()
            .filter(|(_, (revenue, installs))| *installs > 0.0 && *revenue > 0.0)
            .map(|(day, (revenue, installs))| (((*day + 1) as f64).ln(), (revenue / installs).ln()))
            .collect();
        if xy.len() < 2 {
            return None;
        }
        let n = xy.len() as f64;
        let mean_x = xy.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = xy.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = xy.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        let sxy: f64 = xy.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
        let fitted_days = (*by_day.keys().next()?, *by_day.keys().last()?);
        (sxx > 0.0).then(|| CohortCurve {
            exponent: (sxy / sxx).max(0.0),
            fitted_days,
        })
    }

    /// Revenue by day `to` over revenue by day `from`.
    pub fn multiplier(&self, from: i32, to: i32) -> f64 {
        ((to + 1) as f64 / (from + 1) as f64).powf(self.exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heuristic_multiplies_by_the_ratio_of_its_group() {
        let groups: Vec<String> = ["a", "a", "b", "c"].map(String::from).to_vec();
        // a: 10 by day N grows to 30 (×3); b: 5 to 5 (×1); c earned nothing by day N.
        let heuristic = Heuristic::fit(&groups, &[4.0, 6.0, 5.0, 0.0], &[12.0, 18.0, 5.0, 9.0]);
        let predicted = heuristic.predict(
            &["a", "b", "c", "new"].map(String::from),
            &[1.0, 2.0, 1.0, 1.0],
        );
        // Overall ratio 44 / 15 for a group without day-N revenue or unseen.
        assert_eq!(&predicted[..2], [3.0, 2.0]);
        assert!((predicted[2] - 44.0 / 15.0).abs() < 1e-12);
        assert!((predicted[3] - 44.0 / 15.0).abs() < 1e-12);
    }

    #[test]
    fn a_model_that_ranks_and_sizes_better_beats_the_heuristic() {
        let actual: Vec<f64> = (0..200)
            .map(|i| if i % 10 == 0 { i as f64 } else { 0.0 })
            .collect();
        let good: Vec<f64> = actual.iter().map(|a| a * 1.05 + 0.01).collect();
        let flat = vec![actual.iter().sum::<f64>() / 200.0; 200];
        let cohorts = vec!["2026-01-01 meta".to_string(); 200];
        // Segments of 99 and 100 players, and one of a single player, too small to count.
        let segments: Vec<String> = (0..200)
            .map(|i| match i {
                0 => "fq meta BR android",
                _ if i % 2 == 0 => "fq meta US ios",
                _ => "fq meta US android",
            })
            .map(String::from)
            .collect();
        let groups = HoldoutGroups {
            cohorts: &cohorts,
            segments: &segments,
        };
        let evaluation = Evaluation::of(&actual, &good, &flat, groups);
        assert!(evaluation.beats_heuristic, "{evaluation:#?}");
        assert!(evaluation.model.normalized_gini.unwrap() > 0.99);
        // One cohort of 200: both get its total about right; the flat one exactly.
        assert!(evaluation.heuristic.cohort_mape.mape.unwrap() < 1e-9);
        assert_eq!(evaluation.model.cohort_mape.groups, 1);
        // Every payer is in the US iOS segment: the model is 5% (and a cent a player) over
        // on it; the flat guess spreads its revenue over both segments and reads half of it.
        // The Android segment earned nothing, so it has no percentage error.
        assert_eq!(evaluation.model.segment_mape.groups, 1);
        assert_eq!(evaluation.model.segment_mape.groups_without_revenue, 1);
        let model_segment = evaluation.model.segment_mape.mape.unwrap();
        assert!((0.05..0.06).contains(&model_segment), "{model_segment}");
        assert!(evaluation.heuristic.segment_mape.mape.unwrap() > 0.4);
        // Without the payers' luck: the model is still about 5% over; the flat guess misreads
        // both segments by nearly all of their predicted sums.
        let systematic = |scores: &Scores| scores.segment_systematic_error.unwrap();
        assert!((0.04..0.06).contains(&systematic(&evaluation.model)));
        assert!(systematic(&evaluation.heuristic) > 0.8);
        let reversed = Evaluation::of(&actual, &flat, &good, groups);
        assert!(!reversed.beats_heuristic);
    }

    #[test]
    fn a_power_law_curve_is_recovered_and_extrapolated() {
        // revenue per install = 0.5 (t + 1)^0.4, two cohorts of different sizes.
        let points: Vec<(i32, f64, f64)> = (0..60)
            .flat_map(|day| {
                let rpi = 0.5 * ((day + 1) as f64).powf(0.4);
                [(day, rpi, 100.0), (day, rpi, 300.0)]
            })
            .collect();
        let curve = CohortCurve::fit(&points, 7).unwrap();
        assert!((curve.exponent - 0.4).abs() < 1e-9, "{curve:?}");
        assert_eq!(curve.fitted_days, (7, 59));
        assert!((curve.multiplier(30, 180) - (181.0f64 / 31.0).powf(0.4)).abs() < 1e-9);
        assert_eq!(CohortCurve::fit(&points[..2], 0), None);
    }
}
