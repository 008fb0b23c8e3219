//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;

use ltv_lakehouse::lake::{Committer, Lake, LakeUri};
use polars::prelude::DataFrame;

/// The text of a gzip file.
pub fn gunzip_text(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// The non-null values of a string column.
pub fn strings(frame: &DataFrame, column: &str) -> Vec<String> {
    frame
        .column(column)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect()
}

/// A lake on a local folder, as a test reads it.
pub fn lake(path: &Path) -> Lake {
    Lake::new(
        LakeUri::parse(path.to_str().unwrap()).unwrap(),
        Committer::default(),
    )
}
