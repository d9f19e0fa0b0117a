//! The manifest: a version's sorted file list, its canonical bytes, and the path rules that
//! keep a checkout inside its destination.

use super::{Digest, Error, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;
use std::io::Read;

/// Version of the canonical manifest encoding of a version without references; readers
/// refuse values they do not know.
pub const MANIFEST_FORMAT: u32 = 1;

/// The manifest format of a version that holds at least one reference entry (a format-1
/// reader cannot restore it, so it must refuse it); versions without references keep format 1,
/// and with it their digests.
pub const MANIFEST_FORMAT_REFERENCES: u32 = 2;

/// A relative, `/`-separated, UTF-8 path that cannot leave the directory it is joined to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ManifestPath(Box<str>);

impl ManifestPath {
    /// Checks DESIGN's path rules: relative, `/`-separated, no empty, `.`, `..` or `.artifacts`
    /// component, no NUL byte.
    ///
    /// # Errors
    /// [`Error::UnsafePath`] naming the rule broken.
    pub fn new(path: &str) -> Result<Self> {
        let fail = |reason| {
            Err(Error::UnsafePath {
                path: path.to_owned(),
                reason,
            })
        };
        if path.is_empty() {
            return fail("empty path");
        }
        if path.starts_with('/') {
            return fail("absolute path");
        }
        if path.contains('\0') {
            return fail("NUL byte");
        }
        for comp in path.split('/') {
            match comp {
                "" => return fail("empty component"),
                "." | ".." => return fail("`.` or `..` component"),
                ".artifacts" => return fail("`.artifacts` component"),
                _ => {}
            }
        }
        Ok(ManifestPath(path.into()))
    }

    /// The path as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for ManifestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ManifestPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ManifestPath::new(&s).map_err(serde::de::Error::custom)
    }
}

/// What a manifest entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file; `digest` is the BLAKE3 of its content.
    File,
    /// A symbolic link; `digest` is the BLAKE3 of its target text.
    Symlink,
    /// A file that stays where it is (`uri`), pinned by its content digest, or by `pin`
    /// (size and mtime) when logged with `--no-checksum`; the store holds no blob for it.
    Reference,
}

/// One path of a version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Where the entry lives, relative to the version's root.
    pub path: ManifestPath,
    /// File or symlink.
    pub kind: EntryKind,
    /// Content length in bytes (target length for a symlink).
    pub size: u64,
    /// BLAKE3 of the content (of the target text for a symlink).
    pub digest: Digest,
    /// Whether the owner-executable bit is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exec: bool,
    /// A symlink's target, as stored in the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A reference's location (`file:///…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// A reference logged without a checksum: what identifies the object instead
    /// (`mtime:<ns>`); its `digest` is then the BLAKE3 of `<uri>\n<pin>`, not of the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

impl ManifestEntry {
    /// A regular file entry.
    #[must_use]
    pub fn file(path: ManifestPath, size: u64, digest: Digest, exec: bool) -> Self {
        ManifestEntry {
            path,
            kind: EntryKind::File,
            size,
            digest,
            exec,
            target: None,
            uri: None,
            pin: None,
        }
    }

    /// A symlink entry pointing at `target`.
    #[must_use]
    pub fn symlink(path: ManifestPath, target: String) -> Self {
        ManifestEntry {
            path,
            kind: EntryKind::Symlink,
            size: target.len() as u64,
            digest: Digest::of(target.as_bytes()),
            exec: false,
            target: Some(target),
            uri: None,
            pin: None,
        }
    }

    /// A reference to the object at `uri`, pinned by its content `digest`.
    #[must_use]
    pub fn reference(path: ManifestPath, uri: String, size: u64, digest: Digest) -> Self {
        ManifestEntry {
            path,
            kind: EntryKind::Reference,
            size,
            digest,
            exec: false,
            target: None,
            uri: Some(uri),
            pin: None,
        }
    }

    /// A reference to the object at `uri` identified by `pin` instead of a checksum.
    #[must_use]
    pub fn pinned_reference(path: ManifestPath, uri: String, size: u64, pin: String) -> Self {
        let digest = Digest::of(format!("{uri}\n{pin}").as_bytes());
        ManifestEntry {
            pin: Some(pin),
            ..ManifestEntry::reference(path, uri, size, digest)
        }
    }

