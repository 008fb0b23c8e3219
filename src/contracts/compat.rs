//! `check-contracts compat`: changes that would break readers of data already written, unless
//! the contract's major version says so (a schema registry's BACKWARD_TRANSITIVE mode).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::rules::FieldRule;
use super::{Contract, ContractKey, Document, Status, lint};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BreakingChange {
    pub contract: String,
    pub field: Option<String>,
    pub change: String,
}

impl fmt::Display for BreakingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: field `{field}`: {}", self.contract, self.change),
            None => write!(f, "{}: {}", self.contract, self.change),
        }
    }
}

/// Breaking changes from `base` to `head`. Contracts that do not compile on either side are
/// left to `lint`.
pub fn compare(base: &[Document], head: &[Document]) -> Vec<BreakingChange> {
    let by_key = |documents| -> BTreeMap<ContractKey, Contract> {
        lint::compile_all(documents)
            .0
            .into_iter()
            .map(|c| (c.key.clone(), c))
            .collect()
    };
    let (base, head) = (by_key(base), by_key(head));
    let mut changes = Vec::new();
    for (key, old) in &base {
        let Some(new) = head.get(key) else {
            if old.status != Status::Tombstone {
                changes.push(BreakingChange {
                    contract: format!("{} ({key})", old.id),
                    field: None,
                    change: "contract removed; tombstone it first".into(),
                });
            }
            continue;
        };
        if new.version.major > old.version.major {
            continue;
        }
        let label = format!("{} v{} -> v{}", new.id, old.version, new.version);
        let before = changes.len();
        compare_fields(&old.fields, &new.fields, &mut |field, change| {
            changes.push(BreakingChange {
                contract: label.clone(),
                field: Some(field.to_string()),
                change,
            })
        });
        if changes.len() > before {
            changes.push(BreakingChange {
                contract: label,
                field: None,
                change: format!(
                    "breaking changes need a major version ({}.0.0)",
                    old.version.major + 1
                ),
            });
        }
    }
    changes
}

fn compare_fields(old: &[FieldRule], new: &[FieldRule], report: &mut dyn FnMut(&str, String)) {
    for old_field in old {
        let Some(new_field) = new.iter().find(|f| f.name == old_field.name) else {
            report(&old_field.path, "removed".into());
            continue;
        };
        compare_field(old_field, new_field, report);
    }
    for new_field in new {
        if new_field.required && !old.iter().any(|f| f.name == new_field.name) {
            report(
                &new_field.path,
                "added as required; old rows lack it".into(),
            );
        }
    }
}

fn compare_field(old: &FieldRule, new: &FieldRule, report: &mut dyn FnMut(&str, String)) {
    let path = &new.path;
    if new.required && !old.required {
        report(path, "became required".into());
    }
    if !old.kind.widens_to(new.kind) {
        report(
            path,
            format!(
                "type {} -> {} does not accept all old values",
                old.kind.as_str(),
                new.kind.as_str()
            ),
        );
    }
    match (&old.allowed, &new.allowed) {
        (None, Some(_)) => report(path, "enum added".into()),
        (Some(old_values), Some(new_values)) => {
            let dropped: Vec<&Value> = old_values
                .iter()
                .filter(|v| !new_values.contains(v))
                .collect();
            if !dropped.is_empty() {
                report(
                    path,
                    format!(
                        "enum narrowed: {} removed",
                        Value::from(dropped.into_iter().cloned().collect::<Vec<_>>())
                    ),
                );
            }
        }
        _ => {}
    }
    let tightened = |old: Option<f64>, new: Option<f64>, raised: bool| match (old, new) {
        (None, Some(_)) => true,
        (Some(old), Some(new)) => {
            if raised {
                new > old
            } else {
                new < old
            }
        }
        _ => false,
    };
    if tightened(old.minimum, new.minimum, true) {
        report(
            path,
            format!("minimum tightened {:?} -> {:?}", old.minimum, new.minimum),
        );
    }
    if tightened(old.maximum, new.maximum, false) {
        report(
            path,
            format!("maximum tightened {:?} -> {:?}", old.maximum, new.maximum),
        );
    }
    let pattern = |rule: &FieldRule| rule.pattern.as_ref().map(|p| p.as_str().to_string());
    if pattern(new).is_some() && pattern(old) != pattern(new) {
        report(
            path,
            format!("pattern changed {:?} -> {:?}", pattern(old), pattern(new)),
        );
    }
    compare_fields(&old.members, &new.members, report);
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git {args}: {message}")]
    Failed { args: String, message: String },
}

/// The contract documents of the folder `dir` (inside a git work tree) as they were at `rev`.
/// A revision without the folder has no contracts.
pub fn documents_at(dir: &Path, rev: &str) -> Result<Vec<Document>, GitError> {
    git(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )?;
    let prefix = git(dir, &["rev-parse", "--show-prefix"])?
        .trim()
        .to_string();
    let listing = git(
        dir,
        &["ls-tree", "-r", "--name-only", "--full-name", rev, "."],
    )?;
    let mut documents = Vec::new();
    for path in listing
        .lines()
        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))
    {
        let text = git(dir, &["show", &format!("{rev}:{path}")])?;
        let relative = path.strip_prefix(prefix.as_str()).unwrap_or(path);
        documents.push(Document::new(relative.into(), text));
    }
    documents.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(documents)
}

fn git(repo: &Path, args: &[&str]) -> Result<String, GitError> {
    let failed = |message: String| GitError::Failed {
        args: args.join(" "),
        message,
    };
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|err| failed(err.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(failed(if stderr.is_empty() {
            "no such revision".into()
        } else {
            stderr
        }));
    }
    String::from_utf8(output.stdout).map_err(|err| failed(err.to_string()))
}
