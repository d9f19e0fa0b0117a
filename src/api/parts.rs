//! Collaborative versions (W&B's distributed writers): any number of processes add parts to
//! a PENDING version named by a distributed id, and one `art finish` commits their union as
//! the artifact's next version. A part is a manifest of what one writer added, recorded in
//! the log like any change, so parts travel through remotes and merge on pull untouched.

use super::Store;
use super::content::Packs;
use super::log::{DEFAULT_TYPE, Ingest, Ingested, LogOptions, NewVersion};
use crate::error::{Error, Result};
use crate::index::part_queries as pq;
use crate::index::version_queries as vq;
use crate::model::{AliasName, ArtifactName, Digest, Entry, Manifest, PartRecord, Prefer, unite};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What adding a part did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PartOutcome {
    /// The artifact.
    pub name: String,
    /// The pending version's distributed id.
    pub distributed_id: String,
    /// The part's record id.
    pub part_id: String,
    /// Entries in this part.
    pub files: u64,
    /// Sum of their sizes.
    pub size: u64,
    /// Files whose content was read.
    pub files_read: u64,
    /// Bytes added to the store.
    pub stored_bytes: u64,
    /// Parts the pending version has now, this one included.
    pub parts: u64,
}

/// What to finish.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FinishPendingOptions {
    /// The artifact.
    pub name: ArtifactName,
    /// The pending version's distributed id.
    pub distributed_id: String,
    /// Files the finishing command adds itself (as the last writer).
    pub paths: Vec<PathBuf>,
    /// Aliases to point at the version.
    pub aliases: Vec<AliasName>,
    /// Its description.
    pub description: Option<String>,
    /// Its metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The run that finishes it (its `logged_by`).
    pub run: Option<String>,
    /// How a path written with different content is resolved (none: refuse).
    pub prefer: Option<Prefer>,
}

impl FinishPendingOptions {
    /// Finish the pending version `distributed_id` of `name` as it is.
    #[must_use]
    pub fn new(name: ArtifactName, distributed_id: String) -> Self {
        FinishPendingOptions {
            name,
            distributed_id,
            paths: Vec::new(),
            aliases: Vec::new(),
            description: None,
            metadata: serde_json::Map::new(),
            run: None,
            prefer: None,
        }
    }
}

/// What `finish` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FinishPendingOutcome {
    /// `NAME:vN` of the version.
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
    /// True when the union equals `latest` (no version was created; the parts are dropped).
    pub unchanged: bool,
    /// Parts committed.
    pub parts: u64,
    /// The runs that wrote them.
    pub writers: Vec<String>,
    /// Paths written with different content, resolved by `--prefer`.
    pub resolved: Vec<String>,
    /// Entries of the version.
    pub files: u64,
    /// Sum of its file sizes.
    pub size: u64,
    /// Bytes the finishing command added to the store.
    pub stored_bytes: u64,
    /// Aliases now on the version.
    pub aliases: Vec<String>,
}

/// A pending collaborative version.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PendingVersion {
    /// The artifact.
    pub name: String,
    /// Its type, as the first writer gave it.
    #[serde(rename = "type")]
    pub kind: String,
    /// The distributed id.
    pub distributed_id: String,
    /// Parts written so far.
    pub parts: u64,
    /// Entries over all parts (a path written twice counts twice).
    pub files: u64,
    /// Bytes over all parts.
    pub size: u64,
    /// The runs that wrote parts (a part without a run is named `part:<id>`).
    pub writers: Vec<String>,
    /// When the first part was written (epoch ms).
    pub created: i64,
    /// When the last part was written (epoch ms).
    pub updated: i64,
}

/// What dropping a pending version did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DropPendingOutcome {
    /// The artifact.
    pub name: String,
    /// The distributed id.
    pub distributed_id: String,
    /// Parts dropped (their content goes with the next gc).
    pub parts: u64,
}

/// How a part's writer is named: its run, or the part itself when it had none.
fn writer_of(p: &PartRecord) -> String {
    p.run.clone().unwrap_or_else(|| {
        let tail: String = p.id.chars().rev().take(8).collect();
        format!("part:{}", tail.chars().rev().collect::<String>())
    })
}

impl Store {
    /// The distributed id a collaborative log defaults to: the run's group (as W&B's
    /// `distributed_id` defaults to the run group).
    ///
    /// # Errors
    /// An unknown run.
    pub fn default_distributed_id(&self, run: Option<&str>) -> Result<Option<String>> {
        match run {
            Some(r) => Ok(super::run::find_run_in(&self.conn, r)?.group),
            None => Ok(None),
        }
    }

