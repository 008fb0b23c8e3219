//! The optimizer's thresholds (`config/optimizer.yaml`, or `--config`), checked once at start.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::ad_platforms::ApiSettings;

pub const DEFAULT_PATH: &str = "config/optimizer.yaml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the optimizer config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the optimizer config {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub lookback_days: u32,
    pub min_installs: u64,
    pub roas_floor_d30: f64,
    pub floor_days: u32,
    /// How sure a window must be that pROAS D30 is under the floor to pause it although a
    /// recent day reads over (a chance, 0 to 1); a recent day as sure to be over it still
    /// holds the pause off.
    pub pause_confidence: f64,
    pub roas_target_d30: f64,
    /// How sure a Scale must be that pROAS D30 is over the floor (a chance, 0 to 1).
    pub scale_confidence: f64,
    pub max_step_up: f64,
    pub max_step_down: f64,
    pub min_budget_change: f64,
    pub meta_max_budget_changes_per_hour: u32,
    pub total_daily_budget_usd: Option<f64>,
    pub exploration_share: f64,
    pub thompson_draws: u32,
    pub seed: u64,
    pub sharp_drop: f64,
    pub api: ApiSettings,
}

impl OptimizerConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let config: OptimizerConfig =
            serde_yaml_ng::from_str(text).map_err(|err| err.to_string())?;
        config.check()?;
        Ok(config)
    }

    /// What serde cannot see: ranges and the order of floor and target.
    fn check(&self) -> Result<(), String> {
        let share = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(format!("{name} is {value}; it is a share between 0 and 1"))
            }
        };
        share("max_step_down", self.max_step_down)?;
        share("min_budget_change", self.min_budget_change)?;
        share("exploration_share", self.exploration_share)?;
        share("sharp_drop", self.sharp_drop)?;
        share("scale_confidence", self.scale_confidence)?;
        share("pause_confidence", self.pause_confidence)?;
        if !(self.max_step_up >= 0.0 && self.max_step_up.is_finite()) {
            return Err(format!(
                "max_step_up is {}; use 0 or more",
                self.max_step_up
            ));
        }
        if !(self.roas_floor_d30 > 0.0 && self.roas_floor_d30 < self.roas_target_d30) {
            return Err(format!(
                "roas_floor_d30 ({}) must be above 0 and below roas_target_d30 ({})",
                self.roas_floor_d30, self.roas_target_d30
            ));
        }
        if self.lookback_days == 0 || self.floor_days == 0 || self.floor_days > self.lookback_days {
            return Err(format!(
                "floor_days ({}) must be between 1 and lookback_days ({})",
                self.floor_days, self.lookback_days
            ));
        }
        if self.thompson_draws == 0 || self.api.max_attempts == 0 {
            return Err("thompson_draws and api.max_attempts must be at least 1".into());
        }
        if let Some(total) = self.total_daily_budget_usd
            && !(total >= 0.0 && total.is_finite())
        {
            return Err(format!("total_daily_budget_usd is {total}; use 0 or more"));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) fn default_config() -> OptimizerConfig {
    OptimizerConfig::parse(include_str!("../../../config/optimizer.yaml"))
        .expect("the shipped config is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_is_valid() {
        let config = default_config();
        assert_eq!(config.floor_days, 3);
        assert!(config.roas_floor_d30 < config.roas_target_d30);
    }

    #[test]
    fn a_floor_above_the_target_is_refused() {
        let text = include_str!("../../../config/optimizer.yaml")
            .replace("roas_floor_d30: 0.8", "roas_floor_d30: 1.5");
        let err = OptimizerConfig::parse(&text).unwrap_err();
        assert!(err.contains("roas_floor_d30"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = format!(
            "{}\nroas_flor: 1\n",
            include_str!("../../../config/optimizer.yaml")
        );
        assert!(OptimizerConfig::parse(&text).is_err());
    }
}
