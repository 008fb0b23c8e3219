//! `score-ltv`: predicts, for each player in their first 180 days, their LTV at D7/D30/D180,
//! how much to trust it, and their churn risk, with a model version of `gold.ltv_models`;
//! writes `gold.player_ltv_scores` for the scored day (a rerun replaces that day).
//!
//! - A player is scored by the promoted model with the longest observation window (N ∈ 1, 3,
//!   7 days) their age has completed, on the features of their first N days, exactly as in
//!   training. Players installed on the scored day have no complete window and wait a day.
//! - A pLTV never falls below what the player has already spent by that horizon, nor below
//!   the pLTV of a shorter horizon, and once the player is as old as the horizon it is the
//!   actual revenue.
//! - Churn risk looks at the player's latest N+1 days, taken as days 0..=N: for a player
//!   exactly N days old that is the trained question; for an older one it carries the model's
//!   sense of recency (active days, days since last session, spend) to the current week, the
//!   usual sliding-window reading of an early-life churn model.

use std::collections::BTreeSet;

use anyhow::Context as _;
use chrono::{Days, NaiveDate};
use clap::Args;
use polars::prelude::*;

use crate::date_range::{DateRange, days_since_epoch};
use crate::exit_codes::UsageError;
use crate::jobs::silver_to_gold::is_whale;
use crate::jobs::train_ltv::Target;
use crate::lake::float_column;
use crate::lake::{Lake, column_in_range};
use crate::ltv::features::{self, HORIZONS, OBSERVATION_DAYS};
use crate::ltv::model::Features;
use crate::ltv::registry::{self, Method, ModelVersion, RegisteredModel};
use crate::money::money_sum;
use crate::run::{JobContext, JobReport};
use crate::tables::gold;

#[derive(Debug, Clone, Args)]
pub struct ScoreOptions {
    /// Score with this version of gold.ltv_models, promoted or not (train-ltv prints its
    /// version) [default: per day, the newest version trained on data up to that day that has
    /// a promoted model]
    #[arg(long, value_name = "VERSION")]
    pub model_version: Option<String>,
}

/// Players are scored until this many days after install; by then their D180 is known.
pub const SCORED_DAYS: i32 = 180;
/// A churn risk at or above this predicts churn within 7 days.
const CHURN_THRESHOLD: f64 = 0.5;
/// The horizon `ltv_confidence` speaks for.
const CONFIDENCE_HORIZON: i32 = 30;
const THREADS: u32 = 2;

pub async fn run(context: JobContext, options: ScoreOptions) -> anyhow::Result<JobReport> {
    if context.game.is_some() {
        return Err(UsageError::new(
            "score-ltv scores every game of a day together (the models serve them all); run it \
             without --game",
        )
        .into());
    }
    let range = context.require_range()?;
    let lake = &context.lake;
    let mut report = JobReport::default();
    let mut versions = BTreeSet::new();
    let progress = crate::telemetry::progress_bar(range.days().count() as u64, "days scored");
    let mut without_model = Vec::new();
    for day in range.days() {
        let models = match registry::load(lake, options.model_version.as_deref(), day, THREADS)
            .await
        {
            Ok(models) => models,
            // A studio's first days, before the nightly has trained anything: the micro-batch
            // goes on without predictions, and the summary says which days were not scored.
            Err(err) if options.model_version.is_none() && registry::has_no_model(&err) => {
                tracing::warn!(%day, error = format!("{err:#}"), "no promoted pLTV model yet; the day is not scored");
                without_model.push(day);
                progress.inc(1);
                continue;
            }
            Err(err) => return Err(err),
        };
        if options.model_version.is_some() && models.models.iter().any(|m| !m.promoted) {
            tracing::warn!(
                version = models.version,
                "scoring with a requested version; its unpromoted models are used too"
            );
        }
        let scores = score_day(lake, &models, day).await?;
        tracing::info!(%day, players = scores.height(), version = models.version, "scored");
        report.rows_in += scores.height() as u64;
        if !context.dry_run {
            let outcome = lake
                .replace_range(&gold::PLAYER_LTV_SCORES, &scores, &DateRange::single(day))
                .await?;
            report.record_write(&outcome);
        }
        versions.insert(models.version);
        progress.inc(1);
    }
    progress.finish_and_clear();
    report.detail("model_versions", versions);
    if !without_model.is_empty() {
        report.detail("days_without_model", without_model);
    }
    Ok(report)
}

/// The scores of `day` for every player installed in the [`SCORED_DAYS`] before it.
async fn score_day(
    lake: &Lake,
    models: &ModelVersion,
    day: NaiveDate,
) -> anyhow::Result<DataFrame> {
    let yesterday = day
        .pred_opt()
        .context("--date is the first representable day")?;
    let first_install = day
        .checked_sub_days(Days::new(SCORED_DAYS as u64))
        .context("--date is too early in the calendar")?;
    let installs = DateRange::new(first_install, yesterday)?;
    let players = lake
        .read(
            &gold::PLAYER_LIFECYCLE,
            Some(Lake::range_filter(&gold::PLAYER_LIFECYCLE, &installs)?),
        )
        .await?;
    let days = lake
        .read(
            &gold::FACT_PLAYER_DAILY,
            Some(column_in_range(
                "activity_date",
                &DateRange::new(first_install, day)?,
            )),
        )
        .await?;
    score_players(models, players, &days, day)
}

