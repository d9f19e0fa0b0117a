//! `art log`: version a directory or files. Packs are made durable first, then one SQLite
//! transaction records blobs, manifest, version and alias moves (restic's write order).

use super::Store;
use crate::error::{Error, Result, io};
use crate::index::blob_queries as bq;
use crate::index::stat_queries as sq;
use crate::index::version_queries as vq;
use crate::index::{StatEntry, VersionRow, VersionState};
use crate::model::{
    AliasName, ArtifactName, ArtifactType, Digest, DigestMap, DigestSet, Manifest, ManifestEntry,
    now_ms,
};
use crate::store::{
    BlobKind, CHUNK_THRESHOLD, Chunker, Codec, Packer, chunk_list_encode, compress,
};
use crate::worktree::{ScannedEntry, ScannedKind, scan_dir, scan_named, stat_of};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The type given to an artifact logged without `-t`.
pub const DEFAULT_TYPE: &str = "artifact";

/// What to log.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogOptions {
    /// The artifact to add a version to (created on first log).
    pub name: ArtifactName,
    /// One directory (its contents become the root) or several files and directories.
    pub paths: Vec<PathBuf>,
    /// The type; must match the artifact's if it exists.
    pub kind: Option<ArtifactType>,
    /// Aliases to point at the new version.
    pub aliases: Vec<AliasName>,
    /// Free-text description.
    pub description: Option<String>,
    /// Metadata, a JSON object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The run that produces this version.
    pub run: Option<String>,
}

impl LogOptions {
    /// Log `paths` as a new version of `name`.
    #[must_use]
    pub fn new(name: ArtifactName, paths: Vec<PathBuf>) -> Self {
        LogOptions {
            name,
            paths,
            kind: None,
            aliases: Vec::new(),
            description: None,
            metadata: serde_json::Map::new(),
            run: None,
        }
    }
}

/// What `log` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LogOutcome {
    /// `NAME:vN` of the new (or unchanged latest) version.
    pub reference: String,
    /// The artifact.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The version number.
    pub version: u64,
    /// The version digest.
    pub digest: Digest,
    /// True when the content equals `latest` and no version was created.
    pub unchanged: bool,
    /// Number of entries.
    pub files: u64,
    /// Sum of file sizes.
    pub size: u64,
    /// Files whose content was read (the others were vouched for by the stat cache).
    pub files_read: u64,
    /// Bytes added to the store (pack files).
    pub stored_bytes: u64,
    /// New blobs written.
    pub new_blobs: u64,
    /// Aliases now on the version.
    pub aliases: Vec<String>,
}

struct Ingested {
    digest: Digest,
    size: u64,
    cache: Option<StatEntry>,
    chunk_list: Option<Digest>,
}

struct Ingest<'a> {
    /// Blobs already in the store, with their pack.
    stored: DigestMap<i64>,
    /// Blobs this log has claimed (written or being written).
    claimed: Mutex<DigestSet>,
    chunked: DigestSet,
    packer: Mutex<Packer>,
    level: i32,
    new_blobs: AtomicU64,
    /// Blobs already stored that this version reuses: their packs count as recently used.
    reused: Mutex<HashSet<i64>>,
    interrupt: &'a std::sync::atomic::AtomicBool,
    progress: &'a dyn super::Progress,
}

