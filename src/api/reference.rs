//! References (issue 15): files a version records where they are instead of copying them,
//! pinned by their content digest (or, with `--no-checksum`, by size and mtime; an
//! `http(s)://` object by its ETag or Last-Modified and size), so a checkout restores exactly
//! what was logged or names what changed.

use super::Store;
use crate::error::{Error, Result, io};
use crate::model::{Digest, EntryKind, ManifestEntry, ManifestPath};
use crate::worktree::{ScannedKind, hash_file, scan_dir, stat_of};
use rayon::prelude::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The default bound on the objects one `--ref` may expand to.
pub const DEFAULT_MAX_OBJECTS: u64 = 10_000_000;

/// A `--ref URI[=NAME]` argument split into its parts.
fn split_spec(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('=') {
        Some((uri, name)) if !uri.is_empty() && !name.is_empty() => (uri, Some(name)),
        _ => (spec, None),
    }
}

/// Where a referenced object lives.
enum Source {
    /// A local file.
    File(PathBuf),
    /// An object on a web server.
    Http(String),
}

/// Where a reference URI points.
fn source_of(uri: &str) -> Result<Source> {
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return Ok(Source::Http(uri.to_owned()));
    }
    local_path(uri).map(Source::File)
}

/// The local path a reference URI names.
fn local_path(uri: &str) -> Result<PathBuf> {
    if let Some(rest) = uri.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Err(Error::Reference {
                uri: uri.to_owned(),
                reason: "a file URI needs an absolute path (`file:///data/x`)".into(),
            });
        }
        return Ok(PathBuf::from(rest));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(Error::Reference {
            uri: uri.to_owned(),
            reason: format!(
                "scheme `{scheme}` is not supported; art references `file://`, `http://` and `https://` URIs and local paths"
            ),
        });
    }
    Ok(PathBuf::from(uri))
}

/// The `file://` URI of an absolute path.
fn file_uri(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| crate::worktree::Error::NotUtf8(path.to_owned()))?;
    Ok(format!("file://{text}"))
}

impl Store {
    /// Expands `--ref` arguments into manifest entries: a file is one entry, a directory
    /// one per file under it (`.artignore` honoured), named `NAME/…` (default: the last
    /// component). Each object is hashed, or with `checksum` off pinned by size and mtime.
    ///
    /// # Errors
    /// [`Error::Reference`] for a missing object or an unsupported scheme,
    /// [`Error::TooManyObjects`] when a reference expands to more than `max_objects`.
    pub(crate) fn resolve_references(
        &self,
        specs: &[String],
        checksum: bool,
        max_objects: u64,
    ) -> Result<Vec<ManifestEntry>> {
        let mut out = Vec::new();
        for spec in specs {
            let (uri, name) = split_spec(spec);
            let given = match source_of(uri)? {
                Source::File(path) => path,
                Source::Http(url) => {
                    out.push(http_reference(&url, name)?);
                    continue;
                }
            };
            let path = given.canonicalize().map_err(|e| Error::Reference {
                uri: uri.to_owned(),
                reason: format!("cannot read it: {e}"),
            })?;
            let name = match name {
                Some(n) => n.trim_end_matches('/').to_owned(),
                None => path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| crate::worktree::Error::NotUtf8(path.clone()))?
                    .to_owned(),
            };
            let objects: Vec<(String, PathBuf)> = if path.is_dir() {
                let scan = scan_dir(&path, &self.interrupt)?;
                if let Some(link) = scan
                    .entries
                    .iter()
                    .find(|e| matches!(e.kind, ScannedKind::Symlink { .. }))
                {
                    return Err(Error::Reference {
                        uri: uri.to_owned(),
                        reason: format!(
                            "`{}` is a symlink; reference its target instead",
                            link.rel
                        ),
                    });
                }
                (0..scan.entries.len())
                    .map(|i| (format!("{name}/{}", scan.entries[i].rel), scan.abs(i)))
                    .collect()
            } else {
                vec![(name, path)]
            };
            if objects.len() as u64 > max_objects {
                return Err(Error::TooManyObjects {
                    uri: uri.to_owned(),
                    count: objects.len() as u64,
                    max: max_objects,
                });
            }
            let interrupt = &*self.interrupt;
            let entries: Vec<ManifestEntry> = objects
                .par_iter()
                .map(|(rel, abs)| -> Result<ManifestEntry> {
                    if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                        return Err(Error::Interrupted);
                    }
                    let rel = ManifestPath::new(rel)?;
                    let uri = file_uri(abs)?;
                    let stat = stat_of(&std::fs::metadata(abs).map_err(io("stat", abs))?);
                    Ok(if checksum {
                        ManifestEntry::reference(rel, uri, stat.size, hash_file(abs)?)
                    } else {
                        let pin = format!("mtime:{}", stat.mtime_ns);
                        ManifestEntry::pinned_reference(rel, uri, stat.size, pin)
                    })
                })
                .collect::<Result<_>>()?;
            out.extend(entries);
        }
        Ok(out)
    }
}

/// The entry of an `http(s)://` reference, pinned by what the server says (HEAD).
fn http_reference(url: &str, name: Option<&str>) -> Result<ManifestEntry> {
    let failed = |reason: String| Error::Reference {
        uri: url.to_owned(),
        reason,
    };
    let name = match name {
        Some(n) => n.trim_end_matches('/'),
        None => url
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| failed("the URL ends in `/`; name it with URL=NAME".into()))?,
    };
    let object = crate::remote::UrlObject::open(url)?;
    let info = object
        .head()?
        .ok_or_else(|| failed("the server answers 404 (not found)".into()))?;
    let pin = info.pin().ok_or_else(|| {
        failed("the server sends neither ETag nor Last-Modified, so art cannot pin it".into())
    })?;
    Ok(ManifestEntry::pinned_reference(
        ManifestPath::new(name)?,
        url.to_owned(),
        info.size,
        pin,
    ))
}

