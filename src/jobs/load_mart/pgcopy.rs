//! Polars frames as PostgreSQL binary `COPY` data, and the staging-table columns they fill.
//!
//! Binary COPY skips the server's text parsing, which is where `psql \copy` of a CSV spends
//! its time. A frame goes in either as the nearest plain PostgreSQL types (into a staging
//! table, [`encode`]) or as the exact types of a mart table ([`encode_as`], COPY straight into
//! it). For the latter the encoder converts as PostgreSQL's own assignment casts would: a
//! double becomes NUMERIC through its 15 significant digits (as `float8::numeric` does; the
//! column's scale then rounds on receipt) and INTEGER by rounding half to even, so both paths
//! store the same values.

use std::fmt::Write as _;

use polars::prelude::*;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CopyError {
    #[error("column {column}: no PostgreSQL binary encoding for {dtype}")]
    UnsupportedType { column: String, dtype: DataType },
    #[error("column {column}: {dtype} does not go into a {target:?} column")]
    Mismatch {
        column: String,
        dtype: DataType,
        target: TargetType,
    },
    #[error("column {column}: {value} is out of range for integer")]
    OutOfRange { column: String, value: f64 },
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

/// `CREATE TEMP TABLE` for a staging table holding the columns of `rows`; dropped at commit.
pub fn staging_table_ddl(table: &str, rows: &EncodedRows) -> String {
    let columns: Vec<String> = rows
        .columns
        .iter()
        .zip(&rows.plain_types)
        .map(|(name, pg_type)| format!("{name} {pg_type}"))
        .collect();
    format!(
        "CREATE TEMP TABLE {table} ({}) ON COMMIT DROP",
        columns.join(", ")
    )
}

/// A mart column's type, as `information_schema.columns.data_type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetType {
    Boolean,
    Integer,
    BigInt,
    Double,
    Numeric,
    Text,
    Date,
    Timestamp,
    TimestampTz,
}

impl TargetType {
    pub fn from_information_schema(data_type: &str) -> Option<Self> {
        Some(match data_type {
            "boolean" => TargetType::Boolean,
            "integer" => TargetType::Integer,
            "bigint" => TargetType::BigInt,
            "double precision" => TargetType::Double,
            "numeric" => TargetType::Numeric,
            "text" => TargetType::Text,
            "date" => TargetType::Date,
            "timestamp without time zone" => TargetType::Timestamp,
            "timestamp with time zone" => TargetType::TimestampTz,
            _ => return None,
        })
    }
}

