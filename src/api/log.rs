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
    /// Download and hash web and bucket references too (`--checksum`), so a fetch checks
    /// their bytes and not only their ETag.
    pub hash_remote: bool,
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
            hash_remote: false,
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

pub(crate) struct Ingest<'a> {
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
        // Manifests are cut finer: a patch of a large version then rewrites a few small
        // chunks of its manifest, not a few MiB.
        let mut chunker = if kind == BlobKind::Manifest {
            Chunker::for_manifests(reader)
        } else {
            Chunker::new(reader)
        };
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
    pub(crate) fn manifest<I>(&self, entries: I, format: u32) -> Result<Digest>
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

/// Paths named on the command line, resolved: each absolute path and the name it takes in
/// the version (for a directory, the prefix of its files).
pub(crate) type NamedPaths = Vec<(PathBuf, String)>;

/// The files of a scan, each with its digest (vouched for by the stat cache or read and
/// stored), and which of them get a fresh stat cache row at commit.
pub(crate) struct Scanned {
    scan: Scan,
    digests: Vec<Option<Digest>>,
    recache: Vec<bool>,
    /// Files whose content was read.
    pub(crate) files_read: u64,
    started_ns: i64,
}

impl Scanned {
    /// The manifest entries of the scanned files and symlinks, in path order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = ManifestEntry> + '_ {
        self.scan
            .entries
            .iter()
            .zip(&self.digests)
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
    }

    /// Number of scanned entries.
    pub(crate) fn len(&self) -> usize {
        self.scan.entries.len()
    }

    /// Records the files read whose stat did not change meanwhile in the stat cache.
    fn write_stat_cache(&self, tx: &rusqlite::Connection) -> Result<()> {
        for (i, e) in self
            .scan
            .entries
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.recache[i])
        {
            let digest = self.digests[i].expect("every file is vouched for or read");
            let entry = stat_entry(e.stat, digest, self.started_ns);
            sq::put(tx, key_bytes(&self.scan.abs(i)), &entry)?;
        }
        Ok(())
    }
}

/// What an ingest left for the commit: durable packs, and the packs it reused.
pub(crate) struct Staged {
    packs: crate::store::NewPacks,
    reused: HashSet<i64>,
    /// New blobs written.
    pub(crate) new_blobs: u64,
}

/// What [`Store::ingest`] stored: the scanned files, the manifest, and the packs to commit.
pub(crate) struct Ingested {
    pub(crate) scanned: Scanned,
    pub(crate) digest: Digest,
    pub(crate) files: u64,
    pub(crate) size: u64,
    /// The one logged directory, relative to the store's parent (when recorded).
    pub(crate) source_path: Option<String>,
    pub(crate) staged: Staged,
}

/// A version to commit: everything but its number, which the commit gives.
pub(crate) struct NewVersion {
    pub(crate) name: ArtifactName,
    /// The type asked for; must match the artifact's if it exists.
    pub(crate) kind: Option<ArtifactType>,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    pub(crate) files: u64,
    pub(crate) run: Option<String>,
    pub(crate) source_path: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
    pub(crate) aliases: Vec<AliasName>,
    /// A collaborative version: its distributed id, the parts it commits and the runs that
    /// wrote them.
    pub(crate) distributed_id: Option<String>,
    pub(crate) parts: Vec<String>,
    pub(crate) producers: Vec<String>,
    /// A patch: the version (row id and `NAME:vN`) `latest` must still name at commit.
    pub(crate) based_on: Option<(i64, String)>,
}

/// What committing a [`NewVersion`] did.
pub(crate) struct Committed {
    pub(crate) reference: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) version: u64,
    pub(crate) unchanged: bool,
    pub(crate) aliases: Vec<String>,
    pub(crate) stored_bytes: u64,
}

impl<'s> Ingest<'s> {
    /// A new ingest writing packs into `store`.
    pub(crate) fn new(store: &'s Store) -> Self {
        Ingest {
            readers: ReadPool::new(&store.dir.join("index.db")),
            claimed: Mutex::new(DigestSet::default()),
            packer: Mutex::new(
                Packer::new(&store.dir, store.config.store.pack_size).without_entries(),
            ),
            level: store.config.compression.level,
            new_blobs: AtomicU64::new(0),
            reused: Mutex::new(HashSet::new()),
            interrupt: &store.interrupt,
            progress: store.progress.as_ref(),
        }
    }

    /// Stores a manifest of `entries` (sorted, valid) in the format they need.
    pub(crate) fn store_manifest(&self, manifest: &Manifest) -> Result<Digest> {
        self.manifest(manifest.entries().iter(), manifest.format())
    }

