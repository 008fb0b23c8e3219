//! ingest-drain against the real broker started by `make services` (tansu on 127.0.0.1:9092):
//! every message in Bronze exactly once, across reruns, crashes and a split consumer group.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{gunzip_text, strings};
use ltv_lakehouse::tables::bronze;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

const BROKERS: &str = "127.0.0.1:9092";

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", BROKERS)
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap_or_else(|err| panic!("is the broker up (make services)? {err}"));
    for result in results {
        result.unwrap_or_else(|(topic, err)| panic!("creating {topic}: {err}"));
    }
}

fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", BROKERS)
        // tansu's SQLite storage does not round-trip snappy.
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

async fn produce(topic: &str, messages: &[(String, String)]) {
    let producer = producer();
    for chunk in messages.chunks(500) {
        let sends = chunk.iter().map(|(key, payload)| {
            producer.send(
                FutureRecord::to(topic).key(key).payload(payload),
                Duration::from_secs(30),
            )
        });
        for delivery in futures_join(sends).await {
            delivery.unwrap_or_else(|(err, _)| panic!("producing to {topic}: {err}"));
        }
    }
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut outputs = Vec::new();
    for future in futures.collect::<Vec<_>>() {
        outputs.push(future.await);
    }
    outputs
}

/// Telemetry of the first fixture day, keyed `game_title:eternal_player_id`.
fn fixture_events() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/studio/telemetry/2026-01-01.ndjson.gz");
    gunzip_text(&path)
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap();
            (
                format!(
                    "{}:{}",
                    event["game_title"].as_str().unwrap(),
                    event["eternal_player_id"].as_str().unwrap()
                ),
                line.to_string(),
            )
        })
        .collect()
}

fn drain_command(lake: &Path, topics: &str, group: &str, extra: &[&str]) -> Command {
    drain_command_at(lake.to_str().unwrap(), topics, group, extra)
}

fn drain_command_at(lake: &str, topics: &str, group: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ingest-drain"));
    command
        .args([
            "--source",
            "kafka",
            "--brokers",
            BROKERS,
            "--topics",
            topics,
            "--group-id",
            group,
        ])
        .args(["--date", "2026-01-08", "--lake", lake, "--insecure-dev-key"])
        .args([
            "--contracts",
            concat!(env!("CARGO_MANIFEST_DIR"), "/contracts"),
        ])
        .args(extra)
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn summary(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "drain failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn event_ids(lake: &Path) -> Vec<String> {
    let frame = common::lake(lake)
        .read(&bronze::GAME_EVENTS, None)
        .await
        .unwrap();
    strings(&frame, "event_id")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_loads_every_message_once_and_a_rerun_commits_nothing() {
    let topic = unique("game-events");
    create_topic(&topic, 3).await;
    let mut messages = fixture_events();
    messages.truncate(3_000);
    let mut bad = vec![
        ("k".to_string(), "not json".to_string()),
        (
            "k".to_string(),
            r#"{"event_name": "level_start"}"#.to_string(),
        ),
    ];
    produce(&topic, &messages).await;
    produce(&topic, &bad).await;

    let lake = tempfile::tempdir().unwrap();
    let group = unique("group");
    let first = summary(
        &drain_command(lake.path(), &topic, &group, &["--max-batch-rows", "1000"])
            .output()
            .unwrap(),
    );
    assert_eq!(first["rows_in"], 3_002);
    assert_eq!(first["rows_out"], 3_000);
    assert_eq!(first["rows_quarantined"], 2);
    let ids = event_ids(lake.path()).await;
    assert_eq!(ids.len(), 3_000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3_000);

    let again = summary(
        &drain_command(lake.path(), &topic, &unique("group"), &[])
            .output()
            .unwrap(),
    );
    assert_eq!(
        again["rows_in"], 0,
        "a new group resumes from the lake, not from the start"
    );
    assert_eq!(again["tables"], Value::Object(Default::default()));

    bad.truncate(0);
    produce(&topic, &fixture_events()[3_000..3_100]).await;
    let more = summary(
        &drain_command(lake.path(), &topic, &group, &[])
            .output()
            .unwrap(),
    );
    assert_eq!(more["rows_in"], 100);
    assert_eq!(event_ids(lake.path()).await.len(), 3_100);
}

/// Twenty SIGKILLs at reproducible random moments, each followed by a rerun: in the end every
/// event is in Bronze exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_drain_killed_at_any_point_loses_and_duplicates_nothing() {
    let topic = unique("game-events");
    create_topic(&topic, 3).await;
    let messages = fixture_events();
    produce(&topic, &messages).await;
    let lake = tempfile::tempdir().unwrap();

    let mut seed: u64 = 0x5eed;
    for _trial in 0..20 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(300 + (seed >> 33) % 2_500);
        // A fresh group each time: the killed member would otherwise hold its partitions
        // until its session times out. Progress lives in the lake, not in the group.
        let mut child = drain_command(
            lake.path(),
            &topic,
            &unique("group"),
            &["--max-batch-rows", "300"],
        )
        .spawn()
        .unwrap();
        tokio::time::sleep(delay).await;
        let _ = child.kill();
        let _ = child.wait();
    }
    let last = drain_command(lake.path(), &topic, &unique("group"), &[])
        .output()
        .unwrap();
    summary(&last);

    let ids = event_ids(lake.path()).await;
    let unique_ids: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique_ids.len(), ids.len(), "no event twice");
    assert_eq!(ids.len(), messages.len(), "no event lost");
}

