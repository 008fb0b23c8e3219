//! What a pLTV model sees of a player: features from their first N days after install (the
//! same for training and scoring), and the labels a matured player provides.
//!
//! A snapshot at N days is built from `gold.fact_player_daily` rows with `day_number <= N`
//! and the player's acquisition from `gold.player_lifecycle`; categorical attributes (platform,
//! country, channel) are one-hot columns over a [`Vocabulary`] fixed at training time, so a
//! model scores exactly the columns it was trained on.
//!
//! Beside the player's own days, a snapshot describes their *acquisition peers*: the other
//! installs of the same game and campaign in the [`PEER_DAYS`] days up to the player's install
//! day, over the peers' own first N days. One player's first day says little about a campaign,
//! but a few hundred peers' first days say how many of its players pay, and they describe a
//! campaign the model has never seen, which its one-hot channel, country and platform cannot.
//! Peers installed no later than the player have lived at least N days whenever the player
//! has, so training and scoring see the same thing.

use std::collections::BTreeSet;
use std::ops::{Range, RangeInclusive};

use polars::prelude::*;
use polars_arrow::array::{PrimitiveArray, Utf8ViewArray};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::money::{dollars_of, micros_of};
use crate::tables::gold;

/// Days after install a prediction may be made with (its features cover days 0..=N).
pub const OBSERVATION_DAYS: [i32; 3] = [1, 3, 7];
/// Days of revenue a pLTV predicts (revenue from install through day H).
pub const HORIZONS: [i32; 3] = [7, 30, 180];
/// A player churns when they are not active in the days N+1..=N+CHURN_WINDOW_DAYS.
pub const CHURN_WINDOW_DAYS: i32 = 7;

/// Numeric features summed over the observed days (zero for a player without any), first in
/// matrix order.
const SUMMED: [&str; 10] = [
    "iap_revenue",
    "ad_revenue",
    "total_revenue",
    "revenue_day0",
    "iap_purchases",
    "ad_impressions",
    "sessions",
    "minutes_played",
    "levels_gained",
    "active_days",
];

/// Numeric features of the player as a whole, after [`SUMMED`] and before the one-hot columns.
const PER_PLAYER: [&str; 4] = [
    "active_last_day",
    "days_since_active",
    "install_cost_usd",
    "is_minor",
];

/// Numeric features of the player's acquisition peers (leaving the player out), after
/// [`PER_PLAYER`]; missing for a player without peers.
const PEERS: [&str; 2] = ["peer_payer_share", "peer_revenue_per_install"];

/// Install days a player's acquisition peers come from: the install day and the days before.
/// Four weeks rather than one: a campaign's early payer share is a few percent of a few dozen
/// installs a week at a small studio's volume, and a model learns what it means only from a
/// steadier reading. On the generated 480/day studio the day-1 D30 model's systematic segment
/// error is 0.59 without peers, 0.52 with one week's and 0.47 with four weeks'.
pub const PEER_DAYS: i32 = 28;

/// Every numeric feature this build computes, in matrix order.
fn numeric() -> impl Iterator<Item = &'static str> {
    SUMMED.iter().chain(&PER_PLAYER).chain(&PEERS).copied()
}

/// The numeric features of a model stored before its vocabulary listed them.
fn numeric_before_peers() -> Vec<String> {
    SUMMED
        .iter()
        .chain(&PER_PLAYER)
        .map(|name| name.to_string())
        .collect()
}

/// The categorical attributes turned into one-hot columns (one model serves every game).
const CATEGORICAL: [&str; 4] = ["game_id", "platform", "country_code", "media_source"];

/// The features a model was trained on: its numeric features and the values of each
/// categorical attribute seen in training (anything else scores as all zeros in that
/// attribute's columns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// In matrix order. A model stored before this was recorded has the features of that time,
    /// so it still scores after features are added.
    #[serde(default = "numeric_before_peers")]
    pub numeric: Vec<String>,
    pub game_id: Vec<String>,
    pub platform: Vec<String>,
    pub country_code: Vec<String>,
    pub media_source: Vec<String>,
}

impl Vocabulary {
    /// The distinct values of `players` (a lifecycle frame), sorted.
    pub fn of(players: &DataFrame) -> PolarsResult<Self> {
        let distinct = |name: &str| -> PolarsResult<Vec<String>> {
            let values: BTreeSet<String> = players
                .column(name)?
                .str()?
                .iter()
                .flatten()
                .map(str::to_owned)
                .collect();
            Ok(values.into_iter().collect())
        };
        Ok(Vocabulary {
            numeric: numeric().map(str::to_string).collect(),
            game_id: distinct("game_id")?,
            platform: distinct("platform")?,
            country_code: distinct("country_code")?,
            media_source: distinct("media_source")?,
        })
    }

    fn values(&self, attribute: &str) -> &[String] {
        match attribute {
            "game_id" => &self.game_id,
            "platform" => &self.platform,
            "country_code" => &self.country_code,
            _ => &self.media_source,
        }
    }

    /// Whether this build computes every feature of the vocabulary.
    pub fn is_computed(&self) -> bool {
        self.numeric
            .iter()
            .all(|name| numeric().any(|known| known == name))
    }

    /// Every feature name, in matrix order.
    pub fn feature_names(&self) -> Vec<String> {
        self.numeric
            .iter()
            .cloned()
            .chain(CATEGORICAL.iter().flat_map(|attribute| {
                self.values(attribute)
                    .iter()
                    .map(move |value| format!("{attribute}={value}"))
            }))
            .collect()
    }
}

/// What identifies a player in the lifecycle and fact tables: `gold.player_lifecycle`'s key,
/// its install day, game and player id in that order. Each fact row carries its player's
/// install day.
pub const PLAYER_KEY: &[&str] = gold::PLAYER_LIFECYCLE.key;

/// The column numbering players 0, 1, … in their frame's order; each fact row carries its
/// player's number, so features are summed by position instead of by a hash of two strings.
pub const PLAYER_ROW: &str = "player_row";

/// The column numbering the players' acquisition peer groups (a game and a campaign; a game's
/// organic installs are one group), so that each window's peers are found by a number
/// instead of by a hash of two strings.
pub const PEER_GROUP: &str = "peer_group";

/// `players` (`gold.player_lifecycle` rows) numbered in their order by [`PLAYER_ROW`] and by
/// [`PEER_GROUP`], and the rows of `days` (`gold.fact_player_daily` rows) of those players as
/// [`PlayerDays`] (matched on [`PLAYER_KEY`]; facts of other players are left out): what
/// [`features`] are computed from.
pub fn numbered(players: LazyFrame, days: LazyFrame) -> PolarsResult<(DataFrame, PlayerDays)> {
    let mut players = players.with_row_index(PLAYER_ROW, None).collect()?;
    let groups = peer_groups(&players)?;
    players.with_column(groups)?;
    let days = PlayerDays::of(&players, days)?;
    Ok((players, days))
}

/// The fact rows of [`numbered`] players as the plain columns every window's features are
/// added up from. A scoring day computes six windows of features (three of first days, three
/// of latest days) and training three; the fact frame is filtered and cast once for all of
/// them instead of once per window. The counts are the frame's own chunks and the amounts are
/// written once, in micro-units: at millions of fact rows, writing fresh memory cost more
/// than the sums.
pub struct PlayerDays {
    /// How many players the rows belong to.
    players: usize,
    /// Each row's player (their [`PLAYER_ROW`]), or [`NOT_NUMBERED`] for another player's.
    player: Vec<u32>,
    /// Missing as inactive.
    is_active: Vec<bool>,
    /// The rest of the columns, a chunk of rows at a time.
    chunks: Vec<FactChunk>,
    /// Which acquisition peers each player has: every window adds up its peer features by
    /// these cells.
    peers: PeerCells,
}

/// [`SUMMED_MICROS`] and [`SUMMED_COUNTS`].
const SUMMED_COLUMNS: usize = SUMMED_MICROS.len() + SUMMED_COUNTS.len();

/// The names of the [`SUMMED_COLUMNS`], in [`Fact::summed`]'s order.
fn summed_names() -> impl Iterator<Item = &'static str> {
    SUMMED_MICROS.iter().chain(&SUMMED_COUNTS).copied()
}

/// Consecutive rows of [`PlayerDays`].
struct FactChunk {
    /// Days after install. A fact without a day is in no window and is left out.
    day_number: PrimitiveArray<i32>,
    /// The [`SUMMED_MICROS`] columns in whole micro-units, then the [`SUMMED_COUNTS`]; missing
    /// as zero.
    summed: [PrimitiveArray<i64>; SUMMED_COLUMNS],
}

/// One fact row of one of the players.
struct Fact {
    day: i32,
    is_active: bool,
    /// As [`FactChunk::summed`].
    summed: [i64; SUMMED_COLUMNS],
}

/// [`PlayerDays::player`] of a fact row of none of the players.
const NOT_NUMBERED: u32 = u32::MAX;

