//! `config.toml`: the store's format version and tunables.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The store layout this build reads and writes; stores with a higher number are refused.
pub const STORE_FORMAT: u32 = 1;

/// Settings read from `.artifacts/config.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    /// Store-wide settings.
    pub store: StoreSection,
    /// zstd settings.
    pub compression: CompressionSection,
}

/// `[store]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreSection {
    /// Layout version of the store.
    pub format: u32,
    /// Packs close once they reach this many bytes.
    pub pack_size: u64,
}

/// `[compression]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct CompressionSection {
    /// zstd level (1-19).
    pub level: i32,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            format: STORE_FORMAT,
            pack_size: 32 << 20,
        }
    }
}

impl Default for CompressionSection {
    fn default() -> Self {
        CompressionSection { level: 3 }
    }
}

impl Config {
    /// Reads and checks `dir/config.toml`.
    ///
    /// # Errors
    /// A config that does not parse, or a format newer than this build.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config.toml");
        let text = std::fs::read_to_string(&path).map_err(crate::error::io("read", &path))?;
        let config: Config = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if config.store.format > STORE_FORMAT {
            return Err(Error::NewerFormat {
                path: dir.to_owned(),
                found: config.store.format,
                supported: STORE_FORMAT,
            });
        }
        if !(1..=19).contains(&config.compression.level) {
            return Err(Error::Config {
                path,
                message: "compression.level must be between 1 and 19".into(),
            });
        }
        Ok(config)
    }

    /// The file's text.
    #[must_use]
    pub fn to_toml(&self) -> String {
        format!(
            "# art store configuration\n{}",
            toml::to_string(self).expect("config fields always serialise to TOML")
        )
    }
}
