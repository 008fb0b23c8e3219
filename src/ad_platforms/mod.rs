//! Clients for the ad platforms the optimizer acts on: Meta Marketing API, Google Ads,
//! TikTok Business API and ironSource's bidding API.
//!
//! [`requests`] says what each API is sent for a change (pure, unit-tested); [`client`]
//! sends it with rate limiting, retries of transient failures and the platform's answer kept
//! for the ledger. Base URLs and tokens come from the environment ([`PlatformSettings`]).

pub mod client;
pub mod requests;

use std::fmt;

use url::Url;

use crate::domain::MediaSource;
use crate::env;

pub use client::{AdPlatformClients, ApiSettings, CallOutcome};

/// An ad platform the optimizer has a client for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdPlatform {
    Meta,
    Google,
    TikTok,
    IronSource,
}

impl AdPlatform {
    pub const ALL: [AdPlatform; 4] = [
        AdPlatform::Meta,
        AdPlatform::Google,
        AdPlatform::TikTok,
        AdPlatform::IronSource,
    ];

    /// The platform that runs a network's campaigns, when we have a client for it.
    pub fn of(source: MediaSource) -> Option<Self> {
        match source {
            MediaSource::Meta => Some(AdPlatform::Meta),
            MediaSource::Google => Some(AdPlatform::Google),
            MediaSource::TikTok => Some(AdPlatform::TikTok),
            MediaSource::IronSource => Some(AdPlatform::IronSource),
            MediaSource::UnityAds | MediaSource::AppLovin | MediaSource::Organic => None,
        }
    }

    /// The ledger's and the mart's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            AdPlatform::Meta => "meta",
            AdPlatform::Google => "google",
            AdPlatform::TikTok => "tiktok",
            AdPlatform::IronSource => "ironsource",
        }
    }

    /// Whether the platform's API can check a change without making it (Google Ads'
    /// `validateOnly`), for `optimize-campaigns --validate`.
    pub const fn validates_changes(self) -> bool {
        matches!(self, AdPlatform::Google)
    }

    /// Whether the platform's API can pause a campaign and set its daily budget, or only
    /// bids (ironSource's bidding API).
    pub const fn manages_budgets(self) -> bool {
        !matches!(self, AdPlatform::IronSource)
    }

    /// Environment variables the client needs, and the base URL's with its default.
    fn variables(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            AdPlatform::Meta => (
                env::META_API_URL,
                "https://graph.facebook.com/v21.0",
                &[env::META_ACCESS_TOKEN],
            ),
            AdPlatform::Google => (
                env::GOOGLE_ADS_API_URL,
                "https://googleads.googleapis.com/v17",
                &[
                    env::GOOGLE_ADS_ACCESS_TOKEN,
                    env::GOOGLE_ADS_DEVELOPER_TOKEN,
                    env::GOOGLE_ADS_CUSTOMER_ID,
                ],
            ),
            AdPlatform::TikTok => (
                env::TIKTOK_API_URL,
                "https://business-api.tiktok.com/open_api/v1.3",
                &[env::TIKTOK_ACCESS_TOKEN, env::TIKTOK_ADVERTISER_ID],
            ),
            AdPlatform::IronSource => (
                env::IRONSOURCE_API_URL,
                "https://api.ironsrc.com",
                &[env::IRONSOURCE_API_TOKEN],
            ),
        }
    }
}

impl fmt::Display for AdPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to change on a platform's object (a campaign, or an ad group on TikTok).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Pause,
    DailyBudget {
        usd: f64,
    },
    /// A bid for one country (ironSource bids per campaign and country).
    Bid {
        usd: f64,
        country_code: String,
    },
}

/// A value read from the environment that must never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a platform's API is and who we are to it.
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    pub base_url: Url,
    /// The access token (Meta, Google OAuth, TikTok, ironSource).
    pub token: Secret,
    /// Google: developer token; TikTok: advertiser id; customer id of Google below.
    pub account: Option<Secret>,
    pub customer_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{platform} actions need {missing} in the environment", missing = .missing.join(", "))]
    Missing {
        platform: AdPlatform,
        missing: Vec<&'static str>,
    },
    #[error("{variable} is not a URL: {source}")]
    BadUrl {
        variable: &'static str,
        source: url::ParseError,
    },
}

impl PlatformSettings {
    /// The platform's settings from the environment.
    pub fn from_env(platform: AdPlatform) -> Result<Self, SettingsError> {
        Self::from_lookup(platform, |name| std::env::var(name).ok())
    }

    fn from_lookup(
        platform: AdPlatform,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let (url_variable, default_url, required) = platform.variables();
        let missing: Vec<_> = required
            .iter()
            .copied()
            .filter(|name| lookup(name).is_none_or(|v| v.is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(SettingsError::Missing { platform, missing });
        }
        let value = |name: &str| lookup(name).unwrap_or_default();
        let base = lookup(url_variable).unwrap_or_else(|| default_url.to_string());
        let base_url =
            Url::parse(base.trim_end_matches('/')).map_err(|source| SettingsError::BadUrl {
                variable: url_variable,
                source,
            })?;
        let (account, customer_id) = match platform {
            AdPlatform::Google => (
                Some(Secret(value(env::GOOGLE_ADS_DEVELOPER_TOKEN))),
                Some(value(env::GOOGLE_ADS_CUSTOMER_ID).replace('-', "")),
            ),
            AdPlatform::TikTok => (Some(Secret(value(env::TIKTOK_ADVERTISER_ID))), None),
            AdPlatform::Meta | AdPlatform::IronSource => (None, None),
        };
        Ok(PlatformSettings {
            base_url,
            token: Secret(value(required[0])),
            account,
            customer_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_are_named_and_tokens_never_print() {
        let err = PlatformSettings::from_lookup(AdPlatform::Google, |name| {
            (name == env::GOOGLE_ADS_ACCESS_TOKEN).then(|| "tok".to_string())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "google actions need GOOGLE_ADS_DEVELOPER_TOKEN, GOOGLE_ADS_CUSTOMER_ID in the environment"
        );
        let settings = PlatformSettings::from_lookup(AdPlatform::Meta, |name| {
            (name == env::META_ACCESS_TOKEN).then(|| "very-secret".to_string())
        })
        .unwrap();
        assert_eq!(
            settings.base_url.as_str(),
            "https://graph.facebook.com/v21.0"
        );
        assert!(!format!("{settings:?}").contains("very-secret"));
    }

    #[test]
    fn paid_networks_without_a_client_have_no_platform() {
        assert_eq!(AdPlatform::of(MediaSource::Meta), Some(AdPlatform::Meta));
        assert_eq!(AdPlatform::of(MediaSource::UnityAds), None);
        assert_eq!(AdPlatform::of(MediaSource::Organic), None);
    }
}
