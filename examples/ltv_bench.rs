//! pLTV at scale: N synthetic players (default a million), each with up to 15 days of daily
//! activity whose spend follows a hidden propensity, and their D30 revenue. Times building the
//! day-7 features, training the D30 (Tweedie) and churn (logistic) models of one observation
//! window side by side with train-ltv's settings, and scoring every player with score-ltv's
//! scorer; prints the figures. Everything runs in memory, so the figures are the models' and
//! features' cost, not the lake's.
//!
//! The N players are old enough to train on; the scored day also has the week of installs
//! after them (N/3 more players), as every real scoring day does: its youngest players are
//! scored by the day-1 and day-3 windows, which cost their own features.
//!
//! Usage: ltv_bench [PLAYERS]

use std::time::Instant;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use ltv_lakehouse::jobs::score_ltv;
use ltv_lakehouse::lake::float_column;
use ltv_lakehouse::ltv::features::{self, Vocabulary};
use ltv_lakehouse::ltv::model::{Features, Model, Objective, Settings, fit_concurrently};
use ltv_lakehouse::ltv::registry::{Method, ModelVersion, RegisteredModel};
use ltv_lakehouse::tables::gold;
use polars::prelude::*;

/// Install days of the players trained on; they are 8 to 28 days old when scored.
const INSTALL_DAYS: u64 = 21;
/// Install days after them, whose players are 1 to 7 days old when scored.
const YOUNG_DAYS: u64 = 7;
/// Days of activity generated per player (the features see days 0..=7, churn the week after).
const ACTIVE_DAYS: i32 = 15;

fn main() -> anyhow::Result<()> {
    ltv_lakehouse::tune_allocator();
    let players: usize = match std::env::args().nth(1) {
        Some(n) => anyhow::Context::context(n.parse(), "PLAYERS must be a number")?,
        None => 1_000_000,
    };
    let first_install = NaiveDate::from_ymd_opt(2026, 1, 1).context("a date")?;
    let score_day = first_install + Days::new(INSTALL_DAYS + YOUNG_DAYS);

    let started = Instant::now();
    let (lifecycle, days) = synthetic_studio(players, first_install, score_day)?;
    let generate_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let first_young_install = first_install + Days::new(INSTALL_DAYS);
    let (numbered_players, numbered_days) =
        features::numbered(lifecycle.clone().lazy(), days.clone().lazy())?;
    let snapshot = features::snapshot(&numbered_players, &numbered_days, 7)?
        .filter(col("acquisition_date").lt(lit(first_young_install)))
        .collect()?;
    let vocabulary = Vocabulary::of(&snapshot)?;
    let matrix = features::matrix(&snapshot, &vocabulary)?;
    let rows = Features {
        values: &matrix,
        rows: snapshot.height(),
        width: vocabulary.feature_names().len(),
    };
    let features_s = started.elapsed().as_secs_f64();

    let earned = float_column(&snapshot, "total_revenue")?;
    let revenue_after_day_7: Vec<f32> = float_column(&snapshot, "revenue_d30")?
        .iter()
        .zip(&earned)
        .map(|(d30, so_far)| (d30 - so_far).max(0.0) as f32)
        .collect();
    let churned: Vec<f32> = snapshot
        .column("active_after")?
        .bool()?
        .iter()
        .map(|active| if active == Some(true) { 0.0 } else { 1.0 })
        .collect();
    let settings = Settings::default();
    // As train-ltv does: the boosters of a run train side by side, a thread each.
    let started = Instant::now();
    let jobs = [
        (Objective::Tweedie, &revenue_after_day_7),
        (Objective::Logistic, &churned),
    ];
    let mut fitted = fit_concurrently(&jobs, settings.threads, |(objective, labels), threads| {
        let settings = Settings {
            threads,
            ..settings
        };
        Model::train(*objective, &rows, labels, &settings)
    })
    .into_iter();
    let (Some(d30), Some(churn)) = (fitted.next(), fitted.next()) else {
        anyhow::bail!("two boosters were trained");
    };
    let (d30, churn) = (d30?, churn?);
    let train_pair_s = started.elapsed().as_secs_f64();

    // The day-7 boosters stand in for the day-1 and day-3 ones too: a booster of the same
    // shape costs the same whatever window its features describe.
    let mut models = Vec::new();
    for (target, model) in [("ltv_d30", &d30), ("churn_d7", &churn)] {
        for observation_days in [1, 3, 7] {
            models.push(RegisteredModel {
                target: target.to_string(),
                observation_days,
                method: Method::Xgboost {
                    model: Model::from_json(&model.to_json()?, settings.threads)?,
                    vocabulary: Box::new(vocabulary.clone()),
                },
                promoted: true,
                decile_mape: Some(0.3),
            });
        }
    }
    let version = ModelVersion {
        version: "bench".into(),
        as_of: score_day,
        models,
    };
    let started = Instant::now();
    let scores = score_ltv::score_players(&version, lifecycle, &days, score_day)?;
    let score_s = started.elapsed().as_secs_f64();
    let scored = scores.height() as f64;
    let predicted = scores.column("predicted_ltv_d30")?.null_count();

    println!(
        "pLTV on {players} synthetic players ({} player-days with the younger ones, generated \
         in {generate_s:.1} s; {} boosting rounds):\n  \
         day-7 features + matrix      {features_s:6.1} s\n  \
         train D30 + churn, together  {train_pair_s:6.1} s\n  \
         score every player           {score_s:6.2} s = {:.0} players/s ({scored} players, {} \
         without a D30)\n  \
         train-ltv fits 8 such boosters per run, two at a time (3 windows x D7/D30/churn, less \
         D7 at N=7; D180 comes from the cohort curve until cohorts mature): about {:.0} s at \
         this size",
        days.height(),
        settings.rounds,
        scored / score_s,
        predicted,
        features_s * 3.0 + train_pair_s * 4.0,
    );
    // What the scores add up to: two builds that print the same figures computed the same
    // features and trees, so a speed-up can be checked not to have changed the models.
    let total =
        |name: &str| -> anyhow::Result<f64> { Ok(float_column(&scores, name)?.iter().sum()) };
    println!(
        "  scores add up to: predicted D30 {:.6}, churn risk {:.6}",
        total("predicted_ltv_d30")?,
        total("churn_risk")?,
    );
    Ok(())
}

