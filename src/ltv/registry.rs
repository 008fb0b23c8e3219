//! Reading the model registry (`gold.ltv_models`, written by train-ltv): which version scores a
//! day, and its models ready to predict.

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;

use super::features::Vocabulary;
use super::model::{Model, ModelError};
use crate::lake::{Lake, LakeError};
use crate::tables::gold;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("gold.ltv_models holds no model version {0}; `train-ltv` lists the version it records")]
    UnknownVersion(String),
    #[error(
        "gold.ltv_models has no promoted model trained on data up to {0}: run train-ltv \
         --as-of {0} (or earlier), or pick a version with --model-version"
    )]
    NothingPromoted(NaiveDate),
    #[error(
        "model {version} {target} N={observation_days} was trained on other features than this \
         build computes; retrain it with this build"
    )]
    FeaturesChanged {
        version: String,
        target: String,
        observation_days: i32,
    },
    #[error("model {version} {target} N={observation_days}: {detail}")]
    Corrupt {
        version: String,
        target: String,
        observation_days: i32,
        detail: String,
    },
    #[error("loading model {version} {target} N={observation_days}: {source}")]
    Booster {
        version: String,
        target: String,
        observation_days: i32,
        source: ModelError,
    },
}

/// How a registered model turns features into a prediction.
pub enum Method {
    /// An XGBoost booster over the features of [`Vocabulary::feature_names`].
    Xgboost {
        model: Model,
        // Boxed: beside a booster, a cohort curve is one number.
        vocabulary: Box<Vocabulary>,
    },
    /// The D30 prediction of the same window times this cohort-curve growth.
    CohortCurve { multiplier: f64 },
}

/// One model of a version, loaded.
pub struct RegisteredModel {
    pub target: String,
    pub observation_days: i32,
    pub method: Method,
    pub promoted: bool,
    /// Decile MAPE of the model on its holdout, when it had one.
    pub decile_mape: Option<f64>,
}

/// How far a model's predictions were off on its holdout, as train-ltv recorded it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HoldoutError {
    /// Mean absolute error of the mean prediction per predicted decile, relative: how far one
    /// player's figure can be trusted.
    pub decile_mape: Option<f64>,
    /// Mean absolute error of the summed prediction per install day × channel cohort,
    /// relative: how far a cohort's figure can be trusted.
    pub cohort_mape: Option<f64>,
    /// The same per acquisition segment over the holdout's install days: how far the figure
    /// optimize-campaigns judges can be trusted, at the holdout's segment sizes.
    pub segment_mape: Option<f64>,
    /// One standard deviation, relative, of the model's misreading of a segment of any size:
    /// the segment error without its players' luck (see
    /// [`crate::ltv::metrics::systematic_error`]). Models trained before it was measured have
    /// none.
    pub segment_systematic_error: Option<f64>,
}

impl HoldoutError {
    /// From a `metrics_json` of `gold.ltv_models`; a model without a holdout has neither.
    fn of_metrics_json(json: Option<&str>) -> Self {
        let Some(metrics) = json.and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        else {
            return HoldoutError::default();
        };
        let mape = |name: &str| metrics["model"][name]["mape"].as_f64();
        HoldoutError {
            decile_mape: mape("decile_mape"),
            cohort_mape: mape("cohort_mape"),
            segment_mape: mape("segment_mape"),
            segment_systematic_error: metrics["model"]["segment_systematic_error"].as_f64(),
        }
    }
}

/// The holdout errors of every registered model for `target`: one row per `model_version` and
/// `observation_days`, with `decile_mape`, `cohort_mape`, `segment_mape` and
/// `segment_systematic_error` (null where the holdout had none).
pub async fn holdout_errors(lake: &Lake, target: &str) -> anyhow::Result<DataFrame> {
    let columns = [
        "model_version",
        "target",
        "observation_days",
        "metrics_json",
    ];
    // Scores brought from another lake without its registry: no measured error, full doubt.
    let rows = match lake.read_columns(&gold::LTV_MODELS, &columns, None).await {
        Err(LakeError::TableNotFound { .. }) => lake.empty(&gold::LTV_MODELS)?,
        read => read?,
    };
    let rows = rows
        .lazy()
        .filter(col("target").eq(lit(target)))
        .collect()?;
    let errors: Vec<HoldoutError> = crate::lake::string_column(&rows, "metrics_json")?
        .iter()
        .map(|json| HoldoutError::of_metrics_json(json.as_deref()))
        .collect();
    let mut frame = rows.select(["model_version", "observation_days"])?;
    type Field = fn(&HoldoutError) -> Option<f64>;
    let columns: [(&str, Field); 4] = [
        ("decile_mape", |e| e.decile_mape),
        ("cohort_mape", |e| e.cohort_mape),
        ("segment_mape", |e| e.segment_mape),
        ("segment_systematic_error", |e| e.segment_systematic_error),
    ];
    for (name, error) in columns {
        frame.with_column(Column::new(
            name.into(),
            errors.iter().map(error).collect::<Vec<_>>(),
        ))?;
    }
    Ok(frame)
}

