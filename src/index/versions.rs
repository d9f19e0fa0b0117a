//! Artifacts, versions and aliases.

use super::{Error, Result};
use crate::model::{AliasName, ArtifactName, ArtifactType, Digest};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::BTreeMap;

/// One artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactRow {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its type, fixed at the first log.
    pub kind: String,
    /// When it was first logged (epoch ms).
    pub created_at: i64,
    /// Whether it is a collection (its versions link to other artifacts' versions).
    pub collection: bool,
}

/// Lifecycle of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionState {
    /// Being written (collaborative or patch mode).
    Pending,
    /// Complete and visible.
    Committed,
    /// Deleted; its space returns at the next gc.
    Deleted,
}

impl VersionState {
    fn as_str(self) -> &'static str {
        match self {
            VersionState::Pending => "PENDING",
            VersionState::Committed => "COMMITTED",
            VersionState::Deleted => "DELETED",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "PENDING" => Ok(VersionState::Pending),
            "COMMITTED" => Ok(VersionState::Committed),
            "DELETED" => Ok(VersionState::Deleted),
            other => Err(Error::Corrupt(format!("version state `{other}`"))),
        }
    }
}

/// One version of one artifact.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionRow {
    /// Row id.
    pub id: i64,
    /// The artifact's row id.
    pub artifact_id: i64,
    /// The number in `vN`.
    pub idx: u64,
    /// BLAKE3 of the canonical manifest (also the manifest blob's hash).
    pub digest: Digest,
    /// Lifecycle state.
    pub state: VersionState,
    /// Free text.
    pub description: Option<String>,
    /// A JSON object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Directory it was logged from, relative to the store's parent.
    pub source_path: Option<String>,
    /// Sum of file sizes.
    pub size: u64,
    /// Number of entries.
    pub file_count: u64,
    /// Creation time (epoch ms).
    pub created_at: i64,
    /// Last change of description or metadata (epoch ms).
    pub updated_at: i64,
    /// The run that logged it.
    pub logged_by_run: Option<String>,
    /// When gc removed the content of this deleted version (epoch ms); `None` while stored.
    pub collected_at: Option<i64>,
}

const VERSION_COLUMNS: &str = "id, artifact_id, idx, digest, state, description, metadata, source_path, size, \
     file_count, created_at, updated_at, logged_by_run, collected_at";

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<(VersionRow, String, String, Vec<u8>)> {
    let state: String = r.get(4)?;
    let metadata: String = r.get(6)?;
    let digest: Vec<u8> = r.get(3)?;
    Ok((
        VersionRow {
            id: r.get(0)?,
            artifact_id: r.get(1)?,
            idx: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            digest: Digest([0; 32]),
            state: VersionState::Committed,
            description: r.get(5)?,
            metadata: serde_json::Map::new(),
            source_path: r.get(7)?,
            size: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
            file_count: u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
            logged_by_run: r.get(12)?,
            collected_at: r.get(13)?,
        },
        state,
        metadata,
        digest,
    ))
}

fn finish_version(raw: (VersionRow, String, String, Vec<u8>)) -> Result<VersionRow> {
    let (mut v, state, metadata, digest) = raw;
    v.state = VersionState::parse(&state)?;
    v.digest = Digest::from_slice(&digest).map_err(|e| Error::Corrupt(e.to_string()))?;
    v.metadata =
        serde_json::from_str(&metadata).map_err(|e| Error::Corrupt(format!("metadata: {e}")))?;
    Ok(v)
}

fn query_versions(
    conn: &Connection,
    where_clause: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<VersionRow>> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM versions WHERE {where_clause}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, version_from_row)?;
    rows.map(|r| finish_version(r?)).collect()
}

fn artifact_from_row(r: &Row<'_>) -> rusqlite::Result<ArtifactRow> {
    Ok(ArtifactRow {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        created_at: r.get(3)?,
        collection: r.get(4)?,
    })
}