    /// Makes the written packs durable; the commit then records them.
    pub(crate) fn finish(self) -> Result<Staged> {
        let new_blobs = self.new_blobs.load(Ordering::Relaxed);
        let packs = self.packer.into_inner().expect("packer lock").finish()?;
        Ok(Staged {
            packs,
            reused: self.reused.into_inner().expect("reused lock"),
            new_blobs,
        })
    }
}

impl Store {
    /// Records `opts.paths` as the next version of `opts.name`. Identical content to `latest`
    /// creates no version (`unchanged` is set); requested aliases still move to it.
    ///
    /// # Errors
    /// Bad paths, a type mismatch, I/O failure or interruption; the store is then unchanged
    /// (at most an unreferenced pack remains for gc).
    pub fn log(&mut self, opts: LogOptions) -> Result<LogOutcome> {
        let run = self.check_log_target(&opts.name, opts.kind.as_ref(), opts.run.as_deref())?;
        let Ingested {
            scanned,
            digest,
            files,
            size: total_size,
            source_path,
            staged,
        } = self.ingest(&opts)?;
        let new_blobs = staged.new_blobs;
        let done = self.commit_version(
            staged,
            Some(&scanned),
            NewVersion {
                name: opts.name,
                kind: opts.kind,
                digest,
                size: total_size,
                files,
                run,
                source_path,
                description: opts.description,
                metadata: opts.metadata,
                aliases: opts.aliases,
                distributed_id: None,
                parts: Vec::new(),
                producers: Vec::new(),
                based_on: None,
            },
        )?;
        Ok(LogOutcome {
            reference: done.reference,
            name: done.name,
            kind: done.kind,
            version: done.version,
            digest,
            unchanged: done.unchanged,
            files,
            size: total_size,
            files_read: scanned.files_read,
            stored_bytes: done.stored_bytes,
            new_blobs,
            aliases: done.aliases,
        })
    }

    /// Stores what `opts` names (paths and references) and the manifest of them, up to
    /// durable packs; the caller commits.
    pub(crate) fn ingest(&self, opts: &LogOptions) -> Result<Ingested> {
        if opts.paths.is_empty() && opts.references.is_empty() {
            return Err(Error::Worktree(crate::worktree::Error::NotFound(
                PathBuf::new(),
            )));
        }
        // Before any pack is written: a missing or oversized reference changes nothing.
        let references = self.resolve_references(
            &opts.references,
            opts.checksum,
            opts.max_objects,
            opts.hash_remote,
        )?;
        let named = self.named_paths(&opts.paths)?;
        let single_dir = named.len() == 1 && named[0].0.is_dir();
        let source_path =
            (single_dir && opts.record_source).then(|| relative_to_root(self.root(), &named[0].0));
        let ingest = Ingest::new(self);
        let scanned = self.read_paths(&ingest, &named, single_dir)?;
        let files = (scanned.len() + references.len()) as u64;
        let mut size = 0u64;
        let digest = if references.is_empty() {
            ingest.manifest(
                scanned.entries().inspect(|m| size += m.size),
                MANIFEST_FORMAT,
            )?
        } else {
            // References join the scan's entries: collisions are refused by name.
            let manifest = manifest_of(scanned.entries().chain(references).collect())?;
            size = manifest.total_size();
            ingest.store_manifest(&manifest)?
        };
        let staged = ingest.finish()?;
        self.check_interrupt()?;
        Ok(Ingested {
            scanned,
            digest,
            files,
            size,
            source_path,
            staged,
        })
    }

    /// Checks what a log needs before any pack is written: the run (returned, resolved) is
    /// running, and the type asked for matches the artifact's.
    pub(crate) fn check_log_target(
        &self,
        name: &ArtifactName,
        kind: Option<&ArtifactType>,
        run: Option<&str>,
    ) -> Result<Option<String>> {
        self.writable()?;
        let run = match run {
            Some(given) => Some(self.open_run(given, "log to")?),
            None => None,
        };
        // The artifact's type, or the one its pending parts were written with.
        let known = match vq::try_artifact(&self.conn, name.as_str())? {
            Some(a) => Some(a.kind),
            None => crate::index::part_queries::pending_kind(&self.conn, name.as_str())?,
        };
        if let (Some(existing), Some(t)) = (known, kind)
            && existing != t.as_str()
        {
            return Err(Error::TypeMismatch {
                name: name.to_string(),
                existing,
                given: t.to_string(),
            });
        }
        Ok(run)
    }

    /// Resolves paths to log: each canonical path and its name in the version (the name
    /// given, not a symlink target's, as `cp` does). A path inside a store is refused.
    pub(crate) fn named_paths(&self, paths: &[PathBuf]) -> Result<NamedPaths> {
        let mut named = Vec::with_capacity(paths.len());
        for p in paths {
            let canon = self.loggable(p)?;
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
            named.push((canon, name));
        }
        Ok(named)
    }

