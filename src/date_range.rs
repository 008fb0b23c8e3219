//! The partition range a run works on: whole UTC days, both ends included.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, NaiveDate};
use serde::Serialize;

/// The longest range one run accepts; a typo like `--from 2016-…` should fail, not run for a day.
pub const MAX_RANGE_DAYS: u64 = 3_660;

/// Inclusive range of UTC calendar days, `first <= last` by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct DateRange {
    #[serde(rename = "from")]
    first: NaiveDate,
    #[serde(rename = "to")]
    last: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateRangeError {
    #[error(
        "--from {first} is after --to {last}; the range is inclusive, so use --from {last} --to {first} or --date {first}"
    )]
    Reversed { first: NaiveDate, last: NaiveDate },
    #[error(
        "--from {first} --to {last} spans {days} days, more than the {MAX_RANGE_DAYS} one run accepts; split the backfill"
    )]
    TooLong {
        first: NaiveDate,
        last: NaiveDate,
        days: u64,
    },
}

impl DateRange {
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Self, DateRangeError> {
        if first > last {
            return Err(DateRangeError::Reversed { first, last });
        }
        let days = (last - first).num_days() as u64 + 1;
        if days > MAX_RANGE_DAYS {
            return Err(DateRangeError::TooLong { first, last, days });
        }
        Ok(DateRange { first, last })
    }

    pub fn single(day: NaiveDate) -> Self {
        DateRange {
            first: day,
            last: day,
        }
    }

    pub fn first(&self) -> NaiveDate {
        self.first
    }

    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// Number of days in the range (at least 1).
    pub fn len_days(&self) -> u64 {
        (self.last - self.first).num_days() as u64 + 1
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }

    /// The days of the range in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let first = self.first;
        (0..self.len_days()).map(move |offset| first + Days::new(offset))
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..={}", self.first, self.last)
        }
    }
}

/// Days since 1970-01-01: Arrow's and Delta's representation of a date.
pub fn days_since_epoch(day: NaiveDate) -> i32 {
    (day - chrono::DateTime::UNIX_EPOCH.date_naive()).num_days() as i32
}

/// The date `days` after 1970-01-01 (the inverse of [`days_since_epoch`]).
pub fn from_days_since_epoch(days: i32) -> Option<NaiveDate> {
    chrono::DateTime::UNIX_EPOCH
        .date_naive()
        .checked_add_signed(chrono::Duration::days(i64::from(days)))
}

/// Parses a calendar date the way every flag expects it, with an error an operator can act on.
pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::from_str(text.trim())
        .map_err(|_| format!("`{text}` is not a date; expected YYYY-MM-DD, e.g. 2026-11-24"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        parse_day(text).unwrap()
    }

    #[test]
    fn inclusive_days() {
        let range = DateRange::new(day("2026-02-27"), day("2026-03-02")).unwrap();
        let days: Vec<_> = range.days().map(|d| d.to_string()).collect();
        assert_eq!(
            days,
            ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
        );
        assert_eq!(range.len_days(), 4);
        assert!(range.contains(day("2026-03-01")));
        assert!(!range.contains(day("2026-03-03")));
        assert_eq!(range.to_string(), "2026-02-27..=2026-03-02");
    }

    #[test]
    fn single_day_displays_as_a_date() {
        assert_eq!(
            DateRange::single(day("2026-01-05")).to_string(),
            "2026-01-05"
        );
    }

    #[test]
    fn reversed_range_is_rejected_with_a_fix() {
        let err = DateRange::new(day("2026-01-05"), day("2026-01-01")).unwrap_err();
        assert!(
            err.to_string()
                .contains("--from 2026-01-05 is after --to 2026-01-01")
        );
    }

    #[test]
    fn absurdly_long_range_is_rejected() {
        assert!(matches!(
            DateRange::new(day("2006-01-01"), day("2026-01-01")),
            Err(DateRangeError::TooLong { .. })
        ));
    }

    #[test]
    fn bad_date_text_says_what_is_expected() {
        assert!(parse_day("2026-13-01").unwrap_err().contains("YYYY-MM-DD"));
        assert!(parse_day("yesterday").is_err());
    }
}