impl PlayerDays {
    /// The rows of `days` that belong to one of `players` ([`numbered`] lifecycle rows).
    fn of(players: &DataFrame, days: LazyFrame) -> PolarsResult<Self> {
        polars_ensure!(
            players.height() < NOT_NUMBERED as usize,
            ComputeError: "{} players are more than a frame of facts can number", players.height()
        );
        let mut facts = days
            .filter(col("day_number").is_not_null())
            .select(
                PLAYER_KEY
                    .iter()
                    .map(|name| col(*name))
                    .chain([
                        col("day_number").cast(DataType::Int32),
                        col("is_active").fill_null(lit(false)),
                    ])
                    // As they are (no copy unless a value is missing): turned into micro-units
                    // below, in one pass, where polars' multiply, round and cast wrote each
                    // column three times over.
                    .chain(
                        SUMMED_MICROS
                            .map(|name| col(name).cast(DataType::Float64).fill_null(lit(0.0))),
                    )
                    .chain(
                        SUMMED_COUNTS.map(|name| col(name).cast(DataType::Int64).fill_null(lit(0))),
                    )
                    .collect::<Vec<_>>(),
            )
            .collect()?;
        facts.align_chunks_par();
        let day_numbers = chunks_of::<Int32Type>(&facts, "day_number")?;
        let in_micros = |name: &str| -> PolarsResult<Vec<PrimitiveArray<i64>>> {
            chunks_of::<Float64Type>(&facts, name)?
                .par_iter()
                .map(|chunk| {
                    let micros: Option<Vec<i64>> =
                        chunk.values().iter().map(|amount| micros_of(*amount)).collect();
                    let micros = micros.ok_or_else(|| {
                        polars_err!(ComputeError: "{name} has amounts that are not numbers or beyond an i64 of micro-units")
                    })?;
                    Ok(PrimitiveArray::from_vec(micros))
                })
                .collect()
        };
        let mut summed = SUMMED_MICROS
            .iter()
            .map(|name| in_micros(name))
            .chain(
                SUMMED_COUNTS
                    .iter()
                    .map(|name| chunks_of::<Int64Type>(&facts, name)),
            )
            .map(|chunks| Ok(chunks?.into_iter()))
            .collect::<PolarsResult<Vec<_>>>()?;
        let mut chunks = Vec::with_capacity(day_numbers.len());
        for day_number in day_numbers {
            let summed: Option<Vec<_>> = summed.iter_mut().map(Iterator::next).collect();
            let Some(Ok(summed)) = summed.map(<[_; SUMMED_COLUMNS]>::try_from) else {
                polars_bail!(ComputeError: "the fact columns are not in aligned chunks");
            };
            chunks.push(FactChunk { day_number, summed });
        }
        Ok(PlayerDays {
            players: players.height(),
            player: player_numbers(players, &facts)?,
            is_active: facts
                .column("is_active")?
                .bool()?
                .iter()
                .map(|active| active == Some(true))
                .collect(),
            chunks,
            peers: PeerCells::of(players)?,
        })
    }

    /// Each fact row of one of the players and its player, in the frame's order.
    #[cfg(test)]
    fn facts(&self) -> impl Iterator<Item = (usize, Fact)> + '_ {
        let starts = self.chunks.iter().scan(0, |start, chunk| {
            let first = *start;
            *start += chunk.day_number.len();
            Some(first)
        });
        self.chunks
            .iter()
            .zip(starts)
            .flat_map(move |(chunk, first)| {
                let days = chunk.day_number.values();
                let summed = chunk.summed.each_ref().map(|column| &column.values()[..]);
                (0..days.len()).filter_map(move |row| {
                    let fact = first + row;
                    let player = self.player[fact];
                    let fact = Fact {
                        day: days[row],
                        is_active: self.is_active[fact],
                        summed: summed.map(|column| column[row]),
                    };
                    (player != NOT_NUMBERED).then_some((player as usize, fact))
                })
            })
    }

    /// Adds each fact row whose day is in `days` into its player's place in `totals` (one
    /// per player) with `add`. Without `day_zero` a fact's day counts from install; with it,
    /// from `day_zero[player]` days after install, and the fact is given that day.
    ///
    /// On every core: each takes a range of players and reads past the other players' facts.
    /// A fact's player is a random place among a million, and those writes, not the reading,
    /// were what a pass on one core waited for.
    fn add_up<T: Send>(
        &self,
        days: RangeInclusive<i32>,
        day_zero: Option<&[i32]>,
        totals: &mut [T],
        add: impl Fn(&mut T, &Fact) + Sync,
    ) {
        let per_core = self
            .players
            .div_ceil(rayon::current_num_threads().max(1))
            .max(1);
        totals
            .par_chunks_mut(per_core)
            .enumerate()
            .for_each(|(part, totals)| {
                let first_player = part * per_core;
                let mut first_fact = 0;
                for chunk in &self.chunks {
                    let day_numbers: &[i32] = chunk.day_number.values();
                    let numbered = &self.player[first_fact..][..day_numbers.len()];
                    let summed = chunk.summed.each_ref().map(|column| &column.values()[..]);
                    for (row, (player, day)) in numbered.iter().zip(day_numbers).enumerate() {
                        // A stranger's NOT_NUMBERED is past every range.
                        let player = *player as usize;
                        let Some(total) = player
                            .checked_sub(first_player)
                            .and_then(|at| totals.get_mut(at))
                        else {
                            continue;
                        };
                        let day = day.saturating_sub(day_zero.map_or(0, |zero| zero[player]));
                        if !days.contains(&day) {
                            continue;
                        }
                        let fact = Fact {
                            day,
                            is_active: self.is_active[first_fact + row],
                            summed: summed.map(|column| column[row]),
                        };
                        add(total, &fact);
                    }
                    first_fact += day_numbers.len();
                }
            });
    }

    /// Revenue from install through each of `horizons`, per player, in whole micro-units.
    pub fn revenue_through<const HORIZONS: usize>(
        &self,
        horizons: &[i32; HORIZONS],
    ) -> [Vec<i64>; HORIZONS] {
        // A player's sums side by side: one cache line per fact, not one per horizon.
        let mut sums = vec![[0i64; HORIZONS]; self.players];
        let last = horizons.iter().copied().max().unwrap_or(i32::MIN);
        self.add_up(i32::MIN..=last, None, &mut sums, |sums, fact| {
            for (sum, horizon) in sums.iter_mut().zip(horizons) {
                if fact.day <= *horizon {
                    *sum += fact.summed[TOTAL_REVENUE];
                }
            }
        });
        std::array::from_fn(|horizon| sums.iter().map(|sum| sum[horizon]).collect())
    }
}

/// What a window of a player's days adds up to.
#[derive(Debug, Clone, Copy)]
struct WindowSums {
    /// As [`Fact::summed`].
    summed: [i64; SUMMED_COLUMNS],
    revenue_day0: i64,
    active_days: i32,
    active_last_day: bool,
    /// The window's last day with activity; never active reads as the day before it starts.
    last_active: i32,
}

impl WindowSums {
    const NOTHING: WindowSums = WindowSums {
        summed: [0; SUMMED_COLUMNS],
        revenue_day0: 0,
        active_days: 0,
        active_last_day: false,
        last_active: -1,
    };

    /// Adds a fact of day `fact.day` of a window of days 0..=`n`.
    fn add(&mut self, fact: &Fact, n: i32) {
        for (sum, value) in self.summed.iter_mut().zip(fact.summed) {
            *sum += value;
        }
        if fact.day == 0 {
            self.revenue_day0 += fact.summed[TOTAL_REVENUE];
        }
        if fact.is_active {
            self.active_days += 1;
            self.active_last_day |= fact.day == n;
            self.last_active = self.last_active.max(fact.day);
        }
    }
}

/// The [`PEER_GROUP`] of each of `players`: groups numbered in order of first appearance.
fn peer_groups(players: &DataFrame) -> PolarsResult<Column> {
    let games = players.column("game_id")?.str()?;
    let campaigns = players.column("campaign_id")?.str()?;
    let mut numbers: PlHashMap<(Option<&str>, &str), u32> = PlHashMap::new();
    let groups: Vec<u32> = games
        .iter()
        .zip(campaigns.iter())
        .map(|(game, campaign)| {
            let next = numbers.len() as u32;
            *numbers
                .entry((game, campaign.unwrap_or_default()))
                .or_insert(next)
        })
        .collect();
    Ok(Column::new(PEER_GROUP.into(), groups))
}

/// The chunks of a numeric column without nulls, each an array of its values.
fn chunks_of<T: PolarsNumericType>(
    frame: &DataFrame,
    name: &str,
) -> PolarsResult<Vec<PrimitiveArray<T::Native>>> {
    let column = frame.column(name)?.as_materialized_series().unpack::<T>()?;
    polars_ensure!(column.null_count() == 0, ComputeError: "{name} has missing values");
    Ok(column.downcast_iter().cloned().collect())
}

/// A player's game and id; `None` where either is missing, which matches nothing.
type Key<'a> = Option<(&'a str, &'a str)>;