    /// Whether the fields fit the kind: a reference has a `uri` (and no `target`), other
    /// kinds have neither `uri` nor `pin`, and a pinned reference's digest is its identity's.
    fn is_well_formed(&self) -> bool {
        match self.kind {
            EntryKind::Reference => {
                self.target.is_none()
                    && !self.exec
                    && self.uri.as_ref().is_some_and(|uri| {
                        self.pin.as_ref().is_none_or(|pin| {
                            Digest::of(format!("{uri}\n{pin}").as_bytes()) == self.digest
                        })
                    })
            }
            EntryKind::File | EntryKind::Symlink => self.uri.is_none() && self.pin.is_none(),
        }
    }
}

/// The manifest format of `entries`: [`MANIFEST_FORMAT_REFERENCES`] when one is a reference.
pub fn format_of<'e>(mut entries: impl Iterator<Item = &'e ManifestEntry>) -> u32 {
    if entries.any(|e| e.kind == EntryKind::Reference) {
        MANIFEST_FORMAT_REFERENCES
    } else {
        MANIFEST_FORMAT
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Encoded {
    format: u32,
    entries: Vec<ManifestEntry>,
}

/// A version's file list, sorted by path bytes, with no duplicate or overlapping paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Sorts `entries` and checks that no path repeats and no file sits where another
    /// entry needs a directory (`a` and `a/b`).
    ///
    /// # Errors
    /// [`Error::CorruptManifest`] on duplicates or overlaps.
    pub fn new(mut entries: Vec<ManifestEntry>) -> Result<Self> {
        entries.sort_unstable_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        check_sorted_paths(&entries)?;
        Ok(Manifest { entries })
    }

    /// The entries, sorted by path.
    #[must_use]
    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    /// Looks up one path.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&ManifestEntry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The manifest of the entries `keep` accepts (a subset of a valid manifest is valid).
    #[must_use]
    pub fn retain(mut self, keep: impl FnMut(&ManifestEntry) -> bool) -> Self {
        self.entries.retain(keep);
        self
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the version has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Pairs of paths that differ only in letter case (`A.txt` and `a.txt`): distinct files
    /// where case matters, one file (the second overwriting the first) where it does not.
    #[must_use]
    pub fn case_collisions(&self) -> Vec<(String, String)> {
        let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
        let mut out = Vec::new();
        for e in &self.entries {
            let path = e.path.as_str();
            match seen.entry(path.to_lowercase()) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    out.push(((*first.get()).to_owned(), path.to_owned()));
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(path);
                }
            }
        }
        out
    }

    /// Sum of the entries' sizes.
    #[must_use]
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The canonical bytes: compact JSON, entries sorted by path, fields in fixed order,
    /// defaults omitted. Equal manifests give equal bytes.
    #[must_use]
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        CanonicalReader::with_format(self.entries.iter(), self.format())
            .read_to_end(&mut out)
            .expect("encoding to memory cannot fail");
        out
    }

    /// The version digest: BLAKE3 of the canonical bytes, encoded as they are hashed.
    #[must_use]
    pub fn digest(&self) -> Digest {
        let mut hasher = blake3::Hasher::new();
        std::io::copy(
            &mut CanonicalReader::with_format(self.entries.iter(), self.format()),
            &mut hasher,
        )
        .expect("hashing in memory cannot fail");
        Digest::from(hasher.finalize())
    }

    /// The encoding's format number: 2 when the version holds references, else 1.
    #[must_use]
    pub fn format(&self) -> u32 {
        format_of(self.entries.iter())
    }

    /// Whether any entry is a reference.
    #[must_use]
    pub fn has_references(&self) -> bool {
        self.format() == MANIFEST_FORMAT_REFERENCES
    }

    /// Parses canonical bytes, checking every path rule; bytes that are not canonical
    /// (unsorted, reformatted) are rejected, so a digest names exactly one manifest.
    ///
    /// # Errors
    /// [`Error::CorruptManifest`] or [`Error::UnsafePath`].
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_reader(bytes, &Digest::of(bytes))
    }

    /// Parses the manifest named `digest` from a reader (a version's chunks, streamed), so
    /// its bytes are never held whole. The entries must re-encode to exactly `digest`, which
    /// proves both that the bytes were canonical and that they are the version's.
    ///
    /// # Errors
    /// [`Error::CorruptManifest`] or [`Error::UnsafePath`].
    pub fn from_reader(reader: impl Read, digest: &Digest) -> Result<Self> {
        let enc: Encoded =
            serde_json::from_reader(std::io::BufReader::with_capacity(1 << 16, reader))
                .map_err(|e| Error::CorruptManifest(e.to_string()))?;
        if enc.format != MANIFEST_FORMAT && enc.format != MANIFEST_FORMAT_REFERENCES {
            return Err(Error::CorruptManifest(format!(
                "manifest format {} is not supported (this art reads {MANIFEST_FORMAT} and {MANIFEST_FORMAT_REFERENCES}); upgrade art",
                enc.format
            )));
        }
        if let Some(e) = enc.entries.iter().find(|e| !e.is_well_formed()) {
            return Err(Error::CorruptManifest(format!(
                "entry `{}` has fields that do not fit its kind",
                e.path
            )));
        }
        if let Some(w) = enc
            .entries
            .windows(2)
            .find(|w| w[0].path.as_str() > w[1].path.as_str())
        {
            return Err(Error::CorruptManifest(format!(
                "entries are not sorted (`{}` before `{}`)",
                w[0].path, w[1].path
            )));
        }
        check_sorted_paths(&enc.entries)?;
        let m = Manifest {
            entries: enc.entries,
        };
        if m.digest() != *digest {
            return Err(Error::CorruptManifest(
                "bytes are not in canonical form".into(),
            ));
        }
        Ok(m)
    }
}

