//! Read-only queries: `ls`, `versions`, `show`, `diff`.

use super::Store;
use super::content::Packs;
use crate::error::{Error, Result};
use crate::index::version_queries as vq;
use crate::index::{ArtifactRow, VersionRow, VersionState};
use crate::model::{
    Change, Digest, EntryKind, Listed, ManifestEntry, Ref, Selection, diff_entries,
};
use crate::worktree::{Scan, ScannedEntry, ScannedKind, hash_file, scan_dir};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One line of `art ls`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArtifactSummary {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Number of live versions.
    pub versions: u64,
    /// `vN` of `latest`, if any.
    pub latest: Option<String>,
    /// Logical size of `latest`.
    pub size: u64,
    /// Whether it is a collection (`art link`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub collection: bool,
}

/// A version with its aliases, as `versions` and `show` print it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VersionInfo {
    /// `NAME:vN`.
    pub reference: String,
    /// The artifact.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// N.
    pub version: u64,
    /// The version digest.
    pub digest: Digest,
    /// Lifecycle state.
    pub state: VersionState,
    /// Aliases, `latest` first.
    pub aliases: Vec<String>,
    /// Number of entries.
    pub files: u64,
    /// Sum of file sizes.
    pub size: u64,
    /// Creation time (epoch ms).
    pub created_at: i64,
    /// Last metadata change (epoch ms).
    pub updated_at: i64,
    /// Description.
    pub description: Option<String>,
    /// Metadata object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Directory it was logged from, relative to the store's parent.
    pub source_path: Option<String>,
    /// The run that logged it.
    pub logged_by_run: Option<String>,
    /// For a deleted version: whether `art gc` has removed its content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collected: Option<bool>,
    /// For a link in a collection: the version it links, `NAME:vN`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The collection versions linking to it, `COLLECTION:vN`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub linked_in: Vec<String>,
    /// Its tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// When its TTL expires (epoch ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// A collaborative version: the runs that wrote its parts (`logged_by_run` finished it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub producers: Vec<String>,
}

impl VersionInfo {
    fn new(a: &ArtifactRow, v: VersionRow, aliases: Vec<String>) -> Self {
        VersionInfo {
            reference: format!("{}:v{}", a.name, v.idx),
            name: a.name.clone(),
            kind: a.kind.clone(),
            version: v.idx,
            digest: v.digest,
            state: v.state,
            aliases,
            files: v.file_count,
            size: v.size,
            created_at: v.created_at,
            updated_at: v.updated_at,
            description: v.description,
            metadata: v.metadata,
            source_path: v.source_path,
            logged_by_run: v.logged_by_run,
            collected: (v.state == VersionState::Deleted).then_some(v.collected_at.is_some()),
            source: None,
            linked_in: Vec::new(),
            tags: Vec::new(),
            expires_at: None,
            producers: Vec::new(),
        }
    }

    /// Adds what the registry knows of version row `id`: link source, links, tags, expiry.
    fn with_registry(mut self, conn: &rusqlite::Connection, id: i64) -> Result<Self> {
        use crate::index::registry_queries as reg;
        if let Some(source) = reg::link_source(conn, id)?
            && let Some(v) = vq::version_by_id(conn, source)?
        {
            let (name, _) = crate::index::run_queries::artifact_name_and_type(conn, v.artifact_id)?;
            self.source = Some(format!("{name}:v{}", v.idx));
        }
        self.linked_in = reg::live_links_to(conn, id)?
            .into_iter()
            .map(|(c, n)| format!("{c}:v{n}"))
            .collect();
        self.tags = reg::tags_of(conn, id)?;
        self.expires_at = reg::expiry_of(conn, id)?;
        self.producers = crate::index::run_queries::producers_of(conn, id)?
            .into_iter()
            .filter(|r| self.logged_by_run.as_ref() != Some(r))
            .collect();
        Ok(self)
    }
}

/// One entry of `art ls REF`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileInfo {
    /// Path in the version.
    pub path: String,
    /// File or symlink.
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Content digest.
    pub digest: Digest,
    /// Executable bit.
    pub exec: bool,
    /// Symlink target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A reference's location (the store holds no copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// A reference logged without a checksum: what pins it (`mtime:<ns>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

