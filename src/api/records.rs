//! The record log on disk and the index as its cache: appending a command's batch, catching
//! up on open, checkpoints, the store upgrade that writes records for older stores, and
//! `art index rebuild`.
//!
//! `.artifacts/log/` holds one file per command, `<seq>.json` (20 digits), written to `tmp/`,
//! fsynced and linked into place create-only, then the directory is fsynced. A command takes
//! the index's write lock (`BEGIN IMMEDIATE`), applies any batch it lacks, builds its own,
//! applies it and makes it durable as the next number, then commits. A crash between the
//! log write and the commit leaves a durable batch the index lacks; the next open applies it.

use super::{Store, config::Config};
use crate::error::{Error, Result, io};
use crate::index::blob_queries as bq;
use crate::index::record_queries as recq;
use crate::model::{Batch, Checkpoint, Digest, Entry, PackState, RunId, now_ms};
use crate::store::{
    BlobKind, PackFile, PackOutcome, chunk_list_decode, pack_path, read_trailer_with,
};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The log directory inside `.artifacts`.
pub(crate) const LOG_DIR: &str = "log";

/// In the log directory after a merge rewrote it (see [`rewrite_log_tail`]): the index must
/// be rebuilt from the log before anything reads it. Its name is no batch number, so
/// listings skip it.
const REWRITTEN_MARKER: &str = "rewritten.json";

/// gc writes a checkpoint when it changed the store or when this many batches came after the
/// last one, so a replay reads at most about this many batches after a checkpoint.
const CHECKPOINT_EVERY: u64 = 1000;

/// What `art index rebuild` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RebuildOutcome {
    /// Where the old index was moved (none when there was none).
    pub kept: Option<PathBuf>,
    /// The checkpoint replay started from (0: the beginning of the log).
    pub checkpoint: u64,
    /// The last log batch applied.
    pub seq: u64,
    /// Artifacts recreated.
    pub artifacts: u64,
    /// Versions recreated, deleted ones included.
    pub versions: u64,
    /// Runs recreated.
    pub runs: u64,
    /// Packs indexed.
    pub packs: u64,
    /// Blobs indexed.
    pub blobs: u64,
    /// Things that could not be recovered (an unreadable pack, a missing manifest).
    pub notes: Vec<String>,
}

fn batch_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(LOG_DIR).join(format!("{seq:020}.json"))
}

fn checkpoint_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(LOG_DIR).join(format!("checkpoint-{seq:020}.json"))
}

/// A new ULID for a record or batch made at `ms`.
pub(crate) fn new_ulid(ms: i64) -> String {
    RunId::from_parts(u64::try_from(ms).unwrap_or(0), super::run::random_bits()).to_string()
}

/// Writes `bytes` to `path` durably and only if `path` does not exist yet (false then).
fn write_create_only(dir: &Path, path: &Path, bytes: &[u8]) -> Result<bool> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir.join("tmp")).map_err(io("write", path))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io("write", path))?;
    tmp.as_file().sync_all().map_err(io("write", path))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(Error::Io {
                action: "write",
                path: path.to_owned(),
                source: e.error,
            });
        }
    }
    sync_dir(path.parent().unwrap_or(dir))?;
    Ok(true)
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))
}

fn read_batch(dir: &Path, seq: u64) -> Result<Option<Batch>> {
    let path = batch_path(dir, seq);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(Batch::decode(&bytes).map_err(|e| Error::InFile {
            path: path.display().to_string(),
            source: Box::new(e.into()),
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            action: "read",
            path,
            source: e,
        }),
    }
}

/// Every batch of the log, in order (batches are never deleted, checkpoints aside).
pub(crate) fn all_batches(dir: &Path) -> Result<Vec<Batch>> {
    let mut out = Vec::new();
    while let Some(batch) = read_batch(dir, out.len() as u64 + 1)? {
        out.push(batch);
    }
    Ok(out)
}

/// Whether the log starts from an upgrade's checkpoint 0 that holds versions: history
/// recorded before the log existed, which no batch carries.
pub(crate) fn history_before_log(dir: &Path) -> Result<bool> {
    let path = checkpoint_path(dir, 0);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(!Checkpoint::decode(&bytes)?.versions.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Io {
            action: "read",
            path,
            source: e,
        }),
    }
}

/// Appends a batch another store wrote (pulled from `remote`) as this store's next batch,
/// in the caller's transaction (begun with [`begin`]): its packs are indexed from the
/// remote's copies (evicted here: checkout reads them there), then it is made durable.
pub(crate) fn append_pulled(
    dir: &Path,
    tx: &Connection,
    batch: &Batch,
    remote: (&str, &crate::remote::RemoteSpec),
) -> Result<()> {
    let seq = recq::applied_seq(tx)? + 1;
    let mut specs = std::collections::BTreeMap::new();
    specs.insert(remote.0.to_owned(), remote.1.clone());
    let mut replay = Replay {
        notes: Vec::new(),
        remotes: Some(RemotePacks {
            specs,
            listed: None,
        }),
        strict: false,
    };
    apply(dir, tx, seq, batch, Some(&mut replay))?;
    if let Some(problem) = replay.notes.into_iter().next() {
        return Err(crate::index::Error::Corrupt(format!(
            "a batch pulled from `{}` names content that cannot be read: {problem}",
            remote.0
        ))
        .into());
    }
    let held = |d: &Digest| -> Result<bool> {
        Ok(bq::try_locate(tx, d)?.is_some() || bq::try_chunk_list(tx, d)?.is_some())
    };
    check_versions_held(batch, remote.0, held)?;
    let path = batch_path(dir, seq);
    if !write_create_only(dir, &path, &batch.encode())? {
        return Err(Error::LogConflict(path));
    }
    crate::failpoint::hit("pull.after-append").map_err(io("write", &path))?;
    Ok(())
}

