//! Lifecycle: `art rm`, `art prune`, `art gc [--max]`, `art du`.
//!
//! gc holds the store's exclusive lock from marking to sweeping, so no command can commit a
//! version that references a blob gc is removing; every other command holds a shared lock.
//! Write order follows restic's prune: new packs durable, then one index transaction that
//! forgets the old packs and records the new ones, then the old files are deleted.

use super::Store;
use super::content::Packs;
use crate::error::{Error, Result, io};
use crate::gc::{PackFate, PackUsage, Rules, pack_fates, pinned_bytes, size_after};
use crate::index::blob_queries as bq;
use crate::index::record_queries as rq;
use crate::index::version_queries as vq;
use crate::index::{VersionRow, VersionState};
use crate::model::{AliasName, ArtifactName, Digest, Entry, EntryKind, Ref, Span, now_ms};
use crate::store::{PackFile, Packer, pack_path};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// How to collect garbage.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct GcOptions {
    /// Only build and return the plan.
    pub dry_run: bool,
    /// Override the configured grace period.
    pub grace: Option<Span>,
    /// Cap the store at this many bytes (evicting packs a remote holds).
    pub max: Option<u64>,
    /// Leave versions whose TTL passed (by default gc deletes them first).
    pub keep_expired: bool,
}

/// What gc did (or, with `dry_run`, would do).
#[derive(Clone, Debug, serde::Serialize)]
pub struct GcOutcome {
    /// Nothing was changed.
    pub dry_run: bool,
    /// The grace period applied.
    pub grace: String,
    /// Packs removed because nothing live is in them.
    pub deleted_packs: u64,
    /// Packs rewritten with only their live blobs.
    pub repacked_packs: u64,
    /// Packs removed locally because a remote holds them.
    pub evicted_packs: u64,
    /// Unreferenced pack files and temporary files removed.
    pub debris_removed: u64,
    /// Bytes of that debris.
    pub debris_bytes: u64,
    /// Bytes returned to the file system: packs deleted, rewritten or evicted, and debris.
    pub freed: u64,
    /// Bytes of packs before.
    pub size_before: u64,
    /// Bytes of packs after.
    pub size_after: u64,
    /// Live bytes no remote holds, which a cap cannot evict.
    pub pinned: u64,
    /// The cap asked for.
    pub max: Option<u64>,
    /// Whether the store fits under the cap (true without a cap).
    pub cap_met: bool,
    /// Every pack with its usage and fate.
    pub packs: Vec<PackPlan>,
    /// Versions deleted (with `dry_run`: to delete) because their TTL passed, as `NAME:vN`.
    pub expired: Vec<String>,
}

/// One pack in a gc plan.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PackPlan {
    /// Usage figures.
    #[serde(flatten)]
    pub usage: PackUsage,
    /// What gc does with it.
    pub fate: PackFate,
}

/// Result of `rm` and `prune`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RemoveOutcome {
    /// `NAME:vN` of every version deleted (or, in a dry run, that would be).
    pub deleted: Vec<String>,
    /// Aliases removed with them.
    pub aliases_removed: Vec<String>,
    /// Where `latest` now points, per artifact whose `latest` moved (`None`: no version left).
    pub latest: BTreeMap<String, Option<String>>,
    /// Nothing was changed.
    pub dry_run: bool,
}

/// Rules for `prune`; a version is deleted when it has no alias and matches every rule given.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PruneOptions {
    /// Keep the N newest versions of each artifact.
    pub keep_last: Option<u64>,
    /// Only versions created longer ago than this.
    pub older_than: Option<Span>,
    /// Every version without an alias (the other rules narrow it).
    pub unaliased: bool,
    /// Only report.
    pub dry_run: bool,
}

/// One line of `art du`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DiskUsage {
    /// Artifact name.
    pub name: String,
    /// Live versions.
    pub versions: u64,
    /// Sum of the live versions' file sizes.
    pub logical: u64,
    /// Stored (compressed) bytes its versions reference.
    pub stored: u64,
    /// Stored bytes only this artifact references: what deleting it would free.
    pub unique: u64,
    /// Stored bytes it shares with other artifacts.
    pub shared: u64,
    /// Bytes its live versions reference where they live (not in the store), once per object.
    pub referenced: u64,
}

