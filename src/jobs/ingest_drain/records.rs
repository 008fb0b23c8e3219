//! One input message or file record → one Bronze row, or a quarantine row saying why not.
//!
//! Ingestion checks only what Bronze needs to file a row (the envelope: ids, name, time, game);
//! every other rule of the contracts is enforced by `bronze-to-silver`, which keeps rejects.

use std::ops::Range;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use deltalake::arrow::array::{
    ArrayRef, BinaryArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, StringBuilder, TimestampMicrosecondArray,
};
use deltalake::arrow::error::ArrowError;
use polars::prelude::PlHashMap;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::contracts::{ContractSet, Json, JsonObject};
use crate::date_range::days_since_epoch;
use crate::lake::{LakeError, TableSpec, rows_to_batch};
use crate::privacy::{HashMemo, PiiHasher};
use crate::tables::bronze;
use crate::wire::{AdSpendRow, AppsFlyerInstallRow, AppsFlyerPushInstall, CampaignRow};

/// Messages above this size are quarantined unread.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// How much of an oversized message the quarantine keeps, as evidence.
pub const QUARANTINE_SAMPLE_BYTES: usize = 64 << 10;

/// The formats `ingest-drain` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputKind {
    /// Telemetry events, one JSON object per message or line
    Telemetry,
    /// AppsFlyer Push API v2 install messages (JSON)
    AppsflyerPush,
    /// AppsFlyer Pull API v5 installs report (CSV)
    AppsflyerPull,
    /// Daily ad spend (CSV)
    AdSpend,
    /// Campaign list (CSV)
    Campaigns,
}

impl InputKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            InputKind::Telemetry => "telemetry",
            InputKind::AppsflyerPush => "appsflyer_push",
            InputKind::AppsflyerPull => "appsflyer_pull",
            InputKind::AdSpend => "ad_spend",
            InputKind::Campaigns => "campaigns",
        }
    }

    pub const fn table(self) -> &'static TableSpec {
        match self {
            InputKind::Telemetry => &bronze::GAME_EVENTS,
            InputKind::AppsflyerPush | InputKind::AppsflyerPull => &bronze::ATTRIBUTION,
            InputKind::AdSpend => &bronze::AD_SPEND,
            InputKind::Campaigns => &bronze::CAMPAIGNS,
        }
    }
}

/// Where a message came from and when it arrived.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// Shared by every message of a file or partition: a copy is a reference count.
    pub source: Arc<str>,
    pub partition: Option<i32>,
    pub offset: i64,
    pub ingest_ts_us: i64,
    pub ingest_date: NaiveDate,
}

impl Provenance {
    fn ingest_days(&self) -> i32 {
        days_since_epoch(self.ingest_date)
    }
}

/// Serialised into an Arrow batch by column name; the names are the Bronze table's.
#[derive(Debug, Clone, Serialize)]
struct ProvenanceColumns {
    raw_json: String,
    ingest_ts: i64,
    ingest_date: i32,
    source: Arc<str>,
    source_partition: Option<i32>,
    source_offset: i64,
}

/// Where a text sits in its batch's arena of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// The game events of a batch. Their text (ids, names, `raw_json`) is kept in a few large
/// buffers, one per parse task, that rows point into: a string per field made nine
/// allocations per event, and allocating and freeing them cost about a sixth of a drain.
#[derive(Debug, Default)]
pub struct GameEvents {
    arenas: Vec<String>,
    rows: Vec<GameEventRow>,
}

/// One event of [`GameEvents`]; its text is in the arena `arena` of its batch.
#[derive(Debug, Clone)]
pub struct GameEventRow {
    arena: usize,
    event_id: Span,
    player_id: Span,
    game_id: Span,
    event_type: Span,
    event_timestamp: i64,
    session_id: Option<Span>,
    session_duration: Option<f64>,
    iap_revenue: Option<f64>,
    ad_revenue: Option<f64>,
    level: Option<i32>,
    device_type: Option<Span>,
    country: Option<Span>,
    campaign_id: Option<Span>,
    raw_json: Span,
    provenance: Provenance,
}

impl GameEvents {
    /// Room for `rows` more rows, and for about `bytes` of text in the arena that they go to:
    /// a row is about 300 bytes, and a vector of them grown a doubling at a time copies them
    /// over and over into fresh pages.
    fn reserve(&mut self, rows: usize, bytes: usize) {
        self.rows.reserve(rows);
        self.arena().reserve(bytes);
    }

    /// The arena the next rows go to.
    fn arena(&mut self) -> &mut String {
        if self.arenas.is_empty() {
            self.arenas.push(String::new());
        }
        self.arenas.last_mut().expect("an arena was just made")
    }

    /// `text` copied into the arena.
    fn push_text(&mut self, text: &str) -> Span {
        self.push_with(|arena| arena.push_str(text))
    }

    /// What `write` appends to the arena.
    fn push_with(&mut self, write: impl FnOnce(&mut String)) -> Span {
        let arena = self.arena();
        let start = arena.len();
        write(arena);
        Span {
            start,
            end: arena.len(),
        }
    }

    /// Adds a row whose spans point into the current arena (this sets its `arena`).
    fn push(&mut self, row: GameEventRow) {
        let arena = self.arenas.len().saturating_sub(1);
        self.rows.push(GameEventRow { arena, ..row });
    }

    fn text(&self, row: &GameEventRow, span: Span) -> &str {
        &self.arenas[row.arena][span.start..span.end]
    }

