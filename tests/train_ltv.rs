//! train-ltv and score-ltv on a generated studio of 60 days run through Bronze, Silver and
//! Gold: the models are evaluated on later cohorts against the heuristic, recorded in the
//! registry, and the same Gold and seed give the same models; the scores follow the rules of
//! score-ltv, are the same on a rerun, and reach the mart.

mod common;

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;

use common::{
    TestDatabase, bronze_to_silver, ingest_files, lake, run_stage, run_stage_with, silver_to_gold,
    sorted,
};
use ltv_lakehouse::jobs::gen_fixtures::studio::designed_roas_d30;
use ltv_lakehouse::jobs::optimize_campaigns::config::OptimizerConfig;
use ltv_lakehouse::ltv::metrics;
use ltv_lakehouse::tables::gold;
use polars::prelude::*;
use serde_json::Value;

/// Installs per day of the studio: enough players for cohort figures that mean something,
/// few enough for a debug build.
const INSTALLS_PER_DAY: &str = "120";

/// Installs per day of the studio the cohort MAPE is measured on. A day's D30 revenue rides
/// on its few whales: at 120 installs a day even a predictor fitted to the ground truth
/// (D8-30 revenue by D7 spend bucket) misses a day's mean by 37% on average, so a cohort
/// MAPE there measures the dice, not the model. At 480 it is the model's error that the 12%
/// target speaks of.
const COHORT_INSTALLS_PER_DAY: &str = "480";

fn studio_gold(folder: &Path, installs_per_day: &str) {
    let studio = folder.join("studio");
    common::gen_studio(&studio, "2026-03-01", installs_per_day, "11");
    let lake = folder.join("lake");
    ingest_files(&lake, &studio, "2026-03-01");
    bronze_to_silver(&lake, "2026-03-01", &[]);
    silver_to_gold(&lake, &["--changed"]);
}

fn train(lake: &Path, report: &Path) -> (Value, Value) {
    let summary = run_stage(
        env!("CARGO_BIN_EXE_train-ltv"),
        &[
            "--lake",
            lake.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let report: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    (summary, report)
}

fn model<'a>(report: &'a Value, target: &str, n: i64) -> &'a Value {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["target"] == target && m["observation_days"] == n)
        .unwrap_or_else(|| panic!("no {target} model at N={n} in {report:#}"))
}

