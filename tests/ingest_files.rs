//! ingest-drain --source file: replays land every record in Bronze once, bad input in
//! quarantine with its reason, and no player id in the clear.

mod common;

use std::path::Path;
use std::process::Command;

use common::{gunzip_text, lake, strings};
use ltv_lakehouse::tables::bronze;
use serde_json::Value;

const KEY: &str = "test-key-0123456789abcdef0123456789abcdef";

fn ingest(lake: &Path, source: &Path, extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_ingest-drain"))
        .arg(format!("--source=file:{}", source.display()))
        .args(["--date", "2026-01-08", "--lake", lake.to_str().unwrap()])
        .args([
            "--contracts",
            concat!(env!("CARGO_MANIFEST_DIR"), "/contracts"),
        ])
        .args(extra)
        .env("PII_HASH_KEY", KEY)
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Records in the committed fixture files: lines of NDJSON, rows of CSV.
fn fixture_records(root: &Path) -> (usize, usize) {
    let mut telemetry = 0;
    let mut others = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().to_string();
            if path.is_dir() {
                pending.push(path);
            } else if name.ends_with(".ndjson.gz") {
                let lines = gunzip_text(&path).lines().count();
                if name.contains("telemetry") {
                    telemetry += lines
                } else {
                    others += lines
                }
            } else if name.ends_with(".csv.gz") && !name.contains("ground_truth") {
                others += gunzip_text(&path).lines().count() - 1;
            }
        }
    }
    (telemetry, others)
}

fn parquet_files(folder: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("_delta_log") {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found
}

/// The `player_id` column of a Parquet file, in the order the file stores it.
fn player_ids_in_file_order(file: &Path) -> Vec<String> {
    use deltalake::arrow::array::{Array as _, AsArray as _};
    use deltalake::parquet::arrow::ProjectionMask;
    use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap()).unwrap();
    let column = builder
        .schema()
        .index_of("player_id")
        .expect("a player_id column");
    let projection = ProjectionMask::roots(builder.parquet_schema(), [column]);
    let mut ids = Vec::new();
    for batch in builder.with_projection(projection).build().unwrap() {
        let batch = batch.unwrap();
        let text = deltalake::arrow::compute::cast(
            batch.column(0),
            &deltalake::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let text = text.as_string::<i32>();
        ids.extend((0..text.len()).map(|row| text.value(row).to_string()));
    }
    ids
}

/// The `source_offset` column of quarantined rows (their line numbers), in the frame's order.
fn source_offsets(quarantine: &polars::prelude::DataFrame) -> Vec<i64> {
    quarantine
        .column("source_offset")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .flatten()
        .collect()
}

#[tokio::test]
async fn a_replay_loads_every_record_once() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/studio");
    let folder = tempfile::tempdir().unwrap();
    let first = ingest(folder.path(), &fixtures, &[]);
    let (telemetry, others) = fixture_records(&fixtures);

    assert_eq!(
        first["rows_in"].as_u64().unwrap() as usize,
        telemetry + others
    );
    assert_eq!(first["rows_out"], first["rows_in"]);
    assert_eq!(first["rows_quarantined"], 0);
    let events = lake(folder.path())
        .read(&bronze::GAME_EVENTS, None)
        .await
        .unwrap();
    assert_eq!(events.height(), telemetry);
    let mut ids = strings(&events, "event_id");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), telemetry, "every event once");
    // Each Bronze file holds its events ordered by player, so a slice of players skips the
    // pages of the others. The writer may hand a batch to its workers in parts (one per core)
    // and write them in either order: a file is a few sorted runs. Unordered hashed ids would
    // break order at about every other row.
    let files = parquet_files(&folder.path().join("bronze/game_events"));
    assert!(!files.is_empty());
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for file in files {
        let players = player_ids_in_file_order(&file);
        assert!(players.len() > 100, "{}", file.display());
        let runs = 1 + players.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(
            runs <= cores,
            "{} holds its {} events in {runs} runs of player order",
            file.display(),
            players.len()
        );
    }

    let again = ingest(folder.path(), &fixtures, &[]);
    assert_eq!(again["rows_out"], 0);
    assert_eq!(
        again["details"]["files_already_loaded"],
        first["details"]["files"]
    );
    assert_eq!(
        again["tables"],
        Value::Object(Default::default()),
        "nothing committed"
    );
    assert_eq!(
        lake(folder.path())
            .read(&bronze::GAME_EVENTS, None)
            .await
            .unwrap()
            .height(),
        telemetry
    );
}

