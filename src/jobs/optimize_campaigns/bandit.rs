//! The second layer: a Thompson-sampling reallocation of the total daily budget across the
//! segments the rules did not pause.
//!
//! Each segment's pROAS D30 is read as a normal belief (its estimate and interval). A draw
//! samples every belief once and the best segment wins the draw; a segment's budget weight is
//! the share of draws it wins (probability matching, Thompson sampling's allocation), mixed
//! with a minimum share for exploration so a segment the model is unsure of keeps learning.
//! The weights then meet each segment's bounds (the rules' verdict and the daily step cap)
//! without ever spending more than the total.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// A segment's belief about its pROAS: mean and standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Belief {
    pub mean: f64,
    pub sd: f64,
}

/// The share of `draws` each belief wins; the same seed gives the same shares.
pub fn probability_best(beliefs: &[Belief], draws: u32, seed: u64) -> Vec<f64> {
    let mut wins = vec![0u32; beliefs.len()];
    if beliefs.is_empty() {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normals: Vec<Option<Normal<f64>>> = beliefs
        .iter()
        .map(|b| Normal::new(b.mean, b.sd).ok().filter(|_| b.sd > 0.0))
        .collect();
    for _ in 0..draws {
        let mut best = (0, f64::NEG_INFINITY);
        for (index, (belief, normal)) in beliefs.iter().zip(&normals).enumerate() {
            let sample = match normal {
                Some(normal) => normal.sample(&mut rng),
                None => belief.mean,
            };
            if sample > best.1 {
                best = (index, sample);
            }
        }
        wins[best.0] += 1;
    }
    wins.iter().map(|&w| w as f64 / draws as f64).collect()
}

/// `(1 − n·e)·p + e` for each share `p`: every segment keeps at least `e` of the weight
/// (`e` shrinks to `1/n` when `n·e` would exceed the whole).
pub fn with_exploration(shares: &[f64], exploration: f64) -> Vec<f64> {
    let n = shares.len() as f64;
    let floor = exploration.min(1.0 / n.max(1.0));
    shares
        .iter()
        .map(|p| (1.0 - n * floor) * p + floor)
        .collect()
}

/// Splits `total` by `weights` within each segment's `(low, high)` bounds: what one segment
/// cannot take (its cap) goes to the others by weight, and what the floors demand beyond the
/// total is taken back from them. The result never sums above `total` and meets every bound
/// unless the floors alone exceed the total, in which case all floors shrink alike.
pub fn allocate(total: f64, weights: &[f64], bounds: &[(f64, f64)]) -> Vec<f64> {
    assert_eq!(weights.len(), bounds.len(), "one weight per bound");
    let floors: f64 = bounds.iter().map(|b| b.0).sum();
    if floors >= total {
        let scale = if floors > 0.0 { total / floors } else { 0.0 };
        return bounds.iter().map(|b| b.0 * scale).collect();
    }
    // Water-filling: a level λ gives each segment clamp(λ·weight, low, high); the sum grows
    // with λ, so bisection finds the level that spends the total (or every cap is reached).
    let spent = |level: f64| -> f64 {
        weights
            .iter()
            .zip(bounds)
            .map(|(w, (low, high))| (level * w).clamp(*low, *high))
            .sum()
    };
    let caps: f64 = bounds.iter().map(|b| b.1).sum();
    if caps <= total {
        return bounds.iter().map(|b| b.1).collect();
    }
    let (mut low_level, mut high_level) = (0.0, 1.0);
    while spent(high_level) < total {
        high_level *= 2.0;
        if !high_level.is_finite() {
            break;
        }
    }
    for _ in 0..200 {
        let mid = (low_level + high_level) / 2.0;
        if spent(mid) < total {
            low_level = mid;
        } else {
            high_level = mid;
        }
    }
    weights
        .iter()
        .zip(bounds)
        .map(|(w, (low, high))| (low_level * w).clamp(*low, *high))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clearly_better_segment_wins_most_draws_and_the_seed_repeats() {
        let beliefs = [
            Belief { mean: 1.5, sd: 0.1 },
            Belief { mean: 1.0, sd: 0.1 },
            Belief {
                mean: 1.45,
                sd: 0.3,
            },
        ];
        let shares = probability_best(&beliefs, 4000, 7);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(shares[0] > shares[2] && shares[2] > shares[1], "{shares:?}");
        assert!(shares[1] < 0.01, "{shares:?}");
        assert_eq!(shares, probability_best(&beliefs, 4000, 7));
        assert_ne!(shares, probability_best(&beliefs, 4000, 8));
    }

    #[test]
    fn exploration_gives_every_segment_its_minimum() {
        let weights = with_exploration(&[1.0, 0.0, 0.0, 0.0], 0.05);
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((weights[1] - 0.05).abs() < 1e-12);
        assert!((weights[0] - 0.85).abs() < 1e-12);
        // Twenty-five segments at 5% would be more than the whole: each gets 1/25.
        let many = with_exploration(&[0.04; 25], 0.05);
        assert!(many.iter().all(|w| (w - 0.04).abs() < 1e-12), "{many:?}");
    }

    #[test]
    fn allocation_respects_caps_and_never_exceeds_the_total() {
        // A favourite capped at +50% of 500 hands the rest to the others by weight.
        let weights = [0.8, 0.1, 0.1];
        let bounds = [(500.0, 750.0), (250.0, 500.0), (500.0, 750.0)];
        let budget = allocate(1800.0, &weights, &bounds);
        assert!(
            (budget.iter().sum::<f64>() - 1800.0).abs() < 1e-6,
            "{budget:?}"
        );
        assert!((budget[0] - 750.0).abs() < 1e-6, "{budget:?}");
        for (b, (low, high)) in budget.iter().zip(bounds) {
            assert!(*b >= low - 1e-9 && *b <= high + 1e-9, "{budget:?}");
        }
        assert!(
            (budget[1] - 500.0).abs() < 1e-6 && (budget[2] - 550.0).abs() < 1e-6,
            "{budget:?}"
        );
    }

    #[test]
    fn caps_below_the_total_leave_budget_unspent_and_floors_above_it_shrink() {
        let bounds = [(100.0, 150.0), (100.0, 150.0)];
        assert_eq!(allocate(1000.0, &[0.5, 0.5], &bounds), vec![150.0, 150.0]);
        let shrunk = allocate(100.0, &[0.9, 0.1], &bounds);
        assert_eq!(shrunk, vec![50.0, 50.0]);
    }

    #[test]
    fn weights_split_the_total_when_no_bound_binds() {
        let budget = allocate(1000.0, &[0.75, 0.25], &[(0.0, 1000.0), (0.0, 1000.0)]);
        assert!(
            (budget[0] - 750.0).abs() < 1e-6 && (budget[1] - 250.0).abs() < 1e-6,
            "{budget:?}"
        );
    }
}
