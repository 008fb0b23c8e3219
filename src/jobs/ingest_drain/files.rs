//! `--source file:PATH`: replaying NDJSON and CSV files (gzip too) into Bronze.
//!
//! Each file is committed once per table with an application transaction id derived from its
//! content, so replaying a file, or a folder with files already loaded, adds nothing. A big
//! file is read, parsed and written in chunks, and still committed once.

use std::fs::File;
use std::io::{BufReader, Read};
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

/// The id of `file`'s content, for its transaction id, and its content in chunks of about
/// `chunk_bytes`. A file stored uncompressed and no bigger than a chunk (the usual replay) is
/// read once, its bytes digested and then parsed; a bigger or a gzipped one is digested in a
/// pass of its own, in blocks, so that memory follows the chunk whatever the file's size.
pub fn open(file: &InputFile, chunk_bytes: usize) -> anyhow::Result<(String, Chunks)> {
    let path = &file.path;
    let reading = || format!("reading {}", path.display());
    let size = std::fs::metadata(path).with_context(reading)?.len();
    let compressed = path.extension().is_some_and(|ext| ext == "gz");
    let lines = matches!(file.kind, InputKind::Telemetry | InputKind::AppsflyerPush);
    let chunk_bytes = if lines {
        chunk_bytes.max(1)
    } else {
        usize::MAX
    };
    let mut chunks = Chunks {
        path: path.clone(),
        reading: "reading",
        whole: None,
        reader: Box::new(std::io::empty()),
        chunk_bytes,
        unread: None,
        carried: Vec::new(),
        next_line: 0,
        finished: false,
    };
    if !compressed && usize::try_from(size).is_ok_and(|size| size <= chunk_bytes) {
        let content = std::fs::read(path).with_context(reading)?;
        let digest = content_id(Sha256::digest(&content));
        chunks.whole = Some(content);
        return Ok((digest, chunks));
    }
    let digest = digest(path)?;
    let opened = File::open(path).with_context(reading)?;
    if compressed {
        chunks.reading = "decompressing";
        chunks.reader = Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(opened)));
    } else {
        chunks.reader = Box::new(opened);
        chunks.unread = usize::try_from(size).ok();
    }
    Ok((digest, chunks))
}

/// The id of a file's content (as stored, before any decompression) for transaction ids: the
/// first half of its SHA-256, read in blocks so that a file of any size costs no memory.
pub fn digest(path: &Path) -> anyhow::Result<String> {
    let reading = || format!("reading {}", path.display());
    let mut file = File::open(path).with_context(reading)?;
    let mut hasher = Sha256::new();
    // sha2 is built without `std` here, so its hasher is no `io::Write` to copy into.
    let mut block = vec![0; 1 << 20];
    loop {
        match file.read(&mut block) {
            Ok(0) => break,
            Ok(read) => hasher.update(&block[..read]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err).with_context(reading),
        }
    }
    Ok(content_id(hasher.finalize()))
}

fn content_id(sha256: impl AsRef<[u8]>) -> String {
    hex::encode(sha256)[..32].to_string()
}

/// A part of a file's (decompressed) content, cut at a line end, and the index of its first
/// line in the file.
#[derive(Debug)]
pub struct Chunk {
    pub content: Vec<u8>,
    pub first_line: usize,
}

/// A file's content in chunks of about `chunk_bytes` each, cut at line ends, so that a big
/// file is parsed and written a part at a time. Only kinds whose records are lines are cut:
/// a CSV file comes whole, as one chunk, since its header belongs to every record (and a
/// quoted field may hold a line end).
pub struct Chunks {
    path: PathBuf,
    /// What a read error was doing: a corrupt gzip file fails while decompressing.
    reading: &'static str,
    /// A file read whole: its one chunk.
    whole: Option<Vec<u8>>,
    reader: Box<dyn Read + Send>,
    chunk_bytes: usize,
    /// What is left to read of a file stored uncompressed: a chunk's buffer is sized once.
    unread: Option<usize>,
    /// The start of the next chunk: what followed the last line end of the one before.
    carried: Vec<u8>,
    next_line: usize,
    finished: bool,
}

impl Chunks {
    /// The next chunk, or `None` at the end of the file.
    pub fn next_chunk(&mut self) -> anyhow::Result<Option<Chunk>> {
        if let Some(content) = self.whole.take() {
            self.finished = true;
            return Ok((!content.is_empty()).then_some(Chunk {
                content,
                first_line: 0,
            }));
        }
        if self.finished {
            return Ok(None);
        }
        let mut content = std::mem::take(&mut self.carried);
        let mut unsearched = 0;
        // A line longer than a chunk makes its chunk longer: records are never cut.
        let end = loop {
            // Past the chunk's size with no line end yet: on, in blocks, to the line's end.
            let wanted = match self.chunk_bytes.saturating_sub(content.len()) {
                0 => 1 << 16,
                left => left,
            };
            if let Some(unread) = self.unread {
                content.reserve_exact(wanted.min(unread));
            }
            let read = (&mut self.reader)
                .take(wanted as u64)
                .read_to_end(&mut content)
                .with_context(|| format!("{} {}", self.reading, self.path.display()))?;
            self.unread = self.unread.map(|unread| unread.saturating_sub(read));
            if read == 0 {
                self.finished = true;
                break content.len();
            }
            if content.len() >= self.chunk_bytes {
                if let Some(last) = memchr::memrchr(b'\n', &content[unsearched..]) {
                    break unsearched + last + 1;
                }
                unsearched = content.len();
            }
        };
        self.carried = content[end..].to_vec();
        content.truncate(end);
        if content.is_empty() && self.finished {
            return Ok(None);
        }
        let first_line = self.next_line;
        self.next_line += memchr::memchr_iter(b'\n', &content).count();
        Ok(Some(Chunk {
            content,
            first_line,
        }))
    }
}

