//! The Postgres side of load-mart: migrations, monthly partitions, and the one transaction a
//! load publishes in (binary COPY into staging, then delete-and-upsert into the mart, or a
//! plain insert of days the mart does not hold yet).

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate};
use polars::prelude::DataFrame;
use serde::Serialize;
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use super::pgcopy::{self, TargetType};
use super::tables::MartTable;
use crate::lake::TableSpec;

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
    fn of(
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

    /// Creates the monthly partitions `days` fall in. Each is its own short transaction: a
    /// partition's creation locks the parent, and must not hold that lock for a whole load.
    pub async fn ensure_month_partitions(
        &mut self,
        table: &MartTable,
        days: &[NaiveDate],
    ) -> anyhow::Result<()> {
        let mut months: Vec<NaiveDate> = days.iter().filter_map(|d| d.with_day(1)).collect();
        months.dedup();
        for month in months {
            let next = month
                .checked_add_months(chrono::Months::new(1))
                .context("a month past the calendar")?;
            let statement = format!(
                "CREATE TABLE IF NOT EXISTS {name}_y{year:04}m{month:02} PARTITION OF {name} \
                 FOR VALUES FROM ('{month_start}') TO ('{next}')",
                name = table.name,
                year = month.year(),
                month = month.month(),
                month_start = month,
            );
            sqlx::query(&statement)
                .execute(&mut self.connection)
                .await
                .with_context(|| format!("creating the {month} partition of {}", table.name))?;
        }
        Ok(())
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

    /// Opens the transaction a load publishes in.
    pub async fn begin(&mut self) -> anyhow::Result<MartLoad<'_>> {
        Ok(MartLoad {
            transaction: self.connection.begin().await.context("BEGIN on the mart")?,
            loads: Vec::new(),
            column_types: HashMap::new(),
        })
    }
}

/// One load: every table it stages and publishes becomes visible at once, at commit, so a
/// dashboard never sees half a day.
pub struct MartLoad<'c> {
    transaction: Transaction<'c, Postgres>,
    loads: Vec<TableLoad>,
    /// Per mart table, its columns' types (`information_schema` names).
    column_types: HashMap<&'static str, HashMap<String, String>>,
}

fn staging_name(table: &MartTable) -> String {
    format!("stage_{}", table.short_name())
}

