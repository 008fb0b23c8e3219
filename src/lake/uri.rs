//! Where the lake lives: a local folder or an object-store prefix.

use std::fmt;
use std::path::Path;

use url::Url;

use super::TableName;

/// Root URI of the lake, always a directory URL (trailing slash), never carrying credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeUri(Url);

const SCHEMES: [&str; 4] = ["file", "s3", "s3a", "memory"];

impl LakeUri {
    /// Parses `--lake`: `s3://bucket/prefix`, `file:///abs/path`, or a local path (relative
    /// paths are taken from the working directory).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut url = if text.contains("://") {
            let url =
                Url::parse(text).map_err(|err| format!("`{text}` is not a valid URI: {err}"))?;
            if !SCHEMES.contains(&url.scheme()) {
                return Err(format!(
                    "`{text}`: lake URIs are a local path, file://, or s3://bucket/prefix"
                ));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err("put credentials in AWS_* variables, not in the lake URI".into());
            }
            url
        } else {
            let path = Path::new(text);
            let absolute = if path.is_absolute() {
                path.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|err| format!("cannot resolve `{text}`: {err}"))?
                    .join(path)
            };
            Url::from_directory_path(&absolute)
                .map_err(|()| format!("`{}` is not a usable folder path", absolute.display()))?
        };
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(LakeUri(url))
    }

    /// For clap's `value_parser`.
    pub fn parse_arg(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }

    pub fn is_local(&self) -> bool {
        self.0.scheme() == "file"
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn table_url(&self, table: &TableName) -> Url {
        self.0
            .join(&table.path())
            .expect("a table path is a relative URL reference")
    }
}

impl fmt::Display for LakeUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::Layer;

    #[test]
    fn local_paths_become_directory_urls() {
        let uri = LakeUri::parse("/tmp/lake").unwrap();
        assert!(uri.is_local());
        let table = TableName::new(Layer::Bronze, "game_events");
        assert_eq!(
            uri.table_url(&table).as_str(),
            "file:///tmp/lake/bronze/game_events/"
        );
    }

    #[test]
    fn s3_prefixes_keep_their_prefix() {
        let uri = LakeUri::parse("s3://studio-lake/prod").unwrap();
        let table = TableName::new(Layer::Gold, "kpi_daily");
        assert_eq!(
            uri.table_url(&table).as_str(),
            "s3://studio-lake/prod/gold/kpi_daily/"
        );
    }

    #[test]
    fn unknown_schemes_and_credentials_are_refused() {
        assert!(LakeUri::parse("ftp://host/lake").is_err());
        assert!(LakeUri::parse("s3://key:secret@bucket/lake").is_err());
    }
}