/// A cheap deterministic hash of a row and a salt, uniform in [0, 1).
fn uniform(i: u64, salt: u64) -> f64 {
    let mut z = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / u64::MAX as f64
}

/// Lifecycle rows and fact rows (up to the scored day) of `players` players old enough to train
/// on and the [`YOUNG_DAYS`] of installs after them.
fn synthetic_studio(
    players: usize,
    first_install: NaiveDate,
    score_day: NaiveDate,
) -> anyhow::Result<(DataFrame, DataFrame)> {
    let channels = ["meta", "google", "tiktok", "ironsource", "organic"];
    let countries = ["US", "DE", "GB", "FR", "JP", "BR", "IN", "MX", "KR"];
    let mut lifecycle = Lifecycle::default();
    let mut facts = Facts::default();
    let trained_players = players as u64;
    for i in 0..trained_players + trained_players / 3 {
        let install_day = if i < trained_players {
            i % INSTALL_DAYS
        } else {
            INSTALL_DAYS + (i - trained_players) % YOUNG_DAYS
        };
        let install = first_install + Days::new(install_day);
        let age = (score_day - install).num_days() as i32;
        let channel = (uniform(i, 1) * 5.0) as usize;
        let country = (uniform(i, 2) * 9.0) as usize;
        // Engagement decides how often they come back; a payer spends on some of those days.
        let engagement = uniform(i, 3) * (1.0 + channel as f64 / 4.0);
        let payer = uniform(i, 4) < 0.02 + 0.03 * engagement;
        let basket = if uniform(i, 5) < 0.1 { 40.0 } else { 4.0 };
        // Four campaigns per paid channel, so that players have acquisition peers.
        let campaign_id = (channel < 4)
            .then(|| format!("{}-{}", channels[channel], (uniform(i, 6) * 4.0) as usize));
        let player_id = format!("p{i:09}");
        let mut revenue_d7 = 0.0;
        let mut revenue_d30 = 0.0;
        for day in 0..30 {
            let active = day == 0
                || uniform(i, 100 + day as u64) < 0.6 * engagement / (1.0 + day as f64 * 0.15);
            if !active {
                continue;
            }
            let iap = if payer && uniform(i, 200 + day as u64) < 0.3 {
                basket * (0.5 + uniform(i, 300 + day as u64))
            } else {
                0.0
            };
            let ads = 0.02 * (1.0 + (uniform(i, 400 + day as u64) * 5.0).floor());
            revenue_d30 += iap + ads;
            if day <= 7 {
                revenue_d7 += iap + ads;
            }
            if day < ACTIVE_DAYS && day <= age {
                facts.push(
                    install,
                    &player_id,
                    day,
                    iap,
                    ads,
                    1 + (engagement * 3.0) as i64,
                );
            }
        }
        lifecycle.push(Player {
            acquisition_date: install,
            player_id,
            media_source: channels[channel],
            campaign_id,
            country_code: countries[country],
            install_cost_usd: (channel < 4).then_some(1.0 + channel as f64),
            revenue_d7,
            revenue_d30,
        });
    }
    Ok((lifecycle.frame()?, facts.frame()?))
}

