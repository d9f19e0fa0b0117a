//! Integrity: `art verify` (one version) and `art fsck` (the whole store).

use super::Store;
use super::content::Packs;
use crate::error::Result;
use crate::index::blob_queries as bq;
use crate::index::version_queries as vq;
use crate::model::{Digest, EntryKind, Listed, Manifest, Ref, diff_entries, format_size};
use crate::store::{PackFile, pack_path};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The result of `art verify`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifyOutcome {
    /// `NAME:vN`.
    pub reference: String,
    /// `store`, or the directory verified.
    pub target: String,
    /// Entries checked.
    pub files: u64,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// One line per problem; empty when everything matches.
    pub problems: Vec<String>,
}

/// The result of `art fsck`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FsckOutcome {
    /// Packs checked.
    pub packs: u64,
    /// Blobs whose data was read and re-hashed (with `--read-data`).
    pub blobs_read: u64,
    /// Live versions whose content was checked for presence.
    pub versions: u64,
    /// Damage: missing or corrupt data, index rows that disagree with packs.
    pub problems: Vec<String>,
    /// Harmless leftovers (unreferenced packs, temporary files) that `art gc` removes.
    pub notes: Vec<String>,
    /// The files of live versions whose content sits in a damaged or missing blob.
    pub affected: Vec<AffectedFile>,
}

/// A file of a live version that cannot be restored as it was logged.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct AffectedFile {
    /// `NAME:vN`.
    pub version: String,
    /// The file's path in the version; empty when the version's manifest itself is damaged
    /// (then no file of the version can be restored).
    pub path: String,
    /// The first damaged blob the file needs.
    pub blob: String,
    /// The pack that held it.
    pub pack: String,
}

/// What a pack scan found damaged: whole packs (missing or unreadable) and single blobs.
#[derive(Default)]
struct Damage {
    packs: HashSet<i64>,
    blobs: HashSet<Digest>,
}

impl Damage {
    fn hit<'l>(
        &self,
        locations: &'l [crate::index::BlobLocation],
    ) -> Option<&'l crate::index::BlobLocation> {
        locations
            .iter()
            .find(|l| self.packs.contains(&l.pack_id) || self.blobs.contains(&l.entry.hash))
    }
}

impl Store {
    /// Re-hashes the stored data of a version (or, with `dir`, a directory against it).
    ///
    /// # Errors
    /// Unknown reference, unreadable manifest or directory. Damaged content is reported in
    /// [`VerifyOutcome::problems`], not as an error.
    pub fn verify(&self, r: &Ref, dir: Option<&Path>) -> Result<VerifyOutcome> {
        let (a, v) = self.resolve(r)?;
        let reference = format!("{}:v{}", a.name, v.idx);
        let packs = Packs::new(self)?;
        let manifest = self.read_manifest(&packs, &v.digest)?;
        if let Some(dir) = dir {
            let (_, scan) = self.scan_existing(dir)?;
            let entries = self.dir_listing(&scan, false)?;
            let problems = diff_entries(manifest.entries(), &entries)
                .iter()
                .map(|c| match c {
                    crate::model::Change::Added { path, .. } => {
                        format!("{path}: not in the version")
                    }
                    crate::model::Change::Removed { path, .. } => format!("{path}: missing"),
                    crate::model::Change::Modified { path, .. } => {
                        format!("{path}: content differs")
                    }
                })
                .collect();
            return Ok(VerifyOutcome {
                reference,
                target: dir.display().to_string(),
                files: entries.len() as u64,
                bytes: entries.iter().map(Listed::size).sum(),
                problems,
            });
        }
        let mut problems = self.check_content(
            &packs,
            &manifest,
            true,
            &reference,
            &HashSet::new(),
            &Damage::default(),
            &mut Vec::new(),
        );
        // References are re-checked where they live (re-hashed unless pinned by mtime).
        problems.extend(
            super::reference::check_all(manifest.entries().iter())
                .into_iter()
                .map(|p| format!("{reference}: reference {p}")),
        );
        Ok(VerifyOutcome {
            reference,
            target: "store".into(),
            files: manifest.len() as u64,
            bytes: manifest.total_size(),
            problems,
        })
    }