impl From<&ManifestEntry> for FileInfo {
    fn from(e: &ManifestEntry) -> Self {
        FileInfo {
            path: e.path.to_string(),
            kind: e.kind,
            size: e.size,
            digest: e.digest,
            exec: e.exec,
            target: e.target.clone(),
            uri: e.uri.clone(),
            pin: e.pin.clone(),
        }
    }
}

/// What `art cat` read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CatOutcome {
    /// `NAME:vN`.
    pub reference: String,
    /// The file's path in the version.
    pub path: String,
    /// Bytes written out.
    pub bytes: u64,
    /// Bytes read from remotes for packs evicted from this store.
    pub fetched_bytes: u64,
}

/// What `art find` looks for.
#[derive(Clone, Debug)]
pub enum FindTarget {
    /// Files whose digest starts with these hex characters (8 to 64).
    DigestPrefix(String),
    /// Files with the content of this local file.
    File(PathBuf),
}

/// One file of one version that `art find` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FoundFile {
    /// `NAME:vN`.
    pub reference: String,
    /// The artifact.
    pub name: String,
    /// N.
    pub version: u64,
    /// The path in the version.
    pub path: String,
    /// The file's digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
}

/// What the version is compared with.
#[derive(Clone, Debug)]
pub enum DiffTarget {
    /// Another version.
    Version(Ref),
    /// A directory on disk.
    Dir(PathBuf),
    /// The directory the version was logged from.
    Source,
}

/// The result of `art diff`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DiffOutcome {
    /// The old side (`NAME:vN`).
    pub from: String,
    /// The new side (`NAME:vN` or a directory).
    pub to: String,
    /// Path changes, sorted by path.
    pub changes: Vec<Change>,
}

