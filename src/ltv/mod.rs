//! Predicted lifetime value: what `train-ltv` fits and `score-ltv` applies.
//!
//! - [`features`]: a player's first N days as model inputs, and the labels of matured players;
//! - [`model`]: XGBoost training and prediction (the only module that talks to XGBoost);
//! - [`metrics`] and [`evaluation`]: the holdout report against the industry heuristic;
//! - [`registry`]: the trained models of `gold.ltv_models`, loaded to score.

pub mod evaluation;
pub mod features;
pub mod metrics;
pub mod model;
pub mod registry;
