//! bronze-to-silver on fixture days: contract failures land in silver.rejects with their rule
//! and the rest in Silver; reruns, re-sent events and late installs change exactly what they
//! should.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{bronze_to_silver, gunzip_text, ingest_files, sorted, strings};
use ltv_lakehouse::tables::silver;
use polars::prelude::*;
use serde_json::{Value, json};

fn fixture(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/studio")
        .join(path)
}

/// The first day's telemetry of the committed fixtures, one JSON object per event.
fn day_one_events() -> Vec<Value> {
    gunzip_text(&fixture("telemetry/2026-01-01.ndjson.gz"))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn write_ndjson(folder: &Path, name: &str, events: &[Value]) {
    let telemetry = folder.join("telemetry");
    std::fs::create_dir_all(&telemetry).unwrap();
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(telemetry.join(name), text).unwrap();
}

/// Breaks one event of each kind the issue names; returns the broken event ids and the rule
/// each must be rejected for.
fn inject_bad_events(events: &mut [Value]) -> BTreeMap<String, &'static str> {
    type Breaker = fn(&mut Value);
    let breakers: [(&str, &str, Breaker); 7] = [
        ("level_start", "type", |e| e["level_id"] = json!(5)),
        ("game_launched", "required", |e| {
            e.as_object_mut().unwrap().remove("app_version");
        }),
        ("level_complete", "maximum", |e| {
            e["time_spent_seconds"] = json!(9_999)
        }),
        ("daily_login", "enum", |e| e["platform"] = json!("web")),
        ("game_foreground", "unknown_event", |e| {
            e["event_name"] = json!("teleport_used")
        }),
        ("level_fail", "future_timestamp", |e| {
            e["event_timestamp"] = json!(1_900_000_000_000i64)
        }),
        ("iap_completed", "minimum", |e| {
            e["revenue_usd"] = json!(-4.99)
        }),
    ];
    let mut expected = BTreeMap::new();
    for (event_name, rule, breaker) in breakers {
        let event = events
            .iter_mut()
            .find(|e| e["event_name"] == event_name && e["consent_analytics"] == true)
            .unwrap_or_else(|| panic!("day one has no {event_name}"));
        breaker(event);
        expected.insert(event["event_id"].as_str().unwrap().to_owned(), rule);
    }
    expected
}

