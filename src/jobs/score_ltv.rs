//! `score-ltv`: predicts, for each player in their first 180 days, their LTV at D7/D30/D180,
//! how much to trust it, and their churn risk, with a model version of `gold.ltv_models`;
//! writes `gold.player_ltv_scores` for the scored day (a rerun replaces that day).
//!
//! - A player is scored by the promoted model with the longest observation window (N ∈ 1, 3,
//!   7 days) their age has completed, on the features of their first N days, exactly as in
//!   training. Players installed on the scored day have no complete window and wait a day.
//! - A pLTV is what the player has spent so far plus the model's prediction of their revenue
//!   after day N, of which a player older than N has already lived some days: they count as
//!   earned, and only the share of days still to come is added. A pLTV never falls below the
//!   pLTV of a shorter horizon, and once the player is as old as the horizon it is the actual
//!   revenue.
//! - Churn risk looks at the player's latest N+1 days, taken as days 0..=N: for a player
//!   exactly N days old that is the trained question; for an older one it carries the model's
//!   sense of recency (active days, days since last session, spend) to the current week, the
//!   usual sliding-window reading of an early-life churn model.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context as _;
use chrono::{Days, NaiveDate};
use clap::Args;
use polars::prelude::*;
use rayon::prelude::*;

use crate::date_range::{DateRange, days_since_epoch};
use crate::exit_codes::UsageError;
use crate::jobs::silver_to_gold::is_whale;
use crate::jobs::train_ltv::Target;
use crate::lake::float_column;
use crate::lake::{Lake, column_in_range};
use crate::ltv::features::{self, HORIZONS, MatrixInputs, OBSERVATION_DAYS, PlayerDays, Window};
use crate::ltv::model::Features;
use crate::ltv::registry::{self, Method, ModelVersion, RegisteredModel};
use crate::money::dollars_of;
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
/// Rows whose matrix is written and walked by one core at a time: about a megabyte of
/// features, still in cache when the forest reads them.
const PREDICTED_ROWS: usize = 8192;

pub async fn run(context: JobContext, options: ScoreOptions) -> anyhow::Result<JobReport> {
    crate::tune_allocator();
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
/// from their `days` (`gold.fact_player_daily` rows up to `day`), in the players' order.
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
        .filter(col("age_days").gt_eq(lit(1)));
    // Numbered as they are: every sum and join after this keys on the number
    // ([`features::PLAYER_ROW`]) instead of the player's key.
    let (players, days) = features::numbered(players, days.clone().lazy())?;
    Scorer::new(models, &players, days)?.scores(day)
}

/// Predictions for the rows of one frame of players, by row.
struct Scorer<'a> {
    models: &'a ModelVersion,
    players: &'a DataFrame,
    /// What the boosters' matrices read of `players` themselves.
    matrix_inputs: MatrixInputs,
    /// The fact rows of the scored players.
    days: PlayerDays,
    ages: Vec<i32>,
}

/// A value per player row; `None` where nothing predicts it.
type PerPlayer = Vec<Option<f64>>;

/// Which days of a player a window's features describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// Days 0..=N after install, as in training (pLTV).
    FirstDays,
    /// The latest N+1 days, renumbered as days 0..=N (churn risk now).
    LatestDays,
}

