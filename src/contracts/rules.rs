//! Field rules compiled once from the YAML, and the check of one JSON value against them.

use std::fmt;
use std::str::FromStr;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use super::model::FieldDoc;
use super::{Json, JsonObject};

/// Why a row was rejected. Kept small and stable: it is a column of `silver.rejects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The payload is not a JSON object.
    NotJson,
    Required,
    Type,
    Pattern,
    Enum,
    Minimum,
    Maximum,
    /// No contract exists for the event's name (in its game or for all games).
    UnknownEvent,
    /// The event's contract is tombstoned: such events are no longer accepted.
    Tombstoned,
    /// The event claims to have happened after it was received.
    FutureTimestamp,
    /// An install of an app that the studio config does not list under any game.
    UnknownApp,
}

impl Rule {
    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::NotJson => "not_json",
            Rule::Required => "required",
            Rule::Type => "type",
            Rule::Pattern => "pattern",
            Rule::Enum => "enum",
            Rule::Minimum => "minimum",
            Rule::Maximum => "maximum",
            Rule::UnknownEvent => "unknown_event",
            Rule::Tombstoned => "tombstoned",
            Rule::FutureTimestamp => "future_timestamp",
            Rule::UnknownApp => "unknown_app",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed rule of one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Dotted path of the field, e.g. `device.os_version`; empty for the row as a whole.
    pub field: String,
    pub rule: Rule,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Uuid,
    Int32,
    Int64,
    Double,
    Boolean,
    /// `YYYY-MM-DD` text.
    Date,
    Object,
}

impl FieldType {
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Uuid => "uuid",
            FieldType::Int32 => "int32",
            FieldType::Int64 => "int64",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Object => "object",
        }
    }

    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int32 | FieldType::Int64 | FieldType::Double
        )
    }

    /// Whether data valid as `self` is always valid as `wider` (int32 → int64 → double).
    pub fn widens_to(self, wider: FieldType) -> bool {
        self == wider
            || matches!(
                (self, wider),
                (FieldType::Int32, FieldType::Int64)
                    | (FieldType::Int32, FieldType::Double)
                    | (FieldType::Int64, FieldType::Double)
                    | (FieldType::Uuid, FieldType::String)
            )
    }

    fn accepts(self, value: &Json) -> bool {
        match self {
            FieldType::String => value.is_string(),
            FieldType::Uuid => value
                .as_str()
                .is_some_and(|text| uuid::Uuid::parse_str(text).is_ok()),
            FieldType::Int32 => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            FieldType::Int64 => value.as_i64().is_some(),
            FieldType::Double => value.is_number(),
            FieldType::Boolean => value.is_bool(),
            FieldType::Date => value
                .as_str()
                .is_some_and(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()),
            FieldType::Object => value.is_object(),
        }
    }
}

impl FromStr for FieldType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "string" => FieldType::String,
            "uuid" => FieldType::Uuid,
            "int32" => FieldType::Int32,
            "int64" | "int" => FieldType::Int64,
            "double" => FieldType::Double,
            "boolean" => FieldType::Boolean,
            "date" => FieldType::Date,
            "object" => FieldType::Object,
            other => {
                return Err(format!(
                    "unknown type `{other}`; use string, uuid, int32, int64, double, boolean, date or object"
                ));
            }
        })
    }
}

/// A field's pattern, searched on each thread with that thread's own clone of the regex.
///
/// A `Regex` keeps one pool of search caches: the first thread to use it takes a fast path and
/// every other thread goes through a shared stack. Rows are judged on every core, and on the
/// 10M-event day that bookkeeping cost about as much as the searches themselves (`perf`); the
/// `regex` documentation's remedy is a clone per thread. Each thread also remembers the last
/// text a pattern matched: a player's rows come together and repeat their id, game, country
/// and version, so most checks end in one comparison instead of a search.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    /// This pattern's slot in each thread's [`THREAD_PATTERNS`]; clones share it.
    slot: usize,
}

static PATTERNS_COMPILED: AtomicUsize = AtomicUsize::new(0);

/// A thread's copy of a pattern, and the last text it matched.
struct ThreadPattern {
    regex: Regex,
    last_match: Option<String>,
}

thread_local! {
    /// By [`Pattern::slot`].
    static THREAD_PATTERNS: RefCell<Vec<Option<ThreadPattern>>> = const { RefCell::new(Vec::new()) };
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Ok(Pattern {
            regex: Regex::new(pattern)?,
            slot: PATTERNS_COMPILED.fetch_add(1, Ordering::Relaxed),
        })
    }

    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    pub fn is_match(&self, text: &str) -> bool {
        THREAD_PATTERNS.with_borrow_mut(|patterns| {
            if patterns.len() <= self.slot {
                patterns.resize_with(self.slot + 1, || None);
            }
            let own = patterns[self.slot].get_or_insert_with(|| ThreadPattern {
                regex: self.regex.clone(),
                last_match: None,
            });
            if own.last_match.as_deref() == Some(text) {
                return true;
            }
            let matched = own.regex.is_match(text);
            if matched {
                let last = own.last_match.get_or_insert_with(String::new);
                last.clear();
                last.push_str(text);
            }
            matched
        })
    }
}

