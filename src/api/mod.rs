//! The `Store` facade: opening a store and one orchestration module per operation.

mod checkout;
mod config;
mod content;
mod gc;
mod init;
mod lineage;
mod log;
mod meta;
mod parts;
mod patch;
mod query;
mod read_only;
mod records;
mod reference;
mod registry;
mod remote;
mod repair;
mod run;
mod verify;

pub use checkout::{CheckoutMode, CheckoutOptions, CheckoutOutcome};
pub use config::{CONFIG_KEYS, Config};
pub use content::FileReader;
pub use gc::{DiskUsage, DuOutcome, GcOptions, GcOutcome, PackPlan, PruneOptions, RemoveOutcome};
pub use init::InitOutcome;
pub use lineage::LineageOptions;
pub use log::{LogOptions, LogOutcome};
pub use meta::{AliasOutcome, MetaOptions};
pub use parts::{
    DropPendingOutcome, FinishPendingOptions, FinishPendingOutcome, PartOutcome, PendingVersion,
};
pub use patch::{PatchOptions, PatchOutcome};
pub use query::{
    ArtifactSummary, CatOutcome, DiffOutcome, DiffTarget, FileInfo, FindTarget, FoundFile,
    VersionInfo,
};
pub use records::RebuildOutcome;
pub use registry::{LinkOutcome, TagOutcome};
pub use remote::{FetchOutcome, PullOutcome, PushOutcome, RemoteInfo, RemoteRemoved};
pub use repair::RepairOutcome;
pub use run::{
    BestRunOptions, BestRunOutcome, FinishOptions, RunInfo, RunOptions, RunsOptions, UseOptions,
    UseOutcome,
};
pub use verify::{AffectedFile, FsckOutcome, VerifyOutcome};

use crate::error::{Error, Result};
use crate::index::version_queries as vq;
use crate::index::{ArtifactRow, VersionRow, VersionState};
use crate::model::{Ref, Selector, closest_names};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Name of the store directory.
pub const STORE_DIR: &str = ".artifacts";