    /// The canonical form of a path to log; one inside a store is refused.
    pub(crate) fn loggable(&self, p: &Path) -> Result<PathBuf> {
        let canon = p.canonicalize().map_err(crate::worktree::read_error(p))?;
        // Scans skip `.artifacts`; naming one (or a path inside it) must not version a store.
        let in_store = canon.strip_prefix(self.root()).is_ok_and(|rel| {
            rel.components()
                .any(|c| c.as_os_str() == crate::api::STORE_DIR)
        });
        if in_store {
            return Err(Error::Worktree(crate::worktree::Error::Walk {
                path: p.to_owned(),
                message: "it is inside an art store (`.artifacts`), which art never versions"
                    .into(),
            }));
        }
        Ok(canon)
    }

    /// Scans `named` (one directory whose contents become the root when `single_dir`, else
    /// each under its name) and stores the content of every file the stat cache does not
    /// vouch for.
    pub(crate) fn read_paths(
        &self,
        ingest: &Ingest<'_>,
        named: &NamedPaths,
        single_dir: bool,
    ) -> Result<Scanned> {
        let started_ns = crate::model::now_ns();
        let mut scan = if single_dir {
            scan_dir(&named[0].0, &self.interrupt)?
        } else if named.is_empty() {
            Scan::default()
        } else {
            scan_named(named, &self.interrupt)?
        };
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
        Ok(Scanned {
            scan,
            digests,
            recache,
            files_read,
            started_ns,
        })
    }

