//! `config.toml`: the store's format version and tunables.

use crate::error::{Error, Result};
use crate::model::{Size, Span};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The store layout this build reads and writes; stores with a higher number are refused.
pub const STORE_FORMAT: u32 = 2;

/// Settings read from `.artifacts/config.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    /// Store-wide settings.
    pub store: StoreSection,
    /// zstd settings.
    pub compression: CompressionSection,
    /// Garbage collection and the cache cap.
    pub gc: GcSection,
    /// Remotes by name (`[remote.origin]`): where they are, never credentials.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub remote: std::collections::BTreeMap<String, crate::remote::RemoteSpec>,
}

/// `[gc]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct GcSection {
    /// Cap applied after every command that adds data (`5GB`, `1GiB`); none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    /// Nothing younger than this is removed (`1h`).
    pub grace: String,
    /// Packs whose live share falls below this fraction are rewritten.
    pub repack_threshold: f64,
}

impl Default for GcSection {
    fn default() -> Self {
        GcSection {
            max: None,
            grace: "1h".into(),
            repack_threshold: 0.5,
        }
    }
}

impl GcSection {
    /// The cap in bytes, if set.
    ///
    /// # Errors
    /// An unparsable size.
    pub fn max_bytes(&self) -> Result<Option<u64>> {
        self.max
            .as_deref()
            .map(|m| Ok(m.parse::<Size>()?.0))
            .transpose()
    }

    /// The grace period.
    ///
    /// # Errors
    /// An unparsable duration.
    pub fn grace_span(&self) -> Result<Span> {
        Ok(self.grace.parse::<Span>()?)
    }
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
        config.validate().map_err(|message| Error::Config {
            path: path.clone(),
            message,
        })?;
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

/// The keys `art config` reads and writes.
pub const CONFIG_KEYS: &[&str] = &[
    "gc.max",
    "gc.grace",
    "gc.repack_threshold",
    "compression.level",
    "store.pack_size",
];

impl Config {
    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(m) = &self.gc.max {
            m.parse::<Size>().map_err(|e| format!("gc.max: {e}"))?;
        }
        self.gc
            .grace
            .parse::<Span>()
            .map_err(|e| format!("gc.grace: {e}"))?;
        if !(0.0..=1.0).contains(&self.gc.repack_threshold) {
            return Err("gc.repack_threshold must be between 0 and 1".into());
        }
        if !(1..=19).contains(&self.compression.level) {
            return Err("compression.level must be between 1 and 19".into());
        }
        if !(1 << 20..=1 << 30).contains(&self.store.pack_size) {
            return Err("store.pack_size must be between 1MiB and 1GiB".into());
        }
        Ok(())
    }

    /// The value of a key as text (`None` when unset).
    ///
    /// # Errors
    /// An unknown key.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(match key {
            "gc.max" => self.gc.max.clone(),
            "gc.grace" => Some(self.gc.grace.clone()),
            "gc.repack_threshold" => Some(self.gc.repack_threshold.to_string()),
            "compression.level" => Some(self.compression.level.to_string()),
            "store.pack_size" => Some(self.store.pack_size.to_string()),
            _ => return Err(unknown_key(key)),
        })
    }

    /// Sets a key from text (`None` unsets `gc.max`), checking the value.
    ///
    /// # Errors
    /// An unknown key or an invalid value.
    pub fn set(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        let mut next = self.clone();
        let invalid = |msg: String| Error::InvalidConfig(format!("{key}: {msg}"));
        match (key, value) {
            ("gc.max", v) => next.gc.max = v.map(str::to_owned),
            ("gc.grace", Some(v)) => v.clone_into(&mut next.gc.grace),
            ("gc.repack_threshold", Some(v)) => {
                next.gc.repack_threshold = v
                    .parse()
                    .map_err(|_| invalid(format!("`{v}` is not a number")))?;
            }
            ("compression.level", Some(v)) => {
                next.compression.level = v
                    .parse()
                    .map_err(|_| invalid(format!("`{v}` is not a whole number")))?;
            }
            ("store.pack_size", Some(v)) => next.store.pack_size = v.parse::<Size>()?.0,
            (k, None) if CONFIG_KEYS.contains(&k) => {
                return Err(invalid(
                    "only gc.max can be unset; set another value instead".into(),
                ));
            }
            _ => return Err(unknown_key(key)),
        }
        next.validate().map_err(Error::InvalidConfig)?;
        *self = next;
        Ok(())
    }

    /// Writes `dir/config.toml` atomically (temporary file, fsync, rename).
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join("config.toml");
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(crate::error::io("write", &path))?;
        std::io::Write::write_all(&mut tmp, self.to_toml().as_bytes())
            .map_err(crate::error::io("write", &path))?;
        tmp.as_file()
            .sync_all()
            .map_err(crate::error::io("write", &path))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            action: "write",
            path: path.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

fn unknown_key(key: &str) -> Error {
    Error::InvalidConfig(format!(
        "unknown key `{key}`; known keys: {}",
        CONFIG_KEYS.join(", ")
    ))
}

impl super::Store {
    /// Makes `config` the store's configuration, written atomically to `config.toml`.
    ///
    /// # Errors
    /// A read-only store; I/O failures.
    pub fn save_config(&mut self, config: Config) -> Result<()> {
        self.writable()?;
        config.save(&self.dir)?;
        self.config = config;
        Ok(())
    }
}