/// The [`PLAYER_KEY`] columns of a frame, read in place a chunk at a time: copying millions of
/// fact rows' strings into one chunk cost more than matching them.
struct Keys {
    columns: DataFrame,
}

/// A run of rows of [`Keys`]: the columns of the chunk it is in and its rows in that chunk.
struct KeyRun<'a> {
    install_days: &'a PrimitiveArray<i32>,
    games: &'a Utf8ViewArray,
    ids: &'a Utf8ViewArray,
    rows: Range<usize>,
}

impl Keys {
    fn of(frame: &DataFrame) -> PolarsResult<Self> {
        let mut columns = frame.select(PLAYER_KEY.iter().copied())?;
        let install_days = columns.column(PLAYER_KEY[0])?.cast(&DataType::Int32)?;
        columns.with_column(install_days)?;
        columns.align_chunks_par();
        Ok(Keys { columns })
    }

    /// The rows in runs of at most `run_rows`, in order.
    fn runs(&self, run_rows: usize) -> PolarsResult<Vec<KeyRun<'_>>> {
        let install_days = self.columns.column(PLAYER_KEY[0])?.i32()?;
        let games = self.columns.column(PLAYER_KEY[1])?.str()?;
        let ids = self.columns.column(PLAYER_KEY[2])?.str()?;
        let mut runs = Vec::new();
        let chunks = install_days
            .downcast_iter()
            .zip(games.downcast_iter())
            .zip(ids.downcast_iter());
        for ((install_days, games), ids) in chunks {
            for start in (0..games.len()).step_by(run_rows.max(1)) {
                let end = start.saturating_add(run_rows).min(games.len());
                runs.push(KeyRun {
                    install_days,
                    games,
                    ids,
                    rows: start..end,
                });
            }
        }
        Ok(runs)
    }
}

impl<'a> KeyRun<'a> {
    /// Each row's install day and key.
    fn keys(&self) -> impl Iterator<Item = (Option<i32>, Key<'a>)> + use<'a> {
        let (install_days, games, ids) = (self.install_days, self.games, self.ids);
        self.rows
            .clone()
            .map(move |row| (install_days.get(row), games.get(row).zip(ids.get(row))))
    }
}

/// Players listed by install day and, within a day, in key order: where each fact's player is
/// looked up. Gold lists each install day's players in key order and a read returns them a day
/// at a time, so this usually moves nothing: a sort of a million players by their two strings
/// took longer than matching every fact to them.
struct PlayersByDay<'a> {
    /// The earliest install day.
    first_day: i32,
    /// Per day from `first_day` on, its position in `on_day`, or [`NO_INSTALLS`].
    day_index: Vec<u32>,
    /// Per install day, the positions of its players in `keys`.
    on_day: Vec<Range<usize>>,
    keys: Vec<(&'a str, &'a str)>,
    /// The [`PLAYER_ROW`] of each of `keys`.
    rows: Vec<u32>,
}

/// [`PlayersByDay::day_index`] of a day nobody installed on.
const NO_INSTALLS: u32 = u32::MAX;

/// Where the previous fact of one install day found its player.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor<'f> {
    at: usize,
    previous: Option<(&'f str, &'f str)>,
}

impl<'a> PlayersByDay<'a> {
    /// `players` (in [`PLAYER_ROW`] order); a player missing a part of the key has no facts.
    fn of(players: &'a Keys) -> PolarsResult<Self> {
        // Room for every player up front: grown a doubling at a time, its copies and fresh
        // pages showed in a profile of scoring.
        let mut listed: Vec<(i32, (&str, &str), u32)> =
            Vec::with_capacity(players.columns.height());
        listed.extend(
            players
                .runs(usize::MAX)?
                .iter()
                .flat_map(KeyRun::keys)
                .zip(0u32..)
                .filter_map(|((day, key), row)| Some((day?, key?, row))),
        );
        if !listed.is_sorted_by_key(|(day, key, _)| (*day, *key)) {
            // Stable: days read out of order move whole, each in the order it was read.
            listed.par_sort_by_key(|(day, _, _)| *day);
            listed
                .par_chunk_by_mut(|a, b| a.0 == b.0)
                .filter(|day| !day.is_sorted_by_key(|(_, key, _)| *key))
                .for_each(|day| day.sort_unstable_by_key(|(_, key, _)| *key));
        }
        let first_day = listed.first().map_or(0, |(day, _, _)| *day);
        let last_day = listed.last().map_or(first_day, |(day, _, _)| *day);
        let offset = |day: i32| (i64::from(day) - i64::from(first_day)) as usize;
        let mut day_index = vec![NO_INSTALLS; offset(last_day) + 1];
        let mut on_day = Vec::new();
        for day in listed.chunk_by(|a, b| a.0 == b.0) {
            day_index[offset(day[0].0)] = on_day.len() as u32;
            let start = on_day
                .last()
                .map_or(0, |players: &Range<usize>| players.end);
            on_day.push(start..start + day.len());
        }
        Ok(PlayersByDay {
            first_day,
            day_index,
            on_day,
            keys: listed.iter().map(|(_, key, _)| *key).collect(),
            rows: listed.iter().map(|(_, _, row)| *row).collect(),
        })
    }

    /// A cursor for each install day, for one run of facts.
    fn cursors<'f>(&self) -> Vec<Cursor<'f>> {
        vec![Cursor::default(); self.on_day.len()]
    }

    /// The [`PLAYER_ROW`] of the player installed on `day` with `key`, if one is. Searched
    /// forward from where the previous fact of that install day found its player: a day's
    /// facts are in key order (Gold writes them so), and so are the players of each install
    /// day, so that is a step or two. A fact out of that order is looked up by binary search,
    /// so facts in any order are still found.
    fn find<'f>(
        &self,
        day: i32,
        key: (&'f str, &'f str),
        cursors: &mut [Cursor<'f>],
    ) -> Option<u32> {
        let slot = usize::try_from(i64::from(day) - i64::from(self.first_day)).ok()?;
        let index = *self.day_index.get(slot)? as usize;
        let (on_day, cursor) = (self.on_day.get(index)?, cursors.get_mut(index)?);
        let keys = &self.keys[on_day.clone()];
        cursor.at = if cursor.previous.is_some_and(|previous| previous <= key) {
            cursor.at + first_at_least(&keys[cursor.at..], key)
        } else {
            keys.partition_point(|k| *k < key)
        };
        cursor.previous = Some(key);
        (keys.get(cursor.at) == Some(&key)).then(|| self.rows[on_day.start + cursor.at])
    }
}

/// Fact rows numbered per task: enough to spread the facts over the cores, each task starting
/// with one binary search per install day.
const FACTS_PER_TASK: usize = 1 << 16;

/// The [`PLAYER_ROW`] of each of `facts`' rows among `players`, [`NOT_NUMBERED`] for another
/// player's: a merge of sorted keys per install day rather than a hash join on three columns
/// (see [`PlayersByDay::find`]).
fn player_numbers(players: &DataFrame, facts: &DataFrame) -> PolarsResult<Vec<u32>> {
    let players = Keys::of(players)?;
    let players = PlayersByDay::of(&players)?;
    let facts = Keys::of(facts)?;
    let numbered: Vec<Vec<u32>> = facts
        .runs(FACTS_PER_TASK)?
        .par_iter()
        .map(|run| {
            let mut cursors = players.cursors();
            run.keys()
                .map(|(day, key)| {
                    day.zip(key)
                        .and_then(|(day, key)| players.find(day, key, &mut cursors))
                        .unwrap_or(NOT_NUMBERED)
                })
                .collect()
        })
        .collect();
    Ok(numbered.concat())
}

/// The position of the first of `sorted` at or after `key`, searched outward from the start:
/// as cheap as a step when it is near.
fn first_at_least(sorted: &[(&str, &str)], key: (&str, &str)) -> usize {
    let mut end = 1;
    while end < sorted.len() && sorted[end - 1] < key {
        end *= 2;
    }
    let end = end.min(sorted.len());
    sorted[..end].partition_point(|k| *k < key)
}

/// One row per player of `players` ([`numbered`] lifecycle rows) with the features of their
/// first `n` days, from `days` (their numbered fact rows; later days are ignored). Keeps the
/// lifecycle columns, so keys travel with the features. `players` are also each other's
/// acquisition peers, so they must hold every install of the days they cover.
pub fn features(players: &DataFrame, days: &PlayerDays, n: i32) -> PolarsResult<LazyFrame> {
    Ok(window_features(players, days, n, None)?.lazy())
}

/// The columns of [`SUMMED`] that are sums of whole micro-units (see [`crate::money`]): their
/// totals do not depend on the order of the rows.
const SUMMED_MICROS: [&str; 4] = [
    "iap_revenue",
    "ad_revenue",
    "total_revenue",
    // Minutes are not money, but their sum must not depend on row order either.
    "minutes_played",
];
/// The columns of [`SUMMED`] that are sums of counts.
const SUMMED_COUNTS: [&str; 4] = [
    "iap_purchases",
    "ad_impressions",
    "sessions",
    "levels_gained",
];

