//! `art patch`: the next version of an artifact made from one of its versions' manifest plus
//! a few changes. Only the added files are read and stored; the base version's content is
//! never read (only its manifest), so a patch works on a lazy clone and pushes only new bytes.

use super::Store;
use super::content::Packs;
use super::log::{Ingest, NewVersion, Scanned};
use crate::error::{Error, Result};
use crate::index::version_queries as vq;
use crate::model::{
    AliasName, Digest, Manifest, ManifestPath, Ref, Selection, patch as apply_patch,
};
use std::path::PathBuf;

/// How many times `--onto-latest` re-applies a patch when other logs keep landing first.
const ONTO_LATEST_TRIES: usize = 5;

/// What to change.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PatchOptions {
    /// The version to start from.
    pub base: Ref,
    /// Files or directories to add: each path and where it goes in the version (default:
    /// its file name at the root); an added path replaces the entry already there.
    pub add: Vec<(PathBuf, Option<String>)>,
    /// Gitignore-style patterns of entries to remove (applied before the additions).
    pub remove: Vec<String>,
    /// The new version's description (default: the base's).
    pub description: Option<String>,
    /// The new version's whole metadata (default: the base's).
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Aliases to point at the new version.
    pub aliases: Vec<AliasName>,
    /// Apply the changes to `latest` even when it moved past `base`.
    pub onto_latest: bool,
    /// The run producing the new version.
    pub run: Option<String>,
}

impl PatchOptions {
    /// A patch of `base` with no changes yet.
    #[must_use]
    pub fn new(base: Ref) -> Self {
        PatchOptions {
            base,
            add: Vec::new(),
            remove: Vec::new(),
            description: None,
            metadata: None,
            aliases: Vec::new(),
            onto_latest: false,
            run: None,
        }
    }
}

/// What `patch` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PatchOutcome {
    /// `NAME:vN` of the new (or unchanged) version.
    pub reference: String,
    /// The version the changes were applied to.
    pub base: String,
    /// The artifact.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The version number.
    pub version: u64,
    /// The version digest.
    pub digest: Digest,
    /// True when the changes left the content as it was (no version was created).
    pub unchanged: bool,
    /// Entries added at new paths.
    pub added: u64,
    /// Entries replaced.
    pub replaced: u64,
    /// Entries removed.
    pub removed: u64,
    /// Entries of the new version.
    pub files: u64,
    /// Sum of its file sizes.
    pub size: u64,
    /// Files whose content was read.
    pub files_read: u64,
    /// Bytes added to the store.
    pub stored_bytes: u64,
    /// New blobs written.
    pub new_blobs: u64,
    /// Aliases now on the version.
    pub aliases: Vec<String>,
}

impl Store {
    /// Makes the next version of `opts.base`'s artifact from its manifest plus the changes.
    ///
    /// # Errors
    /// [`Error::PatchBehind`] when `latest` moved past the base (unless `onto_latest`),
    /// [`Error::RemoveMatchesNothing`], [`Error::EntryClash`], bad paths or globs, I/O; the
    /// store is then unchanged.
    pub fn patch(&mut self, opts: &PatchOptions) -> Result<PatchOutcome> {
        if opts.add.is_empty() && opts.remove.is_empty() {
            return Err(Error::InvalidPatch(
                "nothing to patch: give --add PATH[=DEST] or --remove GLOB".into(),
            ));
        }
        let run = self.check_log_target(&opts.base.name, None, opts.run.as_deref())?;
        let removals = opts
            .remove
            .iter()
            .map(|p| Selection::new(&[p]))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut named = Vec::with_capacity(opts.add.len());
        for (path, dest) in &opts.add {
            let canon = self.loggable(path)?;
            let dest = match dest {
                Some(d) => d.trim_end_matches('/').to_owned(),
                None => self.named_paths(std::slice::from_ref(path))?.remove(0).1,
            };
            ManifestPath::new(&dest).map_err(|e| {
                Error::InvalidPatch(format!("--add {}={dest}: {e}", path.display()))
            })?;
            named.push((canon, dest));
        }
        let mut tries = 0;
        loop {
            tries += 1;
            match self.patch_once(opts, &removals, &named, run.clone()) {
                Err(Error::PatchBehind { .. }) if opts.onto_latest && tries < ONTO_LATEST_TRIES => {
                }
                other => return other,
            }
        }
    }

    fn patch_once(
        &mut self,
        opts: &PatchOptions,
        removals: &[Selection],
        named: &super::log::NamedPaths,
        run: Option<String>,
    ) -> Result<PatchOutcome> {
        let (artifact, requested) = self.resolve(&opts.base)?;
        let latest = vq::alias_target(&self.conn, artifact.id, AliasName::LATEST)?;
        let base = if opts.onto_latest {
            self.resolve(&Ref::latest(opts.base.name.clone()))?.1
        } else {
            requested
        };
        let label = format!("{}:v{}", artifact.name, base.idx);
        if latest != Some(base.id) {
            return Err(Error::PatchBehind {
                reference: label,
                latest: self
                    .resolve(&Ref::latest(opts.base.name.clone()))
                    .map_or_else(
                        |_| "none".to_owned(),
                        |(a, v)| format!("{}:v{}", a.name, v.idx),
                    ),
            });
        }
        let ingest = Ingest::new(self);
        let scanned: Scanned = self.read_paths(&ingest, named, false)?;
        // Only the manifest of the base is read: on a clone, one small download.
        let base_manifest = self.read_manifest(&Packs::new(self)?, &base.digest)?;
        let patched = apply_patch(
            base_manifest.entries(),
            removals,
            scanned.entries().collect(),
        );
        if let Some(pattern) = patched.unmatched.first() {
            return Err(Error::RemoveMatchesNothing {
                pattern: pattern.clone(),
                reference: label,
            });
        }
        let manifest = Manifest::new(patched.entries).map_err(|e| match e {
            crate::model::Error::CorruptManifest(message) => Error::EntryClash {
                message,
                hint: "remove the old entry in the same patch with --remove PATH",
            },
            other => other.into(),
        })?;
        let digest = ingest.store_manifest(&manifest)?;
        let staged = ingest.finish()?;
        self.check_interrupt()?;
        let new_blobs = staged.new_blobs;
        let done = self.commit_version(
            staged,
            Some(&scanned),
            NewVersion {
                name: opts.base.name.clone(),
                kind: None,
                digest,
                size: manifest.total_size(),
                files: manifest.len() as u64,
                run,
                source_path: base.source_path.clone(),
                description: opts.description.clone().or(base.description.clone()),
                metadata: opts
                    .metadata
                    .clone()
                    .unwrap_or_else(|| base.metadata.clone()),
                aliases: opts.aliases.clone(),
                distributed_id: None,
                parts: Vec::new(),
                producers: Vec::new(),
                based_on: Some((base.id, label.clone())),
            },
        )?;
        Ok(PatchOutcome {
            reference: done.reference,
            base: label,
            name: done.name,
            kind: done.kind,
            version: done.version,
            digest,
            unchanged: done.unchanged,
            added: patched.added,
            replaced: patched.replaced,
            removed: patched.removed,
            files: manifest.len() as u64,
            size: manifest.total_size(),
            files_read: scanned.files_read,
            stored_bytes: done.stored_bytes,
            new_blobs,
            aliases: done.aliases,
        })
    }
}