    /// Commits staged packs and the entries `build` makes in one transaction: the run is
    /// checked again (it may have finished meanwhile), reused packs count as used, files read
    /// get stat cache rows, the batch goes to the log, then `after` reads the outcome.
    pub(crate) fn commit_staged<T, U>(
        &mut self,
        staged: Staged,
        scanned: Option<&Scanned>,
        run: Option<&str>,
        build: impl FnOnce(&rusqlite::Transaction<'_>, i64) -> Result<(Vec<Entry>, T)>,
        after: impl FnOnce(&rusqlite::Transaction<'_>, T) -> Result<U>,
    ) -> Result<(U, u64)> {
        let now = now_ms();
        let tx = super::records::begin(&mut self.conn, &self.dir)?;
        if let Some(id) = run {
            super::run::open_run_in(&tx, id, "log to")?;
        }
        bq::touch_packs(&tx, staged.reused, now)?;
        if let Some(scanned) = scanned {
            scanned.write_stat_cache(&tx)?;
        }
        // What the user recorded goes to the log first; the index applies the same entries,
        // learning the new packs' blobs (and chunk lists) from their durable trailers.
        let mut entries = Vec::new();
        if !staged.packs.packs().is_empty() {
            entries.push(Entry::Packs {
                packs: staged.packs.packs().iter().map(|p| p.hash).collect(),
            });
        }
        let (built, carried) = build(&tx, now)?;
        entries.extend(built);
        // The log names the packs now: they must stay even if the commit fails (the next
        // open applies the batch).
        let stored_bytes = staged.packs.bytes();
        super::records::append_with_packs(&self.dir, &tx, now, entries, staged.packs)?;
        let out = after(&tx, carried)?;
        tx.commit().map_err(crate::index::Error::from)?;
        crate::failpoint::hit("log.after-commit").map_err(crate::error::io("commit", &self.dir))?;
        Ok((out, stored_bytes))
    }

    /// Commits `v` as the next version of its artifact, or, when its content equals
    /// `latest`'s, moves only the requested aliases (and drops the parts it finishes).
    pub(crate) fn commit_version(
        &mut self,
        staged: Staged,
        scanned: Option<&Scanned>,
        v: NewVersion,
    ) -> Result<Committed> {
        let run = v.run.clone();
        let name = v.name.clone();
        let (mut done, stored_bytes) = self.commit_staged(
            staged,
            scanned,
            run.as_deref(),
            |tx, now| version_entries(tx, now, v),
            |tx, (record, idx, unchanged)| {
                let artifact = vq::try_artifact(tx, name.as_str())?.ok_or_else(|| {
                    crate::index::Error::Corrupt(format!("artifact `{name}` vanished"))
                })?;
                let version_id = rq::version_of_record(tx, &record)?.id;
                let aliases = vq::aliases_by_version(tx, artifact.id)?
                    .remove(&version_id)
                    .unwrap_or_default();
                Ok(Committed {
                    reference: format!("{}:v{idx}", artifact.name),
                    name: artifact.name,
                    kind: artifact.kind,
                    version: idx,
                    unchanged,
                    aliases,
                    stored_bytes: 0,
                })
            },
        )?;
        done.stored_bytes = stored_bytes;
        Ok(done)
    }
}

/// A manifest of `entries`; two entries at one path (or a file where another needs a
/// directory) are a clash named for the user.
pub(crate) fn manifest_of(entries: Vec<ManifestEntry>) -> Result<Manifest> {
    Manifest::new(entries).map_err(|e| match e {
        crate::model::Error::CorruptManifest(m) => Error::PathClash(m),
        other => other.into(),
    })
}

/// The entries recording `v` (or, for content equal to `latest`, its alias moves), checked
/// in the transaction against the artifact as it is now. Returns the record id of the
/// version the aliases name, its number, and whether the content was unchanged.
fn version_entries(
    tx: &rusqlite::Transaction<'_>,
    now: i64,
    v: NewVersion,
) -> Result<(Vec<Entry>, (String, u64, bool))> {
    let existing = vq::try_artifact(tx, v.name.as_str())?;
    if let Some(a) = existing.as_ref().filter(|a| a.collection) {
        return Err(Error::CollectionKind(format!(
            "`{}` is a collection: add versions to it with `art link REF {}`",
            a.name, a.name
        )));
    }
    if let (Some(a), Some(t)) = (&existing, &v.kind)
        && a.kind != t.as_str()
    {
        return Err(Error::TypeMismatch {
            name: a.name.clone(),
            existing: a.kind.clone(),
            given: t.to_string(),
        });
    }
    let latest = match &existing {
        Some(a) => match vq::alias_target(tx, a.id, AliasName::LATEST)? {
            Some(id) => vq::version_by_id(tx, id)?,
            None => None,
        },
        None => None,
    };
    if let Some(id) = &v.distributed_id {
        // Another `finish` (or `rm --pending`) may have taken these parts since they were read.
        let pending: HashSet<String> =
            crate::index::part_queries::of_pending(tx, v.name.as_str(), id)?
                .into_iter()
                .map(|p| p.id)
                .collect();
        if v.parts.iter().any(|p| !pending.contains(p)) {
            return Err(Error::PartsTaken {
                name: v.name.to_string(),
                id: id.clone(),
            });
        }
    }
    if let Some((base, label)) = &v.based_on
        && latest.as_ref().map(|l| l.id) != Some(*base)
    {
        return Err(Error::PatchBehind {
            reference: label.clone(),
            latest: latest.map_or_else(|| "none".to_owned(), |l| format!("{}:v{}", v.name, l.idx)),
        });
    }
    let mut entries = Vec::new();
    let latest_id = latest.as_ref().map(|l| l.id);
    let (record, idx, unchanged) = match latest {
        Some(l) if l.digest == v.digest => {
            if let Some(id) = &v.distributed_id {
                // Nothing new to commit, but the parts are done with.
                entries.push(Entry::PartsDropped {
                    artifact: v.name.to_string(),
                    distributed_id: id.clone(),
                    parts: v.parts.clone(),
                });
            }
            (rq::record_of_version(tx, l.id)?, l.idx, true)
        }
        _ => {
            let idx = match &existing {
                Some(a) => vq::next_index(tx, a.id)?,
                None => 0,
            };
            let kind = match (&existing, &v.kind) {
                (Some(a), _) => a.kind.clone(),
                (None, Some(t)) => t.to_string(),
                (None, None) => DEFAULT_TYPE.to_owned(),
            };
            let record = VersionRecord {
                id: super::records::new_ulid(now),
                artifact: v.name.to_string(),
                kind,
                number: idx,
                digest: v.digest,
                created: now,
                run: v.run.clone(),
                source_path: v.source_path,
                description: v.description,
                metadata: v.metadata,
                size: v.size,
                files: v.files,
                link_of: None,
                parts: v.parts,
                producers: v.producers,
            };
            let id = record.id.clone();
            entries.push(Entry::Version(record));
            (id, idx, false)
        }
    };
    if let Some(a) = &existing {
        let target = unchanged.then_some(latest_id).flatten().or(Some(-1));
        for alias in &v.aliases {
            super::registry::check_alias_change(tx, a, alias.as_str(), target, false)?;
        }
    }
    for alias in &v.aliases {
        entries.push(Entry::AliasSet {
            version: record.clone(),
            alias: alias.to_string(),
        });
    }
    Ok((entries, (record, idx, unchanged)))
}

/// A logged directory is recorded relative to the store's parent when inside it.
pub(crate) fn relative_to_root(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => dir.to_string_lossy().into_owned(),
    }
}
