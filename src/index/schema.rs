//! Schema and numbered migrations keyed to `PRAGMA user_version`.

use super::{Error, Result};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// The newest schema this build writes.
pub const SCHEMA_VERSION: i64 = 8;

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
    // 2: runs and their inputs (lineage). Run labels that `log --run` stored before runs
    // existed become finished runs, so every `logged_by_run` names a row.
    r"
    CREATE TABLE runs(
        id TEXT PRIMARY KEY,
        name TEXT,
        grp TEXT,
        job_type TEXT,
        config TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL CHECK (status IN ('RUNNING','OK','FAILED')),
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        exit_code INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX runs_by_group ON runs(grp);
    CREATE TABLE run_inputs(
        run_id TEXT NOT NULL REFERENCES runs(id),
        version_id INTEGER NOT NULL REFERENCES versions(id),
        used_at INTEGER NOT NULL,
        PRIMARY KEY(run_id, version_id)
    ) WITHOUT ROWID;
    CREATE INDEX run_inputs_by_version ON run_inputs(version_id);
    CREATE INDEX versions_by_run ON versions(logged_by_run);
    INSERT INTO runs(id, status, started_at, finished_at)
        SELECT logged_by_run, 'OK', MIN(created_at), MAX(created_at)
        FROM versions WHERE logged_by_run IS NOT NULL GROUP BY logged_by_run;
    ",
    // 3: a stat cache row vouches for a file only while its content is stored, so `log` need
    // not look each digest up; gc keeps that true from now on, this cleans older stores.
    r"
    DELETE FROM stat_cache
    WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE blobs.hash = stat_cache.digest)
      AND NOT EXISTS (SELECT 1 FROM file_chunks WHERE file_chunks.file_digest = stat_cache.digest);
    ",
    // 4: gc records that it removed a deleted version's content, so no later gc reads it.
    // Deleted versions whose manifest is already gone were collected by an older gc.
    r"
    ALTER TABLE versions ADD COLUMN collected_at INTEGER;
    UPDATE versions SET collected_at = updated_at
    WHERE state = 'DELETED'
      AND NOT EXISTS (SELECT 1 FROM blobs WHERE blobs.hash = versions.digest)
      AND NOT EXISTS (SELECT 1 FROM file_chunks WHERE file_chunks.file_digest = versions.digest);
    ",
    // 5: which remote holds which pack (a cache of what push uploaded or found there);
    // `packs.remote_state` stays the summary gc reads.
    r"
    CREATE TABLE remote_packs(
        remote TEXT NOT NULL,
        pack_hash BLOB NOT NULL,
        PRIMARY KEY(remote, pack_hash)
    ) WITHOUT ROWID;
    CREATE INDEX remote_packs_by_hash ON remote_packs(pack_hash);
    ",
    // 6: the index becomes a cache of the record log. Versions carry their record and its id
    // (filled in by the store upgrade, which writes records for older stores), and the index
    // remembers the last log batch it applied.
    r"
    ALTER TABLE versions ADD COLUMN record_id TEXT;
    ALTER TABLE versions ADD COLUMN record TEXT;
    CREATE UNIQUE INDEX versions_by_record ON versions(record_id);
    CREATE TABLE log_state(
        id INTEGER PRIMARY KEY CHECK (id = 0),
        applied_seq INTEGER NOT NULL
    );
    INSERT INTO log_state(id, applied_seq) VALUES (0, 0);
    ",
    // 7: the registry. A collection is an artifact whose versions link to other artifacts'
    // versions (same content, no copy); tags, protected aliases and expiry times.
    r"
    ALTER TABLE artifacts ADD COLUMN collection INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE versions ADD COLUMN link_of INTEGER REFERENCES versions(id);
    ALTER TABLE versions ADD COLUMN expires_at INTEGER;
    CREATE INDEX versions_by_link ON versions(link_of) WHERE link_of IS NOT NULL;
    CREATE TABLE tags(
        version_id INTEGER NOT NULL REFERENCES versions(id),
        tag TEXT NOT NULL,
        PRIMARY KEY(version_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX tags_by_tag ON tags(tag);
    CREATE TABLE protected_aliases(
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        alias TEXT NOT NULL,
        PRIMARY KEY(artifact_id, alias)
    ) WITHOUT ROWID;
    ",
    // 8: collaborative versions. Parts of pending versions (one row per writer's part, named
    // by artifact name: the artifact may not exist before the first finish), and the runs
    // that wrote a finished version's parts, all of them its producers.
    r"
    CREATE TABLE parts(
        record_id TEXT PRIMARY KEY,
        artifact TEXT NOT NULL,
        distributed_id TEXT NOT NULL,
        manifest BLOB NOT NULL,
        run TEXT,
        created_at INTEGER NOT NULL,
        record TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX parts_by_pending ON parts(artifact, distributed_id, created_at);
    CREATE TABLE version_producers(
        version_id INTEGER NOT NULL REFERENCES versions(id),
        run_id TEXT NOT NULL,
        PRIMARY KEY(version_id, run_id)
    ) WITHOUT ROWID;
    CREATE INDEX version_producers_by_run ON version_producers(run_id);
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

/// How [`open_read_only`] found the index.
#[derive(Debug)]
pub struct ReadOnlyIndex {
    /// The connection; it cannot write.
    pub conn: Connection,
    /// Whether the schema is older than this build's, so it must be migrated (in a copy).
    pub outdated: bool,
}

/// Opens the index at `path` of a store that cannot be written, writing nothing beside it.
/// Without changes pending in `index.db-wal`, the file is opened immutable (SQLite then
/// needs no `-shm` and takes no locks: nothing can write a read-only mount). With pending
/// changes it is opened read-only, which reads them only when the `-shm` file the writer
/// left is there too.
///
/// # Errors
/// [`Error::PendingWal`] when the pending changes cannot be read; [`Error::NewerSchema`];
/// SQLite errors.
pub fn open_read_only(path: &Path) -> Result<ReadOnlyIndex> {
    use rusqlite::OpenFlags;
    let wal = wal_path(path);
    let pending = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if pending {
        Connection::open_with_flags(path, flags)?
    } else {
        Connection::open_with_flags(immutable_uri(path), flags | OpenFlags::SQLITE_OPEN_URI)?
    };
    conn.busy_timeout(Duration::from_secs(30))?;
    let found: i64 = match conn.pragma_query_value(None, "user_version", |r| r.get(0)) {
        Ok(v) => v,
        Err(e) if pending && e.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen) => {
            return Err(Error::PendingWal(wal));
        }
        Err(e) => return Err(e.into()),
    };
    if found > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(ReadOnlyIndex {
        conn,
        outdated: found < SCHEMA_VERSION,
    })
}

/// A private, writable copy in memory of the index behind `src`, migrated to this build's
/// schema: what a read-only store catches up with its log in.
///
/// # Errors
/// SQLite errors.
pub fn copy_to_memory(src: &Connection) -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    // SQLite copies into a memory database only between equal page sizes.
    let page_size: i64 = src.pragma_query_value(None, "page_size", |r| r.get(0))?;
    conn.pragma_update(None, "page_size", page_size)?;
    rusqlite::backup::Backup::new(src, &mut conn)?.run_to_completion(4096, Duration::ZERO, None)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&conn)?;
    Ok(conn)
}

