//! Typed Rust rows into Arrow batches shaped by a table spec, and the filters stages read with.

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::json::ReaderBuilder;
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

/// `column IN (values)`: how a stage reads only the rows of the keys it touches.
pub fn column_in(column: &str, values: impl IntoIterator<Item = String>) -> Expr {
    col(column).in_list(values.into_iter().map(lit).collect(), false)
}