/// Reports progress of long operations; the CLI draws bars, the library default does nothing.
pub trait Progress: Send + Sync {
    /// A new phase begins, with its total in `unit`s (bytes or files), if known.
    fn start(&self, _phase: &str, _total: u64) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// The phase is over.
    fn finish(&self) {}
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// An open store: the `.artifacts` directory, its index and its configuration.
pub struct Store {
    dir: PathBuf,
    conn: Connection,
    config: Config,
    interrupt: Arc<AtomicBool>,
    progress: Arc<dyn Progress>,
    /// `.artifacts/lock`, held shared while the store is open and exclusive while gc deletes;
    /// a read-only store may have none.
    lock: Option<std::fs::File>,
    /// Why the store cannot be written (the OS error), when it was opened read-only.
    read_only: Option<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`: either a `.artifacts` directory or a directory containing one.
    /// A store of an older format is upgraded in place; log batches the index lacks (left by
    /// a killed command) are applied; a missing `index.db` is rebuilt from the packs and the
    /// record log. A store that cannot be written (a read-only mount, no write permission)
    /// is opened read-only instead, changing nothing on disk: reads work, operations that
    /// would change it fail with [`Error::ReadOnly`] (see [`Store::is_read_only`]).
    ///
    /// # Errors
    /// [`Error::NotAStore`] when neither is a store; [`Error::NewerFormat`] for a newer store;
    /// a damaged index (the message names `art index rebuild`); [`Error::ReadOnly`] for a
    /// read-only store that must be written before it can be read (an upgrade, an
    /// interrupted merge, changes in its WAL it cannot read).
    pub fn open(path: &Path) -> Result<Self> {
        let dir = store_dir_at(path)?;
        let config = Config::load(&dir)?;
        let lock = match open_lock(&dir) {
            Ok(lock) => lock,
            Err(Error::ReadOnly { reason, .. }) => {
                return Store::open_read_only(dir, config, reason);
            }
            Err(e) => return Err(e),
        };
        let mut store = if dir.join("index.db").is_file() && !records::rewrite_pending(&dir) {
            Store::with_index(dir, config, lock)?
        } else {
            lock.lock()
                .map_err(crate::error::io("lock", dir.join("lock")))?;
            // A merge killed while it rewrote the log is finished (or undone) first; the
            // index is then rebuilt from the log it left.
            let rewritten = records::recover_rewrite(&dir)?;
            let store = if dir.join("index.db").is_file() && !rewritten {
                // Another process rebuilt it while this one waited for the lock.
                Store::with_index(dir, config, lock)?
            } else if rewritten {
                records::rebuild_with(dir, config, lock, records::OldIndex::CarryLocalState)?.0
            } else {
                records::rebuild_locked(dir, config, lock)?.0
            };
            store.lock_shared_again()?;
            store
        };
        if store.config.store.format < config::STORE_FORMAT {
            store.upgrade()?;
        }
        store.catch_up_on_open()?;
        Ok(store)
    }

    /// The store at `dir` over its existing `index.db` (opened and migrated), without
    /// catching up with the log: what [`Store::open`] and a rebuild build on.
    pub(crate) fn with_index(dir: PathBuf, config: Config, lock: std::fs::File) -> Result<Self> {
        Ok(Store {
            conn: crate::index::open(&dir.join("index.db"))?,
            dir,
            config,
            interrupt: Arc::new(AtomicBool::new(false)),
            progress: Arc::new(NoProgress),
            lock: Some(lock),
            read_only: None,
        })
    }

    /// Finds the nearest `.artifacts` at or above `cwd`, as git finds `.git`.
    ///
    /// # Errors
    /// [`Error::NoStore`] when there is none.
    pub fn discover(cwd: &Path) -> Result<Self> {
        let found = find_store_dir(cwd).ok_or_else(|| Error::NoStore(cwd.to_path_buf()))?;
        Self::open(&found)
    }

    /// The `.artifacts` directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory holding `.artifacts`; recorded source paths are relative to it.
    #[must_use]
    pub fn root(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    /// The store's configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Shares a flag that, once set (by Ctrl-C), makes long operations stop between files.
    pub fn set_interrupt(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = flag;
    }

    /// Sets the progress reporter.
    pub fn set_progress(&mut self, progress: Arc<dyn Progress>) {
        self.progress = progress;
    }

    fn check_interrupt(&self) -> Result<()> {
        if self.interrupt.load(std::sync::atomic::Ordering::Relaxed) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// The artifact called `name`, with close names suggested when it does not exist.
    pub(crate) fn artifact(&self, name: &str) -> Result<ArtifactRow> {
        if let Some(a) = vq::try_artifact(&self.conn, name)? {
            return Ok(a);
        }
        let all = vq::all_artifacts(&self.conn)?;
        Err(Error::UnknownArtifact {
            name: name.to_owned(),
            suggestions: closest_names(name, all.iter().map(|a| a.name.as_str())),
        })
    }

    /// Resolves a reference to a live version.
    ///
    /// # Errors
    /// Unknown artifact, alias, number or prefix; an ambiguous prefix; a deleted version.
    pub(crate) fn resolve(&self, r: &Ref) -> Result<(ArtifactRow, VersionRow)> {
        let (artifact, version) = self.resolve_any(r)?;
        if version.state == VersionState::Deleted {
            return Err(Error::Deleted {
                version: format!("{}:v{}", artifact.name, version.idx),
                collected: version.collected_at.is_some(),
            });
        }
        Ok((artifact, version))
    }

    /// Resolves a reference to a version, deleted ones included (their records stay readable).
    ///
    /// # Errors
    /// Unknown artifact, alias, number or prefix; an ambiguous prefix.
    pub(crate) fn resolve_any(&self, r: &Ref) -> Result<(ArtifactRow, VersionRow)> {
        let artifact = self.artifact(r.name.as_str())?;
        let found = match &r.selector {
            Selector::Alias(alias) => {
                match vq::alias_target(&self.conn, artifact.id, alias.as_str())? {
                    Some(id) => vq::version_by_id(&self.conn, id)?,
                    None => None,
                }
            }
            Selector::Index(n) => vq::version_by_index(&self.conn, artifact.id, *n)?,
            Selector::DigestPrefix(p) => {
                let mut matches = vq::versions_by_digest_prefix(&self.conn, artifact.id, p)?;
                if matches.len() > 1 {
                    return Err(Error::AmbiguousRef {
                        reference: r.to_string(),
                        matches: matches
                            .iter()
                            .map(|v| format!("{}:v{}", artifact.name, v.idx))
                            .collect(),
                    });
                }
                matches.pop()
            }
        };
        let Some(version) = found else {
            let mut known = vq::alias_names(&self.conn, artifact.id)?;
            let versions = vq::versions_of(&self.conn, artifact.id)?;
            let live: Vec<&VersionRow> = versions
                .iter()
                .filter(|v| v.state != VersionState::Deleted)
                .collect();
            match (live.first(), live.last()) {
                (Some(a), Some(b)) if a.idx == b.idx => known.push(format!("v{}", a.idx)),
                (Some(a), Some(b)) => known.push(format!("v{}..v{}", a.idx, b.idx)),
                _ => {}
            }
            return Err(Error::UnknownVersion {
                reference: r.to_string(),
                known,
            });
        };
        Ok((artifact, version))
    }
}

/// Whether `dir` is a store: it has a `config.toml` (its `index.db` may be missing, and is
/// then rebuilt) or, as stores made before config files, an `index.db`.
fn is_store_dir(dir: &Path) -> bool {
    (dir.join("config.toml").is_file() || dir.join("index.db").is_file())
        && dir.join("packs").is_dir()
}

/// The nearest `.artifacts` directory at or above `start`.
#[must_use]
pub fn find_store_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(STORE_DIR))
        .find(|d| is_store_dir(d))
}

/// The store directory `path` names: `path/.artifacts` or `path` itself, canonical.
pub(crate) fn store_dir_at(path: &Path) -> Result<PathBuf> {
    let dir = [path.join(STORE_DIR), path.to_path_buf()]
        .into_iter()
        .find(|d| is_store_dir(d))
        .ok_or_else(|| Error::NotAStore(path.to_path_buf()))?;
    dir.canonicalize()
        .map_err(crate::error::io("open store", &dir))
}

/// Opens `.artifacts/lock` and takes a shared lock on it: every command holds one while it
/// works, so gc's exclusive lock waits until no command is reading or committing.
/// Refuses a store owned by another user, as git refuses a repository of "dubious
/// ownership": its packs, log and config could have been planted. The effective uid is the
/// owner of `/proc/self` (std has no geteuid); without `/proc` the check is skipped.
fn check_owner(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(me), Ok(store)) = (std::fs::metadata("/proc/self"), std::fs::metadata(dir)) else {
        return Ok(());
    };
    if store.uid() != me.uid() {
        return Err(Error::ForeignOwner {
            path: dir.to_owned(),
            owner: store.uid(),
            me: me.uid(),
        });
    }
    Ok(())
}

pub(crate) fn open_lock(dir: &Path) -> Result<std::fs::File> {
    check_owner(dir)?;
    // A directory art cannot write (a read-only mount, `chmod a-w`) is read-only even when
    // its lock file could be opened: SQLite could not create the index's WAL beside it.
    if let Err(errno) = nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK)
        && matches!(
            errno,
            nix::errno::Errno::EROFS | nix::errno::Errno::EACCES | nix::errno::Errno::EPERM
        )
    {
        return Err(Error::ReadOnly {
            path: dir.to_owned(),
            reason: std::io::Error::from(errno).to_string(),
            need: read_only::CHANGES.to_owned(),
        });
    }
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::EROFS | libc::EACCES | libc::EPERM) => Error::ReadOnly {
                path: dir.to_owned(),
                reason: source.to_string(),
                need: read_only::CHANGES.to_owned(),
            },
            _ => Error::Io {
                action: "open lock file",
                path: path.clone(),
                source,
            },
        })?;
    file.lock_shared()
        .map_err(crate::error::io("lock", &path))?;
    Ok(file)
}

impl Store {
    /// Turns the shared lock into an exclusive one, waiting for other commands to finish.
    pub(crate) fn lock_exclusive(&self) -> Result<()> {
        self.writable()?;
        self.lock
            .as_ref()
            .map_or(Ok(()), std::fs::File::lock)
            .map_err(crate::error::io("lock", self.dir.join("lock")))
    }

    /// Goes back to a shared lock.
    pub(crate) fn lock_shared_again(&self) -> Result<()> {
        self.lock
            .as_ref()
            .map_or(Ok(()), std::fs::File::lock_shared)
            .map_err(crate::error::io("lock", self.dir.join("lock")))
    }
}
