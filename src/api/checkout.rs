//! `art checkout` and `art download`: make a directory hold a version. A plan is built first
//! (writes, deletes, unchanged, conflicts); conflicts refuse the whole checkout unless forced.

use super::Store;
use super::content::{FileSource, Packs};
use super::log::{cache_key, key_bytes, stat_entry};
use crate::error::{Error, Result, io};
use crate::index::StatEntry;
use crate::index::blob_queries as bq;
use crate::index::stat_queries as sq;
use crate::model::{
    Digest, EntryKind, Manifest, ManifestEntry, ManifestPath, Ref, Selection, now_ms,
};
use crate::worktree::{
    Destination, FileStat, Scan, ScannedEntry, ScannedKind, hash_file, prune_empty_dirs,
    remove_entry, scan_dir, stat_of, symlink_stays_inside,
};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Whether files the version lacks are removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckoutMode {
    /// DEST becomes exactly the version (`art checkout`).
    Exact,
    /// The version's files are written, others kept (`art download`).
    Download,
}

/// What to check out and where.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckoutOptions {
    /// The version.
    pub reference: Ref,
    /// Where; defaults to the directory the version was logged from.
    pub dest: Option<PathBuf>,
    /// Overwrite and delete files art has not seen.
    pub force: bool,
    /// Exact or download.
    pub mode: CheckoutMode,
    /// Only these paths (`--only`): entries outside are neither written nor deleted.
    pub only: Option<Selection>,
    /// Leave references alone (`--skip-references`): only stored files are written.
    pub skip_references: bool,
}

impl CheckoutOptions {
    /// Check out `reference` exactly, at its default destination, without force.
    #[must_use]
    pub fn new(reference: Ref) -> Self {
        CheckoutOptions {
            reference,
            dest: None,
            force: false,
            mode: CheckoutMode::Exact,
            only: None,
            skip_references: false,
        }
    }

    /// Sets the destination.
    #[must_use]
    pub fn dest(mut self, dest: PathBuf) -> Self {
        self.dest = Some(dest);
        self
    }
}

/// What a checkout did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckoutOutcome {
    /// `NAME:vN`.
    pub reference: String,
    /// The destination directory.
    pub dest: PathBuf,
    /// Exact or download.
    pub mode: CheckoutMode,
    /// Files and symlinks written.
    pub written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Entries already correct.
    pub unchanged: u64,
    /// Files removed (exact mode).
    pub deleted: u64,
    /// Symlinks not restored because their target leaves DEST.
    pub skipped_symlinks: Vec<String>,
    /// Bytes read from remotes for packs evicted from this store.
    pub fetched_bytes: u64,
    /// References written (their objects read from where they live, verified).
    pub references: u64,
    /// Entries of the version outside `--only` (or references skipped), left alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_selected: Option<u64>,
}

/// Files written (and their blobs resolved) per step: bounds the memory a checkout of a
/// million files holds, and lets each step's stat cache rows commit on their own.
const WRITE_BATCH: usize = 1 << 13;

/// What is in DEST at one path, with its digest when art could establish it.
struct Present<'a> {
    scanned: &'a ScannedEntry,
    /// Its index in the scan (for its path on disk).
    index: usize,
    digest: Digest,
    /// Art last wrote or read exactly this content at this path.
    known: bool,
    /// The file was hashed (the stat cache could not vouch): record it if it stays.
    refresh: bool,
}

/// The entry at `path` in DEST (`present` is sorted by path, as the scan is).
fn find<'p, 'a>(present: &'p [Present<'a>], path: &str) -> Option<&'p Present<'a>> {
    present
        .binary_search_by(|p| p.scanned.rel.as_str().cmp(path))
        .ok()
        .map(|i| &present[i])
}

impl Present<'_> {
    fn matches(&self, e: &ManifestEntry) -> bool {
        let same_kind = matches!(
            (&self.scanned.kind, e.kind),
            (
                ScannedKind::File { .. },
                EntryKind::File | EntryKind::Reference
            ) | (ScannedKind::Symlink { .. }, EntryKind::Symlink)
        );
        let exec = matches!(self.scanned.kind, ScannedKind::File { exec: true });
        same_kind && self.digest == e.digest && (e.kind == EntryKind::Symlink || exec == e.exec)
    }

    /// Art last wrote or read exactly this content here, so replacing it loses nothing.
    fn is_known(&self) -> bool {
        self.known
    }
}

