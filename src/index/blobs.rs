//! Packs, blob locations and chunk lists.

use super::{Error, Result};
use crate::model::Digest;
use crate::store::{BlobKind, Codec, PackEntry, PackOutcome};
use rusqlite::{Connection, OptionalExtension, params};

/// Where a blob is stored: its pack and its entry there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// Row id of the pack.
    pub pack_id: i64,
    /// The pack's hash (its file name).
    pub pack_hash: Digest,
    /// The blob's entry in the pack trailer.
    pub entry: PackEntry,
}

/// One pack known to the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackRow {
    /// Row id.
    pub id: i64,
    /// The pack's hash (its file name).
    pub hash: Digest,
    /// File size in bytes.
    pub size: u64,
    /// Last time a command read or reused the pack (epoch ms).
    pub last_access: i64,
    /// When the pack was recorded (epoch ms).
    pub created_at: i64,
    /// `synced` once a remote holds it, `evicted` once the local file is gone; none otherwise.
    pub remote_state: Option<String>,
}

fn digest(bytes: &[u8]) -> Result<Digest> {
    Digest::from_slice(bytes).map_err(|e| Error::Corrupt(e.to_string()))
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).expect("sizes and offsets fit in i64")
}

/// Records durable packs and their blobs. Blobs already known (written concurrently by
/// another process) keep their first location. Blob rows go in hash order, so a large log
/// fills B-tree pages in one sweep instead of touching a random page per row.
///
/// # Errors
/// SQLite errors.
pub fn insert_packs(conn: &Connection, packs: &[PackOutcome], now_ms: i64) -> Result<()> {
    let mut rows: Vec<(&PackEntry, i64)> = Vec::new();
    for pack in packs {
        conn.execute(
            "INSERT INTO packs(hash, size, created_at, last_access) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT(hash) DO NOTHING",
            params![pack.hash.as_bytes(), as_i64(pack.size), now_ms],
        )?;
        let pack_id: i64 = conn.query_row(
            "SELECT id FROM packs WHERE hash = ?1",
            [pack.hash.as_bytes()],
            |r| r.get(0),
        )?;
        rows.extend(pack.entries.iter().map(|e| (e, pack_id)));
    }
    rows.sort_unstable_by_key(|r| r.0.hash);
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO blobs(hash, pack_id, offset, stored_len, raw_len, codec, kind)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (e, pack_id) in rows {
        stmt.execute(params![
            e.hash.as_bytes(),
            pack_id,
            as_i64(e.offset),
            e.stored_len,
            e.raw_len,
            e.codec.as_u8(),
            e.kind as u8
        ])?;
    }
    Ok(())
}

/// Records that `file_digest` is stored as the chunk list blob `list_hash`.
///
/// # Errors
/// SQLite errors.
pub fn insert_chunk_list(
    conn: &Connection,
    file_digest: &Digest,
    list_hash: &Digest,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO file_chunks(file_digest, list_hash) VALUES (?1, ?2)",
    )?
    .execute(params![file_digest.as_bytes(), list_hash.as_bytes()])?;
    Ok(())
}

/// The chunk list blob of a large file, if the file is chunked.
///
/// # Errors
/// SQLite errors.
pub fn try_chunk_list(conn: &Connection, file_digest: &Digest) -> Result<Option<Digest>> {
    conn.prepare_cached("SELECT list_hash FROM file_chunks WHERE file_digest = ?1")?
        .query_row([file_digest.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
        .optional()?
        .map(|b| digest(&b))
        .transpose()
}

/// Where a blob is, or `None` when the store does not have it.
///
/// # Errors
/// SQLite errors or a corrupt row.
pub fn try_locate(conn: &Connection, hash: &Digest) -> Result<Option<BlobLocation>> {
    let row = conn
        .prepare_cached(
            "SELECT b.pack_id, p.hash, b.offset, b.stored_len, b.raw_len, b.codec, b.kind
             FROM blobs b JOIN packs p ON p.id = b.pack_id WHERE b.hash = ?1",
        )?
        .query_row([hash.as_bytes()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, u8>(5)?,
                r.get::<_, u8>(6)?,
            ))
        })
        .optional()?;
    let Some((pack_id, pack_hash, offset, stored_len, raw_len, codec, kind)) = row else {
        return Ok(None);
    };
    Ok(Some(BlobLocation {
        pack_id,
        pack_hash: digest(&pack_hash)?,
        entry: PackEntry {
            hash: *hash,
            offset: u64::try_from(offset).map_err(|_| Error::Corrupt("negative offset".into()))?,
            stored_len,
            raw_len,
            codec: Codec::from_u8(codec).ok_or_else(|| Error::Corrupt(format!("codec {codec}")))?,
            kind: BlobKind::from_u8(kind)
                .ok_or_else(|| Error::Corrupt(format!("blob kind {kind}")))?,
        },
    }))
}

