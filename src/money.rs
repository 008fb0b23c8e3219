//! Money in polars expressions. Dollars are summed as whole micro-dollars: sums of integers do
//! not depend on the order a parallel aggregation adds them in, so a rerun over the same rows
//! read in another order gives bit-identical revenue.

use polars::prelude::*;

/// Dollars as whole micro-dollars (null as zero).
pub fn micros(dollars: Expr) -> Expr {
    (dollars.fill_null(lit(0.0)) * lit(1e6))
        .round(0, RoundMode::HalfToEven)
        .cast(DataType::Int64)
}

/// [`micros`] of one amount, to the bit: `None` where the column would hold a null (not a
/// number, or beyond an `i64` of micro-dollars), as polars' cast makes it.
pub fn micros_of(dollars: f64) -> Option<i64> {
    // The bounds of an i64, both exact in f64: -2^63 is one, 2^63 is one past the last.
    const FIRST: f64 = i64::MIN as f64;
    const PAST_LAST: f64 = -FIRST;
    let micros = (dollars * 1e6).round_ties_even();
    (FIRST..PAST_LAST)
        .contains(&micros)
        .then_some(micros as i64)
}

/// Micro-dollars back to dollars.
pub fn dollars(micros: Expr) -> Expr {
    micros.cast(DataType::Float64) / lit(1e6)
}

/// [`dollars`] of one amount, to the bit: polars divides a column by a constant as a
/// multiplication by its reciprocal, and so does this.
pub fn dollars_of(micros: i64) -> f64 {
    micros as f64 * (1.0 / 1e6)
}

/// The sum of a dollar column, independent of summation order.
pub fn money_sum(column: &str) -> Expr {
    dollars(micros(col(column)).sum())
}

/// The sum of a dollar column over the rows where `within` holds, independent of summation
/// order.
pub fn money_sum_where(column: &str, within: Expr) -> Expr {
    dollars(micros(col(column)).filter(within).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_amount_in_dollars_is_what_a_column_of_them_is() {
        // Amounts where x / 1e6 and x * (1 / 1e6) round differently are common; the two must
        // agree on every one of them.
        let amounts: Vec<i64> = (0..20_000)
            .map(|i: i64| i * 7_919 + i * i * 13)
            .chain([1, 3, 999_999, -2_500_001, i64::from(i32::MAX)])
            .collect();
        let frame = df!("micros" => &amounts).unwrap();
        let in_dollars = frame
            .lazy()
            .select([dollars(col("micros"))])
            .collect()
            .unwrap();
        let column: Vec<f64> = in_dollars
            .column("micros")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let one_by_one: Vec<f64> = amounts.iter().map(|m| dollars_of(*m)).collect();
        assert_eq!(column, one_by_one);
    }

    #[test]
    fn one_amount_in_micros_is_what_a_column_of_them_is() {
        // Halves of a micro-dollar (rounded to even), amounts that are not exact in binary,
        // and the edges of an i64 of micro-dollars, past which the column holds a null.
        let amounts: Vec<f64> = (0..20_000)
            .map(|i| f64::from(i) * 0.000_000_5 + f64::from(i % 7) * 0.01)
            .chain((0..2_000).map(|i| f64::from(i) * -1.37 + 0.1))
            .chain([
                0.0,
                -0.0,
                0.000_000_5,
                0.000_001_5,
                -0.000_002_5,
                19.99,
                9_223_372_036_854.775,
                9_223_372_036_855.0,
                -9_223_372_036_854.775,
                -9_223_372_036_855.0,
                1e300,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
            ])
            .collect();
        let frame = df!("dollars" => &amounts).unwrap();
        let in_micros = frame
            .lazy()
            .select([micros(col("dollars"))])
            .collect()
            .unwrap();
        let column: Vec<Option<i64>> = in_micros
            .column("dollars")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect();
        let one_by_one: Vec<Option<i64>> = amounts.iter().map(|d| micros_of(*d)).collect();
        assert_eq!(column, one_by_one);
        // Both kinds: amounts the cast keeps and amounts it makes null.
        assert!(
            column.contains(&None) && column.iter().flatten().any(|m| m.unsigned_abs() > 1 << 60)
        );
    }
}