impl Store {
    /// Makes `opts.dest` hold the version: writes what differs, skips what matches, and in
    /// exact mode deletes what the version lacks.
    ///
    /// # Errors
    /// [`Error::Conflicts`] (nothing touched) when files art has not seen would be overwritten
    /// or deleted; [`Error::DestNotDir`]; missing or corrupt content; I/O failures.
    pub fn checkout(&mut self, opts: &CheckoutOptions) -> Result<CheckoutOutcome> {
        let (artifact, version) = self.resolve(&opts.reference)?;
        let reference = format!("{}:v{}", artifact.name, version.idx);
        let dest = match (&opts.dest, &version.source_path) {
            (Some(d), _) => d.clone(),
            (None, Some(src)) => self.root().join(src),
            (None, None) => return Err(Error::NoDefaultDest(reference)),
        };
        if inside_store(&self.dir, &dest) {
            return Err(Error::DestInStore(dest));
        }
        match std::fs::metadata(&dest) {
            Ok(m) if !m.is_dir() => return Err(Error::DestNotDir(dest)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Io {
                    action: "inspect",
                    path: dest,
                    source: e,
                });
            }
        }
        let packs = Packs::new(self)?;
        let mut manifest = self.read_manifest(&packs, &version.digest)?;
        let all = manifest.len();
        let skipped: HashSet<String> = if opts.skip_references {
            manifest
                .entries()
                .iter()
                .filter(|e| e.kind == EntryKind::Reference)
                .map(|e| e.path.to_string())
                .collect()
        } else {
            HashSet::new()
        };
        if opts.only.is_some() || !skipped.is_empty() {
            manifest = manifest.retain(|e| {
                opts.only
                    .as_ref()
                    .is_none_or(|s| s.contains(e.path.as_str()))
                    && !skipped.contains(e.path.as_str())
            });
        }
        let not_selected =
            (opts.only.is_some() || !skipped.is_empty()).then(|| (all - manifest.len()) as u64);
        let dest_exists = dest.exists();
        let dest = if dest_exists {
            dest.canonicalize().map_err(io("resolve", &dest))?
        } else {
            dest
        };
        // Temporary files a killed checkout left are art's own: not conflicts, removed below.
        let scan = if dest_exists {
            scan_dir(&dest, &self.interrupt)?
        } else {
            Scan::default()
        };
        let started = crate::model::now_ns();
        let scope = Scope::new(&manifest, opts.only.as_ref(), &skipped);
        let present = self.inspect_dest(&scan, |rel| scope.concerns(rel))?;
        let mut plan = plan(&manifest, &present, opts.mode, &scope);
        if !plan.conflicts.is_empty() && !opts.force {
            // A file holding content of a live version of this artifact (what an interrupted
            // checkout leaves, say) can be restored from it: replacing it loses nothing.
            let restorable = self.live_digests(&packs, artifact.id)?;
            plan.conflicts.retain(|path| {
                find(&present, path).is_none_or(|cur| !restorable.contains(&cur.digest))
            });
        }
        if !plan.conflicts.is_empty() && !opts.force {
            return Err(Error::Conflicts {
                dest,
                files: plan.conflicts,
            });
        }

        // Referenced objects are checked before DEST is touched: every one that cannot be
        // fetched, changed or vanished is named, and nothing is written.
        super::reference::check_for_fetch(&plan.writes)?;

        // Resolve the first batch's blobs before touching DEST, so missing content of all but
        // the largest checkouts fails before anything changes.
        let mut batches = plan.writes.chunks(WRITE_BATCH);
        let mut batch = batches.next().unwrap_or_default();
        let mut sources = self.sources_of(&packs, batch)?;
        // The stat cache is keyed by canonical paths: a relative or non-canonical DEST created
        // now must be resolved too, or the next checkout would not know what art wrote.
        let dest = if dest_exists {
            dest
        } else {
            std::fs::create_dir_all(&dest).map_err(io("create directory", &dest))?;
            dest.canonicalize().map_err(io("resolve", &dest))?
        };
        // Paths differing only in case are two files here, but one where case is ignored:
        // refused there before anything is written (a hostile manifest must not make art
        // overwrite its own output silently).
        let pairs = manifest.case_collisions();
        if !pairs.is_empty() && crate::worktree::ignores_case(&dest)? {
            if !dest_exists {
                let _ = std::fs::remove_dir(&dest);
            }
            return Err(Error::CaseCollision {
                dest,
                reference,
                pairs,
            });
        }

