//! The Postgres side of load-mart: migrations, monthly partitions, and the one transaction a
//! load publishes in (binary COPY into staging, then delete-and-upsert into the mart, or a
//! plain insert of days the mart does not hold yet; a month the mart has no partition for is
//! built as a table of its own and attached, indexes and all, at the end).
//!
//! Statements built with `format!` hold only the names of the mart's own tables and
//! partitions and dates, never input, which is why they are passed as `AssertSqlSafe`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate};
use polars::prelude::DataFrame;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Transaction};

use super::pgcopy::{self, EncodedRows, TargetType};
use super::tables::MartTable;
use crate::lake::TableSpec;

/// Bytes per COPY data message: the stall limit applies to each, and the connection's write
/// buffer holds one at a time instead of a whole day's copy of the rows.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// The migrations of `sql/mart`, compiled into the binary so a deployed load-mart carries the
/// schema it expects.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("sql/mart");

/// A connection to the mart database.
pub struct Mart {
    connection: PgConnection,
}

/// What publishing one mart table changed, as recorded in `mart.load_log`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableLoad {
    pub mart_table: String,
    pub gold_table: String,
    pub gold_version: Option<u64>,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub days: usize,
    pub rows_staged: u64,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub rows_deleted: u64,
}

impl TableLoad {
    /// A load of `table`'s `days` with nothing published yet.
    pub fn of(
        table: &MartTable,
        days: &[NaiveDate],
        gold_version: Option<u64>,
        rows_staged: u64,
    ) -> Self {
        TableLoad {
            mart_table: table.name.to_string(),
            gold_table: table.source.name.to_string(),
            gold_version,
            first_day: days.first().copied(),
            last_day: days.last().copied(),
            days: days.len(),
            rows_staged,
            ..TableLoad::default()
        }
    }
}

impl Mart {
    /// Connects with `url` (from `DATABASE_URL`). The URL holds a password, so it never
    /// appears in an error or a log.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let connection = PgConnection::connect(url)
            .await
            .context("connecting to the mart database given by DATABASE_URL")?;
        Ok(Mart { connection })
    }

    /// Applies the migrations not applied yet (under sqlx's advisory lock, so concurrent
    /// loads do not race), and fails if an applied one was edited since.
    pub async fn migrate(&mut self) -> anyhow::Result<usize> {
        MIGRATOR
            .run(&mut self.connection)
            .await
            .context("migrating the mart schema (sql/mart)")?;
        Ok(MIGRATOR.iter().count())
    }

    /// The version of the Gold table `source` that the last load of `table` published, from
    /// `mart.load_log`.
    pub async fn last_loaded_version(
        &mut self,
        table: &MartTable,
        source: &TableSpec,
    ) -> anyhow::Result<Option<u64>> {
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT max(gold_version) FROM mart.load_log WHERE mart_table = $1 AND gold_table = $2",
        )
        .bind(table.name)
        .bind(source.name.to_string())
        .fetch_one(&mut self.connection)
        .await
        .with_context(|| format!("reading mart.load_log for {}", table.name))?;
        Ok(version.and_then(|v| u64::try_from(v).ok()))
    }

    /// Deletes a player's rows (GDPR erasure); returns how many there were.
    pub async fn forget_player(&mut self, player_id: &str) -> anyhow::Result<u64> {
        self.migrate().await?;
        Ok(
            sqlx::query("DELETE FROM mart.player_analytics_daily WHERE player_id = $1")
                .bind(player_id)
                .execute(&mut self.connection)
                .await
                .context("erasing the player from mart.player_analytics_daily")?
                .rows_affected(),
        )
    }

    /// Opens the transaction a load publishes in. A COPY of the load that waits longer than
    /// `stall_limit` for the server to take its next chunk fails the load.
    pub async fn begin(&mut self, stall_limit: Duration) -> anyhow::Result<MartLoad<'_>> {
        Ok(MartLoad {
            transaction: self.connection.begin().await.context("BEGIN on the mart")?,
            loads: Vec::new(),
            stall_limit,
        })
    }
}

