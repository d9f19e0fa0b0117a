//! Scanning a directory: a parallel walk honouring `.artignore` (not `.gitignore`), always
//! skipping `.artifacts`, yielding UTF-8 relative paths with their stat metadata.

use super::error::io;
use super::{Error, Result};
use crate::model::ManifestPath;
use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The stat fields the stat cache compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds.
    pub mtime_ns: i64,
    /// Status change time in nanoseconds.
    pub ctime_ns: i64,
    /// Inode number.
    pub ino: u64,
}

/// Reads the stat cache fields from metadata.
#[must_use]
pub fn stat_of(meta: &Metadata) -> FileStat {
    FileStat {
        size: meta.len(),
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        ino: meta.ino(),
    }
}

/// What a scanned path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScannedKind {
    /// A regular file.
    File {
        /// Owner-executable bit.
        exec: bool,
    },
    /// A symbolic link and its target text.
    Symlink {
        /// The target as stored in the link.
        target: Box<str>,
    },
}

/// One file or symlink found by a scan. Its place on disk is [`Scan::abs`]: not stored per
/// entry, since a million absolute paths would cost more memory than the rest of the scan.
#[derive(Clone, Debug)]
pub struct ScannedEntry {
    /// Path relative to the scanned root, as it will appear in a manifest.
    pub rel: ManifestPath,
    /// File or symlink.
    pub kind: ScannedKind,
    /// Stat metadata (of the link itself for a symlink).
    pub stat: FileStat,
}

/// A contiguous run of a scan's entries that lives under one path on disk.
#[derive(Clone, Debug)]
pub struct ScanGroup {
    /// Indices of the group's entries in [`Scan::entries`].
    pub range: std::ops::Range<usize>,
    /// The directory (or the single file) on disk.
    pub disk: PathBuf,
    /// Bytes of an entry's `rel` that name the group rather than a path below `disk`
    /// (the given name and its `/`).
    pub strip: usize,
    /// Whether `disk` is a directory (else the group is one file or symlink).
    pub is_dir: bool,
}

impl ScanGroup {
    /// The part of an entry's path below [`ScanGroup::disk`] (empty for a single file).
    #[must_use]
    pub fn below<'a>(&self, e: &'a ScannedEntry) -> &'a str {
        &e.rel.as_str()[self.strip..]
    }
}

/// What a scan found: entries sorted by path, each group's entries contiguous.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Files and symlinks, sorted by `rel`.
    pub entries: Vec<ScannedEntry>,
    /// Where the entries live on disk, in the order of their ranges.
    pub groups: Vec<ScanGroup>,
    /// Checkout's leftover temporary files that were skipped (absolute paths).
    pub leftovers: Vec<PathBuf>,
}

impl Scan {
    /// The group holding entry `i`.
    #[must_use]
    pub fn group_of(&self, i: usize) -> &ScanGroup {
        let g = self.groups.partition_point(|g| g.range.end <= i);
        &self.groups[g]
    }

    /// Where entry `i` is on disk.
    #[must_use]
    pub fn abs(&self, i: usize) -> PathBuf {
        let group = self.group_of(i);
        if group.is_dir {
            group.disk.join(group.below(&self.entries[i]))
        } else {
            group.disk.clone()
        }
    }
}

fn classify(path: &Path, meta: &Metadata) -> Result<Option<ScannedKind>> {
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(Some(ScannedKind::File {
            exec: meta.permissions().mode() & 0o100 != 0,
        }));
    }
    if ft.is_symlink() {
        let target = std::fs::read_link(path).map_err(io("read symlink", path))?;
        let target = target
            .into_os_string()
            .into_string()
            .map_err(|_| Error::NotUtf8(path.to_owned()))?;
        return Ok(Some(ScannedKind::Symlink {
            target: target.into_boxed_str(),
        }));
    }
    if ft.is_dir() {
        return Ok(None);
    }
    use std::os::unix::fs::FileTypeExt;
    let kind = if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "device file"
    };
    Err(Error::Unsupported {
        path: path.to_owned(),
        kind,
    })
}

