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
}
