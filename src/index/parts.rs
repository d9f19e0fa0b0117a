//! Parts of pending collaborative versions: what each writer added under a distributed id,
//! kept until `art finish` commits them as one version or `art rm --pending` drops them.

use super::Result;
use crate::model::{Digest, PartRecord};
use rusqlite::{Connection, OptionalExtension, params};

/// Records a part (a replayed one again is a no-op).
///
/// # Errors
/// SQLite errors.
pub fn insert(conn: &Connection, part: &PartRecord) -> Result<()> {
    let record = serde_json::to_string(part).expect("records are plain JSON");
    conn.prepare_cached(
        "INSERT OR IGNORE INTO parts(record_id, artifact, distributed_id, manifest, run,
             created_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        part.id,
        part.artifact,
        part.distributed_id,
        part.manifest.as_bytes().as_slice(),
        part.run,
        part.created,
        record
    ])?;
    Ok(())
}

/// Forgets parts: they were committed or dropped.
///
/// # Errors
/// SQLite errors.
pub fn remove(conn: &Connection, ids: &[String]) -> Result<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM parts WHERE record_id = ?1")?;
    for id in ids {
        stmt.execute([id])?;
    }
    Ok(())
}

/// Forgets the parts `ids` of one pending version (others of the same id stay).
///
/// # Errors
/// SQLite errors.
pub fn remove_of(
    conn: &Connection,
    artifact: &str,
    distributed_id: &str,
    ids: &[String],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM parts WHERE record_id = ?1 AND artifact = ?2 AND distributed_id = ?3",
    )?;
    for id in ids {
        stmt.execute(params![id, artifact, distributed_id])?;
    }
    Ok(())
}

fn parse(text: &str) -> Result<PartRecord> {
    serde_json::from_str(text)
        .map_err(|e| super::Error::Corrupt(format!("stored part record: {e}")))
}

fn collect(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<PartRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let texts: Vec<String> = stmt
        .query_map(params, |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    texts.iter().map(|t| parse(t)).collect()
}

/// The parts of one pending version, oldest first (ULIDs break ties of the same millisecond).
///
/// # Errors
/// SQLite errors; a stored record that does not parse.
pub fn of_pending(
    conn: &Connection,
    artifact: &str,
    distributed_id: &str,
) -> Result<Vec<PartRecord>> {
    collect(
        conn,
        "SELECT record FROM parts WHERE artifact = ?1 AND distributed_id = ?2
         ORDER BY created_at, record_id",
        params![artifact, distributed_id],
    )
}

/// Every pending part, of one artifact or of all, by artifact, distributed id and age.
///
/// # Errors
/// SQLite errors; a stored record that does not parse.
pub fn all(conn: &Connection, artifact: Option<&str>) -> Result<Vec<PartRecord>> {
    match artifact {
        Some(a) => collect(
            conn,
            "SELECT record FROM parts WHERE artifact = ?1
             ORDER BY artifact, distributed_id, created_at, record_id",
            [a],
        ),
        None => collect(
            conn,
            "SELECT record FROM parts ORDER BY created_at, record_id",
            [],
        ),
    }
}

/// The manifest digests of every pending part: gc keeps their content.
///
/// # Errors
/// SQLite errors.
pub fn manifests(conn: &Connection) -> Result<Vec<Digest>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT manifest FROM parts")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|b| {
        Digest::from_slice(&b?).map_err(|e| super::Error::Corrupt(format!("part manifest: {e}")))
    })
    .collect()
}

/// The kind of a pending artifact (one with parts), if any part names it.
///
/// # Errors
/// SQLite errors.
pub fn pending_kind(conn: &Connection, artifact: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT record FROM parts WHERE artifact = ?1 ORDER BY created_at LIMIT 1")?
        .query_row([artifact], |r| r.get::<_, String>(0))
        .optional()?
        .map(|t| parse(&t))
        .transpose()?
        .map(|p| p.kind))
}

/// Records the runs that wrote a collaborative version's parts.
///
/// # Errors
/// SQLite errors.
pub fn add_producers(conn: &Connection, version_id: i64, runs: &[String]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO version_producers(version_id, run_id) VALUES (?1, ?2)",
    )?;
    for run in runs {
        stmt.execute(params![version_id, run])?;
    }
    Ok(())
}
