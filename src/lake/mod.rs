//! Reading and writing the lake's Delta tables: the only module that talks to delta-rs.
//!
//! Every write is idempotent in one of three ways, chosen by the caller:
//! - [`Lake::replace_range`]: a batch stage overwrites exactly the partitions of its date range
//!   (Delta replace-where), so a rerun leaves one copy;
//! - [`Lake::merge`]: upsert on the table's key, for late and re-sent rows;
//! - [`Lake::append_once`]: an append committed together with application transaction ids
//!   (`txn` actions), skipped when those ids are already in the log; this is how a stream's
//!   offsets live in the same commit as its data.

pub mod frame;
mod rows;
mod slices;
mod table;
mod uri;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Once};

use chrono::NaiveDate;
use deltalake::arrow::array::Array as _;
use deltalake::arrow::array::Scalar as ArrowScalar;
use deltalake::arrow::array::{RecordBatch, StringArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::compute::kernels::cmp::not_distinct;
use deltalake::arrow::datatypes::{Field, Schema, SchemaRef};
use deltalake::datafusion::common::JoinType;
use deltalake::datafusion::common::ScalarValue;
use deltalake::datafusion::error::DataFusionError;
use deltalake::datafusion::functions_aggregate::expr_fn::{max, min};
use deltalake::datafusion::prelude::{SessionContext, col, lit};
use deltalake::delta_datafusion::expr::fmt_expr_to_sql;
use deltalake::kernel::Action;
use deltalake::kernel::Transaction;
use deltalake::kernel::scalars::ScalarExt;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::{DeltaOperation, MergePredicate, SaveMode};
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter, WriteMode};
use deltalake::{DeltaTable, DeltaTableError};
use futures::StreamExt as _;
use indexmap::IndexMap;
use polars::prelude::DataFrame;
use serde_json::json;
use url::Url;

use crate::date_range::DateRange;
pub use deltalake::datafusion::prelude::Expr;
pub use frame::{FrameError, count_column, float_column, string_column};
pub use rows::{
    column_at_most, column_before_day, column_in_range, column_nonzero, column_on_day,
    rows_to_batch,
};
pub use slices::PlayerSlice;
pub use table::{ColumnSpec, ColumnType, Layer, TableName, TableSpec};
pub use uri::LakeUri;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error(
        "table {table} does not exist at {url}; run the stage that produces it for this range first"
    )]
    TableNotFound { table: TableName, url: Url },
    #[error("{operation} on {table} failed")]
    Delta {
        table: TableName,
        operation: &'static str,
        #[source]
        source: Box<DeltaTableError>,
    },
    #[error("query on {table} failed")]
    Query {
        table: TableName,
        #[source]
        source: DataFusionError,
    },
    #[error("rows for {table} do not fit its schema: {detail}")]
    Schema { table: TableName, detail: String },
    #[error("table {table} has no date column, so it cannot be read or replaced by date range")]
    NotDated { table: TableName },
    #[error("converting rows of {table}")]
    Frame {
        table: TableName,
        #[source]
        source: FrameError,
    },
}

/// Who is writing: recorded in every commit's metadata so `DESCRIBE HISTORY` tells which job
/// and run produced a version.
#[derive(Debug, Clone, Default)]
pub struct Committer {
    pub job: String,
    pub run_id: Option<String>,
}

/// An application transaction id (Delta `txn` action): `app_id` has reached `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTxn {
    pub app_id: String,
    pub version: i64,
}

/// How far a batch of a stream source reaches: offsets `first..=last` of `app_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamProgress {
    pub app_id: String,
    pub first: i64,
    pub last: i64,
}

/// What [`Lake::append_stream`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamAppend {
    Committed(WriteOutcome),
    /// Another writer committed this source up to `committed` (-1: unknown, lost a commit race);
    /// nothing was written and the caller must resume from the table's progress.
    Overtaken {
        app_id: String,
        committed: i64,
    },
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    pub table: TableName,
    /// Table version after the write (unchanged when skipped).
    pub version: Option<u64>,
    pub rows_written: u64,
    /// True when nothing was committed because the transaction ids were already in the log.
    pub skipped: bool,
}

/// What a delete removed.
#[derive(Debug, Clone, Copy)]
pub struct DeleteOutcome {
    pub table: TableName,
    /// Table version after the delete; `None` when the table does not exist.
    pub version: Option<u64>,
    /// `None` when delta-rs dropped whole files without counting their rows.
    pub rows_deleted: Option<u64>,
}

/// What [`Lake::maintain`] did to a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Maintenance {
    pub table: TableName,
    pub version: Option<u64>,
    /// Small files replaced by compaction, and the files that replaced them.
    pub files_compacted: u64,
    pub files_written: u64,
    /// Files older than the retention that no live version needed, deleted.
    pub files_deleted: u64,
}

/// Rows to write: a polars frame, or Arrow record batches built directly (ingest).
#[derive(Debug)]
pub enum Rows<'a> {
    Frame(&'a DataFrame),
    Batches(Vec<RecordBatch>),
}

impl<'a> From<&'a DataFrame> for Rows<'a> {
    fn from(frame: &'a DataFrame) -> Self {
        Rows::Frame(frame)
    }
}

impl From<Vec<RecordBatch>> for Rows<'_> {
    fn from(batches: Vec<RecordBatch>) -> Self {
        Rows::Batches(batches)
    }
}

/// The columns a read returns.
#[derive(Debug, Clone, Copy)]
pub enum Columns<'a> {
    /// Every column of the table.
    All,
    /// Only these, in this order: a read of a wide table that needs a few of its columns
    /// decodes only those.
    Only(&'a [&'a str]),
}

/// A lake root and the committer writing to it.
#[derive(Debug, Clone)]
pub struct Lake {
    uri: LakeUri,
    committer: Committer,
}

static REGISTER_OBJECT_STORES: Once = Once::new();