/// Refuses a pulled batch that records a version whose manifest no pack holds: it could
/// never be checked out, and would make every later replay note the loss.
fn check_versions_held(
    batch: &Batch,
    remote: &str,
    mut held: impl FnMut(&Digest) -> Result<bool>,
) -> Result<()> {
    for entry in &batch.entries {
        if let Entry::Version(r) = entry
            && !held(&r.digest)?
        {
            return Err(crate::remote::Error::Corrupt {
                remote: remote.to_owned(),
                key: format!("log batch {}", batch.id),
                reason: format!(
                    "it records {}:v{} with manifest {}, which no pack holds",
                    r.artifact,
                    r.number,
                    r.digest.short(16)
                ),
            }
            .into());
        }
    }
    Ok(())
}

/// Checks, before a merge rewrites anything, that every version the remote's `batches`
/// record has its manifest in a pack: this store's, or one the batches name (its trailer
/// read from `remote`).
pub(crate) fn check_pulled_content(
    dir: &Path,
    conn: &Connection,
    batches: &[Batch],
    remote: &crate::remote::Remote,
    sizes: &std::collections::HashMap<String, u64>,
) -> Result<()> {
    let mut named = HashSet::new();
    for entry in batches.iter().flat_map(|b| &b.entries) {
        if let Entry::Packs { packs } = entry {
            for hash in packs {
                if bq::pack_id(conn, hash)?.is_none() {
                    named.insert(*hash);
                }
            }
        }
    }
    let mut contents: HashSet<Digest> = HashSet::new();
    for hash in &named {
        let path = pack_path(dir, hash);
        let (entries, lists) = if path.exists() {
            let file = PackFile::at(&path)?;
            let (entries, _) = file.read_trailer()?;
            let mut lists = Vec::new();
            for e in entries.iter().filter(|e| e.kind == BlobKind::ChunkList) {
                if let Some((d, _)) = chunk_list_decode(&file.read_blob(e)?) {
                    lists.push((d, e.hash));
                }
            }
            (entries, lists)
        } else {
            let key = crate::remote::pack_key(hash);
            let size = sizes.get(&key).copied().unwrap_or(0);
            let (pack, lists) = remote_pack(remote, hash, size)?;
            (pack.entries, lists)
        };
        contents.extend(entries.iter().map(|e| e.hash));
        contents.extend(lists.into_iter().map(|(d, _)| d));
    }
    for batch in batches {
        check_versions_held(batch, remote.name(), |d| {
            Ok(contents.contains(d)
                || bq::try_locate(conn, d)?.is_some()
                || bq::try_chunk_list(conn, d)?.is_some())
        })?;
    }
    Ok(())
}

/// Applies every durable batch after the index's last one; returns the last applied.
/// A pending batch may name packs that are only on a remote (a pull killed between its log
/// write and its index commit): their trailers are read from the configured remotes, which
/// are contacted only then.
pub(crate) fn catch_up(dir: &Path, conn: &Connection) -> Result<u64> {
    let mut seq = recq::applied_seq(conn)?;
    let mut replay: Option<Replay> = None;
    while let Some(batch) = read_batch(dir, seq + 1)? {
        seq += 1;
        let replay = match &mut replay {
            Some(r) => r,
            None => replay.insert(Replay {
                notes: Vec::new(),
                remotes: Some(RemotePacks {
                    specs: Config::load(dir)?.remote,
                    listed: None,
                }),
                strict: true,
            }),
        };
        apply(dir, conn, seq, &batch, Some(replay))?;
    }
    Ok(seq)
}

/// Whether the log holds batches the index at `conn` has not applied.
pub(crate) fn behind_log(dir: &Path, conn: &Connection) -> Result<bool> {
    Ok(batch_path(dir, recq::applied_seq(conn)? + 1).exists())
}

/// The index the log of `dir` describes, replayed into memory (for a read-only store whose
/// `index.db` is missing): nothing in the store is written.
pub(crate) fn replay_in_memory(dir: &Path, config: &Config) -> Result<Connection> {
    let mut conn = crate::index::open_in_memory()?;
    let tx = conn.transaction().map_err(crate::index::Error::from)?;
    let mut r = Replay {
        notes: Vec::new(),
        remotes: (!config.remote.is_empty()).then(|| RemotePacks {
            specs: config.remote.clone(),
            listed: None,
        }),
        strict: false,
    };
    replay(dir, &tx, &mut r)?;
    tx.commit().map_err(crate::index::Error::from)?;
    Ok(conn)
}

/// Starts a command's write: takes the index's write lock and applies what the log has and
/// the index lacks, so the command sees (and numbers after) every durable change.
pub(crate) fn begin<'c>(conn: &'c mut Connection, dir: &Path) -> Result<Transaction<'c>> {
    // A read-only store's index refuses writes (`query_only`); a command that forgot to
    // ask [`Store::writable`] still ends with the one line that names the store.
    let query_only: bool = conn
        .pragma_query_value(None, "query_only", |r| r.get(0))
        .map_err(crate::index::Error::from)?;
    if query_only {
        return Err(Error::ReadOnly {
            path: dir.to_owned(),
            reason: "opened read-only".to_owned(),
            need: super::read_only::CHANGES.to_owned(),
        });
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(crate::index::Error::from)?;
    catch_up(dir, &tx)?;
    Ok(tx)
}

