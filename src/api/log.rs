//! `art log`: version a directory or files. Packs are made durable first, then one SQLite
//! transaction records blobs, manifest, version and alias moves (restic's write order).

use super::Store;
use crate::error::{Error, Result, io};
use crate::index::blob_queries as bq;
use crate::index::record_queries as rq;
use crate::index::stat_queries as sq;
use crate::index::version_queries as vq;
use crate::index::{ReadPool, StatEntry};
use crate::model::{
    AliasName, ArtifactName, ArtifactType, CanonicalReader, Digest, DigestSet, Entry,
    MANIFEST_FORMAT, Manifest, ManifestEntry, VersionRecord, now_ms,
};
use crate::store::{
    BlobKind, CHUNK_THRESHOLD, Chunker, Codec, Packer, chunk_list_encode, compress,
};
use crate::worktree::{FileStat, Scan, ScannedEntry, ScannedKind, scan_dir, scan_named, stat_of};
use rayon::prelude::*;
use std::collections::HashSet;
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
    /// Record the logged directory as the version's source path (the default checkout
    /// destination). Off for staging directories that vanish after the log (the Python
    /// binding's), so a checkout never recreates them.
    pub record_source: bool,
    /// `--ref URI[=NAME]` arguments: objects recorded where they are, not copied.
    pub references: Vec<String>,
    /// Hash referenced objects (off: pin them by size and mtime).
    pub checksum: bool,
    /// The most objects one reference may expand to.
    pub max_objects: u64,
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
            record_source: true,
            references: Vec::new(),
            checksum: true,
            max_objects: super::reference::DEFAULT_MAX_OBJECTS,
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

/// What reading a file found.
struct ReadOutcome {
    digest: Digest,
    size: u64,
    /// The stat did not change while the file was read, so the stat cache may vouch for it.
    cacheable: bool,
}

struct Ingest<'a> {
    /// Looks blobs up in the index from worker threads.
    readers: ReadPool,
    /// Blobs this log has claimed (written or being written).
    claimed: Mutex<DigestSet>,
    packer: Mutex<Packer>,
    level: i32,
    new_blobs: AtomicU64,
    /// Packs holding blobs this version reuses: they count as recently used.
    reused: Mutex<HashSet<i64>>,
    interrupt: &'a std::sync::atomic::AtomicBool,
    progress: &'a dyn super::Progress,
}

impl Ingest<'_> {
    /// Stores `raw` unless the store (or this log) already has it.
    fn put(&self, hash: Digest, kind: BlobKind, raw: &[u8]) -> Result<()> {
        if self.claimed.lock().expect("claimed lock").contains(&hash) {
            return Ok(());
        }
        if let Some(pack) = self.readers.with(|c| bq::pack_of(c, &hash))? {
            self.reused.lock().expect("reused lock").insert(pack);
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

    /// Hashes a file and stores its new blobs; small files are one blob, large ones chunked.
    fn file(&self, path: &Path, scanned: FileStat) -> Result<ReadOutcome> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let mut file = std::fs::File::open(path).map_err(io("read", path))?;
        let before = file.metadata().map_err(io("stat", path))?;
        let (digest, size) = if before.len() <= CHUNK_THRESHOLD {
            let mut data = Vec::with_capacity(usize::try_from(before.len()).unwrap_or(0));
            std::io::Read::read_to_end(&mut file, &mut data).map_err(io("read", path))?;
            if data.len() as u64 <= CHUNK_THRESHOLD {
                let digest = Digest::of(&data);
                self.put(digest, BlobKind::Data, &data)?;
                self.progress.advance(data.len() as u64);
                (digest, data.len() as u64)
            } else {
                self.chunked(&data[..], path, BlobKind::Data)?
            }
        } else {
            self.chunked(file, path, BlobKind::Data)?
        };
        // A file modified while it was read is versioned as read, but not cached.
        let after = std::fs::symlink_metadata(path).map_err(io("stat", path))?;
        let cacheable = stat_of(&before) == scanned && stat_of(&after) == scanned;
        Ok(ReadOutcome {
            digest,
            size,
            cacheable,
        })
    }

    /// Chunks a large file (or a large manifest) a window at a time: cut points are found in
    /// order, then the window's chunks are hashed and compressed in parallel, so one big file
    /// uses every core. Returns the digest of the whole and its length.
    fn chunked(
        &self,
        reader: impl std::io::Read,
        path: &Path,
        kind: BlobKind,
    ) -> Result<(Digest, u64)> {
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
                    self.put(hash, kind, data)?;
                    // Per chunk, so a bar over one 20 GB checkpoint moves (manifests are
                    // not part of the bytes to hash).
                    if kind == BlobKind::Data {
                        self.progress.advance(len as u64);
                    }
                    Ok((hash, u32::try_from(len).expect("chunks are at most 4 MiB")))
                })
                .collect::<Result<_>>()?;
            chunks.extend(hashed);
        }
        let digest = Digest::from(file_hasher.finalize());
        let list = chunk_list_encode(&digest, &chunks);
        let list_hash = Digest::of(&list);
        self.put(list_hash, BlobKind::ChunkList, &list)?;
        Ok((digest, size))
    }

    /// Stores a manifest: one blob when small, else chunked like a large file (its digest
    /// maps to a chunk list), so its bytes are never whole in memory and a version that
    /// changes a few files of a large tree shares most manifest chunks with the last one.
    fn manifest<I>(&self, entries: I, format: u32) -> Result<Digest>
    where
        I: Iterator,
        I::Item: std::borrow::Borrow<ManifestEntry>,
    {
        let mut reader = CanonicalReader::with_format(entries, format);
        let limit = usize::try_from(CHUNK_THRESHOLD).expect("1 MiB fits in usize");
        let mut head = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(&mut reader, CHUNK_THRESHOLD + 1),
            &mut head,
        )
        .map_err(io("encode", Path::new("manifest")))?;
        if head.len() <= limit {
            let digest = Digest::of(&head);
            self.put(digest, BlobKind::Manifest, &head)?;
            return Ok(digest);
        }
        let whole = std::io::Read::chain(&head[..], reader);
        Ok(self
            .chunked(whole, Path::new("manifest"), BlobKind::Manifest)?
            .0)
    }
}

