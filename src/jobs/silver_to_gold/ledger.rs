//! The run's players: each numbered once, with their revenue to date and last active day.
//!
//! A player is a `game_id` and a 64-hex `player_id`. Grouping, counting and joining a day's
//! events on those strings hashed and compared them again in every step, so the run numbers
//! each player the first time it meets them and every step after keys on [`PLAYER_NO`].

use chrono::NaiveDate;
use polars::prelude::*;

use crate::date_range::DateRange;
use crate::lake::{Columns, Lake, column_before_day, column_nonzero};
use crate::money::money_sum;
use crate::tables::silver;

/// The column numbering a run's players: one number per `game_id` and `player_id`, the same
/// on every day of the run.
pub const PLAYER_NO: &str = "player_no";

/// Each player's revenue to date and last active day, as the run walks its days: one entry per
/// player, so a long range never holds more than a day of events.
#[derive(Default)]
pub struct LtvLedger {
    /// The games met so far; a player's game is an index into it.
    games: Vec<String>,
    /// Per game, the number of each of its players.
    numbers: Vec<PlHashMap<Box<str>, u32>>,
    /// By number.
    players: Vec<Player>,
}

struct Player {
    game: usize,
    id: Box<str>,
    /// Revenue through the last day walked.
    ltv: f64,
    /// Days since the epoch.
    last_active: Option<i32>,
}

impl LtvLedger {
    pub fn players(&self) -> usize {
        self.players.len()
    }

    /// Adds the [`PLAYER_NO`] column to `events`; players met for the first time are
    /// numbered and start from their revenue before `range`.
    pub async fn number_players_of(
        &mut self,
        lake: &Lake,
        events: &mut DataFrame,
        range: &DateRange,
    ) -> anyhow::Result<()> {
        let first_new = self.players.len();
        let numbers = self.number(events)?;
        events.with_column(Column::new(PLAYER_NO.into(), numbers))?;
        if self.players.len() > first_new {
            self.add_revenue_before(lake, first_new, range).await?;
        }
        Ok(())
    }

    /// The number of each row's player, numbering those not met before.
    fn number(&mut self, events: &DataFrame) -> PolarsResult<Vec<u32>> {
        let games = events.column("game_id")?.str()?;
        let players = events.column("player_id")?.str()?;
        let mut last_game: Option<(&str, usize)> = None;
        games
            .iter()
            .zip(players.iter())
            .map(|(game, player)| {
                let (Some(game), Some(player)) = (game, player) else {
                    polars_bail!(ComputeError: "a Silver event without its game_id or player_id");
                };
                let game = match last_game {
                    Some((name, index)) if name == game => index,
                    _ => {
                        let index = self.game_index(game);
                        last_game = Some((game, index));
                        index
                    }
                };
                Ok(self.number_of(game, player))
            })
            .collect()
    }

    /// The index of `game`, adding it when the run meets it for the first time.
    fn game_index(&mut self, game: &str) -> usize {
        match self.known_game(game) {
            Some(index) => index,
            None => {
                self.games.push(game.to_owned());
                self.numbers.push(PlHashMap::default());
                self.games.len() - 1
            }
        }
    }

    fn known_game(&self, game: &str) -> Option<usize> {
        self.games.iter().position(|known| known == game)
    }

    fn number_of(&mut self, game: usize, player: &str) -> u32 {
        if let Some(number) = self.numbers[game].get(player) {
            return *number;
        }
        let number = self.players.len() as u32;
        self.numbers[game].insert(player.into(), number);
        self.players.push(Player {
            game,
            id: player.into(),
            ltv: 0.0,
            last_active: None,
        });
        number
    }

    /// The revenue before `range` of the players numbered from `first_new` on.
    async fn add_revenue_before(
        &mut self,
        lake: &Lake,
        first_new: usize,
        range: &DateRange,
    ) -> anyhow::Result<()> {
        let earlier = lake
            .read_matching(
                &silver::PLAYER_EVENTS,
                "player_id",
                &distinct_ids(&self.players[first_new..]),
                // Only the rows that move the sum: most events earn nothing.
                Some(
                    column_before_day("event_date", range.first())
                        .and(column_nonzero("revenue_usd")),
                ),
                Columns::Only(&["game_id", "player_id", "revenue_usd"]),
            )
            .await?
            .lazy()
            .group_by([col("game_id"), col("player_id")])
            .agg([money_sum("revenue_usd").alias("ltv")])
            .collect()?;
        let games = earlier.column("game_id")?.str()?;
        let players = earlier.column("player_id")?.str()?;
        let revenue = earlier.column("ltv")?.f64()?;
        for ((game, player), ltv) in games.iter().zip(players.iter()).zip(revenue.iter()) {
            let (Some(game), Some(player), Some(ltv)) = (game, player, ltv) else {
                continue;
            };
            let Some(game) = self.known_game(game) else {
                continue;
            };
            // A player of this run's days: one met earlier in the run already counts it.
            if let Some(&number) = self.numbers[game].get(player)
                && number as usize >= first_new
            {
                self.players[number as usize].ltv = ltv;
            }
        }
        Ok(())
    }