fn number(value: &Value, path: &[&str]) -> f64 {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("no number at {path:?} in {value:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn models_beat_the_heuristic_on_later_cohorts_and_a_rerun_gives_the_same_models() {
    let folder = tempfile::tempdir().unwrap();
    studio_gold(folder.path(), INSTALLS_PER_DAY);
    let lake_path = folder.path().join("lake");
    let (summary, report) = train(&lake_path, &folder.path().join("report.json"));
    assert_eq!(report["as_of"], "2026-03-01");
    assert_eq!(summary["details"]["model_version"], "ltv-2026-03-01-s7");

    // D30 from a player's first week, on the holdout of the newest matured install days.
    let d30 = model(&report, "ltv_d30", 7);
    assert_eq!(d30["method"], "xgboost");
    assert!(d30["holdout_players"].as_u64().unwrap() > 500, "{d30:#}");
    let evaluation = &d30["evaluation"];
    let decile_mape = number(evaluation, &["model", "decile_mape", "mape"]);
    let heuristic_decile_mape = number(evaluation, &["heuristic", "decile_mape", "mape"]);
    assert!(
        decile_mape < heuristic_decile_mape,
        "decile MAPE {decile_mape} vs heuristic {heuristic_decile_mape}"
    );
    // No cohort MAPE here: the install day × channel cells of this studio hold fewer than
    // the 50 players a cohort figure needs, and the report leaves it empty.
    assert!(number(evaluation, &["model", "normalized_gini"]) > 0.5);
    assert_eq!(d30["promoted"], true);
    // The raw trees fall short of their training players' revenue (a boosted Tweedie model
    // does not keep the sum); the balance factor that makes it up is recorded, and is a
    // measured figure, not a placeholder.
    let balance = number(d30, &["balance"]);
    assert!(balance > 1.0 && balance < 2.0, "balance {balance}");

    // Churn within a week of day 7 ranks players better than days since last seen.
    let churn = model(&report, "churn_d7", 7);
    assert!(
        number(&churn["evaluation"], &["model", "auc"])
            > number(&churn["evaluation"], &["heuristic", "auc"])
    );

    // No cohort is 180 days old: D180 is the D30 model carried along the cohort curve.
    let d180 = model(&report, "ltv_d180", 7);
    assert_eq!(d180["method"], "cohort_curve");
    let multiplier = number(&d180["evaluation"], &["multiplier"]);
    assert!(multiplier > 1.0 && multiplier < 10.0, "{multiplier}");

    // Every model is in the registry; the same Gold and seed give the same trees.
    let registry = |lake_path: &Path| {
        let lake_path = lake_path.to_path_buf();
        async move {
            lake(&lake_path)
                .read(&gold::LTV_MODELS, None)
                .await
                .unwrap()
                .sort(
                    ["target", "observation_days"],
                    SortMultipleOptions::default(),
                )
                .unwrap()
        }
    };
    let first = registry(&lake_path).await;
    assert_eq!(first.height(), report["models"].as_array().unwrap().len());
    train(&lake_path, &folder.path().join("again.json"));
    let second = registry(&lake_path).await;
    assert_eq!(second.height(), first.height(), "a rerun adds no version");
    for column in first.columns() {
        let again = second.column(column.name()).unwrap();
        assert!(
            column
                .as_materialized_series()
                .equals_missing(again.as_materialized_series()),
            "a rerun changed {}: {:?} then {:?}",
            column.name(),
            column.head(Some(3)),
            again.head(Some(3))
        );
    }

    scores_follow_the_rules_and_reach_the_mart(&lake_path).await;
    let cohort = scores_against_the_ground_truth(&lake_path, &folder.path().join("studio")).await;
    // A guard against regressions at this size; the target is checked on bigger cohorts.
    assert!(cohort.mape.unwrap() < 0.3, "{cohort:?}");
}

/// Installs per day of the launch week the optimizer judges: a studio buying real volume,
/// so that each campaign segment sees a few hundred installs in its first week.
const LAUNCH_INSTALLS_PER_DAY: &str = "1000";

/// optimize-campaigns on the first week of a busier launch, scored with the version trained on
/// the 60-day studio of 480 installs a day (players it never saw), with the shipped thresholds:
/// every campaign the generator built to lose money is paused and every one built to win is
/// scaled.
///
/// "Built to" is the campaign's design (`studio::designed_roas_d30`), not what this week's
/// installs happen to earn by D30: a few hundred installs' D30 rides on a handful of whales,
/// and the three winners' week here earns 2.3-2.7 for a design of 1.4-1.7.
///
/// The models come from the bigger studio because a campaign of 6% of paid installs (Unity
/// Ads in Japan, where the generator's players are likeliest to pay) leaves few of its players
/// in 120 installs a day to learn from: trained there, the models read that winner at 0.99,
/// under the target, and it is watched. From 480 a day they read the winners at 1.77, 1.28 and
/// 1.72, each at least 85% sure to clear the floor (80% needed). Two losers each have a day of
/// their last three read over the floor; their weeks, 0.23 (0.00-0.53) and 0.31 (0.00-0.64),
/// are over 99% sure to be under it, and they are paused.
async fn campaigns_are_judged_in_their_first_week(trained_lake: &Path, folder: &Path) {
    let week_end = "2026-01-08";
    let studio = folder.join("launch");
    common::gen_studio(&studio, week_end, LAUNCH_INSTALLS_PER_DAY, "12");
    let lake_path = folder.join("launch-lake");
    ingest_files(&lake_path, &studio, week_end);
    bronze_to_silver(&lake_path, week_end, &[]);
    silver_to_gold(&lake_path, &["--changed"]);
    // The launch lake's registry holds the trained version, as a studio would ship it.
    let registry = lake(trained_lake)
        .read(&gold::LTV_MODELS, None)
        .await
        .unwrap();
    lake(&lake_path)
        .merge(&gold::LTV_MODELS, &registry)
        .await
        .unwrap();
    let lake_arg = lake_path.to_str().unwrap();
    run_stage(
        env!("CARGO_BIN_EXE_score-ltv"),
        &[
            "--lake",
            lake_arg,
            "--date",
            week_end,
            "--model-version",
            "ltv-2026-03-01-s7",
        ],
    );
    run_stage(
        env!("CARGO_BIN_EXE_optimize-campaigns"),
        &["--lake", lake_arg, "--date", week_end],
    );

    // What each campaign's first-week installs really earn by D30, per dollar: printed
    // beside the design, which is what the campaigns are judged against.
    let mut week: HashMap<String, (f64, f64)> = HashMap::new();
    let mut reader = csv::Reader::from_path(studio.join("ground_truth.csv")).unwrap();
    for row in reader.deserialize() {
        let row: ltv_lakehouse::jobs::gen_fixtures::GroundTruthRow = row.unwrap();
        if row.install_date >= NaiveDate::from_ymd_opt(2026, 1, 8).unwrap() {
            continue;
        }
        let (Some(cost), false) = (row.install_cost_usd, row.campaign_id.is_empty()) else {
            continue;
        };
        let entry = week.entry(row.campaign_id).or_default();
        entry.0 += row.revenue_d30;
        entry.1 += cost;
    }
    let designed = designed_roas_d30(1_000..1_100);
    let ledger = sorted(&lake_path, &gold::CAMPAIGN_ACTIONS).await;
    let campaigns = common::strings(&ledger, "campaign_id");
    let verdicts = common::strings(&ledger, "recommendation");
    let reasons = common::strings(&ledger, "reason");
    let predicted = floats(&ledger, "predicted_roas_d30");
    let (low, high) = (
        floats(&ledger, "predicted_roas_d30_low"),
        floats(&ledger, "predicted_roas_d30_high"),
    );
    let installs: Vec<i64> = ledger
        .column("installs")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let built_to = |row: usize| designed[&campaigns[row]];
    for row in 0..ledger.height() {
        let (revenue, cost) = week[&campaigns[row]];
        eprintln!(
            "{:28} installs {:4} ROAS D30 built to {:5.2}, this week {:5.2}; \
             pROAS D30 {:5.2} ({:.2}-{:.2}) -> {}: {}",
            campaigns[row],
            installs[row],
            built_to(row),
            revenue / cost,
            predicted[row].unwrap_or(f64::NAN),
            low[row].unwrap_or(f64::NAN),
            high[row].unwrap_or(f64::NAN),
            verdicts[row],
            reasons[row]
        );
    }
    // The thresholds optimize-campaigns ran with: min installs 100, floor 0.8, target 1.2.
    let shipped = OptimizerConfig::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/optimizer.yaml"
    )))
    .unwrap();
    let (mut losers, mut paused, mut winners, mut scaled) = (0, 0, 0, 0);
    for row in (0..ledger.height()).filter(|&row| installs[row] as u64 >= shipped.min_installs) {
        let roas = predicted[row].unwrap();
        if built_to(row) < 0.5 {
            losers += 1;
            paused += usize::from(verdicts[row] == "pause");
            assert!(
                roas < shipped.roas_floor_d30 && verdicts[row] != "scale",
                "{} loses money",
                campaigns[row]
            );
        }
        // Scaling asks for less than certainty: never one built under the floor.
        assert!(
            built_to(row) >= shipped.roas_floor_d30 || verdicts[row] != "scale",
            "{} is scaled",
            campaigns[row]
        );
        // Built to reach the scale target.
        if built_to(row) >= shipped.roas_target_d30 {
            winners += 1;
            scaled += usize::from(verdicts[row] == "scale");
            assert!(
                roas >= shipped.roas_floor_d30 && verdicts[row] != "pause",
                "{} makes money",
                campaigns[row]
            );
        }
    }
    assert!(
        losers >= 6 && winners >= 3,
        "{losers} losers, {winners} winners"
    );
    assert_eq!(paused, losers, "{paused} of {losers} losers paused");
    assert_eq!(scaled, winners, "{scaled} of the {winners} winners scaled");
}