/// Sends one (valid, consented) ad impression twice: it must count once.
fn resend_an_ad_impression(events: &mut Vec<Value>) {
    let resent = events
        .iter()
        .find(|e| e["event_name"] == "ad_impression" && e["consent_analytics"] == true)
        .cloned()
        .unwrap();
    events.push(resent);
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_bad_events_are_rejected_with_their_rule_and_the_rest_reach_silver() {
    let mut events = day_one_events();
    let expected = inject_bad_events(&mut events);
    resend_an_ad_impression(&mut events);
    let input = tempfile::tempdir().unwrap();
    write_ndjson(input.path(), "2026-01-01.ndjson", &events);
    let lake_dir = tempfile::tempdir().unwrap();
    ingest_files(lake_dir.path(), input.path(), "2026-01-02");

    let summary = bronze_to_silver(lake_dir.path(), "2026-01-02", &[]);
    assert_eq!(summary["rows_quarantined"], expected.len());

    let rejects = sorted(lake_dir.path(), &silver::REJECTS).await;
    let rejected: BTreeMap<String, String> = strings(&rejects, "event_id")
        .into_iter()
        .zip(strings(&rejects, "rule"))
        .collect();
    let expected_rules: BTreeMap<String, String> = expected
        .iter()
        .map(|(id, rule)| (id.clone(), rule.to_string()))
        .collect();
    assert_eq!(rejected, expected_rules);
    assert!(
        strings(&rejects, "contract_id")
            .iter()
            .all(|id| !id.is_empty())
    );

    let silver_events = sorted(lake_dir.path(), &silver::PLAYER_EVENTS).await;
    let good: BTreeSet<String> = events
        .iter()
        .filter(|e| e["consent_analytics"] == true)
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .filter(|id| !expected.contains_key(id))
        .collect();
    let in_silver: Vec<String> = strings(&silver_events, "event_id");
    assert_eq!(
        in_silver.len(),
        good.len(),
        "one row per event, re-sent or not"
    );
    assert_eq!(in_silver.into_iter().collect::<BTreeSet<_>>(), good);
    assert_eq!(summary["details"]["duplicates_dropped"], 1);
    let without_consent = events
        .iter()
        .filter(|e| e["consent_analytics"] == false)
        .count();
    assert!(
        without_consent > 0,
        "the fixture day has players without consent"
    );
    assert_eq!(
        summary["details"]["excluded_without_consent"],
        without_consent
    );

    // Revenue in Silver is the sum over the good events, the re-sent one counted once.
    let revenue_by_event: BTreeMap<String, f64> = events
        .iter()
        .filter(|e| ["iap_completed", "ad_impression"].contains(&e["event_name"].as_str().unwrap()))
        .filter(|e| good.contains(e["event_id"].as_str().unwrap()))
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_owned(),
                e["revenue_usd"].as_f64().unwrap(),
            )
        })
        .collect();
    let silver_revenue: f64 = silver_events
        .column("revenue_usd")
        .unwrap()
        .f64()
        .unwrap()
        .sum()
        .unwrap_or(0.0);
    assert!(silver_revenue > 0.0);
    assert!((silver_revenue - revenue_by_event.values().sum::<f64>()).abs() < 1e-9);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_changes_nothing_and_a_contract_fix_clears_its_rejects() {
    let mut events = day_one_events();
    let broken = events
        .iter_mut()
        .find(|e| e["event_name"] == "daily_login" && e["consent_analytics"] == true)
        .unwrap();
    broken["platform"] = json!("web");
    let broken_id = broken["event_id"].as_str().unwrap().to_owned();
    let input = tempfile::tempdir().unwrap();
    write_ndjson(input.path(), "2026-01-01.ndjson", &events);
    let lake_dir = tempfile::tempdir().unwrap();
    ingest_files(lake_dir.path(), input.path(), "2026-01-02");

    bronze_to_silver(lake_dir.path(), "2026-01-02", &[]);
    let first_events = sorted(lake_dir.path(), &silver::PLAYER_EVENTS).await;
    let first_players = sorted(lake_dir.path(), &silver::PLAYERS).await;
    let rerun = bronze_to_silver(lake_dir.path(), "2026-01-02", &[]);
    assert_eq!(rerun["details"]["players_changed"], 0);
    assert!(first_events.equals_missing(&sorted(lake_dir.path(), &silver::PLAYER_EVENTS).await));
    assert!(first_players.equals_missing(&sorted(lake_dir.path(), &silver::PLAYERS).await));
    assert_eq!(sorted(lake_dir.path(), &silver::REJECTS).await.height(), 1);

    // The platform list gains `web`: the rejected event now passes, once, and no reject stays.
    let fixed = tempfile::tempdir().unwrap();
    copy_folder(Path::new(common::CONTRACTS), fixed.path());
    let global = fixed.path().join("global.yaml");
    let text = std::fs::read_to_string(&global).unwrap();
    let widened = text.replace(
        r#"enum: ["ios", "android", "pc", "console"]"#,
        r#"enum: ["ios", "android", "pc", "console", "web"]"#,
    );
    assert_ne!(text, widened, "the global contract lists platforms");
    std::fs::write(&global, widened).unwrap();
    let after_fix = bronze_to_silver(
        lake_dir.path(),
        "2026-01-02",
        &["--contracts", fixed.path().to_str().unwrap()],
    );
    assert_eq!(after_fix["rows_quarantined"], 0);
    assert_eq!(sorted(lake_dir.path(), &silver::REJECTS).await.height(), 0);
    let events_after = sorted(lake_dir.path(), &silver::PLAYER_EVENTS).await;
    assert_eq!(events_after.height(), first_events.height() + 1);
    assert_eq!(
        strings(&events_after, "event_id")
            .iter()
            .filter(|id| **id == broken_id)
            .count(),
        1
    );
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_folder(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The events of one player in Silver: (media source, campaign, day number) per event.
fn player_rows(events: &DataFrame, player: &str) -> Vec<(String, Option<String>, i32)> {
    let mask = events
        .column("player_id")
        .unwrap()
        .str()
        .unwrap()
        .equal(player);
    let rows = events.filter(&mask).unwrap();
    let sources = strings(&rows, "media_source");
    let campaigns: Vec<Option<String>> = rows
        .column("campaign_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|c| c.map(str::to_owned))
        .collect();
    let days: Vec<i32> = rows
        .column("day_number")
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    sources
        .into_iter()
        .zip(campaigns)
        .zip(days)
        .map(|((s, c), d)| (s, c, d))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_install_attributes_the_events_already_in_silver() {
    let lake_dir = tempfile::tempdir().unwrap();
    // Day one's telemetry arrives first, without its installs report.
    let telemetry = tempfile::tempdir().unwrap();
    write_ndjson(telemetry.path(), "2026-01-01.ndjson", &day_one_events());
    ingest_files(lake_dir.path(), telemetry.path(), "2026-01-01");
    let first = bronze_to_silver(lake_dir.path(), "2026-01-01", &[]);
    assert_eq!(first["details"]["events_enriched_again"], 0);
    let before = sorted(lake_dir.path(), &silver::PLAYER_EVENTS).await;
    assert!(
        strings(&before, "media_source")
            .iter()
            .all(|s| s == "organic")
    );

    // The Pull report for day one arrives on day two.
    let report = tempfile::tempdir().unwrap();
    let pull = report.path().join("attribution/pull");
    std::fs::create_dir_all(&pull).unwrap();
    std::fs::copy(
        fixture("attribution/pull/2026-01-01.csv.gz"),
        pull.join("2026-01-01.csv.gz"),
    )
    .unwrap();
    ingest_files(lake_dir.path(), report.path(), "2026-01-02");
    let second = bronze_to_silver(lake_dir.path(), "2026-01-02", &[]);

    let installs = sorted(lake_dir.path(), &silver::ATTRIBUTION_INSTALLS).await;
    let csv_rows = gunzip_text(&fixture("attribution/pull/2026-01-01.csv.gz"))
        .lines()
        .count()
        - 1;
    assert_eq!(installs.height(), csv_rows);
    let after = sorted(lake_dir.path(), &silver::PLAYER_EVENTS).await;
    assert_eq!(
        after.height(),
        before.height(),
        "enriching again adds no rows"
    );
    assert!(second["details"]["events_enriched_again"].as_u64().unwrap() > 0);

    // Every installed player's events now carry the install's source and campaign, and no
    // other player's rows changed.
    let paid: BTreeMap<String, (String, String)> = strings(&installs, "player_id")
        .into_iter()
        .zip(
            strings(&installs, "media_source")
                .into_iter()
                .zip(strings(&installs, "campaign_id")),
        )
        .collect();
    let mut paid_seen = 0;
    for player in strings(&after, "player_id")
        .into_iter()
        .collect::<BTreeSet<_>>()
    {
        let rows = player_rows(&after, &player);
        match paid.get(&player) {
            Some((source, campaign)) => {
                paid_seen += 1;
                assert!(
                    rows.iter()
                        .all(|(s, c, d)| s == source && c.as_deref() == Some(campaign) && *d >= 0)
                );
            }
            None => assert_eq!(rows, player_rows(&before, &player)),
        }
    }
    assert!(paid_seen > 0 && paid_seen <= paid.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn push_and_pull_of_one_install_make_one_silver_row() {
    let lake_dir = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    for api in ["push", "pull"] {
        let folder = input.path().join("attribution").join(api);
        std::fs::create_dir_all(&folder).unwrap();
        let name = if api == "push" {
            "2026-01-03.ndjson.gz"
        } else {
            "2026-01-03.csv.gz"
        };
        std::fs::copy(
            fixture(&format!("attribution/{api}/{name}")),
            folder.join(name),
        )
        .unwrap();
    }
    // The lake needs its events table before a stage will refine it.
    write_ndjson(input.path(), "2026-01-03.ndjson", &day_one_events()[..10]);
    ingest_files(lake_dir.path(), input.path(), "2026-01-03");
    let summary = bronze_to_silver(lake_dir.path(), "2026-01-03", &[]);
    assert_eq!(summary["rows_quarantined"], 0);
    let installs = sorted(lake_dir.path(), &silver::ATTRIBUTION_INSTALLS).await;
    let pushed = gunzip_text(&fixture("attribution/push/2026-01-03.ndjson.gz"))
        .lines()
        .count();
    assert_eq!(installs.height(), pushed);
    let games: BTreeSet<String> = strings(&installs, "game_id").into_iter().collect();
    assert_eq!(
        games,
        BTreeSet::from(["FantasyQuest".to_string(), "TinyTitans".to_string()])
    );
}

/// bronze-to-silver of `lake`'s 2026-01-08 in slices of `max_batch_events`, with debug logs:
/// its run summary and the figures of each MERGE into `silver.player_events`, in order.
fn refined_with_merge_log(lake: &Path, max_batch_events: &str) -> (Value, Vec<Value>) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bronze-to-silver"))
        .args(["--date", "2026-01-08", "--lake", lake.to_str().unwrap()])
        .args([
            "--max-batch-events",
            max_batch_events,
            "--log-format",
            "json",
        ])
        .env("LTV_LOG", "ltv_lakehouse=debug")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let merges = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|log| {
            log["message"] == "merged" && log["table"] == silver::PLAYER_EVENTS.name.to_string()
        })
        .collect();
    (serde_json::from_slice(&output.stdout).unwrap(), merges)
}

/// A busy day is refined in slices of players; slicing must not change a single Silver row.
#[tokio::test(flavor = "multi_thread")]
async fn a_day_refined_in_player_slices_gives_the_same_silver_as_refined_whole() {
    // The fixture studio in one ingest day, with bad events and a re-sent one on day one.
    let input = tempfile::tempdir().unwrap();
    copy_folder(&common::fixtures(), input.path());
    std::fs::remove_file(input.path().join("telemetry/2026-01-01.ndjson.gz")).unwrap();
    let mut events = day_one_events();
    let expected_rejects = inject_bad_events(&mut events);
    resend_an_ad_impression(&mut events);
    write_ndjson(input.path(), "2026-01-01.ndjson", &events);
    let whole = tempfile::tempdir().unwrap();
    ingest_files(whole.path(), input.path(), "2026-01-08");
    let sliced = tempfile::tempdir().unwrap();
    copy_folder(whole.path(), sliced.path());

    let in_one = bronze_to_silver(whole.path(), "2026-01-08", &[]);
    let (in_slices, merges) = refined_with_merge_log(sliced.path(), "10000");
    // Slices hold disjoint players, so no slice's events can match what the slices before it
    // wrote: each MERGE is an insert, with no join against the stored files, and a day's
    // slices cost the same each.
    for merge in &merges {
        assert_eq!(merge["insert_only"], true, "{merge}");
    }
    assert_eq!(in_one["details"]["player_slices"], 1);
    let slices = in_slices["details"]["player_slices"].as_u64().unwrap();
    assert!(slices >= 5, "{slices} slices");
    assert_eq!(merges.len() as u64, slices);
    for count in ["rows_in", "rows_quarantined"] {
        assert_eq!(in_one[count], in_slices[count], "{count}");
    }
    assert_eq!(
        in_one["rows_quarantined"],
        expected_rejects.len(),
        "{in_one}"
    );
    for detail in [
        "duplicates_dropped",
        "excluded_without_consent",
        "silver_rows",
    ] {
        assert_eq!(
            in_one["details"][detail], in_slices["details"][detail],
            "{detail}"
        );
    }
    assert_eq!(in_one["details"]["duplicates_dropped"], 1);

    for spec in [
        &silver::PLAYER_EVENTS,
        &silver::PLAYERS,
        &silver::ATTRIBUTION_INSTALLS,
        &silver::AD_SPEND_DAILY,
    ] {
        // Both lakes hold the same Bronze rows (ingest times included); sorted on the key,
        // the tables must match row for row.
        let expected = sorted(whole.path(), spec).await;
        assert!(expected.height() > 0, "{} is empty", spec.name);
        let actual = sorted(sliced.path(), spec).await;
        assert!(expected.equals_missing(&actual), "{} differs", spec.name);
    }
    let rejected = |lake: &Path| {
        let lake = lake.to_owned();
        async move {
            let rejects = sorted(&lake, &silver::REJECTS).await;
            let mut ids = strings(&rejects, "event_id");
            ids.sort();
            ids
        }
    };
    assert_eq!(rejected(whole.path()).await, rejected(sliced.path()).await);
}