/// Applies a command's entries to the index as the next batch, in the caller's transaction
/// (begun with [`begin`]), then makes the batch durable in the log; the caller commits. The
/// batch is written only once it applied cleanly, so a batch in the log always applies. No
/// entries, no batch.
pub(crate) fn append(dir: &Path, tx: &Connection, time: i64, entries: Vec<Entry>) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let seq = recq::applied_seq(tx)? + 1;
    let batch = Batch::new(new_ulid(time), time, entries);
    apply(dir, tx, seq, &batch, None)?;
    let path = batch_path(dir, seq);
    crate::failpoint::hit("record.before-append").map_err(io("write", &path))?;
    if !write_create_only(dir, &path, &batch.encode())? {
        // Writers hold the index's write lock and catch up first, so the number is free.
        return Err(Error::LogConflict(path));
    }
    crate::failpoint::hit("record.after-append").map_err(io("write", &path))?;
    Ok(())
}

/// [`append`] for a command that wrote `packs`: once the batch naming them is in the log they
/// stay, even when a step after its write fails (the next open applies the batch).
pub(crate) fn append_with_packs(
    dir: &Path,
    tx: &Connection,
    time: i64,
    entries: Vec<Entry>,
    packs: crate::store::NewPacks,
) -> Result<()> {
    let before = recq::applied_seq(tx)?;
    let result = append(dir, tx, time, entries);
    if result.is_ok() || batch_path(dir, before + 1).exists() {
        packs.keep();
    }
    result
}

/// What a replay (rather than a command) carries: notes instead of errors for packs that
/// cannot be read, and, in a rebuild, the remotes that hold evicted packs.
#[derive(Default)]
struct Replay {
    notes: Vec<String>,
    remotes: Option<RemotePacks>,
    /// A local pack that cannot be read is an error, as for a command (catching up), not a
    /// note (rebuilding).
    strict: bool,
}

/// The configured remotes, asked for the trailers of packs that are not local (evicted by
/// `gc --max`): connected and listed on first need, once per rebuild.
struct RemotePacks {
    specs: std::collections::BTreeMap<String, crate::remote::RemoteSpec>,
    listed: Option<Vec<Listing>>,
}

/// A connected remote and the pack keys it lists, with their sizes.
type Listing = (
    crate::remote::Remote,
    std::collections::HashMap<String, u64>,
);

impl RemotePacks {
    /// Every reachable remote with the pack keys (and sizes) it lists, connecting and listing
    /// (and noting failures) the first time.
    fn listed(&mut self, notes: &mut Vec<String>) -> &[Listing] {
        self.listed.get_or_insert_with(|| {
            let mut out = Vec::new();
            for (name, spec) in &self.specs {
                let listed = crate::remote::Remote::connect(name, spec).and_then(|r| {
                    let keys = r.list("packs/")?.into_iter().collect();
                    Ok((r, keys))
                });
                match listed {
                    Ok(l) => out.push(l),
                    Err(e) => notes.push(format!("remote `{name}` not read: {e}")),
                }
            }
            out
        })
    }

    /// The remotes that list `key`, with its size there.
    fn holding(
        &mut self,
        key: &str,
        notes: &mut Vec<String>,
    ) -> Vec<(&crate::remote::Remote, u64)> {
        self.listed(notes)
            .iter()
            .filter_map(|(r, keys)| keys.get(key).map(|size| (r, *size)))
            .collect()
    }
}

/// After a rebuild's replay: records which remote holds each indexed pack (what push would
/// find there), so packs a remote holds are evictable again and evicted ones name their
/// remotes.
fn record_remote_packs(conn: &Connection, r: &mut Replay) -> Result<()> {
    let Some(remotes) = r.remotes.as_mut() else {
        return Ok(());
    };
    let packs = bq::all_packs(conn)?;
    for (remote, keys) in remotes.listed(&mut r.notes) {
        for p in &packs {
            if keys.contains_key(&crate::remote::pack_key(&p.hash)) {
                bq::record_remote_pack(conn, remote.name(), &p.hash)?;
            }
        }
    }
    Ok(())
}

/// A pack found on a remote: its trailer, and the chunk lists its chunk-list blobs hold.
fn remote_pack(
    remote: &crate::remote::Remote,
    hash: &Digest,
    size: u64,
) -> Result<(PackOutcome, Vec<(Digest, Digest)>)> {
    let key = crate::remote::pack_key(hash);
    let origin = PathBuf::from(format!("{}:{key}", remote.name()));
    let fetch = |offset: u64, len: usize| {
        remote
            .get_range(&key, offset..offset + len as u64)
            .map_err(|e| crate::store::Error::CorruptPack {
                path: origin.clone(),
                reason: e.to_string(),
            })
    };
    let (entries, checksum) = read_trailer_with(size, &origin, fetch)?;
    if checksum != *hash {
        return Err(crate::index::Error::Corrupt(format!(
            "{} does not match its name",
            origin.display()
        ))
        .into());
    }
    let mut lists = Vec::new();
    for e in entries.iter().filter(|e| e.kind == BlobKind::ChunkList) {
        let stored = remote.get_range(&key, e.offset..e.offset + u64::from(e.stored_len))?;
        let raw = crate::store::decode_blob(e, stored, &origin)?;
        if let Some((digest, _)) = chunk_list_decode(&raw) {
            lists.push((digest, e.hash));
        }
    }
    Ok((
        PackOutcome {
            hash: *hash,
            size,
            entries,
        },
        lists,
    ))
}