/// The pack holding a blob, or `None` when the store does not have it: a log's
/// deduplication asks per blob, so its cost follows the files read, not the store's size.
///
/// # Errors
/// SQLite errors.
pub fn pack_of(conn: &Connection, hash: &Digest) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT pack_id FROM blobs WHERE hash = ?1")?
        .query_row([hash.as_bytes()], |r| r.get(0))
        .optional()?)
}

/// Every pack in the index.
///
/// # Errors
/// SQLite errors.
pub fn all_packs(conn: &Connection) -> Result<Vec<PackRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, hash, size, last_access, created_at, remote_state FROM packs ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    rows.map(|r| {
        let (id, hash, size, last_access, created_at, remote_state) = r?;
        Ok(PackRow {
            id,
            hash: digest(&hash)?,
            size: u64::try_from(size).unwrap_or(0),
            last_access,
            created_at,
            remote_state,
        })
    })
    .collect()
}

/// Every blob recorded as living in pack `pack_id`.
///
/// # Errors
/// SQLite errors or a corrupt row.
pub fn blobs_in_pack(conn: &Connection, pack_id: i64) -> Result<Vec<PackEntry>> {
    let mut stmt = conn.prepare(
        "SELECT hash, offset, stored_len, raw_len, codec, kind FROM blobs WHERE pack_id = ?1 ORDER BY offset",
    )?;
    let rows = stmt.query_map([pack_id], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, u32>(2)?,
            r.get::<_, u32>(3)?,
            r.get::<_, u8>(4)?,
            r.get::<_, u8>(5)?,
        ))
    })?;
    rows.map(|r| {
        let (hash, offset, stored_len, raw_len, codec, kind) = r?;
        Ok(PackEntry {
            hash: digest(&hash)?,
            offset: u64::try_from(offset).map_err(|_| Error::Corrupt("negative offset".into()))?,
            stored_len,
            raw_len,
            codec: Codec::from_u8(codec).ok_or_else(|| Error::Corrupt(format!("codec {codec}")))?,
            kind: BlobKind::from_u8(kind)
                .ok_or_else(|| Error::Corrupt(format!("blob kind {kind}")))?,
        })
    })
    .collect()
}

/// Marks packs as used now, so LRU eviction keeps them; one statement per pack, not per blob.
///
/// # Errors
/// SQLite errors.
pub fn touch_packs(
    conn: &Connection,
    pack_ids: impl IntoIterator<Item = i64>,
    now_ms: i64,
) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE packs SET last_access = ?2 WHERE id = ?1")?;
    for id in pack_ids {
        stmt.execute(params![id, now_ms])?;
    }
    Ok(())
}

/// Every blob's hash, pack and stored length, for gc's accounting.
///
/// # Errors
/// SQLite errors.
pub fn all_blob_sizes(conn: &Connection) -> Result<Vec<(Digest, i64, u64)>> {
    let mut stmt = conn.prepare("SELECT hash, pack_id, stored_len FROM blobs")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    rows.map(|r| {
        let (h, p, len) = r?;
        Ok((digest(&h)?, p, u64::try_from(len).unwrap_or(0)))
    })
    .collect()
}

/// Every `(file digest, chunk list hash)` pair.
///
/// # Errors
/// SQLite errors.
pub fn all_chunk_lists(conn: &Connection) -> Result<Vec<(Digest, Digest)>> {
    let mut stmt = conn.prepare("SELECT file_digest, list_hash FROM file_chunks")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    rows.map(|r| {
        let (f, l) = r?;
        Ok((digest(&f)?, digest(&l)?))
    })
    .collect()
}

/// Forgets blobs (their bytes stay in packs until the pack is deleted or rewritten).
///
/// # Errors
/// SQLite errors.
pub fn delete_blobs<'a>(
    conn: &Connection,
    hashes: impl IntoIterator<Item = &'a Digest>,
) -> Result<()> {
    delete_each(conn, "DELETE FROM blobs WHERE hash = ?1", hashes)
}

/// Forgets chunk lists of files no longer stored.
///
/// # Errors
/// SQLite errors.
pub fn delete_chunk_lists<'a>(
    conn: &Connection,
    files: impl IntoIterator<Item = &'a Digest>,
) -> Result<()> {
    delete_each(
        conn,
        "DELETE FROM file_chunks WHERE file_digest = ?1",
        files,
    )
}

fn delete_each<'a>(
    conn: &Connection,
    sql: &str,
    keys: impl IntoIterator<Item = &'a Digest>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    for key in keys {
        stmt.execute([key.as_bytes()])?;
    }
    Ok(())
}

/// Forgets a pack and every blob row still pointing into it.
///
/// # Errors
/// SQLite errors.
pub fn delete_pack(conn: &Connection, pack_id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM blobs WHERE pack_id = ?1")?
        .execute([pack_id])?;
    conn.prepare_cached("DELETE FROM packs WHERE id = ?1")?
        .execute([pack_id])?;
    Ok(())
}

/// The row id of the pack with this hash, if the index has it.
///
/// # Errors
/// SQLite errors.
pub fn pack_id(conn: &Connection, hash: &Digest) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM packs WHERE hash = ?1")?
        .query_row([hash.as_bytes()], |r| r.get(0))
        .optional()?)
}