/// A field's rules, compiled.
#[derive(Debug, Clone)]
pub struct FieldRule {
    pub path: String,
    pub name: String,
    pub kind: FieldType,
    pub required: bool,
    pub pattern: Option<Pattern>,
    pub allowed: Option<Vec<Value>>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub pii: bool,
    pub csv_column: Option<String>,
    pub members: Vec<FieldRule>,
}

/// A problem in how a field is written, found while compiling it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    pub field: String,
    pub rule: &'static str,
    pub message: String,
}

impl FieldRule {
    /// Compiles a field and its members; every problem is reported, not only the first.
    pub fn compile(
        doc: &FieldDoc,
        parent: &str,
        problems: &mut Vec<FieldProblem>,
    ) -> Option<FieldRule> {
        let path = if parent.is_empty() {
            doc.name.clone()
        } else {
            format!("{parent}.{}", doc.name)
        };
        let mut problem = |rule, message: String| {
            problems.push(FieldProblem {
                field: path.clone(),
                rule,
                message,
            })
        };
        let kind = match doc.kind.parse::<FieldType>() {
            Ok(kind) => kind,
            Err(message) => {
                problem("unknown_type", message);
                return None;
            }
        };
        let pattern = doc.pattern.as_deref().and_then(|pattern| {
            if kind != FieldType::String {
                problem(
                    "pattern_type",
                    format!(
                        "pattern on a {} field; patterns apply to strings",
                        kind.as_str()
                    ),
                );
            }
            Pattern::new(pattern)
                .map_err(|err| problem("bad_pattern", format!("pattern does not compile: {err}")))
                .ok()
        });
        let allowed = doc.allowed.as_ref().map(|values| {
            values
                .iter()
                .filter_map(|value| {
                    let json = serde_json::to_value(value).unwrap_or(Value::Null);
                    if kind.accepts(&Json::from(&json)) {
                        Some(json)
                    } else {
                        problem(
                            "enum_type",
                            format!("enum value {json} is not a {}", kind.as_str()),
                        );
                        None
                    }
                })
                .collect::<Vec<_>>()
        });
        if (doc.minimum.is_some() || doc.maximum.is_some()) && !kind.is_numeric() {
            problem(
                "range_type",
                format!("minimum/maximum on a {} field", kind.as_str()),
            );
        }
        if let (Some(minimum), Some(maximum)) = (doc.minimum, doc.maximum)
            && minimum > maximum
        {
            problem(
                "empty_range",
                format!("minimum {minimum} is above maximum {maximum}"),
            );
        }
        let members = match (&doc.fields, kind) {
            (Some(members), FieldType::Object) => {
                FieldRule::report_duplicates(members, &path, problems);
                members
                    .iter()
                    .filter_map(|member| FieldRule::compile(member, &path, problems))
                    .collect()
            }
            (Some(_), _) => {
                problems.push(FieldProblem {
                    field: path.clone(),
                    rule: "members_type",
                    message: "only object fields have members".into(),
                });
                Vec::new()
            }
            (None, _) => Vec::new(),
        };
        Some(FieldRule {
            path,
            name: doc.name.clone(),
            kind,
            required: doc.required,
            pattern,
            allowed,
            minimum: doc.minimum,
            maximum: doc.maximum,
            pii: doc.pii,
            csv_column: doc.csv_column.clone(),
            members,
        })
    }

    /// Reports each field of `fields` (a contract's, or an object's members below `parent`)
    /// declared again after its first: both would be checked, by rules that may disagree,
    /// when the author meant one.
    pub fn report_duplicates(fields: &[FieldDoc], parent: &str, problems: &mut Vec<FieldProblem>) {
        let mut names = HashSet::new();
        for field in fields {
            if !names.insert(field.name.as_str()) {
                problems.push(FieldProblem {
                    field: if parent.is_empty() {
                        field.name.clone()
                    } else {
                        format!("{parent}.{}", field.name)
                    },
                    rule: "duplicate_field",
                    message: "is declared twice".into(),
                });
            }
        }
    }