/// One load: every table it stages and publishes becomes visible at once, at commit, so a
/// dashboard never sees half a day.
pub struct MartLoad<'c> {
    transaction: Transaction<'c, Postgres>,
    loads: Vec<TableLoad>,
    stall_limit: Duration,
}

/// A mart table's columns and their types (`information_schema` names).
#[derive(Debug, Clone)]
pub struct MartColumns {
    table: &'static str,
    types: HashMap<String, String>,
}

impl MartColumns {
    /// The mart's type of each column of `rows`, in frame order.
    pub fn targets_of(&self, rows: &DataFrame) -> anyhow::Result<Vec<TargetType>> {
        rows.get_column_names()
            .iter()
            .map(|column| {
                let data_type = self.types.get(column.as_str()).with_context(|| {
                    format!(
                        "{} has no column {column}; run load-mart migrate",
                        self.table
                    )
                })?;
                TargetType::from_information_schema(data_type).with_context(|| {
                    format!(
                        "{}.{column}: load-mart cannot write {data_type}",
                        self.table
                    )
                })
            })
            .collect()
    }
}

fn staging_name(table: &MartTable) -> String {
    format!("stage_{}", table.short_name())
}

impl MartLoad<'_> {
    /// Copies `rows` (mart columns in plain types) into `table`'s staging table, creating it
    /// on first use.
    pub async fn stage(
        &mut self,
        table: &MartTable,
        rows: EncodedRows,
        first: bool,
    ) -> anyhow::Result<u64> {
        let stage = staging_name(table);
        if first {
            sqlx::query(AssertSqlSafe(pgcopy::staging_table_ddl(&stage, &rows)))
                .execute(&mut *self.transaction)
                .await
                .with_context(|| format!("creating {stage}"))?;
        }
        self.copy_into(&stage, rows).await
    }

    /// Whether the mart holds any row of `days` in `table`.
    pub async fn holds_any(
        &mut self,
        table: &MartTable,
        days: &[NaiveDate],
    ) -> anyhow::Result<bool> {
        sqlx::query_scalar(AssertSqlSafe(holds_days_sql(table)))
            .bind(days)
            .fetch_one(&mut *self.transaction)
            .await
            .with_context(|| format!("looking for the days in {}", table.name))
    }

    /// Copies `rows` into `relation` with binary COPY: a staging table (rows in plain types),
    /// or, for days the mart does not hold, the table itself or a month of it being built
    /// (rows in the mart's types, see [`MartLoad::column_types`]), with no second pass over
    /// the rows. The primary key still refuses a concurrent load of the same days.
    pub async fn copy_into(&mut self, relation: &str, rows: EncodedRows) -> anyhow::Result<u64> {
        if rows.rows == 0 {
            return Ok(0);
        }
        tracing::debug!(relation, rows = rows.rows, bytes = rows.data.len(), "COPY");
        let limit = self.stall_limit;
        let stalled = || {
            anyhow::anyhow!(
                "COPY into {relation} made no progress for {} s: the server took no data (a \
                 lock held by another session, or a lost connection); the load is rolled back, \
                 rerun it (--stall-timeout sets the limit)",
                limit.as_secs()
            )
        };
        let statement = format!(
            "COPY {relation} ({}) FROM STDIN (FORMAT binary)",
            rows.columns.join(", ")
        );
        let mut copy = tokio::time::timeout(limit, self.transaction.copy_in_raw(&statement))
            .await
            .map_err(|_| stalled())?
            .with_context(|| format!("starting COPY into {relation}"))?;
        for chunk in rows.data.chunks(COPY_CHUNK_BYTES) {
            tokio::time::timeout(limit, copy.send(chunk))
                .await
                .map_err(|_| stalled())?
                .with_context(|| format!("sending COPY data into {relation}"))?;
        }
        tokio::time::timeout(limit, copy.finish())
            .await
            .map_err(|_| stalled())?
            .with_context(|| format!("finishing COPY into {relation}"))
    }

    /// Starts the monthly partitions of `table` that `days` need and the mart does not have,
    /// each as a plain table with the parent's columns and constraints but no index yet.
    /// Rows copied into it need no index upkeep; [`MartLoad::attach`] then builds each index
    /// in one sorted pass, which on a million rows takes less than half the time of keeping
    /// four indexes up to date row by row.
    pub async fn start_new_months(
        &mut self,
        table: &MartTable,
        days: &[NaiveDate],
    ) -> anyhow::Result<NewMonths> {
        let mut new = NewMonths::default();
        if !table.monthly_partitions {
            return Ok(new);
        }
        let mut months: Vec<MonthPartition> = days
            .iter()
            .filter_map(|day| MonthPartition::of(table, *day))
            .collect();
        months.dedup();
        for month in months {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(&month.name)
                .fetch_one(&mut *self.transaction)
                .await
                .with_context(|| format!("looking for {}", month.name))?;
            if exists {
                continue;
            }
            sqlx::query(AssertSqlSafe(format!(
                "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
                month.name, table.name
            )))
            .execute(&mut *self.transaction)
            .await
            .with_context(|| format!("creating {}", month.name))?;
            new.months.push(month);
        }
        Ok(new)
    }

    /// Attaches the months built by [`MartLoad::start_new_months`] to their table. PostgreSQL
    /// builds the parent's indexes on each; readers of the table are not blocked (ATTACH takes
    /// a SHARE UPDATE EXCLUSIVE lock), and see the months at commit, with the rest of the load.
    pub async fn attach(&mut self, table: &MartTable, new: NewMonths) -> anyhow::Result<()> {
        for month in new.months {
            sqlx::query(AssertSqlSafe(format!(
                "ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ('{}') TO ('{}')",
                table.name, month.name, month.first_day, month.next_first_day
            )))
            .execute(&mut *self.transaction)
            .await
            .with_context(|| format!("attaching {} to {}", month.name, table.name))?;
        }
        Ok(())
    }

    /// The mart's type of each of `table`'s columns, by column name, from the catalog.
    pub async fn column_types(&mut self, table: &MartTable) -> anyhow::Result<MartColumns> {
        let (schema, name) = table.name.split_once('.').unwrap_or(("public", table.name));
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2",
        )
        .bind(schema)
        .bind(name)
        .fetch_all(&mut *self.transaction)
        .await
        .with_context(|| format!("reading the columns of {}", table.name))?;
        Ok(MartColumns {
            table: table.name,
            types: found.into_iter().collect(),
        })
    }

    /// Makes `table`'s rows of `days` (days the mart holds) exactly the staged rows: deletes
    /// rows of those days that are not staged, inserts new ones, and updates only rows whose
    /// values changed, so a rerun of the same Gold leaves every row (and its `updated_at`) as
    /// it was. Returns what changed, with `rows_staged` of the staged rows.
    pub async fn publish(
        &mut self,
        table: &MartTable,
        columns: &[String],
        days: &[NaiveDate],
        rows_staged: u64,
    ) -> anyhow::Result<TableLoad> {
        let stage = staging_name(table);
        sqlx::query(AssertSqlSafe(format!("ANALYZE {stage}")))
            .execute(&mut *self.transaction)
            .await?;
        let deleted = sqlx::query(AssertSqlSafe(delete_sql(table, &stage)))
            .bind(days)
            .execute(&mut *self.transaction)
            .await
            .with_context(|| format!("deleting stale rows of {}", table.name))?
            .rows_affected();
        // RETURNING cannot tell inserts from updates on a partitioned table (no xmax), so
        // count the staged keys already present first.
        let existing: i64 = sqlx::query_scalar(AssertSqlSafe(existing_sql(table, &stage)))
            .fetch_one(&mut *self.transaction)
            .await
            .with_context(|| format!("matching staged keys of {}", table.name))?;
        let written = sqlx::query(AssertSqlSafe(upsert_sql(table, &stage, columns)))
            .execute(&mut *self.transaction)
            .await
            .with_context(|| format!("upserting into {}", table.name))?
            .rows_affected();
        let inserted = rows_staged.saturating_sub(existing as u64);
        Ok(TableLoad {
            rows_inserted: inserted,
            rows_updated: written.saturating_sub(inserted),
            rows_deleted: deleted,
            ..TableLoad::of(table, days, None, rows_staged)
        })
    }

    /// Records that the rows of `days` just published carry `source` (a second Gold table
    /// they are built from) at `version`, so `--changed` knows when it moves on.
    pub fn record_source(
        &mut self,
        table: &MartTable,
        source: &TableSpec,
        days: &[NaiveDate],
        version: u64,
    ) {
        self.record(TableLoad {
            gold_table: source.name.to_string(),
            ..TableLoad::of(table, days, Some(version), 0)
        });
    }

    /// Adds `load` to what [`MartLoad::commit`] writes to `mart.load_log`.
    pub fn record(&mut self, load: TableLoad) -> TableLoad {
        self.loads.push(load.clone());
        load
    }

    /// Records every table load in `mart.load_log` and commits them together.
    pub async fn commit(mut self, run_id: &str) -> anyhow::Result<Vec<TableLoad>> {
        for load in &self.loads {
            sqlx::query(
                "INSERT INTO mart.load_log (run_id, mart_table, gold_table, gold_version, \
                 first_day, last_day, days, rows_staged, rows_inserted, rows_updated, rows_deleted) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(run_id)
            .bind(&load.mart_table)
            .bind(&load.gold_table)
            .bind(load.gold_version.map(|v| v as i64))
            .bind(load.first_day)
            .bind(load.last_day)
            .bind(load.days as i32)
            .bind(load.rows_staged as i64)
            .bind(load.rows_inserted as i64)
            .bind(load.rows_updated as i64)
            .bind(load.rows_deleted as i64)
            .execute(&mut *self.transaction)
            .await
            .context("recording the load in mart.load_log")?;
        }
        self.transaction
            .commit()
            .await
            .context("committing the load")?;
        Ok(self.loads)
    }

    /// Undoes everything staged and published (a dry run).
    pub async fn rollback(self) -> anyhow::Result<Vec<TableLoad>> {
        self.transaction.rollback().await.context("ROLLBACK")?;
        Ok(self.loads)
    }
}