/// The column of the values a [`Lake::read_matching`] joins on.
const MATCH_KEY: &str = "__match_key";

impl Lake {
    pub fn new(uri: LakeUri, committer: Committer) -> Self {
        // delta-rs finds object stores by URL scheme; s3:// must be registered once per process.
        REGISTER_OBJECT_STORES.call_once(|| deltalake::aws::register_handlers(None));
        Lake { uri, committer }
    }

    pub fn uri(&self) -> &LakeUri {
        &self.uri
    }

    pub fn table_url(&self, table: &TableName) -> Url {
        self.uri.table_url(table)
    }

    /// Opens an existing table at its latest version.
    pub async fn open(&self, table: &TableName) -> Result<DeltaTable, LakeError> {
        let handle = self.handle(table).await?;
        if handle.version().is_none() {
            return Err(LakeError::TableNotFound {
                table: *table,
                url: self.table_url(table),
            });
        }
        Ok(handle)
    }

    /// Latest version of a table, or `None` when it does not exist yet.
    pub async fn version(&self, table: &TableName) -> Result<Option<u64>, LakeError> {
        Ok(self.handle(table).await?.version())
    }

    /// The version an application transaction id has reached in this table, if any.
    pub async fn app_txn_version(
        &self,
        table: &TableName,
        app_id: &str,
    ) -> Result<Option<i64>, LakeError> {
        txn_version(&self.handle(table).await?, table, app_id).await
    }

    /// Rows of a table, optionally filtered (the filter prunes files and partitions).
    pub async fn read(
        &self,
        spec: &TableSpec,
        filter: Option<Expr>,
    ) -> Result<DataFrame, LakeError> {
        collect_frame(spec, self.scan(spec, filter).await?).await
    }

    /// Only `columns` of the rows that match `filter`: for counting over days too big to read
    /// whole.
    pub async fn read_columns(
        &self,
        spec: &TableSpec,
        columns: &[&str],
        filter: Option<Expr>,
    ) -> Result<DataFrame, LakeError> {
        let scan = project(spec, self.scan(spec, filter).await?, Columns::Only(columns))?;
        collect_frame(spec, scan).await
    }

    /// A DataFusion scan of the table with `filter` applied, not yet run.
    async fn scan(
        &self,
        spec: &TableSpec,
        filter: Option<Expr>,
    ) -> Result<deltalake::datafusion::dataframe::DataFrame, LakeError> {
        let table = self.open(&spec.name).await?;
        let scan = scan(&table, spec).await?;
        match filter {
            Some(filter) => scan.filter(filter).map_err(|source| query(spec, source)),
            None => Ok(scan),
        }
    }

    /// Like [`Lake::read`], but a table that was never written reads as no rows: for inputs a
    /// studio may not have yet (no ad spend, no campaigns feed) and for state a first run builds.
    pub async fn read_or_empty(
        &self,
        spec: &TableSpec,
        filter: Option<Expr>,
    ) -> Result<DataFrame, LakeError> {
        match self.read(spec, filter).await {
            Err(LakeError::TableNotFound { .. }) => self.empty(spec),
            read => read,
        }
    }

    /// How many rows match `filter`; a table that was never written has none. Cheap: a
    /// filter on partition columns alone is answered from file metadata.
    pub async fn count(&self, spec: &TableSpec, filter: Option<Expr>) -> Result<u64, LakeError> {
        let scan = match self.scan(spec, filter).await {
            Err(LakeError::TableNotFound { .. }) => return Ok(0),
            scan => scan?,
        };
        let rows = scan.count().await.map_err(|source| query(spec, source))?;
        Ok(rows as u64)
    }

    /// The rows that match `filter` and belong to `slice`'s players; a table that was never
    /// written reads as no rows.
    pub async fn read_slice(
        &self,
        spec: &TableSpec,
        filter: &Expr,
        slice: &PlayerSlice,
    ) -> Result<DataFrame, LakeError> {
        self.read_or_empty(spec, Some(filter.clone().and(slice.filter())))
            .await
    }

    /// Slices of players of about `max_rows` rows of the table each, for reading the rows that
    /// match `filter` (a busy ingest day) one slice at a time with [`Lake::read_slice`].
    pub async fn player_slices(
        &self,
        spec: &TableSpec,
        filter: Expr,
        max_rows: u64,
    ) -> Result<Vec<PlayerSlice>, LakeError> {
        let rows = self.count(spec, Some(filter)).await?;
        Ok(PlayerSlice::split(rows, max_rows))
    }