    /// Checks the field's value in `row` (an object) and appends what fails.
    pub fn check(&self, row: &JsonObject, violations: &mut Vec<Violation>) {
        let value = match row.get(&self.name) {
            None | Some(Json::Null) => {
                if self.required {
                    violations
                        .push(self.violation(Rule::Required, "is required but missing".into()));
                }
                return;
            }
            Some(value) => value,
        };
        if !self.kind.accepts(value) {
            violations.push(self.violation(
                Rule::Type,
                format!("expected {}, got {}", self.kind.as_str(), describe(value)),
            ));
            return;
        }
        if let (Some(pattern), Some(text)) = (&self.pattern, value.as_str())
            && !pattern.is_match(text)
        {
            violations.push(self.violation(
                Rule::Pattern,
                format!("`{}` does not match {}", clip(text), pattern.as_str()),
            ));
        }
        if let Some(allowed) = &self.allowed
            && !allowed.iter().any(|candidate| same_value(candidate, value))
        {
            violations.push(self.violation(
                Rule::Enum,
                format!(
                    "{} is not one of {}",
                    clip(&value.to_string()),
                    Value::from(allowed.clone())
                ),
            ));
        }
        if let Some(number) = value.as_f64() {
            if let Some(minimum) = self.minimum
                && number < minimum
            {
                violations.push(self.violation(
                    Rule::Minimum,
                    format!("{number} is below the minimum {minimum}"),
                ));
            }
            if let Some(maximum) = self.maximum
                && number > maximum
            {
                violations.push(self.violation(
                    Rule::Maximum,
                    format!("{number} is above the maximum {maximum}"),
                ));
            }
        }
        if let Json::Object(members) = value {
            for member in &self.members {
                member.check(members, violations);
            }
        }
    }

    /// The field's value in a CSV record, typed as JSON: the cell is found under the field's
    /// `csv_column` (else its name), an empty cell is missing, and numbers and booleans are
    /// parsed; text that does not parse stays text, so the type rule reports it.
    pub fn csv_value<'a>(&self, record: &JsonObject<'a>) -> Option<Json<'a>> {
        let column = self.csv_column.as_deref().unwrap_or(&self.name);
        let cell = record.get(column).or_else(|| record.get(&self.name))?;
        let Json::Str(cell_text) = cell else {
            return Some(cell.clone());
        };
        let text = cell_text.trim();
        if text.is_empty() {
            return None;
        }
        let parsed = match self.kind {
            FieldType::Int32 | FieldType::Int64 => text.parse::<i64>().ok().map(Json::from),
            FieldType::Double => text.parse::<f64>().ok().map(Json::from),
            FieldType::Boolean => text.parse::<bool>().ok().map(Json::from),
            _ => None,
        };
        // Text that stays text keeps borrowing the record's.
        Some(parsed.unwrap_or_else(|| match cell_text {
            Cow::Borrowed(whole) => Json::Str(Cow::Borrowed(whole.trim())),
            Cow::Owned(_) => Json::from(text.to_owned()),
        }))
    }

    fn violation(&self, rule: Rule, message: String) -> Violation {
        Violation {
            field: self.path.clone(),
            rule,
            message,
        }
    }
}

/// Whether a row's value is an allowed one; numbers compare by value, so 2 is 2.0. Text,
/// numbers and booleans, the enums contracts have, compare without copying the row's value.
fn same_value(expected: &Value, actual: &Json) -> bool {
    match (expected, actual) {
        (Value::String(expected), Json::Str(actual)) => expected == actual,
        (Value::Number(expected), Json::Number(actual)) => expected.as_f64() == actual.as_f64(),
        (Value::Bool(expected), Json::Bool(actual)) => expected == actual,
        _ => *expected == Value::from(actual),
    }
}

fn describe(value: &Json) -> String {
    let kind = match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_f64() => "a fractional number",
        Json::Number(_) => "an integer",
        Json::Str(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    };
    format!("{kind} ({})", clip(&value.to_string()))
}

/// Keeps messages short: a sample is evidence, not a copy of the payload.
fn clip(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.len() <= LIMIT {
        text.to_string()
    } else {
        let cut = (0..=LIMIT)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}…", &text[..cut])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_answers_as_its_regex_on_every_thread_whatever_it_matched_last() {
        let country = Pattern::new("^[A-Z]{2}$").expect("the pattern compiles");
        let semver = Pattern::new(r"^[0-9]+\.[0-9]+\.[0-9]+$").expect("the pattern compiles");
        let texts = ["US", "US", "USA", "US", "", "GB", "gb", "GB", "1.2.3"];
        let answers = |pattern: &Pattern| -> Vec<bool> {
            texts.iter().map(|text| pattern.is_match(text)).collect()
        };
        let expected = [true, true, false, true, false, true, false, true, false];
        assert_eq!(answers(&country), expected);
        assert_eq!(
            answers(&semver),
            [false, false, false, false, false, false, false, false, true],
            "each pattern remembers its own last match"
        );
        let cloned = country.clone();
        std::thread::scope(|scope| {
            for pattern in [&country, &cloned] {
                scope.spawn(move || assert_eq!(answers(pattern), expected));
            }
        });
        assert_eq!(country.as_str(), "^[A-Z]{2}$");
    }
}