/// A monthly partition of a mart table: `{table}_yYYYYmMM`, holding the days from the first of
/// the month to the first of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MonthPartition {
    name: String,
    first_day: NaiveDate,
    next_first_day: NaiveDate,
}

impl MonthPartition {
    /// The partition `day` falls in (`None` only past the end of the calendar).
    fn of(table: &MartTable, day: NaiveDate) -> Option<Self> {
        let first_day = day.with_day(1)?;
        let next_first_day = first_day.checked_add_months(chrono::Months::new(1))?;
        Some(MonthPartition {
            name: format!(
                "{}_y{:04}m{:02}",
                table.name,
                first_day.year(),
                first_day.month()
            ),
            first_day,
            next_first_day,
        })
    }

    fn holds(&self, day: NaiveDate) -> bool {
        (self.first_day..self.next_first_day).contains(&day)
    }
}

/// The months a load builds for a table, before they are attached to it.
#[derive(Debug, Default)]
pub struct NewMonths {
    months: Vec<MonthPartition>,
}

impl NewMonths {
    pub fn is_empty(&self) -> bool {
        self.months.is_empty()
    }

    /// The table being built that holds `day`, if `day` falls in a new month.
    pub fn relation_of(&self, day: NaiveDate) -> Option<&str> {
        self.months
            .iter()
            .find(|month| month.holds(day))
            .map(|month| month.name.as_str())
    }
}