    /// Adds `opts`' files as a part of the pending version `distributed_id` of `opts.name`,
    /// which starts to exist with its first part. Any number of processes may add at once.
    ///
    /// # Errors
    /// As [`Store::log`]; a collection, or a type other than the artifact's.
    pub fn log_part(&mut self, opts: LogOptions, distributed_id: &str) -> Result<PartOutcome> {
        check_distributed_id(distributed_id)?;
        let run = self.check_log_target(&opts.name, opts.kind.as_ref(), opts.run.as_deref())?;
        let Ingested {
            scanned,
            digest,
            files,
            size,
            staged,
            ..
        } = self.ingest(&opts)?;
        let name = opts.name.to_string();
        let kind = opts.kind.as_ref().map(ToString::to_string);
        let id = distributed_id.to_owned();
        let ((part, parts), stored_bytes) = self.commit_staged(
            staged,
            Some(&scanned),
            run.as_deref(),
            |tx, now| {
                let existing = vq::try_artifact(tx, &name)?;
                if let Some(a) = existing.as_ref().filter(|a| a.collection) {
                    return Err(Error::CollectionKind(format!(
                        "`{}` is a collection: add versions to it with `art link REF {}`",
                        a.name, a.name
                    )));
                }
                let known = existing.map(|a| a.kind).or(pq::pending_kind(tx, &name)?);
                let kind = match (known, kind) {
                    (Some(k), Some(given)) if k != given => {
                        return Err(Error::TypeMismatch {
                            name: name.clone(),
                            existing: k,
                            given,
                        });
                    }
                    (Some(k), _) => k,
                    (None, Some(given)) => given,
                    (None, None) => DEFAULT_TYPE.to_owned(),
                };
                let record = PartRecord {
                    id: super::records::new_ulid(now),
                    artifact: name.clone(),
                    kind,
                    distributed_id: id.clone(),
                    manifest: digest,
                    files,
                    size,
                    run: run.clone(),
                    created: now,
                };
                let part = record.id.clone();
                Ok((vec![Entry::Part(record)], part))
            },
            |tx, part| Ok((part, pq::of_pending(tx, &name, &id)?.len() as u64)),
        )?;
        Ok(PartOutcome {
            name: opts.name.to_string(),
            distributed_id: distributed_id.to_owned(),
            part_id: part,
            files,
            size,
            files_read: scanned.files_read,
            stored_bytes,
            parts,
        })
    }

    /// Commits the pending version `opts.distributed_id` of `opts.name`: the union of its
    /// parts (and of `opts.paths`, added last) becomes the next version; `latest` moves.
    ///
    /// # Errors
    /// [`Error::NoPendingVersion`]; [`Error::PartConflicts`] when writers wrote one path with
    /// different content and `prefer` is not set; [`Error::EntryClash`]; a type mismatch.
    pub fn finish_pending(&mut self, opts: FinishPendingOptions) -> Result<FinishPendingOutcome> {
        let run = self.check_log_target(&opts.name, None, opts.run.as_deref())?;
        let name = opts.name.to_string();
        let id = opts.distributed_id.clone();
        let parts = pq::of_pending(&self.conn, &name, &id)?;
        if parts.is_empty() {
            return Err(self.no_pending(&name, &id)?);
        }
        let kind = parts[0].kind.clone();
        if let Some(other) = parts.iter().find(|p| p.kind != kind) {
            return Err(Error::TypeMismatch {
                name,
                existing: kind,
                given: other.kind.clone(),
            });
        }
        let packs = Packs::new(self)?;
        let mut writers = Vec::with_capacity(parts.len() + 1);
        for p in &parts {
            let manifest = self.read_manifest(&packs, &p.manifest)?;
            writers.push((writer_of(p), manifest.entries().to_vec()));
        }
        drop(packs);
        let ingest = Ingest::new(self);
        let named = self.named_paths(&opts.paths)?;
        let single_dir = named.len() == 1 && named[0].0.is_dir();
        let scanned = self.read_paths(&ingest, &named, single_dir)?;
        if scanned.len() > 0 {
            let finisher = run.clone().unwrap_or_else(|| "finish".to_owned());
            writers.push((finisher, scanned.entries().collect()));
        }
        let union = unite(writers, opts.prefer);
        if !union.conflicts.is_empty() && opts.prefer.is_none() {
            return Err(Error::PartConflicts {
                name,
                id,
                conflicts: union
                    .conflicts
                    .iter()
                    .map(|c| format!("  {}  ({})", c.path, c.writers.join(", ")))
                    .collect(),
            });
        }
        let manifest = Manifest::new(union.entries).map_err(|e| match e {
            crate::model::Error::CorruptManifest(message) => Error::EntryClash {
                message,
                hint: "the writers disagree on whether it is a file or a directory; drop the pending version with `art rm NAME --pending ID` and write it again",
            },
            other => other.into(),
        })?;
        let digest = ingest.store_manifest(&manifest)?;
        let staged = ingest.finish()?;
        self.check_interrupt()?;
        let mut producers: Vec<String> = parts.iter().filter_map(|p| p.run.clone()).collect();
        producers.sort_unstable();
        producers.dedup();
        producers.retain(|r| Some(r) != run.as_ref());
        let part_ids: Vec<String> = parts.iter().map(|p| p.id.clone()).collect();
        let done = self.commit_version(
            staged,
            Some(&scanned),
            NewVersion {
                name: opts.name.clone(),
                kind: Some(kind.parse()?),
                digest,
                size: manifest.total_size(),
                files: manifest.len() as u64,
                run: run.clone(),
                source_path: None,
                description: opts.description,
                metadata: opts.metadata,
                aliases: opts.aliases,
                distributed_id: Some(id),
                parts: part_ids,
                producers,
                based_on: None,
            },
        )?;
        let mut all_writers: Vec<String> = Vec::new();
        for w in parts.iter().map(writer_of) {
            if !all_writers.contains(&w) {
                all_writers.push(w);
            }
        }
        Ok(FinishPendingOutcome {
            reference: done.reference,
            name: done.name,
            kind: done.kind,
            version: done.version,
            digest,
            unchanged: done.unchanged,
            parts: parts.len() as u64,
            writers: all_writers,
            resolved: union.conflicts.into_iter().map(|c| c.path).collect(),
            files: manifest.len() as u64,
            size: manifest.total_size(),
            stored_bytes: done.stored_bytes,
            aliases: done.aliases,
        })
    }