/// The scores of `day` for `players` (`gold.player_lifecycle` rows installed before `day`)
/// from their `days` (`gold.fact_player_daily` rows up to `day`), sorted by game and player.
pub fn score_players(
    models: &ModelVersion,
    players: DataFrame,
    days: &DataFrame,
    day: NaiveDate,
) -> anyhow::Result<DataFrame> {
    let players = players
        .lazy()
        .with_column(
            (lit(days_since_epoch(day)) - col("acquisition_date").cast(DataType::Int32))
                .alias("age_days"),
        )
        .filter(col("age_days").gt_eq(lit(1)))
        .sort(["game_id", "player_id"], SortMultipleOptions::default())
        .with_row_index("row", None)
        .collect()?;
    Scorer::new(models, &players, days)?.scores(day)
}

/// Predictions for the rows of one frame of players, by row.
struct Scorer<'a> {
    models: &'a ModelVersion,
    players: &'a DataFrame,
    days: &'a DataFrame,
    ages: Vec<i32>,
}

/// A value per player row; `None` where nothing predicts it.
type PerPlayer = Vec<Option<f64>>;

impl<'a> Scorer<'a> {
    fn new(
        models: &'a ModelVersion,
        players: &'a DataFrame,
        days: &'a DataFrame,
    ) -> PolarsResult<Self> {
        let ages = players
            .column("age_days")?
            .i32()?
            .iter()
            .map(|a| a.unwrap_or(0))
            .collect();
        Ok(Scorer {
            models,
            players,
            days,
            ages,
        })
    }

    fn scores(&self, day: NaiveDate) -> anyhow::Result<DataFrame> {
        let rows = self.players.height();
        let mut ltv: Vec<(i32, PerPlayer)> = Vec::new();
        let mut window_d30: Vec<Option<i32>> = vec![None; rows];
        let mut accuracy_d30: PerPlayer = vec![None; rows];
        for horizon in HORIZONS {
            let earned = self.earned(horizon)?;
            let target = Target::Ltv(horizon).name();
            let mut predicted: PerPlayer = vec![None; rows];
            for n in OBSERVATION_DAYS {
                let Some(model) = self.model_at(&target, n) else {
                    continue;
                };
                let scored = self.scored_by(&target, model);
                match &model.method {
                    Method::Xgboost { .. } => {
                        let snapshot = self.snapshot(n, false, &scored)?;
                        let future = predict(model, &snapshot)?;
                        let so_far = float_column(&snapshot, "total_revenue")?;
                        for ((row, future), so_far) in
                            row_numbers(&snapshot)?.zip(future).zip(so_far)
                        {
                            predicted[row] = Some(so_far + future);
                        }
                    }
                    Method::CohortCurve { multiplier } => {
                        let (_, d30) = ltv
                            .iter()
                            .find(|(h, _)| *h == 30)
                            .context("a cohort-curve D180 needs the D30 predictions first")?;
                        for &row in &scored {
                            predicted[row] = d30[row].map(|v| v * multiplier);
                        }
                    }
                }
                if horizon == CONFIDENCE_HORIZON {
                    for &row in &scored {
                        window_d30[row] = Some(n);
                        accuracy_d30[row] = model.decile_mape.map(|m| (1.0 - m).clamp(0.0, 1.0));
                    }
                }
            }
            // Separate models per horizon could disagree; a longer horizon never earns less.
            let shorter = ltv.last().map(|(_, values)| values);
            let values = (0..rows)
                .map(|row| {
                    if self.ages[row] >= horizon {
                        Some(earned[row])
                    } else {
                        let floor = shorter.and_then(|s| s[row]).unwrap_or(0.0);
                        predicted[row].map(|p| p.max(earned[row]).max(floor))
                    }
                })
                .collect();
            ltv.push((horizon, values));
        }

        let mut churn: PerPlayer = vec![None; rows];
        let target = Target::Churn.name();
        for n in OBSERVATION_DAYS {
            let Some(model) = self.model_at(&target, n) else {
                continue;
            };
            let snapshot = self.snapshot(n, true, &self.scored_by(&target, model))?;
            for (row, risk) in row_numbers(&snapshot)?.zip(predict(model, &snapshot)?) {
                churn[row] = Some(risk);
            }
        }

        let confidence: PerPlayer = (0..rows)
            .map(|row| {
                let observed = f64::from(self.ages[row].min(CONFIDENCE_HORIZON))
                    / f64::from(CONFIDENCE_HORIZON);
                if observed >= 1.0 {
                    Some(1.0)
                } else {
                    window_d30[row]
                        .map(|_| observed + (1.0 - observed) * accuracy_d30[row].unwrap_or(0.0))
                }
            })
            .collect();
        let count = self.players.height();
        let frame = df!(
            "score_date" => vec![day; count],
            "row" => (0..count as IdxSize).collect::<Vec<_>>(),
            "observation_days" => window_d30,
            "predicted_ltv_d7" => ltv[0].1.clone(),
            "predicted_ltv_d30" => ltv[1].1.clone(),
            "predicted_ltv_d180" => ltv[2].1.clone(),
            "ltv_confidence" => confidence,
            "churn_risk" => churn.clone(),
            "predicted_churn_d7" => churn.iter().map(|r| r.map(|r| r >= CHURN_THRESHOLD)).collect::<Vec<_>>(),
            "model_version" => vec![self.models.version.clone(); count],
        )?;
        let whale_candidate = when(col("is_minor").not())
            .then(col("predicted_ltv_d180"))
            .otherwise(lit(NULL).cast(DataType::Float64));
        Ok(self
            .players
            .clone()
            .lazy()
            .join(
                frame.lazy(),
                [col("row")],
                [col("row")],
                JoinArgs::new(JoinType::Inner),
            )
            .sort(["game_id", "player_id"], SortMultipleOptions::default())
            .with_column(is_whale(whale_candidate, &[col("game_id")])?.alias("is_whale"))
            .select(
                gold::PLAYER_LTV_SCORES
                    .columns
                    .iter()
                    .map(|c| col(c.name))
                    .collect::<Vec<_>>(),
            )
            .collect()?)
    }

