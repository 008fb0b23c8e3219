//! What a campaign segment (campaign × country × platform) bought in the judged install days:
//! spend, installs, CPI, predicted ROAS D30/D180 with an interval, actual ROAS to date and a
//! payback estimate, from Gold's players, their newest pLTV scores and Silver's spend.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::date_range::from_days_since_epoch;
use crate::lake::{count_column, float_column, string_column};

/// z of a two-sided 90% interval.
const Z_90: f64 = 1.645;
/// sqrt(pi/2): the standard deviation of a normal error whose mean absolute value is 1.
const MEAN_ABSOLUTE_TO_SD: f64 = 1.253_314;
/// The horizon the decisions read.
pub const HORIZON_DAYS: i32 = 30;

/// The unit decisions are made for: what the ad platforms report spend by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Segment {
    pub game_id: String,
    pub campaign_id: String,
    pub country_code: String,
    /// Device platform (ios, android).
    pub platform: String,
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}/{}",
            self.game_id, self.campaign_id, self.country_code, self.platform
        )
    }
}

/// One install day of a segment: sums over its attributed players and the day's spend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentDay {
    pub spend_usd: f64,
    pub installs: u64,
    /// Revenue the players have earned so far.
    pub revenue_to_date: f64,
    /// Σ predicted LTV at D7, D30, D180.
    pub predicted: [f64; 3],
    /// Σ (predicted D30)², for the spread of player values.
    pub predicted_d30_squares: f64,
    /// Σ [`model_doubt_d30`] over the players: one standard deviation of the D30 sum that
    /// comes from the model rather than from which players happened to install.
    pub model_uncertainty_d30: f64,
    /// Players with no score (no promoted model covered them): counted at revenue to date.
    pub unscored: u64,
}

impl SegmentDay {
    /// Predicted D30 revenue over spend, with its interval; `None` where nothing was spent.
    fn predicted_roas_d30(&self) -> Option<Estimate> {
        ratio_over_spend(self.predicted[1], predicted_interval(self), self.spend_usd)
    }

    fn add(&mut self, other: &SegmentDay) {
        self.spend_usd += other.spend_usd;
        self.installs += other.installs;
        self.revenue_to_date += other.revenue_to_date;
        for (sum, value) in self.predicted.iter_mut().zip(other.predicted) {
            *sum += value;
        }
        self.predicted_d30_squares += other.predicted_d30_squares;
        self.model_uncertainty_d30 += other.model_uncertainty_d30;
        self.unscored += other.unscored;
    }
}