/// Checks sorted entries: no path repeats, and no entry is a directory of another (`a`
/// and `a/b`). Binary searches instead of a set of all paths, so memory stays flat.
fn check_sorted_paths(entries: &[ManifestEntry]) -> Result<()> {
    if let Some(w) = entries.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(Error::CorruptManifest(format!(
            "duplicate path `{}`",
            w[0].path
        )));
    }
    for e in entries {
        let p = e.path.as_str();
        for (i, _) in p.match_indices('/') {
            let dir = &p[..i];
            if entries
                .binary_search_by(|x| x.path.as_str().cmp(dir))
                .is_ok()
            {
                return Err(Error::CorruptManifest(format!(
                    "`{dir}` is an entry and also a directory of `{p}`"
                )));
            }
        }
    }
    Ok(())
}

/// The digest of a manifest of `entries` (sorted, unique), without building its bytes.
pub fn digest_of_entries<I>(entries: I) -> Digest
where
    I: Iterator,
    I::Item: Borrow<ManifestEntry>,
{
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut CanonicalReader::new(entries), &mut hasher)
        .expect("hashing in memory cannot fail");
    Digest::from(hasher.finalize())
}

/// The canonical bytes of a manifest, encoded as they are read: a version of a million
/// files is hashed and stored without its bytes ever being whole in memory. The entries
/// must come sorted by path, without duplicates.
pub struct CanonicalReader<I> {
    entries: I,
    format: u32,
    buf: Vec<u8>,
    pos: usize,
    stage: Stage,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    First,
    Rest,
    Done,
}

impl<I> CanonicalReader<I>
where
    I: Iterator,
    I::Item: Borrow<ManifestEntry>,
{
    /// Encodes `entries` (sorted by path, unique, no reference) in format 1.
    pub fn new(entries: I) -> Self {
        Self::with_format(entries, MANIFEST_FORMAT)
    }

    /// Encodes `entries` (sorted by path, unique) with the format [`format_of`] gives them.
    pub fn with_format(entries: I, format: u32) -> Self {
        CanonicalReader {
            entries,
            format,
            buf: Vec::with_capacity(1 << 16),
            pos: 0,
            stage: Stage::Header,
        }
    }

    /// Encodes the next pieces into the buffer, about 64 KiB at a time.
    fn refill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        while self.buf.len() < 1 << 16 && self.stage != Stage::Done {
            match self.stage {
                Stage::Header => {
                    self.buf.extend_from_slice(
                        format!("{{\"format\":{},\"entries\":[", self.format).as_bytes(),
                    );
                    self.stage = Stage::First;
                }
                Stage::First | Stage::Rest => {
                    if let Some(e) = self.entries.next() {
                        debug_assert!(
                            self.format == MANIFEST_FORMAT_REFERENCES
                                || e.borrow().kind != EntryKind::Reference,
                            "a reference needs manifest format 2"
                        );
                        if self.stage == Stage::Rest {
                            self.buf.push(b',');
                        }
                        serde_json::to_writer(&mut self.buf, e.borrow())
                            .expect("manifest fields always serialise to JSON");
                        self.stage = Stage::Rest;
                    } else {
                        self.buf.extend_from_slice(b"]}");
                        self.stage = Stage::Done;
                    }
                }
                Stage::Done => {}
            }
        }
    }
}

impl<I> Read for CanonicalReader<I>
where
    I: Iterator,
    I::Item: Borrow<ManifestEntry>,
{
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.refill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// How one path differs between two file lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "change")]
pub enum Change {
    /// Only in the new side.
    Added {
        /// The path.
        path: String,
        /// Its size on the new side.
        size: u64,
    },
    /// Only in the old side.
    Removed {
        /// The path.
        path: String,
        /// Its size on the old side.
        size: u64,
    },
    /// In both, with different content or mode.
    Modified {
        /// The path.
        path: String,
        /// Size on the old side.
        old_size: u64,
        /// Size on the new side.
        new_size: u64,
    },
}

impl Change {
    /// The path the change is about.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. }
            | Change::Removed { path, .. }
            | Change::Modified { path, .. } => path,
        }
    }
}