impl Ingest<'_> {
    /// Stores `raw` unless the store (or this log) already has it.
    fn put(&self, hash: Digest, kind: BlobKind, raw: &[u8]) -> Result<()> {
        if let Some(pack) = self.stored.get(&hash) {
            self.reused.lock().expect("reused lock").insert(*pack);
            return Ok(());
        }
        if !self.claimed.lock().expect("claimed lock").insert(hash) {
            return Ok(());
        }
        let raw_len = u32::try_from(raw.len()).expect("blobs are at most 4 MiB");
        let compressed = compress(raw, self.level);
        let (codec, stored) = match &compressed {
            Some(z) => (Codec::Zstd, z.as_slice()),
            None => (Codec::Raw, raw),
        };
        self.packer
            .lock()
            .expect("packer lock")
            .add(hash, kind, codec, raw_len, stored)?;
        self.new_blobs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn has_content(&self, digest: &Digest) -> bool {
        self.chunked.contains(digest) || self.stored.contains_key(digest)
    }

    /// Hashes a file and stores its new blobs; small files are one blob, large ones chunked.
    fn file(&self, path: &Path, started_ns: i64) -> Result<Ingested> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let mut file = std::fs::File::open(path).map_err(io("read", path))?;
        let before = file.metadata().map_err(io("stat", path))?;
        let (digest, size, chunk_list) = if before.len() <= CHUNK_THRESHOLD {
            let mut data = Vec::with_capacity(usize::try_from(before.len()).unwrap_or(0));
            std::io::Read::read_to_end(&mut file, &mut data).map_err(io("read", path))?;
            if data.len() as u64 <= CHUNK_THRESHOLD {
                let digest = Digest::of(&data);
                self.put(digest, BlobKind::Data, &data)?;
                (digest, data.len() as u64, None)
            } else {
                self.chunked_file(&data[..], path)?
            }
        } else {
            self.chunked_file(file, path)?
        };
        self.progress.advance(size);
        // A file modified while it was read is versioned as read, but not cached.
        let after = std::fs::symlink_metadata(path).map_err(io("stat", path))?;
        let stat = stat_of(&before);
        let cache = (stat == stat_of(&after)).then_some(StatEntry {
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            ino: stat.ino,
            digest,
            cached_at_ns: started_ns,
        });
        Ok(Ingested {
            digest,
            size,
            cache,
            chunk_list,
        })
    }

    /// Chunks a large file a window at a time: cut points are found in order, then the
    /// window's chunks are hashed and compressed in parallel, so one big file uses every core.
    fn chunked_file(
        &self,
        reader: impl std::io::Read,
        path: &Path,
    ) -> Result<(Digest, u64, Option<Digest>)> {
        let mut file_hasher = blake3::Hasher::new();
        let mut chunks = Vec::new();
        let mut size = 0u64;
        let mut chunker = Chunker::new(reader);
        while let Some((window, cuts)) = chunker.next_window().map_err(io("read", path))? {
            if self.interrupt.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            file_hasher.update_rayon(window);
            size += window.len() as u64;
            let hashed: Vec<(Digest, u32)> = cuts
                .par_iter()
                .map(|&(offset, len)| {
                    let data = &window[offset..offset + len];
                    let hash = Digest::of(data);
                    self.put(hash, BlobKind::Data, data)?;
                    Ok((hash, u32::try_from(len).expect("chunks are at most 4 MiB")))
                })
                .collect::<Result<_>>()?;
            chunks.extend(hashed);
        }
        let digest = Digest::from(file_hasher.finalize());
        let list = chunk_list_encode(&digest, &chunks);
        let list_hash = Digest::of(&list);
        self.put(list_hash, BlobKind::ChunkList, &list)?;
        Ok((digest, size, Some(list_hash)))
    }
}

pub(crate) fn cache_key(path: &Path) -> Vec<u8> {
    key_bytes(path).to_vec()
}

/// The stat cache key of a path, borrowed: lookups need no allocation.
pub(crate) fn key_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

