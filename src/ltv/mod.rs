//! Predicted lifetime value: what `train-ltv` fits and `score-ltv` applies.
//!
//! - [`features`]: a player's first N days as model inputs, and the labels of matured players;
//! - [`model`]: XGBoost training and prediction (the only module that talks to XGBoost);
//!   `forest` walks a trained booster's trees for its predictions;
//! - [`metrics`] and [`evaluation`]: the holdout report against the industry heuristic;
//! - [`registry`]: the trained models of `gold.ltv_models`, loaded to score;
//! - [`share_to_come`]: how much of a model's prediction a player has still to live through,
//!   which score-ltv adds to their revenue and optimize-campaigns doubts.

pub mod evaluation;
pub mod features;
mod forest;
pub mod metrics;
pub mod model;
pub mod registry;

use polars::prelude::{DataType, Expr, lit};

/// The share of what a window-`n` model predicts after day `n` that is still to come for a
/// player `age` days old, by the `horizon`: all of it at the end of the window, none at the
/// horizon, and in between in proportion to the days left. A player scored past their
/// window's end has earned some of that revenue already, and it counts as earned, not as
/// prediction. Every model train-ltv fits has `horizon > n`; a null input gives null.
pub fn share_to_come(horizon: Expr, observation_days: Expr, age_days: Expr) -> Expr {
    let days = |expr: Expr| expr.cast(DataType::Float64);
    let horizon = days(horizon);
    ((horizon.clone() - days(age_days)) / (horizon - days(observation_days)))
        .clip(lit(0.0), lit(1.0))
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    #[test]
    fn the_share_to_come_runs_from_the_window_to_the_horizon() {
        let players = df!(
            "observation_days" => [Some(7), Some(7), Some(7), Some(7), Some(1), None],
            "age_days" => [Some(7), Some(18), Some(30), Some(45), Some(3), Some(9)],
        )
        .unwrap();
        let shares = players
            .lazy()
            .select([super::share_to_come(
                lit(30),
                col("observation_days"),
                col("age_days"),
            )])
            .collect()
            .unwrap();
        let shares: Vec<Option<f64>> = shares[0].f64().unwrap().iter().collect();
        assert_eq!(
            shares,
            [
                Some(1.0),
                Some(12.0 / 23.0),
                Some(0.0),
                Some(0.0),
                Some(27.0 / 29.0),
                None
            ]
        );
    }
}
