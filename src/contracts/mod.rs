//! Data contracts: the YAML files in `contracts/`, compiled once into rules that `check-contracts`
//! reports on and `bronze-to-silver` enforces.
//!
//! Layout of the folder:
//! - `global.yaml` — fields every telemetry event carries;
//! - `all-games/<event_name>.yaml` — an event's contract for every game;
//! - `<game_title>/<event_name>.yaml` — a game's own contract, overriding the shared one;
//! - `sources/<source>.yaml` — attribution, ad spend and campaign records.

pub mod compat;
pub mod judge;
pub mod lint;
pub mod model;
pub mod rules;

use std::path::{Path, PathBuf};

use polars::prelude::PlHashMap;
use semver::Version;

pub use model::{ContractKind, Status};
pub use rules::{FieldRule, FieldType, Rule, Violation};

/// Folder of the contracts when `--contracts` is not given.
pub const DEFAULT_DIR: &str = "contracts";
/// Folder of the contracts that apply to every game.
pub const ALL_GAMES: &str = "all-games";
/// How far in the future an event may claim to be, to allow for clock skew, in milliseconds.
pub const FUTURE_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// A row as the rules read it: parsed from the row's JSON text, borrowing its keys and strings
/// from that text, so that judging a day's rows does not copy them. An object keeps its keys
/// in the text's order and is searched in that order: a key written twice is read at its
/// first value. (Bronze's `raw_json` is the message as it arrived, PII hashed, so it may
/// repeat a key; ingest-drain types Bronze's columns from the first value too.)
pub type Json<'a> = serde_json_borrow::Value<'a>;
/// A JSON object of a [`Json`] row.
pub type JsonObject<'a> = serde_json_borrow::ObjectAsVec<'a>;

/// A contract file as read: its path below the contracts folder, its text and its parse.
#[derive(Debug)]
pub struct Document {
    pub path: PathBuf,
    pub text: String,
    pub parsed: Result<model::ContractDoc, serde_yaml_ng::Error>,
}

impl Document {
    pub fn new(path: PathBuf, text: String) -> Self {
        let parsed = serde_yaml_ng::from_str(&text);
        Document { path, text, parsed }
    }

    /// The 1-based line of the first line containing `needle`, or 1.
    pub fn line_of(&self, needle: &str) -> usize {
        self.text
            .lines()
            .position(|line| line.contains(needle))
            .map_or(1, |index| index + 1)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("cannot read the contracts in {path} (set --contracts or CONTRACTS_DIR)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} problem(s) in the contracts; run `check-contracts lint`:\n{}", .0.len(), lint::render(.0))]
    Invalid(Vec<lint::Problem>),
}

/// Reads every `*.yaml` file below `dir`, in path order.
pub fn read_documents(dir: &Path) -> Result<Vec<Document>, ContractError> {
    let read_error = |source| ContractError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut documents = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                let text = std::fs::read_to_string(&path).map_err(read_error)?;
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                documents.push(Document::new(relative, text));
            }
        }
    }
    documents.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(documents)
}

/// What a contract governs; two contracts with one key conflict.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContractKey {
    Global,
    /// `game` is `None` for the contract shared by all games.
    Event {
        game: Option<String>,
        event: String,
    },
    Source(String),
}

impl std::fmt::Display for ContractKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContractKey::Global => f.write_str("global fields"),
            ContractKey::Event { game: None, event } => write!(f, "event {event} (all games)"),
            ContractKey::Event {
                game: Some(game),
                event,
            } => write!(f, "event {event} ({game})"),
            ContractKey::Source(source) => write!(f, "source {source}"),
        }
    }
}

/// A compiled contract.
#[derive(Debug, Clone)]
pub struct Contract {
    pub id: String,
    pub key: ContractKey,
    pub version: Version,
    pub status: Status,
    pub golden: bool,
    pub fields: Vec<FieldRule>,
    pub freshness_seconds: Option<u64>,
    pub path: PathBuf,
}

impl Contract {
    /// Paths of the fields marked `pii`, members included.
    pub fn pii_fields(&self) -> Vec<&str> {
        fn walk<'a>(fields: &'a [FieldRule], out: &mut Vec<&'a str>) {
            for field in fields {
                if field.pii {
                    out.push(&field.path);
                }
                walk(&field.members, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.fields, &mut out);
        out
    }

    /// A CSV record with its cells under the contract's field names, typed.
    pub fn typed_csv<'a>(&'a self, record: &JsonObject<'a>) -> JsonObject<'a> {
        self.fields
            .iter()
            .filter_map(|field| Some((field.name.as_str(), field.csv_value(record)?)))
            .collect()
    }

    fn check(&self, row: &JsonObject, violations: &mut Vec<Violation>) {
        for field in &self.fields {
            field.check(row, violations);
        }
    }
}

/// The outcome of checking one row: which contract judged it and what failed.
#[derive(Debug, Clone)]
pub struct Verdict<'a> {
    pub contract: Option<&'a Contract>,
    pub violations: Vec<Violation>,
}

impl Verdict<'_> {
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Every contract, compiled; the one way rows are judged.
#[derive(Debug, Clone, Default)]
pub struct ContractSet {
    global: Option<Contract>,
    /// By event name, then game: a lookup per judged event borrows its name and game, where a
    /// map keyed by (game, event) pairs had to build owned keys for every event.
    /// Keyed with polars' fast hasher: the keys are the contracts' own names, fixed at load,
    /// so an event's names only probe a small table, and SipHash cost twice as much per event.
    events: PlHashMap<String, EventContracts>,
    sources: PlHashMap<String, Contract>,
}