impl MartLoad<'_> {
    /// Copies `rows` (mart columns) into `table`'s staging table, creating it on first use.
    pub async fn stage(
        &mut self,
        table: &MartTable,
        rows: &DataFrame,
        first: bool,
    ) -> anyhow::Result<u64> {
        let stage = staging_name(table);
        if first {
            let ddl = pgcopy::staging_table_ddl(&stage, rows)?;
            sqlx::query(&ddl)
                .execute(&mut *self.transaction)
                .await
                .with_context(|| format!("creating {stage}"))?;
        }
        if rows.height() == 0 {
            return Ok(0);
        }
        let data = pgcopy::encode(rows)?;
        let mut copy = self
            .transaction
            .copy_in_raw(&format!("COPY {stage} FROM STDIN (FORMAT binary)"))
            .await
            .with_context(|| format!("starting COPY into {stage}"))?;
        copy.send(data).await.context("sending COPY data")?;
        copy.finish()
            .await
            .with_context(|| format!("finishing COPY into {stage} for {}", table.name))
    }

    /// Whether the mart holds any row of `days` in `table`.
    pub async fn holds_any(
        &mut self,
        table: &MartTable,
        days: &[NaiveDate],
    ) -> anyhow::Result<bool> {
        sqlx::query_scalar(&holds_days_sql(table))
            .bind(days)
            .fetch_one(&mut *self.transaction)
            .await
            .with_context(|| format!("looking for the days in {}", table.name))
    }

    /// Copies `rows` (mart columns) straight into `table` in its own column types, for days
    /// the mart does not hold: no staging, no second pass over the rows. The primary key still
    /// refuses a concurrent load of the same days.
    pub async fn copy_fresh(&mut self, table: &MartTable, rows: &DataFrame) -> anyhow::Result<u64> {
        if rows.height() == 0 {
            return Ok(0);
        }
        let targets = self.column_types(table, rows).await?;
        let data = pgcopy::encode_as(rows, &targets)
            .with_context(|| format!("encoding rows for {}", table.name))?;
        let columns: Vec<&str> = rows.get_column_names().iter().map(|c| c.as_str()).collect();
        let mut copy = self
            .transaction
            .copy_in_raw(&format!(
                "COPY {} ({}) FROM STDIN (FORMAT binary)",
                table.name,
                columns.join(", ")
            ))
            .await
            .with_context(|| format!("starting COPY into {}", table.name))?;
        copy.send(data).await.context("sending COPY data")?;
        copy.finish()
            .await
            .with_context(|| format!("finishing COPY into {}", table.name))
    }

    /// The mart's type of each column of `rows`, read once per table from the catalog.
    async fn column_types(
        &mut self,
        table: &MartTable,
        rows: &DataFrame,
    ) -> anyhow::Result<Vec<TargetType>> {
        if !self.column_types.contains_key(table.name) {
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
            self.column_types
                .insert(table.name, found.into_iter().collect());
        }
        let known = &self.column_types[table.name];
        rows.get_column_names()
            .iter()
            .map(|column| {
                let data_type = known.get(column.as_str()).with_context(|| {
                    format!(
                        "{} has no column {column}; run load-mart migrate",
                        table.name
                    )
                })?;
                TargetType::from_information_schema(data_type).with_context(|| {
                    format!(
                        "{}.{column}: load-mart cannot write {data_type}",
                        table.name
                    )
                })
            })
            .collect()
    }

    /// Records a load whose rows went straight in with [`MartLoad::copy_fresh`].
    pub fn record_fresh(
        &mut self,
        table: &MartTable,
        days: &[NaiveDate],
        gold_version: Option<u64>,
        rows: u64,
    ) -> TableLoad {
        self.record(TableLoad {
            rows_inserted: rows,
            ..TableLoad::of(table, days, gold_version, rows)
        })
    }

    /// Makes `table`'s rows of `days` (days the mart holds) exactly the staged rows: deletes
    /// rows of those days that are not staged, inserts new ones, and updates only rows whose
    /// values changed, so a rerun of the same Gold leaves every row (and its `updated_at`) as
    /// it was.
    pub async fn publish(
        &mut self,
        table: &MartTable,
        columns: &[String],
        days: &[NaiveDate],
        gold_version: Option<u64>,
        rows_staged: u64,
    ) -> anyhow::Result<TableLoad> {
        let stage = staging_name(table);
        sqlx::query(&format!("ANALYZE {stage}"))
            .execute(&mut *self.transaction)
            .await?;
        let deleted = sqlx::query(&delete_sql(table, &stage))
            .bind(days)
            .execute(&mut *self.transaction)
            .await
            .with_context(|| format!("deleting stale rows of {}", table.name))?
            .rows_affected();
        // RETURNING cannot tell inserts from updates on a partitioned table (no xmax), so
        // count the staged keys already present first.
        let existing: i64 = sqlx::query_scalar(&existing_sql(table, &stage))
            .fetch_one(&mut *self.transaction)
            .await
            .with_context(|| format!("matching staged keys of {}", table.name))?;
        let written = sqlx::query(&upsert_sql(table, &stage, columns))
            .execute(&mut *self.transaction)
            .await
            .with_context(|| format!("upserting into {}", table.name))?
            .rows_affected();
        let inserted = rows_staged.saturating_sub(existing as u64);
        Ok(self.record(TableLoad {
            rows_inserted: inserted,
            rows_updated: written.saturating_sub(inserted),
            rows_deleted: deleted,
            ..TableLoad::of(table, days, gold_version, rows_staged)
        }))
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

    fn record(&mut self, load: TableLoad) -> TableLoad {
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
