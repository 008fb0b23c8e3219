//! gen-fixtures writes a studio that is the same for the same seed, and whose telemetry agrees
//! with its ground truth.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use ltv_lakehouse::jobs::gen_fixtures::GroundTruthRow;
use ltv_lakehouse::wire::{AdSpendRow, AppsFlyerInstallRow, AppsFlyerPushInstall, TelemetryEvent};

fn generate(out: &Path, seed: u64, extra: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_gen-fixtures"))
        .args([
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-09",
            "--installs-per-day",
            "60",
        ])
        .args(["--seed", &seed.to_string(), "--out", out.to_str().unwrap()])
        .args(extra)
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    found
}

fn text(bytes: &[u8], gzip: bool) -> String {
    let mut text = String::new();
    if gzip {
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = String::from_utf8(bytes.to_vec()).unwrap();
    }
    text
}

#[test]
fn same_seed_same_bytes_other_seed_other_players() {
    let folder = tempfile::tempdir().unwrap();
    for gzip in [false, true] {
        let flag: &[&str] = if gzip { &["--gzip"] } else { &[] };
        let (first, second, other) = (
            folder.path().join(format!("a{gzip}")),
            folder.path().join(format!("b{gzip}")),
            folder.path().join(format!("c{gzip}")),
        );
        generate(&first, 42, flag);
        generate(&second, 42, flag);
        generate(&other, 43, flag);
        let (first, second, other) = (files(&first), files(&second), files(&other));
        assert!(first.len() > 30, "{:?}", first.keys());
        assert_eq!(
            first.keys().collect::<Vec<_>>(),
            second.keys().collect::<Vec<_>>()
        );
        for (path, bytes) in &first {
            assert!(
                bytes == &second[path],
                "{} differs between two runs",
                path.display()
            );
        }
        let truth = |set: &BTreeMap<PathBuf, Vec<u8>>| {
            let name = if gzip {
                "ground_truth.csv.gz"
            } else {
                "ground_truth.csv"
            };
            text(&set[Path::new(name)], gzip)
        };
        assert_ne!(
            truth(&first),
            truth(&other),
            "another seed makes other players"
        );
    }
}

/// Revenue in the telemetry of players installed on the 2nd (whose D0..=D7 the window holds) equals the ground truth's
/// `revenue_d7`, installs in the attribution files match the paid players, and spend adds up.
#[test]
fn telemetry_attribution_and_spend_agree_with_the_ground_truth() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("studio");
    generate(&out, 7, &[]);
    let all = files(&out);

    let truth: Vec<GroundTruthRow> =
        csv::Reader::from_reader(&all[Path::new("ground_truth.csv")][..])
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap();
    let mut revenue_by_player: HashMap<String, f64> = HashMap::new();
    let mut events = 0;
    for (path, bytes) in &all {
        if !path.starts_with("telemetry") {
            continue;
        }
        let day = path
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".ndjson")
            .to_string();
        for line in text(bytes, false).lines() {
            let event: TelemetryEvent = serde_json::from_str(line).unwrap();
            events += 1;
            let date = chrono::DateTime::from_timestamp_millis(event.event_timestamp)
                .unwrap()
                .date_naive();
            assert_eq!(
                date.to_string(),
                day,
                "events are filed under the UTC day they happened"
            );
            let revenue = match event.event_name.as_str() {
                "iap_completed" | "ad_impression" => {
                    event.properties["revenue_usd"].as_f64().unwrap()
                }
                _ => 0.0,
            };
            *revenue_by_player
                .entry(event.eternal_player_id)
                .or_default() += revenue;
        }
    }
    assert!(events > 5_000, "{events} events");

    let first_day: Vec<_> = truth
        .iter()
        .filter(|t| t.install_date.to_string() == "2026-01-02")
        .collect();
    assert!(first_day.len() > 40);
    for player in &first_day {
        let seen = revenue_by_player
            .get(&player.eternal_player_id)
            .copied()
            .unwrap_or_default();
        assert!(
            (seen - player.revenue_d7).abs() < 1e-3,
            "{}: telemetry {seen} vs truth {}",
            player.eternal_player_id,
            player.revenue_d7
        );
    }

    let paid: usize = truth.iter().filter(|t| !t.campaign_id.is_empty()).count();
    let mut pulled = 0;
    let mut pushed = 0;
    let mut spend_installs = 0;
    let mut spend_usd = 0.0;
    for (path, bytes) in &all {
        if path.starts_with("attribution/pull") {
            let rows: Vec<AppsFlyerInstallRow> = csv::Reader::from_reader(&bytes[..])
                .deserialize()
                .collect::<Result<_, _>>()
                .unwrap();
            pulled += rows.len();
        } else if path.starts_with("attribution/push") {
            for line in text(bytes, false).lines() {
                let _: AppsFlyerPushInstall = serde_json::from_str(line).unwrap();
                pushed += 1;
            }
        } else if path.starts_with("ad_spend") {
            let rows: Vec<AdSpendRow> = csv::Reader::from_reader(&bytes[..])
                .deserialize()
                .collect::<Result<_, _>>()
                .unwrap();
            spend_installs += rows.iter().map(|r| r.installs as usize).sum::<usize>();
            spend_usd += rows.iter().map(|r| r.spend_usd).sum::<f64>();
        }
    }
    assert_eq!(pulled, paid);
    assert_eq!(pushed, paid);
    assert_eq!(spend_installs, paid);
    let cost: f64 = truth.iter().filter_map(|t| t.install_cost_usd).sum();
    assert!(
        (spend_usd - cost).abs() < 1.0,
        "spend {spend_usd} vs install costs {cost}"
    );
}

/// The committed fixture studio is exactly what the generator makes, so tests and CI replay
/// the same days a developer can regenerate with `make fixtures`.
#[test]
fn committed_fixtures_are_in_sync_with_the_generator() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/studio");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(committed.join("manifest.json")).unwrap()).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let fresh = folder.path().join("studio");
    let output = Command::new(env!("CARGO_BIN_EXE_gen-fixtures"))
        .args(["--from", manifest["range"]["from"].as_str().unwrap()])
        .args(["--to", manifest["range"]["to"].as_str().unwrap()])
        .args(["--seed", &manifest["seed"].to_string()])
        .args([
            "--installs-per-day",
            &manifest["installs_per_day"].to_string(),
        ])
        .args(["--gzip", "--out", fresh.to_str().unwrap()])
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(output.status.success());
    let (committed, fresh) = (files(&committed), files(&fresh));
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &committed {
        assert!(
            bytes == &fresh[path],
            "{} is stale: run `make fixtures`",
            path.display()
        );
    }
}