        let leftovers: Vec<ManifestPath> = scan
            .leftovers
            .iter()
            .filter_map(|p| {
                let rel = p.strip_prefix(&dest).ok()?.to_str()?;
                let rel = ManifestPath::new(rel).ok()?;
                remove_entry(&dest, &rel).ok()?;
                Some(rel)
            })
            .collect();
        for rel in &plan.deletes {
            remove_entry(&dest, rel)?;
        }
        prune_empty_dirs(&dest, plan.deletes.iter().copied().chain(&leftovers));
        // A read-only store keeps no stat cache of DEST: the next checkout hashes its files
        // (content of a live version of this artifact is then no conflict).
        if !self.is_read_only() {
            let tx = self.conn.transaction().map_err(crate::index::Error::from)?;
            for cur in &plan.refresh {
                let entry = stat_entry(cur.scanned.stat, cur.digest, started);
                sq::put(&tx, key_bytes(&scan.abs(cur.index)), &entry)?;
            }
            for rel in &plan.deletes {
                sq::remove(&tx, &cache_key(&dest.join(rel.as_str())))?;
            }
            tx.commit().map_err(crate::index::Error::from)?;
        }

        let total: u64 = plan.writes.iter().map(|e| e.size).sum();
        self.progress.start("writing", total);
        let mut skipped_symlinks = Vec::new();
        let mut bytes_written = 0;
        let mut written = 0;
        let mut references = 0;
        let target = Destination::new(dest.clone());
        while !batch.is_empty() {
            let results = self.write_batch(&target, batch, &sources, &packs)?;
            // Entries are stamped after the writes: a file whose mtime is well before this
            // moment has art's content (the racy-git rule then applies as for `log`), so the
            // next command need not re-read what checkout just wrote.
            let written_at = crate::model::now_ns();
            let mut cached = Vec::new();
            for (e, r) in batch.iter().zip(&results) {
                match r {
                    WriteResult::Skipped => skipped_symlinks.push(e.path.to_string()),
                    WriteResult::Written(path, stat, content) => {
                        written += 1;
                        if e.kind != EntryKind::Symlink {
                            bytes_written += e.size;
                        }
                        references += u64::from(e.kind == EntryKind::Reference);
                        cached.push((path, *stat, *content));
                    }
                }
            }
            if !self.is_read_only() {
                let tx = self.conn.transaction().map_err(crate::index::Error::from)?;
                for (path, stat, content) in cached {
                    let stat = match stat {
                        Some(s) => Some(s),
                        None => std::fs::symlink_metadata(path).ok().map(|m| stat_of(&m)),
                    };
                    if let Some(s) = stat {
                        sq::put(&tx, key_bytes(path), &stat_entry(s, content, written_at))?;
                    }
                }
                let pack_ids: BTreeSet<i64> = sources
                    .values()
                    .flat_map(|s| s.locations().iter().map(|l| l.pack_id))
                    .collect();
                bq::touch_packs(&tx, pack_ids, now_ms())?;
                tx.commit().map_err(crate::index::Error::from)?;
            }
            batch = batches.next().unwrap_or_default();
            sources = self.sources_of(&packs, batch)?;
        }
        self.progress.finish();

