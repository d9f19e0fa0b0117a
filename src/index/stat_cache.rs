//! The stat cache: `(path, size, mtime, ctime, inode) → digest`, so unchanged files are not
//! re-read. It also records what art last wrote or read at a path, which is how checkout knows
//! a file was modified by someone else.

use super::Result;
use crate::model::Digest;
use rusqlite::{Connection, OptionalExtension, params};

/// What art saw at a path the last time it hashed, wrote or read the file there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatEntry {
    /// File size.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number.
    pub ino: u64,
    /// Content digest at that time.
    pub digest: Digest,
    /// When the entry was taken, nanoseconds since the epoch.
    pub cached_at_ns: i64,
}

/// Timestamps are coarse (a kernel tick); a file modified within this window of being hashed
/// could change without its mtime changing, so such entries are re-hashed (git's racy rule).
const RACY_WINDOW_NS: i64 = 50_000_000;

impl StatEntry {
    /// Whether the entry proves that a file with this stat still has `digest`.
    #[must_use]
    pub fn vouches_for(&self, size: u64, mtime_ns: i64, ctime_ns: i64, ino: u64) -> bool {
        self.size == size
            && self.mtime_ns == mtime_ns
            && self.ctime_ns == ctime_ns
            && self.ino == ino
            && self.mtime_ns < self.cached_at_ns - RACY_WINDOW_NS
    }
}

/// The entry for an absolute path, if any.
///
/// # Errors
/// SQLite errors.
pub fn get(conn: &Connection, path: &[u8]) -> Result<Option<StatEntry>> {
    let row = conn
        .prepare_cached("SELECT size, mtime_ns, ctime_ns, ino, digest, cached_at_ns FROM stat_cache WHERE path = ?1")?
        .query_row([path], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()?;
    Ok(
        row.and_then(|(size, mtime_ns, ctime_ns, ino, digest, cached_at_ns)| {
            Some(StatEntry {
                size: u64::try_from(size).ok()?,
                mtime_ns,
                ctime_ns,
                ino: u64::from_ne_bytes(ino.to_ne_bytes()),
                digest: Digest::from_slice(&digest).ok()?,
                cached_at_ns,
            })
        }),
    )
}

/// Inserts or replaces entries.
///
/// # Errors
/// SQLite errors.
pub fn put(conn: &Connection, path: &[u8], e: &StatEntry) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO stat_cache(path, size, mtime_ns, ctime_ns, ino, digest, cached_at_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        path,
        i64::try_from(e.size).unwrap_or(i64::MAX),
        e.mtime_ns,
        e.ctime_ns,
        i64::from_ne_bytes(e.ino.to_ne_bytes()),
        e.digest.as_bytes(),
        e.cached_at_ns
    ])?;
    Ok(())
}

/// Forgets a path (after checkout deleted the file).
///
/// # Errors
/// SQLite errors.
pub fn remove(conn: &Connection, path: &[u8]) -> Result<()> {
    conn.prepare_cached("DELETE FROM stat_cache WHERE path = ?1")?
        .execute([path])?;
    Ok(())
}

/// Calls `f` with every entry whose path starts with `prefix` (a directory path ending in
/// `/`), in path byte order, passing the path after the prefix. One range scan with rows
/// streamed: a tree of a million files costs no map in memory.
///
/// # Errors
/// SQLite errors.
pub fn for_each_under(
    conn: &Connection,
    prefix: &[u8],
    mut f: impl FnMut(&[u8], StatEntry),
) -> Result<()> {
    let mut upper = prefix.to_vec();
    upper.push(0xff);
    let mut stmt = conn.prepare_cached(
        "SELECT path, size, mtime_ns, ctime_ns, ino, digest, cached_at_ns FROM stat_cache
         WHERE path >= ?1 AND path < ?2 ORDER BY path",
    )?;
    let mut rows = stmt.query(params![prefix, upper])?;
    while let Some(r) = rows.next()? {
        let path = r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
        let digest = r.get_ref(5)?.as_blob().map_err(rusqlite::Error::from)?;
        let (Ok(size), Ok(digest)) = (
            u64::try_from(r.get::<_, i64>(1)?),
            Digest::from_slice(digest),
        ) else {
            continue;
        };
        let Some(below) = path.strip_prefix(prefix) else {
            continue;
        };
        f(
            below,
            StatEntry {
                size,
                mtime_ns: r.get(2)?,
                ctime_ns: r.get(3)?,
                ino: u64::from_ne_bytes(r.get::<_, i64>(4)?.to_ne_bytes()),
                digest,
                cached_at_ns: r.get(6)?,
            },
        );
    }
    Ok(())
}

/// Forgets entries whose content the store no longer has, so every entry left vouches for
/// stored content (gc calls this in the transaction that deletes blobs).
///
/// # Errors
/// SQLite errors.
pub fn forget_unstored(conn: &Connection) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM stat_cache
         WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE blobs.hash = stat_cache.digest)
           AND NOT EXISTS (SELECT 1 FROM file_chunks WHERE file_chunks.file_digest = stat_cache.digest)",
        [],
    )?)
}
