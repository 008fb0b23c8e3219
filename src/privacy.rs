//! Pseudonymisation at the door: fields marked `pii` in the contracts are replaced by a keyed
//! hash (HMAC-SHA256) before anything is written, the same way for telemetry and attribution
//! so that joins on the player still work.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

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
        hex::encode(mac.finalize().into_bytes())
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
}
