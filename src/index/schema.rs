//! Schema and numbered migrations keyed to `PRAGMA user_version`.

use super::{Error, Result};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// The newest schema this build writes.
pub const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[&str] = &[
    // 1: the core model.
    r"
    CREATE TABLE artifacts(
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE versions(
        id INTEGER PRIMARY KEY,
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        idx INTEGER NOT NULL,
        digest BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('PENDING','COMMITTED','DELETED')),
        description TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        source_path TEXT,
        size INTEGER NOT NULL,
        file_count INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        logged_by_run TEXT,
        UNIQUE(artifact_id, idx)
    );
    CREATE INDEX versions_by_digest ON versions(digest);
    CREATE TABLE aliases(
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        alias TEXT NOT NULL,
        version_id INTEGER NOT NULL REFERENCES versions(id),
        PRIMARY KEY(artifact_id, alias)
    ) WITHOUT ROWID;
    CREATE TABLE packs(
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_access INTEGER NOT NULL,
        remote_state TEXT
    );
    CREATE TABLE blobs(
        hash BLOB PRIMARY KEY,
        pack_id INTEGER NOT NULL REFERENCES packs(id),
        offset INTEGER NOT NULL,
        stored_len INTEGER NOT NULL,
        raw_len INTEGER NOT NULL,
        codec INTEGER NOT NULL,
        kind INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX blobs_by_pack ON blobs(pack_id);
    CREATE TABLE file_chunks(
        file_digest BLOB PRIMARY KEY,
        list_hash BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE stat_cache(
        path BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ctime_ns INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        digest BLOB NOT NULL,
        cached_at_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
];

/// Opens (creating if asked) the index at `path`, applies pending migrations, and refuses a
/// schema newer than this build.
///
/// # Errors
/// [`Error::NewerSchema`] for a newer store, SQLite errors otherwise.
pub fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&conn)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = i64::try_from(MIGRATIONS.len()).expect("few migrations");
    if found > supported {
        return Err(Error::NewerSchema { found, supported });
    }
    if found == supported {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<()> {
        // Re-read inside the write lock: another process may have migrated meanwhile.
        let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(current).unwrap_or(0))
        {
            conn.execute_batch(sql)?;
            conn.pragma_update(
                None,
                "user_version",
                i64::try_from(i + 1).expect("few migrations"),
            )?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(())
}
