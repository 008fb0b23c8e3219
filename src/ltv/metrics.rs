//! How good a pLTV or churn prediction is: the measures of the evaluation report, each defined
//! once, here. Inputs are parallel slices (one entry per player) of actual and predicted values.

use std::collections::BTreeMap;

use serde::Serialize;

/// Normalized Gini: how well the prediction ranks players by actual value, 1 for a perfect
/// ranking, 0 for a random one. The Gini of the prediction's ordering divided by the Gini of
/// the ideal ordering (by actual value). `None` when nobody has any value.
pub fn normalized_gini(actual: &[f64], predicted: &[f64]) -> Option<f64> {
    let ideal = gini(actual, actual)?;
    (ideal > 0.0).then(|| gini(actual, predicted).map(|g| g / ideal))?
}

/// Area between the cumulative share of actual value, taking players in descending order of
/// `order_by`, and the diagonal. Ties in `order_by` keep their input order.
fn gini(actual: &[f64], order_by: &[f64]) -> Option<f64> {
    let total: f64 = actual.iter().sum();
    if actual.is_empty() || total <= 0.0 {
        return None;
    }
    let n = actual.len() as f64;
    let mut order: Vec<usize> = (0..actual.len()).collect();
    order.sort_by(|&a, &b| order_by[b].total_cmp(&order_by[a]));
    let mut cumulative = 0.0;
    let mut area = 0.0;
    for (position, &player) in order.iter().enumerate() {
        cumulative += actual[player];
        area += cumulative / total - (position + 1) as f64 / n;
    }
    Some(area / n)
}

/// Spearman rank correlation (ties get their average rank). `None` when either side is
/// constant.
pub fn spearman(actual: &[f64], predicted: &[f64]) -> Option<f64> {
    pearson(&average_ranks(actual), &average_ranks(predicted))
}

fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            ranks[index] = rank;
        }
        start = end + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let (mean_x, mean_y) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mean_x) * (b - mean_y);
        sxx += (a - mean_x).powi(2);
        syy += (b - mean_y).powi(2);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Σ predicted / Σ actual: how much of the players' revenue the predictions account for in
/// all. `None` when nobody earned anything.
pub fn total_ratio(actual: &[f64], predicted: &[f64]) -> Option<f64> {
    let total_actual: f64 = actual.iter().sum();
    (total_actual > 0.0).then(|| predicted.iter().sum::<f64>() / total_actual)
}

/// One group of players: their mean predicted and mean actual value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub label: String,
    pub players: usize,
    pub mean_predicted: f64,
    pub mean_actual: f64,
    /// Mean of (actual − predicted)² over the players: how much of the group's error is the
    /// players' own luck (see [`systematic_error`]). Not part of the calibration table.
    #[serde(skip)]
    pub mean_squared_residual: f64,
}

impl Group {
    /// |predicted − actual| / actual; `None` when the group earned nothing (a relative error
    /// of a zero is undefined, and the low deciles of a zero-inflated value often are zero).
    pub fn absolute_percentage_error(&self) -> Option<f64> {
        (self.mean_actual > 0.0)
            .then(|| (self.mean_predicted - self.mean_actual).abs() / self.mean_actual)
    }
}

/// Players split into ten groups of (nearly) equal size by predicted value, lowest first: the
/// calibration table, and the groups of [`mape`] for the decile MAPE.
pub fn deciles(actual: &[f64], predicted: &[f64]) -> Vec<Group> {
    let mut order: Vec<usize> = (0..actual.len()).collect();
    order.sort_by(|&a, &b| predicted[a].total_cmp(&predicted[b]));
    let n = order.len();
    (0..10)
        .filter_map(|decile| {
            let members = &order[decile * n / 10..(decile + 1) * n / 10];
            (!members.is_empty())
                .then(|| group(format!("D{}", decile + 1), members, actual, predicted))
        })
        .collect()
}