    /// The `columns` of the rows whose `column` is one of `values` (and that match `filter`):
    /// how a stage reads only the players it touches. The values are a semi join, not an IN
    /// list: DataFusion plans an IN list by recursion, and ten thousand ids overflowed the
    /// stack.
    pub async fn read_matching(
        &self,
        spec: &TableSpec,
        column: &str,
        values: &[String],
        filter: Option<Expr>,
        columns: Columns<'_>,
    ) -> Result<DataFrame, LakeError> {
        let scan = self.scan(spec, filter).await?;
        let schema = scan.schema().inner().clone();
        let key_type = schema
            .field_with_name(column)
            .map_err(|_| LakeError::Schema {
                table: spec.name,
                detail: format!("no column {column} to match values on"),
            })?
            .data_type()
            .clone();
        let arrow_error = |source| LakeError::Frame {
            table: spec.name,
            source: FrameError::Arrow(source),
        };
        let keys = cast(&StringArray::from(values.to_vec()), &key_type).map_err(arrow_error)?;
        let keys = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(MATCH_KEY, key_type, true)])),
            vec![keys],
        )
        .map_err(arrow_error)?;
        let keys = SessionContext::new()
            .read_batch(keys)
            .map_err(|source| query(spec, source))?;
        let matching = scan
            .join(keys, JoinType::LeftSemi, &[column], &[MATCH_KEY], None)
            .map_err(|source| query(spec, source))?;
        collect_frame(spec, project(spec, matching, columns)?).await
    }

    /// Like [`Lake::read_matching`], but a table that was never written reads as no rows.
    pub async fn read_matching_or_empty(
        &self,
        spec: &TableSpec,
        column: &str,
        values: &[String],
        filter: Option<Expr>,
        columns: Columns<'_>,
    ) -> Result<DataFrame, LakeError> {
        match self
            .read_matching(spec, column, values, filter, columns)
            .await
        {
            Err(LakeError::TableNotFound { .. }) => self.empty_columns(spec, columns),
            read => read,
        }
    }

    /// No rows, with the table's columns: what a table that was never written reads as.
    pub fn empty(&self, spec: &TableSpec) -> Result<DataFrame, LakeError> {
        frame::batches_to_frame(&spec.arrow_schema(), &[]).map_err(|source| LakeError::Frame {
            table: spec.name,
            source,
        })
    }

    /// [`Lake::empty`] with only `columns`.
    fn empty_columns(
        &self,
        spec: &TableSpec,
        columns: Columns<'_>,
    ) -> Result<DataFrame, LakeError> {
        let empty = self.empty(spec)?;
        match columns {
            Columns::All => Ok(empty),
            Columns::Only(names) => {
                empty
                    .select(names.iter().copied())
                    .map_err(|source| LakeError::Frame {
                        table: spec.name,
                        source: source.into(),
                    })
            }
        }
    }

    /// The latest day in the table's date column, `None` for an empty or missing table.
    pub async fn latest_date(&self, spec: &TableSpec) -> Result<Option<NaiveDate>, LakeError> {
        let column = spec
            .date_column
            .ok_or(LakeError::NotDated { table: spec.name })?;
        let table = match self.open(&spec.name).await {
            Ok(table) => table,
            Err(LakeError::TableNotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let batches = scan(&table, spec)
            .await?
            .aggregate(vec![], vec![max(col(column))])
            .map_err(|source| query(spec, source))?
            .collect()
            .await
            .map_err(|source| query(spec, source))?;
        let latest = batches
            .first()
            .filter(|batch| batch.num_rows() > 0)
            .and_then(|batch| {
                batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<deltalake::arrow::array::Date32Array>()
                    .filter(|days| days.is_valid(0))
                    .map(|days| days.value(0))
            })
            .and_then(crate::date_range::from_days_since_epoch);
        Ok(latest)
    }

    /// The days of the table's date column (a partition column) whose files differ between
    /// version `since` and now, and the current version. Without `since`, every day present.
    pub async fn changed_dates(
        &self,
        spec: &TableSpec,
        since: Option<u64>,
    ) -> Result<(Option<u64>, BTreeSet<NaiveDate>), LakeError> {
        let column = spec
            .date_column
            .filter(|column| spec.partition_by.contains(column))
            .ok_or(LakeError::NotDated { table: spec.name })?;
        let current = self.open(&spec.name).await?;
        let files = |table: &DeltaTable| -> Result<BTreeMap<String, Option<String>>, LakeError> {
            let snapshot = table
                .snapshot()
                .map_err(|source| delta(&spec.name, "reading the file list", source))?;
            Ok(snapshot
                .log_data()
                .iter()
                .map(|file| {
                    let day = file.partition_values_map().remove(column).flatten();
                    (file.path().to_string(), day)
                })
                .collect())
        };
        let now = files(&current)?;
        let before = match since {
            Some(version) => {
                let mut old = current.clone();
                old.load_version(version)
                    .await
                    .map_err(|source| delta(&spec.name, "loading an earlier version", source))?;
                files(&old)?
            }
            None => BTreeMap::new(),
        };
        let changed = now
            .iter()
            .filter(|(path, _)| !before.contains_key(*path))
            .chain(before.iter().filter(|(path, _)| !now.contains_key(*path)))
            .filter_map(|(_, day)| day.as_deref())
            .filter_map(|day| crate::date_range::parse_day(day).ok())
            .collect();
        Ok((current.version(), changed))
    }

    /// The filter selecting the days of `range` by the table's date column.
    pub fn range_filter(spec: &TableSpec, range: &DateRange) -> Result<Expr, LakeError> {
        range_predicate(spec, range)
    }

    /// Rows of the days in `range`, by the table's date column.
    pub async fn read_range(
        &self,
        spec: &TableSpec,
        range: &DateRange,
    ) -> Result<DataFrame, LakeError> {
        let filter = range_predicate(spec, range)?;
        self.read(spec, Some(filter)).await
    }

    /// Replaces the rows of the days in `range` with `rows`: one atomic commit that removes
    /// whatever those partitions held and adds the new files. Every row must fall in the range.
    pub async fn replace_range(
        &self,
        spec: &TableSpec,
        rows: impl Into<Rows<'_>>,
        range: &DateRange,
    ) -> Result<WriteOutcome, LakeError> {
        self.replace_range_recording(spec, rows, range, &[]).await
    }

    /// [`Lake::replace_range`], recording `txns` in the same commit: how a stage remembers
    /// which version of its input it has processed.
    pub async fn replace_range_recording(
        &self,
        spec: &TableSpec,
        rows: impl Into<Rows<'_>>,
        range: &DateRange,
        txns: &[AppTxn],
    ) -> Result<WriteOutcome, LakeError> {
        let predicate = range_predicate(spec, range)?;
        let (batches, rows_written) = conform(spec, rows)?;
        let table = self.open_or_create(spec).await?;
        let properties = self
            .commit_properties(json!({"range": range}))
            .with_application_transactions(
                txns.iter()
                    .map(|txn| Transaction::new(&txn.app_id, txn.version))
                    .collect(),
            );
        let written = table
            .write(batches)
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(predicate)
            .with_partition_columns(spec.partition_by.iter().copied())
            .with_commit_properties(properties)
            .await
            .map_err(|source| delta(&spec.name, "replace-where write", source))?;
        Ok(WriteOutcome {
            table: spec.name,
            version: written.version(),
            rows_written,
            skipped: false,
        })
    }

    /// Upserts `rows` on the table's key: matching rows are updated, new ones inserted. When
    /// no stored key lies within the rows' key bounds, nothing can match and the rows are
    /// inserted without a join ([`Lake::insert_all`]).
    pub async fn merge(
        &self,
        spec: &TableSpec,
        rows: impl Into<Rows<'_>>,
    ) -> Result<WriteOutcome, LakeError> {
        if spec.key.is_empty() {
            return Err(LakeError::Schema {
                table: spec.name,
                detail: "MERGE needs a key and the table spec declares none".into(),
            });
        }
        let (batches, rows_written) = conform(spec, rows)?;
        let table = self.open_or_create(spec).await?;
        let on = spec
            .key
            .iter()
            .map(|key| format!("target.{key} = source.{key}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        if rows_written > 0 {
            let bounds = key_bounds(spec, &batches).await?;
            if !holds_a_row_within(&table, spec, bounds.clone()).await? {
                return self.insert_all(table, spec, batches, on, &bounds).await;
            }
        }
        let session = SessionContext::new();
        let source = session
            .read_batches(batches)
            .map_err(|source| LakeError::Query {
                table: spec.name,
                source,
            })?;
        let merge_error = |source| delta(&spec.name, "MERGE", source);
        let (merged, metrics) = table
            .merge(source, on)
            .with_source_alias("source")
            .with_target_alias("target")
            .with_commit_properties(self.commit_properties(json!({"key": spec.key})))
            .when_matched_update(|update| {
                spec.columns
                    .iter()
                    .filter(|column| !spec.key.contains(&column.name))
                    .fold(update, |update, column| {
                        update.update(column.name, format!("source.{}", column.name))
                    })
            })
            .map_err(merge_error)?
            .when_not_matched_insert(|insert| {
                spec.columns.iter().fold(insert, |insert, column| {
                    insert.set(column.name, format!("source.{}", column.name))
                })
            })
            .map_err(merge_error)?
            .await
            .map_err(merge_error)?;
        // What a slow MERGE spent its time on: scanning the files its keys may match (the
        // source's partitions and key ranges prune the rest) or writing.
        tracing::debug!(
            table = %spec.name,
            version = merged.version(),
            insert_only = false,
            inserted = metrics.num_target_rows_inserted,
            updated = metrics.num_target_rows_updated,
            copied = metrics.num_target_rows_copied,
            files_scanned = metrics.num_target_files_scanned,
            files_pruned = metrics.num_target_files_skipped_during_scan,
            files_added = metrics.num_target_files_added,
            files_removed = metrics.num_target_files_removed,
            scan_ms = metrics.scan_time_ms,
            rewrite_ms = metrics.rewrite_time_ms,
            total_ms = metrics.execution_time_ms,
            "merged"
        );
        Ok(WriteOutcome {
            table: spec.name,
            version: merged.version(),
            rows_written,
            skipped: false,
        })
    }

    /// A MERGE that can match no stored row (the table holds no key within the bounds of the
    /// new rows' keys: a first load, or a slice of players the table has not seen) inserts
    /// every row, so its rows are written as an append is, without DataFusion's join of
    /// source and target and its per-row merge expressions: on the 10M-event bench that join
    /// and projection were about half of each slice's MERGE into `silver.player_events`. The
    /// commit is still a MERGE that read `bounds`: a commit that lands between the check and
    /// this one and adds files that may hold keys within them is a conflict, not a duplicate,
    /// while writers of other keys (drains of other partitions) do not get in each other's way.
    async fn insert_all(
        &self,
        table: DeltaTable,
        spec: &TableSpec,
        batches: Vec<RecordBatch>,
        on: String,
        bounds: &Expr,
    ) -> Result<WriteOutcome, LakeError> {
        // The MERGE's own writer properties: Silver and Gold files read the same whichever
        // way they came.
        let mut append = PendingAppend::new(table, spec, merge_writer_properties());
        append.write(batches).await?;
        let operation = DeltaOperation::Merge {
            // What was read; a bound delta-rs cannot write as SQL reads the whole table.
            predicate: fmt_expr_to_sql(bounds).ok(),
            merge_predicate: Some(on),
            matched_predicates: vec![MergePredicate {
                action_type: "update".into(),
                predicate: None,
            }],
            not_matched_predicates: vec![MergePredicate {
                action_type: "insert".into(),
                predicate: None,
            }],
            not_matched_by_source_predicates: Vec::new(),
        };
        let parameters = json!({"key": spec.key, "insert_only": true});
        let outcome = self.commit(append, &[], operation, parameters).await?;
        tracing::debug!(
            table = %spec.name,
            version = outcome.version,
            insert_only = true,
            inserted = outcome.rows_written,
            "merged"
        );
        Ok(outcome)
    }

    /// Compacts the table's small files into larger ones (one commit, same rows) and then
    /// deletes the files no version younger than `retention` still needs: the nightly
    /// maintenance. Time travel reaches back `retention`, no further. A table that does not
    /// exist has nothing to maintain.
    pub async fn maintain(
        &self,
        spec: &TableSpec,
        retention: chrono::Duration,
    ) -> Result<Option<Maintenance>, LakeError> {
        let table = match self.open(&spec.name).await {
            Ok(table) => table,
            Err(LakeError::TableNotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let (table, compacted) = table
            .optimize()
            .with_commit_properties(self.commit_properties(json!({"maintenance": "optimize"})))
            .await
            .map_err(|source| delta(&spec.name, "optimize", source))?;
        let (table, vacuumed) = table
            .vacuum()
            .with_retention_period(retention)
            .with_commit_properties(self.commit_properties(
                json!({"maintenance": "vacuum", "retention_hours": retention.num_hours()}),
            ))
            .await
            .map_err(|source| delta(&spec.name, "vacuum", source))?;
        Ok(Some(Maintenance {
            table: spec.name,
            version: table.version(),
            files_compacted: compacted.num_files_removed,
            files_written: compacted.num_files_added,
            files_deleted: vacuumed.files_deleted.len() as u64,
        }))
    }

    /// Deletes the rows matching `predicate` (SQL over the table's columns) in one commit and
    /// returns how many went, when delta-rs can tell. The files that held them stay readable by
    /// time travel until a vacuum removes them. A table that does not exist has nothing to delete.
    pub async fn delete_where(
        &self,
        spec: &TableSpec,
        predicate: &str,
    ) -> Result<DeleteOutcome, LakeError> {
        let table = match self.open(&spec.name).await {
            Ok(table) => table,
            Err(LakeError::TableNotFound { .. }) => {
                return Ok(DeleteOutcome {
                    table: spec.name,
                    version: None,
                    rows_deleted: Some(0),
                });
            }
            Err(err) => return Err(err),
        };
        let (deleted, metrics) = table
            .delete()
            .with_predicate(predicate.to_string())
            .with_commit_properties(self.commit_properties(json!({"predicate": predicate})))
            .await
            .map_err(|source| delta(&spec.name, "DELETE", source))?;
        Ok(DeleteOutcome {
            table: spec.name,
            version: deleted.version(),
            rows_deleted: metrics.num_deleted_rows.map(|rows| rows as u64),
        })
    }

    /// Appends `rows` and records `txns` in the same commit, unless every one of `txns` has
    /// already reached its version (then nothing is written and the outcome says `skipped`).
    pub async fn append_once(
        &self,
        spec: &TableSpec,
        rows: impl Into<Rows<'_>>,
        txns: &[AppTxn],
    ) -> Result<WriteOutcome, LakeError> {
        let mut append = self.begin_append(spec).await?;
        if append.reached(txns).await? {
            return Ok(append.skipped());
        }
        append.write(rows).await?;
        self.commit(append, txns, append_operation(spec), json!({}))
            .await
    }

    /// An append to `spec`'s table (created if missing) whose rows are written by
    /// [`PendingAppend::write`], as often as needed, and committed by [`Lake::commit_once`].
    pub async fn begin_append<'s>(
        &self,
        spec: &'s TableSpec,
    ) -> Result<PendingAppend<'s>, LakeError> {
        Ok(PendingAppend::new(
            self.open_or_create(spec).await?,
            spec,
            append_writer_properties(),
        ))
    }

    /// Commits the files `append` wrote, with `txns`, unless every one of `txns` had already
    /// reached its version when the append began (then nothing is committed, the outcome says
    /// `skipped`, and the files written stay out of every version until a vacuum deletes them).
    pub async fn commit_once(
        &self,
        append: PendingAppend<'_>,
        txns: &[AppTxn],
    ) -> Result<WriteOutcome, LakeError> {
        if append.reached(txns).await? {
            return Ok(append.skipped());
        }
        let operation = append_operation(append.spec);
        self.commit(append, txns, operation, json!({})).await
    }

    /// Appends the rows of a stream batch and, in the same commit, each source's progress as a
    /// transaction id (`app_id` -> last offset). Refused, writing nothing, when a source's
    /// committed progress has already reached the batch (another consumer got there first);
    /// a commit racing with another one carrying the same ids fails on Delta's conflict check.
    pub async fn append_stream(
        &self,
        spec: &TableSpec,
        rows: impl Into<Rows<'_>>,
        progress: &[StreamProgress],
    ) -> Result<StreamAppend, LakeError> {
        let mut append = self.begin_append(spec).await?;
        for source in progress {
            if let Some(committed) = txn_version(&append.table, &spec.name, &source.app_id).await?
                && committed >= source.first
            {
                return Ok(StreamAppend::Overtaken {
                    app_id: source.app_id.clone(),
                    committed,
                });
            }
        }
        let txns: Vec<AppTxn> = progress
            .iter()
            .map(|source| AppTxn {
                app_id: source.app_id.clone(),
                version: source.last,
            })
            .collect();
        append.write(rows).await?;
        match self
            .commit(append, &txns, append_operation(spec), json!({}))
            .await
        {
            Ok(outcome) => Ok(StreamAppend::Committed(outcome)),
            Err(LakeError::Delta { source, .. }) if is_concurrent_transaction(&source) => {
                Ok(StreamAppend::Overtaken {
                    app_id: progress
                        .first()
                        .map(|p| p.app_id.clone())
                        .unwrap_or_default(),
                    committed: -1,
                })
            }
            Err(err) => Err(err),
        }
    }

    /// Commits the files `append` wrote, with `txns`, in one Delta commit recorded as
    /// `operation`.
    async fn commit(
        &self,
        mut append: PendingAppend<'_>,
        txns: &[AppTxn],
        operation: DeltaOperation,
        parameters: serde_json::Value,
    ) -> Result<WriteOutcome, LakeError> {
        let adds = append.finish().await?;
        let PendingAppend {
            table,
            spec,
            rows_written,
            ..
        } = append;
        let failed = |source| delta(&spec.name, "append", source);
        let properties = self
            .commit_properties(parameters)
            .with_application_transactions(
                txns.iter()
                    .map(|txn| Transaction::new(&txn.app_id, txn.version))
                    .collect(),
            );
        let snapshot = table.snapshot().map_err(failed)?;
        let committed = CommitBuilder::from(properties)
            .with_actions(adds)
            .build(Some(snapshot), table.log_store(), operation)
            .await
            .map_err(failed)?;
        Ok(WriteOutcome {
            table: spec.name,
            version: Some(committed.version()),
            rows_written,
            skipped: false,
        })
    }

    async fn handle(&self, table: &TableName) -> Result<DeltaTable, LakeError> {
        let url = self.table_url(table);
        if let Ok(path) = url.to_file_path() {
            // A local table's folder must exist before delta-rs will open it.
            std::fs::create_dir_all(&path).map_err(|err| {
                delta(
                    table,
                    "creating the table folder",
                    DeltaTableError::from(err),
                )
            })?;
        }
        DeltaTable::try_from_url_with_storage_options(url, HashMap::new())
            .await
            .map_err(|source| delta(table, "opening", source))
    }

    async fn open_or_create(&self, spec: &TableSpec) -> Result<DeltaTable, LakeError> {
        let handle = self.handle(&spec.name).await?;
        if handle.version().is_some() {
            return Ok(handle);
        }
        handle
            .create()
            .with_table_name(spec.name.to_string())
            .with_columns(spec.delta_fields())
            .with_partition_columns(spec.partition_by.iter().copied())
            .with_save_mode(SaveMode::Ignore)
            .with_commit_properties(self.commit_properties(json!({})))
            .await
            .map_err(|source| delta(&spec.name, "creating", source))
    }

    fn commit_properties(&self, operation: serde_json::Value) -> CommitProperties {
        CommitProperties::default().with_metadata([
            ("job".to_string(), json!(self.committer.job)),
            ("run_id".to_string(), json!(self.committer.run_id)),
            ("operation_parameters".to_string(), operation),
        ])
    }
}

/// An append in progress: Parquet files written to a table, not yet committed. Written in as
/// many parts as its caller likes (a big input file, chunk by chunk, so memory follows the
/// chunk) and committed once, with its transaction ids, by [`Lake::commit_once`]. Files of an
/// append that never commits (a crash, a replay found already loaded) belong to no version of
/// the table: readers never see them, and a vacuum deletes them.
pub struct PendingAppend<'s> {
    /// The table as it was when the append began: its transaction ids are checked here.
    table: DeltaTable,
    spec: &'s TableSpec,
    /// One writer per core, each streaming its Parquet file until the commit finishes it.
    writers: Vec<RecordBatchWriter>,
    rows_written: u64,
    writer_properties: WriterProperties,
}

impl<'s> PendingAppend<'s> {
    /// An append to `table` that has written nothing yet.
    fn new(table: DeltaTable, spec: &'s TableSpec, writer_properties: WriterProperties) -> Self {
        PendingAppend {
            table,
            spec,
            writers: Vec::new(),
            rows_written: 0,
            writer_properties,
        }
    }

    pub fn spec(&self) -> &TableSpec {
        self.spec
    }

    /// Writes `rows` by one writer per core, each taking a run of the batches: delta-rs'
    /// write operation hashes each Delta partition to a single stream, which kept a one-game
    /// day on one core. Writer `i` takes run `i` of every write, so a Bronze file loaded in
    /// chunks, each ordered by player, still makes a file per core whose players span that
    /// core's share of each chunk (a few sorted runs), not a file per chunk and core: on the
    /// 10M-event day, chunked files made bronze-to-silver's slices open 4 times as many.
    pub async fn write(&mut self, rows: impl Into<Rows<'_>>) -> Result<(), LakeError> {
        let failed = |source| delta(&self.spec.name, "append", source);
        let (batches, rows) = conform(self.spec, rows)?;
        let cores = append_writers();
        while self.writers.len() < cores {
            self.writers.push(
                RecordBatchWriter::for_table(&self.table)
                    .map_err(failed)?
                    .with_writer_properties(self.writer_properties.clone()),
            );
        }
        let mut writing = tokio::task::JoinSet::new();
        let mut idle = std::mem::take(&mut self.writers).into_iter().enumerate();
        for (run, (slot, mut writer)) in runs_of_rows(batches, cores).into_iter().zip(&mut idle) {
            let partition_by = self.spec.partition_by;
            writing.spawn(async move {
                for batch in run {
                    let written = match single_partition(&batch, partition_by) {
                        Some(values) => writer
                            .write_partition(batch, &values, WriteMode::Default)
                            .await
                            .map(|_| ()),
                        None => writer.write(batch).await,
                    };
                    written?;
                }
                Ok::<_, DeltaTableError>((slot, writer))
            });
        }
        let mut slots: Vec<Option<RecordBatchWriter>> = (0..cores).map(|_| None).collect();
        for (slot, writer) in idle {
            slots[slot] = Some(writer);
        }
        while let Some(written) = writing.join_next().await {
            let (slot, writer) = writer_outcome(written).map_err(failed)?;
            slots[slot] = Some(writer);
        }
        self.writers = slots.into_iter().flatten().collect();
        self.rows_written += rows;
        Ok(())
    }

    /// Finishes every writer's file: the add actions of the commit.
    async fn finish(&mut self) -> Result<Vec<Action>, LakeError> {
        let mut finishing = tokio::task::JoinSet::new();
        for mut writer in std::mem::take(&mut self.writers) {
            finishing.spawn(async move { writer.flush().await });
        }
        let mut adds = Vec::new();
        while let Some(finished) = finishing.join_next().await {
            let finished = writer_outcome(finished)
                .map_err(|source| delta(&self.spec.name, "append", source))?;
            adds.extend(finished.into_iter().map(Action::Add));
        }
        Ok(adds)
    }

    /// Whether every one of `txns` had reached its version when the append began.
    async fn reached(&self, txns: &[AppTxn]) -> Result<bool, LakeError> {
        let mut reached = !txns.is_empty();
        for txn in txns {
            let committed = txn_version(&self.table, &self.spec.name, &txn.app_id).await?;
            reached &= committed.is_some_and(|version| version >= txn.version);
        }
        Ok(reached)
    }

    fn skipped(&self) -> WriteOutcome {
        WriteOutcome {
            table: self.spec.name,
            version: self.table.version(),
            rows_written: 0,
            skipped: true,
        }
    }
}

/// What a writer task returned; a task that panicked or was cancelled is a failed write.
fn writer_outcome<T>(
    joined: Result<Result<T, DeltaTableError>, tokio::task::JoinError>,
) -> Result<T, DeltaTableError> {
    joined
        .map_err(|err| DeltaTableError::Generic(format!("a writer task failed: {err}")))
        .and_then(|outcome| outcome)
}

/// Record batches of `rows` in the table's column order and types.
fn conform<'a>(
    spec: &TableSpec,
    rows: impl Into<Rows<'a>>,
) -> Result<(Vec<RecordBatch>, u64), LakeError> {
    let (schema, batches) = match rows.into() {
        Rows::Frame(frame) => {
            frame::frame_to_batches(frame).map_err(|source| LakeError::Frame {
                table: spec.name,
                source,
            })?
        }
        Rows::Batches(batches) => match batches.first() {
            Some(first) => (first.schema(), batches),
            None => (spec.arrow_schema(), batches),
        },
    };
    let target = spec.arrow_schema();
    let positions = target
        .fields()
        .iter()
        .map(|field| {
            schema
                .index_of(field.name())
                .map_err(|_| LakeError::Schema {
                    table: spec.name,
                    detail: format!("column `{}` is missing", field.name()),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut conformed = Vec::with_capacity(batches.len());
    let mut row_count = 0u64;
    for batch in batches {
        row_count += batch.num_rows() as u64;
        conformed.push(conform_batch(spec, &target, &positions, &batch)?);
    }
    if conformed.is_empty() {
        conformed.push(RecordBatch::new_empty(target));
    }
    Ok((conformed, row_count))
}

/// How an append is recorded in the log.
fn append_operation(spec: &TableSpec) -> DeltaOperation {
    DeltaOperation::Write {
        mode: SaveMode::Append,
        partition_by: (!spec.partition_by.is_empty())
            .then(|| spec.partition_by.iter().map(|c| c.to_string()).collect()),
        predicate: None,
    }
}

/// Where `batches`' keys lie, column by column: each key between its least and greatest value.
async fn key_bounds(spec: &TableSpec, batches: &[RecordBatch]) -> Result<Expr, LakeError> {
    let failed = |source| query(spec, source);
    let bounds = SessionContext::new()
        .read_batches(batches.to_vec())
        .and_then(|source| {
            source.aggregate(
                Vec::new(),
                spec.key
                    .iter()
                    .flat_map(|key| [min(col(*key)), max(col(*key))])
                    .collect(),
            )
        })
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)?;
    let bounds = bounds
        .into_iter()
        .find(|bounds| bounds.num_rows() == 1)
        .ok_or_else(|| LakeError::Schema {
            table: spec.name,
            detail: "the key bounds of the rows to MERGE came back empty".into(),
        })?;
    let mut within = Vec::with_capacity(spec.key.len());
    for (index, key) in spec.key.iter().enumerate() {
        let least = ScalarValue::try_from_array(bounds.column(2 * index), 0).map_err(failed)?;
        let greatest =
            ScalarValue::try_from_array(bounds.column(2 * index + 1), 0).map_err(failed)?;
        within.push(col(*key).between(lit(least), lit(greatest)));
    }
    Ok(within
        .into_iter()
        .reduce(Expr::and)
        .expect("Lake::merge refuses a spec without a key before it asks for the key's bounds"))
}

/// Whether the table, as `table` was loaded, holds a row within `bounds`. Without one, no row
/// within them can match a stored row. Partition values and file statistics prune first, so a
/// table whose files hold other players and days answers without reading a row.
async fn holds_a_row_within(
    table: &DeltaTable,
    spec: &TableSpec,
    bounds: Expr,
) -> Result<bool, LakeError> {
    let failed = |source| query(spec, source);
    let stored = scan(table, spec)
        .await?
        .filter(bounds)
        .and_then(|rows| rows.limit(0, Some(1)))
        .map_err(failed)?
        .count()
        .await
        .map_err(failed)?;
    Ok(stored > 0)
}

/// Rows per Parquet page of an append, at most (the parquet crate's default is 20,000).
/// bronze-to-silver reads a busy day a slice of players at a time, and a slice's rows are found
/// through the page index of `player_id`: every page whose ids overlap the slice is read. A
/// file loaded in chunks holds one sorted run of players per chunk (about 78,000 rows per file
/// and chunk on the 10M-event bench day), so a page of 20,000 rows spanned a quarter of all
/// ids, against a twentieth for a page of 4,096. On that day (dev build, 2026-12-07, four runs
/// each) bronze-to-silver took 37.8-41.9 s, mean 40.1 (user CPU mean 68.5 s), against
/// 40.3-43.6 s, mean 42.0 (71.4 s), faster in each of the three pairs run back to back; Bronze
/// stayed 792 MB. Pages of 1,024 rows took 37.8 s once, but Bronze grew to 804 MB.
const APPEND_PAGE_ROWS: usize = 4096;

/// What delta-rs' MERGE writes with: Snappy.
fn merge_writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(format!("delta-rs version {}", deltalake::crate_version()))
        .set_compression(Compression::SNAPPY)
        .build()
}

/// How appends (Bronze) write Parquet: Zstandard at level 1 (`ZstdLevel`'s default) instead of
/// delta-rs' Snappy. On 2M generated events, Bronze took 168 MB instead of 366 MB and the drain
/// was as fast or a little faster (less to write), and bronze-to-silver read the smaller files
/// in the same time (10.8-10.9 s either way). Raw JSON repeats its keys on every row, which
/// Zstandard's window and entropy coding catch and Snappy's does not. Files of either codec
/// coexist in a table.
///
/// Pages end after [`APPEND_PAGE_ROWS`] rows: see there.
fn append_writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(format!("delta-rs version {}", deltalake::crate_version()))
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_data_page_row_count_limit(APPEND_PAGE_ROWS)
        .build()
}

/// The values of `partition_by` in `batch`, when every row has the same ones (a Bronze batch
/// of one ingest day). delta-rs' `write` splits any batch of a partitioned table by its
/// partition values and copies each part out, every column, even when there is only one part:
/// written as one partition, a batch of raw JSON is not copied again.
///
/// Generic over the scalar because delta-rs does not re-export the kernel's `Scalar` that
/// `write_partition` takes; the call site infers it.
fn single_partition<S: ScalarExt>(
    batch: &RecordBatch,
    partition_by: &[&str],
) -> Option<IndexMap<String, S>> {
    if !is_one_partition(batch, partition_by) {
        return None;
    }
    partition_by
        .iter()
        .map(|name| {
            let column = batch.column_by_name(name)?;
            Some((name.to_string(), S::from_array(column.as_ref(), 0)?))
        })
        .collect()
}

/// Whether a table partitioned by `partition_by` files all of `batch` under one partition.
fn is_one_partition(batch: &RecordBatch, partition_by: &[&str]) -> bool {
    !partition_by.is_empty()
        && batch.num_rows() > 0
        && partition_by.iter().all(|name| {
            batch.column_by_name(name).is_some_and(|column| {
                let first = ArrowScalar::new(column.slice(0, 1));
                not_distinct(column, &first).is_ok_and(|same| same.true_count() == column.len())
            })
        })
}

/// How many Parquet writers an append runs, each streaming a file of its own: one per core.
pub fn append_writers() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

/// `batches` cut into at most `count` runs of consecutive rows, as even as rows allow (a batch
/// is sliced where a run ends, without copying); no empty run.
fn runs_of_rows(batches: Vec<RecordBatch>, count: usize) -> Vec<Vec<RecordBatch>> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let run_length = total.div_ceil(count.max(1)).max(1);
    let mut runs = Vec::new();
    let mut run: Vec<RecordBatch> = Vec::new();
    let mut in_run = 0;
    for batch in batches {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (run_length - in_run).min(batch.num_rows() - offset);
            run.push(batch.slice(offset, take));
            (offset, in_run) = (offset + take, in_run + take);
            if in_run == run_length {
                runs.push(std::mem::take(&mut run));
                in_run = 0;
            }
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

fn conform_batch(
    spec: &TableSpec,
    target: &SchemaRef,
    positions: &[usize],
    batch: &RecordBatch,
) -> Result<RecordBatch, LakeError> {
    let columns = target
        .fields()
        .iter()
        .zip(positions)
        .map(|(field, &position)| {
            let column = batch.column(position);
            if !field.is_nullable() && column.null_count() > 0 {
                return Err(LakeError::Schema {
                    table: spec.name,
                    detail: format!("column `{}` is required but has nulls", field.name()),
                });
            }
            cast(column, field.data_type()).map_err(|err| LakeError::Schema {
                table: spec.name,
                detail: format!(
                    "column `{}` cannot become {}: {err}",
                    field.name(),
                    field.data_type()
                ),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(target.clone(), columns).map_err(|err| LakeError::Schema {
        table: spec.name,
        detail: err.to_string(),
    })
}

/// `date_column BETWEEN first AND last`, typed as dates so partitions are pruned.
fn range_predicate(spec: &TableSpec, range: &DateRange) -> Result<Expr, LakeError> {
    let column = spec
        .date_column
        .ok_or(LakeError::NotDated { table: spec.name })?;
    Ok(column_in_range(column, range))
}

/// Runs a query over the table and gathers its rows into one polars frame.
async fn collect_frame(
    spec: &TableSpec,
    query_frame: deltalake::datafusion::dataframe::DataFrame,
) -> Result<DataFrame, LakeError> {
    let schema = query_frame.schema().inner().clone();
    let mut stream = query_frame
        .execute_stream()
        .await
        .map_err(|source| query(spec, source))?;
    // Each batch is compacted as it arrives, so that the rows a filter dropped are freed
    // while the scan goes on (see `frame::compact_views`).
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|source| query(spec, source))?;
        batches.push(
            frame::compact_views(batch).map_err(|source| LakeError::Frame {
                table: spec.name,
                source,
            })?,
        );
    }
    frame::batches_to_frame(&schema, &batches).map_err(|source| LakeError::Frame {
        table: spec.name,
        source,
    })
}

/// A DataFusion scan of the table's current snapshot, its object store registered.
async fn scan(
    table: &DeltaTable,
    spec: &TableSpec,
) -> Result<deltalake::datafusion::dataframe::DataFrame, LakeError> {
    let provider = table
        .table_provider()
        .await
        .map_err(|source| query(spec, source))?;
    let session = SessionContext::new();
    table
        .update_datafusion_session(&session.state())
        .map_err(|source| delta(&spec.name, "registering the object store", source))?;
    session
        .read_table(provider)
        .map_err(|source| query(spec, source))
}

/// `scan` with only `columns`, for a read to decode no more than it needs.
fn project(
    spec: &TableSpec,
    scan: deltalake::datafusion::dataframe::DataFrame,
    columns: Columns<'_>,
) -> Result<deltalake::datafusion::dataframe::DataFrame, LakeError> {
    match columns {
        Columns::All => Ok(scan),
        Columns::Only(names) => scan
            .select_columns(names)
            .map_err(|source| query(spec, source)),
    }
}

fn query(spec: &TableSpec, source: DataFusionError) -> LakeError {
    LakeError::Query {
        table: spec.name,
        source,
    }
}

/// The version `app_id` has reached in the snapshot `table` was loaded at.
async fn txn_version(
    table: &DeltaTable,
    name: &TableName,
    app_id: &str,
) -> Result<Option<i64>, LakeError> {
    let Ok(state) = table.snapshot() else {
        return Ok(None);
    };
    state
        .transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(|source| delta(name, "reading transaction ids", source))
}

fn is_concurrent_transaction(error: &DeltaTableError) -> bool {
    use deltalake::kernel::transaction::{CommitConflictError, TransactionError};
    matches!(
        error,
        DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction)
        }
    )
}

fn delta(table: &TableName, operation: &'static str, source: DeltaTableError) -> LakeError {
    LakeError::Delta {
        table: *table,
        operation,
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests;
