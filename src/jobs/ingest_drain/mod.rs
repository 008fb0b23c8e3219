//! `ingest-drain`: inputs into the Bronze tables, exactly once, nothing dropped.
//!
//! Built so far: `--source file:PATH` (NDJSON telemetry and AppsFlyer Push messages, AppsFlyer
//! Pull reports, ad-spend and campaign CSVs, gzip too). Every message becomes a Bronze row or a
//! `bronze.quarantine` row with its reason; PII is hashed before anything is written; each
//! file commits with a transaction id of its content, so a replay adds nothing.
//! `--source kafka` drains the topics to their high watermarks at start (or `--follow`s them)
//! with each partition's offset stored as a Delta `txn` in the same commit as its rows.

pub mod files;
pub mod kafka;
pub mod records;

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::Args;

use crate::cli::ContractsArgs;
use crate::contracts::ContractSet;
use crate::exit_codes::UsageError;
use crate::lake::{AppTxn, PendingAppend};
use crate::privacy::PiiHasher;
use crate::run::{JobContext, JobReport};
use crate::tables::bronze;
use files::InputFile;
use records::{BronzeBatch, InputKind, Provenance, RecordParser};

#[derive(Debug, Clone, Args)]
pub struct IngestOptions {
    /// What to read: `kafka` (topics game-events, attribution, ad-spend), or `file:PATH` for a
    /// file or a folder of files to replay
    #[arg(long, value_name = "SOURCE", default_value = "kafka", value_parser = Source::parse)]
    pub source: Source,

    /// What the files hold, when their path does not say (telemetry/, attribution/push/,
    /// attribution/pull/, ad_spend/, campaigns.csv)
    #[arg(long, value_enum)]
    pub kind: Option<InputKind>,

    /// Read files in chunks of about this many MiB of text (decompressed, for .gz), each
    /// parsed and written before the next: a drain's memory is about 10 times this, whatever
    /// the size of the file. A file still commits once, whole. CSV files are read whole.
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_mb: u64,

    /// Kafka bootstrap servers
    #[arg(long, value_name = "HOST:PORT", env = crate::env::KAFKA_BROKERS, default_value = "127.0.0.1:9092")]
    pub brokers: String,

    /// Consumer group; drains in one group split the partitions between them
    #[arg(long, value_name = "GROUP", default_value = "ltv-ingest-drain")]
    pub group_id: String,

    /// Topics to read (game-events, attribution, ad-spend)
    #[arg(
        long,
        value_name = "TOPIC",
        value_delimiter = ',',
        default_value = "game-events,attribution,ad-spend"
    )]
    pub topics: Vec<String>,

    /// Keep consuming in micro-batches instead of stopping at the high watermarks seen at start
    #[arg(long)]
    pub follow: bool,

    /// Commit a batch once it holds this many rows
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub max_batch_rows: usize,

    /// Commit a batch at least this often
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub max_batch_seconds: u64,

    /// Hash PII with a well-known key when PII_HASH_KEY is not set: demos and tests only
    #[arg(long)]
    pub insecure_dev_key: bool,

    #[command(flatten)]
    pub contracts: ContractsArgs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Kafka,
    File(PathBuf),
}

impl Source {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            _ if text == "kafka" => Ok(Source::Kafka),
            Some(("file", path)) if !path.is_empty() => Ok(Source::File(PathBuf::from(path))),
            _ => Err(format!("`{text}`: use `kafka` or `file:PATH`")),
        }
    }
}

pub async fn run(context: JobContext, options: IngestOptions) -> anyhow::Result<JobReport> {
    crate::tune_allocator();
    let hasher = PiiHasher::from_env(options.insecure_dev_key)?;
    let contracts = ContractSet::load(&options.contracts.contracts)?;
    let parser = RecordParser::new(hasher, contracts);
    match &options.source {
        Source::Kafka => {
            let settings = kafka::KafkaSettings {
                brokers: options.brokers.clone(),
                group_id: options.group_id.clone(),
                topics: options.topics.clone(),
                follow: options.follow,
                max_batch_rows: options.max_batch_rows.max(1),
                max_batch_seconds: options.max_batch_seconds,
                assignment_timeout: std::time::Duration::from_secs(20),
            };
            if context.dry_run {
                return Err(UsageError::new(
                    "--dry-run is for file sources; a drain's progress lives in the lake",
                )
                .into());
            }
            let ingest_date = single_day(&context)?;
            let mut report = JobReport::default();
            kafka::drain(
                &context.lake,
                std::sync::Arc::new(parser),
                &settings,
                ingest_date,
                &mut report,
            )
            .await?;
            Ok(report)
        }
        Source::File(path) => {
            let chunk_bytes = usize::try_from(options.chunk_mb)
                .unwrap_or(usize::MAX)
                .saturating_mul(1 << 20);
            ingest_files(&context, &parser, path, options.kind, chunk_bytes).await
        }
    }
}

/// The ingest day a run was given (`--date`), if any.
fn single_day(context: &JobContext) -> Result<Option<chrono::NaiveDate>, UsageError> {
    match context.range {
        Some(range) if range.len_days() == 1 => Ok(Some(range.first())),
        Some(range) => Err(UsageError::new(format!(
            "ingestion writes one ingest day; give --date, not the range {range}"
        ))),
        None => Ok(None),
    }
}