/// Players grouped by `keys` (e.g. install date × channel), in key order.
pub fn groups_by<K: Ord + ToString>(keys: &[K], actual: &[f64], predicted: &[f64]) -> Vec<Group> {
    let mut members: BTreeMap<&K, Vec<usize>> = BTreeMap::new();
    for (index, key) in keys.iter().enumerate() {
        members.entry(key).or_default().push(index);
    }
    members
        .into_iter()
        .map(|(key, players)| group(key.to_string(), &players, actual, predicted))
        .collect()
}

fn group(label: String, members: &[usize], actual: &[f64], predicted: &[f64]) -> Group {
    let n = members.len() as f64;
    Group {
        label,
        players: members.len(),
        mean_predicted: members.iter().map(|&i| predicted[i]).sum::<f64>() / n,
        mean_actual: members.iter().map(|&i| actual[i]).sum::<f64>() / n,
        mean_squared_residual: members
            .iter()
            .map(|&i| (actual[i] - predicted[i]).powi(2))
            .sum::<f64>()
            / n,
    }
}

/// Mean absolute percentage error over the groups that earned something, with how many
/// groups were left out for earning nothing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mape {
    pub mape: Option<f64>,
    pub groups: usize,
    pub groups_without_revenue: usize,
}

pub fn mape(groups: &[Group]) -> Mape {
    let errors: Vec<f64> = groups
        .iter()
        .filter_map(Group::absolute_percentage_error)
        .collect();
    Mape {
        mape: (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64),
        groups: errors.len(),
        groups_without_revenue: groups.len() - errors.len(),
    }
}

/// How far a group's summed prediction is off beyond the luck of its own players, as a share
/// of the sum: one standard deviation of the error a model makes on a whole group of any
/// size. Over `groups` (those of [`groups_by`] large enough to judge).
///
/// A group's error Σp − Σa has two parts. The model may misread the group (a campaign whose
/// players it undervalues): that part is shared by all its players, so it is the same share
/// of the sum for a group of any size. And some players go on to spend more or less than
/// their figure said: that part is independent per player, its variance ≈ Σ(a − p)², and it
/// shrinks against the sum as the group grows. A MAPE over the holdout's groups carries the
/// second part at the holdout's group sizes; this is the first alone, by the method of
/// moments over the groups: Σ_g [(Σp − Σa)² − Σ(a − p)²] / Σ_g (Σp)².
///
/// Whales make those moments noisy: on a holdout of a few thousand players the estimate can
/// land on zero by chance. So the variance taken is the estimate plus its standard error
/// (from the spread of the groups' terms): a holdout too small to tell the model's misreading
/// from luck reads as doubt, not as certainty. A single group has no spread to take that
/// error from, and its own excess is as likely luck as misreading: `None` then, as without a
/// group of that size or any prediction, so that a reader falls back on a figure that carries
/// the luck (the segment MAPE). A one-segment holdout is what a small studio's has.
pub fn systematic_error(groups: &[Group]) -> Option<f64> {
    // Per group: the squared error of its sum beyond luck, and the squared sum it is a share
    // of.
    let terms: Vec<(f64, f64)> = groups
        .iter()
        .map(|g| {
            let players = g.players as f64;
            let (predicted, actual) = (g.mean_predicted * players, g.mean_actual * players);
            (
                (predicted - actual).powi(2) - g.mean_squared_residual * players,
                predicted.powi(2),
            )
        })
        .collect();
    let weight: f64 = terms.iter().map(|(_, w)| w).sum();
    if weight <= 0.0 || terms.len() < 2 {
        return None;
    }
    let variance = terms.iter().map(|(excess, _)| excess).sum::<f64>() / weight;
    let count = terms.len() as f64;
    let scatter: f64 = terms
        .iter()
        .map(|(excess, w)| (excess - variance * w).powi(2))
        .sum();
    let standard_error = (scatter * count / (count - 1.0)).sqrt() / weight;
    Some((variance + standard_error).max(0.0).sqrt())
}