    fn optional_text(&self, row: &GameEventRow, span: Option<Span>) -> Option<&str> {
        span.map(|span| self.text(row, span))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Moves the rows (and their arenas) of `other` after these.
    fn append(&mut self, other: GameEvents) {
        let first_arena = self.arenas.len();
        self.arenas.extend(other.arenas);
        self.rows
            .extend(other.rows.into_iter().map(|row| GameEventRow {
                arena: row.arena + first_arena,
                ..row
            }));
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AttributionRow {
    install_id: String,
    player_id: Option<String>,
    media_source: String,
    campaign_id: Option<String>,
    campaign_name: Option<String>,
    adset_id: Option<String>,
    adset_name: Option<String>,
    creative_id: Option<String>,
    platform: Option<String>,
    country_code: Option<String>,
    install_cost_usd: Option<f64>,
    cost_currency: Option<String>,
    install_timestamp: i64,
    install_date: i32,
    app_id: Option<String>,
    #[serde(flatten)]
    provenance: ProvenanceColumns,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdSpendBronzeRow {
    spend_date: i32,
    media_source: String,
    campaign_id: String,
    campaign_name: Option<String>,
    country_code: String,
    platform: String,
    spend_usd: f64,
    installs: i64,
    impressions: i64,
    clicks: i64,
    #[serde(flatten)]
    provenance: ProvenanceColumns,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignBronzeRow {
    #[serde(flatten)]
    campaign: CampaignRow,
    #[serde(flatten)]
    provenance: ProvenanceColumns,
}

#[derive(Debug, Clone)]
pub struct QuarantineRow {
    pub raw: Vec<u8>,
    pub kind: InputKind,
    pub error: String,
    pub provenance: Provenance,
}

/// The Bronze rows of one batch of input, by table.
#[derive(Debug, Default)]
pub struct BronzeBatch {
    pub game_events: GameEvents,
    pub attribution: Vec<AttributionRow>,
    pub ad_spend: Vec<AdSpendBronzeRow>,
    pub campaigns: Vec<CampaignBronzeRow>,
    pub quarantine: Vec<QuarantineRow>,
}

impl BronzeBatch {
    /// Moves every row of `other` into this batch.
    pub fn absorb(&mut self, mut other: BronzeBatch) {
        self.game_events
            .append(std::mem::take(&mut other.game_events));
        self.attribution.append(&mut other.attribution);
        self.ad_spend.append(&mut other.ad_spend);
        self.campaigns.append(&mut other.campaigns);
        self.quarantine.append(&mut other.quarantine);
    }

    pub fn rows(&self) -> usize {
        self.game_events.len() + self.attribution.len() + self.ad_spend.len() + self.campaigns.len()
    }

    /// Record batches per table, for the tables that have rows. Events are ordered by partition
    /// and then by player (a player's events keep their arrival order): bronze-to-silver and
    /// check-contracts read a busy day in slices of players, and a file, a row group or a page
    /// that holds only some players' rows is skipped by the slices of the others, instead of
    /// every slice decompressing all of the day.
    pub fn into_tables(self) -> Result<Vec<(&'static TableSpec, Vec<RecordBatch>)>, LakeError> {
        let schema_error = |table: &'static TableSpec| {
            move |err: ArrowError| LakeError::Schema {
                table: table.name,
                detail: err.to_string(),
            }
        };
        let mut tables = Vec::new();
        // Quarantine first: a data table's commit then implies the file's rejects are stored.
        if !self.quarantine.is_empty() {
            let batch =
                quarantine_batch(&self.quarantine).map_err(schema_error(&bronze::QUARANTINE))?;
            tables.push((&bronze::QUARANTINE, vec![batch]));
        }
        if !self.game_events.is_empty() {
            let batches = game_event_batches(&self.game_events)
                .map_err(schema_error(&bronze::GAME_EVENTS))?;
            tables.push((&bronze::GAME_EVENTS, batches));
        }
        push_rows(&mut tables, &bronze::ATTRIBUTION, &self.attribution)?;
        push_rows(&mut tables, &bronze::AD_SPEND, &self.ad_spend)?;
        push_rows(&mut tables, &bronze::CAMPAIGNS, &self.campaigns)?;
        Ok(tables)
    }
}

/// Rows per record batch of game events: a batch's strings stay far below the 2 GiB an Arrow
/// string array can address, however large the file.
const GAME_EVENTS_PER_BATCH: usize = 1 << 16;

/// The game events as Bronze record batches, built on every core (the busiest table: a
/// row-wise conversion through serde cost more than parsing the events). Each batch holds one
/// partition (ingest day and game), ordered by player: the Delta writer takes such a batch as
/// that partition, where a batch of several games was split by delta-rs, which copied every
/// column of it out again, part by part.
fn game_event_batches(events: &GameEvents) -> Result<Vec<RecordBatch>, ArrowError> {
    let (order, partitions) = in_partition_order(events);
    let chunks: Vec<&[usize]> = partitions
        .into_iter()
        .flat_map(|partition| order[partition].chunks(GAME_EVENTS_PER_BATCH))
        .collect();
    chunks
        .into_par_iter()
        .map(|chunk| game_event_batch(events, chunk))
        .collect()
}

/// The rows' indexes ordered by partition (ingest day, game), then by player, a player's rows in
/// their order; and the range of that order each partition takes. Each partition and player is
/// ranked once, so that sorting compares numbers, not a 64-character id per comparison (most
/// of them between two events of one player, equal to the last character).
fn in_partition_order(events: &GameEvents) -> (Vec<usize>, Vec<Range<usize>>) {
    let mut partitions = Ranks::default();
    let mut players = Ranks::default();
    let ids: Vec<(usize, usize)> = events
        .rows
        .iter()
        .map(|row| {
            let partition = (row.provenance.ingest_days(), events.text(row, row.game_id));
            let player = events.text(row, row.player_id);
            (partitions.id(partition), players.id(player))
        })
        .collect();
    let (partition_rank, player_rank) = (partitions.ranks(), players.ranks());
    // One number per row, partition above player: a day's players fit in 32 bits.
    let mut order: Vec<(u64, usize)> = ids
        .into_iter()
        .enumerate()
        .map(|(index, (partition, player))| {
            let key = ((partition_rank[partition] as u64) << 32) | player_rank[player] as u64;
            (key, index)
        })
        .collect();
    order.par_sort_unstable();
    let mut runs = Vec::with_capacity(partition_rank.len());
    let mut start = 0;
    for end in 1..=order.len() {
        if end == order.len() || order[end].0 >> 32 != order[start].0 >> 32 {
            runs.push(start..end);
            start = end;
        }
    }
    (order.into_iter().map(|(_, index)| index).collect(), runs)
}

/// Distinct keys, each given an id in the order first seen, and then its rank among them all.
/// Keyed with polars' fast hasher, not SipHash: every event looks up its 64-character player id
/// here. It is seeded per map like SipHash, and the ranks come from a sort, not hash order.
struct Ranks<K> {
    first_seen: PlHashMap<K, usize>,
}

impl<K> Default for Ranks<K> {
    fn default() -> Self {
        Ranks {
            first_seen: PlHashMap::default(),
        }
    }
}

impl<K: Ord + std::hash::Hash> Ranks<K> {
    fn id(&mut self, key: K) -> usize {
        let next = self.first_seen.len();
        *self.first_seen.entry(key).or_insert(next)
    }

    /// The rank of each id's key in the sorted keys, indexed by id.
    fn ranks(self) -> Vec<usize> {
        let mut keys: Vec<(K, usize)> = self.first_seen.into_iter().collect();
        keys.sort_unstable();
        let mut rank = vec![0; keys.len()];
        for (position, (_, id)) in keys.into_iter().enumerate() {
            rank[id] = position;
        }
        rank
    }
}

/// The rows at `order`, in that order, as one record batch of `bronze.game_events`: one pass
/// over the rows, each row's fields appended to their columns (a pass per column would fetch
/// every row from memory once per column).
fn game_event_batch(events: &GameEvents, order: &[usize]) -> Result<RecordBatch, ArrowError> {
    let rows = &events.rows;
    let count = order.len();
    let text = || StringBuilder::with_capacity(count, count * 16);
    let (mut event_id, mut player_id, mut game_id, mut event_type) =
        (text(), text(), text(), text());
    let (mut session_id, mut device_type, mut country, mut campaign_id) =
        (text(), text(), text(), text());
    // `raw_json` is most of a batch's bytes: sized once, a builder growing to tens of MB
    // would copy them over and over and fault in fresh pages for each copy.
    let raw_bytes = order
        .iter()
        .map(|&index| rows[index].raw_json.end - rows[index].raw_json.start)
        .sum();
    let mut raw_json = StringBuilder::with_capacity(count, raw_bytes);
    let mut source = text();
    let mut event_timestamp = Vec::with_capacity(count);
    let mut ingest_ts = Vec::with_capacity(count);
    let (mut session_duration, mut iap_revenue, mut ad_revenue) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    let (mut level, mut source_partition) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let (mut ingest_date, mut source_offset) =
        (Vec::with_capacity(count), Vec::with_capacity(count));
    for row in order.iter().map(|&index| &rows[index]) {
        let text = |span| events.text(row, span);
        let optional_text = |span| events.optional_text(row, span);
        event_id.append_value(text(row.event_id));
        player_id.append_value(text(row.player_id));
        game_id.append_value(text(row.game_id));
        event_type.append_value(text(row.event_type));
        event_timestamp.push(row.event_timestamp);
        session_id.append_option(optional_text(row.session_id));
        session_duration.push(row.session_duration);
        iap_revenue.push(row.iap_revenue);
        ad_revenue.push(row.ad_revenue);
        level.push(row.level);
        device_type.append_option(optional_text(row.device_type));
        country.append_option(optional_text(row.country));
        campaign_id.append_option(optional_text(row.campaign_id));
        raw_json.append_value(text(row.raw_json));
        let provenance = &row.provenance;
        ingest_ts.push(provenance.ingest_ts_us);
        ingest_date.push(provenance.ingest_days());
        source.append_value(&*provenance.source);
        source_partition.push(provenance.partition);
        source_offset.push(provenance.offset);
    }
    let timestamps = |values: Vec<i64>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
    };
    let numbers = |values: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(values)) };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(player_id.finish()),
        Arc::new(game_id.finish()),
        Arc::new(event_type.finish()),
        timestamps(event_timestamp),
        Arc::new(session_id.finish()),
        numbers(session_duration),
        numbers(iap_revenue),
        numbers(ad_revenue),
        Arc::new(Int32Array::from(level)),
        Arc::new(device_type.finish()),
        Arc::new(country.finish()),
        Arc::new(campaign_id.finish()),
        Arc::new(raw_json.finish()),
        timestamps(ingest_ts),
        Arc::new(Date32Array::from(ingest_date)),
        Arc::new(source.finish()),
        Arc::new(Int32Array::from(source_partition)),
        Arc::new(Int64Array::from(source_offset)),
    ];
    RecordBatch::try_new(bronze::GAME_EVENTS.arrow_schema(), columns)
}