/// What a diff compares of an entry, so a directory can be compared with a version without
/// building manifest entries for it.
pub trait Listed {
    /// The path.
    fn path(&self) -> &str;
    /// Content length in bytes.
    fn size(&self) -> u64;
    /// Whether two entries have the same content and mode (paths aside).
    fn same_content(&self, other: &impl Listed) -> bool {
        self.kind() == other.kind()
            && self.digest() == other.digest()
            && (self.kind() == EntryKind::Symlink || self.exec() == other.exec())
    }
    /// File or symlink.
    fn kind(&self) -> EntryKind;
    /// BLAKE3 of the content.
    fn digest(&self) -> &Digest;
    /// The owner-executable bit.
    fn exec(&self) -> bool;
}

impl Listed for ManifestEntry {
    fn path(&self) -> &str {
        self.path.as_str()
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn kind(&self) -> EntryKind {
        self.kind
    }
    fn digest(&self) -> &Digest {
        &self.digest
    }
    fn exec(&self) -> bool {
        self.exec
    }
}

/// Compares two sorted entry lists (a merge walk, linear in their lengths).
#[must_use]
pub fn diff_entries(old: &[impl Listed], new: &[impl Listed]) -> Vec<Change> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < old.len() || j < new.len() {
        let ord = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => a.path().cmp(b.path()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, _) => std::cmp::Ordering::Greater,
        };
        match ord {
            std::cmp::Ordering::Less => {
                out.push(Change::Removed {
                    path: old[i].path().to_owned(),
                    size: old[i].size(),
                });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(Change::Added {
                    path: new[j].path().to_owned(),
                    size: new[j].size(),
                });
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if !old[i].same_content(&new[j]) {
                    out.push(Change::Modified {
                        path: old[i].path().to_owned(),
                        old_size: old[i].size(),
                        new_size: new[j].size(),
                    });
                }
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str, content: &[u8]) -> ManifestEntry {
        ManifestEntry::file(
            ManifestPath::new(p).unwrap(),
            content.len() as u64,
            Digest::of(content),
            false,
        )
    }

    #[test]
    fn paths_differing_only_in_case_are_found() {
        let m = Manifest::new(vec![
            file("A.txt", b"1"),
            file("Dir/X", b"2"),
            file("a.txt", b"3"),
            file("b.txt", b"4"),
            file("dir/x", b"5"),
            file("dir/y", b"6"),
            file("ÉTÉ", b"7"),
            file("été", b"8"),
        ])
        .unwrap();
        let pairs = m.case_collisions();
        let expect = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            pairs,
            [
                expect("A.txt", "a.txt"),
                expect("Dir/X", "dir/x"),
                expect("ÉTÉ", "été")
            ]
        );
        assert!(
            m.retain(|e| e.path.as_str() != "a.txt"
                && e.path.as_str() != "dir/x"
                && e.path.as_str() != "été")
                .case_collisions()
                .is_empty()
        );
    }

