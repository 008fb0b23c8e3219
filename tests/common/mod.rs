//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::Command;

use ltv_lakehouse::lake::{Committer, Lake, LakeUri};
use polars::prelude::DataFrame;
use serde_json::Value;

/// The text of a gzip file.
pub fn gunzip_text(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// The non-null values of a string column.
pub fn strings(frame: &DataFrame, column: &str) -> Vec<String> {
    frame
        .column(column)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect()
}

/// A lake on a local folder, as a test reads it.
pub fn lake(path: &Path) -> Lake {
    Lake::new(
        LakeUri::parse(path.to_str().unwrap()).unwrap(),
        Committer::default(),
    )
}

/// The PII key integration tests hash with.
pub const PII_KEY: &str = "test-key-0123456789abcdef0123456789abcdef";

/// The repository's contracts folder.
pub const CONTRACTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contracts");

/// Runs a stage binary to success and returns its run summary (the JSON line on stdout).
pub fn run_stage(binary: &str, args: &[&str]) -> Value {
    let output = Command::new(binary)
        .args(args)
        .env("PII_HASH_KEY", PII_KEY)
        .env("LOG_FORMAT", "json")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{binary} {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Replays files (a file or a folder) into the Bronze tables of `lake` on `ingest_date`.
pub fn ingest_files(lake: &Path, source: &Path, ingest_date: &str) -> Value {
    run_stage(
        env!("CARGO_BIN_EXE_ingest-drain"),
        &[
            &format!("--source=file:{}", source.display()),
            "--date",
            ingest_date,
            "--lake",
            lake.to_str().unwrap(),
            "--contracts",
            CONTRACTS,
        ],
    )
}

/// Runs bronze-to-silver over `ingest_date` with extra flags.
pub fn bronze_to_silver(lake: &Path, ingest_date: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--date", ingest_date, "--lake", lake.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_stage(env!("CARGO_BIN_EXE_bronze-to-silver"), &args)
}

/// A table's rows ordered by its key, for comparing runs.
pub async fn sorted(lake_path: &Path, spec: &ltv_lakehouse::lake::TableSpec) -> DataFrame {
    use polars::prelude::{IntoLazy, PlSmallStr, SortMultipleOptions};
    let frame = lake(lake_path).read(spec, None).await.unwrap();
    let key: Vec<PlSmallStr> = spec.key.iter().map(|k| PlSmallStr::from(*k)).collect();
    frame
        .lazy()
        .sort(key, SortMultipleOptions::default())
        .collect()
        .unwrap()
}
