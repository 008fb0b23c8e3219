//! `train-ltv`: fits the pLTV (D7/D30/D180) and churn models on players whose horizon has
//! matured, evaluates each on a holdout of the newest matured cohorts against the industry
//! heuristic, and records them in the model registry (`gold.ltv_models`).
//!
//! One model per target and observation window N ∈ {1, 3, 7} days, so a player can be scored
//! from their first day on. A revenue model predicts the revenue after day N; a pLTV is the
//! revenue through day N plus that prediction. Before any cohort is 180 days old, D180 is the
//! D30 model times the growth of the cohort revenue curve (a power law fitted to the mature
//! days of `gold.ltv_cohorts`), and says so in the registry. A model is promoted only when it
//! beats the heuristic on its holdout.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use polars::prelude::*;
use serde::Serialize;

use crate::exit_codes::UsageError;
use crate::lake::{Lake, column_at_most, column_before_day, float_column};
use crate::ltv::evaluation::{CohortCurve, Evaluation, Heuristic, HoldoutGroups};
use crate::ltv::features::{self, CHURN_WINDOW_DAYS, HORIZONS, OBSERVATION_DAYS, Vocabulary};
use crate::ltv::metrics;
use crate::ltv::model::{Features, Model, Objective, Settings, fit_concurrently};
use crate::run::{JobContext, JobReport};
use crate::tables::gold;

#[derive(Debug, Clone, Args)]
pub struct TrainOptions {
    /// The last day of data the models may learn from [default: the newest day of
    /// gold.fact_player_daily]
    #[arg(long, value_name = "D")]
    pub as_of: Option<NaiveDate>,

    /// Seed of the trees' row sampling: the same Gold and seed give the same models
    #[arg(long, default_value_t = 7)]
    pub seed: u64,

    /// Share of the newest matured install days held out for the evaluation report
    #[arg(long, default_value_t = 0.2, value_name = "SHARE")]
    pub holdout_share: f64,

    /// Boosting rounds per model
    #[arg(long, default_value_t = Settings::default().rounds)]
    pub rounds: u32,

    /// Shrinkage of each round's trees (XGBoost's eta): fewer rounds need a larger one
    #[arg(long, default_value_t = Settings::default().learning_rate, value_name = "ETA")]
    pub learning_rate: f64,

    /// The least weight (hessian) a tree leaf may hold: larger leaves average over more
    /// players and chase fewer whales
    #[arg(long, default_value_t = Settings::default().min_child_weight, value_name = "WEIGHT")]
    pub min_child_weight: f64,

    /// Also write the evaluation report as JSON to this file (a table goes to standard error)
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

/// Fewer matured players than this train no model: its holdout would say nothing.
const MIN_PLAYERS: usize = 200;

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Ltv(i32),
    Churn,
}

impl Target {
    pub fn name(self) -> String {
        match self {
            Target::Ltv(horizon) => format!("ltv_d{horizon}"),
            Target::Churn => format!("churn_d{CHURN_WINDOW_DAYS}"),
        }
    }

    /// Days after install a player needs before their label is known.
    fn maturity(self, observation: i32) -> i32 {
        match self {
            Target::Ltv(horizon) => horizon,
            Target::Churn => observation + CHURN_WINDOW_DAYS,
        }
    }
}

/// One model of a training run, as recorded in the registry and the report.
#[derive(Debug, Clone, Serialize)]
pub struct TrainedModel {
    pub target: String,
    pub observation_days: i32,
    pub method: &'static str,
    /// What a revenue model's booster predictions are multiplied by so that they add up to
    /// its training players' revenue after day N (see `ltv::model`): how far short the raw
    /// trees fall.
    pub balance: Option<f64>,
    pub training_players: usize,
    pub holdout_players: usize,
    pub first_cohort: Option<NaiveDate>,
    pub last_cohort: Option<NaiveDate>,
    pub promoted: bool,
    pub evaluation: serde_json::Value,
    #[serde(skip)]
    booster_json: Option<String>,
    #[serde(skip)]
    multiplier: Option<f64>,
    #[serde(skip)]
    vocabulary: Vocabulary,
}

