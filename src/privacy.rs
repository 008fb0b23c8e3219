//! Pseudonymisation at the door: fields marked `pii` in the contracts are replaced by a keyed
//! hash (HMAC-SHA256) before anything is written, the same way for telemetry and attribution
//! so that joins on the player still work.

use std::borrow::Cow;

use hmac::{Hmac, KeyInit, Mac};
use polars::prelude::PlHashMap;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::contracts::{Json, JsonObject};
use crate::exit_codes::UsageError;

/// Environment variable holding the hashing key (at least 32 bytes of secret text).
pub const PII_KEY_ENV: &str = "PII_HASH_KEY";
const MIN_KEY_BYTES: usize = 32;
/// Only for demos and tests: a key everyone knows hashes nothing private.
const INSECURE_DEV_KEY: &[u8] = b"insecure-dev-key-do-not-use-in-production";

#[derive(Clone)]
pub struct PiiHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for PiiHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiHasher(<key hidden>)")
    }
}

impl PiiHasher {
    /// The hasher keyed from the environment; without a key a job refuses to start, unless the
    /// caller explicitly allows the well-known development key.
    pub fn from_env(allow_insecure_dev_key: bool) -> Result<Self, UsageError> {
        match std::env::var(PII_KEY_ENV) {
            Ok(key) if key.len() >= MIN_KEY_BYTES => Ok(Self::new(key.as_bytes())),
            Ok(_) => Err(UsageError::new(format!(
                "{PII_KEY_ENV} must be at least {MIN_KEY_BYTES} bytes"
            ))),
            Err(_) if allow_insecure_dev_key => {
                tracing::warn!(
                    "hashing PII with the insecure development key; never do this with real players"
                );
                Ok(Self::new(INSECURE_DEV_KEY))
            }
            Err(_) => Err(UsageError::new(format!(
                "set {PII_KEY_ENV} (the secret that pseudonymises player ids), or pass --insecure-dev-key for a demo"
            ))),
        }
    }

    pub fn new(key: &[u8]) -> Self {
        PiiHasher {
            mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length"),
        }
    }

    /// Lowercase hex HMAC-SHA256 of `value`.
    pub fn hash(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let mut hex = [0u8; 64];
        hex::encode_to_slice(mac.finalize().into_bytes(), &mut hex)
            .expect("64 hex digits hold 32 bytes");
        String::from_utf8(hex.to_vec()).expect("hex digits are ASCII")
    }

    /// Replaces the string values at `paths` (dotted, e.g. `device.id`) by their hash.
    pub fn hash_fields(&self, object: &mut Map<String, Value>, paths: &[&str]) {
        for path in paths {
            let mut parts = path.split('.');
            let Some(first) = parts.next() else { continue };
            let mut slot = object.get_mut(first);
            for part in parts {
                slot = slot.and_then(|value| value.get_mut(part));
            }
            if let Some(value) = slot
                && let Some(text) = value.as_str()
            {
                *value = Value::String(self.hash(text));
            }
        }
    }
}

/// Hashes for one batch of messages, each distinct value hashed once: a player's ids recur in
/// every one of their events, and looking a hash up costs a fraction of computing it.
pub struct HashMemo<'h> {
    hasher: &'h PiiHasher,
    /// Looked up once per PII value of every message: a fast hash (polars' own), where the
    /// standard library's SipHash was about 1.3% of a drain's CPU.
    hashes: PlHashMap<String, String>,
}

impl<'h> HashMemo<'h> {
    pub fn new(hasher: &'h PiiHasher) -> Self {
        HashMemo {
            hasher,
            hashes: PlHashMap::default(),
        }
    }

    /// [`PiiHasher::hash`] of `value`.
    pub fn hash(&mut self, value: &str) -> &str {
        let hasher = self.hasher;
        self.hashes
            .entry_ref(value)
            .or_insert_with(|| hasher.hash(value))
    }