/// The models of one version.
pub struct ModelVersion {
    pub version: String,
    pub as_of: NaiveDate,
    pub models: Vec<RegisteredModel>,
}

impl ModelVersion {
    /// The promoted model for `target` with the longest observation window that a player
    /// `age_days` old has completed.
    pub fn best_for(&self, target: &str, age_days: i32) -> Option<&RegisteredModel> {
        self.models
            .iter()
            .filter(|m| m.target == target && m.observation_days <= age_days && m.promoted)
            .max_by_key(|m| m.observation_days)
    }
}

/// Whether `err` from [`load`] only says no model has been promoted (or trained) yet.
pub fn has_no_model(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref(),
            Some(RegistryError::NothingPromoted(_))
        ) || matches!(
            cause.downcast_ref(),
            Some(crate::lake::LakeError::TableNotFound { .. })
        )
    })
}

/// The version `requested`, or the newest one trained on data up to `day` with at least one
/// promoted model. With `requested`, every model of the version counts as promoted: an
/// explicit choice overrides the holdout's verdict (and the caller logs it).
pub async fn load(
    lake: &Lake,
    requested: Option<&str>,
    day: NaiveDate,
    threads: u32,
) -> anyhow::Result<ModelVersion> {
    let registry = lake.read(&gold::LTV_MODELS, None).await?;
    let version = match requested {
        Some(version) => version.to_string(),
        None => newest_promoted(&registry, day)?.ok_or(RegistryError::NothingPromoted(day))?,
    };
    let rows = registry
        .lazy()
        .filter(col("model_version").eq(lit(version.as_str())))
        .sort(["target", "observation_days"], Default::default())
        .collect()?;
    if rows.height() == 0 {
        // A mistyped --model-version is a usage error: the operator fixes the flag.
        return Err(crate::exit_codes::UsageError::new(
            RegistryError::UnknownVersion(version).to_string(),
        )
        .into());
    }
    let as_of = rows
        .column("as_of")?
        .cast(&DataType::Int32)?
        .i32()?
        .get(0)
        .and_then(crate::date_range::from_days_since_epoch)
        .ok_or_else(|| RegistryError::Corrupt {
            version: version.clone(),
            target: "(every target)".into(),
            observation_days: 0,
            detail: "as_of is not a date".into(),
        })?;
    let text = |name: &str| crate::lake::string_column(&rows, name);
    let targets = text("target")?;
    let methods = text("method")?;
    let boosters = text("booster_json")?;
    let features = text("features_json")?;
    let metrics = text("metrics_json")?;
    let windows: Vec<Option<i32>> = rows.column("observation_days")?.i32()?.iter().collect();
    let multipliers: Vec<Option<f64>> = rows.column("multiplier")?.f64()?.iter().collect();
    let promoted: Vec<Option<bool>> = rows.column("promoted")?.bool()?.iter().collect();

    let mut models = Vec::with_capacity(rows.height());
    for row in 0..rows.height() {
        let target = targets[row].clone().unwrap_or_default();
        let observation_days = windows[row].unwrap_or_default();
        let corrupt = |detail: &str| RegistryError::Corrupt {
            version: version.clone(),
            target: target.clone(),
            observation_days,
            detail: detail.to_string(),
        };
        let method = match methods[row].as_deref() {
            Some("xgboost") => {
                let json = boosters[row]
                    .as_deref()
                    .ok_or_else(|| corrupt("no booster_json"))?;
                let model =
                    Model::from_json(json, threads).map_err(|source| RegistryError::Booster {
                        version: version.clone(),
                        target: target.clone(),
                        observation_days,
                        source,
                    })?;
                let features: FeaturesJson =
                    serde_json::from_str(features[row].as_deref().unwrap_or_default())
                        .map_err(|err| corrupt(&format!("features_json: {err}")))?;
                if features.names != features.vocabulary.feature_names()
                    || !features.vocabulary.is_computed()
                {
                    return Err(RegistryError::FeaturesChanged {
                        version: version.clone(),
                        target,
                        observation_days,
                    }
                    .into());
                }
                Method::Xgboost {
                    model,
                    vocabulary: Box::new(features.vocabulary),
                }
            }
            Some("cohort_curve") => Method::CohortCurve {
                multiplier: multipliers[row].ok_or_else(|| corrupt("no multiplier"))?,
            },
            other => return Err(corrupt(&format!("unknown method {other:?}")).into()),
        };
        models.push(RegisteredModel {
            target,
            observation_days,
            method,
            promoted: requested.is_some() || promoted[row].unwrap_or(false),
            decile_mape: HoldoutError::of_metrics_json(metrics[row].as_deref()).decile_mape,
        });
    }
    Ok(ModelVersion {
        version,
        as_of,
        models,
    })
}