/// Applies batch `seq` to the index: the one function behind commands, catching up on open
/// and rebuilds, so they cannot disagree. Pack entries read the packs' trailers; a pack that
/// cannot be read is an error, or, in a replay, skipped and noted.
fn apply(
    dir: &Path,
    conn: &Connection,
    seq: u64,
    batch: &Batch,
    mut replay: Option<&mut Replay>,
) -> Result<()> {
    for e in &batch.entries {
        match e {
            Entry::Packs { packs } => {
                let remotes = replay
                    .as_deref_mut()
                    .map(|r| (&mut r.remotes, &mut r.notes));
                let problems =
                    index_packs(dir, conn, packs, &Forgotten::new(), batch.time, remotes)?;
                match (replay.as_deref_mut(), problems.into_iter().next()) {
                    (_, None) => {}
                    (Some(r), Some(first)) if !r.strict => r.notes.push(first),
                    (_, Some(first)) => {
                        return Err(crate::index::Error::Corrupt(first).into());
                    }
                }
            }
            Entry::PacksRemoved { packs } => {
                for hash in packs {
                    if let Some(id) = bq::pack_id(conn, hash)? {
                        bq::delete_pack(conn, id)?;
                    }
                }
                forget_dependents(conn)?;
            }
            Entry::BlobsForgotten { blobs } => {
                bq::delete_blobs(conn, blobs)?;
                forget_dependents(conn)?;
            }
            other => recq::apply_entry(conn, other, batch.time)?,
        }
    }
    recq::set_applied_seq(conn, seq)?;
    Ok(())
}

/// After blobs were forgotten: chunk lists and stat cache rows must not outlive their content
/// (`log` trusts a stat cache row without looking its digest up).
fn forget_dependents(conn: &Connection) -> Result<()> {
    bq::forget_orphan_chunk_lists(conn)?;
    crate::index::stat_queries::forget_unstored(conn)?;
    Ok(())
}

/// Indexes packs from their trailers (the blobs, and the chunk lists their chunk-list blobs
/// hold), in one insert so blob rows go in hash order; packs already indexed are skipped.
/// A pack that is not local (a later gc deleted it, or `gc --max` evicted it) is known as
/// `evicted` without blobs, or, in a rebuild, read from a remote that holds it. Returns the
/// packs that could not be read.
/// Per pack, the blobs of its trailer the index must not hold (a checkpoint's record).
type Forgotten = std::collections::HashMap<Digest, HashSet<Digest>>;

fn index_packs(
    dir: &Path,
    conn: &Connection,
    hashes: &[Digest],
    forgotten: &Forgotten,
    time: i64,
    mut remotes: Option<(&mut Option<RemotePacks>, &mut Vec<String>)>,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut packs = Vec::new();
    let mut files = Vec::new();
    for hash in hashes {
        if bq::pack_id(conn, hash)?.is_some() {
            continue;
        }
        let path = pack_path(dir, hash);
        if !path.exists() {
            let mut found = None;
            if let Some((Some(r), notes)) = remotes.as_mut() {
                let key = crate::remote::pack_key(hash);
                for (remote, size) in r.holding(&key, notes) {
                    match remote_pack(remote, hash, size) {
                        Ok(p) => {
                            found = Some((remote.name().to_owned(), p));
                            break;
                        }
                        Err(e) => notes.push(format!("pack `{}`: {e}", hash.short(16))),
                    }
                }
            }
            match found {
                Some((remote, (mut pack, lists))) => {
                    if let Some(f) = forgotten.get(hash) {
                        pack.entries.retain(|e| !f.contains(&e.hash));
                    }
                    bq::insert_packs(conn, std::slice::from_ref(&pack), time)?;
                    for (file, list) in lists {
                        bq::insert_chunk_list(conn, &file, &list)?;
                    }
                    bq::record_remote_pack(conn, &remote, hash)?;
                }
                None => bq::insert_absent_pack(conn, hash, time)?,
            }
            if let Some(id) = bq::pack_id(conn, hash)? {
                bq::set_remote_state(conn, id, Some("evicted"))?;
            }
            continue;
        }
        match PackFile::at(&path).and_then(|f| Ok((f.read_trailer()?, f))) {
            Ok(((mut entries, checksum), file)) if checksum == *hash => {
                // Left out before the insert, not deleted after it: the same blob may be in
                // two packs (two commands wrote it at once), and only this pack forgot it.
                if let Some(f) = forgotten.get(hash) {
                    entries.retain(|e| !f.contains(&e.hash));
                }
                packs.push(PackOutcome {
                    hash: *hash,
                    size: file.len(),
                    entries,
                });
                files.push(file);
            }
            Ok(_) => problems.push(format!("pack `{}` does not match its name", hash.short(16))),
            Err(e) => problems.push(format!("pack `{}`: {e}", hash.short(16))),
        }
    }
    bq::insert_packs(conn, &packs, time)?;
    for (pack, file) in packs.iter().zip(&files) {
        for e in pack
            .entries
            .iter()
            .filter(|e| e.kind == BlobKind::ChunkList)
        {
            match file
                .read_blob(e)
                .map(|b| chunk_list_decode(&b).map(|(d, _)| d))
            {
                Ok(Some(digest)) => bq::insert_chunk_list(conn, &digest, &e.hash)?,
                _ => problems.push(format!("chunk list `{}` is unreadable", e.hash.short(16))),
            }
        }
    }
    Ok(problems)
}