/// Totals of `art du`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DuOutcome {
    /// Per artifact.
    pub artifacts: Vec<DiskUsage>,
    /// Bytes of packs on disk.
    pub store_size: u64,
    /// Stored bytes no live version references (what `art gc` frees).
    pub garbage: u64,
    /// Live bytes a remote holds (evictable by `art gc --max`).
    pub evictable: u64,
    /// Live bytes no remote holds.
    pub pinned: u64,
    /// Live bytes evicted from this store: only remotes hold them (checkout reads them there).
    pub remote_only: u64,
    /// What each configured remote holds of this store's packs.
    pub remotes: Vec<RemoteUsage>,
}

/// One remote in `art du`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RemoteUsage {
    /// The remote.
    pub name: String,
    /// Packs of this store it holds (as of the last push, pull or checkout that saw it).
    pub packs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bytes of those packs evicted here: the copies this store reads from it.
    pub evicted: u64,
}

/// Blobs each version needs, with chunk lists read once.
pub(super) struct Reach<'a> {
    store: &'a Store,
    packs: Packs,
    chunk_lists: HashMap<Digest, Digest>,
    expanded: HashMap<Digest, Vec<Digest>>,
}

impl<'a> Reach<'a> {
    pub(super) fn new(store: &'a Store) -> Result<Self> {
        Ok(Reach {
            store,
            packs: Packs::new(store)?,
            chunk_lists: bq::all_chunk_lists(&store.conn)?.into_iter().collect(),
            expanded: HashMap::new(),
        })
    }

    /// Adds every blob `v` needs to `out`: its manifest, file blobs, chunk lists and chunks.
    pub(super) fn add_version(&mut self, v: &VersionRow, out: &mut HashSet<Digest>) -> Result<()> {
        self.add_version_with_references(v, out, |_| {})
    }

    /// [`Reach::add_version`], handing each reference entry (which needs no blob) to
    /// `reference`.
    pub(super) fn add_version_with_references(
        &mut self,
        v: &VersionRow,
        out: &mut HashSet<Digest>,
        mut reference: impl FnMut(&crate::model::ManifestEntry),
    ) -> Result<()> {
        self.add_manifest(&v.digest, out, &mut reference)
    }

    /// Adds the blobs a manifest and its files need (a version's, or a pending part's).
    pub(super) fn add_manifest(
        &mut self,
        digest: &Digest,
        out: &mut HashSet<Digest>,
        mut reference: impl FnMut(&crate::model::ManifestEntry),
    ) -> Result<()> {
        // A large manifest is stored like a large file: chunk list and chunks.
        self.add_content(digest, out)?;
        let manifest = self.store.read_manifest(&self.packs, digest)?;
        manifest
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::Reference)
            .for_each(&mut reference);
        for e in manifest
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::File)
        {
            self.add_content(&e.digest, out)?;
        }
        Ok(())
    }

    /// Adds the blobs holding the content named `digest`: one blob, or a chunk list and its
    /// chunks.
    fn add_content(&mut self, digest: &Digest, out: &mut HashSet<Digest>) -> Result<()> {
        let Some(list) = self.chunk_lists.get(digest).copied() else {
            out.insert(*digest);
            return Ok(());
        };
        out.insert(list);
        if !self.expanded.contains_key(&list) {
            let bytes = self.packs.read(&self.store.locate(&list)?)?;
            let chunks = crate::store::chunk_list_decode(&bytes)
                .map(|(_, chunks)| chunks.into_iter().map(|(h, _)| h).collect())
                .ok_or_else(|| Error::MissingContent(format!("{list} (malformed chunk list)")))?;
            self.expanded.insert(list, chunks);
        }
        out.extend(self.expanded[&list].iter().copied());
        Ok(())
    }
}