/// A ratio with its 90% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// The spread of the belief the interval describes, read back as a normal: what a Thompson
    /// draw samples from. Read from the high end, since the low end is cut at zero.
    pub fn sd(&self) -> f64 {
        (self.high - self.value) / Z_90
    }

    /// The chance that the ratio is at least `threshold`, by the same normal belief.
    pub fn chance_at_least(&self, threshold: f64) -> f64 {
        let sd = self.sd();
        if sd > 0.0 {
            0.5 * libm::erfc((threshold - self.value) / (sd * std::f64::consts::SQRT_2))
        } else if self.value >= threshold {
            1.0
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentMetrics {
    pub segment: Segment,
    pub media_source: String,
    pub campaign_name: Option<String>,
    pub window: SegmentDay,
    pub cpi_usd: Option<f64>,
    pub predicted_roas_d30: Option<Estimate>,
    pub predicted_roas_d180: Option<Estimate>,
    pub actual_roas_to_date: Option<f64>,
    /// Day after install when predicted revenue covers the spend; `None` past D180.
    pub payback_days: Option<u32>,
    /// pROAS D30 of each of the newest install days, with its interval, oldest first; `None`
    /// where nothing was spent.
    pub daily_roas_d30: Vec<Option<Estimate>>,
}

impl SegmentMetrics {
    /// The window's figures from its install days (in day order).
    pub fn from_days(
        segment: Segment,
        media_source: String,
        campaign_name: Option<String>,
        days: &BTreeMap<NaiveDate, SegmentDay>,
        newest_days: usize,
    ) -> Self {
        let mut window = SegmentDay::default();
        for day in days.values() {
            window.add(day);
        }
        let spend = window.spend_usd;
        let [_, sum_d30, sum_d180] = window.predicted;
        let interval_d30 = predicted_interval(&window);
        let growth_d180 = if sum_d30 > 0.0 {
            sum_d180 / sum_d30
        } else {
            1.0
        };
        let daily_roas_d30 = days
            .values()
            .rev()
            .take(newest_days)
            .map(SegmentDay::predicted_roas_d30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        SegmentMetrics {
            cpi_usd: (window.installs > 0).then(|| spend / window.installs as f64),
            predicted_roas_d30: ratio_over_spend(sum_d30, interval_d30, spend),
            predicted_roas_d180: ratio_over_spend(sum_d180, interval_d30 * growth_d180, spend),
            actual_roas_to_date: (spend > 0.0).then(|| window.revenue_to_date / spend),
            payback_days: payback_day(spend, window.predicted),
            daily_roas_d30,
            segment,
            media_source,
            campaign_name,
            window,
        }
    }
}

/// A revenue `sum` ± `half_width` over `spend`; the low end stops at zero.
fn ratio_over_spend(sum: f64, half_width: f64, spend: f64) -> Option<Estimate> {
    (spend > 0.0).then(|| Estimate {
        value: sum / spend,
        low: ((sum - half_width) / spend).max(0.0),
        high: (sum + half_width) / spend,
    })
}

/// Half the 90% interval of the D30 revenue the campaign's installs are worth, as the model
/// reads them: the spread of this many players' predicted values (another cohort of the same
/// size would read differently) together with the model's own doubt (see
/// [`model_doubt_d30`]).
///
/// Which of the players will turn into a whale after the days the model saw is not in it: a
/// normal term for that lottery (the holdout's Σ(actual − predicted)² per predicted dollar)
/// put the low end of every launch campaign's interval at zero, winners and losers alike,
/// since a sum driven by a few whales is far from normal.
fn predicted_interval(window: &SegmentDay) -> f64 {
    let n = window.installs as f64;
    if n == 0.0 {
        return 0.0;
    }
    let mean = window.predicted[1] / n;
    let variance = (window.predicted_d30_squares / n - mean * mean).max(0.0);
    let sampling = (n * variance).sqrt();
    Z_90 * sampling.hypot(window.model_uncertainty_d30)
}

/// The first day after install by which predicted revenue covers `spend`, reading the
/// cumulative curve as straight lines between D0, D7, D30 and D180; `None` when D180 falls
/// short.
fn payback_day(spend: f64, predicted: [f64; 3]) -> Option<u32> {
    if spend <= 0.0 {
        return None;
    }
    let curve = [
        (0.0, 0.0),
        (7.0, predicted[0]),
        (30.0, predicted[1]),
        (180.0, predicted[2]),
    ];
    curve.windows(2).find_map(|pair| {
        let ((d0, r0), (d1, r1)) = (pair[0], pair[1]);
        (r1 >= spend && r1 > r0)
            .then(|| (d0 + (spend - r0).max(0.0) / (r1 - r0) * (d1 - d0)).ceil() as u32)
    })
}

/// One player's share of a segment's model doubt: one standard deviation, in dollars, of
/// what their predicted D30 may be off by.
///
/// - The error is the one train-ltv measured for the D30 model that scored the player, on its
///   holdout of later installs: how far the summed prediction of an acquisition segment
///   (game × channel × country × platform, several install days), which is what a pROAS is,
///   is misread, without the luck of which of the holdout segment's players went on to spend
///   (that luck, at the holdout's segment sizes, is most of a segment MAPE). A model that
///   misreads a campaign misreads all its installs alike, so the players' shares add up as
///   one shared error, not as independent ones.
/// - A model trained before that was measured, or whose holdout had a single segment (no
///   spread to measure it by), has the segment's mean absolute error, luck and all, read as
///   a normal's; where the holdout had no segment large enough, the install
///   day × channel cohort error stands in, then the decile error (a player-level figure,
///   wider).
/// - It applies to the revenue still to come: measured at the model's window N, it shrinks
///   with the days observed since and is gone at day 30.
/// - An unscored player, counted at revenue to date, is all doubt.
///
/// Reads `predicted_ltv_d30`, `revenue_to_date`, `age_days` and `observation_days` (from the
/// scores) and the errors of [`crate::ltv::registry::holdout_errors`].
pub fn model_doubt_d30() -> Expr {
    let to_come =
        crate::ltv::share_to_come(lit(HORIZON_DAYS), col("observation_days"), col("age_days"));
    let mean_absolute = coalesce(&[col("segment_mape"), col("cohort_mape"), col("decile_mape")]);
    let sd = coalesce(&[
        col("segment_systematic_error"),
        mean_absolute * lit(MEAN_ABSOLUTE_TO_SD),
    ]);
    let predicted = coalesce(&[col("predicted_ltv_d30"), col("revenue_to_date")]);
    predicted * (to_come * sd).fill_null(lit(1.0))
}

/// Install-day sums per segment, from the judged players (with their scores joined) and the
/// spend of the same days. `players`: `game_id`, `campaign_id`, `country_code`, `platform`,
/// `acquisition_date`, `revenue_to_date`, `predicted_ltv_d7/d30/d180`, and the columns
/// [`model_doubt_d30`] reads.
/// `spend`: `game_id`, `campaign_id`, `country_code`, `platform`, `spend_date`, `spend_usd`.
pub fn segment_days(
    players: DataFrame,
    spend: DataFrame,
) -> PolarsResult<BTreeMap<Segment, BTreeMap<NaiveDate, SegmentDay>>> {
    let keys = || {
        [
            col("game_id"),
            col("campaign_id"),
            col("country_code"),
            col("platform"),
            col("day"),
        ]
    };
    let predicted = |horizon: &str| {
        coalesce(&[
            col(format!("predicted_ltv_{horizon}")),
            col("revenue_to_date"),
        ])
    };
    let by_players = players
        .lazy()
        .rename(["acquisition_date"], ["day"], true)
        .group_by(keys())
        .agg([
            len().cast(DataType::UInt64).alias("installs"),
            col("revenue_to_date").sum(),
            predicted("d7").sum().alias("predicted_d7"),
            predicted("d30").sum().alias("predicted_d30"),
            predicted("d180").sum().alias("predicted_d180"),
            (predicted("d30") * predicted("d30"))
                .sum()
                .alias("predicted_d30_squares"),
            model_doubt_d30().sum().alias("model_uncertainty_d30"),
            col("predicted_ltv_d30")
                .is_null()
                .cast(DataType::UInt64)
                .sum()
                .alias("unscored"),
        ]);
    let by_spend = spend
        .lazy()
        .rename(["spend_date"], ["day"], true)
        .group_by(keys())
        .agg([col("spend_usd").sum()]);
    let joined = by_players
        .join(
            by_spend,
            keys(),
            keys(),
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .with_column(col("day").cast(DataType::Int32))
        .collect()?;

    let text = |name: &str| string_column(&joined, name);
    let float = |name: &str| float_column(&joined, name);
    let count = |name: &str| count_column(&joined, name);
    let (games, campaigns, countries, platforms) = (
        text("game_id")?,
        text("campaign_id")?,
        text("country_code")?,
        text("platform")?,
    );
    let days: Vec<Option<i32>> = joined.column("day")?.i32()?.iter().collect();
    let (installs, unscored) = (count("installs")?, count("unscored")?);
    let (spend_usd, revenue) = (float("spend_usd")?, float("revenue_to_date")?);
    let (d7, d30, d180) = (
        float("predicted_d7")?,
        float("predicted_d30")?,
        float("predicted_d180")?,
    );
    let (squares, uncertainty) = (
        float("predicted_d30_squares")?,
        float("model_uncertainty_d30")?,
    );

    let mut segments: BTreeMap<Segment, BTreeMap<NaiveDate, SegmentDay>> = BTreeMap::new();
    for row in 0..joined.height() {
        let (Some(game_id), Some(campaign_id), Some(day)) = (
            games[row].clone(),
            campaigns[row].clone(),
            days[row].and_then(from_days_since_epoch),
        ) else {
            continue;
        };
        let segment = Segment {
            game_id,
            campaign_id,
            country_code: countries[row].clone().unwrap_or_default(),
            platform: platforms[row].clone().unwrap_or_default(),
        };
        segments.entry(segment).or_default().insert(
            day,
            SegmentDay {
                spend_usd: spend_usd[row],
                installs: installs[row],
                revenue_to_date: revenue[row],
                predicted: [d7[row], d30[row], d180[row]],
                predicted_d30_squares: squares[row],
                model_uncertainty_d30: uncertainty[row],
                unscored: unscored[row],
            },
        );
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment() -> Segment {
        Segment {
            game_id: "fq".into(),
            campaign_id: "c1".into(),
            country_code: "US".into(),
            platform: "ios".into(),
        }
    }

    fn day(spend: f64, installs: u64, d30: f64) -> SegmentDay {
        SegmentDay {
            spend_usd: spend,
            installs,
            revenue_to_date: d30 / 4.0,
            predicted: [d30 / 2.0, d30, d30 * 2.0],
            // Every player predicted the same: no spread between players.
            predicted_d30_squares: d30 * d30 / installs as f64,
            model_uncertainty_d30: 0.0,
            unscored: 0,
        }
    }

    #[test]
    fn window_ratios_are_sums_over_spend() {
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let days: BTreeMap<_, _> = (0..4)
            .map(|i| {
                (
                    first + chrono::Days::new(i),
                    day(100.0, 50, 60.0 + i as f64 * 10.0),
                )
            })
            .collect();
        let metrics = SegmentMetrics::from_days(segment(), "x".into(), None, &days, 3);
        assert_eq!(metrics.window.installs, 200);
        assert_eq!(metrics.cpi_usd, Some(2.0));
        let d30 = metrics.predicted_roas_d30.unwrap();
        // (60 + 70 + 80 + 90) / 400
        assert!((d30.value - 0.75).abs() < 1e-12);
        // No model doubt; players are worth 1.2, 1.4, 1.6 or 1.8 by install day (variance
        // 0.05): the interval is the spread of 200 such players' sum.
        let half = Z_90 * (200.0f64 * 0.05).sqrt() / 400.0;
        assert!((d30.high - 0.75 - half).abs() < 1e-9, "{d30:?}");
        assert!((0.75 - d30.low - half).abs() < 1e-9, "{d30:?}");
        assert!((metrics.predicted_roas_d180.unwrap().value - 1.5).abs() < 1e-12);
        let daily: Vec<_> = metrics.daily_roas_d30.iter().flatten().collect();
        assert_eq!(
            daily.iter().map(|d| d.value).collect::<Vec<_>>(),
            vec![0.7, 0.8, 0.9]
        );
        // Each day's players are worth the same: a day's own interval has no width.
        assert!(
            daily.iter().all(|d| d.high - d.low < 1e-6),
            "{:?}",
            metrics.daily_roas_d30
        );
        assert!((metrics.actual_roas_to_date.unwrap() - 0.1875).abs() < 1e-12);
    }

    /// The interval read as a normal belief: sd 1 when the high end is 1.645 over the value,
    /// whatever the low end was cut to.
    #[test]
    fn an_estimate_is_a_normal_belief_read_from_its_high_end() {
        let roas = Estimate {
            value: 0.5,
            low: 0.0,
            high: 0.5 + Z_90,
        };
        assert!((roas.sd() - 1.0).abs() < 1e-12, "{roas:?}");
        for (threshold, chance) in [(0.5, 0.5), (-0.5, 0.841_345), (1.5, 0.158_655)] {
            let got = roas.chance_at_least(threshold);
            assert!((got - chance).abs() < 1e-6, "{threshold}: {got}");
        }
        let sure = Estimate {
            value: 1.0,
            low: 1.0,
            high: 1.0,
        };
        assert_eq!(sure.chance_at_least(1.0), 1.0);
        assert_eq!(sure.chance_at_least(1.01), 0.0);
    }

    #[test]
    fn model_doubt_and_player_spread_widen_the_interval() {
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut spread = day(100.0, 100, 100.0);
        // Values of 0 and 2 in equal numbers: variance 1 per player.
        spread.predicted_d30_squares = 200.0;
        spread.model_uncertainty_d30 = 10.0;
        let days = BTreeMap::from([(first, spread)]);
        let d30 = SegmentMetrics::from_days(segment(), "x".into(), None, &days, 3)
            .predicted_roas_d30
            .unwrap();
        // sqrt(100 × 1) = 10 from the players, 10 from the model: hypot = 14.14.
        let half = Z_90 * 200f64.sqrt() / 100.0;
        assert!((d30.high - 1.0 - half).abs() < 1e-9, "{d30:?}");
        assert!((1.0 - d30.low - half).abs() < 1e-9, "{d30:?}");
        assert!((d30.sd() - 200f64.sqrt() / 100.0).abs() < 1e-9);
    }

    #[test]
    fn model_doubt_is_the_measured_error_of_the_revenue_still_to_come() {
        let players = df!(
            "predicted_ltv_d30" => [Some(10.0), Some(10.0), Some(10.0), Some(10.0), Some(10.0), Some(10.0), None],
            "revenue_to_date" => [1.0, 1.0, 10.0, 1.0, 1.0, 1.0, 2.0],
            "age_days" => [Some(7), Some(18), Some(30), Some(7), Some(7), Some(7), None],
            "observation_days" => [Some(7), Some(7), Some(7), Some(7), Some(7), Some(7), None],
            "segment_systematic_error" => [Some(0.04), Some(0.04), Some(0.04), None, None, None, None],
            "segment_mape" => [Some(0.1), Some(0.1), Some(0.1), Some(0.1), None, None, None],
            "cohort_mape" => [Some(0.2), Some(0.2), Some(0.2), Some(0.2), Some(0.2), None, None],
            "decile_mape" => [Some(0.5), Some(0.5), Some(0.5), Some(0.5), Some(0.5), Some(0.5), None],
        )
        .unwrap();
        let doubt = players
            .lazy()
            .select([model_doubt_d30().alias("doubt")])
            .collect()
            .unwrap();
        let doubt = float_column(&doubt, "doubt").unwrap();
        let sd = |mape: f64| mape * MEAN_ABSOLUTE_TO_SD;
        let expected = [
            // Scored at the end of its window: all of the rest is in doubt, by the segment's
            // systematic error, a standard deviation already.
            10.0 * 0.04,
            // 12 of the 23 days still to come after day 7.
            10.0 * 0.04 * 12.0 / 23.0,
            // Day 30 reached: the prediction is the actual.
            0.0,
            // A model from before the systematic error: its segment MAPE read as a normal's.
            10.0 * sd(0.1),
            // No segment on the model's holdout: the cohort error, then the decile error.
            10.0 * sd(0.2),
            10.0 * sd(0.5),
            // Unscored: revenue to date, all doubt.
            2.0,
        ];
        for (got, want) in doubt.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{doubt:?} vs {expected:?}");
        }
    }

    #[test]
    fn payback_interpolates_the_revenue_curve() {
        // 70 by D7, 130 by D30, 400 by D180.
        let predicted = [70.0, 130.0, 400.0];
        assert_eq!(payback_day(35.0, predicted), Some(4)); // 3.5 → day 4
        assert_eq!(payback_day(100.0, predicted), Some(19)); // 7 + 30/60 × 23 = 18.5
        assert_eq!(payback_day(130.0, predicted), Some(30));
        assert_eq!(payback_day(401.0, predicted), None);
        assert_eq!(payback_day(0.0, predicted), None);
    }
}