/// Records a pack the log names but that is not local and could not be read elsewhere: known,
/// without blobs (the caller marks it evicted).
///
/// # Errors
/// SQLite errors.
pub fn insert_absent_pack(conn: &Connection, hash: &Digest, now_ms: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO packs(hash, size, created_at, last_access) VALUES (?1, 0, ?2, ?2)
         ON CONFLICT(hash) DO NOTHING",
        params![hash.as_bytes(), now_ms],
    )?;
    Ok(())
}

/// Forgets chunk lists whose list blob the index no longer has.
///
/// # Errors
/// SQLite errors.
pub fn forget_orphan_chunk_lists(conn: &Connection) -> Result<()> {
    conn.execute(
        "DELETE FROM file_chunks
         WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE blobs.hash = file_chunks.list_hash)",
        [],
    )?;
    Ok(())
}

/// Records what a remote holds of a pack (`synced`, `evicted`, or none).
///
/// # Errors
/// SQLite errors.
pub fn set_remote_state(conn: &Connection, pack_id: i64, state: Option<&str>) -> Result<()> {
    conn.prepare_cached("UPDATE packs SET remote_state = ?2 WHERE id = ?1")?
        .execute(params![pack_id, state])?;
    Ok(())
}
/// Packs evicted locally, each with its size and the remotes that hold it.
///
/// # Errors
/// SQLite errors.
pub fn evicted_packs(
    conn: &Connection,
) -> Result<std::collections::HashMap<Digest, (u64, Vec<String>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.hash, p.size, r.remote FROM packs p JOIN remote_packs r ON r.pack_hash = p.hash
         WHERE p.remote_state = 'evicted' ORDER BY r.remote",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out: std::collections::HashMap<Digest, (u64, Vec<String>)> =
        std::collections::HashMap::new();
    for row in rows {
        let (hash, size, remote) = row?;
        let entry = out
            .entry(digest(&hash)?)
            .or_insert_with(|| (u64::try_from(size).unwrap_or(0), Vec::new()));
        entry.1.push(remote);
    }
    Ok(out)
}

/// Records that an evicted pack is back in `packs/` (still held by its remotes).
///
/// # Errors
/// SQLite errors.
pub fn mark_restored(conn: &Connection, hash: &Digest) -> Result<()> {
    conn.prepare_cached(
        "UPDATE packs SET remote_state = 'synced' WHERE hash = ?1 AND remote_state = 'evicted'",
    )?
    .execute([hash.as_bytes()])?;
    Ok(())
}

/// Hashes of the packs `remote` is known to hold.
///
/// # Errors
/// SQLite errors.
pub fn packs_on_remote(
    conn: &Connection,
    remote: &str,
) -> Result<std::collections::HashSet<Digest>> {
    let mut stmt = conn.prepare_cached("SELECT pack_hash FROM remote_packs WHERE remote = ?1")?;
    let rows = stmt.query_map([remote], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|r| digest(&r?)).collect()
}

/// Records that `remote` holds the pack `hash`; a local pack becomes evictable.
///
/// # Errors
/// SQLite errors.
pub fn record_remote_pack(conn: &Connection, remote: &str, hash: &Digest) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO remote_packs(remote, pack_hash) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![remote, hash.as_bytes()])?;
    conn.prepare_cached(
        "UPDATE packs SET remote_state = 'synced' WHERE hash = ?1 AND remote_state IS NULL",
    )?
    .execute([hash.as_bytes()])?;
    Ok(())
}

/// The remotes known to hold the pack `hash`, by name.
///
/// # Errors
/// SQLite errors.
pub fn remotes_of_pack(conn: &Connection, hash: &Digest) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT remote FROM remote_packs WHERE pack_hash = ?1 ORDER BY remote")?;
    let rows = stmt.query_map([hash.as_bytes()], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Packs evicted locally that no remote but `remote` holds: forgetting `remote` would lose them.
///
/// # Errors
/// SQLite errors.
pub fn evicted_only_on(conn: &Connection, remote: &str) -> Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM packs p WHERE p.remote_state = 'evicted'
           AND EXISTS (SELECT 1 FROM remote_packs r WHERE r.pack_hash = p.hash AND r.remote = ?1)
           AND NOT EXISTS (SELECT 1 FROM remote_packs r WHERE r.pack_hash = p.hash AND r.remote != ?1)",
        [remote],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Forgets what `remote` holds; local packs no other remote holds are no longer evictable.
///
/// # Errors
/// SQLite errors.
pub fn forget_remote(conn: &Connection, remote: &str) -> Result<()> {
    conn.execute("DELETE FROM remote_packs WHERE remote = ?1", [remote])?;
    conn.execute(
        "UPDATE packs SET remote_state = NULL WHERE remote_state = 'synced'
           AND NOT EXISTS (SELECT 1 FROM remote_packs r WHERE r.pack_hash = packs.hash)",
        [],
    )?;
    Ok(())
}