impl Store {
    /// Bytes of packs present locally: the cache that `gc --max` bounds.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn store_size(&self) -> Result<u64> {
        let packs: u64 = bq::all_packs(&self.conn)?
            .iter()
            .filter(|p| p.remote_state.as_deref() != Some("evicted"))
            .map(|p| p.size)
            .sum();
        Ok(packs)
    }

    /// Collects garbage: removes blobs no live version needs (deleting or rewriting packs),
    /// sweeps debris, and with a cap evicts least-recently-used packs a remote holds.
    ///
    /// # Errors
    /// A live version whose content is missing (gc stops: run `art fsck`), I/O and SQLite
    /// errors. Interrupted or failed runs leave the store as it was or fully collected.
    pub fn gc(&mut self, opts: &GcOptions) -> Result<GcOutcome> {
        if !opts.dry_run {
            self.writable()?;
        }
        let grace = match opts.grace {
            Some(g) => g,
            None => self.config.gc.grace_span()?,
        };
        // A read-only store has no writer to wait for: its dry run only reads.
        let exclusive = !self.is_read_only();
        if exclusive {
            self.lock_exclusive()?;
        }
        // A command killed after its log write while this one waited for the lock left a
        // batch the index lacks: the plan must see the versions (and packs) it adds, or their
        // blobs would look dead.
        let result = self.catch_up_on_open().and_then(|()| {
            // Expired versions are deleted first, like `art rm`: their content goes once the
            // grace period has passed.
            let expired = if opts.keep_expired {
                Vec::new()
            } else {
                self.expired_versions()?
            };
            let expired = self.delete_versions(expired, opts.dry_run)?.deleted;
            let mut outcome = self.gc_locked(opts, grace)?;
            outcome.expired = expired;
            Ok(outcome)
        });
        if exclusive {
            self.lock_shared_again()?;
        }
        result
    }

    fn gc_locked(&mut self, opts: &GcOptions, grace: Span) -> Result<GcOutcome> {
        let now = now_ms();
        let mut reach = Reach::new(self)?;
        let mut live = HashSet::new();
        for v in vq::versions_to_keep(&self.conn, now - grace.0)? {
            reach.add_version(&v, &mut live)?;
        }
        // Pending collaborative versions are kept whole until finished or dropped.
        for digest in crate::index::part_queries::manifests(&self.conn)? {
            reach.add_manifest(&digest, &mut live, |_| {})?;
        }
        drop(reach);

        let rows = bq::all_packs(&self.conn)?;
        let mut usage: HashMap<i64, (u64, u64)> = HashMap::new();
        let mut dead_blobs: HashMap<i64, Vec<Digest>> = HashMap::new();
        for (hash, pack_id, len) in bq::all_blob_sizes(&self.conn)? {
            let u = usage.entry(pack_id).or_default();
            if live.contains(&hash) {
                u.0 += len;
            } else {
                u.1 += len;
                dead_blobs.entry(pack_id).or_default().push(hash);
            }
        }
        let local: Vec<_> = rows
            .iter()
            .filter(|p| p.remote_state.as_deref() != Some("evicted"))
            .collect();
        let packs: Vec<PackUsage> = local
            .iter()
            .map(|p| {
                let (live_bytes, dead_bytes) = usage.get(&p.id).copied().unwrap_or_default();
                PackUsage {
                    id: p.id,
                    hash: p.hash,
                    size: p.size,
                    created_at: p.created_at,
                    last_access: p.last_access,
                    on_remote: p.remote_state.as_deref() == Some("synced"),
                    live_bytes,
                    dead_bytes,
                }
            })
            .collect();
        let rules = Rules {
            now_ms: now,
            grace_ms: grace.0,
            repack_below: self.config.gc.repack_threshold,
            max_bytes: opts.max,
        };
        let fates = pack_fates(&packs, &rules);
        let debris = self.debris(&rows, now - grace.0);
        let size_before: u64 = packs.iter().map(|p| p.size).sum::<u64>();
        let size_after = size_after(&packs, &fates);
        let pinned = pinned_bytes(&packs, &fates);
        let count = |f: PackFate| fates.iter().filter(|x| **x == f).count() as u64;
        let debris_bytes = debris.iter().map(|p| bytes_under(p)).sum::<u64>();
        let mut outcome = GcOutcome {
            dry_run: opts.dry_run,
            grace: grace.to_string(),
            deleted_packs: count(PackFate::Delete),
            repacked_packs: count(PackFate::Repack),
            evicted_packs: count(PackFate::Evict),
            debris_removed: debris.len() as u64,
            debris_bytes,
            freed: size_before.saturating_sub(size_after) + debris_bytes,
            size_before,
            size_after,
            pinned,
            max: opts.max,
            cap_met: opts.max.is_none_or(|m| size_after <= m),
            packs: packs
                .iter()
                .zip(&fates)
                .map(|(u, f)| PackPlan {
                    usage: u.clone(),
                    fate: *f,
                })
                .collect(),
            expired: Vec::new(),
        };
        if opts.dry_run {
            return Ok(outcome);
        }

        // 1. Rewrite the live blobs of mostly-dead packs into new, durable packs.
        let mut packer = Packer::new(&self.dir, self.config.store.pack_size);
        for (p, _) in packs
            .iter()
            .zip(&fates)
            .filter(|(_, f)| **f == PackFate::Repack)
        {
            self.check_interrupt()?;
            let file = PackFile::at(&pack_path(&self.dir, &p.hash))?;
            for entry in bq::blobs_in_pack(&self.conn, p.id)?
                .iter()
                .filter(|e| live.contains(&e.hash))
            {
                let raw = file.read_blob(entry)?;
                packer.add_raw(entry.hash, entry.kind, &raw, self.config.compression.level)?;
            }
            crate::failpoint::hit("gc.repack").map_err(crate::error::io("repack", file.path()))?;
        }
        let new_packs = packer.finish()?;

        // 2. One transaction: forget old packs and dead blobs, record the new packs.
        let tx = super::records::begin(&mut self.conn, &self.dir)?;
        let mut removed = Vec::new();
        let mut forgotten = Vec::new();
        for (p, fate) in packs.iter().zip(&fates) {
            match fate {
                PackFate::Delete | PackFate::Repack => removed.push(p.hash),
                // Eviction is the remote layer's bookkeeping: a local cache state, not logged.
                PackFate::Evict => bq::set_remote_state(&tx, p.id, Some("evicted"))?,
                PackFate::Keep => {}
            }
            if matches!(fate, PackFate::Keep | PackFate::Evict)
                && let Some(dead) = dead_blobs.get(&p.id)
            {
                forgotten.extend(dead.iter().copied());
            }
        }
        // Deleted versions past the grace period have their content collected now: later gcs
        // must not read their manifests, and a rebuild must know it too.
        let collected = rq::versions_to_collect(&tx, now - grace.0)?;
        let changed = !removed.is_empty()
            || !new_packs.packs().is_empty()
            || !forgotten.is_empty()
            || !collected.is_empty();
        let mut entries = Vec::new();
        if !removed.is_empty() {
            entries.push(Entry::PacksRemoved { packs: removed });
        }
        if !new_packs.packs().is_empty() {
            entries.push(Entry::Packs {
                packs: new_packs.packs().iter().map(|p| p.hash).collect(),
            });
        }
        if !forgotten.is_empty() {
            forgotten.sort_unstable();
            entries.push(Entry::BlobsForgotten { blobs: forgotten });
        }
        for id in collected {
            entries.push(Entry::Collected {
                version: rq::record_of_version(&tx, id)?,
            });
        }
        // Applying them forgets the packs and blobs, the chunk lists of dead content and the
        // stat cache rows vouching for it (`log` trusts those without a lookup).
        // The log names the new packs now: they stay even if the commit fails.
        super::records::append_with_packs(&self.dir, &tx, now, entries, new_packs)?;
        tx.commit().map_err(crate::index::Error::from)?;
        crate::failpoint::hit("gc.after-commit").map_err(crate::error::io("commit", &self.dir))?;

        // 3. Only now remove files; a crash here leaves unreferenced packs for the next gc.
        for (p, fate) in packs.iter().zip(&fates) {
            if *fate != PackFate::Keep {
                remove_file(&pack_path(&self.dir, &p.hash))?;
            }
        }
        // Debris is listed again against the new index: a pack this gc just wrote may have
        // the name of an unreferenced one an earlier, killed gc left.
        let debris = self.debris(&bq::all_packs(&self.conn)?, now - grace.0);
        outcome.debris_removed = debris.len() as u64;
        outcome.debris_bytes = 0;
        for path in debris {
            outcome.debris_bytes += bytes_under(&path);
            remove_file(&path)?;
        }
        outcome.freed = size_before.saturating_sub(size_after) + outcome.debris_bytes;
        // Replay of the log starts from the newest checkpoint, so it stays bounded by what
        // changed since the last gc.
        crate::failpoint::hit("gc.before-checkpoint")
            .map_err(crate::error::io("write a checkpoint in", &self.dir))?;
        self.write_checkpoint(changed)?;
        Ok(outcome)
    }

    /// Unreferenced pack files and temporary files older than `older_than` (epoch ms).
    fn debris(&self, rows: &[crate::index::PackRow], older_than: i64) -> Vec<PathBuf> {
        let known: HashSet<Digest> = rows.iter().map(|r| r.hash).collect();
        let old_enough = |path: &Path| {
            std::fs::symlink_metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .is_some_and(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX) <= older_than)
        };
        let mut out: Vec<PathBuf> = super::verify::pack_files_on_disk(&self.dir)
            .into_iter()
            .filter(|(h, p)| !known.contains(h) && old_enough(p))
            .map(|(_, p)| p)
            .collect();
        if let Ok(entries) = std::fs::read_dir(self.dir.join("tmp")) {
            out.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| old_enough(p)),
            );
        }
        out.sort();
        out
    }

    /// Marks versions deleted. Refused (nothing changed) while one has aliases other than
    /// `latest`, unless `delete_aliases`; `latest` moves to the newest remaining version.
    ///
    /// # Errors
    /// Unknown references; [`Error::HasAliases`].
    pub fn remove(&mut self, refs: &[Ref], delete_aliases: bool) -> Result<RemoveOutcome> {
        self.writable()?;
        let mut targets = Vec::new();
        for r in refs {
            let (a, v) = self.resolve(r)?;
            let aliases = vq::aliases_by_version(&self.conn, a.id)?
                .remove(&v.id)
                .unwrap_or_default();
            let user: Vec<String> = aliases
                .into_iter()
                .filter(|al| al != AliasName::LATEST)
                .collect();
            super::registry::check_deletable(&self.conn, &a, &v)?;
            if !user.is_empty() && !delete_aliases {
                return Err(Error::HasAliases {
                    version: format!("{}:v{}", a.name, v.idx),
                    aliases: user,
                });
            }
            targets.push((a, v));
        }
        self.delete_versions(targets, false)
    }

    /// Deletes, by rule, the versions of `names` that have no alias.
    ///
    /// # Errors
    /// Unknown artifacts; no rule given.
    pub fn prune(&mut self, names: &[ArtifactName], opts: &PruneOptions) -> Result<RemoveOutcome> {
        if !opts.unaliased && opts.keep_last.is_none() && opts.older_than.is_none() {
            return Err(Error::InvalidConfig(
                "prune needs a rule: --unaliased, --keep-last N or --older-than AGE".into(),
            ));
        }
        let now = now_ms();
        let mut targets = Vec::new();
        for name in names {
            let a = self.artifact(name.as_str())?;
            let aliased: HashSet<i64> = vq::aliases_by_version(&self.conn, a.id)?
                .into_keys()
                .collect();
            let live: Vec<VersionRow> = vq::versions_of(&self.conn, a.id)?
                .into_iter()
                .filter(|v| v.state != VersionState::Deleted)
                .collect();
            let keep_from = opts.keep_last.map_or(live.len(), |k| {
                live.len()
                    .saturating_sub(usize::try_from(k).unwrap_or(usize::MAX))
            });
            for (i, v) in live.into_iter().enumerate() {
                let too_new = i >= keep_from;
                let young = opts
                    .older_than
                    .is_some_and(|age| v.created_at > now - age.0);
                if !aliased.contains(&v.id)
                    && !too_new
                    && !young
                    && super::registry::deletable(&self.conn, &v)?
                {
                    targets.push((a.clone(), v));
                }
            }
        }
        self.delete_versions(targets, opts.dry_run)
    }

    fn delete_versions(
        &mut self,
        targets: Vec<(crate::index::ArtifactRow, VersionRow)>,
        dry_run: bool,
    ) -> Result<RemoveOutcome> {
        let mut outcome = RemoveOutcome {
            deleted: targets
                .iter()
                .map(|(a, v)| format!("{}:v{}", a.name, v.idx))
                .collect(),
            aliases_removed: Vec::new(),
            latest: BTreeMap::new(),
            dry_run,
        };
        if dry_run || targets.is_empty() {
            return Ok(outcome);
        }
        self.writable()?;
        let now = now_ms();
        let tx = super::records::begin(&mut self.conn, &self.dir)?;
        // Where `latest` was, per artifact touched: it moves when its version goes.
        let mut latest_before = BTreeMap::new();
        let mut entries = Vec::new();
        for (a, v) in &targets {
            for alias in vq::aliases_by_version(&tx, a.id)?
                .remove(&v.id)
                .unwrap_or_default()
            {
                if alias != AliasName::LATEST {
                    outcome.aliases_removed.push(format!("{}:{alias}", a.name));
                }
            }
            if let std::collections::btree_map::Entry::Vacant(e) = latest_before.entry(a.id) {
                e.insert((
                    a.name.clone(),
                    vq::alias_target(&tx, a.id, AliasName::LATEST)?,
                ));
            }
            entries.push(Entry::Delete {
                version: rq::record_of_version(&tx, v.id)?,
            });
        }
        super::records::append(&self.dir, &tx, now, entries)?;
        let deleted: HashSet<i64> = targets.iter().map(|(_, v)| v.id).collect();
        for (id, (name, before)) in latest_before {
            if before.is_some_and(|b| !deleted.contains(&b)) {
                continue;
            }
            let latest = vq::alias_target(&tx, id, AliasName::LATEST)?
                .map(|v| vq::version_by_id(&tx, v))
                .transpose()?
                .flatten();
            outcome
                .latest
                .insert(name, latest.map(|v| format!("v{}", v.idx)));
        }
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(outcome)
    }

    /// Where the space goes: per artifact, stored bytes unique to it and shared with others.
    ///
    /// # Errors
    /// Missing content of a live version; SQLite errors.
    pub fn disk_usage(&self) -> Result<DuOutcome> {
        let blobs = bq::all_blob_sizes(&self.conn)?;
        let sizes: HashMap<Digest, (i64, u64)> =
            blobs.iter().map(|(h, p, l)| (*h, (*p, *l))).collect();
        let mut reach = Reach::new(self)?;
        let mut per_artifact: Vec<(String, u64, u64, HashSet<Digest>, u64)> = Vec::new();
        let mut owners: HashMap<Digest, u32> = HashMap::new();
        for a in vq::all_artifacts(&self.conn)? {
            let mut set = HashSet::new();
            let mut objects: HashMap<(String, Digest), u64> = HashMap::new();
            let (mut versions, mut logical) = (0, 0);
            for v in vq::versions_of(&self.conn, a.id)?
                .iter()
                .filter(|v| v.state != VersionState::Deleted)
            {
                reach.add_version_with_references(v, &mut set, |e| {
                    let uri = e.uri.clone().unwrap_or_default();
                    objects.insert((uri, e.digest), e.size);
                })?;
                versions += 1;
                logical += v.size;
            }
            for h in &set {
                *owners.entry(*h).or_default() += 1;
            }
            per_artifact.push((a.name, versions, logical, set, objects.values().sum()));
        }
        let stored_of = |h: &Digest| sizes.get(h).map_or(0, |(_, l)| *l);
        let artifacts = per_artifact
            .iter()
            .map(|(name, versions, logical, set, referenced)| {
                let unique: u64 = set.iter().filter(|h| owners[*h] == 1).map(stored_of).sum();
                let stored: u64 = set.iter().map(stored_of).sum();
                DiskUsage {
                    name: name.clone(),
                    versions: *versions,
                    logical: *logical,
                    stored,
                    unique,
                    shared: stored - unique,
                    referenced: *referenced,
                }
            })
            .collect();
        let packs = bq::all_packs(&self.conn)?;
        let mut remotes = Vec::new();
        for name in self.config.remote.keys() {
            let held: HashSet<Digest> =
                bq::packs_on_remote(&self.conn, name)?.into_iter().collect();
            let mut usage = RemoteUsage {
                name: name.clone(),
                packs: 0,
                bytes: 0,
                evicted: 0,
            };
            for p in packs.iter().filter(|p| held.contains(&p.hash)) {
                usage.packs += 1;
                usage.bytes += p.size;
                if p.remote_state.as_deref() == Some("evicted") {
                    usage.evicted += p.size;
                }
            }
            remotes.push(usage);
        }
        let states: HashMap<i64, Option<String>> =
            packs.into_iter().map(|p| (p.id, p.remote_state)).collect();
        let (mut garbage, mut evictable, mut pinned, mut remote_only) = (0, 0, 0, 0);
        for (h, (pack, len)) in &sizes {
            let state = states.get(pack).and_then(|s| s.as_deref());
            if state == Some("evicted") {
                if owners.contains_key(h) {
                    remote_only += len;
                }
            } else if !owners.contains_key(h) {
                garbage += len;
            } else if state == Some("synced") {
                evictable += len;
            } else {
                pinned += len;
            }
        }
        Ok(DuOutcome {
            artifacts,
            store_size: self.store_size()?,
            garbage,
            evictable,
            pinned,
            remote_only,
            remotes,
        })
    }
}

/// Bytes of a file, or of every file under a directory (what removing it frees).
fn bytes_under(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path).map_or(0, |entries| {
            entries.flatten().map(|e| bytes_under(&e.path())).sum()
        }),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            std::fs::remove_dir_all(path).map_err(io("remove", path))
        }
        Err(e) => Err(Error::Io {
            action: "remove",
            path: path.to_owned(),
            source: e,
        }),
    }
}