/// The positions of `iap_revenue` and `total_revenue` in [`Fact::summed`] (and
/// [`FactChunk::summed`]).
const IAP_REVENUE: usize = 0;
const TOTAL_REVENUE: usize = 2;
const _: () = assert!(
    matches!(SUMMED_MICROS[IAP_REVENUE].as_bytes(), b"iap_revenue")
        && matches!(SUMMED_MICROS[TOTAL_REVENUE].as_bytes(), b"total_revenue")
);

/// The numeric features read from the lifecycle as they are; every other one is a
/// [`WindowFeature`].
const LIFECYCLE_NUMERIC: [&str; 2] = ["install_cost_usd", "is_minor"];

/// A numeric feature that a window of days adds up to, the player's own or their peers'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowFeature {
    /// A [`summed_names`] column, by its position in [`Fact::summed`].
    Summed(usize),
    RevenueDay0,
    ActiveDays,
    ActiveLastDay,
    DaysSinceActive,
    /// A [`PEERS`] feature, by position.
    Peer(usize),
}

impl WindowFeature {
    /// Every one, in the order [`features`] adds them.
    fn all() -> impl Iterator<Item = WindowFeature> {
        (0..SUMMED_COLUMNS)
            .map(WindowFeature::Summed)
            .chain([
                WindowFeature::RevenueDay0,
                WindowFeature::ActiveDays,
                WindowFeature::ActiveLastDay,
                WindowFeature::DaysSinceActive,
            ])
            .chain((0..PEERS.len()).map(WindowFeature::Peer))
    }

    fn name(self) -> &'static str {
        match self {
            WindowFeature::Summed(column) => summed_names().nth(column).unwrap_or_default(),
            WindowFeature::RevenueDay0 => "revenue_day0",
            WindowFeature::ActiveDays => "active_days",
            WindowFeature::ActiveLastDay => "active_last_day",
            WindowFeature::DaysSinceActive => "days_since_active",
            WindowFeature::Peer(peer) => PEERS[peer],
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::all().find(|feature| feature.name() == name)
    }
}

/// The [`WindowFeature`]s of one window of every player's days: days 0..=n after install, or
/// after a day zero of each player's. Added up once per window, then laid out as a frame's
/// columns ([`features`], what training reads) or straight into the matrix rows of the
/// players a booster scores ([`Window::layout`]), both through [`Window::value`].
pub struct Window {
    n: i32,
    sums: Vec<WindowSums>,
    /// Per [`PEERS`] feature, per player.
    peers: [Vec<Option<f64>>; 2],
}

impl Window {
    /// The window of days 0..=`n` of `players` ([`numbered`], in [`PLAYER_ROW`] order) from
    /// `days`. Without `day_zero` a player's days are counted from install; with it, from
    /// `day_zero[row]` days after install (days before it are left out). One pass over the
    /// fact rows adds each into its player's position: at a million players a hash group-by
    /// of the fact rows and a join back cost many times the arithmetic.
    pub fn of(
        players: &DataFrame,
        days: &PlayerDays,
        n: i32,
        day_zero: Option<&[i32]>,
    ) -> PolarsResult<Self> {
        let spent = Window {
            n,
            sums: Vec::new(),
            peers: Default::default(),
        };
        spent.reused(players, days, n, day_zero)
    }

    /// [`Window::of`], in this window's memory: a scorer adds up six windows of a million
    /// players one after another. Each allocated afresh, every other window's 160 MB came
    /// from pages the kernel had to fault in and zero again (ltv_bench: 0.34-0.44 s for
    /// such a window, 0.04-0.14 s for one added up in a spent window's memory).
    pub fn reused(
        self,
        players: &DataFrame,
        days: &PlayerDays,
        n: i32,
        day_zero: Option<&[i32]>,
    ) -> PolarsResult<Self> {
        let Window {
            mut sums,
            mut peers,
            ..
        } = self;
        let rows = players.height();
        let in_order = players
            .column(PLAYER_ROW)?
            .idx()?
            .iter()
            .enumerate()
            .all(|(position, number)| number == Some(position as IdxSize));
        polars_ensure!(in_order, ComputeError: "players must be numbered 0, 1, … in order by {PLAYER_ROW}");
        polars_ensure!(
            days.players == rows && day_zero.is_none_or(|zero| zero.len() == rows),
            ComputeError: "fact rows numbered for {} players, features asked for {rows}",
            days.players
        );
        // A player's sums side by side: one or two cache lines per fact, where a column per
        // sum was a line per sum.
        sums.clear();
        sums.resize(rows, WindowSums::NOTHING);
        days.add_up(0..=n, day_zero, &mut sums, |sums, fact| sums.add(fact, n));
        peer_features(&days.peers, &sums, &mut peers);
        Ok(Window { n, sums, peers })
    }

    /// `feature` of the player of `row` as a model reads it: money in dollars, a flag as 0 or
    /// 1; `None` where missing.
    fn value(&self, feature: WindowFeature, row: usize) -> Option<f64> {
        let sums = &self.sums[row];
        Some(match feature {
            WindowFeature::Summed(column) if column < SUMMED_MICROS.len() => {
                dollars_of(sums.summed[column])
            }
            WindowFeature::Summed(column) => sums.summed[column] as f64,
            WindowFeature::RevenueDay0 => dollars_of(sums.revenue_day0),
            WindowFeature::ActiveDays => f64::from(sums.active_days),
            WindowFeature::ActiveLastDay => f64::from(u8::from(sums.active_last_day)),
            WindowFeature::DaysSinceActive => f64::from(self.n - sums.last_active),
            WindowFeature::Peer(peer) => return self.peers[peer][row],
        })
    }

    /// `feature` of every player, as a frame's column.
    fn column(&self, feature: WindowFeature) -> Column {
        let values: Vec<Option<f64>> = (0..self.sums.len())
            .map(|row| self.value(feature, row))
            .collect();
        Column::new(feature.name().into(), values)
    }

    /// How [`matrix`] lays out rows of this window's frame of [`features`] for `vocabulary`,
    /// to be written straight from the window's sums: a scorer builds no frame. `players` are
    /// the window's players' [`MatrixInputs`].
    pub fn layout<'w>(
        &'w self,
        players: &'w MatrixInputs,
        vocabulary: &Vocabulary,
    ) -> PolarsResult<Layout<'w>> {
        let numeric = vocabulary
            .numeric
            .iter()
            .map(|name| match WindowFeature::named(name) {
                Some(feature) => Ok(Numeric::Window(self, feature)),
                None => players.column(name).map(Numeric::Values),
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        Layout::of(numeric, &players.categories, vocabulary)
    }
}

/// `players` with the features of a window (see [`Window::of`]).
fn window_features(
    players: &DataFrame,
    days: &PlayerDays,
    n: i32,
    day_zero: Option<&[i32]>,
) -> PolarsResult<DataFrame> {
    let window = Window::of(players, days, n, day_zero)?;
    let columns: Vec<Column> = WindowFeature::all()
        .map(|feature| window.column(feature))
        .collect();
    players.hstack(&columns)
}

/// The players' acquisition peer cells: each (peer group, install day) somebody installed on,
/// and each player's. Found once for all windows, so that a window adds up its peers by
/// position, where a hash of each player's group and day cost as much as the window's sums.
struct PeerCells {
    /// In order of group, then day.
    cells: Vec<(u32, i32)>,
    /// Per player, the position of their cell, or [`NO_CELL`] without an install day.
    of_player: Vec<u32>,
}

/// [`PeerCells::of_player`] of a player without an install day.
const NO_CELL: u32 = u32::MAX;

impl PeerCells {
    fn of(players: &DataFrame) -> PolarsResult<Self> {
        let groups = players.column(PEER_GROUP)?.u32()?;
        let install_days = players.column("acquisition_date")?.cast(&DataType::Int32)?;
        let keys: Vec<Option<(u32, i32)>> = groups
            .iter()
            .zip(install_days.i32()?.iter())
            .map(|(group, day)| group.zip(day))
            .collect();
        // A few hundred distinct cells among a million players: found by hash, then sorted.
        let cells: PlHashSet<(u32, i32)> = keys.iter().flatten().copied().collect();
        let mut cells: Vec<(u32, i32)> = cells.into_iter().collect();
        cells.sort_unstable();
        let positions: PlHashMap<(u32, i32), u32> = cells.iter().copied().zip(0..).collect();
        let of_player = keys
            .iter()
            .map(|key| {
                key.and_then(|key| positions.get(&key).copied())
                    .unwrap_or(NO_CELL)
            })
            .collect();
        Ok(PeerCells { cells, of_player })
    }
}

/// What a set of acquisition peers adds up to.
#[derive(Debug, Clone, Copy, Default)]
struct PeerTotals {
    installs: i64,
    payers: i64,
    revenue_micros: i64,
}

impl PeerTotals {
    fn add(&mut self, other: &PeerTotals) {
        self.installs += other.installs;
        self.payers += other.payers;
        self.revenue_micros += other.revenue_micros;
    }