pub(crate) fn cache_key(path: &Path) -> Vec<u8> {
    key_bytes(path).to_vec()
}

/// The stat cache key of a path, borrowed: lookups need no allocation.
pub(crate) fn key_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// The stat cache row saying that a file with `stat` held `digest` at `cached_at_ns`.
pub(crate) fn stat_entry(stat: FileStat, digest: Digest, cached_at_ns: i64) -> StatEntry {
    StatEntry {
        size: stat.size,
        mtime_ns: stat.mtime_ns,
        ctime_ns: stat.ctime_ns,
        ino: stat.ino,
        digest,
        cached_at_ns,
    }
}

/// Calls `f(i, cached)` for every scanned entry that has a stat cache row. Each group's rows
/// stream in path order beside its sorted entries (a merge join), so a tree of a million
/// files costs no map of its paths.
pub(crate) fn join_stat_cache(
    conn: &rusqlite::Connection,
    scan: &Scan,
    mut f: impl FnMut(usize, StatEntry),
) -> Result<()> {
    for g in &scan.groups {
        if g.range.is_empty() {
            continue;
        }
        if !g.is_dir {
            if let Some(cached) = sq::get(conn, key_bytes(&g.disk))? {
                f(g.range.start, cached);
            }
            continue;
        }
        let mut prefix = cache_key(&g.disk);
        if prefix.last() != Some(&b'/') {
            prefix.push(b'/');
        }
        let mut i = g.range.start;
        sq::for_each_under(conn, &prefix, |below, cached| {
            while i < g.range.end && g.below(&scan.entries[i]).as_bytes() < below {
                i += 1;
            }
            if i < g.range.end && g.below(&scan.entries[i]).as_bytes() == below {
                f(i, cached);
            }
        })?;
    }
    Ok(())
}

