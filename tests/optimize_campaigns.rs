//! optimize-campaigns on a hand-built week of five campaigns whose numbers are chosen to land
//! on each rule, and the ad-platform clients against local fake servers that check method,
//! path, headers and body and answer with success, rate-limit and error responses.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use common::{TestDatabase, lake, run_stage_with};
use ltv_lakehouse::ad_platforms::{AdPlatform, AdPlatformClients, ApiSettings, Change};
use ltv_lakehouse::date_range::{DateRange, days_since_epoch};
use ltv_lakehouse::lake::{ColumnType, TableSpec, rows_to_batch};
use ltv_lakehouse::tables::{gold, silver};
use polars::prelude::*;
use serde_json::{Value, json};

/// One request the fake server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// A scripted answer: status, body, extra headers.
type Answer = (u16, String, Vec<(String, String)>);
/// Answers queued per path prefix.
type Script = Arc<Mutex<Vec<(String, VecDeque<Answer>)>>>;

/// An HTTP server on loopback that records every request and answers from scripts per path
/// prefix, in the order they were given (then 200 with `{"code":0}`). Each answer closes its
/// connection.
struct FakeApi {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Script,
}

impl FakeApi {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(Mutex::new(Vec::new()));
        let (seen_by_server, script_of_server) = (seen.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_string();
                let path = parts.next().unwrap_or_default().to_string();
                let mut headers = BTreeMap::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        headers.insert(name.trim().to_lowercase(), value.trim().to_string());
                    }
                }
                let length: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let (status, answer, extra) = script_of_server
                    .lock()
                    .unwrap()
                    .iter_mut()
                    .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
                    .find_map(|(_, answers)| answers.pop_front())
                    .unwrap_or((200, r#"{"code":0,"message":"OK"}"#.to_string(), Vec::new()));
                seen_by_server.lock().unwrap().push(Seen {
                    method,
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    answer.len()
                );
                for (name, value) in extra {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&answer);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        FakeApi { base, seen, script }
    }

    /// Answers the next requests under `prefix` with these (status, body, headers), in order.
    #[allow(clippy::type_complexity)]
    fn answer(&self, prefix: &str, answers: &[(u16, &str, &[(&str, &str)])]) {
        let queue = answers
            .iter()
            .map(|(status, body, headers)| {
                let headers = headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                (*status, body.to_string(), headers)
            })
            .collect();
        self.script
            .lock()
            .unwrap()
            .push((prefix.to_string(), queue));
    }

    /// The requests seen so far, forgetting them.
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    /// The requests seen so far, but Slack's, forgetting them all.
    fn take_platform_calls(&self) -> Vec<Seen> {
        self.take()
            .into_iter()
            .filter(|s| !s.path.starts_with("/slack"))
            .collect()
    }
}

fn quick_api() -> ApiSettings {
    ApiSettings {
        max_attempts: 3,
        initial_backoff_ms: 10,
        min_interval_ms: 0,
        timeout_seconds: 5,
    }
}

fn settings_for(
    api: &FakeApi,
    platform: AdPlatform,
) -> ltv_lakehouse::ad_platforms::PlatformSettings {
    ltv_lakehouse::ad_platforms::PlatformSettings {
        base_url: url::Url::parse(&format!("{}/{}", api.base, platform)).unwrap(),
        token: secret("tok"),
        account: Some(secret("acct")),
        customer_id: Some("1234567890".into()),
    }
}

fn secret(value: &str) -> ltv_lakehouse::ad_platforms::Secret {
    ltv_lakehouse::ad_platforms::Secret::new(value)
}

#[tokio::test]
async fn clients_retry_rate_limits_and_keep_the_platforms_answers() {
    let api = FakeApi::start();
    let settings = AdPlatform::ALL
        .into_iter()
        .map(|p| (p, settings_for(&api, p)))
        .collect();
    let clients = AdPlatformClients::new(settings, quick_api()).unwrap();

    // Meta: a 429 with Retry-After, then success.
    api.answer(
        "/meta/",
        &[(429, r#"{"error":{"code":17}}"#, &[("retry-after", "0")])],
    );
    let outcome = clients
        .send(AdPlatform::Meta, "120210", &Change::Pause, false)
        .await;
    assert!(outcome.applied, "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
    let seen = api.take();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path, "/meta/120210");
    assert_eq!(seen[1].headers["authorization"], "Bearer tok");
    assert_eq!(
        seen[1].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(seen[1].body, "status=PAUSED");

    // TikTok: HTTP 200 with a rate-limit code is retried; a validation code fails at once.
    api.answer(
        "/tiktok/",
        &[
            (200, r#"{"code":40100,"message":"Too many requests"}"#, &[]),
            (200, r#"{"code":0,"message":"OK"}"#, &[]),
            (200, r#"{"code":40002,"message":"budget too low"}"#, &[]),
        ],
    );
    let budget = Change::DailyBudget { usd: 80.0 };
    let outcome = clients
        .send(AdPlatform::TikTok, "ag1", &budget, false)
        .await;
    assert!(outcome.applied && outcome.attempts == 2, "{outcome:?}");
    let outcome = clients
        .send(AdPlatform::TikTok, "ag1", &budget, false)
        .await;
    assert!(!outcome.applied && outcome.attempts == 1, "{outcome:?}");
    assert!(outcome.response.contains("budget too low"), "{outcome:?}");
    let seen = api.take();
    assert_eq!(seen[0].path, "/tiktok/adgroup/budget/update/");
    assert_eq!(seen[0].headers["access-token"], "tok");
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        body["budget"][0],
        json!({"adgroup_id": "ag1", "budget": 80.0})
    );
    assert_eq!(body["advertiser_id"], "acct");

    // Google: server errors until the attempts run out.
    api.answer(
        "/google/",
        &[
            (503, "unavailable", &[]),
            (503, "unavailable", &[]),
            (503, "unavailable", &[]),
        ],
    );
    let outcome = clients
        .send(
            AdPlatform::Google,
            "42",
            &Change::DailyBudget { usd: 750.0 },
            true,
        )
        .await;
    assert!(!outcome.applied, "{outcome:?}");
    assert_eq!(outcome.attempts, 3);
    assert_eq!(outcome.response, "HTTP 503: unavailable");
    let seen = api.take();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0].path,
        "/google/customers/1234567890/campaignBudgets:mutate"
    );
    assert_eq!(seen[0].headers["developer-token"], "acct");
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["validateOnly"], true);

    // ironSource: a bid per country, by PUT; a 400 is not retried.
    api.answer("/ironsource/", &[(400, r#"{"error":"bad bid"}"#, &[])]);
    let bid = Change::Bid {
        usd: 2.7,
        country_code: "US".into(),
    };
    let outcome = clients
        .send(AdPlatform::IronSource, "77", &bid, false)
        .await;
    assert!(!outcome.applied && outcome.attempts == 1, "{outcome:?}");
    let seen = api.take();
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].path, "/ironsource/advertisers/v4/multibid");
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        body,
        json!({"campaignId": "77", "bids": [{"country": "US", "bid": 2.7}]})
    );
}

/// A row of `spec` with every column at a neutral value (empty text, zero, false, the epoch,
/// null when optional), then `values`.
fn row(spec: &TableSpec, values: Value) -> Value {
    let mut row = serde_json::Map::new();
    for column in spec.columns {
        let neutral = if column.nullable {
            Value::Null
        } else {
            match column.kind {
                ColumnType::String => json!(""),
                ColumnType::Boolean => json!(false),
                ColumnType::Float64 => json!(0.0),
                _ => json!(0),
            }
        };
        row.insert(column.name.to_string(), neutral);
    }
    for (name, value) in values.as_object().unwrap() {
        assert!(row.contains_key(name), "{} has no column {name}", spec.name);
        row.insert(name.clone(), value.clone());
    }
    Value::Object(row)
}

/// The hand-built campaigns: id, AppsFlyer media source, country, platform, and the pROAS D30
/// every one of their players is predicted at (spend $100 a day, 20 installs a day).
const CAMPAIGNS: [(&str, &str, &str, &str, f64); 5] = [
    ("fq_meta_br_android", "Facebook Ads", "BR", "android", 0.4),
    (
        "fq_google_us_android",
        "googleadwords_int",
        "US",
        "android",
        1.6,
    ),
    ("fq_tiktok_gb_ios", "tiktokglobal_int", "GB", "ios", 1.0),
    ("fq_iron_us_android", "ironsource_int", "US", "android", 1.7),
    ("fq_unity_jp_ios", "unityads_int", "JP", "ios", 0.3),
];
const DECIDED_ON: &str = "2026-01-08";
const INSTALLS_PER_DAY: usize = 20;
const SPEND_PER_DAY: f64 = 100.0;
/// The scoring model's holdout error over acquisition segments: a mean absolute error of 7.98%
/// is a 10% standard deviation of a segment's sum.
const SEGMENT_MAPE: f64 = 0.1 / 1.253_314;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn write(lake_path: &Path, spec: &TableSpec, rows: Vec<Value>) {
    let batch = rows_to_batch(spec, &rows).unwrap();
    let lake = lake(lake_path);
    match spec.date_column.filter(|c| spec.partition_by.contains(c)) {
        Some(_) => {
            let range = DateRange::new(day("2025-12-01"), day("2026-12-31")).unwrap();
            lake.replace_range(spec, vec![batch], &range).await.unwrap();
        }
        None => {
            lake.merge(spec, vec![batch]).await.unwrap();
        }
    }
}

/// Seven install days of the five campaigns in Gold and Silver, scored on the decision day
/// by a registered model whose segment error is [`SEGMENT_MAPE`]. Each player was scored at the
/// end of their model's window, so all their D30 still to come carries that error.
async fn build_week(lake_path: &Path) {
    let (mut players, mut scores, mut spend) = (Vec::new(), Vec::new(), Vec::new());
    let (mut campaigns, mut dims) = (Vec::new(), Vec::new());
    let decided = day(DECIDED_ON);
    let metrics = json!({"model": {"segment_mape": {"mape": SEGMENT_MAPE}}}).to_string();
    let registry = (1..=7)
        .map(|n| {
            row(
                &gold::LTV_MODELS,
                json!({"model_version": "test", "target": "ltv_d30", "observation_days": n,
                       "as_of": days_since_epoch(decided), "method": "cohort_curve",
                       "multiplier": 1.0, "metrics_json": metrics, "promoted": true}),
            )
        })
        .collect();
    for (id, source, country, platform, roas) in CAMPAIGNS {
        campaigns.push(row(
            &silver::CAMPAIGNS,
            json!({"campaign_id": id, "campaign_name": format!("{id}_name"), "media_source": source,
                   "channel": source, "platform": platform, "daily_budget_usd": 500.0,
                   "status": "ACTIVE", "bid_usd": 1.8}),
        ));
        dims.push(row(
            &gold::DIM_CAMPAIGN,
            json!({"campaign_id": id, "game_id": "fq", "ad_network": source}),
        ));
        let per_player = roas * SPEND_PER_DAY / INSTALLS_PER_DAY as f64;
        for offset in 1..=7u64 {
            let install = decided - chrono::Days::new(offset);
            let install_day = days_since_epoch(install);
            spend.push(row(
                &silver::AD_SPEND_DAILY,
                json!({"spend_date": install_day, "media_source": source, "campaign_id": id,
                       "country_code": country, "platform": platform,
                       "spend_usd": SPEND_PER_DAY, "installs": INSTALLS_PER_DAY}),
            ));
            for n in 0..INSTALLS_PER_DAY {
                let player = format!("{id}-{offset}-{n}");
                players.push(row(
                    &gold::PLAYER_LIFECYCLE,
                    json!({"acquisition_date": install_day, "game_id": "fq", "player_id": player,
                           "media_source": source, "campaign_id": id, "platform": platform,
                           "country_code": country, "revenue_d180": per_player / 4.0,
                           "days_observed": offset}),
                ));
                scores.push(row(
                    &gold::PLAYER_LTV_SCORES,
                    json!({"score_date": days_since_epoch(decided), "game_id": "fq",
                           "player_id": player, "acquisition_date": install_day,
                           "age_days": offset, "observation_days": offset,
                           "predicted_ltv_d7": per_player / 2.0,
                           "predicted_ltv_d30": per_player, "predicted_ltv_d180": per_player * 2.5,
                           "ltv_confidence": 0.9, "model_version": "test"}),
                ));
            }
        }
    }
    write(lake_path, &silver::CAMPAIGNS, campaigns).await;
    write(lake_path, &gold::DIM_CAMPAIGN, dims).await;
    write(lake_path, &silver::AD_SPEND_DAILY, spend).await;
    write(lake_path, &gold::PLAYER_LIFECYCLE, players).await;
    write(lake_path, &gold::PLAYER_LTV_SCORES, scores).await;
    write(lake_path, &gold::LTV_MODELS, registry).await;
}

/// The ledger's rows of the decision day by campaign: (status, action, new value, reason,
/// attempts).
async fn ledger(
    lake_path: &Path,
) -> BTreeMap<String, (String, String, Option<String>, String, i32)> {
    let frame = lake(lake_path)
        .read(&gold::CAMPAIGN_ACTIONS, None)
        .await
        .unwrap();
    let text = |name: &str| -> Vec<Option<String>> {
        frame
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    };
    let (ids, statuses, actions, values, reasons) = (
        text("campaign_id"),
        text("status"),
        text("action"),
        text("new_value"),
        text("reason"),
    );
    let attempts: Vec<i32> = frame
        .column("attempts")
        .unwrap()
        .i32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    (0..frame.height())
        .map(|i| {
            (
                ids[i].clone().unwrap(),
                (
                    statuses[i].clone().unwrap(),
                    actions[i].clone().unwrap(),
                    values[i].clone(),
                    reasons[i].clone().unwrap(),
                    attempts[i],
                ),
            )
        })
        .collect()
}

/// Runs optimize-campaigns; returns the exit code and the summary line.
fn optimize(
    lake_path: &Path,
    config: &Path,
    extra: &[&str],
    env: &[(&str, String)],
) -> (i32, Value) {
    let mut args = vec![
        "--lake",
        lake_path.to_str().unwrap(),
        "--date",
        DECIDED_ON,
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = Command::new(env!("CARGO_BIN_EXE_optimize-campaigns"))
        .args(&args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (_, value) in env {
        if value.starts_with("secret-") {
            assert!(
                !stderr.contains(value.as_str()),
                "a secret reached the log: {stderr}"
            );
        }
    }
    let summary =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("no summary: {stderr}"));
    (output.status.code().unwrap(), summary)
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_pause_and_scale_by_hand_and_the_ledger_never_applies_twice() {
    let folder = tempfile::tempdir().unwrap();
    let lake_path = folder.path().join("lake");
    build_week(&lake_path).await;
    // The shipped thresholds, with quick retries.
    let config = common::optimizer_config(
        folder.path(),
        &[
            ("initial_backoff_ms: 500", "initial_backoff_ms: 10"),
            ("min_interval_ms: 200", "min_interval_ms: 0"),
        ],
    );
    let api = FakeApi::start();
    let env = vec![
        ("META_API_URL", format!("{}/meta", api.base)),
        ("META_ACCESS_TOKEN", "secret-meta".to_string()),
        ("GOOGLE_ADS_API_URL", format!("{}/google", api.base)),
        ("GOOGLE_ADS_ACCESS_TOKEN", "secret-google".to_string()),
        ("GOOGLE_ADS_DEVELOPER_TOKEN", "secret-dev".to_string()),
        ("GOOGLE_ADS_CUSTOMER_ID", "123-456-7890".to_string()),
        ("IRONSOURCE_API_URL", format!("{}/iron", api.base)),
        ("IRONSOURCE_API_TOKEN", "secret-iron".to_string()),
        (
            "SLACK_WEBHOOK_URL",
            format!("{}/slack/secret-hook", api.base),
        ),
    ];

    // Proposals only: nothing reaches an ad platform; Slack hears the summary.
    let (code, summary) = optimize(&lake_path, &config, &[], &env);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["details"]["decisions"]["pause"], 2, "{summary}");
    assert_eq!(summary["details"]["decisions"]["scale"], 2, "{summary}");
    assert_eq!(summary["details"]["slack_alert"], "sent");
    let seen = api.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/slack/secret-hook");
    let slack: Value = serde_json::from_str(&seen[0].body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with("optimize-campaigns 2026-01-08: 2 paused, 2 scaled"),
        "{text}"
    );

    let proposed = ledger(&lake_path).await;
    assert_eq!(proposed.len(), 5);
    // pROAS 0.40 with a 90% interval of ±1.645 × 10% segment error × 0.40.
    let meta = &proposed["fq_meta_br_android"];
    assert_eq!((meta.0.as_str(), meta.1.as_str()), ("proposed", "pause"));
    assert_eq!(
        meta.3,
        "pROAS D30 0.40 (0.33-0.47) < 0.8 floor for 3 days, 140 installs"
    );
    // No API for Unity Ads: a person pauses it.
    assert_eq!(proposed["fq_unity_jp_ios"].0, "manual");
    // The two paused budgets free $1,000; the two winners reach their +50% cap.
    let google = &proposed["fq_google_us_android"];
    assert_eq!(
        (google.1.as_str(), google.2.as_deref()),
        ("scale_budget", Some("750.00"))
    );
    assert!(
        google.3.starts_with(
            "pROAS D30 1.60 (1.34-1.86) >= 1.2 target, 99% sure to clear the 0.8 floor, \
                 140 installs"
        ),
        "{}",
        google.3
    );
    let iron = &proposed["fq_iron_us_android"];
    assert_eq!(
        (iron.1.as_str(), iron.2.as_deref()),
        ("set_bid", Some("2.70"))
    );
    // Between floor and target, already at its budget: kept.
    let tiktok = &proposed["fq_tiktok_gb_ios"];
    assert_eq!(
        (tiktok.0.as_str(), tiktok.1.as_str()),
        ("no_change", "keep")
    );
    assert!(
        tiktok
            .3
            .contains("between the 0.8 floor and the 1.2 target"),
        "{}",
        tiktok.3
    );

    // A rerun proposes the same actions.
    let (code, _) = optimize(&lake_path, &config, &[], &[]);
    assert_eq!(code, 0);
    assert_eq!(ledger(&lake_path).await, proposed);

    // --validate: Google checks its budget change (validateOnly) and changes nothing; the Meta
    // pause and the ironSource bid have no check-only call. The ledger keeps its proposals.
    let (code, summary) = optimize(&lake_path, &config, &["--validate"], &env);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(
        summary["details"]["validation"],
        json!({"accepted": 1, "rejected": 0, "not_checked": 2}),
        "{summary}"
    );
    let calls = api.take_platform_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].path,
        "/google/customers/1234567890/campaignBudgets:mutate"
    );
    let body: Value = serde_json::from_str(&calls[0].body).unwrap();
    assert_eq!(body["validateOnly"], true);
    assert_eq!(body["operations"][0]["update"]["amountMicros"], "750000000");
    assert_eq!(ledger(&lake_path).await, proposed);
    // A change Google refuses fails the run with Google's answer, and stays a proposal.
    api.answer(
        "/google/",
        &[(400, r#"{"error":{"message":"budget too small"}}"#, &[])],
    );
    let (code, summary) = optimize(&lake_path, &config, &["--validate"], &env);
    assert_eq!(code, 1, "{summary}");
    assert_eq!(summary["details"]["validation"]["rejected"], 1, "{summary}");
    let error = summary["error"].as_str().unwrap();
    assert!(
        error.contains("google fq_google_us_android scale_budget: HTTP 400")
            && error.contains("budget too small"),
        "{summary}"
    );
    api.take();
    assert_eq!(ledger(&lake_path).await, proposed);
    // A dry run records no proposals to check: the pair is refused rather than counting none.
    let (code, summary) = optimize(&lake_path, &config, &["--validate", "--dry-run"], &env);
    assert_eq!(code, 2, "{summary}");
    assert!(
        summary["error"].as_str().unwrap().contains("--dry-run"),
        "{summary}"
    );
    assert!(api.take_platform_calls().is_empty());

    // A crash after the Meta pause was recorded as applying, before its answer was.
    let frame = lake(&lake_path)
        .read(&gold::CAMPAIGN_ACTIONS, None)
        .await
        .unwrap();
    let crashed = frame
        .lazy()
        .with_column(
            when(col("campaign_id").eq(lit("fq_meta_br_android")))
                .then(lit("applying"))
                .otherwise(col("status"))
                .alias("status"),
        )
        .collect()
        .unwrap();
    lake(&lake_path)
        .merge(&gold::CAMPAIGN_ACTIONS, &crashed)
        .await
        .unwrap();

    // --apply sends the others (Google after one rate limit) and not the unconfirmed pause.
    api.answer("/google/", &[(429, "slow down", &[("retry-after", "0")])]);
    let (code, summary) = optimize(&lake_path, &config, &["--apply"], &env);
    assert_eq!(code, 1, "{summary}");
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("--resend-unconfirmed"),
        "{summary}"
    );
    let calls = api.take_platform_calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls.iter().all(|c| !c.path.starts_with("/meta")),
        "{calls:?}"
    );
    assert_eq!(calls[2].path, "/iron/advertisers/v4/multibid");
    let applied = ledger(&lake_path).await;
    assert_eq!(applied["fq_google_us_android"].0, "applied");
    assert_eq!(applied["fq_google_us_android"].4, 2);
    assert_eq!(applied["fq_iron_us_android"].0, "applied");
    assert_eq!(applied["fq_meta_br_android"].0, "applying");

    // Again: nothing applied is sent twice, and the pause stays unconfirmed.
    let (code, _) = optimize(&lake_path, &config, &["--apply"], &env);
    assert_eq!(code, 1);
    assert!(api.take_platform_calls().is_empty());

    // After checking Meta, the operator resends it; then a rerun sends nothing.
    let (code, summary) = optimize(
        &lake_path,
        &config,
        &["--apply", "--resend-unconfirmed"],
        &env,
    );
    assert_eq!(code, 0, "{summary}");
    let calls = api.take_platform_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].path, "/meta/fq_meta_br_android");
    assert_eq!(calls[0].body, "status=PAUSED");
    assert_eq!(calls[0].headers["authorization"], "Bearer secret-meta");
    let (code, _) = optimize(&lake_path, &config, &["--apply"], &env);
    assert_eq!(code, 0);
    assert!(api.take_platform_calls().is_empty());
    let done = ledger(&lake_path).await;
    assert_eq!(done["fq_meta_br_android"].0, "applied");

    // The ledger reaches the mart (with the Gold tables this week leaves empty).
    for spec in [&gold::CAMPAIGN_DAILY, &gold::LTV_COHORTS, &gold::KPI_DAILY] {
        write(&lake_path, spec, Vec::new()).await;
    }
    let database = TestDatabase::create("optimize").await;
    run_stage_with(
        env!("CARGO_BIN_EXE_load-mart"),
        &["--lake", lake_path.to_str().unwrap(), "--date", DECIDED_ON],
        &[("DATABASE_URL", &database.url)],
    );
    // Again: the day is now upserted through staging, and the ledger's own updated_at rides
    // along.
    run_stage_with(
        env!("CARGO_BIN_EXE_load-mart"),
        &["--lake", lake_path.to_str().unwrap(), "--date", DECIDED_ON],
        &[("DATABASE_URL", &database.url)],
    );
    let mut connection = database.connect().await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT campaign_id, status, recommendation FROM mart.campaign_actions ORDER BY campaign_id",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows[1],
        (
            "fq_iron_us_android".into(),
            "applied".into(),
            "scale".into()
        )
    );
    assert_eq!(rows[2].1, "applied");
}