    fn take_away(&mut self, other: &PeerTotals) {
        self.installs -= other.installs;
        self.payers -= other.payers;
        self.revenue_micros -= other.revenue_micros;
    }
}

/// The [`PEERS`] features of each player (by row): over the other players of the same
/// [`PEER_GROUP`] installed on the player's install day or the [`PEER_DAYS`]` - 1` days
/// before, the share who paid in the window (IAP revenue above zero in their `sums`) and
/// their total revenue per install, in place of what `features` held. Missing for a player
/// without such peers. Integer totals, so a player's features do not depend on the order the
/// players come in.
fn peer_features(peers: &PeerCells, sums: &[WindowSums], features: &mut [Vec<Option<f64>>; 2]) {
    let player = |row: usize| PeerTotals {
        installs: 1,
        payers: i64::from(sums[row].summed[IAP_REVENUE] > 0),
        revenue_micros: sums[row].summed[TOTAL_REVENUE],
    };
    // A group's install days are few: the players are added up per day first, then each day's
    // window from its days.
    let mut on_day = vec![PeerTotals::default(); peers.cells.len()];
    for (row, cell) in peers.of_player.iter().enumerate() {
        if *cell != NO_CELL {
            on_day[*cell as usize].add(&player(row));
        }
    }
    let mut windows = Vec::with_capacity(on_day.len());
    let mut in_window = PeerTotals::default();
    let mut first = 0;
    for ((group, day), totals) in peers.cells.iter().zip(&on_day) {
        in_window.add(totals);
        let starts = i64::from(*day) - i64::from(PEER_DAYS);
        while peers.cells[first].0 != *group || i64::from(peers.cells[first].1) <= starts {
            in_window.take_away(&on_day[first]);
            first += 1;
        }
        windows.push(in_window);
    }
    let [payer_share, revenue_per_install] = features;
    payer_share.clear();
    revenue_per_install.clear();
    for (row, cell) in peers.of_player.iter().enumerate() {
        // The player's window without the player.
        let mut peers = windows.get(*cell as usize).copied().unwrap_or_default();
        peers.take_away(&player(row));
        let (share, revenue) = if peers.installs > 0 {
            let installs = peers.installs as f64;
            (
                Some(peers.payers as f64 / installs),
                // Micro-units to dollars, then per peer.
                Some(peers.revenue_micros as f64 / 1e6 / installs),
            )
        } else {
            (None, None)
        };
        payer_share.push(share);
        revenue_per_install.push(revenue);
    }
}

/// The training snapshot at `n` days: the [`features`] of `players`' first `n` days and the
/// churn label `active_after` (active on any of the [`CHURN_WINDOW_DAYS`] days after day `n`).
/// `players` and `days` are [`numbered`], once for every window.
pub fn snapshot(players: &DataFrame, days: &PlayerDays, n: i32) -> PolarsResult<LazyFrame> {
    let mut frame = window_features(players, days, n, None)?;
    let mut active_after = vec![false; frame.height()];
    days.add_up(
        n + 1..=n + CHURN_WINDOW_DAYS,
        None,
        &mut active_after,
        |active, fact| {
            *active |= fact.is_active;
        },
    );
    frame.with_column(Column::new("active_after".into(), active_after))?;
    Ok(frame.lazy())
}

/// The label column of a horizon (revenue from install through day H).
pub fn label_column(horizon: i32) -> &'static str {
    match horizon {
        7 => "d7_total_revenue",
        30 => "revenue_d30",
        _ => "revenue_d180",
    }
}

/// The features of `frame` (a [`snapshot`]) as a row-major f32 matrix in the order of
/// [`Vocabulary::feature_names`]; a missing value is NaN, which XGBoost treats as missing.
pub fn matrix(frame: &DataFrame, vocabulary: &Vocabulary) -> PolarsResult<Vec<f32>> {
    let numeric = f32_columns(frame, &vocabulary.numeric)?;
    let numeric = numeric
        .iter()
        .map(|column| Ok(Numeric::Values(column.cont_slice()?)))
        .collect::<PolarsResult<Vec<_>>>()?;
    let categories = Categories::of(frame)?;
    let rows: Vec<usize> = (0..frame.height()).collect();
    Ok(Layout::of(numeric, &categories, vocabulary)?.matrix(&rows))
}

/// `names` of `frame` as contiguous f32 columns, missing as NaN: how a matrix reads a column.
fn f32_columns(frame: &DataFrame, names: &[String]) -> PolarsResult<Vec<Float32Chunked>> {
    let cast = frame
        .clone()
        .lazy()
        .select(
            names
                .iter()
                .map(|name| {
                    col(name.as_str())
                        .cast(DataType::Float32)
                        .fill_null(lit(f32::NAN))
                })
                .collect::<Vec<_>>(),
        )
        .collect()?;
    cast.columns()
        .iter()
        .map(|column| {
            Ok(column
                .as_materialized_series()
                .f32()?
                .rechunk()
                .into_owned())
        })
        .collect()
}

/// What the players' own rows give a matrix of theirs: the [`LIFECYCLE_NUMERIC`] features and
/// the categories. Read once per frame of players, for every window and booster.
pub struct MatrixInputs {
    numeric: Vec<(String, Float32Chunked)>,
    categories: Categories,
}

impl MatrixInputs {
    /// Those of `players` ([`numbered`]) that they have.
    pub fn of(players: &DataFrame) -> PolarsResult<Self> {
        let names: Vec<String> = LIFECYCLE_NUMERIC
            .iter()
            .filter(|name| players.column(name).is_ok())
            .map(|name| name.to_string())
            .collect();
        let columns = f32_columns(players, &names)?;
        Ok(MatrixInputs {
            numeric: names.into_iter().zip(columns).collect(),
            categories: Categories::of(players)?,
        })
    }

    /// The [`LIFECYCLE_NUMERIC`] feature `name`, by player row.
    fn column(&self, name: &str) -> PolarsResult<&[f32]> {
        match self.numeric.iter().find(|(known, _)| known == name) {
            Some((_, values)) => values.cont_slice(),
            None => polars_bail!(
                ColumnNotFound: "feature {name}: neither a window's features nor the players' columns have it"
            ),
        }
    }
}

/// Where a numeric column of a matrix takes its values from, by row.
enum Numeric<'a> {
    /// A column, as [`f32_columns`] reads it.
    Values(&'a [f32]),
    Window(&'a Window, WindowFeature),
}

/// The [`CATEGORICAL`] attributes of a frame's rows, each distinct value numbered once: a
/// matrix finds a row's one-hot column through the number, where hashing the row's strings
/// again for every booster cost as much as the rest of the matrix.
struct Categories {
    /// Per attribute in [`CATEGORICAL`] order, if the frame has it: its distinct values, and
    /// each row's value's position among them ([`NOT_HOT`] for a missing one).
    attributes: Vec<Option<(Vec<String>, Vec<u32>)>>,
}

impl Categories {
    fn of(frame: &DataFrame) -> PolarsResult<Self> {
        let attributes = CATEGORICAL
            .iter()
            .map(|attribute| {
                let Ok(column) = frame.column(attribute) else {
                    return Ok(None);
                };
                let mut distinct: Vec<String> = Vec::new();
                let mut numbers: PlHashMap<&str, u32> = PlHashMap::new();
                let of_row = column
                    .str()?
                    .iter()
                    .map(|value| match value {
                        Some(value) => *numbers.entry(value).or_insert_with(|| {
                            distinct.push(value.to_string());
                            distinct.len() as u32 - 1
                        }),
                        None => NOT_HOT,
                    })
                    .collect();
                Ok(Some((distinct, of_row)))
            })
            .collect::<PolarsResult<_>>()?;
        Ok(Categories { attributes })
    }

    /// Per attribute with one-hot columns in `vocabulary`, each row's column in a matrix whose
    /// one-hot columns start at `first_column` ([`NOT_HOT`] for a value the vocabulary does
    /// not have), by way of a column per distinct value; and the width after them.
    fn hot_columns(
        &self,
        vocabulary: &Vocabulary,
        first_column: usize,
    ) -> PolarsResult<(Vec<OneHot<'_>>, usize)> {
        let mut hot = Vec::new();
        let mut width = first_column;
        for (attribute, values) in CATEGORICAL.iter().zip(&self.attributes) {
            let known = vocabulary.values(attribute);
            if known.is_empty() {
                continue;
            }
            let Some((distinct, of_row)) = values else {
                polars_bail!(ColumnNotFound: "{attribute}");
            };
            let columns: PlHashMap<&str, u32> = known
                .iter()
                .zip(width as u32..)
                .map(|(value, column)| (value.as_str(), column))
                .collect();
            let column_of_value = distinct
                .iter()
                .map(|value| columns.get(value.as_str()).copied().unwrap_or(NOT_HOT))
                .collect();
            hot.push(OneHot {
                of_row,
                column_of_value,
            });
            width += known.len();
        }
        Ok((hot, width))
    }
}

/// Where each column of a matrix takes its values from: the numeric features in the
/// vocabulary's order, then its one-hot columns. Worked out once, then written for any rows.
pub struct Layout<'a> {
    numeric: Vec<Numeric<'a>>,
    one_hot: Vec<OneHot<'a>>,
    width: usize,
}