#[derive(Deserialize)]
struct FeaturesJson {
    names: Vec<String>,
    vocabulary: Vocabulary,
}

/// The newest version (by as-of day, then name) with a promoted model and data up to `day`.
fn newest_promoted(registry: &DataFrame, day: NaiveDate) -> PolarsResult<Option<String>> {
    let candidates = registry
        .clone()
        .lazy()
        .filter(
            col("promoted").and(
                col("as_of")
                    .cast(DataType::Int32)
                    .lt_eq(lit(crate::date_range::days_since_epoch(day))),
            ),
        )
        .sort(
            ["as_of", "model_version"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()?;
    // `get(0)` would panic on an empty column: no candidate is an answer, not an error.
    let newest = candidates.column("model_version")?.str()?.iter().next();
    Ok(newest.flatten().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn holdout_errors_come_from_the_models_side_of_the_report() {
        let json = r#"{"holdout_players": 900,
            "model": {"decile_mape": {"mape": 0.31, "groups": 10},
                      "cohort_mape": {"mape": 0.12, "groups": 23},
                      "segment_mape": {"mape": 0.09, "groups": 14},
                      "segment_systematic_error": 0.04},
            "heuristic": {"decile_mape": {"mape": 0.5}, "cohort_mape": {"mape": 0.4},
                          "segment_systematic_error": 0.3}}"#;
        assert_eq!(
            HoldoutError::of_metrics_json(Some(json)),
            HoldoutError {
                decile_mape: Some(0.31),
                cohort_mape: Some(0.12),
                segment_mape: Some(0.09),
                segment_systematic_error: Some(0.04),
            }
        );
        let no_cohort =
            r#"{"model": {"decile_mape": {"mape": 0.31}, "cohort_mape": {"mape": null}}}"#;
        assert_eq!(
            HoldoutError::of_metrics_json(Some(no_cohort)).cohort_mape,
            None
        );
        assert_eq!(HoldoutError::of_metrics_json(None), HoldoutError::default());
        assert_eq!(
            HoldoutError::of_metrics_json(Some("not json")),
            HoldoutError::default()
        );
    }

    #[test]
    fn the_newest_promoted_version_is_one_trained_before_the_day_or_none() {
        let as_of = |text: &str| crate::date_range::days_since_epoch(day(text));
        let registry = df!(
            "model_version" => ["old", "new", "rejected"],
            "promoted" => [true, true, false],
            "as_of" => [as_of("2026-02-01"), as_of("2026-03-01"), as_of("2026-03-02")],
        )
        .unwrap()
        .lazy()
        .with_column(col("as_of").cast(DataType::Date))
        .collect()
        .unwrap();
        let newest = |text: &str| newest_promoted(&registry, day(text)).unwrap();
        assert_eq!(newest("2026-03-05").as_deref(), Some("new"));
        assert_eq!(newest("2026-02-15").as_deref(), Some("old"));
        // A backfill of a day before any model: nothing to score with, and no panic.
        assert_eq!(newest("2026-01-08"), None);
    }
}
