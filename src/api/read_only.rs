//! A store that cannot be written (a read-only mount, a directory without write permission):
//! read commands work on it, commands that would change it are refused with one line.
//!
//! Opening takes a shared lock on the lock file when one can be opened for reading (no
//! writer exists on a read-only mount; with mere permissions gone it still waits for a gc
//! run by someone who may write). The index is read in place, immutable when no changes are
//! pending in its WAL. When the log holds batches the index lacks (a command was killed
//! before its index commit) or the schema is older than this build's, the index is copied
//! into memory and caught up or migrated there, so reads see every durable change; a
//! missing index is replayed from the log into memory. Nothing in the store is written.

use super::{NoProgress, Store, config::Config, records};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What a command that changes a read-only store is told.
pub(crate) const CHANGES: &str = "this command changes it: make it writable (remount it read-write, or `chmod -R u+w` it) or run the command on a writable copy";

impl Store {
    /// Opens the store at `dir`, which cannot be written for `reason`, for reading.
    pub(crate) fn open_read_only(dir: PathBuf, config: Config, reason: String) -> Result<Self> {
        let refuse = |need: String| Error::ReadOnly {
            path: dir.clone(),
            reason: reason.clone(),
            need,
        };
        if config.store.format < super::config::STORE_FORMAT {
            return Err(refuse(
                "it was made by an older art and must be upgraded once: open it where it is writable, or copy it".to_owned(),
            ));
        }
        if records::rewrite_pending(&dir) {
            return Err(refuse(
                "a merge that rewrote its log was interrupted and must be finished: open it where it is writable, or copy it".to_owned(),
            ));
        }
        let lock_path = dir.join("lock");
        let lock = std::fs::File::open(&lock_path).ok();
        if let Some(l) = &lock {
            l.lock_shared()
                .map_err(crate::error::io("lock", &lock_path))?;
        }
        let db = dir.join("index.db");
        let conn = if db.is_file() {
            let index = crate::index::open_read_only(&db).map_err(|e| match e {
                e @ crate::index::Error::PendingWal(_) => refuse(e.to_string()),
                e => e.into(),
            })?;
            if index.outdated || records::behind_log(&dir, &index.conn)? {
                let mut copy = crate::index::copy_to_memory(&index.conn)?;
                let tx = copy.transaction().map_err(crate::index::Error::from)?;
                records::catch_up(&dir, &tx)?;
                tx.commit().map_err(crate::index::Error::from)?;
                copy
            } else {
                index.conn
            }
        } else {
            records::replay_in_memory(&dir, &config)?
        };
        conn.pragma_update(None, "query_only", true)
            .map_err(crate::index::Error::from)?;
        Ok(Store {
            dir,
            conn,
            config,
            interrupt: Arc::new(AtomicBool::new(false)),
            progress: Arc::new(NoProgress),
            lock,
            read_only: Some(reason),
        })
    }

    /// Whether the store was opened read-only (it cannot be written).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Refuses, naming the store, when it is read-only: every operation that changes the
    /// store asks first, before it writes anything (a pack, a remote object, a config).
    pub(crate) fn writable(&self) -> Result<()> {
        match &self.read_only {
            None => Ok(()),
            Some(reason) => Err(Error::ReadOnly {
                path: self.dir.clone(),
                reason: reason.clone(),
                need: CHANGES.to_owned(),
            }),
        }
    }
}
