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
    run_stage_with(binary, args, &[])
}

/// [`run_stage`] with extra environment variables (`DATABASE_URL`, ...).
pub fn run_stage_with(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
    let output = Command::new(binary)
        .args(args)
        .envs(env.iter().copied())
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

/// Generates a studio of `installs_per_day` from 2026-01-01 through `last_day` into `out`.
pub fn gen_studio(out: &Path, last_day: &str, installs_per_day: &str, seed: &str) -> Value {
    run_stage(
        env!("CARGO_BIN_EXE_gen-fixtures"),
        &[
            "--from",
            "2026-01-01",
            "--to",
            last_day,
            "--installs-per-day",
            installs_per_day,
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ],
    )
}

/// The shipped `config/optimizer.yaml` with `replacements` applied, written into `folder`.
pub fn optimizer_config(folder: &Path, replacements: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/optimizer.yaml"
    ))
    .unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "the optimizer config has no `{from}`");
        text = text.replace(from, to);
    }
    let path = folder.join("optimizer.yaml");
    std::fs::write(&path, text).unwrap();
    path
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

/// A PostgreSQL database of its own for one test, on the machine's server; dropped at the end.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

/// The server's maintenance database, where test databases are created and dropped.
fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

impl TestDatabase {
    pub async fn create(purpose: &str) -> Self {
        use sqlx::Connection;
        let name = format!(
            "ltv_test_{purpose}_{}",
            uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap()
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url())
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (see README: tests use the machine's server)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = admin_url();
        let server = base
            .rsplit_once('/')
            .map_or(base.as_str(), |(server, _)| server);
        TestDatabase {
            url: format!("{server}/{name}"),
            name,
        }
    }

    pub async fn connect(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a thread of its own may block on another.
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            });
        })
        .join();
    }
}

/// The committed fixture studio.
pub fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/studio")
}

/// Runs silver-to-gold on `lake` with `args`.
pub fn silver_to_gold(lake: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--lake", lake.to_str().unwrap()];
    all.extend_from_slice(args);
    run_stage(env!("CARGO_BIN_EXE_silver-to-gold"), &all)
}

/// A lake holding the fixture studio through Silver.
pub fn silver_lake() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    ingest_files(folder.path(), &fixtures(), "2026-01-08");
    bronze_to_silver(folder.path(), "2026-01-08", &[]);
    folder
}