async fn ingest_files(
    context: &JobContext,
    parser: &RecordParser,
    path: &std::path::Path,
    kind: Option<InputKind>,
    chunk_bytes: usize,
) -> anyhow::Result<JobReport> {
    let now = Utc::now();
    // A replay belongs to the data interval it is run for; a live load to the day it arrives.
    let ingest_date = single_day(context)?.unwrap_or_else(|| now.date_naive());
    let inputs = files::list(path, kind)?;
    let mut report = JobReport::default();
    let mut skipped_files = 0u64;
    let bar = crate::telemetry::progress_bar(inputs.len() as u64, "loading files");
    // Each file is digested and its first chunk read while the one before it is parsed and
    // written. Whether the lake has it is asked once that one is in: a folder may hold copies.
    let prepare = |input: &InputFile| {
        let input = input.clone();
        tokio::task::spawn_blocking(move || prepare_file(&input, chunk_bytes))
    };
    let mut next = inputs.first().map(prepare);
    for (index, input) in inputs.iter().enumerate() {
        let prepared = next.take().expect("one preparation per input");
        next = inputs.get(index + 1).map(prepare);
        let (txn, ahead) = prepared.await.context("reading a file")??;
        // The data table commits last, so its transaction id means the whole file is in.
        if !context.dry_run
            && context
                .lake
                .app_txn_version(&input.kind.table().name, &txn.app_id)
                .await?
                >= Some(txn.version)
        {
            skipped_files += 1;
            tracing::info!(file = %input.path.display(), "already loaded; skipped");
            bar.inc(1);
            continue;
        }
        let provenance = Provenance {
            source: format!("file:{}", input.path.display()).into(),
            partition: None,
            offset: 0,
            ingest_ts_us: now.timestamp_micros(),
            ingest_date,
        };
        load_file(
            context,
            parser,
            input,
            &txn,
            ahead,
            &provenance,
            &mut report,
        )
        .await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    report.detail("files", inputs.len());
    report.detail("files_already_loaded", skipped_files);
    report.detail("ingest_date", ingest_date);
    Ok(report)
}

/// Parses and writes `input` a chunk at a time (`ahead` reading the next while one is parsed),
/// then commits each of its tables once, with `txn`: memory follows the chunk, not the file.
async fn load_file(
    context: &JobContext,
    parser: &RecordParser,
    input: &InputFile,
    txn: &AppTxn,
    mut ahead: ChunkRead,
    provenance: &Provenance,
    report: &mut JobReport,
) -> anyhow::Result<()> {
    let mut appends: Vec<PendingAppend<'static>> = Vec::new();
    let mut quarantined = 0u64;
    loop {
        let (chunks, chunk) = ahead.await.context("reading a file")??;
        let Some(chunk) = chunk else { break };
        ahead = read_ahead(chunks);
        let mut batch = BronzeBatch::default();
        report.rows_in += files::parse(parser, input, &chunk, provenance, &mut batch);
        // The rows hold their own copy of the text: the chunk's bytes are not held while its
        // Arrow columns are built and written.
        drop(chunk);
        quarantined += batch.quarantine.len() as u64;
        if context.dry_run {
            report.rows_out += batch.rows() as u64;
            report.rows_quarantined += batch.quarantine.len() as u64;
            continue;
        }
        for (spec, batches) in batch.into_tables()? {
            let position = appends
                .iter()
                .position(|append| append.spec().name == spec.name);
            let append = match position {
                Some(position) => &mut appends[position],
                None => {
                    appends.push(context.lake.begin_append(spec).await?);
                    appends.last_mut().expect("just pushed")
                }
            };
            append.write(batches).await?;
        }
    }
    if quarantined > 0 {
        tracing::warn!(file = %input.path.display(), quarantined, kind = input.kind.as_str(), "rows quarantined");
    }
    // Quarantine first, the data table last: its transaction id then means the whole file is
    // in.
    appends.sort_by_key(|append| append.spec().name != bronze::QUARANTINE.name);
    for append in appends {
        let is_quarantine = append.spec().name == bronze::QUARANTINE.name;
        let outcome = context
            .lake
            .commit_once(append, std::slice::from_ref(txn))
            .await?;
        if is_quarantine {
            report.rows_quarantined += outcome.rows_written;
            report.record_table(&outcome.table, outcome.version);
        } else {
            report.record_write(&outcome);
        }
    }
    Ok(())
}

/// A chunk being read, and the reader to go on with.
type ChunkRead = tokio::task::JoinHandle<anyhow::Result<(files::Chunks, Option<files::Chunk>)>>;

fn read_ahead(mut chunks: files::Chunks) -> ChunkRead {
    tokio::task::spawn_blocking(move || {
        let chunk = chunks.next_chunk()?;
        Ok((chunks, chunk))
    })
}

/// `input`'s transaction id (from a digest of its content), and its first chunk being read.
fn prepare_file(input: &InputFile, chunk_bytes: usize) -> anyhow::Result<(AppTxn, ChunkRead)> {
    let (digest, chunks) = files::open(input, chunk_bytes)?;
    let txn = AppTxn {
        app_id: format!("ingest-drain:file:{digest}"),
        version: 1,
    };
    Ok((txn, read_ahead(chunks)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(Source::parse("kafka"), Ok(Source::Kafka));
        assert_eq!(
            Source::parse("file:fixtures/studio"),
            Ok(Source::File("fixtures/studio".into()))
        );
        assert!(Source::parse("file:").is_err());
        assert!(Source::parse("s3://bucket").is_err());
    }
}
