//! silver-to-gold on the committed fixture studio: cohorts and campaign metrics equal what the
//! generator's ground truth says, reruns change nothing, and a late event changes exactly the
//! rows it should.

mod common;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use common::{
    bronze_to_silver, fixtures, gunzip_text, ingest_files, silver_lake, silver_to_gold, sorted,
};
use ltv_lakehouse::lake::TableSpec;
use ltv_lakehouse::tables::gold;
use polars::prelude::*;
use serde_json::{Value, json};

const GOLD_TABLES: [TableSpec; 8] = [
    gold::FACT_PLAYER_DAILY,
    gold::LTV_COHORTS,
    gold::CAMPAIGN_DAILY,
    gold::KPI_DAILY,
    gold::DIM_DATE,
    gold::DIM_PLAYER,
    gold::DIM_CAMPAIGN,
    gold::PLAYER_LIFECYCLE,
];

/// Ground-truth rows of the generator, as column → text.
fn ground_truth() -> Vec<BTreeMap<String, String>> {
    let text = gunzip_text(&fixtures().join("ground_truth.csv.gz"));
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .map(Result::unwrap)
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap_or(0.0)
}

fn rows_where(frame: &DataFrame, condition: Expr) -> DataFrame {
    frame.clone().lazy().filter(condition).collect().unwrap()
}

fn one_f64(frame: &DataFrame, column: &str) -> f64 {
    assert_eq!(frame.height(), 1, "{frame}");
    frame.column(column).unwrap().f64().unwrap().get(0).unwrap()
}

fn one_i64(frame: &DataFrame, column: &str) -> i64 {
    assert_eq!(frame.height(), 1, "{frame}");
    frame.column(column).unwrap().i64().unwrap().get(0).unwrap()
}

fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-6 * expected.abs().max(1.0),
        "{what}: {actual} != {expected}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cohorts_and_campaigns_equal_the_ground_truth_and_a_rerun_changes_nothing() {
    let folder = silver_lake();
    silver_to_gold(
        folder.path(),
        &["--from", "2026-01-01", "--to", "2026-01-08"],
    );

    let truth = ground_truth();
    let cohort_day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let cohorts = sorted(folder.path(), &gold::LTV_COHORTS).await;
    for game in ["FantasyQuest", "TinyTitans"] {
        let players: Vec<_> = truth
            .iter()
            .filter(|r| r["game_title"] == game && r["install_date"] == "2026-01-01")
            .filter(|r| r["consent_analytics"] == "true")
            .collect();
        let at = |day: i32| {
            rows_where(
                &cohorts,
                col("game_id")
                    .eq(lit(game))
                    .and(col("cohort_date").eq(lit(cohort_day)))
                    .and(col("day_n").eq(lit(day))),
            )
        };
        assert_eq!(one_i64(&at(0), "installs"), players.len() as i64, "{game}");
        for (day, flag) in [(1, "active_d1"), (7, "active_d7")] {
            let retained = players.iter().filter(|r| r[flag] == "true").count();
            assert_eq!(
                one_i64(&at(day), "retained_calendar"),
                retained as i64,
                "{game} D{day}"
            );
        }
        for (day, column) in [(0, "revenue_d0"), (7, "revenue_d7")] {
            let revenue: f64 = players.iter().map(|r| number(r, column)).sum();
            close(
                one_f64(&at(day), "cumulative_revenue"),
                revenue,
                &format!("{game} {column}"),
            );
        }
        let mature = |day| {
            at(day)
                .column("is_mature")
                .unwrap()
                .bool()
                .unwrap()
                .get(0)
                .unwrap()
        };
        assert!(
            mature(7) && !mature(8),
            "cohort 2026-01-01 has 8 days of data"
        );

        // The same cohort player by player: early signals and revenue to date add up to the
        // ground truth.
        let lifecycle = rows_where(
            &sorted(folder.path(), &gold::PLAYER_LIFECYCLE).await,
            col("game_id")
                .eq(lit(game))
                .and(col("acquisition_date").eq(lit(cohort_day))),
        );
        assert_eq!(lifecycle.height(), players.len(), "{game} lifecycle rows");
        let flags = |column: &str| {
            lifecycle
                .column(column)
                .unwrap()
                .bool()
                .unwrap()
                .sum()
                .unwrap() as usize
        };
        let sum = |column: &str| {
            lifecycle
                .column(column)
                .unwrap()
                .f64()
                .unwrap()
                .sum()
                .unwrap()
        };
        for (flag, truth_flag) in [("d1_retained", "active_d1"), ("d7_retained", "active_d7")] {
            let expected = players.iter().filter(|r| r[truth_flag] == "true").count();
            assert_eq!(flags(flag), expected, "{game} {flag}");
        }
        let revenue = |column: &str| players.iter().map(|r| number(r, column)).sum::<f64>();
        close(
            sum("d0_iap_revenue") + sum("d0_ad_revenue"),
            revenue("revenue_d0"),
            &format!("{game} D0 revenue"),
        );
        close(
            sum("d7_total_revenue"),
            revenue("revenue_d7"),
            &format!("{game} D7"),
        );
        let payers = players
            .iter()
            .filter(|r| !r["first_purchase_day"].is_empty())
            .filter(|r| r["first_purchase_day"].parse::<i64>().unwrap() <= 7)
            .count();
        assert_eq!(flags("is_payer"), payers, "{game} payers by D7");
        let observed = lifecycle.column("days_observed").unwrap().i32().unwrap();
        assert_eq!(observed.min(), Some(7), "{game}: 2026-01-01 to 2026-01-08");
    }

    // Campaigns of the first install day: installs, spend, revenue and ROAS D7.
    let spend_text = gunzip_text(&fixtures().join("ad_spend/2026-01-01.csv.gz"));
    let mut spend: BTreeMap<String, f64> = BTreeMap::new();
    for row in
        csv::Reader::from_reader(spend_text.as_bytes()).deserialize::<BTreeMap<String, String>>()
    {
        let row = row.unwrap();
        *spend.entry(row["campaign_id"].clone()).or_default() += number(&row, "spend_usd");
    }
    let campaigns = rows_where(
        &sorted(folder.path(), &gold::CAMPAIGN_DAILY).await,
        col("install_date").eq(lit(cohort_day)),
    );
    assert_eq!(campaigns.height(), spend.len());
    for (campaign, spent) in &spend {
        let row = rows_where(&campaigns, col("campaign_id").eq(lit(campaign.as_str())));
        let installed: Vec<_> = truth
            .iter()
            .filter(|r| &r["campaign_id"] == campaign && r["install_date"] == "2026-01-01")
            .collect();
        assert_eq!(
            one_i64(&row, "installs"),
            installed.len() as i64,
            "{campaign}"
        );
        close(one_f64(&row, "spend_usd"), *spent, campaign);
        let revenue_d7: f64 = installed
            .iter()
            .filter(|r| r["consent_analytics"] == "true")
            .map(|r| number(r, "revenue_d7"))
            .sum();
        close(one_f64(&row, "revenue_d7"), revenue_d7, campaign);
        close(one_f64(&row, "roas_d7"), revenue_d7 / spent, campaign);
    }

    // The generator loses no event, so every session of every day has its golden events whole
    // (the few the contracts reject aside).
    let kpis = sorted(folder.path(), &gold::KPI_DAILY).await;
    let golden = kpis
        .column("golden_event_completeness")
        .unwrap()
        .f64()
        .unwrap();
    assert_eq!(golden.null_count(), 0, "{kpis}");
    assert!(
        golden
            .into_no_null_iter()
            .all(|share| (0.99..=1.0).contains(&share)),
        "{golden:?}"
    );

    // Rerunning the range leaves every Gold table as it was.
    let mut before = Vec::new();
    for spec in GOLD_TABLES {
        before.push(sorted(folder.path(), &spec).await);
    }
    silver_to_gold(
        folder.path(),
        &["--from", "2026-01-01", "--to", "2026-01-08"],
    );
    for (spec, before) in GOLD_TABLES.iter().zip(before) {
        let after = sorted(folder.path(), spec).await;
        assert!(
            after.equals_missing(&before),
            "{} changed on rerun",
            spec.name
        );
    }
}

/// A small studio written by hand: one campaign, a few players, numbers checked by hand.
struct HandBuilt {
    input: tempfile::TempDir,
    templates: BTreeMap<String, Value>,
}

const CAMPAIGN: &str = "fq_hand_c1";