/// What the index holds of each pack, for a checkpoint: every pack it knows, with the blobs
/// of the pack's trailer it has forgotten. A pack that is not local is listed with none
/// forgotten (its trailer is on a remote); one whose file cannot be read is left out, as a
/// replay leaves it out (`art fsck` reports it).
fn pack_states(dir: &Path, conn: &Connection) -> Result<Vec<PackState>> {
    let mut out = Vec::new();
    let mut rows = bq::all_packs(conn)?;
    // Row ids are local (a pull or a rebuild may number the same packs differently).
    rows.sort_by_key(|p| p.hash);
    for p in rows {
        let path = pack_path(dir, &p.hash);
        if !path.exists() {
            out.push(PackState {
                hash: p.hash,
                forgotten: Vec::new(),
            });
            continue;
        }
        let Ok((entries, _)) = PackFile::at(&path).and_then(|f| f.read_trailer()) else {
            continue;
        };
        let held: HashSet<Digest> = bq::blobs_in_pack(conn, p.id)?
            .iter()
            .map(|e| e.hash)
            .collect();
        out.push(PackState {
            hash: p.hash,
            forgotten: entries
                .iter()
                .map(|e| e.hash)
                .filter(|h| !held.contains(h))
                .collect(),
        });
    }
    Ok(out)
}

/// Loads a checkpoint into an empty index: its records, then its packs.
fn load_checkpoint(dir: &Path, conn: &Connection, cp: &Checkpoint, r: &mut Replay) -> Result<()> {
    recq::load_checkpoint(conn, cp)?;
    let hashes: Vec<Digest> = cp.packs.iter().map(|p| p.hash).collect();
    let forgotten: Forgotten = cp
        .packs
        .iter()
        .filter(|p| !p.forgotten.is_empty())
        .map(|p| (p.hash, p.forgotten.iter().copied().collect()))
        .collect();
    let problems = index_packs(
        dir,
        conn,
        &hashes,
        &forgotten,
        cp.time,
        Some((&mut r.remotes, &mut r.notes)),
    )?;
    r.notes.extend(problems);
    bq::forget_orphan_chunk_lists(conn)?;
    Ok(())
}

/// The state after batch `seq` as a checkpoint: records from the index, packs from their
/// trailers.
fn checkpoint_of(dir: &Path, conn: &Connection, seq: u64, time: i64) -> Result<Checkpoint> {
    let mut cp = recq::export_checkpoint(conn, seq, time)?;
    cp.packs = pack_states(dir, conn)?;
    Ok(cp)
}

/// The log's batch numbers and checkpoint numbers, each sorted.
fn list_log(dir: &Path) -> Result<(Vec<u64>, Vec<u64>)> {
    let log = dir.join(LOG_DIR);
    let mut batches = Vec::new();
    let mut checkpoints = Vec::new();
    let entries = match std::fs::read_dir(&log) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((batches, checkpoints)),
        Err(e) => {
            return Err(Error::Io {
                action: "read",
                path: log,
                source: e,
            });
        }
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if let Some(n) = name.strip_prefix("checkpoint-") {
            if let Ok(seq) = n.parse() {
                checkpoints.push(seq);
            }
        } else if let Ok(seq) = name.parse() {
            batches.push(seq);
        }
    }
    batches.sort_unstable();
    checkpoints.sort_unstable();
    Ok((batches, checkpoints))
}

/// Replays the log into an empty index: the newest readable checkpoint, then every later
/// batch in order. Returns `(checkpoint seq, last seq)`; the caller commits.
fn replay(dir: &Path, conn: &Connection, r: &mut Replay) -> Result<(u64, u64)> {
    let (batches, checkpoints) = list_log(dir)?;
    let mut start = 0;
    for &seq in checkpoints.iter().rev() {
        let path = checkpoint_path(dir, seq);
        let loaded = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| Checkpoint::decode(&b).map_err(|e| e.to_string()));
        match loaded {
            Ok(cp) => {
                load_checkpoint(dir, conn, &cp, r)?;
                start = seq;
                break;
            }
            Err(e) => r
                .notes
                .push(format!("checkpoint `{}` skipped: {e}", path.display())),
        }
    }
    let mut last = start;
    for &seq in batches.iter().filter(|&&s| s > start) {
        if seq != last + 1 {
            return Err(crate::index::Error::Corrupt(format!(
                "log batch {} is missing (found {seq}); the log cannot be replayed past it",
                last + 1
            ))
            .into());
        }
        let batch = read_batch(dir, seq)?.ok_or_else(|| {
            crate::index::Error::Corrupt(format!("log batch {seq} vanished during replay"))
        })?;
        apply(dir, conn, seq, &batch, Some(r))?;
        last = seq;
    }
    Ok((start, last))
}

/// The recorded state the log holds, replayed in memory (no index file is touched).
fn replayed_state(dir: &Path) -> Result<Checkpoint> {
    let mut conn = crate::index::open_in_memory()?;
    let tx = conn.transaction().map_err(crate::index::Error::from)?;
    let (_, seq) = replay(dir, &tx, &mut Replay::default())?;
    checkpoint_of(dir, &tx, seq, 0)
}