#[tokio::test]
async fn a_copy_of_a_file_in_the_same_run_is_loaded_once() {
    // Files are identified by their content: copies under other names are already loaded.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/studio/telemetry/2026-01-01.ndjson.gz");
    let events = gunzip_text(&fixture).lines().count();
    let source = tempfile::tempdir().unwrap();
    let telemetry = source.path().join("telemetry");
    std::fs::create_dir(&telemetry).unwrap();
    for name in ["a.ndjson.gz", "b.ndjson.gz", "c.ndjson.gz"] {
        std::fs::copy(&fixture, telemetry.join(name)).unwrap();
    }
    let folder = tempfile::tempdir().unwrap();
    let summary = ingest(folder.path(), source.path(), &[]);

    assert_eq!(summary["details"]["files"], 3);
    assert_eq!(summary["details"]["files_already_loaded"], 2);
    assert_eq!(summary["rows_in"].as_u64().unwrap() as usize, events);
    assert_eq!(summary["rows_out"], summary["rows_in"]);
    let bronze = lake(folder.path())
        .read(&bronze::GAME_EVENTS, None)
        .await
        .unwrap();
    assert_eq!(bronze.height(), events);
}

#[tokio::test]
async fn bad_messages_land_in_quarantine_with_their_reason() {
    let folder = tempfile::tempdir().unwrap();
    let source = folder.path().join("telemetry");
    std::fs::create_dir_all(&source).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/studio/telemetry/2026-01-01.ndjson.gz");
    let good = gunzip_text(&fixtures).lines().next().unwrap().to_string();
    let event: Value = serde_json::from_str(&good).unwrap();
    let without_id = {
        let mut event = event.clone();
        event.as_object_mut().unwrap().remove("event_id");
        event.to_string()
    };
    let text_timestamp = {
        let mut event = event.clone();
        event["event_timestamp"] = Value::from("yesterday");
        event.to_string()
    };
    let oversized = format!("{{\"padding\": \"{}\"}}", "x".repeat(1_100_000));
    let lines = [
        good.as_str(),
        "not json at all",
        "[1, 2, 3]",
        "",
        &without_id,
        &text_timestamp,
        &oversized,
    ];
    std::fs::write(source.join("bad.ndjson"), lines.join("\n")).unwrap();

    let lake_dir = folder.path().join("lake");
    let summary = ingest(&lake_dir, &source, &[]);
    assert_eq!(summary["rows_in"], 6, "the blank line is not a record");
    assert_eq!(summary["rows_out"], 1);
    assert_eq!(summary["rows_quarantined"], 5);

    let quarantine = lake(&lake_dir)
        .read(&bronze::QUARANTINE, None)
        .await
        .unwrap()
        .sort(["source_offset"], Default::default())
        .unwrap();
    let offsets = source_offsets(&quarantine);
    assert_eq!(offsets, [2, 3, 5, 6, 7], "line numbers of the bad records");
    let errors = strings(&quarantine, "error");
    for (error, expected) in errors.iter().zip([
        "not a JSON object",
        "not a JSON object",
        "missing field `event_id`",
        "invalid type",
        "exceeds the 1048576-byte limit",
    ]) {
        assert!(error.contains(expected), "{error} should say {expected}");
    }
    let raw = quarantine
        .column("raw")
        .unwrap()
        .binary()
        .unwrap()
        .get(0)
        .unwrap()
        .to_vec();
    assert_eq!(raw, b"not json at all");
}