impl Store {
    /// Records `opts.paths` as the next version of `opts.name`. Identical content to `latest`
    /// creates no version (`unchanged` is set); requested aliases still move to it.
    ///
    /// # Errors
    /// Bad paths, a type mismatch, I/O failure or interruption; the store is then unchanged
    /// (at most an unreferenced pack remains for gc).
    pub fn log(&mut self, opts: LogOptions) -> Result<LogOutcome> {
        let started_ns = crate::model::now_ns();
        // The run must exist and be running; checked before any pack is written.
        let run = match &opts.run {
            Some(given) => Some(self.open_run(given, "log to")?),
            None => None,
        };
        if let (Some(a), Some(t)) = (
            vq::try_artifact(&self.conn, opts.name.as_str())?,
            &opts.kind,
        ) && a.kind != t.as_str()
        {
            return Err(Error::TypeMismatch {
                name: a.name,
                existing: a.kind,
                given: t.to_string(),
            });
        }
        if opts.paths.is_empty() {
            return Err(Error::Worktree(crate::worktree::Error::NotFound(
                PathBuf::new(),
            )));
        }
        let mut paths = Vec::with_capacity(opts.paths.len());
        let mut names = Vec::with_capacity(opts.paths.len());
        for p in &opts.paths {
            let canon = p.canonicalize().map_err(crate::worktree::read_error(p))?;
            // Scans skip `.artifacts`; naming one (or a path inside it) must not version a store.
            let in_store = canon.strip_prefix(self.root()).is_ok_and(|rel| {
                rel.components()
                    .any(|c| c.as_os_str() == crate::api::STORE_DIR)
            });
            if in_store {
                return Err(Error::Worktree(crate::worktree::Error::Walk {
                    path: p.clone(),
                    message: "it is inside an art store (`.artifacts`), which art never versions"
                        .into(),
                }));
            }
            // A path is stored under the name given, not its symlink target's (as `cp` does);
            // `.` and `..` have no name of their own and take the resolved directory's.
            let name = p.file_name().or_else(|| canon.file_name()).ok_or_else(|| {
                crate::worktree::Error::Walk {
                    path: p.clone(),
                    message: "has no file name".into(),
                }
            })?;
            let name = name
                .to_str()
                .ok_or_else(|| crate::worktree::Error::NotUtf8(p.clone()))?
                .to_owned();
            names.push((canon.clone(), name));
            paths.push(canon);
        }
        let single_dir = paths.len() == 1 && paths[0].is_dir();
        let entries = if single_dir {
            scan_dir(&paths[0], &self.interrupt)?
        } else {
            scan_named(&names, &self.interrupt)?
        };
        let source_path = single_dir.then(|| relative_to_root(self.root(), &paths[0]));

        let mut cache = HashMap::new();
        for p in &paths {
            let mut prefix = cache_key(p);
            if p.is_dir() {
                prefix.push(b'/');
            }
            cache.extend(sq::load_prefix(&self.conn, &prefix)?);
        }
        let ingest = Ingest {
            stored: bq::blob_packs(&self.conn)?,
            claimed: Mutex::new(DigestSet::default()),
            chunked: bq::all_chunk_lists(&self.conn)?
                .into_iter()
                .map(|(file, _)| file)
                .collect(),
            packer: Mutex::new(Packer::new(&self.dir, self.config.store.pack_size)),
            level: self.config.compression.level,
            new_blobs: AtomicU64::new(0),
            reused: Mutex::new(HashSet::new()),
            interrupt: &self.interrupt,
            progress: self.progress.as_ref(),
        };

        // Decide per entry: vouched for by the stat cache (and its content present), or read.
        let mut to_read = Vec::new();
        let mut results: Vec<Option<Ingested>> = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let ScannedKind::File { .. } = e.kind else {
                results.push(None);
                continue;
            };
            let vouched = cache.get(key_bytes(&e.abs)).filter(|c| {
                c.vouches_for(e.stat.size, e.stat.mtime_ns, e.stat.ctime_ns, e.stat.ino)
                    && ingest.has_content(&c.digest)
            });
            if let Some(c) = vouched {
                if let Some(pack) = ingest.stored.get(&c.digest) {
                    ingest.reused.lock().expect("reused lock").insert(*pack);
                }
                results.push(Some(Ingested {
                    digest: c.digest,
                    size: c.size,
                    cache: None,
                    chunk_list: None,
                }));
            } else {
                results.push(None);
                to_read.push(i);
            }
        }
        let read_bytes: u64 = to_read.iter().map(|&i| entries[i].stat.size).sum();
        self.progress.start("hashing", read_bytes);
        let read: Vec<(usize, Ingested)> = to_read
            .par_iter()
            .map(|&i| ingest.file(&entries[i].abs, started_ns).map(|r| (i, r)))
            .collect::<Result<_>>()?;
        self.progress.finish();
        let files_read = read.len() as u64;
        for (i, r) in read {
            results[i] = Some(r);
        }