    #[test]
    fn path_rules() {
        for ok in [
            "a",
            "a/b",
            "dir with space/ünïcode.txt",
            ".hidden",
            "a..b",
            "..a",
        ] {
            assert!(ManifestPath::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/x",
            "../x",
            "a/../b",
            "a//b",
            "a/",
            "./a",
            ".artifacts/x",
            "a/.artifacts",
            "a\0b",
        ] {
            assert!(ManifestPath::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_form_is_sorted_and_stable() {
        let m1 = Manifest::new(vec![file("b", b"2"), file("a/x", b"1")]).unwrap();
        let m2 = Manifest::new(vec![file("a/x", b"1"), file("b", b"2")]).unwrap();
        assert_eq!(m1.to_canonical_bytes(), m2.to_canonical_bytes());
        assert_eq!(m1.digest(), m2.digest());
        let text = String::from_utf8(m1.to_canonical_bytes()).unwrap();
        insta::assert_snapshot!(text);
        assert_eq!(Manifest::from_canonical_bytes(text.as_bytes()).unwrap(), m1);
    }

    #[test]
    fn streamed_encoding_equals_one_piece_encoding() {
        #[derive(Serialize)]
        struct Whole<'a> {
            format: u32,
            entries: &'a [ManifestEntry],
        }
        // Enough entries to cross the encoder's 64 KiB refills several times.
        let m = Manifest::new(
            (0..3000)
                .map(|i| file(&format!("d{}/f{i}", i % 7), i.to_string().as_bytes()))
                .collect(),
        )
        .unwrap();
        let whole = serde_json::to_vec(&Whole {
            format: MANIFEST_FORMAT,
            entries: m.entries(),
        })
        .unwrap();
        let mut streamed = Vec::new();
        let mut reader = CanonicalReader::new(m.entries().iter());
        let mut piece = [0u8; 1000];
        loop {
            let n = reader.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            streamed.extend_from_slice(&piece[..n]);
        }
        assert_eq!(streamed, whole);
        assert_eq!(m.digest(), Digest::of(&whole));
        let parsed = Manifest::from_reader(&whole[..], &m.digest()).unwrap();
        assert_eq!(parsed, m);
        let other = Digest::of(b"another version");
        assert!(Manifest::from_reader(&whole[..], &other).is_err());
    }

    #[test]
    fn rejects_non_canonical_and_crafted_bytes() {
        let m = Manifest::new(vec![file("a", b"1"), file("b", b"2")]).unwrap();
        let text = String::from_utf8(m.to_canonical_bytes()).unwrap();
        let pretty = text.replace(",\"", ", \"");
        assert!(Manifest::from_canonical_bytes(pretty.as_bytes()).is_err());
        for crafted in ["../x", "/etc/x", "a//b", ".artifacts/x"] {
            let evil = text.replacen("\"a\"", &format!("{crafted:?}"), 1);
            let err = Manifest::from_canonical_bytes(evil.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("unsafe path"), "{crafted}: {err}");
        }
        assert!(Manifest::new(vec![file("a", b"1"), file("a", b"1")]).is_err());
        assert!(Manifest::new(vec![file("a", b"1"), file("a/b", b"1")]).is_err());
    }

    #[test]
    fn references_take_format_2_and_are_checked() {
        let p = |s: &str| ManifestPath::new(s).unwrap();
        let only_files = Manifest::new(vec![file("a", b"1")]).unwrap();
        assert_eq!(only_files.format(), MANIFEST_FORMAT);
        let m = Manifest::new(vec![
            file("a", b"1"),
            ManifestEntry::reference(p("r/x"), "file:///data/x".into(), 3, Digest::of(b"xyz")),
            ManifestEntry::pinned_reference(p("r/y"), "file:///data/y".into(), 5, "mtime:7".into()),
        ])
        .unwrap();
        assert!(m.has_references());
        let text = String::from_utf8(m.to_canonical_bytes()).unwrap();
        assert!(text.starts_with("{\"format\":2,"), "{text}");
        assert!(
            text.contains("\"kind\":\"reference\",\"size\":5,")
                && text.contains("\"uri\":\"file:///data/y\",\"pin\":\"mtime:7\"}"),
            "{text}"
        );
        assert_eq!(Manifest::from_canonical_bytes(text.as_bytes()).unwrap(), m);
        // A reference under format 1, or format 2 without one, is not canonical.
        let as_v1 = text.replacen("\"format\":2", "\"format\":1", 1);
        assert!(Manifest::from_canonical_bytes(as_v1.as_bytes()).is_err());
        let plain = String::from_utf8(only_files.to_canonical_bytes()).unwrap();
        let as_v2 = plain.replacen("\"format\":1", "\"format\":2", 1);
        assert!(Manifest::from_canonical_bytes(as_v2.as_bytes()).is_err());
        // A pinned reference whose digest is not its identity's, or one without a uri.
        let forged = text.replacen("mtime:7", "mtime:8", 1);
        let err = Manifest::from_canonical_bytes(forged.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("do not fit its kind"), "{err}");
        let no_uri = text.replacen(",\"uri\":\"file:///data/x\"", "", 1);
        assert!(Manifest::from_canonical_bytes(no_uri.as_bytes()).is_err());
    }

    #[test]
    fn diff_is_a_merge_walk() {
        let old = Manifest::new(vec![file("a", b"1"), file("b", b"2"), file("c", b"3")]).unwrap();
        let new = Manifest::new(vec![file("b", b"2"), file("c", b"33"), file("d", b"4")]).unwrap();
        let changes = diff_entries(old.entries(), new.entries());
        assert_eq!(
            changes,
            vec![
                Change::Removed {
                    path: "a".into(),
                    size: 1
                },
                Change::Modified {
                    path: "c".into(),
                    old_size: 1,
                    new_size: 2
                },
                Change::Added {
                    path: "d".into(),
                    size: 1
                },
            ]
        );
    }
}