#[tokio::test]
async fn a_file_loaded_in_chunks_commits_once_with_the_same_rows() {
    // A day of telemetry (2.7 MB) with bad lines inside, read in 1 MiB chunks and whole.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/studio/telemetry/2026-01-01.ndjson.gz");
    let mut lines: Vec<String> = gunzip_text(&fixture).lines().map(String::from).collect();
    let events = lines.len();
    for at in [events, events / 2, 7] {
        lines.insert(at, format!("not json, line {}", at + 1));
    }
    let source = tempfile::tempdir().unwrap();
    let file = source.path().join("telemetry.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (chunked, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let in_chunks = ingest(chunked.path(), &file, &["--chunk-mb", "1"]);
    let at_once = ingest(whole.path(), &file, &[]);

    assert_eq!(in_chunks["rows_in"].as_u64().unwrap() as usize, events + 3);
    for field in ["rows_in", "rows_out", "rows_quarantined"] {
        assert_eq!(in_chunks[field], at_once[field], "{field}");
    }
    let bronze_of = |folder: &Path| {
        let folder = folder.to_path_buf();
        async move {
            let lake = lake(&folder);
            let mut ids = strings(
                &lake.read(&bronze::GAME_EVENTS, None).await.unwrap(),
                "event_id",
            );
            ids.sort();
            let quarantine = lake.read(&bronze::QUARANTINE, None).await.unwrap();
            let mut offsets = source_offsets(&quarantine);
            offsets.sort();
            (ids, offsets)
        }
    };
    let (ids, offsets) = bronze_of(chunked.path()).await;
    assert_eq!(ids.len(), events);
    assert_eq!(offsets, [8, events as i64 / 2 + 2, events as i64 + 3]);
    assert_eq!((ids, offsets), bronze_of(whole.path()).await);

    // Written a chunk at a time, committed once: the table's creation and one append, as for
    // the file read whole, and no more files than it makes, one per core and game at most,
    // each holding its share of every chunk as a sorted run of players (read whole: one run).
    // A file per chunk would make several times as many.
    let table = chunked.path().join("bronze/game_events");
    let commits = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "json")
        })
        .count();
    assert_eq!(commits, 2);
    let runs_per_file = |table: &Path| -> Vec<usize> {
        parquet_files(table)
            .iter()
            .map(|file| {
                let players = player_ids_in_file_order(file);
                1 + players.windows(2).filter(|w| w[1] < w[0]).count()
            })
            .collect()
    };
    let (chunked_runs, whole_runs) = (
        runs_per_file(&table),
        runs_per_file(&whole.path().join("bronze/game_events")),
    );
    let games = {
        let lake = lake(chunked.path());
        let mut games = strings(
            &lake.read(&bronze::GAME_EVENTS, None).await.unwrap(),
            "game_id",
        );
        games.sort();
        games.dedup();
        games.len()
    };
    let cores = ltv_lakehouse::lake::append_writers();
    assert!(games > 1, "{games} games");
    for runs in [&chunked_runs, &whole_runs] {
        assert!(
            (games..=cores * games).contains(&runs.len()),
            "{} files of {games} games on {cores} cores",
            runs.len()
        );
    }
    assert!(whole_runs.iter().all(|&runs| runs == 1), "{whole_runs:?}");
    assert!(
        chunked_runs.iter().all(|&runs| runs <= 3),
        "{chunked_runs:?}"
    );
    assert!(
        chunked_runs.iter().any(|&runs| runs > 1),
        "{chunked_runs:?}"
    );

    let again = ingest(chunked.path(), &file, &["--chunk-mb", "1"]);
    assert_eq!(again["details"]["files_already_loaded"], 1);
    assert_eq!(again["rows_out"], 0);
}

#[tokio::test]
async fn player_ids_are_hashed_consistently_and_never_stored_in_the_clear() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/studio");
    let folder = tempfile::tempdir().unwrap();
    ingest(
        folder.path(),
        &fixtures.join("telemetry/2026-01-01.ndjson.gz"),
        &[],
    );
    ingest(
        folder.path(),
        &fixtures.join("attribution/push/2026-01-01.ndjson.gz"),
        &[],
    );

    let clear_ids: Vec<String> = gunzip_text(&fixtures.join("telemetry/2026-01-01.ndjson.gz"))
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["eternal_player_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let events = lake(folder.path())
        .read(&bronze::GAME_EVENTS, None)
        .await
        .unwrap();
    let installs = lake(folder.path())
        .read(&bronze::ATTRIBUTION, None)
        .await
        .unwrap();
    for raw in strings(&events, "raw_json")
        .iter()
        .chain(strings(&installs, "raw_json").iter())
    {
        assert!(
            !clear_ids.iter().any(|id| raw.contains(id.as_str())),
            "a clear player id in {raw}"
        );
    }
    let hashed = ltv_lakehouse::privacy::PiiHasher::new(KEY.as_bytes()).hash(&clear_ids[0]);
    assert!(strings(&events, "player_id").contains(&hashed));
    let players: std::collections::HashSet<String> =
        strings(&events, "player_id").into_iter().collect();
    let attributed = strings(&installs, "player_id");
    assert!(!attributed.is_empty());
    assert!(
        attributed.iter().all(|player| players.contains(player)),
        "installs join to their players' events"
    );
}
