//! `--source kafka`: drain the topics to the high watermarks seen at start (or follow them),
//! committing each batch with every partition's last offset as a Delta transaction id.
//!
//! The lake, not the consumer group, is the source of truth for progress: on start, and again
//! before each commit, a partition resumes from the offset its data table records. Several
//! drains in one consumer group split the partitions; a partition that moves to another drain
//! mid-batch is dropped from this one's batch, and a commit that another drain overtook is
//! refused by the lake and replayed from its progress.
//!
//! A batch is parsed and committed while the next one is read: one batch at a time is in the
//! lake's hands, so each commit's offsets follow on from the last one's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::JoinHandle;

use super::records::{BronzeBatch, InputKind, Provenance, RawMessage, RecordParser};
use crate::lake::{Lake, StreamAppend, StreamProgress, TableName, TableSpec, WriteOutcome};
use crate::run::JobReport;

/// The topics and what they carry.
pub const TOPICS: [(&str, InputKind); 3] = [
    ("game-events", InputKind::Telemetry),
    ("attribution", InputKind::AppsflyerPush),
    ("ad-spend", InputKind::AdSpend),
];

#[derive(Debug, Clone)]
pub struct KafkaSettings {
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
    pub follow: bool,
    pub max_batch_rows: usize,
    pub max_batch_seconds: u64,
    /// How long to wait for the group to assign partitions before concluding there are none.
    pub assignment_timeout: Duration,
}

type PartitionKey = (String, i32);

/// Brokers with large SQLite-backed partitions (tansu) can take many seconds to list offsets.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(120);

/// A partition this drain owns: where it is and where it stops.
#[derive(Debug)]
struct PartitionState {
    kind: InputKind,
    /// `kafka:TOPIC`, the provenance of its rows.
    source: Arc<str>,
    /// The next offset to read.
    next: i64,
    /// Drain mode stops before this offset (the high watermark at start).
    end: Option<i64>,
    /// Messages read since the last commit, parsed when they are committed (on every core),
    /// and the offsets they span.
    pending: Vec<RawMessage<Vec<u8>>>,
    first_pending: Option<i64>,
    last_pending: Option<i64>,
}

impl PartitionState {
    fn done(&self) -> bool {
        self.end.is_some_and(|end| self.next >= end)
    }
}

fn app_id(topic: &str, partition: i32) -> String {
    format!("ingest-drain:kafka:{topic}:{partition}")
}

/// What a topic carries, from its name: `game-events`, or a variant like `game-events.staging`.
fn kind_of_topic(topic: &str) -> Option<InputKind> {
    let base = topic.split('.').next().unwrap_or(topic);
    TOPICS
        .iter()
        .find(|(name, _)| *name == base)
        .map(|(_, kind)| *kind)
}