/// Area under the ROC curve of `scores` for the boolean `outcomes` (Mann–Whitney, ties count
/// half). `None` without both outcomes present.
pub fn auc(outcomes: &[bool], scores: &[f64]) -> Option<f64> {
    let ranks = average_ranks(scores);
    let positives = outcomes.iter().filter(|&&o| o).count();
    let negatives = outcomes.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let positive_rank_sum: f64 = ranks
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| **o)
        .map(|(r, _)| r)
        .sum();
    let p = positives as f64;
    Some((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a value");
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[test]
    fn gini_is_one_for_the_ideal_order_and_negative_for_the_reverse() {
        let actual = [0.0, 0.0, 1.0, 5.0, 20.0];
        close(normalized_gini(&actual, &actual), 1.0);
        close(normalized_gini(&actual, &[1.0, 2.0, 3.0, 4.0, 5.0]), 1.0);
        let reversed = normalized_gini(&actual, &[5.0, 4.0, 3.0, 2.0, 1.0]).unwrap();
        assert!(reversed < -0.9, "{reversed}");
        assert_eq!(normalized_gini(&[0.0, 0.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn gini_of_a_partly_right_order_by_hand() {
        // Order by prediction: players 1 (actual 0), 0 (actual 1), 2 (actual 3).
        // Cumulative shares 0, 1/4, 1 against 1/3, 2/3, 1: area (−1/3 − 5/12 + 0) / 3 = −1/4.
        // Ideal order 2, 0, 1: shares 3/4, 1, 1: area (5/12 + 1/3 + 0) / 3 = 1/4.
        close(normalized_gini(&[1.0, 0.0, 3.0], &[2.0, 5.0, 1.0]), -1.0);
        close(normalized_gini(&[1.0, 0.0, 3.0], &[2.0, 1.0, 5.0]), 1.0);
        // Swapping the two lowest: order 2, 1, 0: shares 3/4, 3/4, 1: area (5/12 + 1/12) / 3.
        close(
            normalized_gini(&[1.0, 0.0, 3.0], &[1.0, 2.0, 5.0]),
            (0.5 / 3.0) / 0.25,
        );
    }

    #[test]
    fn spearman_averages_ties() {
        close(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        close(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        assert_eq!(
            average_ranks(&[5.0, 1.0, 5.0, 0.0]),
            vec![3.5, 2.0, 3.5, 1.0]
        );
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn deciles_split_by_prediction_and_mape_skips_groups_without_revenue() {
        let predicted: Vec<f64> = (0..20).map(f64::from).collect();
        let actual: Vec<f64> = (0..20)
            .map(|i| if i < 2 { 0.0 } else { 2.0 * i as f64 })
            .collect();
        let groups = deciles(&actual, &predicted);
        assert_eq!(groups.len(), 10);
        assert!(groups.iter().all(|g| g.players == 2));
        assert_eq!(groups[0].mean_actual, 0.0);
        // Decile 10: players 18, 19: predicted 18.5, actual 37: error 0.5.
        assert_eq!(groups[9].mean_predicted, 18.5);
        close(groups[9].absolute_percentage_error(), 0.5);
        let summary = mape(&groups);
        assert_eq!((summary.groups, summary.groups_without_revenue), (9, 1));
        close(summary.mape, 0.5);
    }

    #[test]
    fn groups_by_key_compare_means() {
        let keys = ["b", "a", "b", "a"];
        let groups = groups_by(&keys, &[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 2.0, 3.0]);
        assert_eq!(groups[0].label, "a");
        assert_eq!(
            (groups[0].mean_predicted, groups[0].mean_actual),
            (3.0, 3.0)
        );
        close(groups[1].absolute_percentage_error(), 0.0);
    }

    #[test]
    fn the_total_ratio_compares_sums() {
        close(total_ratio(&[1.0, 3.0, 0.0], &[0.5, 1.5, 1.0]), 0.75);
        assert_eq!(total_ratio(&[0.0, 0.0], &[1.0, 1.0]), None);
    }

    /// 100 campaigns of 1,600 players, each player spending 10 with chance 1/10: a group's
    /// luck alone is off by about 7.5% of its sum.
    fn campaigns(bias: impl Fn(usize) -> f64) -> (Vec<String>, Vec<f64>, Vec<f64>) {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (mut keys, mut actual, mut predicted) = (Vec::new(), Vec::new(), Vec::new());
        for campaign in 0..100 {
            for _ in 0..1600 {
                keys.push(format!("c{campaign}"));
                actual.push(if rng.random_bool(0.1) { 10.0 } else { 0.0 });
                predicted.push(bias(campaign));
            }
        }
        (keys, actual, predicted)
    }

    #[test]
    fn the_systematic_error_leaves_the_players_luck_out() {
        let mape_of = |(keys, actual, predicted): &(Vec<String>, Vec<f64>, Vec<f64>)| {
            mape(&groups_by(keys, actual, predicted)).mape.unwrap()
        };
        let systematic = |(keys, actual, predicted): &(Vec<String>, Vec<f64>, Vec<f64>)| {
            systematic_error(&groups_by(keys, actual, predicted)).unwrap()
        };
        // A model right on every campaign: the MAPE still reads the players' luck.
        let right = campaigns(|_| 1.0);
        assert!(mape_of(&right) > 0.05, "{}", mape_of(&right));
        // What is left is about the moments' standard error, √0.0008.
        assert!(systematic(&right) < 0.045, "{}", systematic(&right));
        // 30% over on half the campaigns and 30% under on the others: one standard deviation
        // of 0.3 / 1.3 and 0.3 / 0.7 of the predicted sums, pooled, is 0.29.
        let misread = campaigns(|c| if c % 2 == 0 { 1.3 } else { 0.7 });
        let error = systematic(&misread);
        assert!((0.26..0.32).contains(&error), "{error}");
        // With no group large enough to judge there is no estimate.
        assert_eq!(systematic_error(&[]), None);
    }

    #[test]
    fn a_bias_shared_by_every_group_is_systematic_and_luck_alone_is_not() {
        // Every campaign 20% over: one sixth of the predicted sums.
        let over = campaigns(|_| 1.2);
        let error = systematic_error(&groups_by(&over.0, &over.1, &over.2)).unwrap();
        assert!((0.15..0.19).contains(&error), "{error}");
        // One group of two players, 8 predicted and 10 spent: squared residuals of 52 explain
        // an error of 2, but one group has no spread to tell the model's share of an error
        // from luck by, so it measures nothing (it used to read as no error at all).
        let pair = groups_by(&["a", "a"], &[0.0, 10.0], &[4.0, 4.0]);
        assert_eq!(pair[0].mean_squared_residual, 26.0);
        assert_eq!(systematic_error(&pair), None);
        // A second group, as far off as the first, gives a figure.
        let two = groups_by(&["a", "a", "b", "b"], &[0.0, 10.0, 0.0, 10.0], &[4.0; 4]);
        assert!(systematic_error(&two).is_some());
    }

    #[test]
    fn auc_counts_ordered_pairs_and_half_the_ties() {
        close(auc(&[false, false, true, true], &[0.1, 0.2, 0.8, 0.9]), 1.0);
        close(auc(&[true, true, false, false], &[0.1, 0.2, 0.8, 0.9]), 0.0);
        // Pairs (positive, negative): (0.5, 0.5) tie = 1/2, (0.5, 0.1) = 1, (0.9, …) = 2.
        close(
            auc(&[true, false, true, false], &[0.5, 0.5, 0.9, 0.1]),
            3.5 / 4.0,
        );
        assert_eq!(auc(&[true, true], &[0.1, 0.2]), None);
    }
}