    /// Appends to `out` `text`, the JSON object `object` was parsed from, with the string
    /// values at `paths` (dotted, e.g. `device.id`) replaced by their hash. A key written twice
    /// has each of its values hashed. Appending lets a caller gather many events' texts in one
    /// buffer instead of allocating one per event.
    ///
    /// The hashes are spliced into the text, every other byte kept as it arrived; only when a
    /// hashed value is written with escapes (the parse holds a decoded copy, so where it sits
    /// in the text is not known) is the object written out again, compact, keys in their order.
    pub fn hash_json_text(
        &mut self,
        text: &str,
        object: &JsonObject,
        paths: &[&str],
        out: &mut String,
    ) {
        if let Some(spans) = spans_of(text, object, paths) {
            out.reserve(text.len() + spans.len() * 64);
            let mut copied_to = 0;
            for (start, end, clear) in spans {
                out.push_str(&text[copied_to..start]);
                out.push_str(self.hash(clear));
                copied_to = end;
            }
            out.push_str(&text[copied_to..]);
        } else {
            let hashed = HashedObject {
                hasher: self.hasher,
                object,
                paths: paths.to_vec(),
            };
            out.push_str(
                &serde_json::to_string(&hashed).expect("JSON with text keys always serialises"),
            );
        }
    }
}

/// Where in `text` each string value at `paths` sits (start, end, value), in text order, each
/// once; `None` when one of them is not a slice of `text` (it was written with escapes).
fn spans_of<'t>(
    text: &str,
    object: &JsonObject<'t>,
    paths: &[&str],
) -> Option<Vec<(usize, usize, &'t str)>> {
    let mut values = Vec::new();
    for path in paths {
        values_at(object, path, &mut values);
    }
    let text_start = text.as_ptr() as usize;
    let mut spans = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Json::Str(Cow::Borrowed(clear)) => {
                let start = (clear.as_ptr() as usize).checked_sub(text_start)?;
                let end = start + clear.len();
                if end > text.len() {
                    return None;
                }
                spans.push((start, end, *clear));
            }
            Json::Str(Cow::Owned(_)) => return None,
            _ => {}
        }
    }
    spans.sort_unstable_by_key(|&(start, _, _)| start);
    // Two paths may name the same field (a global one that an event contract repeats).
    spans.dedup_by_key(|&mut (start, _, _)| start);
    Some(spans)
}

/// A dotted path's first key and the path below it, if any.
fn first_key(path: &str) -> (&str, Option<&str>) {
    match path.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    }
}

/// Every value at the dotted `path` below `object`, through each of a repeated key's values.
fn values_at<'v, 'j>(object: &'v JsonObject<'j>, path: &str, out: &mut Vec<&'v Json<'j>>) {
    let (first, rest) = first_key(path);
    let matching = object.iter().filter(|(key, _)| *key == first);
    for value in matching.map(|(_, value)| value) {
        match (value, rest) {
            (_, None) => out.push(value),
            (Json::Object(inner), Some(rest)) => values_at(inner, rest, out),
            _ => {}
        }
    }
}

/// An object written out with the string values at the dotted `paths` hashed.
struct HashedObject<'a, 'j> {
    hasher: &'a PiiHasher,
    object: &'a JsonObject<'j>,
    paths: Vec<&'a str>,
}