/// Two drains in one consumer group share the partitions; together they load everything once.
#[tokio::test(flavor = "multi_thread")]
async fn two_drains_in_one_group_split_the_partitions() {
    let topic = unique("game-events");
    create_topic(&topic, 4).await;
    let messages = fixture_events();
    produce(&topic, &messages).await;
    let lake = tempfile::tempdir().unwrap();
    let group = unique("group");

    let first = drain_command(lake.path(), &topic, &group, &["--max-batch-rows", "500"])
        .spawn()
        .unwrap();
    let second = drain_command(lake.path(), &topic, &group, &["--max-batch-rows", "500"])
        .spawn()
        .unwrap();
    let (first, second) = (
        summary(&first.wait_with_output().unwrap()),
        summary(&second.wait_with_output().unwrap()),
    );

    let ids = event_ids(lake.path()).await;
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no event twice"
    );
    assert_eq!(ids.len(), messages.len(), "the union is complete");
    let written = first["rows_out"].as_u64().unwrap() + second["rows_out"].as_u64().unwrap();
    assert_eq!(
        written as usize,
        messages.len(),
        "each row written by exactly one drain"
    );
}

/// The same drain with the lake on the S3 API that `make services` starts (moto), whose
/// conditional PUT keeps concurrent Delta commits safe.
#[tokio::test(flavor = "multi_thread")]
async fn a_drain_works_with_the_lake_on_s3() {
    let topic = unique("game-events");
    create_topic(&topic, 2).await;
    let mut messages = fixture_events();
    messages.truncate(1_000);
    produce(&topic, &messages).await;

    let bucket = format!("ltv-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("http://127.0.0.1:5000/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("is the S3 server up (make services)? {err}"));
    assert!(
        created.status().is_success(),
        "creating bucket: {}",
        created.status()
    );

    let drain = |group: String| {
        let mut command = drain_command_at(&format!("s3://{bucket}/lake"), &topic, &group, &[]);
        command
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_CONDITIONAL_PUT", "etag")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
        summary(&command.output().unwrap())
    };
    let first = drain(unique("group"));
    assert_eq!(first["rows_out"], 1_000);
    assert!(first["tables"]["bronze.game_events"].as_u64().is_some());
    let again = drain(unique("group"));
    assert_eq!(
        again["rows_in"], 0,
        "progress was read back from the S3 lake"
    );
}

async fn wait_for_rows(lake: &Path, expected: usize) -> usize {
    let mut seen = 0;
    for _ in 0..150 {
        if lake.join("bronze/game_events/_delta_log").exists() {
            seen = event_ids(lake).await.len();
            if seen >= expected {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen
}

/// --follow keeps loading what arrives in micro-batches; SIGTERM commits and exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_following_drain_loads_new_messages_and_stops_cleanly() {
    let topic = unique("game-events");
    create_topic(&topic, 2).await;
    let messages = fixture_events();
    let lake = tempfile::tempdir().unwrap();
    let child = drain_command(
        lake.path(),
        &topic,
        &unique("group"),
        &["--follow", "--max-batch-seconds", "1"],
    )
    .spawn()
    .unwrap();

    produce(&topic, &messages[..400]).await;
    assert_eq!(wait_for_rows(lake.path(), 400).await, 400);
    produce(&topic, &messages[400..700]).await;
    assert_eq!(wait_for_rows(lake.path(), 700).await, 700);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let summary = summary(&output);
    assert_eq!(summary["rows_out"], 700);
    assert_eq!(event_ids(lake.path()).await.len(), 700);
}