    /// Checks that every file of a manifest is present (and with `read`, intact); files
    /// whose blobs `damage` names go to `affected`.
    #[allow(clippy::too_many_arguments)]
    fn check_content(
        &self,
        packs: &Packs,
        manifest: &Manifest,
        read: bool,
        label: &str,
        evicted: &HashSet<i64>,
        damage: &Damage,
        affected: &mut Vec<AffectedFile>,
    ) -> Vec<String> {
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        let mut seen: HashMap<Digest, Option<(String, String)>> = HashMap::new();
        for e in manifest
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::File)
        {
            if let Some(hit) = seen.get(&e.digest) {
                // The same content at another path is as damaged as the first.
                if let Some((blob, pack)) = hit {
                    affected.push(AffectedFile {
                        version: label.to_owned(),
                        path: e.path.to_string(),
                        blob: blob.clone(),
                        pack: pack.clone(),
                    });
                }
                continue;
            }
            seen.insert(e.digest, None);
            // A chunk list evicted to a remote cannot be read here; its row is proof enough.
            if !read
                && let Ok(Some(list)) = bq::try_chunk_list(&self.conn, &e.digest)
                && self
                    .locate(&list)
                    .is_ok_and(|l| evicted.contains(&l.pack_id))
            {
                continue;
            }
            match self.file_source(packs, &e.digest) {
                Ok(s) => {
                    if let Some(l) = damage.hit(s.locations()) {
                        let (blob, pack) = (l.entry.hash.to_hex(), l.pack_hash.to_hex());
                        problems.push(format!(
                            "{label}: `{}` is damaged: it needs blob `{}` of pack `{}`",
                            e.path,
                            l.entry.hash.short(16),
                            l.pack_hash.short(16)
                        ));
                        affected.push(AffectedFile {
                            version: label.to_owned(),
                            path: e.path.to_string(),
                            blob: blob.clone(),
                            pack: pack.clone(),
                        });
                        seen.insert(e.digest, Some((blob, pack)));
                    } else {
                        sources.push((e, s));
                    }
                }
                Err(err) => problems.push(format!("{label}: `{}`: {err}", e.path)),
            }
        }
        if read {
            let mut bad: Vec<String> = sources
                .par_iter()
                .filter_map(|(e, s)| {
                    packs
                        .write_file(s, &e.digest, &mut std::io::sink())
                        .err()
                        .map(|err| format!("{label}: `{}`: {err}", e.path))
                })
                .collect();
            problems.append(&mut bad);
        }
        problems.sort();
        problems
    }

    /// Checks the whole store: packs against the index, and that every live version's content
    /// is present; with `read_data`, every blob is read and re-hashed.
    ///
    /// # Errors
    /// Only when the index cannot be read; damage is reported in [`FsckOutcome::problems`].
    pub fn fsck(&self, read_data: bool) -> Result<FsckOutcome> {
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        let check: std::result::Result<String, _> =
            self.conn.query_row("PRAGMA quick_check", [], |r| r.get(0));
        let damage = match check {
            Ok(ok) if ok == "ok" => None,
            Ok(first) => Some(first),
            Err(e) => Some(e.to_string()),
        };
        if let Some(damage) = damage {
            problems.push(format!(
                "the index `index.db` is damaged ({damage}); rebuild it from the packs and the record log with `art index rebuild`"
            ));
            return Ok(FsckOutcome {
                packs: 0,
                blobs_read: 0,
                versions: 0,
                problems,
                notes,
                affected: Vec::new(),
            });
        }
        problems.extend(self.check_against_log()?);
        let on_disk = pack_files_on_disk(&self.dir);
        let rows = bq::all_packs(&self.conn)?;
        let known: HashSet<_> = rows.iter().map(|r| r.hash).collect();
        let mut blobs_read = 0u64;
        let mut damage = Damage::default();
        let evicted = rows
            .iter()
            .filter(|r| r.remote_state.as_deref() == Some("evicted"))
            .count();
        if evicted > 0 {
            notes.push(format!(
                "{evicted} pack(s) evicted to a remote (not checked locally)"
            ));
        }
        for row in rows
            .iter()
            .filter(|r| r.remote_state.as_deref() != Some("evicted"))
        {
            let path = pack_path(&self.dir, &row.hash);
            let pack = match PackFile::at(&path) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("pack `{}` is missing: {e}", row.hash.short(16)));
                    damage.packs.insert(row.id);
                    continue;
                }
            };
            let (entries, checksum) = match pack.read_trailer() {
                Ok(t) => t,
                Err(e) => {
                    problems.push(e.to_string());
                    if read_data {
                        // A truncated pack may still hold its first blobs intact: only
                        // those that cannot be read are damaged.
                        let held = bq::blobs_in_pack(&self.conn, row.id)?;
                        blobs_read += held.len() as u64;
                        damage.blobs.extend(
                            held.par_iter()
                                .filter(|b| pack.read_blob(b).is_err())
                                .map(|b| b.hash)
                                .collect::<Vec<_>>(),
                        );
                    } else {
                        damage.packs.insert(row.id);
                    }
                    continue;
                }
            };
            if checksum != row.hash || pack.len() != row.size {
                problems.push(format!(
                    "pack `{}` does not match its name or recorded size",
                    row.hash.short(16)
                ));
            }
            let in_trailer: HashMap<_, _> = entries.iter().map(|e| (e.hash, *e)).collect();
            for b in bq::blobs_in_pack(&self.conn, row.id)? {
                if in_trailer.get(&b.hash) != Some(&b) {
                    problems.push(format!(
                        "blob `{}` is not where the index says in pack `{}`",
                        b.hash.short(16),
                        row.hash.short(16)
                    ));
                }
            }
            if read_data {
                if let Err(e) = pack.verify_checksum(&row.hash) {
                    problems.push(e.to_string());
                }
                let bad: Vec<(Digest, String)> = entries
                    .par_iter()
                    .filter_map(|e| pack.read_blob(e).err().map(|err| (e.hash, err.to_string())))
                    .collect();
                for (hash, err) in bad {
                    damage.blobs.insert(hash);
                    problems.push(err);
                }
                blobs_read += entries.len() as u64;
            }
        }
        let orphans: Vec<&PathBuf> = on_disk
            .iter()
            .filter(|(h, _)| !known.contains(h))
            .map(|(_, p)| p)
            .collect();
        if !orphans.is_empty() {
            let bytes: u64 = orphans
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            notes.push(format!("{} unreferenced pack(s), {} (left by an interrupted command; `art gc` removes them)", orphans.len(), format_size(bytes)));
        }
        let tmp_files =
            std::fs::read_dir(self.dir.join("tmp")).map_or(0, std::iter::Iterator::count);
        if tmp_files > 0 {
            notes.push(format!(
                "{tmp_files} temporary file(s) in tmp/ (`art gc` removes them)"
            ));
        }

        let packs = Packs::new(self)?;
        let evicted_ids: HashSet<i64> = rows
            .iter()
            .filter(|r| r.remote_state.as_deref() == Some("evicted"))
            .map(|r| r.id)
            .collect();
        let live = vq::live_versions(&self.conn)?;
        let names: HashMap<i64, String> = vq::all_artifacts(&self.conn)?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect();
        // Live versions, then the parts of pending collaborative versions: both must be whole.
        let mut targets: Vec<(String, Digest)> = live
            .iter()
            .map(|v| {
                let name = names.get(&v.artifact_id).map_or("?", String::as_str);
                (format!("{name}:v{}", v.idx), v.digest)
            })
            .collect();
        for p in crate::index::part_queries::all(&self.conn, None)? {
            let label = format!(
                "{} (pending {}, part {})",
                p.artifact, p.distributed_id, p.id
            );
            targets.push((label, p.manifest));
        }
        let mut affected = Vec::new();
        for (label, digest) in targets {
            if self
                .locate(&digest)
                .is_ok_and(|l| evicted_ids.contains(&l.pack_id))
            {
                continue;
            }
            if let Ok(source) = self.file_source(&packs, &digest)
                && let Some(l) = damage.hit(source.locations())
            {
                problems.push(format!(
                    "{label}: manifest: damaged, it needs blob `{}` of pack `{}`",
                    l.entry.hash.short(16),
                    l.pack_hash.short(16)
                ));
                affected.push(AffectedFile {
                    version: label,
                    path: String::new(),
                    blob: l.entry.hash.to_hex(),
                    pack: l.pack_hash.to_hex(),
                });
                continue;
            }
            match self.read_manifest(&packs, &digest) {
                Ok(m) => {
                    problems.extend(self.check_content(
                        &packs,
                        &m,
                        false,
                        &label,
                        &evicted_ids,
                        &damage,
                        &mut affected,
                    ));
                }
                Err(e) => problems.push(format!("{label}: manifest: {e}")),
            }
        }
        problems.sort();
        problems.dedup();
        affected.sort();
        Ok(FsckOutcome {
            packs: rows.len() as u64,
            blobs_read,
            versions: live.len() as u64,
            problems,
            notes,
            affected,
        })
    }
}

/// Every `packs/xx/<hash>.pack` file, by the hash in its name.
pub(crate) fn pack_files_on_disk(dir: &Path) -> Vec<(crate::model::Digest, PathBuf)> {
    let mut out = Vec::new();
    let Ok(top) = std::fs::read_dir(dir.join("packs")) else {
        return out;
    };
    for sub in top.flatten() {
        let Ok(files) = std::fs::read_dir(sub.path()) else {
            continue;
        };
        for f in files.flatten() {
            let path = f.path();
            let hash = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".pack"))
                .and_then(|h| h.parse().ok());
            if let Some(h) = hash {
                out.push((h, path));
            }
        }
    }
    out
}