impl Serialize for HashedObject<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.object.len()))?;
        for (key, value) in self.object.iter() {
            // The rest of each path that goes through this key; `None` where it ends here.
            let below: Vec<Option<&str>> = self
                .paths
                .iter()
                .map(|path| first_key(path))
                .filter(|(first, _)| *first == key)
                .map(|(_, rest)| rest)
                .collect();
            match value {
                Json::Str(clear) if below.contains(&None) => {
                    map.serialize_entry(key, &self.hasher.hash(clear))?
                }
                Json::Object(inner) if below.iter().any(Option::is_some) => map.serialize_entry(
                    key,
                    &HashedObject {
                        hasher: self.hasher,
                        object: inner,
                        paths: below.into_iter().flatten().collect(),
                    },
                )?,
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_key_gives_the_same_hash_and_another_key_another() {
        let one = PiiHasher::new(b"0123456789abcdef0123456789abcdef");
        let other = PiiHasher::new(b"fedcba9876543210fedcba9876543210");
        assert_eq!(one.hash("player-1"), one.hash("player-1"));
        assert_ne!(one.hash("player-1"), one.hash("player-2"));
        assert_ne!(one.hash("player-1"), other.hash("player-1"));
        assert_eq!(one.hash("player-1").len(), 64);
    }

    #[test]
    fn nested_and_missing_fields() {
        let hasher = PiiHasher::new(b"0123456789abcdef0123456789abcdef");
        let mut event = json!({"eternal_player_id": "p", "device": {"ad_id": "d"}, "n": 1});
        hasher.hash_fields(
            event.as_object_mut().unwrap(),
            &["eternal_player_id", "device.ad_id", "absent", "n"],
        );
        assert_eq!(event["eternal_player_id"], hasher.hash("p"));
        assert_eq!(event["device"]["ad_id"], hasher.hash("d"));
        assert_eq!(event["n"], 1, "only strings are hashed");
    }

    fn object<'j>(text: &'j str) -> JsonObject<'j> {
        match serde_json::from_str(text).unwrap() {
            Json::Object(object) => object,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn hashes_are_spliced_into_the_text_as_it_arrived() {
        let hasher = PiiHasher::new(b"0123456789abcdef0123456789abcdef");
        let text = r#"{ "eternal_player_id":"p1", "n": 1, "device": {"ad_id": "d", "x": "p1"},  "eternal_player_id": "p2", "free": "p1" }"#;
        let mut memo = HashMemo::new(&hasher);
        let paths = [
            "eternal_player_id",
            "device.ad_id",
            "n",
            "absent",
            "eternal_player_id",
        ];
        let mut hashed = "kept ".to_string();
        memo.hash_json_text(text, &object(text), &paths, &mut hashed);
        // Both values of the repeated key, the nested one, nothing else; spacing kept.
        let expected = format!(
            r#"{{ "eternal_player_id":"{}", "n": 1, "device": {{"ad_id": "{}", "x": "p1"}},  "eternal_player_id": "{}", "free": "p1" }}"#,
            hasher.hash("p1"),
            hasher.hash("d"),
            hasher.hash("p2"),
        );
        // Hashed once each, however often they recur.
        assert_eq!(memo.hashes.len(), 3);
        // Appended to what the buffer held.
        assert_eq!(hashed, format!("kept {expected}"));
    }

    #[test]
    fn the_memo_answers_each_value_with_its_own_hash_computed_once() {
        let hasher = PiiHasher::new(b"0123456789abcdef0123456789abcdef");
        let mut memo = HashMemo::new(&hasher);
        for value in ["p1", "p2", "p1", "", "p2", ""] {
            assert_eq!(memo.hash(value), hasher.hash(value), "{value:?}");
        }
        assert_eq!(memo.hashes.len(), 3);
    }

    #[test]
    fn a_value_written_with_escapes_is_hashed_in_a_rewritten_object() {
        let hasher = PiiHasher::new(b"0123456789abcdef0123456789abcdef");
        let text = r#"{"eternal_player_id": "p\u0031", "device": {"ad_id": "d"}, "eternal_player_id": "p2", "n": 1}"#;
        let mut hashed = String::new();
        HashMemo::new(&hasher).hash_json_text(
            text,
            &object(text),
            &["eternal_player_id", "device.ad_id"],
            &mut hashed,
        );
        let expected = format!(
            r#"{{"eternal_player_id":"{}","device":{{"ad_id":"{}"}},"eternal_player_id":"{}","n":1}}"#,
            hasher.hash("p1"),
            hasher.hash("d"),
            hasher.hash("p2"),
        );
        assert_eq!(hashed, expected);
    }
}