/// Moves `index.db` (with its `-wal` and `-shm`) aside as `index.db.corrupt-<time>`; returns
/// the new name, or none when there was no index.
fn move_aside(dir: &Path) -> Result<Option<PathBuf>> {
    let db = dir.join("index.db");
    if !db.exists() {
        return Ok(None);
    }
    let stamp = crate::model::format_time(now_ms())
        .replace([' ', ':'], "")
        .replace('-', "");
    let mut kept = dir.join(format!("index.db.corrupt-{stamp}"));
    let mut n = 1;
    while kept.exists() {
        kept = dir.join(format!("index.db.corrupt-{stamp}.{n}"));
        n += 1;
    }
    for suffix in ["-wal", "-shm"] {
        let side = dir.join(format!("index.db{suffix}"));
        if side.exists() {
            let to = PathBuf::from(format!("{}{suffix}", kept.display()));
            std::fs::rename(&side, &to).map_err(io("move aside", &side))?;
        }
    }
    std::fs::rename(&db, &kept).map_err(io("move aside", &db))?;
    Ok(Some(kept))
}

/// The directories a log rewrite moves through: the new log while it is written, and the
/// old one between the two renames.
fn rewrite_dirs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (dir.join(LOG_DIR), dir.join("log.new"), dir.join("log.old"))
}

/// Whether a log rewrite was interrupted or its index rebuild is still due: a cheap check
/// every open makes before deciding to take the exclusive lock.
pub(crate) fn rewrite_pending(dir: &Path) -> bool {
    let (log, new, old) = rewrite_dirs(dir);
    new.exists() || old.exists() || log.join(REWRITTEN_MARKER).exists()
}

/// Finishes or undoes a log rewrite a crash interrupted (the exclusive lock held). Renaming
/// `log` to `log.old` is the commit point: before it, `log.new` is an unfinished draft and
/// goes; after it, `log.new` is the log. Returns whether the index must be rebuilt.
pub(crate) fn recover_rewrite(dir: &Path) -> Result<bool> {
    let (log, new, old) = rewrite_dirs(dir);
    if !log.exists() {
        let from = if new.exists() { &new } else { &old };
        if from.exists() {
            std::fs::rename(from, &log).map_err(io("finish log rewrite", from))?;
            sync_dir(dir)?;
        }
    }
    for leftover in [&new, &old] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover).map_err(io("remove", leftover))?;
        }
    }
    Ok(log.join(REWRITTEN_MARKER).exists())
}

/// Replaces every batch after `keep` with `tail` (numbered from `keep + 1`), checkpoints
/// after `keep` dropped, as one atomic step: the new log is built beside the old one (earlier
/// batches hard-linked, never copied through memory), fsynced, and swapped in by two renames
/// whose interruption [`recover_rewrite`] completes. The new log carries a marker until the
/// index has been rebuilt from it. Needs the exclusive lock.
pub(crate) fn rewrite_log_tail(dir: &Path, keep: u64, tail: &[Batch]) -> Result<()> {
    recover_rewrite(dir)?;
    let (log, new, old) = rewrite_dirs(dir);
    std::fs::create_dir(&new).map_err(io("create directory", &new))?;
    let (batches, checkpoints) = list_log(dir)?;
    let kept = batches
        .iter()
        .filter(|&&s| s <= keep)
        .map(|&s| batch_path(dir, s))
        .chain(
            checkpoints
                .iter()
                .filter(|&&s| s <= keep)
                .map(|&s| checkpoint_path(dir, s)),
        );
    for from in kept {
        let to = new.join(from.file_name().expect("a log file name"));
        std::fs::hard_link(&from, &to).map_err(io("link", &to))?;
    }
    let write = |name: String, bytes: &[u8]| -> Result<()> {
        let path = new.join(name);
        let mut f = std::fs::File::create_new(&path).map_err(io("write", &path))?;
        std::io::Write::write_all(&mut f, bytes).map_err(io("write", &path))?;
        f.sync_all().map_err(io("write", &path))
    };
    for (i, batch) in tail.iter().enumerate() {
        write(format!("{:020}.json", keep + 1 + i as u64), &batch.encode())?;
    }
    write(REWRITTEN_MARKER.to_owned(), b"{}")?;
    sync_dir(&new)?;
    crate::failpoint::hit("merge.before-swap").map_err(io("rewrite log", &new))?;
    std::fs::rename(&log, &old).map_err(io("rewrite log", &log))?;
    sync_dir(dir)?;
    crate::failpoint::hit("merge.mid-swap").map_err(io("rewrite log", &new))?;
    std::fs::rename(&new, &log).map_err(io("rewrite log", &new))?;
    sync_dir(dir)?;
    std::fs::remove_dir_all(&old).map_err(io("remove", &old))
}

impl Store {
    /// Rewrites the log after batch `keep` as `tail` and rebuilds the index from it, keeping
    /// the index's local state; the caller holds the exclusive lock. Returns the rebuild's
    /// notes.
    pub(crate) fn rewrite_history(&mut self, keep: u64, tail: &[Batch]) -> Result<Vec<String>> {
        rewrite_log_tail(&self.dir, keep, tail)?;
        crate::failpoint::hit("merge.before-rebuild")
            .map_err(io("rebuild the index of", &self.dir))?;
        // Close this index first: SQLite removes `index.db-wal` by name when its last
        // connection closes, which must not happen after the new index took that name.
        drop(std::mem::replace(
            &mut self.conn,
            crate::index::open_in_memory()?,
        ));
        self.writable()?;
        let lock = self
            .lock
            .as_ref()
            .expect("a writable store holds its lock file")
            .try_clone()
            .map_err(io("lock", self.dir.join("lock")))?;
        let (mut store, outcome) = rebuild_with(
            self.dir.clone(),
            self.config.clone(),
            lock,
            OldIndex::CarryLocalState,
        )?;
        store.interrupt = self.interrupt.clone();
        store.progress = self.progress.clone();
        *self = store;
        Ok(outcome.notes)
    }

