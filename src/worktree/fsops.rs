//! The file operations of a checkout. Every write lands by temp file + rename in a parent that
//! is verified to be a real directory inside the destination, so no byte leaves it.

use super::error::io;
use super::{Error, Result};
use crate::model::{Digest, ManifestPath};
use std::fs::{File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// BLAKE3 of a file's content, streamed.
///
/// # Errors
/// When the file cannot be read.
pub fn hash_file(path: &Path) -> Result<Digest> {
    let file = File::open(path).map_err(io("read", path))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file).map_err(io("read", path))?;
    Ok(hasher.finalize().into())
}

/// Creates the parent directories of `rel` under `dest`, refusing any component that exists
/// as something other than a directory (a symlink above all).
fn ensure_parent(dest: &Path, rel: &ManifestPath) -> Result<PathBuf> {
    let mut dir = dest.to_path_buf();
    let comps: Vec<&str> = rel.components().collect();
    for comp in &comps[..comps.len() - 1] {
        dir.push(comp);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Blocked {
                    path: dest.join(rel.as_str()),
                    blocker: dir,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    // Files are written in parallel: another writer may have just created it.
                    Err(e)
                        if e.kind() == std::io::ErrorKind::AlreadyExists
                            && std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) => {}
                    Err(e) => {
                        return Err(Error::Io {
                            action: "create directory",
                            path: dir,
                            source: e,
                        });
                    }
                }
            }
            Err(e) => {
                return Err(Error::Io {
                    action: "inspect",
                    path: dir,
                    source: e,
                });
            }
        }
    }
    Ok(dir)
}

/// Whether the file system holding the directory `dir` treats names that differ only in
/// letter case as one (macOS and Windows by default, a `casefold` directory on Linux): a
/// probe file is created under a lower-case name and looked up under the upper-case one.
///
/// # Errors
/// When the probe cannot be created.
pub fn ignores_case(dir: &Path) -> Result<bool> {
    let probe = tempfile::Builder::new()
        .prefix(&format!("{}case-probe-", super::TEMP_PREFIX))
        .tempfile_in(dir)
        .map_err(io("create a temporary file in", dir))?;
    let name = probe
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let upper = name.to_uppercase();
    Ok(upper != name && std::fs::symlink_metadata(dir.join(upper)).is_ok())
}

/// A checkout's destination directory. It remembers the parent directories it verified or
/// created, so a tree of a million files costs one check per directory, not one per file.
#[derive(Debug)]
pub struct Destination {
    root: PathBuf,
    verified: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Destination {
    /// The destination at `root` (an existing directory).
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        Destination {
            root,
            verified: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The directory written into.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The parent of `rel`, created if missing and checked to be a real directory.
    fn parent(&self, rel: &ManifestPath) -> Result<PathBuf> {
        let Some((dir, _)) = rel.as_str().rsplit_once('/') else {
            return Ok(self.root.clone());
        };
        if self.verified.lock().expect("dir cache lock").contains(dir) {
            return Ok(self.root.join(dir));
        }
        let parent = ensure_parent(&self.root, rel)?;
        self.verified
            .lock()
            .expect("dir cache lock")
            .insert(dir.to_owned());
        Ok(parent)
    }

    /// Writes a file at `rel` through a temporary file in the same directory, then renames
    /// it over whatever was there. `fill` writes the content; the file is left with mode 0755
    /// or 0644. Returns the final path and its stat, taken through the open file after the
    /// rename (a rename changes the ctime).
    ///
    /// # Errors
    /// When a parent is blocked, or on I/O failure (the temporary file is removed).
    pub fn write_file<E>(
        &self,
        rel: &ManifestPath,
        exec: bool,
        fill: impl FnOnce(&mut File) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(PathBuf, super::FileStat), E>> {
        let parent = self.parent(rel)?;
        let target = self.root.join(rel.as_str());
        let mut tmp = tempfile::Builder::new()
            .prefix(super::TEMP_PREFIX)
            .tempfile_in(&parent)
            .map_err(io("create a temporary file in", &parent))?;
        if let Err(e) = fill(tmp.as_file_mut()) {
            return Ok(Err(e));
        }
        tmp.as_file_mut().flush().map_err(io("write", &target))?;
        let mode = if exec { 0o755 } else { 0o644 };
        tmp.as_file()
            .set_permissions(Permissions::from_mode(mode))
            .map_err(io("set permissions of", &target))?;
        // Renamed first: only when a directory stands in the way (EISDIR) is it inspected, so
        // the common case costs no extra stat.
        crate::failpoint::hit("checkout.before-rename").map_err(io("write", &target))?;
        let persisted = match tmp.persist(&target) {
            Ok(file) => Ok(file),
            Err(e) if e.error.kind() == std::io::ErrorKind::IsADirectory => {
                replace_dir_if_empty(&target)?;
                e.file.persist(&target)
            }
            Err(e) => Err(e),
        };
        let file = persisted.map_err(|e| Error::Io {
            action: "write",
            path: target.clone(),
            source: e.error,
        })?;
        crate::failpoint::hit("checkout.after-rename").map_err(io("write", &target))?;
        let meta = file.metadata().map_err(io("stat", &target))?;
        Ok(Ok((target, super::stat_of(&meta))))
    }

    /// Creates a symlink at `rel` pointing at `target`, atomically.
    ///
    /// # Errors
    /// When a parent is blocked, or on I/O failure.
    pub fn write_symlink(&self, rel: &ManifestPath, target: &str) -> Result<PathBuf> {
        let parent = self.parent(rel)?;
        let final_path = self.root.join(rel.as_str());
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = parent.join(format!(
            "{}link-{}-{n}",
            super::TEMP_PREFIX,
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp).map_err(io("create symlink", &tmp))?;
        replace_dir_if_empty(&final_path)?;
        std::fs::rename(&tmp, &final_path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Io {
                action: "create symlink",
                path: final_path.clone(),
                source: e,
            }
        })?;
        Ok(final_path)
    }
}

/// A checkout may need a file where an (emptied) directory is.
fn replace_dir_if_empty(target: &Path) -> Result<()> {
    if let Ok(m) = std::fs::symlink_metadata(target)
        && m.is_dir()
    {
        std::fs::remove_dir(target).map_err(io(
            "replace directory (it still holds ignored files?)",
            target,
        ))?;
    }
    Ok(())
}

/// Whether a symlink at `rel` pointing at `target` resolves inside the destination. Targets
/// must be relative, may start with `..` components, and then descend only; this lexical rule
/// is exact because art creates every parent directory itself, never through a symlink.
#[must_use]
pub fn symlink_stays_inside(rel: &ManifestPath, target: &str) -> bool {
    let target = Path::new(target);
    let mut depth: Vec<&str> = rel.components().collect();
    depth.pop();
    let mut descending = false;
    for comp in target.components() {
        match comp {
            Component::ParentDir if !descending => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::Normal(_) => descending = true,
            Component::CurDir if !descending => {}
            _ => return false,
        }
    }
    descending
}

/// Removes a file or symlink at `dest/rel` (never a directory, never following a link).
///
/// # Errors
/// On I/O failure other than the entry being gone already.
pub fn remove_entry(dest: &Path, rel: &ManifestPath) -> Result<()> {
    let path = dest.join(rel.as_str());
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            action: "remove",
            path,
            source: e,
        }),
    }
}