/// The design's world-class target: D30 predicted at day 7 within 12% of what each install
/// day's players really spend by D30 (mean absolute error over the days), on a 60-day studio
/// of 480 installs a day, with train-ltv's defaults and seed. The same models then score a
/// launch week for the optimizer ([`campaigns_are_judged_in_their_first_week`]).
#[tokio::test(flavor = "multi_thread")]
async fn d30_predicted_at_day_7_is_within_12_percent_of_each_install_days_truth() {
    let folder = tempfile::tempdir().unwrap();
    studio_gold(folder.path(), COHORT_INSTALLS_PER_DAY);
    let lake_path = folder.path().join("lake");
    train(&lake_path, &folder.path().join("report.json"));
    score(&lake_path, &[]);
    let cohort = scores_against_the_ground_truth(&lake_path, &folder.path().join("studio")).await;
    eprintln!("D30 predicted at day 7 against each install day's truth: {cohort:?}");
    assert!(cohort.mape.unwrap() <= 0.12, "{cohort:?}");
    campaigns_are_judged_in_their_first_week(&lake_path, folder.path()).await;
}

/// The scores next to what the generator says each player really spends by D30 and D180 (the
/// studio simulates every player past its last day): asserts the D180 Gini over every scored
/// player and returns the MAPE of D30 made at day 7 per install day.
async fn scores_against_the_ground_truth(lake_path: &Path, studio: &Path) -> metrics::Mape {
    let hasher = ltv_lakehouse::privacy::PiiHasher::new(common::PII_KEY.as_bytes());
    let mut truth = HashMap::new();
    let mut reader = csv::Reader::from_path(studio.join("ground_truth.csv")).unwrap();
    for row in reader.deserialize() {
        let row: ltv_lakehouse::jobs::gen_fixtures::GroundTruthRow = row.unwrap();
        truth.insert(
            hasher.hash(&row.eternal_player_id),
            (row.revenue_d30, row.revenue_d180),
        );
    }
    let scores = sorted(lake_path, &gold::PLAYER_LTV_SCORES).await;
    let ids = common::strings(&scores, "player_id");
    let days = common::strings(
        &scores
            .clone()
            .lazy()
            .select([col("acquisition_date").cast(DataType::String)])
            .collect()
            .unwrap(),
        "acquisition_date",
    );
    let windows = ints(&scores, "observation_days");
    let ages: Vec<i32> = ints(&scores, "age_days")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let (d30, d180) = (
        floats(&scores, "predicted_ltv_d30"),
        floats(&scores, "predicted_ltv_d180"),
    );
    // D180 of every scored player (none has lived 180 days: all of it is prediction).
    let (mut actual, mut predicted) = (Vec::new(), Vec::new());
    // D30 made at day 7, for players 7 to 29 days old, by install day.
    let (mut cohorts, mut actual_30, mut predicted_30) = (Vec::new(), Vec::new(), Vec::new());
    for row in 0..scores.height() {
        let (true_d30, true_d180) = *truth
            .get(&ids[row])
            .expect("every scored player is in the truth");
        if let Some(p) = d180[row] {
            actual.push(true_d180);
            predicted.push(p);
        }
        if windows[row] == Some(7) && ages[row] < 30 {
            cohorts.push(days[row].clone());
            actual_30.push(true_d30);
            predicted_30.push(d30[row].unwrap());
        }
    }
    let gini = metrics::normalized_gini(&actual, &predicted).unwrap();
    let cohort = metrics::mape(&metrics::groups_by(&cohorts, &actual_30, &predicted_30));
    eprintln!(
        "against the ground truth: D180 normalized Gini {gini:.3} over {} players; D30 made at \
         day 7, MAPE over {} install days: {:?}",
        actual.len(),
        cohort.groups,
        cohort.mape
    );
    assert!(actual.len() > 5000);
    assert!(gini > 0.5, "D180 Gini {gini}");
    assert!(cohort.groups >= 20, "{cohort:?}");
    cohort
}