        Ok(CheckoutOutcome {
            reference,
            dest,
            mode: opts.mode,
            written,
            bytes_written,
            unchanged: plan.unchanged,
            deleted: plan.deletes.len() as u64,
            skipped_symlinks,
            fetched_bytes: packs.fetched_bytes(),
            references,
            not_selected,
        })
    }

    /// Where the content of a batch's files is, each digest resolved once.
    fn sources_of(
        &self,
        packs: &Packs,
        batch: &[&ManifestEntry],
    ) -> Result<HashMap<Digest, FileSource>> {
        let mut sources = HashMap::new();
        for e in batch {
            if e.kind == EntryKind::File && !sources.contains_key(&e.digest) {
                sources.insert(e.digest, self.file_source(packs, &e.digest)?);
            }
        }
        // Evicted packs this batch mostly needs come back whole; the index learns it at once
        // (a pack file restored is as good as one never evicted).
        let restored = packs.prefetch(sources.values().flat_map(FileSource::locations))?;
        if !restored.is_empty() {
            let tx = self
                .conn
                .unchecked_transaction()
                .map_err(crate::index::Error::from)?;
            for hash in &restored {
                bq::mark_restored(&tx, hash)?;
            }
            tx.commit().map_err(crate::index::Error::from)?;
        }
        Ok(sources)
    }

    /// Writes a batch of entries in parallel, each atomically.
    fn write_batch(
        &self,
        dest: &Destination,
        batch: &[&ManifestEntry],
        sources: &HashMap<Digest, FileSource>,
        packs: &Packs,
    ) -> Result<Vec<WriteResult>> {
        let interrupt = &self.interrupt;
        let progress = self.progress.as_ref();
        batch
            .par_iter()
            .map(|e| -> Result<WriteResult> {
                if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let r = write_entry(dest, e, sources, packs, progress).map_err(|err| {
                    if err.is_interrupted() {
                        err
                    } else {
                        Error::InFile {
                            path: e.path.to_string(),
                            source: Box::new(err),
                        }
                    }
                })?;
                Ok(r)
            })
            .collect()
    }

    /// Digests of every file and symlink in the live versions of an artifact.
    fn live_digests(&self, packs: &Packs, artifact_id: i64) -> Result<crate::model::DigestSet> {
        let mut out = crate::model::DigestSet::default();
        for v in crate::index::version_queries::versions_of(&self.conn, artifact_id)? {
            if v.state != crate::index::VersionState::Deleted {
                out.extend(
                    self.read_manifest(packs, &v.digest)?
                        .entries()
                        .iter()
                        .map(|e| e.digest),
                );
            }
        }
        Ok(out)
    }

    /// Establishes the digest of everything in DEST (stat cache first, hashing otherwise) and
    /// whether art last recorded that content at each path. Sorted like the scan.
    /// Only paths `concerns` accepts are looked at (with `--only`, files outside the selection
    /// are neither hashed nor touched).
    fn inspect_dest<'a>(
        &self,
        scan: &'a Scan,
        concerns: impl Fn(&str) -> bool + Sync,
    ) -> Result<Vec<Present<'a>>> {
        let mut cached: Vec<Option<StatEntry>> = vec![None; scan.entries.len()];
        super::log::join_stat_cache(&self.conn, scan, |i, c| cached[i] = Some(c))?;
        scan.entries
            .par_iter()
            .zip(cached)
            .enumerate()
            .filter(|(_, (s, _))| concerns(s.rel.as_str()))
            .map(|(index, (s, cached))| -> Result<Present<'a>> {
                let (digest, refresh) = match &s.kind {
                    ScannedKind::Symlink { target } => (Digest::of(target.as_bytes()), false),
                    ScannedKind::File { .. } => match cached {
                        Some(c)
                            if c.vouches_for(
                                s.stat.size,
                                s.stat.mtime_ns,
                                s.stat.ctime_ns,
                                s.stat.ino,
                            ) =>
                        {
                            (c.digest, false)
                        }
                        _ => (hash_file(&scan.abs(index))?, true),
                    },
                };
                Ok(Present {
                    scanned: s,
                    index,
                    digest,
                    known: cached.is_some_and(|c| c.digest == digest),
                    refresh,
                })
            })
            .collect()
    }
}

struct Plan<'m, 'a> {
    writes: Vec<&'m ManifestEntry>,
    deletes: Vec<&'m ManifestPath>,
    unchanged: u64,
    conflicts: Vec<String>,
    /// Unchanged files that were hashed: their stat cache rows are renewed.
    refresh: Vec<&'m Present<'a>>,
}

/// Which paths of DEST a checkout may touch: with `--only`, the selected ones and those in the
/// way of a selected entry (a file where it needs a directory, or under a selected file).
struct Scope<'m> {
    only: Option<&'m Selection>,
    /// References `--skip-references` leaves alone.
    skipped: &'m HashSet<String>,
    manifest: &'m Manifest,
    /// Directories the (selected) entries need.
    dirs: BTreeSet<&'m str>,
}

impl<'m> Scope<'m> {
    fn new(
        manifest: &'m Manifest,
        only: Option<&'m Selection>,
        skipped: &'m HashSet<String>,
    ) -> Self {
        let dirs = manifest
            .entries()
            .iter()
            .flat_map(|e| {
                e.path
                    .as_str()
                    .match_indices('/')
                    .map(move |(i, _)| &e.path.as_str()[..i])
            })
            .collect();
        Scope {
            only,
            skipped,
            manifest,
            dirs,
        }
    }

    fn selected(&self, rel: &str) -> bool {
        self.only.is_none_or(|s| s.contains(rel)) && !self.skipped.contains(rel)
    }

    /// A path the version needs as a directory.
    fn blocks(&self, rel: &str) -> bool {
        self.dirs.contains(rel)
    }

    /// A path under one the version needs as a file.
    fn under_file(&self, rel: &str) -> bool {
        rel.match_indices('/')
            .any(|(i, _)| self.manifest.get(&rel[..i]).is_some())
    }