impl<'a> Layout<'a> {
    fn of(
        numeric: Vec<Numeric<'a>>,
        categories: &'a Categories,
        vocabulary: &Vocabulary,
    ) -> PolarsResult<Self> {
        let (one_hot, width) = categories.hot_columns(vocabulary, numeric.len())?;
        Ok(Layout {
            numeric,
            one_hot,
            width,
        })
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The matrix of `rows` (positions in the layout's columns), written on every core.
    pub fn matrix(&self, rows: &[usize]) -> Vec<f32> {
        let mut values = vec![0.0; rows.len() * self.width];
        if self.width > 0 {
            values
                .par_chunks_mut(BLOCK_ROWS * self.width)
                .zip(rows.par_chunks(BLOCK_ROWS))
                .for_each(|(block, rows)| self.write(rows, block));
        }
        values
    }

    /// Writes the rows of `rows` into `values` (zeros, [`Layout::width`] per row). A block
    /// of rows at a time: the block's rows stay in cache while each column is written into
    /// them, where whole columns would touch every row's cache line once per feature.
    pub fn write(&self, rows: &[usize], values: &mut [f32]) {
        if self.width == 0 {
            return;
        }
        for (block, rows) in values
            .chunks_mut(BLOCK_ROWS * self.width)
            .zip(rows.chunks(BLOCK_ROWS))
        {
            self.write_block(rows, block);
        }
    }

    fn write_block(&self, rows: &[usize], block: &mut [f32]) {
        let width = self.width;
        for (index, column) in self.numeric.iter().enumerate() {
            let cells = block.chunks_exact_mut(width).map(|row| &mut row[index]);
            match column {
                Numeric::Values(values) => {
                    for (cell, row) in cells.zip(rows) {
                        *cell = values[*row];
                    }
                }
                Numeric::Window(window, feature) => {
                    for (cell, row) in cells.zip(rows) {
                        *cell = window
                            .value(*feature, *row)
                            .map_or(f32::NAN, |value| value as f32);
                    }
                }
            }
        }
        for attribute in &self.one_hot {
            for (cells, row) in block.chunks_exact_mut(width).zip(rows) {
                let value = attribute.of_row[*row];
                if value != NOT_HOT {
                    let column = attribute.column_of_value[value as usize];
                    if column != NOT_HOT {
                        cells[column as usize] = 1.0;
                    }
                }
            }
        }
    }
}

/// The one-hot columns of an attribute in a [`Layout`].
struct OneHot<'a> {
    /// Each row's value, as [`Categories`] numbers it.
    of_row: &'a [u32],
    /// Each value's column, or [`NOT_HOT`].
    column_of_value: Vec<u32>,
}

/// Rows of a matrix written together (see [`Layout::write`]).
const BLOCK_ROWS: usize = 512;

/// A row whose value has no one-hot column, or no value.
const NOT_HOT: u32 = u32::MAX;

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use crate::lake::{float_column, string_column};

    use super::*;

    fn players() -> DataFrame {
        let day = install_day();
        df!(
            "acquisition_date" => [day, day],
            "game_id" => ["g", "g"],
            "player_id" => ["payer", "quiet"],
            "platform" => ["ios", "android"],
            "country_code" => ["US", "BR"],
            "media_source" => ["meta", "organic"],
            "campaign_id" => [Some("c"), None],
            "install_cost_usd" => [Some(2.0), None],
            "is_minor" => [false, false],
            "days_observed" => [30, 30],
        )
        .unwrap()
    }

    fn install_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    fn days() -> DataFrame {
        // payer: active days 0, 1 and 9, buys 5 on day 1, 100 on day 9 (outside 0..=3).
        // quiet: active on day 0 only.
        df!(
            "acquisition_date" => [install_day(); 4],
            "game_id" => ["g", "g", "g", "g"],
            "player_id" => ["payer", "payer", "payer", "quiet"],
            "day_number" => [0, 1, 9, 0],
            "iap_revenue" => [0.0, 5.0, 100.0, 0.0],
            "ad_revenue" => [0.5, 0.0, 0.0, 0.25],
            "total_revenue" => [0.5, 5.0, 100.0, 0.25],
            "iap_purchases" => [0i64, 1, 1, 0],
            "ad_impressions" => [2i64, 0, 0, 1],
            "sessions" => [2i64, 1, 1, 1],
            "minutes_played" => [10.0, 5.0, 5.0, 3.0],
            "levels_gained" => [3i64, 1, 1, 1],
            "is_active" => [true, true, true, true],
        )
        .unwrap()
    }

    #[test]
    fn an_amount_without_micro_units_is_an_error_not_a_zero() {
        for amount in [f64::NAN, 1e300] {
            let mut days = days();
            let revenue = Column::new("iap_revenue".into(), [0.0, 5.0, amount, 0.0]);
            days.with_column(revenue).unwrap();
            let Err(err) = numbered(players().lazy(), days.lazy()) else {
                panic!("{amount} was added up");
            };
            assert!(err.to_string().contains("iap_revenue"), "{err}");
        }
    }

    #[test]
    fn facts_are_numbered_by_their_player_and_strangers_left_out() {
        // A stranger of the same game, one of another game with a known id, a null id, and
        // one of another install day with a known id.
        let mut days = days();
        let other_day = install_day().succ_opt().unwrap();
        let strangers = df!(
            "acquisition_date" => [install_day(), install_day(), install_day(), other_day],
            "game_id" => [Some("g"), Some("h"), Some("g"), Some("g")],
            "player_id" => [Some("stranger"), Some("quiet"), None, Some("payer")],
        )
        .unwrap();
        let stranger_days = days
            .head(Some(4))
            .drop_many(PLAYER_KEY.iter().copied())
            .hstack(strangers.columns())
            .unwrap()
            .select(days.get_column_names_owned())
            .unwrap();
        days = stranger_days.vstack(&days).unwrap();
        let (players, numbered_days) = numbered(players().lazy(), days.lazy()).unwrap();
        assert_eq!(players.height(), 2);
        assert_eq!(numbered_days.players, 2);
        let mut facts: Vec<(usize, i32, i64)> = numbered_days
            .facts()
            .map(|(player, fact)| (player, fact.day, fact.summed[TOTAL_REVENUE]))
            .collect();
        facts.sort();
        assert_eq!(
            facts,
            [
                (0, 0, 500_000),
                (0, 1, 5_000_000),
                (0, 9, 100_000_000),
                (1, 0, 250_000)
            ],
            "payer's three days, then quiet's, revenue in micro-units"
        );
    }

    #[test]
    fn a_window_of_latest_days_counts_from_each_players_day_zero() {
        let (players, days) = numbered(players().lazy(), days().lazy()).unwrap();
        // payer's days 8..=10 (active on 9, buys 100 there); quiet's days 0..=2 as they are.
        let own = window_features(&players, &days, 2, Some(&[8, 0])).unwrap();
        assert_eq!(float_column(&own, "total_revenue").unwrap(), [100.0, 0.25]);
        assert_eq!(float_column(&own, "revenue_day0").unwrap(), [0.0, 0.25]);
        assert_eq!(float_column(&own, "active_days").unwrap(), [1.0, 1.0]);
        assert_eq!(float_column(&own, "days_since_active").unwrap(), [1.0, 2.0]);
        // Day zeros for another number of players are refused.
        assert!(window_features(&players, &days, 2, Some(&[8])).is_err());
    }

    fn snapshot_of_fixture(n: i32) -> LazyFrame {
        let (players, days) = numbered(players().lazy(), days().lazy()).unwrap();
        snapshot(&players, &days, n).unwrap()
    }

    #[test]
    fn a_snapshot_sees_only_the_first_n_days_and_churn_looks_one_week_ahead() {
        let snapshot = snapshot_of_fixture(3)
            .sort(["player_id"], SortMultipleOptions::default())
            .collect()
            .unwrap();
        assert_eq!(
            float_column(&snapshot, "total_revenue").unwrap(),
            [5.5, 0.25]
        );
        assert_eq!(
            float_column(&snapshot, "revenue_day0").unwrap(),
            [0.5, 0.25]
        );
        assert_eq!(float_column(&snapshot, "active_days").unwrap(), [2.0, 1.0]);
        // Last active on day 1 and day 0 of the 0..=3 window.
        assert_eq!(
            float_column(&snapshot, "days_since_active").unwrap(),
            [2.0, 3.0]
        );
        // payer comes back on day 9 (within 4..=10); quiet never does.
        let active_after: Vec<Option<bool>> = snapshot
            .column("active_after")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(active_after, [Some(true), Some(false)]);
    }

