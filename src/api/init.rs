//! `art init`: create a store.

use super::{STORE_DIR, Store, find_store_dir};
use crate::api::config::Config;
use crate::error::{Result, io};
use std::path::{Path, PathBuf};

/// What `init` did.
#[derive(Debug, serde::Serialize)]
pub struct InitOutcome {
    /// The `.artifacts` directory in use.
    pub store_dir: PathBuf,
    /// Whether it was created now (false: a store was already there and nothing changed).
    pub created: bool,
    /// The opened store.
    #[serde(skip)]
    pub store: Store,
}

impl Store {
    /// Creates `path/.artifacts`, or opens the store that already covers `path` and changes nothing.
    ///
    /// # Errors
    /// When directories cannot be created or an existing store cannot be opened.
    pub fn init(path: &Path) -> Result<InitOutcome> {
        std::fs::create_dir_all(path).map_err(io("create directory", path))?;
        let path = path.canonicalize().map_err(io("resolve", path))?;
        if let Some(existing) = find_store_dir(&path) {
            let store = Store::open(&existing)?;
            return Ok(InitOutcome {
                store_dir: store.dir.clone(),
                created: false,
                store,
            });
        }
        Self::create_at(&path)
    }

    /// Creates `path/.artifacts` even inside another store's tree (a clone is its own
    /// store); refuses when `path` already holds one.
    ///
    /// # Errors
    /// A store already at `path`; directories that cannot be created.
    pub(crate) fn init_here(path: &Path) -> Result<InitOutcome> {
        std::fs::create_dir_all(path).map_err(io("create directory", path))?;
        let path = path.canonicalize().map_err(io("resolve", path))?;
        if path.join(STORE_DIR).exists() {
            return Err(crate::error::Error::InvalidConfig(format!(
                "`{}` already holds a store; clone into a new directory",
                path.join(STORE_DIR).display()
            )));
        }
        Self::create_at(&path)
    }

    fn create_at(path: &Path) -> Result<InitOutcome> {
        let dir = path.join(STORE_DIR);
        // Build in a temporary sibling and rename, so a crash never leaves a half store.
        let staging = tempfile::Builder::new()
            .prefix(".artifacts-init-")
            .tempdir_in(path)
            .map_err(io("create store in", path))?;
        for sub in ["packs", "tmp", super::records::LOG_DIR] {
            std::fs::create_dir(staging.path().join(sub))
                .map_err(io("create directory", staging.path()))?;
        }
        let config_path = staging.path().join("config.toml");
        std::fs::write(&config_path, Config::default().to_toml())
            .map_err(io("write", &config_path))?;
        drop(crate::index::open(&staging.path().join("index.db"))?);
        let staged = staging.keep();
        std::fs::rename(&staged, &dir).map_err(io("create store", &dir))?;
        let store = Store::open(&dir)?;
        Ok(InitOutcome {
            store_dir: store.dir.clone(),
            created: true,
            store,
        })
    }
}
