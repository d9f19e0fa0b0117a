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
        target: String,
    },
}

/// One file or symlink found by a scan.
#[derive(Clone, Debug)]
pub struct ScannedEntry {
    /// Path relative to the scanned root, as it will appear in a manifest.
    pub rel: ManifestPath,
    /// Absolute path on disk.
    pub abs: PathBuf,
    /// File or symlink.
    pub kind: ScannedKind,
    /// Stat metadata (of the link itself for a symlink).
    pub stat: FileStat,
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
        return Ok(Some(ScannedKind::Symlink { target }));
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

fn entry_for(abs: PathBuf, rel: &str, meta: &Metadata) -> Result<Option<ScannedEntry>> {
    let Some(kind) = classify(&abs, meta)? else {
        return Ok(None);
    };
    let rel = ManifestPath::new(rel).map_err(|e| Error::Walk {
        path: abs.clone(),
        message: e.to_string(),
    })?;
    Ok(Some(ScannedEntry {
        rel,
        abs,
        kind,
        stat: stat_of(meta),
    }))
}

/// Names starting with this are checkout's temporary files: scans skip them, since one left
/// by a killed checkout is neither content nor a user's file.
pub const TEMP_PREFIX: &str = ".art-tmp-";

/// Scans `root` recursively, sorted by path. Ignore rules come from `.artignore` files only;
/// checkout's leftover temporary files ([`TEMP_PREFIX`]) are skipped.
///
/// # Errors
/// A missing root, an unreadable directory, a non-UTF-8 name or an unsupported file type.
pub fn scan_dir(
    root: &Path,
    interrupt: &std::sync::atomic::AtomicBool,
) -> Result<Vec<ScannedEntry>> {
    scan_dir_and_leftovers(root, interrupt).map(|(entries, _)| entries)
}

/// As [`scan_dir`], also returning the leftover temporary files it skipped (absolute paths),
/// for a checkout to remove.
///
/// # Errors
/// As [`scan_dir`].
pub fn scan_dir_and_leftovers(
    root: &Path,
    interrupt: &std::sync::atomic::AtomicBool,
) -> Result<(Vec<ScannedEntry>, Vec<PathBuf>)> {
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
            match entry_for(path.to_owned(), rel, &meta) {
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
    Ok((entries, leftovers.into_inner().expect("scan lock")))
}

/// Scans individual paths, each given with the name it gets in the version (so a path
/// resolved through a symlink keeps the name the user typed): a file lands at the root under
/// that name, a directory under it with its contents.
///
/// # Errors
/// As [`scan_dir`], plus two paths with the same name.
pub fn scan_named(
    paths: &[(PathBuf, String)],
    interrupt: &std::sync::atomic::AtomicBool,
) -> Result<Vec<ScannedEntry>> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (p, name) in paths {
        let name = name.clone();
        let meta = std::fs::symlink_metadata(p).map_err(super::read_error(p))?;
        if !names.insert(name.clone()) {
            return Err(Error::DuplicateName(name));
        }
        if meta.is_dir() {
            for mut e in scan_dir(p, interrupt)? {
                e.rel =
                    ManifestPath::new(&format!("{name}/{}", e.rel)).map_err(|err| Error::Walk {
                        path: e.abs.clone(),
                        message: err.to_string(),
                    })?;
                out.push(e);
            }
        } else if let Some(e) = entry_for(p.clone(), &name, &meta)? {
            out.push(e);
        }
    }
    out.sort_unstable_by(|a, b| a.rel.as_str().cmp(b.rel.as_str()));
    Ok(out)
}
