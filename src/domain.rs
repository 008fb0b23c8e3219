//! Small types of the game-analytics domain shared by every stage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A game's exact title as sent in telemetry (`game_title`), e.g. `FantasyQuest`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GameTitle(String);

impl GameTitle {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GameTitle {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if valid {
            Ok(GameTitle(text.to_owned()))
        } else {
            Err(format!(
                "`{text}` is not a game title: use 1-64 letters, digits, `_`, `-` or `.`, e.g. FantasyQuest"
            ))
        }
    }
}

impl TryFrom<String> for GameTitle {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<GameTitle> for String {
    fn from(title: GameTitle) -> Self {
        title.0
    }
}

impl fmt::Display for GameTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Device platform, the design's `platform` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
    Pc,
    Console,
}

impl Platform {
    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::Pc => "pc",
            Platform::Console => "console",
        }
    }

    /// The spelling AppsFlyer reports use (`ios`, `android`).
    pub const fn appsflyer_name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an install came from: an ad network's AppsFlyer `media_source`, or organic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MediaSource {
    Meta,
    Google,
    TikTok,
    IronSource,
    UnityAds,
    AppLovin,
    Organic,
}

impl MediaSource {
    pub const PAID: [MediaSource; 6] = [
        MediaSource::Meta,
        MediaSource::Google,
        MediaSource::TikTok,
        MediaSource::IronSource,
        MediaSource::UnityAds,
        MediaSource::AppLovin,
    ];

    /// AppsFlyer's `media_source` value for the network.
    pub const fn appsflyer_id(self) -> &'static str {
        match self {
            MediaSource::Meta => "Facebook Ads",
            MediaSource::Google => "googleadwords_int",
            MediaSource::TikTok => "tiktokglobal_int",
            MediaSource::IronSource => "ironsource_int",
            MediaSource::UnityAds => "unityads_int",
            MediaSource::AppLovin => "applovin_int",
            MediaSource::Organic => "organic",
        }
    }

    /// The channel name dashboards group by (`acquisition_channel`).
    pub const fn channel(self) -> &'static str {
        match self {
            MediaSource::Meta => "Meta",
            MediaSource::Google => "Google",
            MediaSource::TikTok => "TikTok",
            MediaSource::IronSource => "ironSource",
            MediaSource::UnityAds => "Unity Ads",
            MediaSource::AppLovin => "AppLovin",
            MediaSource::Organic => "Organic",
        }
    }

    pub fn from_appsflyer_id(id: &str) -> Option<Self> {
        [MediaSource::Organic]
            .into_iter()
            .chain(MediaSource::PAID)
            .find(|source| source.appsflyer_id().eq_ignore_ascii_case(id))
    }

    pub const fn is_paid(self) -> bool {
        !matches!(self, MediaSource::Organic)
    }
}

impl fmt::Display for MediaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.channel())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_titles_are_validated() {
        assert_eq!(
            "FantasyQuest".parse::<GameTitle>().unwrap().as_str(),
            "FantasyQuest"
        );
        assert!("Fantasy Quest".parse::<GameTitle>().is_err());
        assert!("".parse::<GameTitle>().is_err());
    }

    #[test]
    fn media_sources_round_trip_through_appsflyer_ids() {
        for source in MediaSource::PAID.into_iter().chain([MediaSource::Organic]) {
            assert_eq!(
                MediaSource::from_appsflyer_id(source.appsflyer_id()),
                Some(source)
            );
        }
        assert_eq!(MediaSource::from_appsflyer_id("snapchat_int"), None);
    }
}