impl HandBuilt {
    fn new() -> Self {
        let mut templates = BTreeMap::new();
        for line in gunzip_text(&fixtures().join("telemetry/2026-01-01.ndjson.gz")).lines() {
            let mut event: Value = serde_json::from_str(line).unwrap();
            event["game_title"] = json!("FantasyQuest");
            let name = event["event_name"].as_str().unwrap().to_owned();
            templates.entry(name).or_insert(event);
        }
        HandBuilt {
            input: tempfile::tempdir().unwrap(),
            templates,
        }
    }

    fn player(number: u8) -> String {
        format!("{number:064x}")
    }

    /// One event of `player` at `time` (`2026-01-01T10:00:00`), from a fixture event of the
    /// same name, with `changes` applied.
    fn event(&self, name: &str, player: u8, time: &str, changes: Value) -> Value {
        let mut event = self.templates[name].clone();
        let at = chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%S").unwrap();
        event["event_id"] = json!(uuid::Uuid::new_v4().to_string());
        event["eternal_player_id"] = json!(Self::player(player));
        event["event_timestamp"] = json!(at.and_utc().timestamp_millis());
        event["is_minor"] = json!(false);
        event["consent_analytics"] = json!(true);
        event["consent"]["analytics_consent"] = json!(true);
        for (key, value) in changes.as_object().unwrap() {
            event[key] = value.clone();
        }
        event
    }

    fn install(player: u8, time: &str, cost: f64) -> Value {
        json!({
            "event_name": "install", "appsflyer_id": format!("af-{player}"),
            "customer_user_id": Self::player(player),
            "install_time": time, "event_time": time,
            "media_source": "Facebook Ads", "af_channel": "Meta",
            "campaign": "Hand_C1", "af_c_id": CAMPAIGN, "af_adset_id": "as1", "af_ad_id": "ad1",
            "af_cost_model": "cpi", "af_cost_value": cost, "af_cost_currency": "USD",
            "country_code": "US", "platform": "ios", "app_id": "id1400000000",
            "is_retargeting": false, "is_primary_attribution": true
        })
    }

    fn write(&self, folder: &str, name: &str, text: String) -> std::path::PathBuf {
        let root = self.input.path().join(name.split('.').next().unwrap());
        let dir = root.join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
        root
    }

    /// The studio's first delivery: telemetry of 2026-01-01..02, two paid installs, spend.
    fn first_delivery(&self) -> std::path::PathBuf {
        let events = [
            // P1, paid: launches at install, pays 1.99 on day 0; plays 23 h later (calendar
            // day 1, but still the first 24-hour window); pays 4.99 on day 3.
            self.event("game_launched", 1, "2026-01-01T10:00:00", json!({})),
            self.event(
                "iap_completed",
                1,
                "2026-01-01T10:05:00",
                json!({"revenue_usd": 1.99, "price_usd": 1.99}),
            ),
            self.event("game_launched", 1, "2026-01-02T09:00:00", json!({})),
            self.event("game_launched", 1, "2026-01-04T12:00:00", json!({})),
            self.event(
                "iap_completed",
                1,
                "2026-01-04T12:05:00",
                json!({"revenue_usd": 4.99, "price_usd": 4.99}),
            ),
            // P2, paid: installs late on day 0, back on day 1 after 24.5 h.
            self.event("game_launched", 2, "2026-01-01T23:00:00", json!({})),
            self.event("game_launched", 2, "2026-01-02T23:30:00", json!({})),
            // P3, organic: day 0, and an ad worth 0.50 on day 2.
            self.event("game_launched", 3, "2026-01-01T08:00:00", json!({})),
            self.event("game_launched", 3, "2026-01-03T08:00:00", json!({})),
            self.event(
                "ad_impression",
                3,
                "2026-01-03T08:01:00",
                json!({"revenue_usd": 0.5}),
            ),
            // P4, organic and a minor: pays 9.99 on day 0, and is never a whale.
            self.event(
                "game_launched",
                4,
                "2026-01-01T12:00:00",
                json!({"is_minor": true}),
            ),
            self.event(
                "iap_completed",
                4,
                "2026-01-01T12:01:00",
                json!({"is_minor": true, "revenue_usd": 9.99, "price_usd": 9.99}),
            ),
            // P5, organic, the next day's cohort, active on 2026-01-03.
            self.event("game_launched", 5, "2026-01-02T15:00:00", json!({})),
            self.event("game_launched", 5, "2026-01-03T15:00:00", json!({})),
        ];
        let root = self.write("telemetry", "first.ndjson", ndjson(&events));
        let installs = [
            Self::install(1, "2026-01-01 10:00:00.000", 2.0),
            Self::install(2, "2026-01-01 23:00:00.000", 2.0),
        ];
        self.write("attribution/push", "first.ndjson", ndjson(&installs));
        self.write(
            "ad_spend",
            "first.csv",
            format!(
                "date,media_source,campaign_id,campaign_name,country_code,platform,spend_usd,installs,impressions,clicks\n\
                 2026-01-01,Facebook Ads,{CAMPAIGN},Hand_C1,US,ios,3.00,2,1000,10\n\
                 2026-01-01,Facebook Ads,{CAMPAIGN},Hand_C1,CA,ios,1.00,0,300,2\n"
            ),
        );
        root
    }
}