/// The artifact called `name`, if any.
///
/// # Errors
/// SQLite errors.
pub fn try_artifact(conn: &Connection, name: &str) -> Result<Option<ArtifactRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, name, type, created_at, collection FROM artifacts WHERE name = ?1",
        )?
        .query_row([name], artifact_from_row)
        .optional()?)
}

/// Every artifact, by name.
///
/// # Errors
/// SQLite errors.
pub fn all_artifacts(conn: &Connection) -> Result<Vec<ArtifactRow>> {
    let mut stmt =
        conn.prepare("SELECT id, name, type, created_at, collection FROM artifacts ORDER BY name")?;
    let rows = stmt.query_map([], artifact_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Creates an artifact.
///
/// # Errors
/// SQLite errors (a name that exists already violates the unique constraint).
pub fn insert_artifact(
    conn: &Connection,
    name: &ArtifactName,
    kind: &ArtifactType,
    now_ms: i64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO artifacts(name, type, created_at) VALUES (?1, ?2, ?3)",
        params![name.as_str(), kind.as_str(), now_ms],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The versions of an artifact in order, deleted ones included.
///
/// # Errors
/// SQLite errors.
pub fn versions_of(conn: &Connection, artifact_id: i64) -> Result<Vec<VersionRow>> {
    query_versions(conn, "artifact_id = ?1 ORDER BY idx", [artifact_id])
}

/// A version by number.
///
/// # Errors
/// SQLite errors.
pub fn version_by_index(
    conn: &Connection,
    artifact_id: i64,
    idx: u64,
) -> Result<Option<VersionRow>> {
    Ok(query_versions(
        conn,
        "artifact_id = ?1 AND idx = ?2",
        params![artifact_id, i64::try_from(idx).unwrap_or(i64::MAX)],
    )?
    .pop())
}

/// A version by row id.
///
/// # Errors
/// SQLite errors.
pub fn version_by_id(conn: &Connection, id: i64) -> Result<Option<VersionRow>> {
    Ok(query_versions(conn, "id = ?1", [id])?.pop())
}

/// The versions of an artifact whose digest starts with `prefix` (lowercase hex).
///
/// # Errors
/// SQLite errors.
pub fn versions_by_digest_prefix(
    conn: &Connection,
    artifact_id: i64,
    prefix: &str,
) -> Result<Vec<VersionRow>> {
    Ok(versions_of(conn, artifact_id)?
        .into_iter()
        .filter(|v| v.digest.to_hex().starts_with(prefix))
        .collect())
}

/// The next free version number of an artifact.
///
/// # Errors
/// SQLite errors.
pub fn next_index(conn: &Connection, artifact_id: i64) -> Result<u64> {
    let max: Option<i64> = conn.query_row(
        "SELECT MAX(idx) FROM versions WHERE artifact_id = ?1",
        [artifact_id],
        |r| r.get(0),
    )?;
    Ok(max.map_or(0, |m| u64::try_from(m).unwrap_or(0) + 1))
}

/// Inserts a version; `v.id` is ignored and the new row id returned.
///
/// # Errors
/// SQLite errors.
pub fn insert_version(conn: &Connection, v: &VersionRow) -> Result<i64> {
    conn.execute(
        "INSERT INTO versions(artifact_id, idx, digest, state, description, metadata, source_path, size,
            file_count, created_at, updated_at, logged_by_run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            v.artifact_id,
            i64::try_from(v.idx).unwrap_or(i64::MAX),
            v.digest.as_bytes(),
            v.state.as_str(),
            v.description,
            serde_json::Value::Object(v.metadata.clone()).to_string(),
            v.source_path,
            i64::try_from(v.size).unwrap_or(i64::MAX),
            i64::try_from(v.file_count).unwrap_or(i64::MAX),
            v.created_at,
            v.updated_at,
            v.logged_by_run,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Replaces a version's description and metadata.
///
/// # Errors
/// SQLite errors.
pub fn update_version_meta(
    conn: &Connection,
    id: i64,
    description: Option<&str>,
    metadata: &serde_json::Map<String, serde_json::Value>,
    now_ms: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE versions SET description = ?2, metadata = ?3, updated_at = ?4 WHERE id = ?1",
        params![
            id,
            description,
            serde_json::Value::Object(metadata.clone()).to_string(),
            now_ms
        ],
    )?;
    Ok(())
}

/// Every live (not deleted) version of every artifact, for reachability checks.
///
/// # Errors
/// SQLite errors.
pub fn live_versions(conn: &Connection) -> Result<Vec<VersionRow>> {
    query_versions(conn, "state != 'DELETED' ORDER BY artifact_id, idx", [])
}

/// Points `alias` of an artifact at a version, moving it if it was elsewhere.
///
/// # Errors
/// SQLite errors.
pub fn set_alias(
    conn: &Connection,
    artifact_id: i64,
    alias: &AliasName,
    version_id: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO aliases(artifact_id, alias, version_id) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![artifact_id, alias.as_str(), version_id])?;
    Ok(())
}

/// Removes an alias; returns whether it existed.
///
/// # Errors
/// SQLite errors.
pub fn remove_alias(conn: &Connection, artifact_id: i64, alias: &str) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM aliases WHERE artifact_id = ?1 AND alias = ?2",
        params![artifact_id, alias],
    )? > 0)
}