    /// The number of the last record-log batch the index reflects: it grows with every
    /// command that changes the store, so a reader (`art ui`) can poll it to see a change.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn log_seq(&self) -> Result<u64> {
        Ok(recq::applied_seq(&self.conn)?)
    }

    /// Applies log batches written since the index last caught up (a command killed between
    /// its log write and its index commit leaves one): on open, and by gc once it holds the
    /// exclusive lock.
    pub(crate) fn catch_up_on_open(&mut self) -> Result<()> {
        let applied = recq::applied_seq(&self.conn)?;
        if !batch_path(&self.dir, applied + 1).exists() {
            return Ok(());
        }
        let tx = begin(&mut self.conn, &self.dir)?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(())
    }

    /// Upgrades a store of format 1 (no record log): every version gets a record and the
    /// current state becomes checkpoint 0, then config.toml says format 2.
    pub(crate) fn upgrade(&mut self) -> Result<()> {
        self.lock_exclusive()?;
        let result = self.upgrade_locked();
        self.lock_shared_again()?;
        result
    }

    fn upgrade_locked(&mut self) -> Result<()> {
        let mut config = Config::load(&self.dir)?;
        if config.store.format >= super::config::STORE_FORMAT {
            self.config = config;
            return Ok(());
        }
        for sub in [LOG_DIR, "tmp"] {
            let d = self.dir.join(sub);
            std::fs::create_dir_all(&d).map_err(io("create directory", &d))?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(crate::index::Error::from)?;
        for (id, created) in recq::versions_without_record(&tx)? {
            recq::record_existing(&tx, id, &new_ulid(created))?;
        }
        let cp = checkpoint_of(&self.dir, &tx, recq::applied_seq(&tx)?, now_ms())?;
        tx.commit().map_err(crate::index::Error::from)?;
        // An upgrade killed before config.toml changed is redone; its checkpoint then holds
        // the same records (their ids were committed above) and is replaced.
        let path = checkpoint_path(&self.dir, cp.seq);
        let mut tmp =
            tempfile::NamedTempFile::new_in(self.dir.join("tmp")).map_err(io("write", &path))?;
        std::io::Write::write_all(&mut tmp, &cp.encode()).map_err(io("write", &path))?;
        tmp.as_file().sync_all().map_err(io("write", &path))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            action: "write",
            path: path.clone(),
            source: e.error,
        })?;
        sync_dir(&self.dir.join(LOG_DIR))?;
        config.store.format = super::config::STORE_FORMAT;
        config.save(&self.dir)?;
        self.config = config;
        Ok(())
    }

    /// Writes a checkpoint of the log's state at its last batch when `changed` (gc removed
    /// something) or [`CHECKPOINT_EVERY`] batches came after the last checkpoint, and none
    /// exists for that batch. The state comes from replaying the log (not from the index), so
    /// a checkpoint never copies an index error into the log. Returns its number when written.
    pub(crate) fn write_checkpoint(&self, changed: bool) -> Result<Option<u64>> {
        let (batches, checkpoints) = list_log(&self.dir)?;
        let last = batches.last().copied().unwrap_or(0);
        let since = checkpoints.last().copied().unwrap_or(0);
        if last <= since || (!changed && last - since < CHECKPOINT_EVERY) {
            return Ok(None);
        }
        let mut cp = replayed_state(&self.dir)?;
        cp.time = now_ms();
        let written =
            write_create_only(&self.dir, &checkpoint_path(&self.dir, cp.seq), &cp.encode())?;
        Ok(written.then_some(cp.seq))
    }

    /// Differences between the index and a replay of the log (the recorded state only: the
    /// blob tables and the stat cache are not in the log). Empty when they agree.
    pub(crate) fn check_against_log(&self) -> Result<Vec<String>> {
        let replayed = replayed_state(&self.dir)?;
        let indexed = checkpoint_of(&self.dir, &self.conn, recq::applied_seq(&self.conn)?, 0)?;
        let mut problems = Vec::new();
        if replayed.seq != indexed.seq {
            problems.push(format!(
                "the index has applied log batch {} of {}",
                indexed.seq, replayed.seq
            ));
        }
        let sections: [(&str, bool); 7] = [
            ("packs", replayed.packs != indexed.packs),
            ("artifacts", replayed.artifacts != indexed.artifacts),
            ("versions", replayed.versions != indexed.versions),
            ("aliases", replayed.aliases != indexed.aliases),
            ("protected aliases", replayed.protected != indexed.protected),
            ("runs", replayed.runs != indexed.runs),
            ("lineage inputs", replayed.inputs != indexed.inputs),
        ];
        for (what, differs) in sections {
            if differs {
                problems.push(format!("the index's {what} differ from the record log"));
            }
        }
        if !problems.is_empty() {
            problems.push("rebuild the index with `art index rebuild`".to_owned());
        }
        Ok(problems)
    }

    /// Recreates `index.db` from the packs and the record log, keeping the old file (if
    /// any) beside it as `index.db.corrupt-<time>`. `path` is a `.artifacts` directory or a
    /// directory holding one.
    ///
    /// # Errors
    /// No store at `path`; an unreadable log; I/O and SQLite errors. A pack that cannot be
    /// read is skipped and named in [`RebuildOutcome::notes`].
    pub fn rebuild_index(path: &Path) -> Result<RebuildOutcome> {
        let dir = super::store_dir_at(path)?;
        let config = Config::load(&dir)?;
        let lock = super::open_lock(&dir)?;
        lock.lock().map_err(io("lock", dir.join("lock")))?;
        let (store, outcome) = rebuild_locked(dir, config, lock)?;
        store.lock_shared_again()?;
        Ok(outcome)
    }
}