pub async fn drain(
    lake: &Lake,
    parser: Arc<RecordParser>,
    settings: &KafkaSettings,
    ingest_date_override: Option<chrono::NaiveDate>,
    report: &mut JobReport,
) -> anyhow::Result<()> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &settings.brokers)
        .set("group.id", &settings.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("fetch.message.max.bytes", "2097152")
        // tansu 0.6 sleeps after reading a fetch's records, for up to half of this wait, even
        // when it has data to answer with: at librdkafka's 500 ms every fetch took 250 ms, and
        // a 2M-event drain waited 13.5 s for messages (24.7 s -> 16 s at 25 ms). A real
        // broker answers as soon as it has data; this only makes its idle polls more frequent.
        .set("fetch.wait.max.ms", "25")
        .create()
        .with_context(|| format!("connecting to Kafka at {}", settings.brokers))?;
    let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
    for topic in &topics {
        if kind_of_topic(topic).is_none() {
            anyhow::bail!(crate::exit_codes::UsageError::new(format!(
                "unknown topic `{topic}`; topics are game-events, attribution and ad-spend (or NAME.suffix)"
            )));
        }
    }
    consumer.subscribe(&topics).context("subscribing")?;

    let mut partitions: BTreeMap<PartitionKey, PartitionState> = BTreeMap::new();
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut last_assignment_check = Instant::now() - Duration::from_secs(10);
    let mut ever_assigned = false;
    let mut committing: Option<Committing> = None;
    let stop = stop_signal();
    loop {
        if last_assignment_check.elapsed() >= Duration::from_millis(500) {
            last_assignment_check = Instant::now();
            let assignment = consumer.assignment().context("reading the assignment")?;
            ever_assigned |= assignment.count() > 0;
            sync_assignment(&consumer, lake, settings, &assignment, &mut partitions).await?;
        }
        if committing.as_ref().is_some_and(JoinHandle::is_finished) {
            settle(&mut committing, &consumer, &mut partitions, report).await?;
        }
        let all_done = !partitions.is_empty() && partitions.values().all(PartitionState::done);
        let pending_rows: usize = partitions.values().map(|p| p.pending.len()).sum();
        let batch_due = pending_rows >= settings.max_batch_rows
            || (pending_rows > 0
                && last_flush.elapsed() >= Duration::from_secs(settings.max_batch_seconds));
        let stopping = stop.load(Ordering::Relaxed);
        if batch_due || (all_done && pending_rows > 0) || (stopping && pending_rows > 0) {
            settle(&mut committing, &consumer, &mut partitions, report).await?;
            let batch = take_pending(&mut partitions);
            committing = Some(tokio::spawn(commit(lake.clone(), parser.clone(), batch)));
            last_flush = Instant::now();
        }
        if stopping {
            settle(&mut committing, &consumer, &mut partitions, report).await?;
            tracing::info!("stop requested; pending rows committed");
            break;
        }
        if !settings.follow {
            if all_done && partitions.values().all(|p| p.first_pending.is_none()) {
                // An overtaken last batch hands its partitions back to be resumed from the lake.
                if settle(&mut committing, &consumer, &mut partitions, report).await? {
                    continue;
                }
                break;
            }
            if !ever_assigned && started.elapsed() > settings.assignment_timeout {
                tracing::info!("no partitions assigned to this drain; nothing to do");
                break;
            }
        }

        match tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await {
            Err(_elapsed) => continue,
            Ok(Err(KafkaError::PartitionEOF(_))) => continue,
            Ok(Err(err)) => return Err(err).context("reading from Kafka"),
            Ok(Ok(message)) => {
                let key = (message.topic().to_string(), message.partition());
                let Some(state) = partitions.get_mut(&key) else {
                    continue;
                };
                let offset = message.offset();
                // Before a seek takes effect, or past the drain's end: not ours to load.
                if offset < state.next || state.end.is_some_and(|end| offset >= end) {
                    continue;
                }
                let now = chrono::Utc::now();
                let provenance = Provenance {
                    source: state.source.clone(),
                    partition: Some(key.1),
                    offset,
                    ingest_ts_us: now.timestamp_micros(),
                    ingest_date: ingest_date_override.unwrap_or_else(|| now.date_naive()),
                };
                state.pending.push(RawMessage {
                    bytes: message.payload().unwrap_or_default().to_vec(),
                    provenance,
                });
                report.rows_in += 1;
                state.first_pending.get_or_insert(offset);
                state.last_pending = Some(offset);
                state.next = offset + 1;
            }
        }
    }
    Ok(())
}

/// Set on SIGTERM or Ctrl-C, so that a following drain commits what it holds and exits 0
/// (a hard kill is safe too: uncommitted rows are simply read again).
fn stop_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

/// Brings the owned partitions in line with the group's assignment: new ones resume from the
/// lake's progress, revoked ones are dropped with their uncommitted rows.
async fn sync_assignment(
    consumer: &StreamConsumer,
    lake: &Lake,
    settings: &KafkaSettings,
    assignment: &TopicPartitionList,
    partitions: &mut BTreeMap<PartitionKey, PartitionState>,
) -> anyhow::Result<()> {
    let assigned: Vec<PartitionKey> = assignment
        .elements()
        .iter()
        .map(|element| (element.topic().to_string(), element.partition()))
        .collect();
    partitions.retain(|key, state| {
        let keep = assigned.contains(key);
        if !keep && state.first_pending.is_some() {
            tracing::info!(
                topic = key.0,
                partition = key.1,
                "partition revoked; its uncommitted rows go to the new owner"
            );
        }
        keep
    });
    for key in assigned {
        if partitions.contains_key(&key) {
            continue;
        }
        let Some(kind) = kind_of_topic(&key.0) else {
            continue;
        };
        let state = resume(consumer, lake, settings, &key, kind).await?;
        partitions.insert(key, state);
    }
    Ok(())
}