/// The version an alias points at.
///
/// # Errors
/// SQLite errors.
pub fn alias_target(conn: &Connection, artifact_id: i64, alias: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT version_id FROM aliases WHERE artifact_id = ?1 AND alias = ?2")?
        .query_row(params![artifact_id, alias], |r| r.get(0))
        .optional()?)
}

/// Aliases of an artifact grouped by version row id, each list sorted with `latest` first.
///
/// # Errors
/// SQLite errors.
pub fn aliases_by_version(
    conn: &Connection,
    artifact_id: i64,
) -> Result<BTreeMap<i64, Vec<String>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version_id, alias FROM aliases WHERE artifact_id = ?1 ORDER BY alias != 'latest', alias",
    )?;
    let rows = stmt.query_map([artifact_id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for r in rows {
        let (v, a) = r?;
        out.entry(v).or_default().push(a);
    }
    Ok(out)
}

/// Every alias name used by an artifact.
///
/// # Errors
/// SQLite errors.
pub fn alias_names(conn: &Connection, artifact_id: i64) -> Result<Vec<String>> {
    Ok(aliases_by_version(conn, artifact_id)?
        .into_values()
        .flatten()
        .collect())
}

/// Changes a version's state (deleting it keeps the row, so lineage still shows it).
///
/// # Errors
/// SQLite errors.
pub fn set_state(conn: &Connection, id: i64, state: VersionState, now_ms: i64) -> Result<()> {
    conn.execute(
        "UPDATE versions SET state = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, state.as_str(), now_ms],
    )?;
    Ok(())
}

/// Every version gc must keep: not deleted, or deleted after `deleted_after` (epoch ms) and
/// not yet collected. A collected version's content may be gone, so it is never read again.
///
/// # Errors
/// SQLite errors.
pub fn versions_to_keep(conn: &Connection, deleted_after: i64) -> Result<Vec<VersionRow>> {
    query_versions(
        conn,
        "state != 'DELETED' OR (updated_at > ?1 AND collected_at IS NULL) ORDER BY artifact_id, idx",
        [deleted_after],
    )
}

/// Removes every alias pointing at a version; returns the names removed.
///
/// # Errors
/// SQLite errors.
pub fn remove_aliases_of(conn: &Connection, version_id: i64) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT alias FROM aliases WHERE version_id = ?1 ORDER BY alias")?;
    let names: Vec<String> = stmt
        .query_map([version_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    conn.execute("DELETE FROM aliases WHERE version_id = ?1", [version_id])?;
    Ok(names)
}