    /// Pending versions, of one artifact or of all.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn pending(&self, name: Option<&str>) -> Result<Vec<PendingVersion>> {
        let mut out: BTreeMap<(String, String), PendingVersion> = BTreeMap::new();
        for p in pq::all(&self.conn, name)? {
            let v = out
                .entry((p.artifact.clone(), p.distributed_id.clone()))
                .or_insert_with(|| PendingVersion {
                    name: p.artifact.clone(),
                    kind: p.kind.clone(),
                    distributed_id: p.distributed_id.clone(),
                    parts: 0,
                    files: 0,
                    size: 0,
                    writers: Vec::new(),
                    created: p.created,
                    updated: p.created,
                });
            v.parts += 1;
            v.files += p.files;
            v.size += p.size;
            let w = writer_of(&p);
            if !v.writers.contains(&w) {
                v.writers.push(w);
            }
            v.created = v.created.min(p.created);
            v.updated = v.updated.max(p.created);
        }
        Ok(out.into_values().collect())
    }

    /// Abandons the pending version `distributed_id` of `name`: its parts are dropped (their
    /// content goes with the next gc).
    ///
    /// # Errors
    /// [`Error::NoPendingVersion`].
    pub fn drop_pending(&mut self, name: &str, distributed_id: &str) -> Result<DropPendingOutcome> {
        self.writable()?;
        let tx = super::records::begin(&mut self.conn, &self.dir)?;
        let parts: Vec<String> = pq::of_pending(&tx, name, distributed_id)?
            .into_iter()
            .map(|p| p.id)
            .collect();
        if parts.is_empty() {
            drop(tx);
            return Err(self.no_pending(name, distributed_id)?);
        }
        let count = parts.len() as u64;
        super::records::append(
            &self.dir,
            &tx,
            crate::model::now_ms(),
            vec![Entry::PartsDropped {
                artifact: name.to_owned(),
                distributed_id: distributed_id.to_owned(),
                parts,
            }],
        )?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(DropPendingOutcome {
            name: name.to_owned(),
            distributed_id: distributed_id.to_owned(),
            parts: count,
        })
    }

    fn no_pending(&self, name: &str, id: &str) -> Result<Error> {
        let mut known: Vec<String> = self
            .pending(Some(name))?
            .into_iter()
            .map(|p| p.distributed_id)
            .collect();
        known.dedup();
        Ok(Error::NoPendingVersion {
            name: name.to_owned(),
            id: id.to_owned(),
            known,
        })
    }
}

/// A distributed id is a label people type and the log stores: printable, one line.
fn check_distributed_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(Error::InvalidDistributedId(id.escape_debug().to_string()));
    }
    Ok(())
}