    /// The model of `target` with window `n` in this version, if it is promoted.
    fn model_at(&self, target: &str, n: i32) -> Option<&'a RegisteredModel> {
        self.models
            .models
            .iter()
            .find(|m| m.target == target && m.observation_days == n && m.promoted)
    }

    /// The player rows whose best model for `target` is `model`.
    fn scored_by(&self, target: &str, model: &RegisteredModel) -> Vec<usize> {
        (0..self.players.height())
            .filter(|row| {
                self.models
                    .best_for(target, self.ages[*row])
                    .is_some_and(|best| std::ptr::eq(best, model))
            })
            .collect()
    }

    /// Revenue from install through day `horizon` so far, by row.
    fn earned(&self, horizon: i32) -> PolarsResult<Vec<f64>> {
        let earned = self
            .days
            .clone()
            .lazy()
            .filter(col("day_number").lt_eq(lit(horizon)))
            .group_by([col("game_id"), col("player_id")])
            .agg([money_sum("total_revenue").alias("earned")]);
        let by_row = self
            .players
            .clone()
            .lazy()
            .select([col("row"), col("game_id"), col("player_id")])
            .join(
                earned,
                [col("game_id"), col("player_id")],
                [col("game_id"), col("player_id")],
                JoinArgs::new(JoinType::Left),
            )
            .sort(["row"], SortMultipleOptions::default())
            .collect()?;
        float_column(&by_row, "earned")
    }

    /// The window-`n` features of the players at `rows`: their first `n` days, or with
    /// `latest` their latest `n + 1` days renumbered as days 0..=n.
    fn snapshot(&self, n: i32, latest: bool, rows: &[usize]) -> PolarsResult<DataFrame> {
        let selected = IdxCa::from_vec("row".into(), rows.iter().map(|r| *r as IdxSize).collect());
        let players = self.players.take(&selected)?;
        let mut days = self.days.clone().lazy();
        if latest {
            let ages =
                players
                    .clone()
                    .lazy()
                    .select([col("game_id"), col("player_id"), col("age_days")]);
            let key = [col("game_id"), col("player_id")];
            days = days
                .join(ages, key.clone(), key, JoinArgs::new(JoinType::Inner))
                .with_column((col("day_number") - (col("age_days") - lit(n))).alias("day_number"))
                .filter(col("day_number").gt_eq(lit(0)))
                .drop(by_name(["age_days"], true, false));
        }
        features::snapshot(players.lazy(), days, n)
            .sort(["row"], SortMultipleOptions::default())
            .collect()
    }
}

/// The `row` column of a snapshot as indexes.
fn row_numbers(frame: &DataFrame) -> PolarsResult<impl Iterator<Item = usize> + '_> {
    Ok(frame
        .column("row")?
        .idx()?
        .into_no_null_iter()
        .map(|row| row as usize))
}

/// The model's raw prediction for each row of `snapshot`: revenue after day N, or a churn
/// probability.
fn predict(model: &RegisteredModel, snapshot: &DataFrame) -> anyhow::Result<Vec<f64>> {
    let Method::Xgboost {
        model: booster,
        vocabulary,
    } = &model.method
    else {
        anyhow::bail!(
            "{} N={} is not a booster",
            model.target,
            model.observation_days
        );
    };
    let values = features::matrix(snapshot, vocabulary)?;
    let predicted = booster.predict(&Features {
        values: &values,
        rows: snapshot.height(),
        width: vocabulary.feature_names().len(),
    })?;
    Ok(predicted.into_iter().map(f64::from).collect())
}