/// Where a partition resumes (the lake's progress) and, when draining, where it stops.
async fn resume(
    consumer: &StreamConsumer,
    lake: &Lake,
    settings: &KafkaSettings,
    key: &PartitionKey,
    kind: InputKind,
) -> anyhow::Result<PartitionState> {
    let (topic, partition) = (key.0.as_str(), key.1);
    let committed = lake
        .app_txn_version(&kind.table().name, &app_id(topic, partition))
        .await?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, WATERMARK_TIMEOUT)
        .with_context(|| format!("reading the watermarks of {topic}/{partition}"))?;
    let mut next = committed.map_or(low, |offset| offset + 1);
    if next < low {
        tracing::warn!(
            topic,
            partition,
            next,
            low,
            "the broker no longer has offsets the lake has not seen; resuming at the oldest"
        );
        next = low;
    }
    seek(consumer, topic, partition, next).await?;
    tracing::info!(topic, partition, next, high, "partition assigned");
    Ok(PartitionState {
        kind,
        source: format!("kafka:{topic}").into(),
        next,
        end: (!settings.follow).then_some(high),
        pending: Vec::new(),
        first_pending: None,
        last_pending: None,
    })
}

/// Seeks right after an assignment; librdkafka refuses until the partition's fetcher runs.
async fn seek(
    consumer: &StreamConsumer,
    topic: &str,
    partition: i32,
    offset: i64,
) -> anyhow::Result<()> {
    let mut attempts = 0;
    loop {
        match consumer.seek(
            topic,
            partition,
            Offset::Offset(offset),
            Duration::from_secs(5),
        ) {
            Ok(()) => return Ok(()),
            Err(err) if attempts < 50 => {
                attempts += 1;
                tracing::debug!(topic, partition, error = %err, "seek not possible yet");
                let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("seeking {topic}/{partition} to {offset}"));
            }
        }
    }
}

/// A batch being parsed and committed while the drain reads on.
type Committing = JoinHandle<anyhow::Result<Committed>>;

/// One partition's share of a batch: its messages and the offsets they span.
struct PartitionBatch {
    key: PartitionKey,
    kind: InputKind,
    messages: Vec<RawMessage<Vec<u8>>>,
    progress: StreamProgress,
}

/// What a batch's commit did, for the run summary, the consumer group and the partitions.
#[derive(Default)]
struct Committed {
    quarantine: Option<WriteOutcome>,
    quarantined: u64,
    writes: Vec<WriteOutcome>,
    /// Each partition whose rows are in, and the offset it goes on from.
    next_offsets: Vec<(PartitionKey, i64)>,
    /// Partitions another drain committed first: they are resumed from the lake.
    overtaken: Vec<PartitionKey>,
}

/// Takes every partition's pending messages out for a commit.
fn take_pending(partitions: &mut BTreeMap<PartitionKey, PartitionState>) -> Vec<PartitionBatch> {
    partitions
        .iter_mut()
        .filter_map(|(key, state)| {
            let (Some(first), Some(last)) = (state.first_pending.take(), state.last_pending.take())
            else {
                return None;
            };
            Some(PartitionBatch {
                key: key.clone(),
                kind: state.kind,
                messages: std::mem::take(&mut state.pending),
                progress: StreamProgress {
                    app_id: app_id(&key.0, key.1),
                    first,
                    last,
                },
            })
        })
        .collect()
}