/// Parses a chunk of a file's records into `batch`: lines for JSON kinds, rows for CSV kinds.
pub fn parse(
    parser: &RecordParser,
    file: &InputFile,
    chunk: &Chunk,
    provenance: &Provenance,
    batch: &mut BronzeBatch,
) -> u64 {
    let content = chunk.content.as_slice();
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
                    provenance: at((chunk.first_line + index) as i64 + 1),
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn input(dir: &Path, name: &str, content: &[u8], kind: InputKind) -> InputFile {
        let path = dir.join(name);
        let mut file = File::create(&path).unwrap();
        if name.ends_with(".gz") {
            let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            encoder.write_all(content).unwrap();
            encoder.finish().unwrap();
        } else {
            file.write_all(content).unwrap();
        }
        InputFile { path, kind }
    }

    fn chunks_of(file: &InputFile, chunk_bytes: usize) -> Vec<(usize, String)> {
        let (_, mut chunks) = open(file, chunk_bytes).unwrap();
        let mut seen = Vec::new();
        while let Some(chunk) = chunks.next_chunk().unwrap() {
            seen.push((chunk.first_line, String::from_utf8(chunk.content).unwrap()));
        }
        seen
    }

    #[test]
    fn chunks_end_at_line_ends_and_number_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"aaaa\nbb\r\ncccccc\n\nd\neeeee";
        for name in ["events.ndjson", "events.ndjson.gz"] {
            let file = input(dir.path(), name, text, InputKind::Telemetry);
            let chunks = chunks_of(&file, 6);
            assert_eq!(
                chunks,
                [
                    (0, "aaaa\n".to_string()),
                    (1, "bb\r\n".to_string()),
                    (2, "cccccc\n\nd\n".to_string()),
                    (5, "eeeee".to_string()),
                ],
                "{name}"
            );
            let whole: String = chunks.into_iter().map(|(_, text)| text).collect();
            assert_eq!(whole.as_bytes(), text);
            assert_eq!(
                chunks_of(&file, 1 << 20),
                [(0, String::from_utf8(text.to_vec()).unwrap())]
            );
        }
    }

    #[test]
    fn a_line_longer_than_a_chunk_is_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(200_000);
        let text = format!("a\n{long}\nb\n");
        let file = input(
            dir.path(),
            "events.ndjson",
            text.as_bytes(),
            InputKind::Telemetry,
        );
        let chunks = chunks_of(&file, 1);
        assert_eq!(
            chunks,
            [(0, "a\n".to_string()), (1, format!("{long}\nb\n"))]
        );
    }

    #[test]
    fn csv_files_come_whole_with_their_header() {
        let dir = tempfile::tempdir().unwrap();
        let text = "date,spend\n2026-01-01,1.5\n2026-01-02,2.5\n";
        let file = input(
            dir.path(),
            "ad_spend.csv",
            text.as_bytes(),
            InputKind::AdSpend,
        );
        assert_eq!(chunks_of(&file, 4), [(0, text.to_string())]);
    }

    #[test]
    fn the_digest_is_of_the_stored_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = input(dir.path(), "a.ndjson", b"{}\n", InputKind::Telemetry);
        let zipped = input(dir.path(), "a.ndjson.gz", b"{}\n", InputKind::Telemetry);
        let expected = hex::encode(Sha256::digest(b"{}\n"))[..32].to_string();
        assert_eq!(digest(&plain.path).unwrap(), expected);
        assert_ne!(digest(&zipped.path).unwrap(), expected);
        for chunk_bytes in [1, 1 << 20] {
            assert_eq!(open(&plain, chunk_bytes).unwrap().0, expected);
            assert_eq!(
                open(&zipped, chunk_bytes).unwrap().0,
                digest(&zipped.path).unwrap()
            );
        }
    }

    #[test]
    fn a_corrupt_gzip_file_fails_naming_the_file_and_the_decompression() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.ndjson.gz");
        // A gzip header followed by bytes that are no deflate stream.
        std::fs::write(
            &path,
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xffnot deflate",
        )
        .unwrap();
        let file = InputFile {
            path,
            kind: InputKind::Telemetry,
        };
        let (_, mut chunks) = open(&file, 1 << 20).unwrap();
        let error = format!("{:#}", chunks.next_chunk().unwrap_err());
        assert!(error.starts_with("decompressing "), "{error}");
        assert!(error.contains("events.ndjson.gz"), "{error}");
    }
}