/// One column's values, typed, ready to be written row by row.
enum Values<'a> {
    Boolean(Vec<Option<bool>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Float64(Vec<Option<f64>>),
    /// Written as NUMERIC.
    Numeric(Vec<Option<f64>>),
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

    /// The column's values converted to `target`, as PostgreSQL's assignment cast would.
    fn as_target(column: &'a Column, target: TargetType) -> Result<Self, CopyError> {
        let series = column.as_materialized_series();
        let mismatch = || CopyError::Mismatch {
            column: column.name().to_string(),
            dtype: series.dtype().clone(),
            target,
        };
        let floats = || -> Result<Vec<Option<f64>>, CopyError> {
            Ok(series.cast(&DataType::Float64)?.f64()?.iter().collect())
        };
        Ok(match (series.dtype(), target) {
            (DataType::Boolean, TargetType::Boolean)
            | (DataType::Int32, TargetType::Integer)
            | (DataType::Int64, TargetType::BigInt)
            | (DataType::Float64, TargetType::Double)
            | (DataType::String, TargetType::Text)
            | (DataType::Date, TargetType::Date)
            | (DataType::Datetime(..), TargetType::Timestamp | TargetType::TimestampTz) => {
                Self::of(column)?
            }
            (DataType::Int32, TargetType::BigInt) => {
                Values::Int64(series.cast(&DataType::Int64)?.i64()?.iter().collect())
            }
            (DataType::Int64 | DataType::Float64, TargetType::Integer) => {
                let to_integer = |value: f64| {
                    let rounded = value.round_ties_even();
                    (rounded >= f64::from(i32::MIN) && rounded <= f64::from(i32::MAX))
                        .then_some(rounded as i32)
                        .ok_or_else(|| CopyError::OutOfRange {
                            column: column.name().to_string(),
                            value,
                        })
                };
                Values::Int32(
                    floats()?
                        .into_iter()
                        .map(|v| v.map(to_integer).transpose())
                        .collect::<Result<_, _>>()?,
                )
            }
            (DataType::Int32 | DataType::Int64, TargetType::Double) => Values::Float64(floats()?),
            (DataType::Int32 | DataType::Int64 | DataType::Float64, TargetType::Numeric) => {
                Values::Numeric(floats()?)
            }
            _ => return Err(mismatch()),
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
            Values::Numeric(v) => match v[row] {
                Some(x) => numeric(out, x),
                None => out.extend_from_slice(&NULL),
            },
            Values::Text(v) => match v[row] {
                Some(s) => field(out, s.as_bytes()),
                None => out.extend_from_slice(&NULL),
            },
        }
    }
}

/// A double as a binary NUMERIC field. As `float8::numeric`: the decimal of its 15 significant
/// digits (DBL_DIG); the column's typmod rounds it to scale on receipt.
fn numeric(out: &mut Vec<u8>, x: f64) {
    const POSITIVE: u16 = 0x0000;
    const NEGATIVE: u16 = 0x4000;
    const NAN: u16 = 0xC000;
    const PLUS_INFINITY: u16 = 0xD000;
    const MINUS_INFINITY: u16 = 0xF000;
    let header = |out: &mut Vec<u8>, groups: &[i16], weight: i16, sign: u16, dscale: i16| {
        out.extend_from_slice(&(8 + 2 * groups.len() as i32).to_be_bytes());
        out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for group in groups {
            out.extend_from_slice(&group.to_be_bytes());
        }
    };
    if x.is_nan() {
        return header(out, &[], 0, NAN, 0);
    }
    if x.is_infinite() {
        let sign = if x > 0.0 {
            PLUS_INFINITY
        } else {
            MINUS_INFINITY
        };
        return header(out, &[], 0, sign, 0);
    }
    if x == 0.0 {
        return header(out, &[], 0, POSITIVE, 0);
    }
    // "d.dddddddddddddde±x": 15 significant digits, correctly rounded, as C's %.14e. Written
    // into a buffer on the stack: a load encodes millions of these, and an allocation each
    // was a fifth of the client's time.
    let mut text = DecimalText::default();
    // Any f64 takes at most 22 bytes in this form.
    let _ = write!(text, "{:.14e}", x.abs());
    let text = text.as_str();
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits = [0i16; 15];
    let mut len = 0;
    for digit in mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .take(digits.len())
    {
        digits[len] = i16::from(digit - b'0');
        len += 1;
    }
    while len > 0 && digits[len - 1] == 0 {
        len -= 1;
    }
    let digits = &digits[..len];
    // Digit k stands for 10^(exponent - k); NUMERIC groups four decimal digits per base-10000
    // digit, group g covering the powers 4g..4g+3, the first group being the weight. Fifteen
    // digits span at most five groups.
    let lowest_power = exponent - (digits.len() as i32 - 1);
    let weight = exponent.div_euclid(4);
    let mut groups = [0i16; 5];
    let mut used = (weight - lowest_power.div_euclid(4) + 1) as usize;
    for (k, digit) in digits.iter().enumerate() {
        let power = exponent - k as i32;
        groups[(weight - power.div_euclid(4)) as usize] +=
            digit * 10i16.pow(power.rem_euclid(4) as u32);
    }
    while used > 0 && groups[used - 1] == 0 {
        used -= 1;
    }
    let groups = &groups[..used];
    let sign = if x < 0.0 { NEGATIVE } else { POSITIVE };
    header(
        out,
        groups,
        weight as i16,
        sign,
        (-lowest_power).max(0) as i16,
    );
}

/// A few bytes of formatted text on the stack.
#[derive(Default)]
struct DecimalText {
    bytes: [u8; 32],
    len: usize,
}

impl DecimalText {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever written in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for DecimalText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The whole of `frame` as one binary COPY stream of the nearest plain PostgreSQL types (the
/// staging table's, see [`staging_table_ddl`]).
pub fn encode(frame: &DataFrame) -> Result<Vec<u8>, CopyError> {
    let columns = frame
        .columns()
        .iter()
        .map(Values::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(stream(frame.height(), &columns))
}

/// `frame` as one binary COPY stream into columns of the `targets` types, in frame order.
pub fn encode_as(frame: &DataFrame, targets: &[TargetType]) -> Result<Vec<u8>, CopyError> {
    let columns = frame
        .columns()
        .iter()
        .zip(targets)
        .map(|(column, target)| Values::as_target(column, *target))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(stream(frame.height(), &columns))
}

/// A frame encoded for COPY, with what a COPY statement (or a staging table) needs to know of
/// it. Encoding is most of a load's client work, so it is done where the rows are read, ahead
/// of the COPY that sends them.
#[derive(Debug)]
pub struct EncodedRows {
    /// The frame's columns, in the order the stream carries them.
    pub columns: Vec<String>,
    /// Each column's nearest plain PostgreSQL type, as a staging table declares it.
    pub plain_types: Vec<&'static str>,
    pub rows: u64,
    pub data: Vec<u8>,
}

impl EncodedRows {
    /// `frame` in the mart's column types (`targets`, in frame order) or, without them, in the
    /// nearest plain types (a staging table's, see [`staging_table_ddl`]).
    pub fn of(frame: &DataFrame, targets: Option<&[TargetType]>) -> Result<Self, CopyError> {
        let data = match targets {
            Some(targets) => encode_as(frame, targets)?,
            None => encode(frame)?,
        };
        Ok(EncodedRows {
            columns: frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect(),
            plain_types: frame
                .columns()
                .iter()
                .map(|c| pg_type(c.name(), c.dtype()))
                .collect::<Result<_, _>>()?,
            rows: frame.height() as u64,
            data,
        })
    }
}

/// Signature, header, one tuple per row, trailer.
fn stream(rows: usize, columns: &[Values]) -> Vec<u8> {
    let field_count = i16::try_from(columns.len()).expect("a mart table has under 32k columns");
    // A rough guess that avoids most regrowth: 12 bytes a field.
    let mut out = Vec::with_capacity(19 + rows * (2 + 12 * columns.len()) + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
    out.extend_from_slice(&0i32.to_be_bytes()); // no header extension
    for row in 0..rows {
        out.extend_from_slice(&field_count.to_be_bytes());
        for column in columns {
            column.write(row, &mut out);
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
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

    /// The NUMERIC field of `x`: (weight, sign, dscale, base-10000 digits).
    fn numeric_of(x: f64) -> (i16, u16, i16, Vec<i16>) {
        let mut out = Vec::new();
        numeric(&mut out, x);
        let word = |at: usize| i16::from_be_bytes([out[at], out[at + 1]]);
        let length = i32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(length, out.len() - 4);
        let groups = word(4) as usize;
        (
            word(6),
            word(8) as u16,
            word(10),
            (0..groups).map(|g| word(12 + 2 * g)).collect(),
        )
    }

    #[test]
    fn numerics_carry_the_fifteen_digits_postgres_would_cast_a_double_to() {
        // 0.12345 is 0.1234499999… in binary; float8::numeric sees 0.123450000000000.
        assert_eq!(numeric_of(0.12345), (-1, 0, 5, vec![1234, 5000]));
        assert_eq!(numeric_of(-12345.5), (1, 0x4000, 1, vec![1, 2345, 5000]));
        assert_eq!(numeric_of(10000.0), (1, 0, 0, vec![1]));
        assert_eq!(numeric_of(0.0001), (-1, 0, 4, vec![1]));
        assert_eq!(numeric_of(0.00001), (-2, 0, 5, vec![1000]));
        assert_eq!(numeric_of(0.0), (0, 0, 0, vec![]));
        // 0.1 + 0.2 = 0.30000000000000004 has 15 significant digits of 0.3.
        assert_eq!(numeric_of(0.1 + 0.2), (-1, 0, 1, vec![3000]));
        assert_eq!(numeric_of(f64::NAN).1, 0xC000);
    }

    #[test]
    fn integers_round_half_to_even_and_refuse_overflow() {
        let frame = df!("m" => [2.5, 3.5, -0.5]).unwrap();
        let bytes = encode_as(&frame, &[TargetType::Integer]).unwrap();
        let values: Vec<i32> = (0..3)
            .map(|row| {
                let at = 19 + row * 10 + 6;
                i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
            })
            .collect();
        assert_eq!(values, [2, 4, 0]);
        let too_big = df!("m" => [3e9]).unwrap();
        let error = encode_as(&too_big, &[TargetType::Integer]).unwrap_err();
        assert!(error.to_string().contains("out of range"), "{error}");
        let text = df!("t" => ["x"]).unwrap();
        assert!(encode_as(&text, &[TargetType::Date]).is_err());
    }

    #[test]
    fn names_a_column_it_cannot_encode() {
        let frame = df!("small" => [1i8]).unwrap();
        let error = encode(&frame).unwrap_err().to_string();
        assert!(error.contains("small"), "{error}");
    }
}
