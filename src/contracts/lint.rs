//! `check-contracts lint`: every problem in the contracts folder, one line each.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::Days;
use semver::Version;

use super::model::{ContractDoc, ContractKind, Status};
use super::rules::FieldRule;
use super::{ALL_GAMES, Contract, ContractKey, Document};

/// Days of notice a deprecation must give (design: "Deprecation window = minimum 90 days").
pub const DEPRECATION_NOTICE_DAYS: u64 = 90;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.rule,
            self.message
        )
    }
}

pub fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compiles every document that can be compiled and lists every problem found on the way,
/// including those between documents (duplicate ids, two contracts for one event).
pub fn compile_all(documents: &[Document]) -> (Vec<Contract>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut contracts = Vec::new();
    for document in documents {
        if let Some(contract) = compile(document, &mut problems) {
            contracts.push(contract);
        }
    }
    let mut ids: HashMap<&str, &Contract> = HashMap::new();
    let mut keys: HashMap<&ContractKey, &Contract> = HashMap::new();
    for contract in &contracts {
        let document = documents.iter().find(|d| d.path == contract.path);
        let line = document.map_or(1, |d| d.line_of("contract_id:"));
        if let Some(first) = ids.insert(&contract.id, contract) {
            problems.push(problem(
                &contract.path,
                line,
                "duplicate_id",
                format!(
                    "contract_id {} is also used by {}",
                    contract.id,
                    first.path.display()
                ),
            ));
        }
        if let Some(first) = keys.insert(&contract.key, contract) {
            problems.push(problem(
                &contract.path,
                line,
                "duplicate_contract",
                format!(
                    "{} is also governed by {}",
                    contract.key,
                    first.path.display()
                ),
            ));
        }
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    (contracts, problems)
}

/// Every problem in the documents, in file and line order.
pub fn lint(documents: &[Document]) -> Vec<Problem> {
    compile_all(documents).1
}

fn problem(file: &Path, line: usize, rule: &'static str, message: String) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        rule,
        message,
    }
}

fn compile(document: &Document, problems: &mut Vec<Problem>) -> Option<Contract> {
    let doc = match &document.parsed {
        Ok(doc) => doc,
        Err(err) => {
            let line = err.location().map_or(1, |location| location.line());
            problems.push(problem(&document.path, line, "parse", err.to_string()));
            return None;
        }
    };
    let at = |needle: &str| document.line_of(needle);
    let before = problems.len();

    let version = Version::parse(&doc.version)
        .map_err(|err| {
            problems.push(problem(
                &document.path,
                at("version:"),
                "version",
                format!(
                    "version `{}` is not semantic (MAJOR.MINOR.PATCH): {err}",
                    doc.version
                ),
            ))
        })
        .ok();
    let key = contract_key(document, doc, problems);

    let mut field_problems = Vec::new();
    FieldRule::report_duplicates(&doc.fields, "", &mut field_problems);
    let fields: Vec<FieldRule> = doc
        .fields
        .iter()
        .filter_map(|field| FieldRule::compile(field, "", &mut field_problems))
        .collect();
    for field_problem in field_problems {
        let name = field_problem.field.rsplit('.').next().unwrap_or_default();
        problems.push(problem(
            &document.path,
            at(&format!("name: {name}")),
            field_problem.rule,
            format!("field `{}`: {}", field_problem.field, field_problem.message),
        ));
    }
    if doc.golden
        && doc
            .sla
            .as_ref()
            .is_none_or(|sla| sla.freshness_seconds.is_none() && sla.uptime.is_none())
    {
        problems.push(problem(
            &document.path,
            at("golden:"),
            "golden_sla",
            "a golden event needs an sla (uptime or freshness_seconds)".into(),
        ));
    }
    check_deprecation(document, doc, problems);
    if let (Some(version), Some(last)) = (&version, doc.change_history.last())
        && Version::parse(&last.version).ok().as_ref() != Some(version)
    {
        problems.push(problem(
            &document.path,
            at("change_history:"),
            "change_history",
            format!(
                "the last change_history entry is {} but the contract is version {version}",
                last.version
            ),
        ));
    }

    if problems.len() > before {
        return None;
    }
    Some(Contract {
        id: doc.contract_id.clone(),
        key: key?,
        version: version?,
        status: doc.status,
        golden: doc.golden,
        fields,
        freshness_seconds: doc.sla.as_ref().and_then(|sla| sla.freshness_seconds),
        path: document.path.clone(),
    })
}

/// What the document governs, checked against where it lives in the folder.
fn contract_key(
    document: &Document,
    doc: &ContractDoc,
    problems: &mut Vec<Problem>,
) -> Option<ContractKey> {
    let folder = document
        .path
        .parent()
        .and_then(Path::to_str)
        .unwrap_or_default();
    let stem = document
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let mut misplaced = |message: String| {
        problems.push(problem(&document.path, 1, "location", message));
        None
    };
    match doc.kind {
        ContractKind::Global => Some(ContractKey::Global),
        ContractKind::Source => match &doc.source {
            Some(source) if source == stem => Some(ContractKey::Source(source.clone())),
            Some(source) => misplaced(format!(
                "source `{source}` must live in sources/{source}.yaml"
            )),
            None => misplaced("a source contract needs `source:`".into()),
        },
        ContractKind::Event => {
            let Some(event) = &doc.event_name else {
                return misplaced("an event contract needs `event_name:`".into());
            };
            if event != stem {
                return misplaced(format!(
                    "event `{event}` must live in a file named {event}.yaml"
                ));
            }
            match doc.game_title.as_deref() {
                None | Some("*") if folder == ALL_GAMES => Some(ContractKey::Event {
                    game: None,
                    event: event.clone(),
                }),
                Some(game) if game != "*" && folder == game => Some(ContractKey::Event {
                    game: Some(game.to_string()),
                    event: event.clone(),
                }),
                game => misplaced(format!(
                    "game_title {:?} must live in contracts/{}/",
                    game.unwrap_or("*"),
                    match game {
                        Some(game) if game != "*" => game,
                        _ => ALL_GAMES,
                    }
                )),
            }
        }
    }
}

fn check_deprecation(document: &Document, doc: &ContractDoc, problems: &mut Vec<Problem>) {
    if doc.status != Status::Deprecated {
        return;
    }
    let line = document.line_of("deprecation_date:");
    let Some(deprecation_date) = doc.deprecation_date else {
        problems.push(problem(
            &document.path,
            line,
            "deprecation",
            "a deprecated contract needs a deprecation_date".into(),
        ));
        return;
    };
    let Some(changed) = doc.change_history.iter().map(|change| change.date).max() else {
        problems.push(problem(
            &document.path,
            line,
            "deprecation",
            "a deprecated contract needs the change_history entry that deprecated it".into(),
        ));
        return;
    };
    let earliest = changed + Days::new(DEPRECATION_NOTICE_DAYS);
    if deprecation_date < earliest {
        problems.push(problem(&document.path, line, "deprecation", format!(
            "deprecation_date {deprecation_date} gives less than {DEPRECATION_NOTICE_DAYS} days of notice after the change of {changed}; use {earliest} or later"
        )));
    }
}