/// The contracts of one event name.
#[derive(Debug, Clone, Default)]
struct EventContracts {
    all_games: Option<Contract>,
    by_game: PlHashMap<String, Contract>,
}

impl ContractSet {
    /// Reads and compiles the contracts in `dir`; refuses a folder that does not lint cleanly.
    pub fn load(dir: &Path) -> Result<Self, ContractError> {
        Self::from_documents(&read_documents(dir)?)
    }

    /// The repository's own contracts, for tests.
    #[cfg(test)]
    pub fn repository() -> Self {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DIR))
            .expect("the repository's contracts compile")
    }

    /// The names of the fields every event carries.
    pub fn global_field_names(&self) -> Vec<&str> {
        self.global()
            .map(|global| global.fields.iter().map(|f| f.name.as_str()).collect())
            .unwrap_or_default()
    }

    pub fn from_documents(documents: &[Document]) -> Result<Self, ContractError> {
        let (contracts, problems) = lint::compile_all(documents);
        if !problems.is_empty() {
            return Err(ContractError::Invalid(problems));
        }
        let mut set = ContractSet::default();
        for contract in contracts {
            match contract.key.clone() {
                ContractKey::Global => set.global = Some(contract),
                ContractKey::Event { game, event } => {
                    let contracts = set.events.entry(event).or_default();
                    match game {
                        Some(game) => contracts.by_game.insert(game, contract),
                        None => contracts.all_games.replace(contract),
                    };
                }
                ContractKey::Source(source) => {
                    set.sources.insert(source, contract);
                }
            }
        }
        Ok(set)
    }

    pub fn contracts(&self) -> impl Iterator<Item = &Contract> {
        self.global
            .iter()
            .chain(
                self.events.values().flat_map(|contracts| {
                    contracts.all_games.iter().chain(contracts.by_game.values())
                }),
            )
            .chain(self.sources.values())
    }

    pub fn global(&self) -> Option<&Contract> {
        self.global.as_ref()
    }

    /// The contract of `event` in `game`: the game's own, else the one for all games.
    pub fn event_contract(&self, game: &str, event: &str) -> Option<&Contract> {
        let contracts = self.events.get(event)?;
        contracts.by_game.get(game).or(contracts.all_games.as_ref())
    }

    pub fn source_contract(&self, source: &str) -> Option<&Contract> {
        self.sources.get(source)
    }

    /// Judges a telemetry event: global fields, then its event contract. `received_at_ms` is
    /// when the pipeline received it (the ingest time), never the wall clock of the check.
    pub fn check_event(&self, event: &Json, received_at_ms: Option<i64>) -> Verdict<'_> {
        match event {
            Json::Object(row) => self.check_event_object(row, received_at_ms),
            _ => Verdict {
                contract: None,
                violations: vec![Violation {
                    field: String::new(),
                    rule: Rule::NotJson,
                    message: "an event must be a JSON object".into(),
                }],
            },
        }
    }

    /// [`ContractSet::check_event`] of an event known to be an object.
    pub fn check_event_object(&self, row: &JsonObject, received_at_ms: Option<i64>) -> Verdict<'_> {
        let mut violations = Vec::new();
        if let Some(global) = &self.global {
            global.check(row, &mut violations);
        }
        if let (Some(timestamp), Some(received)) = (
            row.get("event_timestamp").and_then(Json::as_i64),
            received_at_ms,
        ) && timestamp > received + FUTURE_TOLERANCE_MS
        {
            violations.push(Violation {
                field: "event_timestamp".into(),
                rule: Rule::FutureTimestamp,
                message: format!(
                    "{timestamp} is {} s after it was received",
                    (timestamp - received) / 1000
                ),
            });
        }
        let name = row
            .get("event_name")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let game = row
            .get("game_title")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let contract = self.event_contract(game, name);
        match contract {
            None => violations.push(Violation {
                field: "event_name".into(),
                rule: Rule::UnknownEvent,
                message: format!("no contract for event `{name}` of game `{game}`"),
            }),
            Some(contract) if contract.status == Status::Tombstone => violations.push(Violation {
                field: "event_name".into(),
                rule: Rule::Tombstoned,
                message: format!(
                    "contract {} v{} is tombstoned",
                    contract.id, contract.version
                ),
            }),
            Some(contract) => contract.check(row, &mut violations),
        }
        Verdict {
            contract,
            violations,
        }
    }

    /// Judges a CSV row of a source, given as column → cell text: cells are read under the
    /// contract's `csv_column` names and typed first (see [`FieldRule::csv_value`]).
    pub fn check_csv_record(&self, source: &str, record: &JsonObject) -> Verdict<'_> {
        match self.source_contract(source) {
            Some(contract) => self.check_record(source, &contract.typed_csv(record)),
            None => self.check_record(source, record),
        }
    }

    /// Judges a record of a source (attribution, ad spend, campaigns).
    pub fn check_record(&self, source: &str, record: &JsonObject) -> Verdict<'_> {
        let contract = self.source_contract(source);
        let mut violations = Vec::new();
        match contract {
            Some(contract) => contract.check(record, &mut violations),
            None => violations.push(Violation {
                field: String::new(),
                rule: Rule::UnknownEvent,
                message: format!("no contract for source `{source}`"),
            }),
        }
        Verdict {
            contract,
            violations,
        }
    }
}

/// Also the fixtures other modules' tests judge: an event every contract here accepts.
#[cfg(test)]
pub(crate) mod tests;