/// Removes the now-empty directories above the given relative paths, deepest first, never
/// `dest` itself; directories that still hold anything stay.
pub fn prune_empty_dirs<'a>(dest: &Path, removed: impl IntoIterator<Item = &'a ManifestPath>) {
    let mut dirs: Vec<String> = Vec::new();
    for rel in removed {
        let s = rel.as_str();
        for (i, _) in s.match_indices('/') {
            dirs.push(s[..i].to_owned());
        }
    }
    dirs.sort_unstable_by(|a, b| {
        b.matches('/')
            .count()
            .cmp(&a.matches('/').count())
            .then(b.cmp(a))
    });
    dirs.dedup();
    for d in dirs {
        let _ = std::fs::remove_dir(dest.join(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_sensitive_directory_is_recognised() {
        let tmp = tempfile::tempdir().expect("temp dir");
        // The test suite runs on Linux file systems, which keep case apart.
        assert!(!ignores_case(tmp.path()).expect("probe"));
        assert_eq!(
            std::fs::read_dir(tmp.path()).expect("list").count(),
            0,
            "probe removed"
        );
    }

    /// The last line of defence: whatever the plan missed (a link made after it), a write
    /// whose parent is a symlink, or a chain of them, is refused and nothing leaves DEST.
    #[test]
    fn writes_never_pass_through_a_symlinked_parent() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (dest, outside) = (tmp.path().join("dest"), tmp.path().join("outside"));
        std::fs::create_dir_all(dest.join("real")).expect("dest");
        std::fs::create_dir(&outside).expect("outside");
        std::os::unix::fs::symlink("../outside", dest.join("hop")).expect("link");
        std::os::unix::fs::symlink("hop", dest.join("sub")).expect("link");
        std::os::unix::fs::symlink("../../outside", dest.join("real/deep")).expect("link");
        let d = Destination::new(dest.clone());
        let p = |s: &str| ManifestPath::new(s).expect("path");
        for rel in ["sub/x.txt", "sub/a/b.txt", "real/deep/x.txt", "hop/x.txt"] {
            let err = d
                .write_file(&p(rel), false, |f| f.write_all(b"x"))
                .expect_err(rel);
            assert!(matches!(err, Error::Blocked { .. }), "{rel}: {err}");
            let err = d.write_symlink(&p(rel), "real").expect_err(rel);
            assert!(matches!(err, Error::Blocked { .. }), "{rel}: {err}");
        }
        assert_eq!(std::fs::read_dir(&outside).expect("list").count(), 0);
        let written = d
            .write_file(&p("real/x.txt"), false, |f| f.write_all(b"x"))
            .expect("a real parent")
            .expect("filled");
        assert_eq!(std::fs::read(written.0).expect("read"), b"x");
    }

    #[test]
    fn symlink_targets() {
        let p = |s: &str| ManifestPath::new(s).unwrap();
        assert!(symlink_stays_inside(&p("a/link"), "b"));
        assert!(symlink_stays_inside(&p("a/link"), "../b"));
        assert!(symlink_stays_inside(&p("a/b/link"), "../../c/d"));
        assert!(symlink_stays_inside(&p("a/link"), "./b"));
        assert!(!symlink_stays_inside(&p("link"), "../b"));
        assert!(!symlink_stays_inside(&p("a/link"), "../../b"));
        assert!(!symlink_stays_inside(&p("a/link"), "/etc/passwd"));
        assert!(!symlink_stays_inside(&p("a/link"), "b/../../x"));
        assert!(!symlink_stays_inside(&p("a/link"), ".."));
        assert!(!symlink_stays_inside(&p("a/link"), "."));
    }
}