fn push_rows<R: Serialize>(
    tables: &mut Vec<(&'static TableSpec, Vec<RecordBatch>)>,
    spec: &'static TableSpec,
    rows: &[R],
) -> Result<(), LakeError> {
    if !rows.is_empty() {
        tables.push((spec, vec![rows_to_batch(spec, rows)?]));
    }
    Ok(())
}

fn quarantine_batch(rows: &[QuarantineRow]) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(
            rows.iter().map(|r| r.raw.as_slice()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.kind.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.error.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| "ingest"))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.provenance.ingest_ts_us),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| r.provenance.ingest_days()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &*r.provenance.source),
        )),
        Arc::new(Int32Array::from_iter(
            rows.iter().map(|r| r.provenance.partition),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.provenance.offset),
        )),
    ];
    RecordBatch::try_new(bronze::QUARANTINE.arrow_schema(), columns)
}

/// A message (or file line) to parse, and where it came from: a file's line borrows the file
/// (`&[u8]`), a Kafka message waiting for its batch to commit owns its payload (`Vec<u8>`).
#[derive(Debug)]
pub struct RawMessage<B> {
    pub bytes: B,
    pub provenance: Provenance,
}

/// How many messages one parallel task parses: enough to amortise a task, few enough that
/// both cores stay busy to the end of a batch.
const MESSAGES_PER_TASK: usize = 4096;