impl Store {
    /// Records `opts.paths` as the next version of `opts.name`. Identical content to `latest`
    /// creates no version (`unchanged` is set); requested aliases still move to it.
    ///
    /// # Errors
    /// Bad paths, a type mismatch, I/O failure or interruption; the store is then unchanged
    /// (at most an unreferenced pack remains for gc).
    pub fn log(&mut self, opts: LogOptions) -> Result<LogOutcome> {
        self.writable()?;
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
        if opts.paths.is_empty() && opts.references.is_empty() {
            return Err(Error::Worktree(crate::worktree::Error::NotFound(
                PathBuf::new(),
            )));
        }
        // Before any pack is written: a missing or oversized reference changes nothing.
        let references =
            self.resolve_references(&opts.references, opts.checksum, opts.max_objects)?;
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
        let mut scan = if single_dir {
            scan_dir(&paths[0], &self.interrupt)?
        } else if paths.is_empty() {
            Scan::default()
        } else {
            scan_named(&names, &self.interrupt)?
        };
        let source_path =
            (single_dir && opts.record_source).then(|| relative_to_root(self.root(), &paths[0]));

        // Each file's digest: vouched for by the stat cache, else read below. A row vouches
        // only for stored content (gc drops the others), so no blob lookup is needed here.
        let mut digests: Vec<Option<Digest>> = vec![None; scan.entries.len()];
        join_stat_cache(&self.conn, &scan, |i, cached| {
            let e = &scan.entries[i];
            if matches!(e.kind, ScannedKind::File { .. })
                && cached.vouches_for(e.stat.size, e.stat.mtime_ns, e.stat.ctime_ns, e.stat.ino)
            {
                digests[i] = Some(cached.digest);
            }
        })?;
        // Files read now get a stat cache row (unless they changed while being read).
        let mut recache = vec![false; scan.entries.len()];
        let ingest = Ingest {
            readers: ReadPool::new(&self.dir.join("index.db")),
            claimed: Mutex::new(DigestSet::default()),
            packer: Mutex::new(
                Packer::new(&self.dir, self.config.store.pack_size).without_entries(),
            ),
            level: self.config.compression.level,
            new_blobs: AtomicU64::new(0),
            reused: Mutex::new(HashSet::new()),
            interrupt: &self.interrupt,
            progress: self.progress.as_ref(),
        };
        let to_read = |e: &ScannedEntry, d: &Option<Digest>| {
            d.is_none() && matches!(e.kind, ScannedKind::File { .. })
        };
        let (files_read, read_bytes) = scan
            .entries
            .iter()
            .zip(&digests)
            .filter(|(e, d)| to_read(e, d))
            .fold((0u64, 0u64), |(n, bytes), (e, _)| {
                (n + 1, bytes + e.stat.size)
            });
        self.progress.start("hashing", read_bytes);
        let resized = Mutex::new(Vec::new());
        let scan_ref = &scan;
        scan.entries
            .par_iter()
            .zip(digests.par_iter_mut())
            .zip(recache.par_iter_mut())
            .enumerate()
            .filter(|(_, ((e, d), _))| to_read(e, d))
            .try_for_each(|(i, ((e, d), fresh))| -> Result<()> {
                let read = ingest.file(&scan_ref.abs(i), e.stat)?;
                *d = Some(read.digest);
                *fresh = read.cacheable;
                if read.size != e.stat.size {
                    resized.lock().expect("resized lock").push((i, read.size));
                }
                Ok(())
            })?;
        self.progress.finish();
        // A file that changed while it was read is versioned as read (and not cached).
        for (i, size) in resized.into_inner().expect("resized lock") {
            scan.entries[i].stat.size = size;
        }

        let manifest_entries = || {
            scan.entries
                .iter()
                .zip(&digests)
                .map(|(e, d)| match &e.kind {
                    ScannedKind::File { exec } => ManifestEntry::file(
                        e.rel.clone(),
                        e.stat.size,
                        d.expect("every file is vouched for or read"),
                        *exec,
                    ),
                    ScannedKind::Symlink { target } => {
                        ManifestEntry::symlink(e.rel.clone(), target.to_string())
                    }
                })
        };
        let files = (scan.entries.len() + references.len()) as u64;
        let mut total_size = 0u64;
        let digest = if references.is_empty() {
            ingest.manifest(
                manifest_entries().inspect(|m| total_size += m.size),
                MANIFEST_FORMAT,
            )?
        } else {
            // References join the scan's entries: collisions are refused by name.
            let all = manifest_entries().chain(references).collect();
            let manifest = Manifest::new(all).map_err(|e| match e {
                crate::model::Error::CorruptManifest(m) => Error::PathClash(m),
                other => other.into(),
            })?;
            total_size = manifest.total_size();
            ingest.manifest(manifest.entries().iter(), manifest.format())?
        };
        let new_blobs = ingest.new_blobs.load(Ordering::Relaxed);
        let packs = ingest.packer.into_inner().expect("packer lock").finish()?;
        // Their read snapshots would hold back the checkpoint after the commit; the set of
        // written blobs (70 MiB at a million files) is not needed to index them.
        drop(ingest.readers);
        drop(ingest.claimed);
        self.check_interrupt()?;

        let now = now_ms();
        let tx = super::records::begin(&mut self.conn, &self.dir)?;
        if let Some(id) = &run {
            // It may have been finished meanwhile.
            super::run::open_run_in(&tx, id, "log to")?;
        }
        let reused = ingest.reused.into_inner().expect("reused lock");
        bq::touch_packs(&tx, reused, now)?;
        for (i, e) in scan.entries.iter().enumerate().filter(|&(i, _)| recache[i]) {
            let digest = digests[i].expect("every file is vouched for or read");
            let entry = stat_entry(e.stat, digest, started_ns);
            sq::put(&tx, key_bytes(&scan.abs(i)), &entry)?;
        }
        let existing = vq::try_artifact(&tx, opts.name.as_str())?;
        if let Some(a) = existing.as_ref().filter(|a| a.collection) {
            return Err(Error::CollectionKind(format!(
                "`{}` is a collection: add versions to it with `art link REF {}`",
                a.name, a.name
            )));
        }
        if let (Some(a), Some(t)) = (&existing, &opts.kind)
            && a.kind != t.as_str()
        {
            return Err(Error::TypeMismatch {
                name: a.name.clone(),
                existing: a.kind.clone(),
                given: t.to_string(),
            });
        }
        let latest = match &existing {
            Some(a) => match vq::alias_target(&tx, a.id, AliasName::LATEST)? {
                Some(id) => vq::version_by_id(&tx, id)?,
                None => None,
            },
            None => None,
        };
        // What the user recorded goes to the log first; the index applies the same entries,
        // learning the new packs' blobs (and chunk lists) from their durable trailers.
        let mut entries = Vec::new();
        if !packs.packs().is_empty() {
            entries.push(Entry::Packs {
                packs: packs.packs().iter().map(|p| p.hash).collect(),
            });
        }
        let latest_id = latest.as_ref().map(|v| v.id);
        let (record, idx, unchanged) = match latest {
            Some(v) if v.digest == digest => (rq::record_of_version(&tx, v.id)?, v.idx, true),
            _ => {
                let idx = match &existing {
                    Some(a) => vq::next_index(&tx, a.id)?,
                    None => 0,
                };
                let kind = match (&existing, &opts.kind) {
                    (Some(a), _) => a.kind.clone(),
                    (None, Some(t)) => t.to_string(),
                    (None, None) => DEFAULT_TYPE.to_owned(),
                };
                let record = VersionRecord {
                    id: super::records::new_ulid(now),
                    artifact: opts.name.to_string(),
                    kind,
                    number: idx,
                    digest,
                    created: now,
                    run: run.clone(),
                    source_path,
                    description: opts.description.clone(),
                    metadata: opts.metadata.clone(),
                    size: total_size,
                    files,
                    link_of: None,
                };
                let id = record.id.clone();
                entries.push(Entry::Version(record));
                (id, idx, false)
            }
        };
        if let Some(a) = &existing {
            let target = unchanged.then_some(latest_id).flatten().or(Some(-1));
            for alias in &opts.aliases {
                super::registry::check_alias_change(&tx, a, alias.as_str(), target, false)?;
            }
        }
        for alias in &opts.aliases {
            entries.push(Entry::AliasSet {
                version: record.clone(),
                alias: alias.to_string(),
            });
        }
        // The log names the packs now: they must stay even if the commit fails (the next
        // open applies the batch).
        let stored_bytes = packs.bytes();
        super::records::append_with_packs(&self.dir, &tx, now, entries, packs)?;
        let artifact = vq::try_artifact(&tx, opts.name.as_str())?.ok_or_else(|| {
            crate::index::Error::Corrupt(format!("artifact `{}` vanished", opts.name))
        })?;
        let version_id = rq::version_of_record(&tx, &record)?.id;
        let aliases = vq::aliases_by_version(&tx, artifact.id)?
            .remove(&version_id)
            .unwrap_or_default();
        tx.commit().map_err(crate::index::Error::from)?;
        crate::failpoint::hit("log.after-commit").map_err(crate::error::io("commit", &self.dir))?;

        Ok(LogOutcome {
            reference: format!("{}:v{idx}", artifact.name),
            name: artifact.name,
            kind: artifact.kind,
            version: idx,
            digest,
            unchanged,
            files,
            size: total_size,
            files_read,
            stored_bytes,
            new_blobs,
            aliases,
        })
    }
}

/// A logged directory is recorded relative to the store's parent when inside it.
pub(crate) fn relative_to_root(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => dir.to_string_lossy().into_owned(),
    }
}