/// Commits a batch: quarantine first (MERGE on the message's place, so a replay cannot
/// duplicate it), then each data table with its partitions' offsets as transaction ids.
async fn commit(
    lake: Lake,
    parser: Arc<RecordParser>,
    batch: Vec<PartitionBatch>,
) -> anyhow::Result<Committed> {
    // Parsing runs on every core; off the async workers, which encode the Parquet files.
    let (quarantine, by_table) = tokio::task::spawn_blocking(move || parse(&parser, batch))
        .await
        .context("parsing a batch")?;
    let mut committed = Committed {
        quarantined: quarantine.quarantine.len() as u64,
        ..Committed::default()
    };
    if committed.quarantined > 0 {
        for (spec, batches) in quarantine.into_tables()? {
            committed.quarantine = Some(lake.merge(spec, batches).await?);
        }
    }
    for (spec, (batch, partitions)) in by_table.into_values() {
        // No rows (all quarantined) still commits, so the table records how far the partitions got.
        let batches = batch
            .into_tables()?
            .into_iter()
            .next()
            .map(|(_, batches)| batches)
            .unwrap_or_default();
        let sources: Vec<StreamProgress> = partitions
            .iter()
            .map(|(_, source)| source.clone())
            .collect();
        match lake.append_stream(spec, batches, &sources).await? {
            StreamAppend::Committed(outcome) => {
                committed.writes.push(outcome);
                committed.next_offsets.extend(
                    partitions
                        .into_iter()
                        .map(|(key, source)| (key, source.last + 1)),
                );
            }
            StreamAppend::Overtaken {
                app_id,
                committed: at,
            } => {
                tracing::warn!(app_id, committed = at, table = %spec.name, "another drain committed these offsets first; resuming from the lake");
                committed
                    .overtaken
                    .extend(partitions.into_iter().map(|(key, _)| key));
            }
        }
    }
    Ok(committed)
}

/// Per data table: its rows and, per partition, how far they reach.
type TableBatches = HashMap<TableName, (&'static TableSpec, TableBatch)>;
type TableBatch = (BronzeBatch, Vec<(PartitionKey, StreamProgress)>);

/// A batch's messages as Bronze rows: the quarantined ones, and the rest by data table.
fn parse(parser: &RecordParser, batch: Vec<PartitionBatch>) -> (BronzeBatch, TableBatches) {
    let mut quarantine = BronzeBatch::default();
    let mut by_table = TableBatches::new();
    for partition in batch {
        let mut parsed = BronzeBatch::default();
        parser.push_messages(partition.kind, &partition.messages, &mut parsed);
        quarantine.quarantine.append(&mut parsed.quarantine);
        let spec = partition.kind.table();
        let (_, (rows, progress)) = by_table
            .entry(spec.name)
            .or_insert_with(|| (spec, Default::default()));
        rows.absorb(parsed);
        progress.push((partition.key, partition.progress));
    }
    (quarantine, by_table)
}

/// Waits for the batch being committed, if any, and takes in what it did: the summary's
/// counts, the offsets for the consumer group, and overtaken partitions dropped (with anything
/// read since) so that they resume from the lake. Whether there was a batch to wait for.
async fn settle(
    committing: &mut Option<Committing>,
    consumer: &StreamConsumer,
    partitions: &mut BTreeMap<PartitionKey, PartitionState>,
    report: &mut JobReport,
) -> anyhow::Result<bool> {
    let Some(batch) = committing.take() else {
        return Ok(false);
    };
    let committed = batch.await.context("committing a batch")??;
    if let Some(quarantine) = &committed.quarantine {
        report.record_table(&quarantine.table, quarantine.version);
        report.rows_quarantined += committed.quarantined;
    }
    for outcome in &committed.writes {
        report.record_write(outcome);
    }
    for key in &committed.overtaken {
        partitions.remove(key);
    }
    let mut offsets = TopicPartitionList::new();
    for ((topic, partition), next) in &committed.next_offsets {
        offsets.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
    }
    // A convenience for lag monitoring; the lake stays the source of truth.
    if offsets.count() > 0
        && let Err(err) = consumer.commit(&offsets, CommitMode::Async)
    {
        tracing::debug!(error = %err, "committing offsets to the consumer group failed");
    }
    Ok(true)
}
