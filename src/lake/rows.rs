//! Typed Rust rows into Arrow batches shaped by a table spec, and the filters stages read with.

use chrono::NaiveDate;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::json::ReaderBuilder;
use deltalake::datafusion::common::ScalarValue;
use deltalake::datafusion::prelude::{Expr, col, lit};
use serde::Serialize;

use super::{LakeError, TableSpec};

/// One record batch of `rows`, serialised field by field into the table's columns (dates as
/// days since the epoch, timestamps as microseconds). Extra fields are an error.
pub fn rows_to_batch<R: Serialize>(spec: &TableSpec, rows: &[R]) -> Result<RecordBatch, LakeError> {
    let schema_error = |err: deltalake::arrow::error::ArrowError| LakeError::Schema {
        table: spec.name,
        detail: err.to_string(),
    };
    let mut decoder = ReaderBuilder::new(spec.arrow_schema())
        .with_batch_size(rows.len().max(1))
        .with_strict_mode(true)
        .build_decoder()
        .map_err(schema_error)?;
    decoder.serialize(rows).map_err(schema_error)?;
    Ok(decoder
        .flush()
        .map_err(schema_error)?
        .unwrap_or_else(|| RecordBatch::new_empty(spec.arrow_schema())))
}

/// `column = day`, typed as a date.
pub fn column_on_day(column: &str, day: NaiveDate) -> Expr {
    col(column).eq(date_literal(day))
}

/// `column < day`, typed as a date.
pub fn column_before_day(column: &str, day: NaiveDate) -> Expr {
    col(column).lt(date_literal(day))
}

fn date_literal(day: NaiveDate) -> Expr {
    lit(ScalarValue::Date32(Some(
        crate::date_range::days_since_epoch(day),
    )))
}

/// `column BETWEEN first AND last` of `range`, typed as dates.
pub fn column_in_range(column: &str, range: &crate::date_range::DateRange) -> Expr {
    col(column).between(date_literal(range.first()), date_literal(range.last()))
}

/// `column != 0` (and not null), for a float column: the rows that move a sum.
pub fn column_nonzero(column: &str) -> Expr {
    col(column).not_eq(lit(0.0))
}

/// `column <= value`, for an integer column.
pub fn column_at_most(column: &str, value: i32) -> Expr {
    col(column).lt_eq(lit(value))
}

/// `lower <= column < upper` for a string column; an open end is unbounded, and the slice with
/// no lower bound also holds the nulls, so slices that share their bounds cover every row once.
pub(super) fn column_in_span(column: &str, lower: Option<&str>, upper: Option<&str>) -> Expr {
    let at_least = lower.map(|lower| col(column).gt_eq(lit(lower.to_owned())));
    let below = upper.map(|upper| col(column).lt(lit(upper.to_owned())));
    match (at_least, below) {
        (Some(at_least), Some(below)) => at_least.and(below),
        (Some(at_least), None) => at_least,
        (None, Some(below)) => below.or(col(column).is_null()),
        (None, None) => lit(true),
    }
}
