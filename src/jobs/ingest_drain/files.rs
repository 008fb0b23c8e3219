//! `--source file:PATH`: replaying NDJSON and CSV files (gzip too) into Bronze.
//!
//! Each file is committed once per table with an application transaction id derived from its
//! content, so replaying a file, or a folder with files already loaded, adds nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::records::{BronzeBatch, InputKind, Provenance, RawMessage, RecordParser};

/// A file to load and what is in it.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub kind: InputKind,
}

/// The files below `path` (or `path` itself), in path order, with their kinds.
pub fn list(path: &Path, kind: Option<InputKind>) -> anyhow::Result<Vec<InputFile>> {
    let mut paths = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(next) = pending.pop() {
        let metadata =
            std::fs::metadata(&next).with_context(|| format!("reading {}", next.display()))?;
        if metadata.is_dir() {
            for entry in
                std::fs::read_dir(&next).with_context(|| format!("listing {}", next.display()))?
            {
                pending.push(entry?.path());
            }
        } else if is_data_file(&next) {
            paths.push(next);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| match kind.or_else(|| kind_of(&path)) {
            Some(kind) => Some(Ok(InputFile { path, kind })),
            None if path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("ground_truth")) =>
            {
                None
            }
            None => Some(Err(anyhow::anyhow!(
                "cannot tell what {} holds; pass --kind",
                path.display()
            ))),
        })
        .collect()
}

fn is_data_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".csv")
}

/// The kind of a file from its place in the layout `gen-fixtures` writes (and exports use).
pub fn kind_of(path: &Path) -> Option<InputKind> {
    let text = path.to_string_lossy();
    let name = path.file_name()?.to_string_lossy();
    if text.contains("attribution/push") {
        Some(InputKind::AppsflyerPush)
    } else if text.contains("attribution/pull") || name.starts_with("installs") {
        Some(InputKind::AppsflyerPull)
    } else if text.contains("ad_spend") {
        Some(InputKind::AdSpend)
    } else if name.starts_with("campaigns") {
        Some(InputKind::Campaigns)
    } else if text.contains("telemetry") || name.contains(".ndjson") || name.contains(".jsonl") {
        Some(InputKind::Telemetry)
    } else {
        None
    }
}

/// A file's content (decompressed) and the id of its content for transaction ids.
pub fn read(path: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    let compressed = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let digest = hex::encode(Sha256::digest(&compressed));
    let content = if path.extension().is_some_and(|ext| ext == "gz") {
        let mut content = Vec::new();
        flate2::read::MultiGzDecoder::new(compressed.as_slice())
            .read_to_end(&mut content)
            .with_context(|| format!("decompressing {}", path.display()))?;
        content
    } else {
        compressed
    };
    Ok((content, digest[..32].to_string()))
}

/// Parses a file's records into `batch`: lines for JSON kinds, rows for CSV kinds.
pub fn parse(
    parser: &RecordParser,
    file: &InputFile,
    content: &[u8],
    provenance: &Provenance,
    batch: &mut BronzeBatch,
) -> u64 {
    let at = |offset: i64| Provenance {
        offset,
        ..provenance.clone()
    };
    let mut records = 0;
    match file.kind {
        InputKind::Telemetry | InputKind::AppsflyerPush => {
            let messages: Vec<RawMessage<&[u8]>> = lines(content)
                .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
                .map(|(index, line)| RawMessage {
                    bytes: line,
                    provenance: at(index as i64 + 1),
                })
                .collect();
            records = messages.len() as u64;
            parser.push_messages(file.kind, &messages, batch);
        }
        InputKind::AppsflyerPull | InputKind::AdSpend | InputKind::Campaigns => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(content);
            let headers = reader.byte_headers().cloned().unwrap_or_default();
            for record in reader.byte_records() {
                records += 1;
                match record {
                    Ok(record) => {
                        let line = record.position().map_or(0, |p| p.line() as i64);
                        let object: Map<String, Value> = headers
                            .iter()
                            .zip(record.iter())
                            .map(|(key, value)| {
                                (
                                    String::from_utf8_lossy(key).into_owned(),
                                    Value::String(String::from_utf8_lossy(value).into_owned()),
                                )
                            })
                            .collect();
                        parser.push_csv_record(
                            file.kind,
                            object,
                            &raw_csv_line(&record),
                            at(line),
                            batch,
                        );
                    }
                    Err(err) => {
                        let line = err.position().map_or(0, |p| p.line() as i64);
                        batch.quarantine.push(super::records::QuarantineRow {
                            raw: Vec::new(),
                            kind: file.kind,
                            error: format!("unreadable CSV record: {err}"),
                            provenance: at(line),
                        });
                    }
                }
            }
        }
    }
    records
}

/// The lines of `content` with their index, without their line ends (`\n` or `\r\n`).
fn lines(content: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', content)
        .chain(std::iter::once(content.len()))
        .enumerate()
        .map(move |(index, end)| {
            let line = &content[start..end];
            start = end + 1;
            (index, line.strip_suffix(b"\r").unwrap_or(line))
        })
}

/// The record as a CSV line, for the quarantine's evidence.
fn raw_csv_line(record: &csv::ByteRecord) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_byte_record(record);
    writer.into_inner().unwrap_or_default()
}
