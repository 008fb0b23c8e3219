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