    /// [`PLAYER_NO`] and `revenue_before`, every player's revenue through the last day walked:
    /// what the next day's facts count from.
    pub fn revenue_before(&self) -> PolarsResult<LazyFrame> {
        Ok(df!(
            PLAYER_NO => (0..self.players.len() as u32).collect::<Vec<_>>(),
            "revenue_before" => self.players.iter().map(|p| p.ltv).collect::<Vec<_>>(),
        )?
        .lazy())
    }

    /// Moves each player of a day's `facts` (with their [`PLAYER_NO`]) to that day's LTV and
    /// activity.
    pub fn absorb(&mut self, facts: &DataFrame) -> PolarsResult<()> {
        let numbers = facts.column(PLAYER_NO)?.u32()?;
        let ltv = facts.column("actual_ltv_to_date")?.f64()?;
        let active = facts.column("is_active")?.bool()?;
        let day = facts.column("activity_date")?.cast(&DataType::Int32)?;
        let day = day.i32()?;
        for (((number, ltv), active), day) in numbers
            .iter()
            .zip(ltv.iter())
            .zip(active.iter())
            .zip(day.iter())
        {
            let Some(player) = number.and_then(|n| self.players.get_mut(n as usize)) else {
                polars_bail!(ComputeError: "a fact row of a player the run did not number");
            };
            if let Some(ltv) = ltv {
                player.ltv = ltv;
            }
            if active == Some(true) {
                player.last_active = day.or(player.last_active);
            }
        }
        Ok(())
    }

    /// Every player walked: `game_id`, `player_id`, `ltv` (through the run's last day) and
    /// `last_active` (null when not active in the run).
    pub fn totals(&self) -> PolarsResult<DataFrame> {
        let last_active: Vec<Option<NaiveDate>> = self
            .players
            .iter()
            .map(|p| {
                p.last_active
                    .and_then(crate::date_range::from_days_since_epoch)
            })
            .collect();
        df!(
            "game_id" => self.players.iter().map(|p| self.games[p.game].as_str()).collect::<Vec<_>>(),
            "player_id" => self.players.iter().map(|p| &*p.id).collect::<Vec<_>>(),
            "ltv" => self.players.iter().map(|p| p.ltv).collect::<Vec<_>>(),
            "last_active" => last_active,
        )
    }

    /// The distinct player ids walked, sorted.
    pub fn player_ids(&self) -> Vec<String> {
        distinct_ids(&self.players)
    }
}

/// The distinct ids of `players`, sorted: a player id can play more than one game.
fn distinct_ids(players: &[Player]) -> Vec<String> {
    let mut ids: Vec<String> = players.iter().map(|p| p.id.to_string()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::float_column;

    fn events(rows: &[(&str, &str)]) -> DataFrame {
        df!(
            "game_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "player_id" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn a_player_keeps_their_number_across_days_and_games_number_apart() {
        let mut ledger = LtvLedger::default();
        let first = ledger
            .number(&events(&[("g", "a"), ("g", "b"), ("g", "a"), ("h", "a")]))
            .unwrap();
        assert_eq!(first, [0, 1, 0, 2]);
        let second = ledger
            .number(&events(&[("h", "a"), ("g", "c"), ("g", "b")]))
            .unwrap();
        assert_eq!(second, [2, 3, 1]);
        assert_eq!(ledger.players(), 4);
        assert_eq!(ledger.player_ids(), ["a", "b", "c"]);
    }

    #[test]
    fn a_day_moves_its_players_ltv_and_last_active_day_only() {
        let mut ledger = LtvLedger::default();
        ledger
            .number(&events(&[("g", "a"), ("g", "b"), ("g", "c")]))
            .unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let facts = |rows: &[(u32, f64, bool, u32)]| {
            df!(
                PLAYER_NO => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                "actual_ltv_to_date" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                "is_active" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                "activity_date" => rows.iter().map(|r| day(r.3)).collect::<Vec<_>>(),
            )
            .unwrap()
        };
        ledger
            .absorb(&facts(&[(0, 1.5, true, 1), (1, 0.0, true, 1)]))
            .unwrap();
        // b only fires events that open no session on day 2.
        ledger
            .absorb(&facts(&[(0, 4.0, true, 2), (1, 2.0, false, 2)]))
            .unwrap();
        let totals = ledger.totals().unwrap();
        assert_eq!(float_column(&totals, "ltv").unwrap(), [4.0, 2.0, 0.0]);
        let last_active: Vec<AnyValue> = (0..totals.height())
            .map(|row| totals.column("last_active").unwrap().get(row).unwrap())
            .collect();
        let days = |d: u32| AnyValue::Date(crate::date_range::days_since_epoch(day(d)));
        assert_eq!(last_active, [days(2), days(1), AnyValue::Null]);
        assert!(
            ledger.absorb(&facts(&[(7, 1.0, true, 3)])).is_err(),
            "a number the run never gave"
        );
    }
}