/// Whether the mart holds any row of the days in `$1`.
fn holds_days_sql(table: &MartTable) -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM {name} WHERE {date} = ANY($1))",
        name = table.name,
        date = table.date_column,
    )
}

/// Deletes the rows of the days in `$1` that the staging table no longer has.
fn delete_sql(table: &MartTable, stage: &str) -> String {
    format!(
        "DELETE FROM {name} AS t WHERE t.{date} = ANY($1) \
         AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {matches})",
        name = table.name,
        date = table.date_column,
        matches = key_matches(table),
    )
}

/// Counts the staged rows whose key the mart already holds.
fn existing_sql(table: &MartTable, stage: &str) -> String {
    format!(
        "SELECT count(*) FROM {stage} AS s WHERE EXISTS (SELECT 1 FROM {name} AS t WHERE {matches})",
        name = table.name,
        matches = key_matches(table),
    )
}

fn key_matches(table: &MartTable) -> String {
    table
        .key
        .iter()
        .map(|k| format!("s.{k} = t.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Inserts the staged rows, updating a row only when a value differs.
fn upsert_sql(table: &MartTable, stage: &str, columns: &[String]) -> String {
    let list = columns.join(", ");
    let values: Vec<&String> = columns
        .iter()
        .filter(|c| !table.key.contains(&c.as_str()))
        .collect();
    // A row's `updated_at` is when the mart changed it, unless Gold carries its own (the
    // action ledger says when an action's status last moved).
    let stamp = (!columns.iter().any(|c| c == "updated_at"))
        .then(|| "updated_at = CURRENT_TIMESTAMP".to_string());
    let set = values
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .chain(stamp)
        .collect::<Vec<_>>()
        .join(", ");
    let row = |alias: &str| {
        values
            .iter()
            .map(|c| format!("{alias}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "INSERT INTO {name} AS t ({list}) SELECT {list} FROM {stage} \
         ON CONFLICT ({key}) DO UPDATE SET {set} \
         WHERE ({old}) IS DISTINCT FROM ({new})",
        name = table.name,
        key = table.key.join(", "),
        old = row("t"),
        new = row("EXCLUDED"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::load_mart::tables::KPI_DAILY;

    #[test]
    fn upsert_updates_only_changed_non_key_columns() {
        let columns = ["activity_date", "game_name", "dau"].map(String::from);
        let sql = upsert_sql(&KPI_DAILY, "stage_kpi_daily", &columns);
        assert!(sql.contains("ON CONFLICT (activity_date, game_name) DO UPDATE SET dau = EXCLUDED.dau, updated_at = CURRENT_TIMESTAMP"), "{sql}");
        assert!(
            sql.contains("WHERE (t.dau) IS DISTINCT FROM (EXCLUDED.dau)"),
            "{sql}"
        );
    }

    #[test]
    fn a_gold_updated_at_is_carried_not_stamped_twice() {
        use crate::jobs::load_mart::tables::CAMPAIGN_ACTIONS;
        let columns = ["idempotency_key", "status", "updated_at"].map(String::from);
        let sql = upsert_sql(&CAMPAIGN_ACTIONS, "stage_campaign_actions", &columns);
        assert!(
            sql.contains(
                "DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at WHERE"
            ),
            "{sql}"
        );
    }

    #[test]
    fn a_day_belongs_to_the_partition_of_its_calendar_month() {
        use crate::jobs::load_mart::tables::PLAYER_ANALYTICS_DAILY;
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let january = MonthPartition::of(&PLAYER_ANALYTICS_DAILY, day("2026-01-31")).unwrap();
        assert_eq!(january.name, "mart.player_analytics_daily_y2026m01");
        assert_eq!(january.first_day, day("2026-01-01"));
        assert_eq!(january.next_first_day, day("2026-02-01"));
        let december = MonthPartition::of(&PLAYER_ANALYTICS_DAILY, day("2026-12-01")).unwrap();
        assert_eq!(december.next_first_day, day("2027-01-01"));

        let new = NewMonths {
            months: vec![january],
        };
        assert_eq!(
            new.relation_of(day("2026-01-01")),
            Some("mart.player_analytics_daily_y2026m01")
        );
        assert_eq!(new.relation_of(day("2026-02-01")), None);
        assert_eq!(new.relation_of(day("2025-12-31")), None);
    }

    #[test]
    fn delete_keeps_staged_keys_of_the_days() {
        let sql = delete_sql(&KPI_DAILY, "stage_kpi_daily");
        assert_eq!(
            sql,
            "DELETE FROM mart.kpi_daily AS t WHERE t.activity_date = ANY($1) AND NOT EXISTS \
             (SELECT 1 FROM stage_kpi_daily AS s WHERE s.activity_date = t.activity_date AND \
             s.game_name = t.game_name)"
        );
    }
}