/// Rebuilds the index of `dir` while `lock` is held exclusively, keeping a damaged old index
/// aside; returns the opened store.
/// The new index is built in `tmp/` and renamed into place, so a crash leaves either the old
/// file or the finished new one.
pub(crate) fn rebuild_locked(
    dir: PathBuf,
    config: Config,
    lock: std::fs::File,
) -> Result<(Store, RebuildOutcome)> {
    rebuild_with(dir, config, lock, OldIndex::MoveAside)
}

/// What a rebuild does with the index it replaces.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OldIndex {
    /// It may be damaged: keep it beside the new one for inspection.
    MoveAside,
    /// It is sound but stale (the log was rewritten by a merge): carry over what only it
    /// knows (the stat cache, when packs were last read), then delete it.
    CarryLocalState,
}

/// Copies into the rebuilt index at `new` the local state of the old index at `old` that the
/// log does not record: stat cache rows whose content is still stored (so the next `log` and
/// `checkout` need not re-hash the work tree) and each pack's last access (eviction order).
fn carry_local_state(new: &Connection, old: &Path) -> Result<()> {
    let sql = |e: rusqlite::Error| Error::from(crate::index::Error::from(e));
    new.execute("ATTACH DATABASE ?1 AS old", [old.to_string_lossy()])
        .map_err(sql)?;
    let copied = new
        .execute_batch(
            "BEGIN;
             INSERT OR IGNORE INTO stat_cache(path, size, mtime_ns, ctime_ns, ino, digest, cached_at_ns)
                 SELECT path, size, mtime_ns, ctime_ns, ino, digest, cached_at_ns FROM old.stat_cache;
             UPDATE packs SET last_access = (SELECT o.last_access FROM old.packs o WHERE o.hash = packs.hash)
                 WHERE hash IN (SELECT hash FROM old.packs);
             COMMIT;",
        )
        .map_err(sql)
        .and_then(|()| Ok(crate::index::stat_queries::forget_unstored(new)?));
    new.execute("DETACH DATABASE old", []).map_err(sql)?;
    copied.map(drop)
}

pub(crate) fn rebuild_with(
    dir: PathBuf,
    config: Config,
    lock: std::fs::File,
    old_index: OldIndex,
) -> Result<(Store, RebuildOutcome)> {
    if config.store.format < super::config::STORE_FORMAT {
        return Err(Error::NoRecordLog(dir));
    }
    let tmp_dir = dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(io("create directory", &tmp_dir))?;
    let tmp = tmp_dir.join(format!("index-rebuild-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    let mut r = Replay {
        notes: Vec::new(),
        remotes: (!config.remote.is_empty()).then(|| RemotePacks {
            specs: config.remote.clone(),
            listed: None,
        }),
        strict: false,
    };
    let mut conn = crate::index::open(&tmp)?;
    let tx = conn.transaction().map_err(crate::index::Error::from)?;
    let (checkpoint, seq) = replay(&dir, &tx, &mut r)?;
    record_remote_packs(&tx, &mut r)?;
    let notes = r.notes;
    tx.commit().map_err(crate::index::Error::from)?;
    let count = |table: &str| -> Result<u64> {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(crate::index::Error::from)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let mut outcome = RebuildOutcome {
        kept: None,
        checkpoint,
        seq,
        artifacts: count("artifacts")?,
        versions: count("versions")?,
        runs: count("runs")?,
        packs: count("packs")?,
        blobs: count("blobs")?,
        notes,
    };
    let db = dir.join("index.db");
    let carry = old_index == OldIndex::CarryLocalState && db.is_file();
    if carry {
        carry_local_state(&conn, &db)?;
    }
    // Leave WAL mode so the finished file is whole without a `-wal`, then swap it in.
    conn.pragma_update(None, "journal_mode", "DELETE")
        .map_err(crate::index::Error::from)?;
    drop(conn);
    if carry {
        for suffix in ["-wal", "-shm", ""] {
            let f = PathBuf::from(format!("{}{suffix}", db.display()));
            match std::fs::remove_file(&f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("remove stale index", &f)(e));
                }
                _ => {}
            }
        }
    } else {
        outcome.kept = move_aside(&dir)?;
    }
    std::fs::rename(&tmp, &db).map_err(io("install rebuilt index", &db))?;
    sync_dir(&dir)?;
    // The index now follows the log, whatever rewrite asked for the rebuild.
    let marker = dir.join(LOG_DIR).join(REWRITTEN_MARKER);
    if marker.exists() {
        std::fs::remove_file(&marker).map_err(io("remove", &marker))?;
        sync_dir(&dir.join(LOG_DIR))?;
    }
    Ok((Store::with_index(dir, config, lock)?, outcome))
}