impl<'a> Scorer<'a> {
    fn new(
        models: &'a ModelVersion,
        players: &'a DataFrame,
        days: PlayerDays,
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
            matrix_inputs: MatrixInputs::of(players)?,
            days,
            ages,
        })
    }

    /// Per player row, [`crate::ltv::share_to_come`] of a window-`n` model's `horizon`.
    fn share_to_come(&self, horizon: i32, n: i32) -> PolarsResult<Vec<f64>> {
        let shares = self
            .players
            .clone()
            .lazy()
            .select([
                crate::ltv::share_to_come(lit(horizon), lit(n), col("age_days")).alias("share"),
            ])
            .collect()?;
        float_column(&shares, "share")
    }

    fn scores(&self, day: NaiveDate) -> anyhow::Result<DataFrame> {
        let rows = self.players.height();
        let earned = self.earned();
        let ltv_models: Vec<(i32, ScoredBy)> = HORIZONS
            .iter()
            .map(|horizon| (*horizon, self.scored_by(&Target::Ltv(*horizon).name())))
            .collect();
        // The boosters' predictions of revenue to come, a window at a time: each window's
        // features are added up once for all its boosters, and one window is in memory at a
        // time, so the next reuses its memory.
        let mut future: HashMap<(i32, i32), (Vec<usize>, Vec<f64>)> = HashMap::new();
        let mut spent = None;
        for n in OBSERVATION_DAYS {
            // Only players younger than a horizon need its booster's prediction.
            let boosters: Vec<(i32, &RegisteredModel, Vec<usize>)> = ltv_models
                .iter()
                .filter_map(|(horizon, by_window)| {
                    let (model, scored) = by_window.get(&n)?;
                    let open: Vec<usize> = self.younger_than(*horizon, scored).collect();
                    (matches!(model.method, Method::Xgboost { .. }) && !open.is_empty())
                        .then_some((*horizon, *model, open))
                })
                .collect();
            if boosters.is_empty() {
                continue;
            }
            let window = self.window(n, Span::FirstDays, spent.take())?;
            for (horizon, model, open) in boosters {
                let predicted = self.predict(model, &window, &open)?;
                future.insert((horizon, n), (open, predicted));
            }
            spent = Some(window);
        }

        let mut ltv: Vec<(i32, PerPlayer)> = Vec::new();
        let mut window_d30: Vec<Option<i32>> = vec![None; rows];
        let mut accuracy_d30: PerPlayer = vec![None; rows];
        for ((horizon, by_window), earned) in ltv_models.iter().zip(&earned) {
            let mut predicted: PerPlayer = vec![None; rows];
            for (n, (model, scored)) in by_window {
                match &model.method {
                    Method::Xgboost { .. } => {
                        // A booster none of whose players is younger than the horizon
                        // predicted nothing.
                        if let Some((open, future)) = future.remove(&(*horizon, *n)) {
                            let to_come = self.share_to_come(*horizon, *n)?;
                            for (row, future) in open.into_iter().zip(future) {
                                predicted[row] = Some(earned[row] + future * to_come[row]);
                            }
                        }
                    }
                    Method::CohortCurve { multiplier } => {
                        let (_, d30) = ltv
                            .iter()
                            .find(|(h, _)| *h == 30)
                            .context("a cohort-curve D180 needs the D30 predictions first")?;
                        for &row in scored {
                            predicted[row] = d30[row].map(|v| v * multiplier);
                        }
                    }
                }
                if *horizon == CONFIDENCE_HORIZON {
                    for &row in scored {
                        window_d30[row] = Some(*n);
                        accuracy_d30[row] = model.decile_mape.map(|m| (1.0 - m).clamp(0.0, 1.0));
                    }
                }
            }
            // Separate models per horizon could disagree; a longer horizon never earns less.
            let shorter = ltv.last().map(|(_, values)| values);
            let values = (0..rows)
                .map(|row| {
                    if self.has_lived(row, *horizon) {
                        Some(earned[row])
                    } else {
                        let floor = shorter.and_then(|s| s[row]).unwrap_or(0.0);
                        predicted[row].map(|p| p.max(earned[row]).max(floor))
                    }
                })
                .collect();
            ltv.push((*horizon, values));
        }

        let mut churn: PerPlayer = vec![None; rows];
        for (n, (model, scored)) in self.scored_by(&Target::Churn.name()) {
            let window = self.window(n, Span::LatestDays, spent.take())?;
            let risks = self.predict(model, &window, &scored)?;
            for (row, risk) in scored.iter().zip(risks) {
                churn[*row] = Some(risk);
            }
            spent = Some(window);
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
        // The predictions are in row order, the players' order: they sit beside them as is.
        let predictions = df!(
            "score_date" => vec![day; rows],
            "observation_days" => window_d30,
            "predicted_ltv_d7" => ltv[0].1.clone(),
            "predicted_ltv_d30" => ltv[1].1.clone(),
            "predicted_ltv_d180" => ltv[2].1.clone(),
            "ltv_confidence" => confidence,
            "churn_risk" => churn.clone(),
            "predicted_churn_d7" => churn.iter().map(|r| r.map(|r| r >= CHURN_THRESHOLD)).collect::<Vec<_>>(),
        )?;
        let whale_candidate = when(col("is_minor").not())
            .then(col("predicted_ltv_d180"))
            .otherwise(lit(NULL).cast(DataType::Float64));
        Ok(self
            .players
            .hstack(predictions.columns())?
            .lazy()
            .with_columns([
                is_whale(whale_candidate, &[col("game_id")])?.alias("is_whale"),
                // One value for every row, not a string per row.
                lit(self.models.version.as_str()).alias("model_version"),
            ])
            .select(
                gold::PLAYER_LTV_SCORES
                    .columns
                    .iter()
                    .map(|c| col(c.name))
                    .collect::<Vec<_>>(),
            )
            .collect()?)
    }

    /// Whether the player of `row` has lived `horizon` days, so that their pLTV at that
    /// horizon is their actual revenue.
    fn has_lived(&self, row: usize, horizon: i32) -> bool {
        self.ages[row] >= horizon
    }

    /// The `rows` (ascending) that have not lived `horizon` days: only they need a booster's
    /// prediction of it. A day scoring 180 install days (ages 1 to 180) spares the D7 booster
    /// 174 of those days and the D30 booster 151.
    fn younger_than<'r>(
        &'r self,
        horizon: i32,
        rows: &'r [usize],
    ) -> impl Iterator<Item = usize> + 'r {
        rows.iter()
            .copied()
            .filter(move |row| !self.has_lived(*row, horizon))
    }

    /// For each window, the promoted model of `target` with that window and the player rows
    /// (ascending) it is the best model for: the longest window each player's age completes.
    fn scored_by(&self, target: &str) -> ScoredBy<'a> {
        let longest = OBSERVATION_DAYS.iter().copied().max().unwrap_or(0);
        // The best model depends on the age only up to the longest window.
        let best: Vec<Option<&'a RegisteredModel>> = (0..=longest)
            .map(|age| self.models.best_for(target, age))
            .collect();
        let mut by_window = ScoredBy::new();
        for (row, age) in self.ages.iter().enumerate() {
            if let Some(model) = best[(*age).clamp(0, longest) as usize] {
                by_window
                    .entry(model.observation_days)
                    .or_insert_with(|| (model, Vec::new()))
                    .1
                    .push(row);
            }
        }
        by_window
    }

    /// Revenue from install through each of [`HORIZONS`] so far, by row, in dollars.
    fn earned(&self) -> Vec<Vec<f64>> {
        self.days
            .revenue_through(&HORIZONS)
            .into_iter()
            .map(|micros| micros.into_iter().map(dollars_of).collect())
            .collect()
    }

    /// The window-`n` features of every player (each other's acquisition peers), in the
    /// memory of the `spent` window if there is one.
    fn window(&self, n: i32, which: Span, spent: Option<Window>) -> PolarsResult<Window> {
        let latest_days: Vec<i32>;
        let day_zero = match which {
            Span::FirstDays => None,
            Span::LatestDays => {
                latest_days = self.ages.iter().map(|age| age - n).collect();
                Some(latest_days.as_slice())
            }
        };
        match spent {
            Some(spent) => spent.reused(self.players, &self.days, n, day_zero),
            None => Window::of(self.players, &self.days, n, day_zero),
        }
    }

    /// `model`'s raw prediction for each of `rows` from its `window`: revenue after day N,
    /// or a churn probability.
    fn predict(
        &self,
        model: &RegisteredModel,
        window: &Window,
        rows: &[usize],
    ) -> anyhow::Result<Vec<f64>> {
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
        let layout = window.layout(&self.matrix_inputs, vocabulary)?;
        // A block of rows at a time, each written and walked on one core while it is in
        // cache: the whole matrix of a million rows was fresh memory, which cost this VM as
        // much as writing and walking it.
        let predicted = rows
            .par_chunks(PREDICTED_ROWS)
            .map(|rows| {
                let mut values = vec![0.0; rows.len() * layout.width()];
                layout.write(rows, &mut values);
                let features = Features {
                    values: &values,
                    rows: rows.len(),
                    width: layout.width(),
                };
                booster.predict_on(&features, 1)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(predicted.into_iter().flatten().map(f64::from).collect())
    }
}

/// Per window, a model and the player rows it scores.
type ScoredBy<'a> = BTreeMap<i32, (&'a RegisteredModel, Vec<usize>)>;
