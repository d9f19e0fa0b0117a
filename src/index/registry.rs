//! The registry in the index: collections and their links, tags, protected aliases and
//! version expiry. A collection is an artifact row flagged `collection`; each of its
//! versions is a row with the linked version's digest and `link_of` naming that version.

use super::{Result, VersionState};
use rusqlite::{Connection, OptionalExtension, params};

/// Marks an artifact as a collection.
///
/// # Errors
/// SQLite errors.
pub fn set_collection(conn: &Connection, artifact_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE artifacts SET collection = 1 WHERE id = ?1",
        [artifact_id],
    )?;
    Ok(())
}

/// Records that collection version `version_id` links to `source_id`.
///
/// # Errors
/// SQLite errors.
pub fn set_link(conn: &Connection, version_id: i64, source_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE versions SET link_of = ?2 WHERE id = ?1",
        params![version_id, source_id],
    )?;
    Ok(())
}

/// The version a collection version links to.
///
/// # Errors
/// SQLite errors.
pub fn link_source(conn: &Connection, version_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT link_of FROM versions WHERE id = ?1")?
        .query_row([version_id], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

/// The live links to `source_id`, as `(collection, number)`.
///
/// # Errors
/// SQLite errors.
pub fn live_links_to(conn: &Connection, source_id: i64) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.name, v.idx FROM versions v JOIN artifacts a ON a.id = v.artifact_id
         WHERE v.link_of = ?1 AND v.state != ?2 ORDER BY a.name, v.idx",
    )?;
    let rows = stmt.query_map(params![source_id, state_text(VersionState::Deleted)], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)?.cast_unsigned()))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Row ids of every link to `source_id` (deleted ones too: lineage marks them).
///
/// # Errors
/// SQLite errors.
pub fn links_to(conn: &Connection, source_id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM versions WHERE link_of = ?1 ORDER BY id")?;
    let rows = stmt.query_map([source_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The live link in collection `collection_id` to `source_id`, if any (its row id).
///
/// # Errors
/// SQLite errors.
pub fn live_link_in(conn: &Connection, collection_id: i64, source_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM versions WHERE artifact_id = ?1 AND link_of = ?2 AND state != ?3",
        )?
        .query_row(
            params![collection_id, source_id, state_text(VersionState::Deleted)],
            |r| r.get(0),
        )
        .optional()?)
}

fn state_text(s: VersionState) -> &'static str {
    match s {
        VersionState::Pending => "PENDING",
        VersionState::Committed => "COMMITTED",
        VersionState::Deleted => "DELETED",
    }
}

/// Adds a tag (no-op when present).
///
/// # Errors
/// SQLite errors.
pub fn add_tag(conn: &Connection, version_id: i64, tag: &str) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO tags(version_id, tag) VALUES (?1, ?2)",
        params![version_id, tag],
    )?;
    Ok(())
}

/// Removes a tag (no-op when absent).
///
/// # Errors
/// SQLite errors.
pub fn remove_tag(conn: &Connection, version_id: i64, tag: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM tags WHERE version_id = ?1 AND tag = ?2",
        params![version_id, tag],
    )?;
    Ok(())
}

/// A version's tags, sorted.
///
/// # Errors
/// SQLite errors.
pub fn tags_of(conn: &Connection, version_id: i64) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT tag FROM tags WHERE version_id = ?1 ORDER BY tag")?;
    let rows = stmt.query_map([version_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Row ids of the versions carrying `tag`.
///
/// # Errors
/// SQLite errors.
pub fn versions_tagged(conn: &Connection, tag: &str) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT version_id FROM tags WHERE tag = ?1 ORDER BY version_id")?;
    let rows = stmt.query_map([tag], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Protects or unprotects an alias.
///
/// # Errors
/// SQLite errors.
pub fn set_protected(conn: &Connection, artifact_id: i64, alias: &str, on: bool) -> Result<()> {
    let sql = if on {
        "INSERT OR IGNORE INTO protected_aliases(artifact_id, alias) VALUES (?1, ?2)"
    } else {
        "DELETE FROM protected_aliases WHERE artifact_id = ?1 AND alias = ?2"
    };
    conn.execute(sql, params![artifact_id, alias])?;
    Ok(())
}

/// Whether an alias is protected.
///
/// # Errors
/// SQLite errors.
pub fn is_protected(conn: &Connection, artifact_id: i64, alias: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM protected_aliases WHERE artifact_id = ?1 AND alias = ?2")?
        .query_row(params![artifact_id, alias], |_| Ok(()))
        .optional()?
        .is_some())
}

/// An artifact's protected aliases, sorted.
///
/// # Errors
/// SQLite errors.
pub fn protected_aliases(conn: &Connection, artifact_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT alias FROM protected_aliases WHERE artifact_id = ?1 ORDER BY alias",
    )?;
    let rows = stmt.query_map([artifact_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The protected aliases a version carries, sorted.
///
/// # Errors
/// SQLite errors.
pub fn protected_aliases_on(conn: &Connection, version_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.alias FROM aliases a JOIN protected_aliases p
           ON p.artifact_id = a.artifact_id AND p.alias = a.alias
         WHERE a.version_id = ?1 ORDER BY a.alias",
    )?;
    let rows = stmt.query_map([version_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets or clears a version's expiry.
///
/// # Errors
/// SQLite errors.
pub fn set_expiry(conn: &Connection, version_id: i64, expires: Option<i64>) -> Result<()> {
    conn.execute(
        "UPDATE versions SET expires_at = ?2 WHERE id = ?1",
        params![version_id, expires],
    )?;
    Ok(())
}

/// A version's expiry (epoch ms).
///
/// # Errors
/// SQLite errors.
pub fn expiry_of(conn: &Connection, version_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT expires_at FROM versions WHERE id = ?1")?
        .query_row([version_id], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

/// Live versions whose expiry is at or before `now` (epoch ms), oldest first.
///
/// # Errors
/// SQLite errors.
pub fn expired(conn: &Connection, now: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM versions WHERE expires_at IS NOT NULL AND expires_at <= ?1
           AND state = 'COMMITTED' ORDER BY expires_at, id",
    )?;
    let rows = stmt.query_map([now], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