/// How a web object differs from the pinned one, if it does.
fn http_difference(e: &ManifestEntry, info: &crate::remote::ObjectInfo) -> Option<String> {
    if info.size != e.size {
        return Some(format!(
            "changed (size {} bytes, logged {})",
            info.size, e.size
        ));
    }
    (info.pin() != e.pin).then(|| {
        format!(
            "changed (now {}, logged {})",
            info.pin().unwrap_or_else(|| "unpinned".into()),
            e.pin.as_deref().unwrap_or_default()
        )
    })
}

/// Whether the object a reference entry names is still the one logged: `Err` says how it
/// differs. Reads the whole object for a checksummed reference.
pub(crate) fn check_reference(e: &ManifestEntry) -> std::result::Result<(), String> {
    let uri = e.uri.as_deref().unwrap_or_default();
    if let Ok(Source::Http(url)) = source_of(uri) {
        let object = crate::remote::UrlObject::open(&url).map_err(|err| err.to_string())?;
        return match object.head() {
            Ok(None) => Err("vanished (404 not found)".into()),
            Ok(Some(info)) => http_difference(e, &info).map_or(Ok(()), Err),
            Err(err) => Err(format!("cannot be read: {err}")),
        };
    }
    let path = entry_path(e)?;
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err("vanished".into());
        }
        Err(err) => return Err(format!("cannot be read: {err}")),
    };
    let stat = stat_of(&meta);
    if stat.size != e.size {
        return Err(format!(
            "changed (size {} bytes, logged {})",
            stat.size, e.size
        ));
    }
    match &e.pin {
        Some(pin) if *pin != format!("mtime:{}", stat.mtime_ns) => {
            Err("changed (modified since it was logged)".into())
        }
        Some(_) => Ok(()),
        None => match hash_file(&path) {
            Ok(d) if d == e.digest => Ok(()),
            Ok(_) => Err("changed (its content differs)".into()),
            Err(err) => Err(format!("cannot be read: {err}")),
        },
    }
}

/// The local file behind a reference entry.
fn entry_path(e: &ManifestEntry) -> std::result::Result<PathBuf, String> {
    debug_assert_eq!(e.kind, EntryKind::Reference);
    let uri = e.uri.as_deref().unwrap_or_default();
    local_path(uri).map_err(|err| err.to_string())
}

/// Copies a reference's object into `out`, verifying it on the way (content digest, or size
/// and mtime before and after for a pinned one). Returns the content's digest.
pub(crate) fn copy_reference(
    e: &ManifestEntry,
    out: &mut impl Write,
    progress: &dyn super::Progress,
) -> Result<Digest> {
    let changed = |reason: String| Error::ReferencesChanged {
        problems: vec![problem_line(e, &reason)],
    };
    if let Ok(Source::Http(url)) = source_of(e.uri.as_deref().unwrap_or_default()) {
        let (bytes, info) = crate::remote::UrlObject::open(&url)?
            .get()?
            .ok_or_else(|| changed("vanished (404 not found)".into()))?;
        if let Some(reason) = http_difference(e, &info)
            .or_else(|| (bytes.len() as u64 != e.size).then(|| "changed (short read)".to_owned()))
        {
            return Err(changed(reason));
        }
        out.write_all(&bytes)
            .map_err(io("write", PathBuf::from("output")))?;
        progress.advance(bytes.len() as u64);
        return Ok(Digest::of(&bytes));
    }
    let path = entry_path(e).map_err(changed)?;
    let mut src =
        std::fs::File::open(&path).map_err(|err| changed(format!("cannot be read: {err}")))?;
    let before = stat_of(&src.metadata().map_err(io("stat", &path))?);
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(io("read", &path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(io("write", PathBuf::from("output")))?;
        len += n as u64;
        progress.advance(n as u64);
    }
    let digest = Digest::from(hasher.finalize());
    let after = stat_of(&std::fs::metadata(&path).map_err(io("stat", &path))?);
    let ok = match &e.pin {
        Some(pin) => {
            len == e.size && before == after && *pin == format!("mtime:{}", after.mtime_ns)
        }
        None => len == e.size && digest == e.digest,
    };
    if !ok {
        return Err(changed(
            "changed since it was logged (found while reading it)".into(),
        ));
    }
    Ok(digest)
}

/// One line naming a reference and what happened to it.
pub(crate) fn problem_line(e: &ManifestEntry, reason: &str) -> String {
    format!(
        "`{}` ({}): {reason}",
        e.path,
        e.uri.as_deref().unwrap_or_default()
    )
}

/// Checks every reference among `entries` (in parallel); the problems, sorted.
pub(crate) fn check_all<'e>(entries: impl Iterator<Item = &'e ManifestEntry>) -> Vec<String> {
    let refs: Vec<&ManifestEntry> = entries.filter(|e| e.kind == EntryKind::Reference).collect();
    let mut problems: Vec<String> = refs
        .par_iter()
        .filter_map(|e| check_reference(e).err().map(|r| problem_line(e, &r)))
        .collect();
    problems.sort();
    problems
}