impl Store {
    /// Every artifact with its number of versions and `latest`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn list_artifacts(&self) -> Result<Vec<ArtifactSummary>> {
        let mut out = Vec::new();
        for a in vq::all_artifacts(&self.conn)? {
            let versions = vq::versions_of(&self.conn, a.id)?;
            let latest = vq::alias_target(&self.conn, a.id, "latest")?
                .and_then(|id| versions.iter().find(|v| v.id == id));
            out.push(ArtifactSummary {
                versions: versions
                    .iter()
                    .filter(|v| v.state != VersionState::Deleted)
                    .count() as u64,
                latest: latest.map(|v| format!("v{}", v.idx)),
                size: latest.map_or(0, |v| v.size),
                name: a.name,
                kind: a.kind,
                collection: a.collection,
            });
        }
        Ok(out)
    }

    /// The versions of an artifact, oldest first (deleted ones only if `include_deleted`).
    ///
    /// # Errors
    /// Unknown artifact; SQLite errors.
    pub fn versions(&self, name: &str, include_deleted: bool) -> Result<Vec<VersionInfo>> {
        let a = self.artifact(name)?;
        let mut aliases = vq::aliases_by_version(&self.conn, a.id)?;
        vq::versions_of(&self.conn, a.id)?
            .into_iter()
            .filter(|v| include_deleted || v.state != VersionState::Deleted)
            .map(|v| {
                let al = aliases.remove(&v.id).unwrap_or_default();
                let id = v.id;
                VersionInfo::new(&a, v, al).with_registry(&self.conn, id)
            })
            .collect()
    }

    /// One version's details; a deleted version's record stays readable, with its state.
    ///
    /// # Errors
    /// Unknown reference; SQLite errors.
    pub fn show(&self, r: &Ref) -> Result<VersionInfo> {
        let (a, v) = self.resolve_any(r)?;
        let aliases = vq::aliases_by_version(&self.conn, a.id)?
            .remove(&v.id)
            .unwrap_or_default();
        let id = v.id;
        VersionInfo::new(&a, v, aliases).with_registry(&self.conn, id)
    }

    /// The files of a version.
    ///
    /// # Errors
    /// Unknown reference; missing or corrupt manifest.
    pub fn files(&self, r: &Ref) -> Result<Vec<FileInfo>> {
        self.files_in(r, None)
    }

    /// The files of a version that `only` selects (all without it).
    ///
    /// # Errors
    /// Unknown reference; missing or corrupt manifest.
    pub fn files_in(&self, r: &Ref, only: Option<&Selection>) -> Result<Vec<FileInfo>> {
        let (_, v) = self.resolve(r)?;
        let manifest = self.read_manifest(&Packs::new(self)?, &v.digest)?;
        Ok(manifest
            .entries()
            .iter()
            .filter(|e| only.is_none_or(|s| s.contains(e.path.as_str())))
            .map(FileInfo::from)
            .collect())
    }

    /// Streams the content of the file `path` of a version into `out`, checked against its
    /// digest, without a checkout; returns its length.
    ///
    /// # Errors
    /// Unknown reference; [`Error::UnknownPath`] when the version has no regular file there;
    /// missing or corrupt content; write errors.
    pub fn read_file(&self, r: &Ref, path: &str, out: &mut impl std::io::Write) -> Result<u64> {
        Ok(self.cat(r, path, out)?.bytes)
    }

    /// Streams the file `path` of a version into `out` like [`Store::read_file`], and says
    /// how many bytes it fetched: on a clone or after eviction only the manifest and this
    /// file's blobs are read, by range, from the remote.
    ///
    /// # Errors
    /// As [`Store::read_file`].
    pub fn cat(&self, r: &Ref, path: &str, out: &mut impl std::io::Write) -> Result<CatOutcome> {
        let (a, v) = self.resolve(r)?;
        let packs = Packs::new(self)?;
        let manifest = self.read_manifest(&packs, &v.digest)?;
        let entry = manifest
            .get(path)
            .filter(|e| e.kind != crate::model::EntryKind::Symlink)
            .ok_or_else(|| Error::UnknownPath {
                reference: format!("{}:v{}", a.name, v.idx),
                path: path.to_owned(),
            })?;
        let bytes = if entry.kind == EntryKind::Reference {
            // Read where it lives, verified against what was logged.
            super::reference::copy_reference(entry, out, self.progress.as_ref())?;
            entry.size
        } else {
            let source = self.file_source(&packs, &entry.digest)?;
            packs.write_file(&source, &entry.digest, out)?
        };
        Ok(CatOutcome {
            reference: format!("{}:v{}", a.name, v.idx),
            path: path.to_owned(),
            bytes,
            fetched_bytes: packs.fetched_bytes(),
        })
    }

    /// Every file, in every live version of every artifact, with the content `target`
    /// names: which dataset versions include this image. Sorted by artifact, version, path.
    ///
    /// # Errors
    /// [`Error::InvalidFind`] for a prefix that is not 8 to 64 hex characters; an unreadable
    /// file; missing or corrupt manifests.
    pub fn find(&self, target: &FindTarget) -> Result<Vec<FoundFile>> {
        let prefix = match target {
            FindTarget::File(path) => hash_file(path)?.to_hex(),
            FindTarget::DigestPrefix(p) => {
                let p = p.to_ascii_lowercase();
                if !(8..=64).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::InvalidFind(p));
                }
                p
            }
        };
        let packs = Packs::new(self)?;
        let mut out = Vec::new();
        for a in vq::all_artifacts(&self.conn)? {
            for v in vq::versions_of(&self.conn, a.id)? {
                if v.state == VersionState::Deleted {
                    continue;
                }
                let manifest = self.read_manifest(&packs, &v.digest)?;
                out.extend(
                    manifest
                        .entries()
                        .iter()
                        // A reference pinned without a checksum has no content digest.
                        .filter(|e| match e.kind {
                            EntryKind::File => true,
                            EntryKind::Reference => e.pin.is_none(),
                            EntryKind::Symlink => false,
                        })
                        .filter(|e| e.digest.to_hex().starts_with(&prefix))
                        .map(|e| FoundFile {
                            reference: format!("{}:v{}", a.name, v.idx),
                            name: a.name.clone(),
                            version: v.idx,
                            path: e.path.to_string(),
                            digest: e.digest,
                            size: e.size,
                        }),
                );
            }
        }
        out.sort_by(|x, y| (&x.name, x.version, &x.path).cmp(&(&y.name, y.version, &y.path)));
        Ok(out)
    }

    /// Compares a version with another version or a directory.
    ///
    /// # Errors
    /// Unknown references; unreadable directories.
    pub fn diff(&self, from: &Ref, to: &DiffTarget) -> Result<DiffOutcome> {
        let packs = Packs::new(self)?;
        let (a, v) = self.resolve(from)?;
        let old = self.read_manifest(&packs, &v.digest)?;
        let from_label = format!("{}:v{}", a.name, v.idx);
        let (to_label, changes) = match to {
            DiffTarget::Version(r) => {
                let (b, w) = self.resolve(r)?;
                let new = self.read_manifest(&packs, &w.digest)?;
                (
                    format!("{}:v{}", b.name, w.idx),
                    diff_entries(old.entries(), new.entries()),
                )
            }
            DiffTarget::Dir(dir) => {
                let (dir, scan) = self.scan_existing(dir)?;
                let found = self.dir_listing(&scan, true)?;
                (
                    dir.display().to_string(),
                    diff_entries(old.entries(), &found),
                )
            }
            DiffTarget::Source => {
                let src = v
                    .source_path
                    .as_ref()
                    .ok_or_else(|| Error::NoDefaultDest(from_label.clone()))?;
                let (dir, scan) = self.scan_existing(&self.root().join(src))?;
                let found = self.dir_listing(&scan, true)?;
                (
                    dir.display().to_string(),
                    diff_entries(old.entries(), &found),
                )
            }
        };
        Ok(DiffOutcome {
            from: from_label,
            to: to_label,
            changes,
        })
    }

    /// Scans an existing directory, given by any path to it.
    pub(crate) fn scan_existing(&self, dir: &Path) -> Result<(PathBuf, Scan)> {
        let dir = dir
            .canonicalize()
            .map_err(crate::worktree::read_error(dir))?;
        let scan = scan_dir(&dir, &self.interrupt)?;
        Ok((dir, scan))
    }

    /// Each scanned entry with its digest (stat cache first when trusted, else hashing):
    /// what a diff compares, without building manifest entries for a whole tree.
    pub(crate) fn dir_listing<'s>(
        &self,
        scan: &'s Scan,
        trust_cache: bool,
    ) -> Result<Vec<Found<'s>>> {
        // Digests land in place (no second vector of a million digests beside the listing).
        let mut found: Vec<Found<'s>> = scan
            .entries
            .iter()
            .map(|scanned| Found {
                scanned,
                digest: match &scanned.kind {
                    ScannedKind::Symlink { target } => Digest::of(target.as_bytes()),
                    ScannedKind::File { .. } => Digest::from(blake3::Hash::from_bytes([0; 32])),
                },
            })
            .collect();
        let mut vouched = vec![false; found.len()];
        if trust_cache {
            super::log::join_stat_cache(&self.conn, scan, |i, c| {
                let s = &scan.entries[i];
                if c.vouches_for(s.stat.size, s.stat.mtime_ns, s.stat.ctime_ns, s.stat.ino) {
                    found[i].digest = c.digest;
                    vouched[i] = true;
                }
            })?;
        }
        found
            .par_iter_mut()
            .zip(vouched)
            .enumerate()
            .filter(|(_, (f, vouched))| !vouched && f.kind() == EntryKind::File)
            .try_for_each(|(i, (f, _))| -> Result<()> {
                f.digest = hash_file(&scan.abs(i))?;
                Ok(())
            })?;
        Ok(found)
    }
}

/// A file or symlink found in a directory, with its digest.
pub(crate) struct Found<'s> {
    scanned: &'s ScannedEntry,
    digest: Digest,
}

impl Listed for Found<'_> {
    fn path(&self) -> &str {
        self.scanned.rel.as_str()
    }
    fn size(&self) -> u64 {
        self.scanned.stat.size
    }
    fn kind(&self) -> EntryKind {
        match self.scanned.kind {
            ScannedKind::File { .. } => EntryKind::File,
            ScannedKind::Symlink { .. } => EntryKind::Symlink,
        }
    }
    fn digest(&self) -> &Digest {
        &self.digest
    }
    fn exec(&self) -> bool {
        matches!(self.scanned.kind, ScannedKind::File { exec: true })
    }
}
