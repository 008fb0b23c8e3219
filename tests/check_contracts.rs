//! check-contracts end to end: lint and compat exit 1 with one line per finding.

use std::path::Path;
use std::process::{Command, Output};

fn check_contracts(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_check-contracts"))
        .args(args)
        .arg("--contracts")
        .arg(dir)
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap()
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

const LEVEL_COMPLETE: &str = "contract_id: level_complete_v1\nevent_name: level_complete\ngame_title: \"*\"\nversion: 1.0.0\nfields:\n  - { name: level_id, type: string, required: true }\n  - { name: stars, type: int32, required: true, enum: [1, 2, 3] }\n";

#[test]
fn lint_prints_file_line_rule_and_exits_1() {
    let repo = tempfile::tempdir().unwrap();
    let contracts = repo.path().join("contracts");
    std::fs::create_dir_all(contracts.join("all-games")).unwrap();
    std::fs::write(
        contracts.join("all-games/level_complete.yaml"),
        LEVEL_COMPLETE.replace("type: int32", "type: integer"),
    )
    .unwrap();

    let output = check_contracts(&contracts, &["lint"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "all-games/level_complete.yaml:7: unknown_type: field `stars`: unknown type `integer`"
        ),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["details"]["problems"], 1);
}

#[test]
fn compat_fails_on_a_breaking_change_until_the_major_version_moves() {
    let repo = tempfile::tempdir().unwrap();
    let contracts = repo.path().join("contracts");
    let file = contracts.join("all-games/level_complete.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, LEVEL_COMPLETE).unwrap();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "v1"]);

    let narrowed = LEVEL_COMPLETE.replace("enum: [1, 2, 3]", "enum: [1, 2]");
    std::fs::write(&file, narrowed.replace("version: 1.0.0", "version: 1.1.0")).unwrap();
    let output = check_contracts(&contracts, &["compat", "--base", "HEAD"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("field `stars`: enum narrowed: [3] removed"),
        "{stderr}"
    );

    std::fs::write(&file, narrowed.replace("version: 1.0.0", "version: 2.0.0")).unwrap();
    let output = check_contracts(&contracts, &["compat", "--base", "HEAD"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = check_contracts(&contracts, &["compat", "--base", "no-such-branch"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "an unknown base is a usage error"
    );
}

mod common;

/// Breaks three fixture events (a mistyped field, a global enum, an unknown event) and loads
/// the day into Bronze; returns the lake and the broken event ids by expected contract.
fn lake_with_broken_events() -> (tempfile::TempDir, Vec<(String, &'static str, &'static str)>) {
    let text = common::gunzip_text(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/studio/telemetry/2026-01-01.ndjson.gz"),
    );
    let mut events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut broken = Vec::new();
    type Breaker = fn(&mut serde_json::Value);
    let breakers: [(&str, &str, &str, Breaker); 3] = [
        ("level_start", "level_start_v1", "type", |e| {
            e["level_id"] = serde_json::json!(5)
        }),
        ("daily_login", "global_fields_v1", "enum", |e| {
            e["platform"] = serde_json::json!("web")
        }),
        (
            "game_foreground",
            "(no contract: teleport_used)",
            "unknown_event",
            |e| e["event_name"] = serde_json::json!("teleport_used"),
        ),
    ];
    for (name, contract, rule, breaker) in breakers {
        let event = events.iter_mut().find(|e| e["event_name"] == name).unwrap();
        breaker(event);
        broken.push((
            event["event_id"].as_str().unwrap().to_owned(),
            contract,
            rule,
        ));
    }
    let input = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(input.path().join("telemetry")).unwrap();
    let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(input.path().join("telemetry/2026-01-01.ndjson"), lines).unwrap();
    let lake = tempfile::tempdir().unwrap();
    common::ingest_files(lake.path(), input.path(), "2026-01-02");
    (lake, broken)
}

#[test]
fn validate_reports_each_broken_rule_with_its_samples_and_fails_the_run() {
    let (lake, broken) = lake_with_broken_events();
    let out = tempfile::tempdir().unwrap();
    let report_path = out.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_check-contracts"))
        .args([
            "validate",
            "--date",
            "2026-01-02",
            "--format",
            "json",
            "--output",
        ])
        .arg(&report_path)
        .args(["--lake", lake.path().to_str().unwrap()])
        .args(["--contracts", common::CONTRACTS])
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["rows_failing"], 3);
    let contracts = report["contracts"].as_array().unwrap();
    for (event_id, contract, rule) in &broken {
        let check = contracts
            .iter()
            .find(|c| c["contract_id"] == *contract)
            .unwrap_or_else(|| panic!("no {contract} in the report"));
        assert_eq!(check["rows_failing"], 1, "{check}");
        let rules = check["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "{check}");
        assert_eq!(rules[0]["rule"], *rule);
        assert_eq!(rules[0]["samples"][0]["row"], event_id.as_str());
    }
    let mut failed: Vec<&str> = report["failed_contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "(no contract: teleport_used)",
            "global_fields_v1",
            "level_start_v1"
        ]
    );
    let golden = report["golden_completeness"].as_array().unwrap();
    assert_eq!(golden.len(), 15, "every golden event is reported");
    assert!(golden.iter().all(|g| g["share"].as_f64().unwrap() <= 1.0));

    // JUnit: one failing test case per failing contract; a tolerance lets the rest pass.
    let junit = out.path().join("report.xml");
    let output = Command::new(env!("CARGO_BIN_EXE_check-contracts"))
        .args([
            "validate",
            "--date",
            "2026-01-02",
            "--format",
            "junit",
            "--max-failure-pct",
            "1",
            "--output",
        ])
        .arg(&junit)
        .args(["--lake", lake.path().to_str().unwrap()])
        .args(["--contracts", common::CONTRACTS])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains("name=\"(no contract: teleport_used)\"><failure"),
        "{xml}"
    );
}

/// A day gone through in slices of players is reported as the same day read whole.
#[test]
fn validate_in_player_slices_reports_what_validate_of_the_whole_day_reports() {
    let (lake, _) = lake_with_broken_events();
    let out = tempfile::tempdir().unwrap();
    let report = |name: &str, extra: &[&str]| -> serde_json::Value {
        let path = out.path().join(name);
        let output = Command::new(env!("CARGO_BIN_EXE_check-contracts"))
            .args(["validate", "--date", "2026-01-02", "--format", "json"])
            .args(extra)
            .arg("--output")
            .arg(&path)
            .args(["--lake", lake.path().to_str().unwrap()])
            .args(["--contracts", common::CONTRACTS])
            .env("LOG_FORMAT", "json")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "the broken events fail it");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let whole = report("whole.json", &[]);
    let sliced = report("sliced.json", &["--max-batch-events", "500"]);
    assert_eq!(whole["rows_checked"], sliced["rows_checked"]);
    // Day one of the fixture studio: about 3,100 events, so 7 slices of about 500.
    assert!(whole["rows_checked"].as_u64().unwrap() > 3_000);
    for field in [
        "rows_failing",
        "failed_contracts",
        "golden_completeness",
        "volume",
    ] {
        assert_eq!(whole[field], sliced[field], "{field}");
    }
    let counts = |report: &serde_json::Value| -> Vec<(String, u64, u64)> {
        let mut counts: Vec<_> = report["contracts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["contract_id"].as_str().unwrap().to_owned(),
                    c["rows_checked"].as_u64().unwrap(),
                    c["rows_failing"].as_u64().unwrap(),
                )
            })
            .collect();
        counts.sort();
        counts
    };
    assert_eq!(counts(&whole), counts(&sliced));
}
