//! References (issue 15): files a version records where they are instead of copying them,
//! pinned by their content digest (or, with `--no-checksum`, by size and mtime; an
//! `http(s)://` object by its ETag or Last-Modified and size; an `s3://`, `gs://` or `az://`
//! object by its ETag, size and version id when the bucket keeps versions), so a checkout
//! restores exactly what was logged or names what changed. A URI of another scheme is
//! recorded by itself only with `--no-checksum`: art can neither verify nor fetch it.

use super::Store;
use crate::error::{Error, Result, io};
use crate::model::{Digest, EntryKind, ManifestEntry, ManifestPath};
use crate::remote::{Bucket, Fetch, ObjectInfo, is_bucket_url};
use crate::worktree::{ScannedKind, hash_file, scan_dir, stat_of};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The default bound on the objects one `--ref` may expand to.
pub const DEFAULT_MAX_OBJECTS: u64 = 10_000_000;

/// A `--ref URI[=NAME]` argument split into its parts.
fn split_spec(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('=') {
        Some((uri, name)) if !uri.is_empty() && !name.is_empty() => (uri, Some(name)),
        _ => (spec, None),
    }
}

/// The pin of a reference recorded by its URI alone: the URI is its whole identity.
pub(crate) const URI_ONLY_PIN: &str = "uri";

/// Where a referenced object lives.
enum Source {
    /// A local file.
    File(PathBuf),
    /// An object on a web server.
    Http(String),
    /// An object (or a prefix) in an `s3://`, `gs://` or `az://` bucket.
    Bucket(String),
    /// A scheme art cannot read.
    Opaque {
        /// The scheme, without `://`.
        scheme: String,
    },
}

/// Where a reference URI points.
fn source_of(uri: &str) -> Result<Source> {
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return Ok(Source::Http(uri.to_owned()));
    }
    if is_bucket_url(uri) {
        return Ok(Source::Bucket(uri.to_owned()));
    }
    match uri.split_once("://") {
        Some((scheme, _)) if scheme != "file" => Ok(Source::Opaque {
            scheme: scheme.to_owned(),
        }),
        _ => local_path(uri).map(Source::File),
    }
}

/// Whether a reference entry was recorded by its URI alone.
fn is_uri_only(e: &ManifestEntry) -> bool {
    e.pin.as_deref() == Some(URI_ONLY_PIN)
}