fn wal_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// `file:PATH?immutable=1`, with the characters a URI gives meaning to escaped.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// An index in memory (for replaying the log without touching `index.db`).
///
/// # Errors
/// SQLite errors.
pub fn open_in_memory() -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&conn)?;
    Ok(conn)
}

/// Read-only connections for worker threads, opened on demand and reused (a connection
/// cannot be shared between threads). Under WAL they read beside the writer, each in one
/// snapshot taken at its first read: blobs committed later by another process are not seen,
/// which at worst stores a blob twice.
#[derive(Debug)]
pub struct ReadPool {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<Connection>>,
}

impl ReadPool {
    /// A pool over the index at `path` (already opened and migrated by [`open`]).
    #[must_use]
    pub fn new(path: &Path) -> Self {
        ReadPool {
            path: path.to_owned(),
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with a connection of the pool.
    ///
    /// # Errors
    /// Opening a connection, or `f`'s error.
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().expect("read pool lock").pop();
        let conn = if let Some(c) = idle {
            c
        } else {
            let c = Connection::open_with_flags(
                &self.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.busy_timeout(Duration::from_secs(30))?;
            // One read transaction for the connection's life: lookups then skip taking a
            // WAL snapshot each (what a log of a million files would otherwise spend on).
            c.execute_batch("BEGIN")?;
            c
        };
        let out = f(&conn);
        self.idle.lock().expect("read pool lock").push(conn);
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_version_counts_the_migrations() {
        assert_eq!(
            SCHEMA_VERSION,
            i64::try_from(MIGRATIONS.len()).expect("few migrations")
        );
    }

    #[test]
    fn migration_2_turns_old_run_labels_into_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("index.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[0]).expect("schema 1");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO artifacts(id, name, type, created_at) VALUES (1, 'm', 'model', 5);
                 INSERT INTO versions(artifact_id, idx, digest, state, size, file_count,
                     created_at, updated_at, logged_by_run)
                 VALUES (1, 0, x'00', 'COMMITTED', 1, 1, 10, 10, 'train-1'),
                        (1, 1, x'01', 'COMMITTED', 1, 1, 20, 20, 'train-1'),
                        (1, 2, x'02', 'COMMITTED', 1, 1, 30, 30, NULL);",
            )
            .expect("rows");
        }
        let conn = open(&path).expect("migrate");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let runs: Vec<(String, String, i64, i64)> = conn
            .prepare("SELECT id, status, started_at, finished_at FROM runs")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(runs, [("train-1".to_owned(), "OK".to_owned(), 10, 20)]);
    }

    #[test]
    fn migration_3_forgets_stat_rows_of_unstored_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("index.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[0]).expect("schema 1");
            conn.execute_batch(MIGRATIONS[1]).expect("schema 2");
            conn.pragma_update(None, "user_version", 2)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO packs(id, hash, size, created_at, last_access) VALUES (1, x'aa', 1, 0, 0);
                 INSERT INTO blobs VALUES (x'01', 1, 0, 1, 1, 0, 0);
                 INSERT INTO file_chunks VALUES (x'02', x'01');
                 INSERT INTO stat_cache VALUES (x'2f61', 1, 0, 0, 1, x'01', 0),
                                               (x'2f62', 1, 0, 0, 2, x'02', 0),
                                               (x'2f63', 1, 0, 0, 3, x'03', 0);",
            )
            .expect("rows");
        }
        let conn = open(&path).expect("migrate");
        let kept: Vec<Vec<u8>> = conn
            .prepare("SELECT path FROM stat_cache ORDER BY path")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(kept, [b"/a".to_vec(), b"/b".to_vec()]);
    }

    #[test]
    fn migration_4_marks_deleted_versions_whose_manifest_is_gone_as_collected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("index.db");
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).expect("older schema");
            }
            conn.pragma_update(None, "user_version", 3)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO artifacts(id, name, type, created_at) VALUES (1, 'm', 'model', 5);
                 INSERT INTO packs(id, hash, size, created_at, last_access) VALUES (1, x'aa', 1, 0, 0);
                 INSERT INTO blobs VALUES (x'01', 1, 0, 1, 1, 0, 0);
                 INSERT INTO versions(artifact_id, idx, digest, state, size, file_count,
                     created_at, updated_at)
                 VALUES (1, 0, x'01', 'DELETED', 1, 1, 10, 11),
                        (1, 1, x'02', 'DELETED', 1, 1, 20, 21),
                        (1, 2, x'03', 'COMMITTED', 1, 1, 30, 30);",
            )
            .expect("rows");
        }
        let conn = open(&path).expect("migrate");
        let collected: Vec<(i64, Option<i64>)> = conn
            .prepare("SELECT idx, collected_at FROM versions ORDER BY idx")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        // v0's manifest is still stored; v1's went with an older gc; v2 is live.
        assert_eq!(collected, [(0, None), (1, Some(21)), (2, None)]);
    }

    #[test]
    fn migration_6_adds_record_columns_and_the_log_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("index.db");
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[..5] {
                conn.execute_batch(sql).expect("older schema");
            }
            conn.pragma_update(None, "user_version", 5)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO artifacts(id, name, type, created_at) VALUES (1, 'm', 'model', 5);
                 INSERT INTO versions(artifact_id, idx, digest, state, size, file_count,
                     created_at, updated_at)
                 VALUES (1, 0, x'00', 'COMMITTED', 1, 1, 10, 10);",
            )
            .expect("rows");
        }
        let conn = open(&path).expect("migrate");
        let applied: i64 = conn
            .query_row("SELECT applied_seq FROM log_state", [], |r| r.get(0))
            .expect("log_state");
        assert_eq!(applied, 0);
        let record: Option<String> = conn
            .query_row("SELECT record_id FROM versions", [], |r| r.get(0))
            .expect("record_id");
        assert_eq!(
            record, None,
            "the store upgrade, not the migration, writes records"
        );
    }
}