        let (manifest, stat_updates, chunk_lists) = build_manifest(&entries, results, started_ns)?;
        let digest = manifest.digest();
        ingest.put(digest, BlobKind::Manifest, &manifest.to_canonical_bytes())?;
        let new_blobs = ingest.new_blobs.load(Ordering::Relaxed);
        let packs = ingest.packer.into_inner().expect("packer lock").finish()?;
        self.check_interrupt()?;

        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(crate::index::Error::from)?;
        if let Some(id) = &run {
            // It may have been finished meanwhile.
            super::run::open_run_in(&tx, id, "log to")?;
        }
        for pack in &packs {
            bq::insert_pack(&tx, pack, now)?;
        }
        for (file, list) in &chunk_lists {
            bq::insert_chunk_list(&tx, file, list)?;
        }
        let reused = ingest.reused.into_inner().expect("reused lock");
        bq::touch_packs(&tx, reused, now)?;
        for (path, entry) in &stat_updates {
            sq::put(&tx, path, entry)?;
        }
        let artifact = if let Some(a) = vq::try_artifact(&tx, opts.name.as_str())? {
            if let Some(t) = &opts.kind
                && a.kind != t.as_str()
            {
                return Err(Error::TypeMismatch {
                    name: a.name,
                    existing: a.kind,
                    given: t.to_string(),
                });
            }
            a
        } else {
            let kind = opts
                .kind
                .clone()
                .unwrap_or_else(|| DEFAULT_TYPE.parse().expect("valid default type"));
            let id = vq::insert_artifact(&tx, &opts.name, &kind, now)?;
            vq::try_artifact(&tx, opts.name.as_str())?.ok_or(crate::index::Error::Corrupt(
                format!("artifact {id} vanished"),
            ))?
        };
        let latest = match vq::alias_target(&tx, artifact.id, AliasName::LATEST)? {
            Some(id) => vq::version_by_id(&tx, id)?,
            None => None,
        };
        let (version_id, idx, unchanged) = match latest {
            Some(v) if v.digest == digest => (v.id, v.idx, true),
            _ => {
                let idx = vq::next_index(&tx, artifact.id)?;
                let row = VersionRow {
                    id: 0,
                    artifact_id: artifact.id,
                    idx,
                    digest,
                    state: VersionState::Committed,
                    description: opts.description.clone(),
                    metadata: opts.metadata.clone(),
                    source_path,
                    size: manifest.total_size(),
                    file_count: manifest.len() as u64,
                    created_at: now,
                    updated_at: now,
                    logged_by_run: run.clone(),
                };
                let id = vq::insert_version(&tx, &row)?;
                vq::set_alias(&tx, artifact.id, &AliasName::latest(), id)?;
                (id, idx, false)
            }
        };
        for alias in &opts.aliases {
            vq::set_alias(&tx, artifact.id, alias, version_id)?;
        }
        let aliases = vq::aliases_by_version(&tx, artifact.id)?
            .remove(&version_id)
            .unwrap_or_default();
        tx.commit().map_err(crate::index::Error::from)?;

        Ok(LogOutcome {
            reference: format!("{}:v{idx}", artifact.name),
            name: artifact.name,
            kind: artifact.kind,
            version: idx,
            digest,
            unchanged,
            files: manifest.len() as u64,
            size: manifest.total_size(),
            files_read,
            stored_bytes: packs.iter().map(|p| p.size).sum(),
            new_blobs,
            aliases,
        })
    }
}

type StatUpdates = Vec<(Vec<u8>, StatEntry)>;

fn build_manifest(
    entries: &[ScannedEntry],
    results: Vec<Option<Ingested>>,
    started_ns: i64,
) -> Result<(Manifest, StatUpdates, Vec<(Digest, Digest)>)> {
    let mut manifest_entries = Vec::with_capacity(entries.len());
    let mut stat_updates = Vec::new();
    let mut chunk_lists = Vec::new();
    for (e, r) in entries.iter().zip(results) {
        match (&e.kind, r) {
            (ScannedKind::File { exec }, Some(r)) => {
                if let Some(c) = r.cache {
                    stat_updates.push((cache_key(&e.abs), c));
                }
                if let Some(list) = r.chunk_list {
                    chunk_lists.push((r.digest, list));
                }
                manifest_entries.push(ManifestEntry::file(e.rel.clone(), r.size, r.digest, *exec));
            }
            (ScannedKind::Symlink { target }, _) => {
                let entry = ManifestEntry::symlink(e.rel.clone(), target.clone());
                stat_updates.push((
                    cache_key(&e.abs),
                    StatEntry {
                        size: e.stat.size,
                        mtime_ns: e.stat.mtime_ns,
                        ctime_ns: e.stat.ctime_ns,
                        ino: e.stat.ino,
                        digest: entry.digest,
                        cached_at_ns: started_ns,
                    },
                ));
                manifest_entries.push(entry);
            }
            (ScannedKind::File { .. }, None) => unreachable!("every file is vouched for or read"),
        }
    }
    Ok((Manifest::new(manifest_entries)?, stat_updates, chunk_lists))
}

/// A logged directory is recorded relative to the store's parent when inside it.
pub(crate) fn relative_to_root(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => dir.to_string_lossy().into_owned(),
    }
}
