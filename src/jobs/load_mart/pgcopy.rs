//! Polars frames as PostgreSQL binary `COPY` data, and the staging-table columns they fill.
//!
//! Binary COPY skips the server's text parsing, which is where `psql \copy` of a CSV spends
//! its time. Each column goes in as the nearest plain PostgreSQL type; the `INSERT … SELECT`
//! from staging into the mart applies the target's types (NUMERIC, INTEGER) with assignment
//! casts, so the encoder never has to write NUMERIC's base-10000 format.

use polars::prelude::*;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CopyError {
    #[error("column {column}: no PostgreSQL binary encoding for {dtype}")]
    UnsupportedType { column: String, dtype: DataType },
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * 86_400_000_000;

/// The PostgreSQL type a column of `dtype` is staged as.
pub fn pg_type(column: &str, dtype: &DataType) -> Result<&'static str, CopyError> {
    Ok(match dtype {
        DataType::Boolean => "boolean",
        DataType::Int32 => "integer",
        DataType::Int64 => "bigint",
        DataType::Float64 => "double precision",
        DataType::String => "text",
        DataType::Date => "date",
        DataType::Datetime(_, Some(_)) => "timestamptz",
        DataType::Datetime(_, None) => "timestamp",
        other => {
            return Err(CopyError::UnsupportedType {
                column: column.to_string(),
                dtype: other.clone(),
            });
        }
    })
}

/// `CREATE TEMP TABLE` for a staging table holding `frame`'s columns; dropped at commit.
pub fn staging_table_ddl(table: &str, frame: &DataFrame) -> Result<String, CopyError> {
    let columns = frame
        .columns()
        .iter()
        .map(|c| Ok(format!("{} {}", c.name(), pg_type(c.name(), c.dtype())?)))
        .collect::<Result<Vec<_>, CopyError>>()?;
    Ok(format!(
        "CREATE TEMP TABLE {table} ({}) ON COMMIT DROP",
        columns.join(", ")
    ))
}

/// One column's values, typed, ready to be written row by row.
enum Values<'a> {
    Boolean(Vec<Option<bool>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Float64(Vec<Option<f64>>),
    Text(Vec<Option<&'a str>>),
    /// Days since 2000-01-01.
    Date(Vec<Option<i32>>),
    /// Microseconds since 2000-01-01.
    Timestamp(Vec<Option<i64>>),
}

impl<'a> Values<'a> {
    fn of(column: &'a Column) -> Result<Self, CopyError> {
        let series = column.as_materialized_series();
        Ok(match series.dtype() {
            DataType::Boolean => Values::Boolean(series.bool()?.iter().collect()),
            DataType::Int32 => Values::Int32(series.i32()?.iter().collect()),
            DataType::Int64 => Values::Int64(series.i64()?.iter().collect()),
            DataType::Float64 => Values::Float64(series.f64()?.iter().collect()),
            DataType::String => Values::Text(series.str()?.iter().collect()),
            DataType::Date => Values::Date(
                series
                    .date()?
                    .physical()
                    .iter()
                    .map(|days| days.map(|d| d - PG_EPOCH_DAYS))
                    .collect(),
            ),
            DataType::Datetime(unit, _) => {
                let per_micro = match unit {
                    TimeUnit::Nanoseconds => 1_000,
                    TimeUnit::Microseconds => 1,
                    TimeUnit::Milliseconds => return Self::millis(series),
                };
                Values::Timestamp(
                    series
                        .datetime()?
                        .physical()
                        .iter()
                        .map(|t| t.map(|t| t.div_euclid(per_micro) - PG_EPOCH_MICROS))
                        .collect(),
                )
            }
            other => {
                return Err(CopyError::UnsupportedType {
                    column: column.name().to_string(),
                    dtype: other.clone(),
                });
            }
        })
    }

    fn millis(series: &Series) -> Result<Self, CopyError> {
        Ok(Values::Timestamp(
            series
                .datetime()?
                .physical()
                .iter()
                .map(|t| t.map(|t| t * 1_000 - PG_EPOCH_MICROS))
                .collect(),
        ))
    }

    /// Appends row `row` as a binary COPY field: length, then the value in network order.
    fn write(&self, row: usize, out: &mut Vec<u8>) {
        fn field(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        const NULL: [u8; 4] = (-1i32).to_be_bytes();
        match self {
            Values::Boolean(v) => match v[row] {
                Some(b) => field(out, &[u8::from(b)]),
                None => out.extend_from_slice(&NULL),
            },
            Values::Int32(v) | Values::Date(v) => match v[row] {
                Some(n) => field(out, &n.to_be_bytes()),
                None => out.extend_from_slice(&NULL),
            },
            Values::Int64(v) | Values::Timestamp(v) => match v[row] {
                Some(n) => field(out, &n.to_be_bytes()),
                None => out.extend_from_slice(&NULL),
            },
            Values::Float64(v) => match v[row] {
                Some(x) => field(out, &x.to_be_bytes()),
                None => out.extend_from_slice(&NULL),
            },
            Values::Text(v) => match v[row] {
                Some(s) => field(out, s.as_bytes()),
                None => out.extend_from_slice(&NULL),
            },
        }
    }
}

/// The whole of `frame` as one binary COPY stream: signature, header, tuples, trailer.
pub fn encode(frame: &DataFrame) -> Result<Vec<u8>, CopyError> {
    let columns = frame
        .columns()
        .iter()
        .map(Values::of)
        .collect::<Result<Vec<_>, _>>()?;
    let field_count = i16::try_from(columns.len()).expect("a mart table has under 32k columns");
    // A rough guess that avoids most regrowth: 12 bytes a field.
    let mut out = Vec::with_capacity(19 + frame.height() * (2 + 12 * columns.len()) + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
    out.extend_from_slice(&0i32.to_be_bytes()); // no header extension
    for row in 0..frame.height() {
        out.extend_from_slice(&field_count.to_be_bytes());
        for column in &columns {
            column.write(row, &mut out);
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_binary_copy_layout() {
        let frame = df!(
            "id" => [Some(7i32), None],
            "name" => [Some("ab"), None],
            "flag" => [Some(true), Some(false)],
        )
        .unwrap();
        let bytes = encode(&frame).unwrap();
        let mut expected = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        expected.extend_from_slice(&[0, 3, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 2, b'a', b'b']);
        expected.extend_from_slice(&[0, 0, 0, 1, 1]);
        expected.extend_from_slice(&[0, 3, 255, 255, 255, 255, 255, 255, 255, 255]);
        expected.extend_from_slice(&[0, 0, 0, 1, 0, 255, 255]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn dates_and_timestamps_count_from_2000() {
        let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
        let frame = df!("d" => [day]).unwrap().lazy().with_column(
            col("d")
                .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
                .alias("t"),
        );
        let bytes = encode(&frame.collect().unwrap()).unwrap();
        let tuple = &bytes[19..bytes.len() - 2];
        assert_eq!(&tuple[..2], &2i16.to_be_bytes());
        assert_eq!(
            &tuple[6..10],
            &1i32.to_be_bytes(),
            "one day after 2000-01-01"
        );
        assert_eq!(&tuple[14..22], &86_400_000_000i64.to_be_bytes());
    }

    #[test]
    fn names_a_column_it_cannot_encode() {
        let frame = df!("small" => [1i8]).unwrap();
        let error = encode(&frame).unwrap_err().to_string();
        assert!(error.contains("small"), "{error}");
    }
}