    fn concerns(&self, rel: &str) -> bool {
        (self.only.is_none() && self.skipped.is_empty())
            || self.selected(rel)
            || self.blocks(rel)
            || self.under_file(rel)
    }
}

fn plan<'m, 'a>(
    manifest: &'m Manifest,
    present: &'m [Present<'a>],
    mode: CheckoutMode,
    scope: &Scope<'_>,
) -> Plan<'m, 'a> {
    let mut p = Plan {
        writes: Vec::new(),
        deletes: Vec::new(),
        unchanged: 0,
        conflicts: Vec::new(),
        refresh: Vec::new(),
    };
    for e in manifest.entries() {
        match find(present, e.path.as_str()) {
            Some(cur) if cur.matches(e) => {
                p.unchanged += 1;
                if cur.refresh {
                    p.refresh.push(cur);
                }
            }
            Some(cur) => {
                // The content is art's to replace only when art put it there or read it.
                if !cur.is_known() && cur.digest != e.digest {
                    p.conflicts.push(e.path.to_string());
                }
                p.writes.push(e);
            }
            None => p.writes.push(e),
        }
    }
    // Paths DEST has and the version lacks: removed in exact mode (within the selection), or
    // when they block a write (a file where the version needs a directory, or under a path
    // it needs as a file).
    let extra = present.iter().filter(|cur| {
        let rel = cur.scanned.rel.as_str();
        manifest.get(rel).is_none()
            && ((mode == CheckoutMode::Exact && scope.selected(rel))
                || scope.blocks(rel)
                || scope.under_file(rel))
    });
    for cur in extra {
        if !cur.is_known() {
            p.conflicts.push(cur.scanned.rel.to_string());
        }
        p.deletes.push(&cur.scanned.rel);
    }
    p.conflicts.sort();
    p
}

enum WriteResult {
    /// Written at this path (a file's stat taken as it landed), with the content's digest.
    Written(PathBuf, Option<FileStat>, Digest),
    Skipped,
}

fn write_entry(
    dest: &Destination,
    e: &ManifestEntry,
    sources: &HashMap<Digest, FileSource>,
    packs: &Packs,
    progress: &dyn super::Progress,
) -> Result<WriteResult> {
    match e.kind {
        EntryKind::Symlink => {
            let target = e.target.as_deref().unwrap_or_default();
            if !symlink_stays_inside(&e.path, target) {
                return Ok(WriteResult::Skipped);
            }
            Ok(WriteResult::Written(
                dest.write_symlink(&e.path, target)?,
                None,
                e.digest,
            ))
        }
        EntryKind::Reference => {
            let mut content = e.digest;
            let (path, stat) = dest.write_file(&e.path, false, |f| {
                content = super::reference::copy_reference(e, f, progress)?;
                Ok::<(), Error>(())
            })??;
            // A pinned reference's digest names its identity, not its bytes: the stat cache
            // records the digest of what was actually written.
            Ok(WriteResult::Written(path, Some(stat), content))
        }
        EntryKind::File => {
            let src = sources
                .get(&e.digest)
                .ok_or_else(|| Error::MissingContent(e.digest.to_hex()))?;
            let in_file = |err: Error| match err {
                Error::Io { source, .. } => Error::Io {
                    action: "write",
                    path: dest.root().join(e.path.as_str()),
                    source,
                },
                other => other,
            };
            let (path, stat) = dest.write_file(&e.path, e.exec, |f| match src {
                FileSource::Blob(loc) => {
                    let data = packs.read(loc)?;
                    std::io::Write::write_all(f, &data)
                        .map_err(io("write", dest.root().join(e.path.as_str())))?;
                    progress.advance(data.len() as u64);
                    Ok(())
                }
                FileSource::Chunks(_) => packs
                    .write_chunks_at(src, f, progress)
                    .map(|_| ())
                    .map_err(in_file),
            })??;
            Ok(WriteResult::Written(path, Some(stat), e.digest))
        }
    }
}

/// Whether `dest` is the store directory or inside it (resolving the longest existing prefix,
/// since DEST may not exist yet).
fn inside_store(store_dir: &Path, dest: &Path) -> bool {
    let absolute = if dest.is_absolute() {
        dest.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| dest.to_path_buf(), |c| c.join(dest))
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(parent) = existing.parent() else {
            break;
        };
        rest.push(existing.file_name().map(std::ffi::OsStr::to_owned));
        existing = parent;
    }
    let mut resolved = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.into_iter().rev().flatten() {
        resolved.push(name);
    }
    resolved.starts_with(store_dir)
}