/// Turns input into Bronze rows: parses, hashes PII, types the columns Bronze keeps.
pub struct RecordParser {
    hasher: PiiHasher,
    contracts: ContractSet,
}

/// The keys of a telemetry event that Bronze types, each at its first value (where the
/// contracts read a key written twice), found in one pass over the event's keys.
#[derive(Default)]
struct EventFields<'v, 'j> {
    event_id: Option<&'v Json<'j>>,
    eternal_player_id: Option<&'v Json<'j>>,
    event_name: Option<&'v Json<'j>>,
    event_timestamp: Option<&'v Json<'j>>,
    game_title: Option<&'v Json<'j>>,
    session_id: Option<&'v Json<'j>>,
    session_duration_seconds: Option<&'v Json<'j>>,
    revenue_usd: Option<&'v Json<'j>>,
    level_id: Option<&'v Json<'j>>,
    platform: Option<&'v Json<'j>>,
    country_code: Option<&'v Json<'j>>,
    attribution: Option<&'v Json<'j>>,
}

/// The part of a telemetry event Bronze cannot do without; the rest stays in `raw_json`.
struct Envelope<'v> {
    event_id: &'v str,
    player: &'v str,
    name: &'v str,
    timestamp_ms: i64,
    game: &'v str,
}

impl<'v, 'j> EventFields<'v, 'j> {
    fn read(object: &'v JsonObject<'j>) -> Self {
        let mut fields = EventFields::default();
        for (key, value) in object.iter() {
            let slot = match key {
                "event_id" => &mut fields.event_id,
                "eternal_player_id" => &mut fields.eternal_player_id,
                "event_name" => &mut fields.event_name,
                "event_timestamp" => &mut fields.event_timestamp,
                "game_title" => &mut fields.game_title,
                "session_id" => &mut fields.session_id,
                "session_duration_seconds" => &mut fields.session_duration_seconds,
                "revenue_usd" => &mut fields.revenue_usd,
                "level_id" => &mut fields.level_id,
                "platform" => &mut fields.platform,
                "country_code" => &mut fields.country_code,
                "attribution" => &mut fields.attribution,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        fields
    }

    fn envelope(&self) -> Result<Envelope<'v>, String> {
        let text = |value: Option<&'v Json<'j>>, name: &str| match value {
            Some(Json::Str(text)) => Ok(text.as_ref()),
            Some(other) => Err(format!(
                "invalid type: `{name}` is {}, expected a string",
                json_kind(other)
            )),
            None => Err(format!("missing field `{name}`")),
        };
        let event_id = text(self.event_id, "event_id")?;
        let player = text(self.eternal_player_id, "eternal_player_id")?;
        let name = text(self.event_name, "event_name")?;
        let timestamp_ms = match self.event_timestamp {
            Some(value @ Json::Number(number)) if !number.is_f64() => value
                .as_i64()
                .ok_or("invalid value: `event_timestamp` is out of range")?,
            Some(other) => {
                return Err(format!(
                    "invalid type: `event_timestamp` is {}, expected an integer",
                    json_kind(other)
                ));
            }
            None => return Err("missing field `event_timestamp`".into()),
        };
        Ok(Envelope {
            event_id,
            player,
            name,
            timestamp_ms,
            game: text(self.game_title, "game_title")?,
        })
    }
}

/// What a JSON value is, for an error message.
fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(number) if number.is_f64() => "a fractional number",
        Json::Number(_) => "an integer",
        Json::Str(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

impl RecordParser {
    pub fn new(hasher: PiiHasher, contracts: ContractSet) -> Self {
        RecordParser { hasher, contracts }
    }

    /// Adds the rows parsed from `messages` (or their quarantine rows) to `batch` in the
    /// messages' order, parsing on every core.
    pub fn push_messages<B: AsRef<[u8]> + Sync>(
        &self,
        kind: InputKind,
        messages: &[RawMessage<B>],
        batch: &mut BronzeBatch,
    ) {
        let parts: Vec<BronzeBatch> = messages
            .par_chunks(MESSAGES_PER_TASK)
            .map(|chunk| {
                let mut part = BronzeBatch::default();
                if kind == InputKind::Telemetry {
                    // The events' text as it arrived, a little more for the hashes spliced
                    // into it, and their typed columns' text (ids, names: under 256 bytes).
                    let bytes: usize = chunk.iter().map(|m| m.bytes.as_ref().len()).sum();
                    part.game_events
                        .reserve(chunk.len(), bytes + bytes / 8 + chunk.len() * 256);
                }
                let mut memo = HashMemo::new(&self.hasher);
                for message in chunk {
                    let provenance = message.provenance.clone();
                    let bytes = message.bytes.as_ref();
                    self.push_message(kind, bytes, provenance, &mut part, &mut memo);
                }
                part
            })
            .collect();
        let rows = parts.iter().map(|part| part.game_events.len()).sum();
        batch.game_events.rows.reserve(rows);
        for part in parts {
            batch.absorb(part);
        }
    }

    /// Adds the row parsed from one message (or file line) to `batch`, or its quarantine row.
    fn push_message(
        &self,
        kind: InputKind,
        raw: &[u8],
        provenance: Provenance,
        batch: &mut BronzeBatch,
        memo: &mut HashMemo,
    ) {
        if raw.len() > MAX_MESSAGE_BYTES {
            let error = format!(
                "message of {} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit",
                raw.len()
            );
            return quarantine(
                batch,
                kind,
                &raw[..QUARANTINE_SAMPLE_BYTES],
                error,
                provenance,
            );
        }
        let parsed = match kind {
            InputKind::Telemetry => self.telemetry(raw, &provenance, memo, &mut batch.game_events),
            InputKind::AppsflyerPush => self
                .appsflyer_push(raw, &provenance)
                .map(|row| batch.attribution.push(row)),
            // On a topic, ad-spend and campaign records are JSON objects with the CSV's columns.
            InputKind::AppsflyerPull | InputKind::AdSpend | InputKind::Campaigns => {
                match serde_json::from_slice::<Map<String, Value>>(raw) {
                    Ok(record) => {
                        return self.push_csv_record(kind, record, raw, provenance, batch);
                    }
                    Err(err) => Err(format!("not a JSON object: {err}")),
                }
            }
        };
        if let Err(error) = parsed {
            quarantine(batch, kind, raw, error, provenance);
        }
    }

    /// Adds the row parsed from one CSV record (as a header → value object) to `batch`.
    pub fn push_csv_record(
        &self,
        kind: InputKind,
        record: Map<String, Value>,
        raw: &[u8],
        provenance: Provenance,
        batch: &mut BronzeBatch,
    ) {
        let parsed = match kind {
            InputKind::AppsflyerPull => self
                .appsflyer_pull(record, &provenance)
                .map(|row| batch.attribution.push(row)),
            InputKind::AdSpend => ad_spend(record, &provenance).map(|row| batch.ad_spend.push(row)),
            InputKind::Campaigns => {
                campaign(record, &provenance).map(|row| batch.campaigns.push(row))
            }
            _ => Err(format!(
                "{} records arrive as JSON messages, not CSV rows",
                kind.as_str()
            )),
        };
        if let Err(error) = parsed {
            quarantine(batch, kind, raw, error, provenance);
        }
    }

    /// One parse that borrows the message's text; the PII hashes are spliced into that text
    /// for `raw_json` (see [`HashMemo::hash_json_text`]). The row goes to `events`, or nothing
    /// does when the event is refused.
    fn telemetry(
        &self,
        raw: &[u8],
        provenance: &Provenance,
        memo: &mut HashMemo,
        events: &mut GameEvents,
    ) -> Result<(), String> {
        let text = std::str::from_utf8(raw).map_err(|err| format!("not a JSON object: {err}"))?;
        let event: Json =
            serde_json::from_str(text).map_err(|err| format!("not a JSON object: {err}"))?;
        let Json::Object(object) = &event else {
            return Err(format!("not a JSON object: {}", json_kind(&event)));
        };
        let fields = EventFields::read(object);
        let envelope = fields
            .envelope()
            .map_err(|err| format!("envelope: {err}"))?;
        // Nothing below refuses the event: its text goes into the arena from here on.
        let mut pii: Vec<&str> = self
            .contracts
            .global()
            .map(|c| c.pii_fields())
            .unwrap_or_default();
        if let Some(contract) = self.contracts.event_contract(envelope.game, envelope.name) {
            pii.extend(contract.pii_fields());
        }
        let raw_json = events.push_with(|arena| memo.hash_json_text(text, object, &pii, arena));
        let player_id = events.push_text(memo.hash(envelope.player));

        let mut text = |value: Option<&Json>| {
            value
                .and_then(Json::as_str)
                .map(|text| events.push_text(text))
        };
        let session_id = text(fields.session_id);
        let device_type = text(fields.platform);
        let country = text(fields.country_code);
        let campaign_id = text(fields.attribution.and_then(|a| match a {
            Json::Object(attribution) => attribution.get("campaign_source"),
            _ => None,
        }));
        let number_if = |event_name: &str, value: Option<&Json>| {
            (envelope.name == event_name)
                .then(|| value.and_then(Json::as_f64))
                .flatten()
        };
        let level = fields.level_id.and_then(Json::as_str).and_then(|id| {
            id.trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse::<i32>()
                .ok()
        });
        let row = GameEventRow {
            arena: 0, // set by `push`
            event_id: events.push_text(envelope.event_id),
            player_id,
            game_id: events.push_text(envelope.game),
            event_type: events.push_text(envelope.name),
            event_timestamp: envelope.timestamp_ms.saturating_mul(1000),
            session_id,
            session_duration: number_if("game_background", fields.session_duration_seconds),
            iap_revenue: number_if("iap_completed", fields.revenue_usd),
            ad_revenue: number_if("ad_impression", fields.revenue_usd),
            level,
            device_type,
            country,
            campaign_id,
            raw_json,
            provenance: provenance.clone(),
        };
        events.push(row);
        Ok(())
    }

    fn appsflyer_push(
        &self,
        raw: &[u8],
        provenance: &Provenance,
    ) -> Result<AttributionRow, String> {
        let object: Map<String, Value> =
            serde_json::from_slice(raw).map_err(|err| format!("not a JSON object: {err}"))?;
        let install: AppsFlyerPushInstall = serde_json::from_value(Value::Object(object.clone()))
            .map_err(|err| format!("install: {err}"))?;
        self.attribution_row(
            object,
            Install {
                appsflyer_id: install.appsflyer_id,
                customer_user_id: install.customer_user_id,
                install_time: install.install_time,
                media_source: install.media_source,
                campaign_id: install.af_c_id,
                campaign_name: install.campaign,
                adset_id: install.af_adset_id,
                adset_name: install.af_adset,
                creative_id: install.af_ad_id,
                platform: install.platform,
                country_code: install.country_code,
                cost: install.af_cost_value,
                cost_currency: install.af_cost_currency,
                app_id: install.app_id,
            },
            provenance,
        )
    }

    fn appsflyer_pull(
        &self,
        record: Map<String, Value>,
        provenance: &Provenance,
    ) -> Result<AttributionRow, String> {
        let row: AppsFlyerInstallRow = serde_json::from_value(Value::Object(record.clone()))
            .map_err(|err| format!("installs report row: {err}"))?;
        let cost = match row.cost_value.trim() {
            "" => None,
            value => Some(
                value
                    .parse::<f64>()
                    .map_err(|_| format!("Cost Value `{value}` is not a number"))?,
            ),
        };
        self.attribution_row(
            record,
            Install {
                appsflyer_id: row.appsflyer_id,
                customer_user_id: row.customer_user_id,
                install_time: row.install_time,
                media_source: row.media_source,
                campaign_id: row.campaign_id,
                campaign_name: row.campaign,
                adset_id: row.adset_id,
                adset_name: row.adset,
                creative_id: row.ad_id,
                platform: row.platform,
                country_code: row.country_code,
                cost,
                cost_currency: row.cost_currency,
                app_id: row.app_id,
            },
            provenance,
        )
    }

    fn attribution_row(
        &self,
        mut raw: Map<String, Value>,
        install: Install,
        provenance: &Provenance,
    ) -> Result<AttributionRow, String> {
        if install.appsflyer_id.trim().is_empty() {
            return Err("install has no appsflyer_id".into());
        }
        if install.media_source.trim().is_empty() {
            return Err("install has no media_source".into());
        }
        let installed = parse_appsflyer_time(&install.install_time)?;
        let pii: Vec<String> = self
            .contracts
            .source_contract("appsflyer_install")
            .map(|contract| {
                contract
                    .fields
                    .iter()
                    .filter(|field| field.pii)
                    .flat_map(|field| [Some(field.name.clone()), field.csv_column.clone()])
                    .flatten()
                    .collect()
            })
            .unwrap_or_default();
        self.hasher.hash_fields(
            &mut raw,
            &pii.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let non_empty = |text: String| Some(text).filter(|t| !t.trim().is_empty());
        Ok(AttributionRow {
            install_id: install.appsflyer_id,
            player_id: non_empty(install.customer_user_id).map(|id| self.hasher.hash(&id)),
            media_source: install.media_source,
            campaign_id: non_empty(install.campaign_id),
            campaign_name: non_empty(install.campaign_name),
            adset_id: non_empty(install.adset_id),
            adset_name: non_empty(install.adset_name),
            creative_id: non_empty(install.creative_id),
            platform: non_empty(install.platform.to_lowercase()),
            country_code: non_empty(install.country_code),
            install_cost_usd: install.cost,
            cost_currency: non_empty(install.cost_currency),
            install_timestamp: installed.and_utc().timestamp_micros(),
            install_date: days_since_epoch(installed.date()),
            app_id: non_empty(install.app_id),
            provenance: provenance_columns(Value::Object(raw).to_string(), provenance),
        })
    }
}

/// The fields of an install, whichever AppsFlyer API it came from.
struct Install {
    appsflyer_id: String,
    customer_user_id: String,
    install_time: String,
    media_source: String,
    campaign_id: String,
    campaign_name: String,
    adset_id: String,
    adset_name: String,
    creative_id: String,
    platform: String,
    country_code: String,
    cost: Option<f64>,
    cost_currency: String,
    app_id: String,
}

fn ad_spend(
    record: Map<String, Value>,
    provenance: &Provenance,
) -> Result<AdSpendBronzeRow, String> {
    let row: AdSpendRow =
        serde_json::from_value(typed_csv(&record)).map_err(|err| format!("ad spend row: {err}"))?;
    let date = NaiveDate::parse_from_str(&row.date, "%Y-%m-%d")
        .map_err(|_| format!("date `{}` is not YYYY-MM-DD", row.date))?;
    Ok(AdSpendBronzeRow {
        spend_date: days_since_epoch(date),
        media_source: row.media_source,
        campaign_id: row.campaign_id,
        campaign_name: Some(row.campaign_name).filter(|name| !name.is_empty()),
        country_code: row.country_code,
        platform: row.platform,
        spend_usd: row.spend_usd,
        installs: row.installs as i64,
        impressions: row.impressions as i64,
        clicks: row.clicks as i64,
        provenance: provenance_columns(Value::Object(record).to_string(), provenance),
    })
}

fn campaign(
    record: Map<String, Value>,
    provenance: &Provenance,
) -> Result<CampaignBronzeRow, String> {
    let row: CampaignRow =
        serde_json::from_value(typed_csv(&record)).map_err(|err| format!("campaign row: {err}"))?;
    Ok(CampaignBronzeRow {
        campaign: row,
        provenance: provenance_columns(Value::Object(record).to_string(), provenance),
    })
}

/// CSV cells are text; numbers in them become JSON numbers so typed rows can be read.
fn typed_csv(record: &Map<String, Value>) -> Value {
    Value::Object(
        record
            .iter()
            .map(|(key, value)| {
                let typed = value
                    .as_str()
                    .and_then(|text| serde_json::from_str::<serde_json::Number>(text).ok())
                    .map(Value::Number)
                    .unwrap_or_else(|| value.clone());
                (key.clone(), typed)
            })
            .collect(),
    )
}

fn provenance_columns(raw_json: String, provenance: &Provenance) -> ProvenanceColumns {
    ProvenanceColumns {
        raw_json,
        ingest_ts: provenance.ingest_ts_us,
        ingest_date: provenance.ingest_days(),
        source: provenance.source.clone(),
        source_partition: provenance.partition,
        source_offset: provenance.offset,
    }
}

fn quarantine(
    batch: &mut BronzeBatch,
    kind: InputKind,
    raw: &[u8],
    error: String,
    provenance: Provenance,
) {
    batch.quarantine.push(QuarantineRow {
        raw: raw.to_vec(),
        kind,
        error,
        provenance,
    });
}

/// AppsFlyer times are UTC `YYYY-MM-DD HH:MM:SS`, with milliseconds in the Push API.
fn parse_appsflyer_time(text: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .map_err(|_| format!("install_time `{text}` is not YYYY-MM-DD HH:MM:SS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn parser() -> RecordParser {
        RecordParser::new(PiiHasher::new(KEY), ContractSet::repository())
    }

    #[test]
    fn ranks_number_keys_by_first_sight_and_rank_them_in_sorted_order() {
        let mut ranks = Ranks::default();
        let ids: Vec<usize> = ["pear", "apple", "pear", "fig", "apple"]
            .into_iter()
            .map(|key| ranks.id(key))
            .collect();
        assert_eq!(ids, [0, 1, 0, 2, 1]);
        // By id: pear (0) sorts last, apple (1) first, fig (2) between.
        assert_eq!(ranks.ranks(), [2, 0, 1]);
    }

    fn at(offset: i64) -> Provenance {
        Provenance {
            source: "file:test.ndjson".into(),
            partition: None,
            offset,
            ingest_ts_us: 1_767_300_000_000_000,
            ingest_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        }
    }

    #[test]
    fn an_event_is_typed_at_its_first_values_and_kept_as_it_arrived_with_pii_hashed() {
        let raw = r#"{"event_id": "e1", "eternal_player_id": "p1", "anonymous_id": "a1",
            "event_name": "iap_completed", "event_timestamp": 1767297305750,
            "game_title": "FantasyQuest", "revenue_usd": 4.99, "level_id": "L-012",
            "attribution": {"campaign_source": "c9"}, "revenue_usd": 99.99,
            "eternal_player_id": "p2"}"#;
        let mut batch = BronzeBatch::default();
        let message = RawMessage {
            bytes: raw.as_bytes(),
            provenance: at(1),
        };
        parser().push_messages(InputKind::Telemetry, &[message], &mut batch);
        assert!(batch.quarantine.is_empty(), "{:?}", batch.quarantine);
        let events = &batch.game_events;
        let row = &events.rows[0];
        let hasher = PiiHasher::new(KEY);
        assert_eq!(events.text(row, row.player_id), hasher.hash("p1"));
        assert_eq!(row.iap_revenue, Some(4.99));
        assert_eq!(row.ad_revenue, None);
        assert_eq!(row.level, Some(12));
        assert_eq!(events.optional_text(row, row.campaign_id), Some("c9"));
        assert_eq!(row.event_timestamp, 1_767_297_305_750_000);
        let mut expected = raw.to_string();
        for clear in ["p1", "p2", "a1"] {
            expected = expected.replace(
                &format!("\"{clear}\""),
                &format!("\"{}\"", hasher.hash(clear)),
            );
        }
        assert_eq!(events.text(row, row.raw_json), expected);
    }

    #[test]
    fn a_batch_parses_on_every_core_in_message_order() {
        let good = |n: usize| {
            format!(
                r#"{{"event_id":"e{n}","eternal_player_id":"p{}","anonymous_id":"a","event_name":"daily_login","event_timestamp":{n},"game_title":"FantasyQuest"}}"#,
                n % 7
            )
        };
        let lines: Vec<String> = (0..3 * MESSAGES_PER_TASK)
            .map(|n| match n % 1000 {
                0 => "not json".to_string(),
                1 => r#"{"event_id": 5}"#.to_string(),
                _ => good(n),
            })
            .collect();
        let messages: Vec<RawMessage<&[u8]>> = lines
            .iter()
            .enumerate()
            .map(|(n, line)| RawMessage {
                bytes: line.as_bytes(),
                provenance: at(n as i64),
            })
            .collect();
        let mut batch = BronzeBatch::default();
        parser().push_messages(InputKind::Telemetry, &messages, &mut batch);
        let quarantined: Vec<i64> = batch
            .quarantine
            .iter()
            .map(|r| r.provenance.offset)
            .collect();
        let loaded: Vec<i64> = batch
            .game_events
            .rows
            .iter()
            .map(|r| r.provenance.offset)
            .collect();
        let expected_bad: Vec<i64> = (0..lines.len() as i64).filter(|n| n % 1000 < 2).collect();
        assert_eq!(quarantined, expected_bad);
        assert_eq!(loaded.len() + quarantined.len(), lines.len());
        assert!(loaded.windows(2).all(|pair| pair[0] < pair[1]), "in order");
        // Each task's rows point into its own arena, wherever its rows end up in the batch.
        let events = &batch.game_events;
        assert!(events.arenas.len() >= 3, "{} arenas", events.arenas.len());
        for row in &events.rows {
            let offset = row.provenance.offset;
            assert_eq!(events.text(row, row.event_id), format!("e{offset}"));
            assert!(
                events
                    .text(row, row.raw_json)
                    .contains(&format!("\"e{offset}\""))
            );
        }
        assert!(
            batch.quarantine[1]
                .error
                .contains("envelope: invalid type: `event_id`")
        );
    }

    /// A game event with its text owned, in `bronze.game_events`' column names.
    #[derive(Serialize)]
    struct ExpectedRow {
        event_id: String,
        player_id: String,
        game_id: String,
        event_type: String,
        event_timestamp: i64,
        session_id: Option<String>,
        session_duration: Option<f64>,
        iap_revenue: Option<f64>,
        ad_revenue: Option<f64>,
        level: Option<i32>,
        device_type: Option<String>,
        country: Option<String>,
        campaign_id: Option<String>,
        #[serde(flatten)]
        provenance: ProvenanceColumns,
    }

    impl ExpectedRow {
        fn of(events: &GameEvents, row: &GameEventRow) -> Self {
            let text = |span| events.text(row, span).to_owned();
            let optional = |span| events.optional_text(row, span).map(str::to_owned);
            ExpectedRow {
                event_id: text(row.event_id),
                player_id: text(row.player_id),
                game_id: text(row.game_id),
                event_type: text(row.event_type),
                event_timestamp: row.event_timestamp,
                session_id: optional(row.session_id),
                session_duration: row.session_duration,
                iap_revenue: row.iap_revenue,
                ad_revenue: row.ad_revenue,
                level: row.level,
                device_type: optional(row.device_type),
                country: optional(row.country),
                campaign_id: optional(row.campaign_id),
                provenance: provenance_columns(text(row.raw_json), &row.provenance),
            }
        }
    }

    #[test]
    fn game_events_are_written_column_by_column_a_batch_per_partition_in_player_order() {
        let events = [
            r#"{"event_id":"e1","eternal_player_id":"p2","anonymous_id":"a","event_name":"game_background","event_timestamp":3,"game_title":"FantasyQuest","session_id":"s1","session_duration_seconds":61.5,"platform":"ios","country_code":"US"}"#,
            r#"{"event_id":"e2","eternal_player_id":"p1","anonymous_id":"a","event_name":"ad_impression","event_timestamp":2,"game_title":"TinyTitans","revenue_usd":0.012,"attribution":{"campaign_source":"c1"}}"#,
            r#"{"event_id":"e3","eternal_player_id":"p2","anonymous_id":"a","event_name":"level_complete","event_timestamp":1,"game_title":"FantasyQuest","level_id":"L-007"}"#,
            r#"{"event_id":"e4","eternal_player_id":"p0","anonymous_id":"a","event_name":"daily_login","event_timestamp":4,"game_title":"FantasyQuest"}"#,
            r#"{"event_id":"e5","eternal_player_id":"p2","anonymous_id":"a","event_name":"daily_login","event_timestamp":5,"game_title":"FantasyQuest"}"#,
        ];
        let messages: Vec<RawMessage<&[u8]>> = events
            .iter()
            .enumerate()
            .map(|(n, line)| {
                // The third event arrives on the next ingest day.
                let ingest_date = NaiveDate::from_ymd_opt(2026, 1, if n == 2 { 2 } else { 1 });
                RawMessage {
                    bytes: line.as_bytes(),
                    provenance: Provenance {
                        partition: Some(3),
                        ingest_date: ingest_date.unwrap(),
                        ..at(n as i64 + 10)
                    },
                }
            })
            .collect();
        let mut batch = BronzeBatch::default();
        parser().push_messages(InputKind::Telemetry, &messages, &mut batch);
        // The rows as owned values, through the serde conversion every other table uses.
        let events = &batch.game_events;
        let row = |event_id: &str| {
            let row = events
                .rows
                .iter()
                .find(|row| events.text(row, row.event_id) == event_id)
                .unwrap();
            ExpectedRow::of(events, row)
        };
        // A partition's rows, given in arrival order, ordered by their (hashed) player.
        let partition = |event_ids: &[&str]| {
            let mut rows: Vec<ExpectedRow> = event_ids.iter().map(|id| row(id)).collect();
            rows.sort_by(|a, b| a.player_id.cmp(&b.player_id));
            rows_to_batch(&bronze::GAME_EVENTS, &rows).unwrap()
        };
        // Day 1's FantasyQuest (p2's two events in their order), day 1's TinyTitans, then day
        // 2's FantasyQuest.
        let expected = [
            partition(&["e1", "e4", "e5"]),
            partition(&["e2"]),
            partition(&["e3"]),
        ];

        let tables = batch.into_tables().unwrap();
        assert_eq!(tables.len(), 1);
        let (spec, batches) = &tables[0];
        assert_eq!(spec.name, bronze::GAME_EVENTS.name);
        assert_eq!(batches.as_slice(), expected);
        // The batches are cut where these change (`in_partition_order`): a table partitioned
        // otherwise would be written right, but split and copied again by delta-rs.
        assert_eq!(spec.partition_by, ["ingest_date", "game_id"]);
    }
}
