//! A busy ingest day is read in slices of players, so a stage's memory follows the slice, not
//! the day.
//!
//! What bronze-to-silver does to an event depends only on its own player's rows (the duplicate
//! key, the profile, the enrichment), and what check-contracts validate counts per session is
//! one player's too, so going through a day slice by slice gives exactly what reading it whole
//! would. Player ids are keyed hashes in hex, so ranges of their leading hex digits give slices
//! of even size; any other id still falls in exactly one slice, only the sizes are then uneven.

use polars::prelude::{DataFrame, IntoLazy, PolarsResult, col, lit};

use super::Expr;
use super::rows::column_in_span;

/// The column slices are cut on.
const PLAYER_ID: &str = "player_id";

/// Bounds are this many leading hex digits: 65,536 values, far more slices than ever needed.
const BOUND_DIGITS: usize = 4;
const BOUND_VALUES: usize = 16usize.pow(BOUND_DIGITS as u32);

/// The players whose id is at least `lower` and below `upper` (an open end is unbounded; the
/// first slice also holds rows without a player id, which the contracts reject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerSlice {
    lower: Option<String>,
    upper: Option<String>,
}

impl PlayerSlice {
    /// Every player in one slice.
    #[cfg(test)]
    fn all() -> Self {
        PlayerSlice {
            lower: None,
            upper: None,
        }
    }

    /// Slices of about `max_rows` rows each for a day of `rows` rows (at least one slice).
    pub fn split(rows: u64, max_rows: u64) -> Vec<PlayerSlice> {
        let wanted = rows.div_ceil(max_rows.max(1)).max(1);
        let count = usize::try_from(wanted)
            .unwrap_or(BOUND_VALUES)
            .min(BOUND_VALUES);
        let bounds: Vec<Option<String>> = (1..count)
            .map(|i| {
                Some(format!(
                    "{:0width$x}",
                    i * BOUND_VALUES / count,
                    width = BOUND_DIGITS
                ))
            })
            .collect();
        let lowers = std::iter::once(None).chain(bounds.iter().cloned());
        let uppers = bounds.iter().cloned().chain(std::iter::once(None));
        lowers
            .zip(uppers)
            .map(|(lower, upper)| PlayerSlice { lower, upper })
            .collect()
    }

    /// The slice as a lake filter.
    pub fn filter(&self) -> Expr {
        column_in_span(PLAYER_ID, self.lower.as_deref(), self.upper.as_deref())
    }

    /// The rows of `frame` in this slice.
    pub fn of(&self, frame: &DataFrame) -> PolarsResult<DataFrame> {
        let player = || col(PLAYER_ID);
        let condition = match (&self.lower, &self.upper) {
            (None, None) => return Ok(frame.clone()),
            (Some(lower), Some(upper)) => player()
                .gt_eq(lit(lower.as_str()))
                .and(player().lt(lit(upper.as_str()))),
            (Some(lower), None) => player().gt_eq(lit(lower.as_str())),
            (None, Some(upper)) => player().lt(lit(upper.as_str())).or(player().is_null()),
        };
        frame.clone().lazy().filter(condition).collect()
    }
}

impl std::fmt::Display for PlayerSlice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lower = self.lower.as_deref().unwrap_or("");
        let upper = self.upper.as_deref().unwrap_or("…");
        write!(f, "player ids [{lower}, {upper})")
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    #[test]
    fn a_day_within_the_limit_is_one_slice_of_every_player() {
        assert_eq!(PlayerSlice::split(0, 1_000), vec![PlayerSlice::all()]);
        assert_eq!(PlayerSlice::split(1_000, 1_000), vec![PlayerSlice::all()]);
    }

    #[test]
    fn slices_share_their_bounds_and_leave_both_ends_open() {
        let slices = PlayerSlice::split(4_000, 1_000);
        assert_eq!(slices.len(), 4);
        assert_eq!(slices[0].lower, None);
        assert_eq!(slices[0].upper.as_deref(), Some("4000"));
        assert_eq!(slices[1].lower.as_deref(), Some("4000"));
        assert_eq!(slices[2].upper.as_deref(), Some("c000"));
        assert_eq!(slices[3].upper, None);
        // More slices than bounds can tell apart is capped, not an overflow.
        assert_eq!(PlayerSlice::split(u64::MAX, 1).len(), BOUND_VALUES);
    }

    #[test]
    fn every_row_lands_in_exactly_one_slice() -> PolarsResult<()> {
        let ids = [
            Some("0000aa"),
            Some("3fff"),
            Some("4000"),
            Some("8a1c9e"),
            Some("ffff12"),
            Some("NOT-HEX"),
            Some(""),
            None,
        ];
        let frame = df!("player_id" => ids)?;
        let slices = PlayerSlice::split(3_000, 1_000);
        let mut seen = 0;
        for slice in &slices {
            seen += slice.of(&frame)?.height();
        }
        assert_eq!(seen, ids.len());
        // Bounds 5555 and aaaa: hashed ids split by their leading digits, others by byte order.
        assert_eq!(slices[0].of(&frame)?.height(), 5); // 0000aa, 3fff, 4000, "", null
        assert_eq!(slices[1].of(&frame)?.height(), 2); // 8a1c9e, NOT-HEX ('5' < 'N' < 'a')
        assert_eq!(slices[2].of(&frame)?.height(), 1); // ffff12
        Ok(())
    }
}