pub async fn run(context: JobContext, options: TrainOptions) -> anyhow::Result<JobReport> {
    crate::tune_allocator();
    if context.range.is_some() || context.game.is_some() {
        return Err(UsageError::new(
            "train-ltv learns from every matured cohort of every game up to --as-of; give \
             --as-of D, not a date range or --game",
        )
        .into());
    }
    if !(0.0..1.0).contains(&options.holdout_share) || options.holdout_share == 0.0 {
        return Err(UsageError::new("--holdout-share must be above 0 and below 1").into());
    }
    if !(options.min_child_weight >= 0.0 && options.min_child_weight.is_finite()) {
        return Err(UsageError::new("--min-child-weight must be a number of at least 0").into());
    }
    let lake = &context.lake;
    let as_of = match options.as_of {
        Some(day) => day,
        None => lake
            .latest_date(&gold::FACT_PLAYER_DAILY)
            .await?
            .with_context(|| {
                format!(
                    "gold.fact_player_daily does not exist or has no rows in {}: run \
                     silver-to-gold first",
                    lake.uri()
                )
            })?,
    };
    let next_day = as_of
        .succ_opt()
        .context("--as-of is the last representable day")?;
    let players = lake
        .read(
            &gold::PLAYER_LIFECYCLE,
            Some(column_before_day("acquisition_date", next_day)),
        )
        .await?;
    let days = lake
        .read(
            &gold::FACT_PLAYER_DAILY,
            Some(
                column_at_most("day_number", OBSERVATION_DAYS[2] + CHURN_WINDOW_DAYS)
                    .and(column_before_day("activity_date", next_day)),
            ),
        )
        .await?;
    // One curve for every observation window: it depends on the cohorts, not on N.
    let curve = CohortCurve::fit(&cohort_curve_points(lake, as_of).await?, 7)
        .filter(|curve| curve.fitted_days.1 >= 30);
    let settings = Settings {
        rounds: options.rounds,
        learning_rate: options.learning_rate,
        min_child_weight: options.min_child_weight,
        seed: options.seed,
        ..Settings::default()
    };

    let age = (lit(crate::date_range::days_since_epoch(as_of))
        - col("acquisition_date").cast(DataType::Int32))
    .alias("age_days");
    let (players, days) = features::numbered(players.lazy(), days.lazy())?;
    // Every window's snapshot first, so that the boosters of all windows share the cores
    // (`fit_concurrently`); the three snapshots are in memory together.
    let snapshots = OBSERVATION_DAYS
        .iter()
        .map(|&n| {
            let snapshot = features::snapshot(&players, &days, n)?
                .with_column(age.clone())
                .filter(col("age_days").gt_eq(lit(n)))
                .collect()?;
            Ok((n, snapshot))
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    let jobs: Vec<(i32, &DataFrame, Target)> = snapshots
        .iter()
        .flat_map(|(n, snapshot)| {
            HORIZONS
                .iter()
                .filter(move |h| **h > *n)
                .map(|h| Target::Ltv(*h))
                .chain([Target::Churn])
                .map(move |target| (*n, snapshot, target))
        })
        .collect();
    let fitted = fit_concurrently(&jobs, settings.threads, |(n, snapshot, target), threads| {
        let settings = Settings {
            threads,
            ..settings
        };
        fit(snapshot, *n, *target, &settings, options.holdout_share)
    });
    // In the jobs' order, a window's D30 comes before the D180 that may fall back on it.
    let mut trained = Vec::new();
    let mut d30_of_window = HashMap::new();
    for ((n, _, target), model) in jobs.iter().zip(fitted) {
        let model = match model? {
            Some(model) => model,
            None if *target == Target::Ltv(180) => {
                match d30_of_window
                    .get(n)
                    .zip(curve.as_ref())
                    .map(|(d30, curve)| extrapolate(d30, curve))
                {
                    Some(model) => model,
                    None => continue,
                }
            }
            None => continue,
        };
        if *target == Target::Ltv(30) {
            d30_of_window.insert(*n, model.clone());
        }
        trained.push(model);
    }

    let version = format!("ltv-{as_of}-s{}", options.seed);
    let mut report = JobReport {
        rows_in: players.height() as u64,
        ..JobReport::default()
    };
    if !context.dry_run && !trained.is_empty() {
        let rows = registry_rows(&version, as_of, &settings, &trained)?;
        let outcome = lake.merge(&gold::LTV_MODELS, &rows).await?;
        report.record_write(&outcome);
    }
    let summary = TrainingReport {
        model_version: version,
        as_of,
        models: trained,
    };
    eprint!("{}", summary.table());
    if let Some(path) = &options.report {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    report.detail("model_version", &summary.model_version);
    report.detail("as_of", as_of);
    report.detail(
        "models",
        summary
            .models
            .iter()
            .map(|m| {
                serde_json::json!({
                    "target": m.target, "observation_days": m.observation_days,
                    "method": m.method, "promoted": m.promoted,
                    "training_players": m.training_players, "holdout_players": m.holdout_players,
                })
            })
            .collect::<Vec<_>>(),
    );
    Ok(report)
}

/// Trains `target` on the players of `snapshot` whose label has matured, holding out the
/// newest install days. `None` when too few players have matured.
fn fit(
    snapshot: &DataFrame,
    n: i32,
    target: Target,
    settings: &Settings,
    holdout_share: f64,
) -> anyhow::Result<Option<TrainedModel>> {
    let matured = snapshot
        .clone()
        .lazy()
        .filter(col("age_days").gt_eq(lit(target.maturity(n))))
        .sort(
            ["acquisition_date", "game_id", "player_id"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let cohorts = sorted_days(&matured)?;
    if matured.height() < MIN_PLAYERS || cohorts.len() < 2 {
        return Ok(None);
    }
    let holdout_days = ((cohorts.len() as f64 * holdout_share).ceil() as usize).max(1);
    let cutoff = cohorts[cohorts.len() - holdout_days];
    let split = |holdout: bool| -> PolarsResult<DataFrame> {
        let is_holdout = col("acquisition_date")
            .cast(DataType::Int32)
            .gt_eq(lit(crate::date_range::days_since_epoch(cutoff)));
        matured
            .clone()
            .lazy()
            .filter(if holdout {
                is_holdout
            } else {
                is_holdout.not()
            })
            .collect()
    };
    let (train, holdout) = (split(false)?, split(true)?);
    let vocabulary = Vocabulary::of(&train)?;
    let width = vocabulary.feature_names().len();
    let train_x = features::matrix(&train, &vocabulary)?;
    let holdout_x = features::matrix(&holdout, &vocabulary)?;
    let (objective, train_y, actual) = match target {
        Target::Ltv(horizon) => (
            Objective::Tweedie,
            float_column(&train, features::label_column(horizon))?,
            float_column(&holdout, features::label_column(horizon))?,
        ),
        Target::Churn => (Objective::Logistic, churned(&train)?, churned(&holdout)?),
    };
    // A revenue model learns what comes after day N; the prediction adds what the player has
    // already spent, so it never falls below it and early whales keep their weight.
    let earned = |frame: &DataFrame| -> PolarsResult<Vec<f64>> {
        match target {
            Target::Ltv(_) => float_column(frame, "total_revenue"),
            Target::Churn => Ok(vec![0.0; frame.height()]),
        }
    };
    let (earned_train, earned_holdout) = (earned(&train)?, earned(&holdout)?);
    let labels: Vec<f32> = train_y
        .iter()
        .zip(&earned_train)
        .map(|(label, earned)| (label - earned).max(0.0) as f32)
        .collect();
    let model = Model::train(
        objective,
        &Features {
            values: &train_x,
            rows: train.height(),
            width,
        },
        &labels,
        settings,
    )?;
    let predicted: Vec<f64> = model
        .predict(&Features {
            values: &holdout_x,
            rows: holdout.height(),
            width,
        })?
        .into_iter()
        .zip(&earned_holdout)
        .map(|(future, earned)| earned + f64::from(future))
        .collect();
    let (evaluation, promoted) = match target {
        Target::Ltv(_) => {
            let groups = |frame: &DataFrame| group_keys(frame, CHANNEL_KEY);
            let heuristic = Heuristic::fit(&groups(&train)?, &earned_train, &train_y);
            let baseline = heuristic.predict(&groups(&holdout)?, &earned_holdout);
            let evaluation = Evaluation::of(
                &actual,
                &predicted,
                &baseline,
                HoldoutGroups {
                    cohorts: &group_keys(&holdout, COHORT_KEY)?,
                    segments: &group_keys(&holdout, SEGMENT_KEY)?,
                },
            );
            let promoted = evaluation.beats_heuristic;
            (serde_json::to_value(evaluation)?, promoted)
        }
        Target::Churn => {
            let outcomes: Vec<bool> = actual.iter().map(|v| *v > 0.5).collect();
            let model_auc = metrics::auc(&outcomes, &predicted);
            // The heuristic: the longer since a player was last seen, the likelier they churn.
            let heuristic_auc =
                metrics::auc(&outcomes, &float_column(&holdout, "days_since_active")?);
            let promoted = match (model_auc, heuristic_auc) {
                (Some(m), Some(h)) => m > h,
                (Some(m), None) => m > 0.5,
                _ => false,
            };
            let churn_rate = outcomes.iter().filter(|o| **o).count() as f64 / outcomes.len() as f64;
            (
                serde_json::json!({
                    "holdout_players": outcomes.len(), "churn_rate": churn_rate,
                    "model": {"auc": model_auc}, "heuristic": {"auc": heuristic_auc},
                    "beats_heuristic": promoted,
                }),
                promoted,
            )
        }
    };
    Ok(Some(TrainedModel {
        target: target.name(),
        observation_days: n,
        method: "xgboost",
        balance: model.balance(),
        training_players: train.height(),
        holdout_players: holdout.height(),
        first_cohort: cohorts.first().copied(),
        last_cohort: cohorts.last().copied(),
        promoted,
        evaluation,
        booster_json: Some(model.to_json()?),
        multiplier: None,
        vocabulary,
    }))
}

/// D180 before any cohort has lived 180 days: the D30 model of the same window times the
/// cohort curve's growth from day 30 to day 180.
fn extrapolate(d30: &TrainedModel, curve: &CohortCurve) -> TrainedModel {
    let multiplier = curve.multiplier(30, 180);
    TrainedModel {
        target: Target::Ltv(180).name(),
        method: "cohort_curve",
        evaluation: serde_json::json!({
            "note": "no cohort has reached day 180: the D30 model times the cohort curve's \
                     growth from day 30 to 180; evaluated when cohorts mature",
            "curve": curve, "multiplier": multiplier,
        }),
        multiplier: Some(multiplier),
        balance: None,
        holdout_players: 0,
        ..d30.clone()
    }
}

/// Mature days of the cohort revenue curves up to `as_of`: (day N, revenue per install,
/// installs).
async fn cohort_curve_points(
    lake: &Lake,
    as_of: NaiveDate,
) -> anyhow::Result<Vec<(i32, f64, f64)>> {
    let cohorts = lake
        .read_or_empty(&gold::LTV_COHORTS, None)
        .await?
        .lazy()
        .with_column((col("cohort_date").cast(DataType::Int32) + col("day_n")).alias("day_of_data"))
        .filter(
            col("is_mature")
                .and(col("day_of_data").lt_eq(lit(crate::date_range::days_since_epoch(as_of)))),
        )
        .collect()?;
    let days: Vec<Option<i32>> = cohorts.column("day_n")?.i32()?.iter().collect();
    let rpi = float_column(&cohorts, "revenue_per_install")?;
    let installs = float_column(&cohorts, "installs")?;
    Ok(days
        .into_iter()
        .zip(rpi)
        .zip(installs)
        .filter_map(|((day, rpi), installs)| Some((day?, rpi, installs)))
        .collect())
}

/// 1.0 when the player was not active in the week after their observation window.
fn churned(frame: &DataFrame) -> PolarsResult<Vec<f64>> {
    Ok(frame
        .column("active_after")?
        .bool()?
        .iter()
        .map(|active| if active.unwrap_or(false) { 0.0 } else { 1.0 })
        .collect())
}

/// The heuristic's groups: its multipliers are per game × channel.
const CHANNEL_KEY: &[&str] = &["game_id", "media_source"];
/// The cohorts of the cohort MAPE.
const COHORT_KEY: &[&str] = &["acquisition_date", "game_id", "media_source"];
/// What optimize-campaigns judges (a campaign buys one channel, country and platform).
const SEGMENT_KEY: &[&str] = &["game_id", "media_source", "country_code", "platform"];

/// Each player's group: the values of `columns`, joined by spaces.
fn group_keys(frame: &DataFrame, columns: &[&str]) -> PolarsResult<Vec<String>> {
    let parts: Vec<Expr> = columns
        .iter()
        .map(|name| col(*name).cast(DataType::String))
        .collect();
    let keys = frame
        .clone()
        .lazy()
        .select([concat_str(parts, " ", true).alias("key")])
        .collect()?;
    Ok(keys
        .column("key")?
        .str()?
        .iter()
        .map(|k| k.unwrap_or_default().to_string())
        .collect())
}

/// The distinct install days of `frame`, oldest first.
fn sorted_days(frame: &DataFrame) -> PolarsResult<Vec<NaiveDate>> {
    let days: std::collections::BTreeSet<i32> = frame
        .column("acquisition_date")?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .flatten()
        .collect();
    Ok(days
        .into_iter()
        .filter_map(crate::date_range::from_days_since_epoch)
        .collect())
}

/// The registry rows of one training run.
fn registry_rows(
    version: &str,
    as_of: NaiveDate,
    settings: &Settings,
    models: &[TrainedModel],
) -> anyhow::Result<DataFrame> {
    let text = |f: &dyn Fn(&TrainedModel) -> String| models.iter().map(f).collect::<Vec<_>>();
    Ok(df!(
        "model_version" => vec![version.to_string(); models.len()],
        "target" => text(&|m| m.target.clone()),
        "observation_days" => models.iter().map(|m| m.observation_days).collect::<Vec<_>>(),
        "as_of" => vec![as_of; models.len()],
        "method" => text(&|m| m.method.to_string()),
        "booster_json" => models.iter().map(|m| m.booster_json.clone()).collect::<Vec<_>>(),
        "multiplier" => models.iter().map(|m| m.multiplier).collect::<Vec<_>>(),
        "features_json" => text(&|m| serde_json::json!({
            "names": m.vocabulary.feature_names(), "vocabulary": m.vocabulary,
        }).to_string()),
        "settings_json" => vec![serde_json::to_string(settings)?; models.len()],
        "training_players" => models.iter().map(|m| m.training_players as i64).collect::<Vec<_>>(),
        "holdout_players" => models.iter().map(|m| m.holdout_players as i64).collect::<Vec<_>>(),
        "first_cohort" => models.iter().map(|m| m.first_cohort).collect::<Vec<_>>(),
        "last_cohort" => models.iter().map(|m| m.last_cohort).collect::<Vec<_>>(),
        "metrics_json" => text(&|m| m.evaluation.to_string()),
        "promoted" => models.iter().map(|m| m.promoted).collect::<Vec<_>>(),
    )?)
}

/// What a training run reports.
#[derive(Debug, Serialize)]
struct TrainingReport {
    model_version: String,
    as_of: NaiveDate,
    models: Vec<TrainedModel>,
}

impl TrainingReport {
    /// The report as a table for a terminal.
    fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "model {} (data to {})\n{:<10} {:>2} {:<13} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}\n",
            self.model_version,
            self.as_of,
            "target",
            "N",
            "method",
            "train",
            "holdout",
            "gini",
            "decile",
            "heur.dec",
            "cohort",
            "heur.coh",
            "segment",
            "seg.sys",
            "balance",
            "promoted"
        );
        let number = |value: &serde_json::Value, path: &[&str]| {
            let mut v = value;
            for key in path {
                v = &v[*key];
            }
            v.as_f64()
                .map_or_else(|| "-".to_string(), |x| format!("{x:.3}"))
        };
        for m in &self.models {
            let e = &m.evaluation;
            let balance = m
                .balance
                .map_or_else(|| "-".to_string(), |b| format!("{b:.3}"));
            let (gini, decile, heuristic_decile, cohort, heuristic_cohort, segment, systematic) =
                if m.target.starts_with("churn") {
                    (
                        format!("auc {}", number(e, &["model", "auc"])),
                        "-".into(),
                        format!("auc {}", number(e, &["heuristic", "auc"])),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                    )
                } else {
                    (
                        number(e, &["model", "normalized_gini"]),
                        number(e, &["model", "decile_mape", "mape"]),
                        number(e, &["heuristic", "decile_mape", "mape"]),
                        number(e, &["model", "cohort_mape", "mape"]),
                        number(e, &["heuristic", "cohort_mape", "mape"]),
                        number(e, &["model", "segment_mape", "mape"]),
                        number(e, &["model", "segment_systematic_error"]),
                    )
                };
            let _ = writeln!(
                out,
                "{:<10} {:>2} {:<13} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
                m.target,
                m.observation_days,
                m.method,
                m.training_players,
                m.holdout_players,
                gini,
                decile,
                heuristic_decile,
                cohort,
                heuristic_cohort,
                segment,
                systematic,
                balance,
                if m.promoted { "yes" } else { "no" }
            );
        }
        out
    }
}
