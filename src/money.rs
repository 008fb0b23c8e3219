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

/// The sum of a dollar column, independent of summation order.
pub fn money_sum(column: &str) -> Expr {
    dollars(micros(col(column)).sum())
}

/// The sum of a dollar column over the rows where `within` holds, independent of summation
/// order.
pub fn money_sum_where(column: &str, within: Expr) -> Expr {
    dollars(micros(col(column)).filter(within).sum())
}