struct Player {
    acquisition_date: NaiveDate,
    player_id: String,
    media_source: &'static str,
    campaign_id: Option<String>,
    country_code: &'static str,
    install_cost_usd: Option<f64>,
    revenue_d7: f64,
    revenue_d30: f64,
}

#[derive(Default)]
struct Lifecycle {
    players: Vec<Player>,
}

impl Lifecycle {
    fn push(&mut self, player: Player) {
        self.players.push(player);
    }

    fn frame(self) -> PolarsResult<DataFrame> {
        let p = &self.players;
        let n = p.len();
        df!(
            "acquisition_date" => p.iter().map(|p| p.acquisition_date).collect::<Vec<_>>(),
            "game_id" => vec!["FantasyQuest"; n],
            "player_id" => p.iter().map(|p| p.player_id.as_str()).collect::<Vec<_>>(),
            "media_source" => p.iter().map(|p| p.media_source).collect::<Vec<_>>(),
            "campaign_id" => p.iter().map(|p| p.campaign_id.as_deref()).collect::<Vec<_>>(),
            "platform" => (0..n).map(|i| ["ios", "android"][i % 2]).collect::<Vec<_>>(),
            "country_code" => p.iter().map(|p| p.country_code).collect::<Vec<_>>(),
            "install_cost_usd" => p.iter().map(|p| p.install_cost_usd).collect::<Vec<_>>(),
            "is_minor" => (0..n).map(|i| i % 37 == 0).collect::<Vec<_>>(),
            "d7_total_revenue" => p.iter().map(|p| p.revenue_d7).collect::<Vec<_>>(),
            "revenue_d30" => p.iter().map(|p| p.revenue_d30).collect::<Vec<_>>(),
            "revenue_d180" => p.iter().map(|p| p.revenue_d30 * 1.8).collect::<Vec<_>>(),
        )?
        // The order a read of the lake returns players in: a day at a time, each day's
        // players in key order as Gold writes them.
        .sort(
            gold::PLAYER_LIFECYCLE.key.to_vec(),
            SortMultipleOptions::default(),
        )
    }
}

#[derive(Default)]
struct Facts {
    acquisition_date: Vec<NaiveDate>,
    player_id: Vec<String>,
    day_number: Vec<i32>,
    iap: Vec<f64>,
    ads: Vec<f64>,
    sessions: Vec<i64>,
}

impl Facts {
    fn push(
        &mut self,
        installed: NaiveDate,
        player_id: &str,
        day: i32,
        iap: f64,
        ads: f64,
        sessions: i64,
    ) {
        self.acquisition_date.push(installed);
        self.player_id.push(player_id.to_string());
        self.day_number.push(day);
        self.iap.push(iap);
        self.ads.push(ads);
        self.sessions.push(sessions);
    }

    fn frame(self) -> PolarsResult<DataFrame> {
        let n = self.player_id.len();
        let total: Vec<f64> = self.iap.iter().zip(&self.ads).map(|(a, b)| a + b).collect();
        let activity_date: Vec<NaiveDate> = self
            .acquisition_date
            .iter()
            .zip(&self.day_number)
            .map(|(installed, day)| *installed + Days::new(*day as u64))
            .collect();
        df!(
            "activity_date" => activity_date,
            "game_id" => vec!["FantasyQuest"; n],
            "player_id" => self.player_id,
            "acquisition_date" => self.acquisition_date,
            "day_number" => self.day_number,
            "iap_revenue" => &self.iap,
            "ad_revenue" => &self.ads,
            "total_revenue" => total,
            "iap_purchases" => self.iap.iter().map(|v| i64::from(*v > 0.0)).collect::<Vec<_>>(),
            "ad_impressions" => self.ads.iter().map(|v| (v / 0.02).round() as i64).collect::<Vec<_>>(),
            "sessions" => &self.sessions,
            "minutes_played" => self.sessions.iter().map(|s| *s as f64 * 6.5).collect::<Vec<_>>(),
            "levels_gained" => self.sessions.iter().map(|s| s / 2).collect::<Vec<_>>(),
            "is_active" => vec![true; n],
        )?
        // The order a read of the lake returns facts in.
        .sort(gold::FACT_PLAYER_DAILY.key.to_vec(), SortMultipleOptions::default())
    }
}