fn entry_for(abs: &Path, rel: &str, meta: &Metadata) -> Result<Option<ScannedEntry>> {
    let Some(kind) = classify(abs, meta)? else {
        return Ok(None);
    };
    let rel = ManifestPath::new(rel).map_err(|e| Error::Walk {
        path: abs.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Some(ScannedEntry {
        rel,
        kind,
        stat: stat_of(meta),
    }))
}

/// Names starting with this are checkout's temporary files: scans skip them, since one left
/// by a killed checkout is neither content nor a user's file.
pub const TEMP_PREFIX: &str = ".art-tmp-";

/// Scans `root` recursively, sorted by path, as one group. Ignore rules come from
/// `.artignore` files only; checkout's leftover temporary files ([`TEMP_PREFIX`]) are skipped
/// and listed in [`Scan::leftovers`], for a checkout to remove.
///
/// # Errors
/// A missing root, an unreadable directory, a non-UTF-8 name or an unsupported file type.
pub fn scan_dir(root: &Path, interrupt: &std::sync::atomic::AtomicBool) -> Result<Scan> {
    let meta = std::fs::symlink_metadata(root).map_err(super::read_error(root))?;
    if !meta.is_dir() {
        return Err(Error::Walk {
            path: root.to_owned(),
            message: "not a directory".into(),
        });
    }
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .add_custom_ignore_filename(".artignore")
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".artifacts")
        .build_parallel();
    let found: Mutex<Vec<ScannedEntry>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let leftovers: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    walker.run(|| {
        let found = &found;
        let first_error = &first_error;
        let leftovers = &leftovers;
        struct Flush<'a>(&'a Mutex<Vec<ScannedEntry>>, Vec<ScannedEntry>);
        impl Drop for Flush<'_> {
            fn drop(&mut self) {
                self.0.lock().expect("scan lock").append(&mut self.1);
            }
        }
        let mut flush = Flush(found, Vec::new());
        Box::new(move |result| {
            use ignore::WalkState;
            let fail = |e: Error| {
                first_error.lock().expect("scan lock").get_or_insert(e);
                WalkState::Quit
            };
            if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                return fail(Error::Interrupted);
            }
            let entry = match result {
                Ok(e) => e,
                Err(err) => {
                    let path = match &err {
                        ignore::Error::WithPath { path, .. } => path.clone(),
                        _ => root.to_owned(),
                    };
                    return fail(Error::Walk {
                        path,
                        message: err.to_string(),
                    });
                }
            };
            if entry.depth() == 0 {
                return WalkState::Continue;
            }
            let path = entry.path();
            let Ok(rel) = path.strip_prefix(root) else {
                return WalkState::Continue;
            };
            let Some(rel) = rel.to_str() else {
                return fail(Error::NotUtf8(path.to_owned()));
            };
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(err) => {
                    return fail(Error::Walk {
                        path: path.to_owned(),
                        message: err.to_string(),
                    });
                }
            };
            let is_temp = entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(TEMP_PREFIX.as_bytes());
            if is_temp && !meta.is_dir() {
                leftovers.lock().expect("scan lock").push(path.to_owned());
                return WalkState::Continue;
            }
            match entry_for(path, rel, &meta) {
                Ok(Some(e)) => flush.1.push(e),
                Ok(None) => {}
                Err(e) => return fail(e),
            }
            WalkState::Continue
        })
    });
    if let Some(e) = first_error.into_inner().expect("scan lock") {
        return Err(e);
    }
    let mut entries = found.into_inner().expect("scan lock");
    entries.sort_unstable_by(|a, b| a.rel.as_str().cmp(b.rel.as_str()));
    entries.shrink_to_fit();
    Ok(Scan {
        groups: vec![ScanGroup {
            range: 0..entries.len(),
            disk: root.to_owned(),
            strip: 0,
            is_dir: true,
        }],
        entries,
        leftovers: leftovers.into_inner().expect("scan lock"),
    })
}

/// Scans individual paths, each given with the name it gets in the version (so a path
/// resolved through a symlink keeps the name the user typed): a file lands at the root under
/// that name, a directory under it with its contents. Each path is one group.
///
/// # Errors
/// As [`scan_dir`], plus two paths with the same name.
pub fn scan_named(
    paths: &[(PathBuf, String)],
    interrupt: &std::sync::atomic::AtomicBool,
) -> Result<Scan> {
    let mut names = std::collections::HashSet::new();
    // Every entry of a group starts with its key (the name, plus `/` for a directory) and
    // names are unique, so ordering the groups by key orders all entries.
    let mut parts: Vec<(String, Scan)> = Vec::with_capacity(paths.len());
    for (p, name) in paths {
        let meta = std::fs::symlink_metadata(p).map_err(super::read_error(p))?;
        if !names.insert(name.clone()) {
            return Err(Error::DuplicateName(name.clone()));
        }
        if meta.is_dir() {
            let mut scan = scan_dir(p, interrupt)?;
            for e in &mut scan.entries {
                e.rel =
                    ManifestPath::new(&format!("{name}/{}", e.rel)).map_err(|err| Error::Walk {
                        path: p.join(e.rel.as_str()),
                        message: err.to_string(),
                    })?;
            }
            scan.groups[0].strip = name.len() + 1;
            parts.push((format!("{name}/"), scan));
        } else {
            let entries: Vec<ScannedEntry> = entry_for(p, name, &meta)?.into_iter().collect();
            let group = ScanGroup {
                range: 0..entries.len(),
                disk: p.clone(),
                strip: name.len(),
                is_dir: false,
            };
            parts.push((
                name.clone(),
                Scan {
                    entries,
                    groups: vec![group],
                    leftovers: Vec::new(),
                },
            ));
        }
    }
    parts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out = Scan::default();
    for (_, part) in parts {
        let base = out.entries.len();
        out.entries.extend(part.entries);
        out.leftovers.extend(part.leftovers);
        for mut g in part.groups {
            g.range = g.range.start + base..g.range.end + base;
            out.groups.push(g);
        }
    }
    Ok(out)
}
