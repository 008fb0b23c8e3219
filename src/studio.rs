//! The studio's configuration: its games and the store app ids they ship under
//! (`config/studio.yaml`, or `--studio-config` / `STUDIO_CONFIG`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::GameTitle;

pub const DEFAULT_PATH: &str = "config/studio.yaml";

#[derive(Debug, thiserror::Error)]
pub enum StudioConfigError {
    #[error("cannot read the studio config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the studio config {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudioDoc {
    games: Vec<GameDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GameDoc {
    title: GameTitle,
    app_ids: Vec<String>,
}

/// Which game each store app id belongs to.
#[derive(Debug, Clone, Default)]
pub struct Studio {
    games_by_app: HashMap<String, GameTitle>,
}

impl Studio {
    pub fn load(path: &Path) -> Result<Self, StudioConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| StudioConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| StudioConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: StudioDoc = serde_yaml_ng::from_str(text).map_err(|err| err.to_string())?;
        let mut games_by_app = HashMap::new();
        for game in doc.games {
            for app_id in game.app_ids {
                if let Some(other) = games_by_app.insert(app_id.clone(), game.title.clone()) {
                    return Err(format!(
                        "app id {app_id} is listed for both {other} and {}",
                        game.title
                    ));
                }
            }
        }
        Ok(Studio { games_by_app })
    }

    /// The game an app id ships, if the studio lists it.
    pub fn game_of_app(&self, app_id: &str) -> Option<&GameTitle> {
        self.games_by_app.get(app_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_app_ids_to_games() {
        let studio =
            Studio::parse("games:\n  - {title: Quest, app_ids: [id1, com.quest]}\n").unwrap();
        assert_eq!(studio.game_of_app("com.quest").unwrap().as_str(), "Quest");
        assert!(studio.game_of_app("com.other").is_none());
    }

    #[test]
    fn an_app_id_belongs_to_one_game() {
        let err = Studio::parse(
            "games:\n  - {title: A, app_ids: [id1]}\n  - {title: B, app_ids: [id1]}\n",
        )
        .unwrap_err();
        assert!(err.contains("both A and B"), "{err}");
    }

    #[test]
    fn the_committed_config_knows_every_generated_app() {
        let studio =
            Studio::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH)).unwrap();
        for game in crate::jobs::gen_fixtures::studio::GAMES {
            assert_eq!(
                studio.game_of_app(game.bundle_id).unwrap().as_str(),
                game.title
            );
        }
        assert_eq!(
            studio.game_of_app("id1400000000").unwrap().as_str(),
            "FantasyQuest"
        );
        assert_eq!(
            studio.game_of_app("id1400007919").unwrap().as_str(),
            "TinyTitans"
        );
    }
}
