//! The command-line contract every binary keeps: help an operator can follow, exit codes
//! Airflow can act on, and one JSON summary line per run.

use std::process::{Command, Output};

/// Every binary, with the arguments that reach its date-range work (a subcommand, a source).
const BINARIES: [(&str, &[&str]); 11] = [
    (env!("CARGO_BIN_EXE_optimize-campaigns"), &[]),
    (env!("CARGO_BIN_EXE_score-ltv"), &[]),
    (env!("CARGO_BIN_EXE_train-ltv"), &[]),
    (env!("CARGO_BIN_EXE_gen-fixtures"), &[]),
    (env!("CARGO_BIN_EXE_check-contracts"), &["validate"]),
    (env!("CARGO_BIN_EXE_ingest-drain"), &["--insecure-dev-key"]),
    (env!("CARGO_BIN_EXE_bronze-to-silver"), &[]),
    (env!("CARGO_BIN_EXE_silver-to-gold"), &[]),
    (env!("CARGO_BIN_EXE_load-mart"), &[]),
    (env!("CARGO_BIN_EXE_maintain-lake"), &[]),
    (
        env!("CARGO_BIN_EXE_forget-player"),
        &["--player-hash", "00"],
    ),
];

fn run(binary: (&str, &[&str]), args: &[&str]) -> Output {
    Command::new(binary.0)
        .args(binary.1)
        .args(args)
        .env_remove("LAKE_URI")
        .env_remove("RUN_ID")
        .env("LOG_FORMAT", "json")
        .output()
        .expect("the binary starts")
}

/// The entry of `BINARIES` for the binary called `wanted`.
fn binary(wanted: &str) -> (&'static str, &'static [&'static str]) {
    BINARIES
        .into_iter()
        .find(|b| name(*b) == wanted)
        .unwrap_or_else(|| panic!("no binary {wanted}"))
}

fn name<'a>(binary: (&'a str, &[&str])) -> &'a str {
    binary.0.rsplit('/').next().unwrap_or(binary.0)
}

#[test]
fn every_binary_explains_itself() {
    for binary in BINARIES {
        let output = run((binary.0, &[]), &["--help"]);
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{} --help failed", name(binary));
        for expected in ["--lake", "--from", "--to", "--date", "Exit codes"] {
            assert!(
                help.contains(expected),
                "{} --help lacks {expected}:\n{help}",
                name(binary)
            );
        }
        assert!(help.contains(&format!("Usage: {}", name(binary))), "{help}");
    }
}

#[test]
fn a_reversed_range_exits_2_with_the_fix() {
    for binary in BINARIES {
        let output = run(binary, &["--from", "2026-01-07", "--to", "2026-01-01"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}: {stderr}", name(binary));
        assert!(
            stderr.contains("--from 2026-01-07 is after --to 2026-01-01"),
            "{stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "no summary for a rejected command line"
        );
    }
}

#[test]
fn unknown_flags_and_bad_dates_exit_2() {
    for binary in BINARIES {
        assert_eq!(run(binary, &["--no-such-flag"]).status.code(), Some(2));
        let output = run(binary, &["--date", "2026-02-30"]);
        assert_eq!(output.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&output.stderr).contains("YYYY-MM-DD"));
    }
}

#[test]
fn metrics_file_records_the_run() {
    let folder = tempfile::tempdir().unwrap();
    let metrics = folder.path().join("gen.prom");
    let out = folder.path().join("studio");
    let output = run(
        binary("gen-fixtures"),
        &[
            "--date",
            "2026-01-01",
            "--installs-per-day",
            "20",
            "--out",
            out.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let text = std::fs::read_to_string(&metrics).unwrap();
    let rows_out = summary["rows_out"].as_u64().unwrap();
    assert!(rows_out > 0);
    assert!(
        text.contains(&format!(
            "ltv_job_rows_out_total{{job_name=\"gen-fixtures\"}} {rows_out}"
        )),
        "{text}"
    );
    assert!(text.contains("ltv_job_last_success_timestamp_seconds{job_name=\"gen-fixtures\"}"));
}

#[test]
fn a_stage_on_a_lake_without_its_input_says_which_table_is_missing() {
    let lake = tempfile::tempdir().unwrap();
    for (binary, table) in [
        (binary("check-contracts"), "bronze.game_events"),
        (binary("bronze-to-silver"), "bronze.game_events"),
        (binary("silver-to-gold"), "silver.player_events"),
    ] {
        let output = run(
            binary,
            &[
                "--date",
                "2026-01-01",
                "--lake",
                lake.path().to_str().unwrap(),
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{table} does not exist")),
            "{stderr}"
        );
    }
}

#[test]
fn train_ltv_refuses_a_negative_leaf_weight_before_reading_the_lake() {
    let lake = tempfile::tempdir().unwrap();
    let output = run(
        binary("train-ltv"),
        &[
            "--lake",
            lake.path().to_str().unwrap(),
            "--min-child-weight=-1",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--min-child-weight must be"), "{stderr}");
}

#[test]
fn ingest_drain_refuses_an_empty_chunk_before_reading_anything() {
    let lake = tempfile::tempdir().unwrap();
    let output = run(
        binary("ingest-drain"),
        &[
            "--lake",
            lake.path().to_str().unwrap(),
            "--source=file:fixtures/studio",
            "--chunk-mb=0",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--chunk-mb"), "{stderr}");
    assert!(!lake.path().join("bronze").exists());
}