    /// Numbered fact rows: each row's player number, day, IAP revenue, minutes and activity
    /// (missing where `None`), one session and no ad revenue.
    fn player_days(
        player_of: &[&str],
        day_number: &[i32],
        iap_revenue: &[Option<f64>],
        minutes_played: &[Option<f64>],
        is_active: &[Option<bool>],
    ) -> DataFrame {
        let rows = player_of.len();
        df!(
            "acquisition_date" => vec![install_day(); rows],
            "game_id" => vec!["g"; rows],
            "player_id" => player_of,
            "day_number" => day_number,
            "iap_revenue" => iap_revenue,
            "ad_revenue" => vec![0.0; rows],
            "total_revenue" => iap_revenue,
            "iap_purchases" => iap_revenue.iter().map(|r| r.map(|_| 1i64)).collect::<Vec<_>>(),
            "ad_impressions" => vec![0i64; rows],
            "sessions" => vec![1i64; rows],
            "minutes_played" => minutes_played,
            "levels_gained" => vec![0i64; rows],
            "is_active" => is_active,
        )
        .unwrap()
    }

    #[test]
    fn own_days_add_up_in_their_players_row_in_whole_micro_units_with_missing_as_nothing() {
        let (players, _) = numbered(players().lazy(), days().lazy()).unwrap();
        // payer (row 0): 0.1 and 0.2 on days 0 and 1, 50 on day 2 (after the window), one
        // day whose revenue, minutes and activity are missing. quiet (row 1): one inactive day.
        let days = player_days(
            &["payer", "payer", "quiet", "payer", "payer"],
            &[0, 1, 1, 1, 2],
            &[Some(0.1), Some(0.2), Some(1.0), None, Some(50.0)],
            &[Some(1.5), Some(2.25), Some(4.0), None, Some(9.0)],
            &[Some(true), Some(true), Some(false), None, Some(true)],
        );
        let days = PlayerDays::of(&players, days.lazy()).unwrap();
        let own = window_features(&players, &days, 1, None).unwrap();
        assert_eq!(
            string_column(&own, "player_id").unwrap(),
            [Some("payer".to_string()), Some("quiet".to_string())]
        );
        let about = |name: &str, expected: [f64; 2]| {
            let values = float_column(&own, name).unwrap();
            let close = values
                .iter()
                .zip(expected)
                .all(|(v, e)| (v - e).abs() < 1e-9);
            assert!(close, "{name}: {values:?}, expected {expected:?}");
        };
        about("iap_revenue", [0.3, 1.0]);
        about("total_revenue", [0.3, 1.0]);
        about("revenue_day0", [0.1, 0.0]);
        about("minutes_played", [3.75, 4.0]);
        assert_eq!(float_column(&own, "iap_purchases").unwrap(), [2.0, 1.0]);
        assert_eq!(float_column(&own, "sessions").unwrap(), [3.0, 1.0]);
        assert_eq!(float_column(&own, "active_days").unwrap(), [2.0, 0.0]);
        // quiet was never active in days 0..=1: as if last seen the day before install.
        assert_eq!(float_column(&own, "days_since_active").unwrap(), [0.0, 2.0]);
        assert_eq!(float_column(&own, "active_last_day").unwrap(), [1.0, 0.0]);
    }