fn score(lake: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--lake", lake.to_str().unwrap(), "--date", "2026-03-01"];
    args.extend(extra);
    run_stage(env!("CARGO_BIN_EXE_score-ltv"), &args)
}

fn ints(frame: &DataFrame, column: &str) -> Vec<Option<i32>> {
    frame
        .column(column)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .collect()
}

fn floats(frame: &DataFrame, column: &str) -> Vec<Option<f64>> {
    frame
        .column(column)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}

async fn scores_follow_the_rules_and_reach_the_mart(lake_path: &Path) {
    let summary = score(lake_path, &[]);
    assert_eq!(summary["details"]["model_versions"][0], "ltv-2026-03-01-s7");
    let scores = sorted(lake_path, &gold::PLAYER_LTV_SCORES).await;
    let players = sorted(lake_path, &gold::PLAYER_LIFECYCLE).await;
    // Everyone installed before the scored day is scored (the studio is younger than 180 days).
    let installed_before = players
        .clone()
        .lazy()
        .filter(col("acquisition_date").lt(lit(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())))
        .collect()
        .unwrap();
    assert_eq!(scores.height(), installed_before.height());
    assert_eq!(summary["rows_out"], scores.height());

    let actual: HashMap<String, (f64, f64)> = common::strings(&installed_before, "player_id")
        .into_iter()
        .zip(floats(&installed_before, "d7_total_revenue"))
        .zip(floats(&installed_before, "revenue_d30"))
        .map(|((id, d7), d30)| (id, (d7.unwrap(), d30.unwrap())))
        .collect();
    let ids = common::strings(&scores, "player_id");
    let ages: Vec<i32> = ints(&scores, "age_days")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let windows = ints(&scores, "observation_days");
    let (d7, d30, d180) = (
        floats(&scores, "predicted_ltv_d7"),
        floats(&scores, "predicted_ltv_d30"),
        floats(&scores, "predicted_ltv_d180"),
    );
    let confidence = floats(&scores, "ltv_confidence");
    let churn = floats(&scores, "churn_risk");
    let mut predicted_young = 0;
    for row in 0..scores.height() {
        let (age, id) = (ages[row], &ids[row]);
        let (actual_d7, actual_d30) = actual[id];
        assert!((1..=60).contains(&age), "{id} is {age} days old");
        if age >= 30 {
            // A matured horizon is the actual revenue, with full confidence.
            assert_eq!(d30[row], Some(actual_d30), "{id}");
            assert_eq!(confidence[row], Some(1.0), "{id}");
        } else if let Some(predicted) = d30[row] {
            predicted_young += 1;
            let window = windows[row].expect("a predicted D30 names its window");
            assert!(
                [1, 3, 7].contains(&window) && window <= age,
                "{id}: N={window} at {age}"
            );
            let c = confidence[row].unwrap();
            assert!(c > f64::from(age) / 30.0 - 1e-9 && c < 1.0, "{id}: {c}");
            // Never below what the player has spent so far.
            if age >= 7 {
                assert!(
                    predicted >= actual_d7 - 1e-9,
                    "{id}: {predicted} < {actual_d7}"
                );
                assert_eq!(d7[row], Some(actual_d7), "{id}");
            }
        }
        if let (Some(a), Some(b), Some(c)) = (d7[row], d30[row], d180[row]) {
            assert!(a <= b + 1e-9 && b <= c + 1e-9, "{id}: {a} {b} {c}");
        }
        if let Some(risk) = churn[row] {
            assert!((0.0..=1.0).contains(&risk), "{id}: {risk}");
        }
    }
    assert!(
        predicted_young > 1000,
        "{predicted_young} young players predicted"
    );
    assert!(churn.iter().flatten().count() > 5000);
    let churners = scores
        .column("predicted_churn_d7")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .zip(&churn)
        .filter(|(flag, risk)| flag.is_some() && *flag != risk.map(|r| r >= 0.5))
        .count();
    assert_eq!(churners, 0, "predicted_churn_d7 is churn_risk >= 0.5");

    // The whales: the top 1% (at least one) of each game's adults by predicted D180.
    let whales = scores
        .clone()
        .lazy()
        .join(
            players
                .clone()
                .lazy()
                .select([col("game_id"), col("player_id"), col("is_minor")]),
            [col("game_id"), col("player_id")],
            [col("game_id"), col("player_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("game_id")])
        .agg([
            col("is_whale")
                .sum()
                .cast(DataType::Float64)
                .alias("whales"),
            col("is_whale")
                .and(col("is_minor"))
                .sum()
                .cast(DataType::Float64)
                .alias("minor_whales"),
            col("predicted_ltv_d180")
                .filter(col("is_minor").not())
                .count()
                .cast(DataType::Float64)
                .alias("adults"),
            col("predicted_ltv_d180")
                .filter(col("is_whale"))
                .min()
                .alias("smallest_whale"),
            col("predicted_ltv_d180")
                .filter(col("is_whale").not().and(col("is_minor").not()))
                .max()
                .alias("largest_other"),
        ])
        .collect()
        .unwrap();
    assert!(whales.height() >= 1);
    for row in 0..whales.height() {
        let get = |name: &str| floats(&whales, name)[row].unwrap();
        assert_eq!(get("whales"), (get("adults") * 0.01).ceil(), "{whales}");
        assert_eq!(get("minor_whales"), 0.0);
        assert!(get("smallest_whale") >= get("largest_other"), "{whales}");
    }

    // A rerun replaces the day with the same scores.
    score(lake_path, &[]);
    let again = sorted(lake_path, &gold::PLAYER_LTV_SCORES).await;
    assert!(scores.equals_missing(&again), "a rerun changed the scores");

    // A version that does not exist is a bad flag: exit 2, naming it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_score-ltv"))
        .args([
            "--lake",
            lake_path.to_str().unwrap(),
            "--date",
            "2026-03-01",
        ])
        .args(["--model-version", "ltv-1999-01-01-s7"])
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ltv-1999-01-01-s7"), "{stderr}");

    // The mart carries the newest scores, and the matured horizons' actual revenue.
    let database = TestDatabase::create("ltv_scores").await;
    run_stage_with(
        env!("CARGO_BIN_EXE_load-mart"),
        &[
            "--lake",
            lake_path.to_str().unwrap(),
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-01",
        ],
        &[("DATABASE_URL", &database.url)],
    );
    let mut connection = database.connect().await;
    let (rows, predicted_sum, versions): (i64, f64, i64) = sqlx::query_as(
        "SELECT count(*), sum(predicted_ltv_d30)::float8, count(DISTINCT prediction_version) \
         FROM mart.player_analytics_daily WHERE acquisition_date < '2026-03-01'",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert_eq!(rows as usize, scores.height());
    let scored_sum: f64 = d30.iter().flatten().sum();
    assert!(
        (predicted_sum - scored_sum).abs() < 0.01 * rows as f64,
        "mart {predicted_sum} vs scores {scored_sum}"
    );
    assert_eq!(versions, 1);
}

#[test]
fn train_ltv_on_a_lake_without_gold_names_the_missing_table() {
    let lake = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_train-ltv"))
        .args(["--lake", lake.path().to_str().unwrap()])
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("gold.fact_player_daily does not exist"),
        "{stderr}"
    );
}