/// Whether a reference names a local file (`file://`), hashed or pinned by mtime already.
fn is_local(e: &ManifestEntry) -> bool {
    matches!(
        source_of(e.uri.as_deref().unwrap_or_default()),
        Ok(Source::File(_))
    )
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
                "scheme `{scheme}` is not supported; art references `file://`, `http(s)://`, `s3://`, `gs://` and `az://` URIs and local paths"
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
    /// (or bucket prefix) one per file under it (`.artignore` honoured), named `NAME/…`
    /// (default: the last component). Each file is hashed, or with `checksum` off pinned by
    /// size and mtime; web and bucket objects are pinned by what their server says; a URI of
    /// another scheme is recorded by itself, and only with `checksum` off.
    ///
    /// # Errors
    /// [`Error::Reference`] for a missing object or an unsupported scheme,
    /// [`Error::TooManyObjects`] / [`Error::TooManyListed`] when a reference expands to more
    /// than `max_objects`; transport and credential errors of a server.
    pub(crate) fn resolve_references(
        &self,
        specs: &[String],
        checksum: bool,
        max_objects: u64,
        hash_remote: bool,
    ) -> Result<Vec<ManifestEntry>> {
        let mut out = self.resolve_references_pinned(specs, checksum, max_objects)?;
        if hash_remote {
            self.hash_remote_references(&mut out)?;
        }
        Ok(out)
    }

    /// `--checksum`: downloads every web and bucket object (as pinned) and adds the digest
    /// of its content to its pin, so a fetch also checks the bytes, not only the ETag.
    fn hash_remote_references(&self, entries: &mut [ManifestEntry]) -> Result<()> {
        let total = entries
            .iter()
            .filter(|e| e.pin.is_some() && !is_uri_only(e) && !is_local(e))
            .map(|e| e.size)
            .sum();
        self.progress.start("hashing", total);
        for e in entries
            .iter_mut()
            .filter(|e| e.pin.is_some() && !is_uri_only(e) && !is_local(e))
        {
            self.check_interrupt()?;
            let digest = copy_reference(e, &mut std::io::sink(), self.progress.as_ref())?;
            let pin = format!(
                "{}{CONTENT_PIN}{}",
                e.pin.as_deref().unwrap_or_default(),
                digest.to_hex()
            );
            let uri = e.uri.clone().unwrap_or_default();
            *e = ManifestEntry::pinned_reference(e.path.clone(), uri, e.size, pin);
        }
        self.progress.finish();
        Ok(())
    }

    fn resolve_references_pinned(
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
                Source::Bucket(url) => {
                    out.extend(bucket_references(&url, name, max_objects, &self.interrupt)?);
                    continue;
                }
                Source::Opaque { scheme } => {
                    out.push(uri_only_reference(uri, &scheme, name, checksum)?);
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

/// The last non-empty `/`-separated segment of a URI's path: a reference's default name.
fn last_segment(text: &str) -> Option<&str> {
    text.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
}

/// The entry of a URI whose scheme art cannot read: only with `--no-checksum`, which records
/// the URI itself as the identity (size 0: art cannot ask for one).
fn uri_only_reference(
    uri: &str,
    scheme: &str,
    name: Option<&str>,
    checksum: bool,
) -> Result<ManifestEntry> {
    let failed = |reason: String| Error::Reference {
        uri: uri.to_owned(),
        reason,
    };
    if checksum {
        return Err(failed(format!(
            "scheme `{scheme}` is not supported; art references `file://`, `http(s)://`, `s3://`, `gs://` and `az://` URIs and local paths (--no-checksum records it by its URI alone, neither verified nor fetchable)"
        )));
    }
    // The first segment after the scheme is a host or bucket, not a file name.
    let path = uri.split_once("://").map_or("", |(_, rest)| rest);
    let name = match name {
        Some(n) => n.trim_end_matches('/'),
        None => path
            .split_once('/')
            .and_then(|(_, p)| last_segment(p))
            .ok_or_else(|| failed("the URI names no file; name it with URI=NAME".into()))?,
    };
    Ok(ManifestEntry::pinned_reference(
        ManifestPath::new(name)?,
        uri.to_owned(),
        0,
        URI_ONLY_PIN.to_owned(),
    ))
}

/// What pins a bucket object: its ETag (quoted, as S3 sends it) and, in a bucket that keeps
/// versions, its version id: `etag:"…"` or `etag:"…" version:ID`.
fn bucket_pin(info: &ObjectInfo) -> Option<String> {
    let etag = quoted(info.etag.as_deref()?);
    Some(match &info.version {
        Some(v) => format!("etag:{etag} version:{v}"),
        None => format!("etag:{etag}"),
    })
}

/// An ETag in double quotes, however the server (or its listing) spelled it.
fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

/// The ETag (quoted) and version id of a bucket object's pin.
fn parse_bucket_pin(pin: &str) -> Option<(String, Option<&str>)> {
    let rest = split_content(pin).0.strip_prefix("etag:\"")?;
    let (etag, rest) = rest.split_once('"')?;
    let version = match rest {
        "" => None,
        r => Some(r.strip_prefix(" version:").filter(|v| !v.is_empty())?),
    };
    Some((format!("\"{etag}\""), version))
}

/// What `--checksum` adds to a web or bucket object's pin: ` blake3:<hex>`, the digest of its
/// content, downloaded and hashed at log time and checked at every fetch.
const CONTENT_PIN: &str = " blake3:";

/// A pin without its content digest, and the digest (`--checksum`), if any.
fn split_content(pin: &str) -> (&str, Option<Digest>) {
    match pin.rsplit_once(CONTENT_PIN) {
        Some((base, hex)) => match hex.parse::<Digest>() {
            Ok(d) => (base, Some(d)),
            Err(_) => (pin, None),
        },
        None => (pin, None),
    }
}

/// The entry of one bucket object.
fn bucket_entry(name: &str, url: String, info: &ObjectInfo) -> Result<ManifestEntry> {
    let pin = bucket_pin(info).ok_or_else(|| Error::Reference {
        uri: url.clone(),
        reason: "the server sends no ETag, so art cannot pin it".into(),
    })?;
    Ok(ManifestEntry::pinned_reference(
        ManifestPath::new(name)?,
        url,
        info.size,
        pin,
    ))
}

/// The entries of an `s3://`, `gs://` or `az://` reference: the one object it names, or
/// every object under it (a URI ending in `/`, the bucket itself, or a key that names no
/// object but prefixes some), named `NAME/<rest of the key>`.
fn bucket_references(
    url: &str,
    name: Option<&str>,
    max_objects: u64,
    stop: &AtomicBool,
) -> Result<Vec<ManifestEntry>> {
    let stopped = |e: crate::remote::Error| match e {
        crate::remote::Error::Interrupted => Error::Interrupted,
        e => e.into(),
    };
    let failed = |reason: String| Error::Reference {
        uri: url.to_owned(),
        reason,
    };
    let (bucket, key) = Bucket::for_url(url)?;
    if !key.is_empty()
        && !key.ends_with('/')
        && let Some(info) = bucket.head(&key, None)?
    {
        let name = match name {
            Some(n) => n.trim_end_matches('/'),
            None => last_segment(&key).unwrap_or(&key),
        };
        return Ok(vec![bucket_entry(name, bucket.url_of(&key), &info)?]);
    }
    let prefix = if key.is_empty() || key.ends_with('/') {
        key.clone()
    } else {
        format!("{key}/")
    };
    let listed = bucket
        .list(&prefix, max_objects, stop)
        .map_err(stopped)?
        .ok_or_else(|| Error::TooManyListed {
            uri: url.to_owned(),
            count: max_objects.saturating_add(1),
            max: max_objects,
        })?;
    let name = match name {
        Some(n) => n.trim_end_matches('/').to_owned(),
        None => last_segment(&prefix).map_or_else(
            || url.split('/').nth(2).unwrap_or_default().to_owned(),
            str::to_owned,
        ),
    };
    // A listing carries no version ids (and some servers send no ETags): when an object
    // shows the bucket keeps versions, or an ETag is missing, every object is asked. A
    // zero-byte one is always asked: the listing drops the trailing `/` of a folder marker
    // (what consoles create for `data/sub/`), so only a HEAD tells a marker (not found
    // without its slash) from an empty file such as `_SUCCESS`.
    let first = match listed.iter().find(|(_, i)| i.size > 0) {
        Some((k, _)) => bucket.head(k, None)?,
        None => None,
    };
    let ask_each = first.as_ref().is_some_and(|i| i.version.is_some())
        || listed.iter().any(|(_, i)| i.etag.is_none());
    let asked: Vec<(String, Option<String>)> = listed
        .iter()
        .filter(|(_, i)| ask_each || i.size == 0)
        .map(|(k, _)| (k.clone(), None))
        .collect();
    let mut answers = bucket.head_many(&asked, stop).map_err(stopped)?.into_iter();
    let mut entries = Vec::with_capacity(listed.len());
    for (k, listed_info) in &listed {
        let info = if ask_each || listed_info.size == 0 {
            match answers.next().flatten() {
                Some(info) => info,
                None if listed_info.size == 0 => continue,
                None => {
                    return Err(failed(format!("`{k}` vanished while it was being listed")));
                }
            }
        } else {
            listed_info.clone()
        };
        let rest = k.strip_prefix(&prefix).unwrap_or(k);
        entries.push(bucket_entry(
            &format!("{name}/{rest}"),
            bucket.url_of(k),
            &info,
        )?);
    }
    if entries.is_empty() {
        return Err(failed(if prefix.is_empty() {
            "the bucket holds no object".into()
        } else if key.ends_with('/') {
            "no object under this prefix".into()
        } else {
            "no such object, and no object under it as a prefix".into()
        }));
    }
    Ok(entries)
}

/// How a bucket object differs from the pinned one (size, ETag), if it does.
fn bucket_difference(e: &ManifestEntry, info: &ObjectInfo) -> Option<String> {
    if info.size != e.size {
        return Some(format!(
            "changed (size {} bytes, logged {})",
            info.size, e.size
        ));
    }
    let logged = e.pin.as_deref().and_then(parse_bucket_pin)?.0;
    let now = info.etag.as_deref().map(quoted);
    (now.as_deref() != Some(logged.as_str())).then(|| {
        format!(
            "changed (now etag:{}, logged etag:{logged})",
            now.as_deref().unwrap_or("none")
        )
    })
}

/// Checks bucket references with one client per bucket and several HEADs in flight; the
/// problems, one line each.
fn check_bucket_refs(entries: &[&ManifestEntry]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut groups: HashMap<String, (Arc<Bucket>, Vec<(&ManifestEntry, String)>)> = HashMap::new();
    for e in entries {
        match Bucket::for_url(e.uri.as_deref().unwrap_or_default()) {
            Ok((bucket, key)) => {
                groups
                    .entry(bucket.url_of(""))
                    .or_insert_with(|| (bucket, Vec::new()))
                    .1
                    .push((e, key));
            }
            Err(err) => problems.push(problem_line(e, &format!("cannot be read: {err}"))),
        }
    }
    for (bucket, members) in groups.into_values() {
        let mut asked = Vec::with_capacity(members.len());
        for (e, key) in &members {
            match e.pin.as_deref().and_then(parse_bucket_pin) {
                Some((_, version)) => asked.push((key.clone(), version.map(str::to_owned))),
                None => problems.push(problem_line(e, "its pin is not a bucket object's")),
            }
        }
        let pinned = members
            .iter()
            .filter(|(e, _)| e.pin.as_deref().and_then(parse_bucket_pin).is_some());
        // Checks change nothing, so they run to the end (only a listing at log is stoppable).
        match bucket.head_many(&asked, &AtomicBool::new(false)) {
            Ok(answers) => {
                for (((e, _), answer), (_, version)) in pinned.zip(answers).zip(&asked) {
                    let reason = match answer {
                        None if version.is_some() => {
                            Some("vanished (its pinned version no longer exists)".to_owned())
                        }
                        None => Some("vanished (no such object)".to_owned()),
                        Some(info) => bucket_difference(e, &info),
                    };
                    problems.extend(reason.map(|r| problem_line(e, &r)));
                }
            }
            Err(err) => problems
                .extend(pinned.map(|(e, _)| problem_line(e, &format!("cannot be read: {err}")))),
        }
    }
    problems
}

/// How a web object differs from the pinned one, if it does.
fn http_difference(e: &ManifestEntry, info: &crate::remote::ObjectInfo) -> Option<String> {
    if info.size != e.size {
        return Some(format!(
            "changed (size {} bytes, logged {})",
            info.size, e.size
        ));
    }
    let logged = split_content(e.pin.as_deref().unwrap_or_default()).0;
    (info.pin().as_deref() != Some(logged)).then(|| {
        format!(
            "changed (now {}, logged {logged})",
            info.pin().unwrap_or_else(|| "unpinned".into()),
        )
    })
}

/// Whether the object a reference entry names is still the one logged: `Err` says how it
/// differs. Reads the whole object for a checksummed file. Bucket objects are checked in
/// batches by [`check_bucket_refs`].
fn check_reference(e: &ManifestEntry) -> std::result::Result<(), String> {
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
    let uri = e.uri.as_deref().unwrap_or_default();
    if is_uri_only(e) {
        return Err(Error::Unfetchable {
            problems: vec![problem_line(e, "recorded by URI alone")],
        });
    }
    match source_of(uri) {
        Ok(Source::Http(url)) => {
            let object = crate::remote::UrlObject::open(&url)?;
            let (mut reader, info) = object
                .get()?
                .ok_or_else(|| changed("vanished (404 not found)".into()))?;
            if let Some(reason) = http_difference(e, &info) {
                return Err(changed(reason));
            }
            return copy_checked(e, &mut reader, out, progress);
        }
        Ok(Source::Bucket(url)) => {
            let (bucket, key) = Bucket::for_url(&url)?;
            let (etag, version) = e
                .pin
                .as_deref()
                .and_then(parse_bucket_pin)
                .ok_or_else(|| changed("its pin is not a bucket object's".into()))?;
            // The pinned version when the bucket keeps versions (an overwritten object still
            // yields the logged bytes), else the object while its ETag is still the logged one.
            let if_match = version.is_none().then_some(etag.as_str());
            let (mut reader, info) = match bucket.get(&key, version, if_match)? {
                Fetch::Found(reader, info) => (reader, info),
                Fetch::Missing if version.is_some() => {
                    return Err(changed(
                        "vanished (its pinned version no longer exists)".into(),
                    ));
                }
                Fetch::Missing => return Err(changed("vanished (no such object)".into())),
                Fetch::Changed => {
                    return Err(changed(format!("changed (its ETag is no longer {etag})")));
                }
            };
            if let Some(reason) = bucket_difference(e, &info) {
                return Err(changed(reason));
            }
            return copy_checked(e, &mut reader, out, progress);
        }
        _ => {}
    }
    let path = entry_path(e).map_err(changed)?;
    let mut src =
        std::fs::File::open(&path).map_err(|err| changed(format!("cannot be read: {err}")))?;
    let before = stat_of(&src.metadata().map_err(io("stat", &path))?);
    let (digest, len) = copy_hashed(&mut src, out, progress, &path)?;
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

/// Copies `src` into `out`, hashing as it goes; the digest and length of what was copied.
fn copy_hashed(
    src: &mut impl Read,
    out: &mut impl Write,
    progress: &dyn super::Progress,
    from: &Path,
) -> Result<(Digest, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(io("read", from))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(io("write", PathBuf::from("output")))?;
        len += n as u64;
        progress.advance(n as u64);
    }
    Ok((Digest::from(hasher.finalize()), len))
}

/// Streams a fetched object into `out` and checks that exactly the logged size arrived.
fn copy_checked(
    e: &ManifestEntry,
    src: &mut impl Read,
    out: &mut impl Write,
    progress: &dyn super::Progress,
) -> Result<Digest> {
    let uri = e.uri.as_deref().unwrap_or_default();
    let (digest, len) = copy_hashed(src, out, progress, Path::new(uri))?;
    let changed = |reason: String| Error::ReferencesChanged {
        problems: vec![problem_line(e, &reason)],
    };
    if len != e.size {
        return Err(changed(format!(
            "changed ({len} bytes arrived, logged {})",
            e.size
        )));
    }
    if let (_, Some(logged)) = split_content(e.pin.as_deref().unwrap_or_default())
        && logged != digest
    {
        return Err(changed(
            "changed (same ETag, but its content hashes differently from the logged one)".into(),
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

/// Checks every reference among `entries` (in parallel; bucket objects several HEADs at a
/// time per bucket); the problems, sorted. A reference recorded by URI alone has nothing to
/// check.
pub(crate) fn check_all<'e>(entries: impl Iterator<Item = &'e ManifestEntry>) -> Vec<String> {
    let (in_buckets, elsewhere): (Vec<&ManifestEntry>, Vec<&ManifestEntry>) = entries
        .filter(|e| e.kind == EntryKind::Reference && !is_uri_only(e))
        .partition(|e| is_bucket_url(e.uri.as_deref().unwrap_or_default()));
    let mut problems: Vec<String> = elsewhere
        .par_iter()
        .filter_map(|e| check_reference(e).err().map(|r| problem_line(e, &r)))
        .collect();
    problems.extend(check_bucket_refs(&in_buckets));
    problems.sort();
    problems
}

/// What checkout asks before touching DEST: every reference it will write can be fetched
/// and is still the object logged.
///
/// # Errors
/// [`Error::Unfetchable`] naming references recorded by URI alone; otherwise
/// [`Error::ReferencesChanged`] naming every object that changed or vanished.
pub(crate) fn check_for_fetch(entries: &[&ManifestEntry]) -> Result<()> {
    let unfetchable: Vec<String> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Reference && is_uri_only(e))
        .map(|e| problem_line(e, "recorded by URI alone"))
        .collect();
    if !unfetchable.is_empty() {
        return Err(Error::Unfetchable {
            problems: unfetchable,
        });
    }
    let problems = check_all(entries.iter().copied());
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::ReferencesChanged { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(etag: Option<&str>, version: Option<&str>) -> ObjectInfo {
        ObjectInfo {
            size: 3,
            etag: etag.map(str::to_owned),
            modified_ms: None,
            version: version.map(str::to_owned),
        }
    }

    #[test]
    fn bucket_pins_round_trip() {
        let plain = bucket_pin(&info(Some("\"abc\""), None)).unwrap();
        assert_eq!(plain, "etag:\"abc\"");
        assert_eq!(parse_bucket_pin(&plain), Some(("\"abc\"".into(), None)));
        // A listing's unquoted ETag pins the same object as a HEAD's quoted one.
        assert_eq!(bucket_pin(&info(Some("abc"), None)).unwrap(), plain);
        let versioned = bucket_pin(&info(Some("\"abc-2\""), Some("3HL4kqtJ.lT"))).unwrap();
        assert_eq!(versioned, "etag:\"abc-2\" version:3HL4kqtJ.lT");
        assert_eq!(
            parse_bucket_pin(&versioned),
            Some(("\"abc-2\"".into(), Some("3HL4kqtJ.lT")))
        );
        assert_eq!(bucket_pin(&info(None, Some("v"))), None);
        for bad in ["mtime:1", "etag:\"x", "etag:\"x\" version:", "etag:\"x\"y"] {
            assert_eq!(parse_bucket_pin(bad), None, "{bad}");
        }
    }

    #[test]
    fn sources_by_scheme() {
        assert!(matches!(source_of("s3://b/k"), Ok(Source::Bucket(_))));
        assert!(matches!(source_of("az://c/k/"), Ok(Source::Bucket(_))));
        assert!(matches!(source_of("https://h/x"), Ok(Source::Http(_))));
        assert!(matches!(source_of("file:///x"), Ok(Source::File(_))));
        assert!(matches!(source_of("rel/x"), Ok(Source::File(_))));
        assert!(
            matches!(source_of("hdfs://nn/x"), Ok(Source::Opaque { scheme }) if scheme == "hdfs")
        );
        assert!(source_of("file://rel").is_err());
    }
}