fn ndjson(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

fn f64_at(frame: &DataFrame, condition: Expr, column: &str) -> Option<f64> {
    let rows = rows_where(frame, condition);
    assert_eq!(rows.height(), 1, "{rows}");
    rows.column(column).unwrap().f64().unwrap().get(0)
}

fn day_n(n: i32) -> Expr {
    col("day_n")
        .eq(lit(n))
        .and(col("cohort_date").eq(lit(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_built_studio_gives_the_hand_computed_numbers_and_a_late_event_changes_only_its_rows()
 {
    let studio = HandBuilt::new();
    let lake_dir = tempfile::tempdir().unwrap();
    ingest_files(lake_dir.path(), &studio.first_delivery(), "2026-01-05");
    bronze_to_silver(lake_dir.path(), "2026-01-05", &[]);
    let first = silver_to_gold(lake_dir.path(), &["--changed"]);
    assert_eq!(first["details"]["range"], "2026-01-01..=2026-01-04");

    let cohorts = sorted(lake_dir.path(), &gold::LTV_COHORTS).await;
    let fq = col("game_id").eq(lit("FantasyQuest"));
    let cohort = |n: i32, column: &str| f64_at(&cohorts, fq.clone().and(day_n(n)), column).unwrap();
    assert_eq!(cohort(0, "retention_calendar"), 1.0);
    // Day 1: P1 and P2 by calendar day; only P2 by 24-hour windows (P1 came back after 23 h).
    assert_eq!(cohort(1, "retention_calendar"), 0.5);
    assert_eq!(cohort(1, "retention_24h"), 0.25);
    close(cohort(0, "cumulative_revenue"), 1.99 + 9.99, "D0 revenue");
    close(
        cohort(2, "cumulative_revenue"),
        1.99 + 9.99 + 0.5,
        "D2 revenue",
    );
    close(
        cohort(3, "revenue_per_install"),
        (1.99 + 9.99 + 0.5 + 4.99) / 4.0,
        "D3 LTV",
    );

    let campaigns = sorted(lake_dir.path(), &gold::CAMPAIGN_DAILY).await;
    let c1 = col("campaign_id").eq(lit(CAMPAIGN));
    let campaign = |column: &str| f64_at(&campaigns, c1.clone(), column);
    close(campaign("spend_usd").unwrap(), 4.0, "spend");
    close(campaign("cpi_usd").unwrap(), 2.0, "CPI");
    close(campaign("roas_d0").unwrap(), 1.99 / 4.0, "ROAS D0");
    close(campaign("roas_d3").unwrap(), (1.99 + 4.99) / 4.0, "ROAS D3");
    let payback = rows_where(&campaigns, c1.clone())
        .column("payback_day")
        .unwrap()
        .i32()
        .unwrap()
        .get(0);
    assert_eq!(payback, Some(3), "1.99 by day 0, 6.98 >= 4.00 by day 3");

    let kpis = sorted(lake_dir.path(), &gold::KPI_DAILY).await;
    let first_day = fq
        .clone()
        .and(col("activity_date").eq(lit(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())));
    close(
        f64_at(&kpis, first_day.clone(), "arppu").unwrap(),
        (1.99 + 9.99) / 2.0,
        "ARPPU",
    );
    // The minor's 9.99 counts in revenue but never as a whale's: the one adult payer is.
    close(
        f64_at(&kpis, first_day.clone(), "whale_revenue_share").unwrap(),
        1.99 / 11.98,
        "whales",
    );
    let players = sorted(lake_dir.path(), &gold::DIM_PLAYER).await;
    let whales: Vec<bool> = players
        .column("is_whale")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(whales.iter().filter(|w| **w).count(), 1);

    // A late event: P2 pays 3.00 on 2026-01-03, delivered on 2026-01-06.
    let mut before = Vec::new();
    for spec in GOLD_TABLES {
        before.push(sorted(lake_dir.path(), &spec).await);
    }
    let late = studio.write(
        "telemetry",
        "late.ndjson",
        ndjson(&[studio.event(
            "iap_completed",
            2,
            "2026-01-03T20:00:00",
            json!({"revenue_usd": 3.0, "price_usd": 3.0}),
        )]),
    );
    ingest_files(lake_dir.path(), &late, "2026-01-06");
    bronze_to_silver(lake_dir.path(), "2026-01-06", &[]);
    let second = silver_to_gold(lake_dir.path(), &["--changed"]);
    assert_eq!(second["details"]["range"], "2026-01-03..=2026-01-04");

    let changed = |before: &DataFrame, after: &DataFrame| -> DataFrame {
        let columns: Vec<Expr> = after
            .get_column_names()
            .iter()
            .map(|c| col(c.as_str()))
            .collect();
        let mut args = JoinArgs::new(JoinType::Anti);
        args.nulls_equal = true;
        after
            .clone()
            .lazy()
            .join(before.clone().lazy(), columns.clone(), columns, args)
            .collect()
            .unwrap()
    };
    let after: Vec<DataFrame> = {
        let mut frames = Vec::new();
        for spec in GOLD_TABLES {
            frames.push(sorted(lake_dir.path(), &spec).await);
        }
        frames
    };
    // Facts: one new row, P2 on 2026-01-03, and nothing else.
    let new_facts = changed(&before[0], &after[0]);
    assert_eq!(new_facts.height(), 1, "{new_facts}");
    close(one_f64(&new_facts, "iap_revenue"), 3.0, "late IAP");
    assert_eq!(after[0].height(), before[0].height() + 1);
    // Cohorts: only cohort 2026-01-01 of FantasyQuest, from day 2 on.
    let new_cohorts = changed(&before[1], &after[1]);
    let cohort_dates: Vec<i32> = new_cohorts
        .column("cohort_date")
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    let first_cohort =
        ltv_lakehouse::date_range::days_since_epoch(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    assert!(
        cohort_dates.iter().all(|d| *d == first_cohort),
        "cohort 2026-01-02 must not change"
    );
    let days: Vec<i32> = new_cohorts
        .column("day_n")
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(days, (2..=HORIZON).collect::<Vec<_>>());
    // The campaign's payback comes a day earlier: 1.99 + 3.00 >= 4.00 by day 2.
    let new_campaigns = changed(&before[2], &after[2]);
    assert_eq!(new_campaigns.height(), 1);
    assert_eq!(
        new_campaigns
            .column("payback_day")
            .unwrap()
            .i32()
            .unwrap()
            .get(0),
        Some(2)
    );
    // Player lifecycle: only the late event's player, now a payer.
    let new_lifecycle = changed(&before[7], &after[7]);
    assert_eq!(new_lifecycle.height(), 1, "{new_lifecycle}");
    assert_eq!(
        new_lifecycle
            .column("is_payer")
            .unwrap()
            .bool()
            .unwrap()
            .get(0),
        Some(true)
    );
    // KPIs: only FantasyQuest on 2026-01-03.
    let new_kpis = changed(&before[3], &after[3]);
    assert_eq!(new_kpis.height(), 1, "{new_kpis}");
    assert_eq!(
        new_kpis
            .column("activity_date")
            .unwrap()
            .cast(&DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .get(0),
        Some("2026-01-03")
    );

    // Nothing changed since: --changed has nothing to do.
    let idle = silver_to_gold(lake_dir.path(), &["--changed"]);
    assert_eq!(idle["details"]["changed_days"], 0);
}

const HORIZON: i32 = ltv_lakehouse::jobs::silver_to_gold::HORIZON_DAYS;
