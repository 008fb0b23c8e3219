//! Sends [`requests`](super::requests) to the platforms: one call at a time per platform,
//! spaced by a minimum interval; rate limits (HTTP 429, TikTok's code 40100) and server
//! errors are retried with exponential backoff (honouring `Retry-After`); every answer is kept
//! for the action ledger. Tokens travel in headers and never reach a log or the ledger.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::requests::{self, ApiRequest, Method};
use super::{AdPlatform, Change, PlatformSettings};

/// What the ledger keeps of an answer.
const RESPONSE_CHARS: usize = 2000;
/// The longest `Retry-After` honoured; a longer one fails the call for a later run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// TikTok's codes for "too many requests" and "system busy": retried like HTTP 429/503.
const TIKTOK_TRANSIENT_CODES: [i64; 2] = [40100, 50002];

/// How the clients call: `api:` of the optimizer config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub min_interval_ms: u64,
    pub timeout_seconds: u64,
}

impl ApiSettings {
    pub fn initial_backoff(&self) -> Duration {
        Duration::from_millis(self.initial_backoff_ms)
    }

    pub fn min_interval(&self) -> Duration {
        Duration::from_millis(self.min_interval_ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }
}

/// How one action's call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    pub applied: bool,
    pub attempts: u32,
    /// `HTTP <status>: <body>` of the last attempt (cut to 2,000 characters), or why no
    /// answer came.
    pub response: String,
}

/// One attempt's verdict.
enum Attempt {
    Done {
        applied: bool,
        response: String,
    },
    Retry {
        response: String,
        after: Option<Duration>,
    },
}

pub struct AdPlatformClients {
    http: reqwest::Client,
    settings: BTreeMap<AdPlatform, PlatformSettings>,
    api: ApiSettings,
    last_call: Mutex<BTreeMap<AdPlatform, Instant>>,
}

impl AdPlatformClients {
    pub fn new(
        settings: BTreeMap<AdPlatform, PlatformSettings>,
        api: ApiSettings,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(api.timeout()).build()?;
        Ok(AdPlatformClients {
            http,
            settings,
            api,
            last_call: Mutex::new(BTreeMap::new()),
        })
    }

    /// Makes `change` to `object_id`, retrying transient failures.
    pub async fn send(
        &self,
        platform: AdPlatform,
        object_id: &str,
        change: &Change,
        validate_only: bool,
    ) -> CallOutcome {
        let Some(settings) = self.settings.get(&platform) else {
            return CallOutcome {
                applied: false,
                attempts: 0,
                response: format!("no settings for {platform}"),
            };
        };
        let request = match requests::request(platform, settings, object_id, change, validate_only)
        {
            Ok(request) => request,
            Err(unsupported) => {
                return CallOutcome {
                    applied: false,
                    attempts: 0,
                    response: unsupported.to_string(),
                };
            }
        };
        let mut backoff = self.api.initial_backoff();
        let mut attempts = 0;
        loop {
            self.wait_turn(platform).await;
            attempts += 1;
            match self.attempt(platform, &request).await {
                Attempt::Done { applied, response } => {
                    return CallOutcome {
                        applied,
                        attempts,
                        response,
                    };
                }
                Attempt::Retry { response, after } => {
                    let wait = after.unwrap_or(backoff);
                    if attempts >= self.api.max_attempts || wait > MAX_RETRY_AFTER {
                        return CallOutcome {
                            applied: false,
                            attempts,
                            response,
                        };
                    }
                    tracing::warn!(%platform, object_id, attempts, wait_ms = wait.as_millis() as u64,
                        "transient failure from the ad platform; retrying");
                    tokio::time::sleep(wait).await;
                    backoff *= 2;
                }
            }
        }
    }

    /// Keeps calls to one platform at least the configured interval apart.
    async fn wait_turn(&self, platform: AdPlatform) {
        let mut last_call = self.last_call.lock().await;
        if let Some(last) = last_call.get(&platform) {
            let next = *last + self.api.min_interval();
            tokio::time::sleep_until(next).await;
        }
        last_call.insert(platform, Instant::now());
    }

    async fn attempt(&self, platform: AdPlatform, request: &ApiRequest) -> Attempt {
        let builder = match request.method {
            Method::Post => self.http.post(&request.url),
            Method::Put => self.http.put(&request.url),
        };
        let builder = request
            .headers
            .iter()
            .fold(builder, |builder, (name, value)| {
                builder.header(*name, value)
            })
            .header("content-type", request.content_type)
            .body(request.body.clone());
        let answer = match builder.send().await {
            Ok(answer) => answer,
            Err(err) => {
                // Connection refused, reset or timed out: the platform may not have seen it,
                // and every change we send sets a value, so sending it again is safe.
                return Attempt::Retry {
                    response: format!("no answer: {}", err.without_url()),
                    after: None,
                };
            }
        };
        let status = answer.status();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = answer.text().await.unwrap_or_default();
        let response = cut(&format!("HTTP {}: {}", status.as_u16(), body.trim()));
        if status.as_u16() == 429 || status.is_server_error() {
            return Attempt::Retry {
                response,
                after: retry_after,
            };
        }
        if !status.is_success() {
            return Attempt::Done {
                applied: false,
                response,
            };
        }
        if platform == AdPlatform::TikTok {
            // TikTok answers 200 and puts the outcome in `code`.
            let code = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_i64()));
            return match code {
                Some(0) => Attempt::Done {
                    applied: true,
                    response,
                },
                Some(code) if TIKTOK_TRANSIENT_CODES.contains(&code) => Attempt::Retry {
                    response,
                    after: None,
                },
                _ => Attempt::Done {
                    applied: false,
                    response,
                },
            };
        }
        Attempt::Done {
            applied: true,
            response,
        }
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(RESPONSE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