    #[test]
    fn facts_in_any_order_find_their_player_and_other_players_facts_are_left_out() {
        // Out of key order, with a player of no row between two of quiet's facts.
        let ids = ["quiet", "payer", "stranger", "quiet", "payer", "a-first"];
        let revenue = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0].map(Some);
        let facts_of = |players: DataFrame| {
            let (players, _) = numbered(players.lazy(), days().lazy()).unwrap();
            let facts = player_days(&ids, &[0; 6], &revenue, &[None; 6], &[None; 6]);
            let facts = PlayerDays::of(&players, facts.lazy()).unwrap();
            facts
                .facts()
                .map(|(player, fact)| (player, fact.summed[TOTAL_REVENUE]))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            facts_of(players()),
            [
                (1, 1_000_000),
                (0, 2_000_000),
                (1, 8_000_000),
                (0, 16_000_000)
            ]
        );
        // Players out of key order (as train-ltv reads them) are numbered as they stand.
        let rows: Vec<usize> = facts_of(players().reverse())
            .into_iter()
            .map(|(row, _)| row)
            .collect();
        assert_eq!(rows, [0, 1, 0, 1]);
    }

    #[test]
    fn a_fact_finds_its_player_by_install_day_with_the_days_read_in_any_order() {
        let day = |n: u64| install_day() + chrono::Days::new(n);
        // Day 2's players before day 1's, and day 1's out of key order.
        let players = df!(
            "acquisition_date" => [day(2), day(2), day(1), day(1), day(1)],
            "game_id" => ["g"; 5],
            "player_id" => ["b", "d", "c", "a", "b"],
            "campaign_id" => [None::<&str>; 5],
        )
        .unwrap();
        // One activity day's facts in key order, their install days interleaved; a player of
        // a day nobody installed on, and one of a known id but another install day.
        let installed = [day(1), day(1), day(2), day(1), day(2), day(3), day(2)];
        let ids = ["a", "b", "b", "c", "d", "e", "e"];
        let revenue = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0].map(Some);
        let mut facts = player_days(&ids, &[0; 7], &revenue, &[None; 7], &[None; 7]);
        facts
            .with_column(Column::new("acquisition_date".into(), installed))
            .unwrap();
        let (players, days) = numbered(players.lazy(), facts.lazy()).unwrap();
        let found: Vec<(usize, i64)> = days
            .facts()
            .map(|(player, fact)| (player, fact.summed[TOTAL_REVENUE] / 1_000_000))
            .collect();
        assert_eq!(found, [(3, 1), (4, 2), (0, 4), (2, 8), (1, 16)]);
        assert_eq!(
            players.height(),
            5,
            "the players stay in the order they were read"
        );
    }

    #[test]
    fn players_out_of_order_or_facts_numbered_for_others_are_refused() {
        let (players, days) = numbered(players().lazy(), days().lazy()).unwrap();
        assert!(features(&players, &days, 1).is_ok());
        let reversed = players.reverse();
        assert!(features(&reversed, &days, 1).is_err());
        let one_player = players.head(Some(1));
        assert!(features(&one_player, &days, 1).is_err());
    }

    #[test]
    fn the_matrix_follows_the_feature_names_with_one_hot_columns_and_nan_for_missing() {
        let snapshot = snapshot_of_fixture(1)
            .sort(["player_id"], SortMultipleOptions::default())
            .collect()
            .unwrap();
        let vocabulary = Vocabulary::of(&players()).unwrap();
        let names = vocabulary.feature_names();
        assert_eq!(
            &names[SUMMED.len() + PER_PLAYER.len() + PEERS.len()..],
            [
                "game_id=g",
                "platform=android",
                "platform=ios",
                "country_code=BR",
                "country_code=US",
                "media_source=meta",
                "media_source=organic"
            ]
        );
        let values = matrix(&snapshot, &vocabulary).unwrap();
        assert_eq!(values.len(), 2 * names.len());
        let at = |row: usize, name: &str| {
            values[row * names.len() + names.iter().position(|n| n == name).unwrap()]
        };
        assert_eq!(at(0, "total_revenue"), 5.5);
        assert_eq!(at(0, "install_cost_usd"), 2.0);
        assert!(at(1, "install_cost_usd").is_nan());
        assert_eq!(
            (at(0, "platform=ios"), at(0, "platform=android")),
            (1.0, 0.0)
        );
        assert_eq!(at(1, "media_source=organic"), 1.0);
        // A value unseen in training leaves its attribute's columns at zero.
        let narrow = Vocabulary {
            media_source: vec!["tiktok".into()],
            ..vocabulary.clone()
        };
        let values = matrix(&snapshot, &narrow).unwrap();
        let width = narrow.feature_names().len();
        assert_eq!(values[width - 1], 0.0);
    }

    #[test]
    fn the_matrix_keeps_each_row_together_across_blocks() {
        let rows = 1300;
        let frame = df!(
            "a" => (0..rows).map(|r| r as f64).collect::<Vec<_>>(),
            "b" => (0..rows).map(|r| (r % 7 != 0).then_some(-(r as i64))).collect::<Vec<_>>(),
        )
        .unwrap();
        let vocabulary = Vocabulary {
            numeric: vec!["a".into(), "b".into()],
            ..Vocabulary::default()
        };
        let values = matrix(&frame, &vocabulary).unwrap();
        assert_eq!(values.len(), rows * 2);
        for row in [0, 1, 511, 512, 513, 1023, 1024, 1299] {
            assert_eq!(values[row * 2], row as f32, "a of row {row}");
            let b = values[row * 2 + 1];
            if row % 7 == 0 {
                assert!(b.is_nan(), "b of row {row} is missing");
            } else {
                assert_eq!(b, -(row as f32), "b of row {row}");
            }
        }
    }

    /// Campaign c's installs on days 0 and 3, on the last day of the first peer window and the
    /// two days after it; one organic player on that last day.
    fn peer_studio() -> (DataFrame, DataFrame) {
        let day =
            |d: i32| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(d as u64);
        let last = PEER_DAYS - 1;
        let names = ["a", "b", "c", "d", "e", "organic"];
        let players = df!(
            "acquisition_date" => [day(0), day(3), day(last), day(last + 1), day(last + 2), day(last)],
            "game_id" => ["g"; 6],
            "player_id" => names,
            "campaign_id" => [Some("c"), Some("c"), Some("c"), Some("c"), Some("c"), None],
        )
        .unwrap();
        // a and d pay in their first day (d on day 1), e pays on day 2 (after window 1).
        let installed = [0, 3, last, last + 1, last + 1, last + 2, last].map(day);
        let days = df!(
            "acquisition_date" => installed,
            "game_id" => ["g"; 7],
            "player_id" => ["a", "b", "c", "d", "d", "e", "organic"],
            "day_number" => [0, 0, 0, 0, 1, 2, 0],
            "iap_revenue" => [5.0, 0.0, 0.0, 0.0, 2.0, 9.0, 4.0],
            "ad_revenue" => [0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 0.0],
            "total_revenue" => [5.0, 1.0, 0.0, 0.5, 2.0, 9.0, 4.0],
            "iap_purchases" => [1i64, 0, 0, 0, 1, 1, 1],
            "ad_impressions" => [0i64, 4, 0, 2, 0, 0, 0],
            "sessions" => [1i64; 7],
            "minutes_played" => [1.0; 7],
            "levels_gained" => [1i64; 7],
            "is_active" => [true; 7],
        )
        .unwrap();
        (players, days)
    }

    #[test]
    fn peers_are_the_same_campaigns_earlier_installs_of_the_week_without_the_player() {
        let (players, days) = peer_studio();
        let (players, days) = numbered(players.lazy(), days.lazy()).unwrap();
        let peers = features(&players, &days, 1)
            .unwrap()
            .sort(["player_id"], SortMultipleOptions::default())
            .collect()
            .unwrap();
        let column = |name: &str| -> Vec<Option<f64>> {
            peers.column(name).unwrap().f64().unwrap().iter().collect()
        };
        // a has no earlier peer; b's is a; c's are a and b; d's window starts on day 1, so
        // they are b and c; e's are b, c and d; the organic player is not c's campaign.
        assert_eq!(
            column("peer_payer_share"),
            [None, Some(1.0), Some(0.5), Some(0.0), Some(1.0 / 3.0), None]
        );
        assert_eq!(
            column("peer_revenue_per_install"),
            [None, Some(5.0), Some(3.0), Some(0.5), Some(3.5 / 3.0), None]
        );
    }

    #[test]
    fn a_window_added_up_in_a_spent_windows_memory_is_the_window_itself() {
        let (players, days) = peer_studio();
        let (players, days) = numbered(players.lazy(), days.lazy()).unwrap();
        let values = |window: &Window| -> Vec<Vec<Option<f64>>> {
            WindowFeature::all()
                .map(|feature| (0..6).map(|row| window.value(feature, row)).collect())
                .collect()
        };
        let day_zero = [0, 0, 0, 0, 1, 0];
        let fresh = Window::of(&players, &days, 1, Some(&day_zero)).unwrap();
        // A wider window of first days leaves sums and peers everywhere, d's and e's too.
        let spent = Window::of(&players, &days, 2, None).unwrap();
        assert_ne!(values(&spent), values(&fresh));
        let reused = spent.reused(&players, &days, 1, Some(&day_zero)).unwrap();
        assert_eq!(values(&reused), values(&fresh));
        // e's day 2 is their day 1 from day zero 1: counted, as in the fresh window.
        assert_eq!(
            reused.value(WindowFeature::Summed(TOTAL_REVENUE), 4),
            Some(9.0)
        );
    }

    #[test]
    fn facts_added_up_on_every_core_land_with_their_player() {
        let (players, days) = peer_studio();
        let (_, days) = numbered(players.lazy(), days.lazy()).unwrap();
        // Each core takes a range of the six players; the totals are those of one pass.
        let [through_day_0, through_day_1] = days.revenue_through(&[0, 1]);
        let mut expected = [vec![0; 6], vec![0; 6]];
        for (player, fact) in days.facts() {
            for (horizon, totals) in expected.iter_mut().enumerate() {
                if fact.day <= horizon as i32 {
                    totals[player] += fact.summed[TOTAL_REVENUE];
                }
            }
        }
        assert_eq!([through_day_0, through_day_1], expected);
        assert_eq!(expected[1][3], 2_500_000, "d's days 0 and 1");
    }

    #[test]
    fn a_peer_group_is_a_game_and_a_campaign_and_a_games_organic_installs_are_one() {
        let players = df!(
            "game_id" => ["g", "g", "h", "g", "h", "g"],
            "campaign_id" => [Some("c"), None, Some("c"), Some("c"), None, None],
        )
        .unwrap();
        let groups = peer_groups(&players).unwrap();
        let groups: Vec<u32> = groups.u32().unwrap().into_no_null_iter().collect();
        assert_eq!(groups, [0, 1, 2, 0, 3, 1]);
    }

    #[test]
    fn a_windows_matrix_of_some_players_is_the_frames_matrix_of_their_rows() {
        let (mut players, days) = peer_studio();
        let attributes = [
            Column::new(
                "install_cost_usd".into(),
                [Some(1.5), None, Some(0.5), Some(2.0), None, None],
            ),
            Column::new(
                "is_minor".into(),
                [
                    Some(false),
                    Some(true),
                    None,
                    Some(false),
                    Some(false),
                    None,
                ],
            ),
            Column::new(
                "platform".into(),
                [
                    Some("ios"),
                    Some("android"),
                    None,
                    Some("ios"),
                    Some("web"),
                    Some("ios"),
                ],
            ),
            Column::new("country_code".into(), ["US", "US", "BR", "DE", "US", "BR"]),
            Column::new(
                "media_source".into(),
                ["meta", "meta", "meta", "meta", "meta", "organic"],
            ),
        ];
        for column in attributes {
            players.with_column(column).unwrap();
        }
        let (players, days) = numbered(players.lazy(), days.lazy()).unwrap();
        // Trained without web: e's platform has no column.
        let vocabulary = Vocabulary {
            platform: vec!["android".into(), "ios".into()],
            ..Vocabulary::of(&players).unwrap()
        };
        let frame = features(&players, &days, 1).unwrap().collect().unwrap();
        // e, then b: a booster's rows come in any order.
        let rows = [4, 1];
        let of_rows = frame
            .take(&IdxCa::from_vec("rows".into(), vec![4, 1]))
            .unwrap();
        let expected = matrix(&of_rows, &vocabulary).unwrap();
        let window = Window::of(&players, &days, 1, None).unwrap();
        let inputs = MatrixInputs::of(&players).unwrap();
        let values = window.layout(&inputs, &vocabulary).unwrap().matrix(&rows);
        let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&values), bits(&expected));

        let names = vocabulary.feature_names();
        let at = |row: usize, name: &str| {
            values[row * names.len() + names.iter().position(|n| n == name).unwrap()]
        };
        // e's own revenue counts its first day only, its peers' theirs (d's day 1 included).
        assert_eq!((at(0, "total_revenue"), at(1, "total_revenue")), (0.0, 1.0));
        assert_eq!(at(0, "peer_revenue_per_install"), (3.5f64 / 3.0) as f32);
        assert_eq!(at(1, "peer_revenue_per_install"), 5.0);
        assert_eq!((at(0, "is_minor"), at(1, "is_minor")), (0.0, 1.0));
        assert!(at(1, "install_cost_usd").is_nan());
        assert_eq!(
            (at(0, "platform=ios"), at(0, "platform=android")),
            (0.0, 0.0)
        );
        assert_eq!(at(1, "platform=android"), 1.0);
        // A feature this build does not compute is refused.
        let renamed = Vocabulary {
            numeric: vec!["no_such_feature".into()],
            ..vocabulary
        };
        assert!(window.layout(&inputs, &renamed).is_err());
    }

    #[test]
    fn every_numeric_feature_is_a_window_feature_or_the_lifecycles_own() {
        for name in numeric() {
            let from_window = WindowFeature::named(name).is_some();
            let from_lifecycle = LIFECYCLE_NUMERIC.contains(&name);
            assert!(from_window != from_lifecycle, "{name}");
        }
        assert!(WindowFeature::all().all(|feature| numeric().any(|n| n == feature.name())));
    }

    #[test]
    fn a_vocabulary_stored_before_peers_keeps_its_features_and_an_unknown_one_is_refused() {
        let stored: Vocabulary = serde_json::from_str(
            r#"{"game_id":["g"],"platform":[],"country_code":[],"media_source":[]}"#,
        )
        .unwrap();
        assert_eq!(stored.numeric, numeric_before_peers());
        assert!(
            !stored
                .numeric
                .iter()
                .any(|name| PEERS.contains(&name.as_str()))
        );
        assert!(stored.is_computed());
        assert_eq!(
            stored.feature_names().len(),
            SUMMED.len() + PER_PLAYER.len() + 1
        );
        let renamed = Vocabulary {
            numeric: vec!["sessions".into(), "no_such_feature".into()],
            ..stored
        };
        assert!(!renamed.is_computed());
    }
}
