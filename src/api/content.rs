//! Reading content back: blob lookups, chunk lists, manifests and whole files.

use super::Store;
use crate::error::{Error, Result};
use crate::index::BlobLocation;
use crate::index::blob_queries as bq;
use crate::model::{Digest, Manifest};
use crate::store::{PackFile, chunk_list_decode, pack_path};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where a file's bytes are: one blob, or a list of chunks in order.
#[derive(Clone, Debug)]
pub(crate) enum FileSource {
    Blob(BlobLocation),
    Chunks(Vec<BlobLocation>),
}

impl FileSource {
    pub(crate) fn locations(&self) -> &[BlobLocation] {
        match self {
            FileSource::Blob(l) => std::slice::from_ref(l),
            FileSource::Chunks(v) => v,
        }
    }
}

/// An evicted pack from which a step needs more blobs than this is downloaded whole.
const RANGED_READS_AT_MOST: u64 = 8;

/// Open pack files, shared by worker threads. A pack evicted to remotes is read from them,
/// one ranged request per blob, each blob verified like a local one.
pub(crate) struct Packs {
    store_dir: PathBuf,
    open: Mutex<HashMap<Digest, Arc<PackFile>>>,
    /// Evicted packs: their sizes and the remotes holding them.
    evicted: HashMap<Digest, (u64, Vec<String>)>,
    /// Evicted packs brought back whole by [`Packs::prefetch`]: local again.
    restored: Mutex<std::collections::HashSet<Digest>>,
    specs: std::collections::BTreeMap<String, crate::remote::RemoteSpec>,
    remotes: Mutex<HashMap<String, Arc<crate::remote::Remote>>>,
    /// The store is read-only: evicted packs are read blob by blob, never brought back.
    read_only: bool,
}

impl Packs {
    pub(crate) fn new(store: &Store) -> Result<Self> {
        Ok(Packs {
            store_dir: store.dir.clone(),
            open: Mutex::new(HashMap::new()),
            evicted: bq::evicted_packs(&store.conn)?,
            restored: Mutex::new(std::collections::HashSet::new()),
            specs: store.config.remote.clone(),
            remotes: Mutex::new(HashMap::new()),
            read_only: store.is_read_only(),
        })
    }

    fn pack(&self, hash: &Digest) -> Result<Arc<PackFile>> {
        let mut open = self.open.lock().expect("pack cache lock");
        if let Some(p) = open.get(hash) {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(PackFile::at(&pack_path(&self.store_dir, hash))?);
        open.insert(*hash, Arc::clone(&p));
        Ok(p)
    }

    /// The connection to remote `name`, made once.
    fn remote(&self, name: &str) -> Result<Arc<crate::remote::Remote>> {
        let mut remotes = self.remotes.lock().expect("remote cache lock");
        if let Some(r) = remotes.get(name) {
            return Ok(Arc::clone(r));
        }
        let spec = self.specs.get(name).ok_or_else(|| {
            Error::MissingContent(format!(
                "packs evicted to remote `{name}`, which is no longer configured"
            ))
        })?;
        let r = Arc::new(crate::remote::Remote::connect(name, spec)?);
        remotes.insert(name.to_owned(), Arc::clone(&r));
        Ok(r)
    }

    /// Reads and verifies one blob.
    pub(crate) fn read(&self, loc: &BlobLocation) -> Result<Vec<u8>> {
        if let Some((_, names)) = self.evicted.get(&loc.pack_hash)
            && !self
                .restored
                .lock()
                .expect("restored lock")
                .contains(&loc.pack_hash)
        {
            return self.fetch(names, loc);
        }
        Ok(self.pack(&loc.pack_hash)?.read_blob(&loc.entry)?)
    }

    /// Brings back into `packs/` every evicted pack of which the blobs at `locs` fill at
    /// least half, or that many of them come from: one whole download (checked against the
    /// pack's name) instead of a ranged request per blob, which a checkout of many small
    /// files would otherwise make by the thousand. Packs needed for a few blobs stay remote
    /// and are read blob by blob (one file of a large version). Returns the packs restored.
    pub(crate) fn prefetch<'a>(
        &self,
        locs: impl IntoIterator<Item = &'a BlobLocation>,
    ) -> Result<Vec<Digest>> {
        if self.read_only {
            return Ok(Vec::new());
        }
        let mut needed: HashMap<Digest, (u64, u64)> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for loc in locs {
            if self.evicted.contains_key(&loc.pack_hash)
                && seen.insert((loc.pack_hash, loc.entry.offset))
            {
                let n = needed.entry(loc.pack_hash).or_default();
                n.0 += u64::from(loc.entry.stored_len);
                n.1 += 1;
            }
        }
        let mut restored = Vec::new();
        for (hash, (bytes, blobs)) in needed {
            let size = self.evicted.get(&hash).map_or(u64::MAX, |(size, _)| *size);
            if (bytes.saturating_mul(2) < size && blobs < RANGED_READS_AT_MOST)
                || self.restored.lock().expect("restored lock").contains(&hash)
            {
                continue;
            }
            self.restore(&hash)?;
            self.restored.lock().expect("restored lock").insert(hash);
            restored.push(hash);
        }
        Ok(restored)
    }

    /// The size of `hash` when it is evicted (and not brought back yet).
    pub(crate) fn evicted_size(&self, hash: &Digest) -> Option<u64> {
        let restored = self.restored.lock().expect("restored lock").contains(hash);
        self.evicted
            .get(hash)
            .filter(|_| !restored)
            .map(|(size, _)| *size)
    }

    /// Downloads an evicted pack whole, verifies it and publishes it under `packs/`.
    pub(crate) fn restore(&self, hash: &Digest) -> Result<()> {
        let key = crate::remote::pack_key(hash);
        let names = self
            .evicted
            .get(hash)
            .map_or(&[][..], |(_, n)| n.as_slice());
        let mut last = None;
        for name in names {
            let bytes = match self.remote(name).and_then(|r| Ok(r.get(&key)?)) {
                Ok(b) => b,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            if let Some(reason) = crate::store::pack_bytes_error(&bytes, hash) {
                return Err(crate::remote::Error::Corrupt {
                    remote: name.clone(),
                    key,
                    reason,
                }
                .into());
            }
            let dest = pack_path(&self.store_dir, hash);
            let tmp_dir = self.store_dir.join("tmp");
            let mut tmp = tempfile::Builder::new()
                .prefix("pack-")
                .suffix(".tmp")
                .tempfile_in(&tmp_dir)
                .map_err(crate::error::io("create a pack in", &tmp_dir))?;
            tmp.write_all(&bytes)
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(crate::error::io("write", tmp.path()))?;
            let parent = dest.parent().expect("pack paths have a parent");
            std::fs::create_dir_all(parent)
                .map_err(crate::error::io("create directory", parent))?;
            crate::store::pack::publish(tmp.path(), &dest)?;
            crate::store::pack::sync_dir(parent)?;
            return Ok(());
        }
        Err(last.unwrap_or_else(|| {
            Error::MissingContent(format!("pack {hash} (evicted, and no remote holds it)"))
        }))
    }

    /// Reads a blob of an evicted pack from the first remote that answers.
    fn fetch(&self, names: &[String], loc: &BlobLocation) -> Result<Vec<u8>> {
        let key = crate::remote::pack_key(&loc.pack_hash);
        let range = loc.entry.offset..loc.entry.offset + u64::from(loc.entry.stored_len);
        let mut last = None;
        for name in names {
            let fetched = self
                .remote(name)
                .and_then(|r| Ok(r.get_range(&key, range.clone())?));
            match fetched {
                Ok(stored) => {
                    let origin = PathBuf::from(format!("{name}:{key}"));
                    return Ok(crate::store::decode_blob(&loc.entry, stored, &origin)?);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::MissingContent(format!("{} (its pack was evicted)", loc.entry.hash))
        }))
    }

    /// Bytes fetched from remotes so far.
    pub(crate) fn fetched_bytes(&self) -> u64 {
        self.remotes
            .lock()
            .expect("remote cache lock")
            .values()
            .map(|r| r.traffic().down.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    /// Writes a file's chunks into `file` at their offsets, reading, decompressing and
    /// verifying them in parallel; every chunk is checked against its hash on the way out,
    /// and the chunk list that orders them was checked against the file digest, so the file
    /// is not re-hashed as a whole. Each chunk written advances `progress`. Returns the
    /// file's length.
    pub(crate) fn write_chunks_at(
        &self,
        src: &FileSource,
        file: &std::fs::File,
        progress: &dyn super::Progress,
    ) -> Result<u64> {
        use rayon::prelude::*;
        use std::os::unix::fs::FileExt;
        let locs = src.locations();
        let mut offsets = Vec::with_capacity(locs.len());
        let mut len = 0u64;
        for l in locs {
            offsets.push(len);
            len += u64::from(l.entry.raw_len);
        }
        let io_err = |source| Error::Io {
            action: "write",
            path: PathBuf::from("output"),
            source,
        };
        file.set_len(len).map_err(io_err)?;
        locs.par_iter()
            .zip(offsets)
            .try_for_each(|(loc, offset)| -> Result<()> {
                let data = self.read(loc)?;
                file.write_all_at(&data, offset).map_err(io_err)?;
                progress.advance(data.len() as u64);
                Ok(())
            })?;
        Ok(len)
    }

    /// Streams a file's content into `out`, checking the whole-file digest; returns its length.
    pub(crate) fn write_file(
        &self,
        src: &FileSource,
        expected: &Digest,
        out: &mut impl Write,
    ) -> Result<u64> {
        let mut hasher = blake3::Hasher::new();
        let mut len = 0u64;
        for loc in src.locations() {
            let data = self.read(loc)?;
            hasher.update(&data);
            out.write_all(&data).map_err(|e| Error::Io {
                action: "write",
                path: PathBuf::from("output"),
                source: e,
            })?;
            len += data.len() as u64;
        }
        let actual = Digest::from(hasher.finalize());
        if actual != *expected {
            return Err(Error::Store(crate::store::Error::CorruptBlob {
                hash: expected.to_hex(),
                path: self.store_dir.clone(),
                reason: format!("reassembled file hashes to {}", actual.short(16)),
            }));
        }
        Ok(len)
    }
}

impl Store {
    /// Where a blob is; an error naming it when the store lacks it.
    pub(crate) fn locate(&self, hash: &Digest) -> Result<BlobLocation> {
        bq::try_locate(&self.conn, hash)?.ok_or_else(|| Error::MissingContent(hash.to_hex()))
    }

    /// Where the bytes of the file with digest `digest` are.
    pub(crate) fn file_source(&self, packs: &Packs, digest: &Digest) -> Result<FileSource> {
        if let Some(list_hash) = bq::try_chunk_list(&self.conn, digest)? {
            let list = packs.read(&self.locate(&list_hash)?)?;
            let (file, chunks) = chunk_list_decode(&list)
                .filter(|(f, _)| f == digest)
                .ok_or_else(|| {
                    Error::MissingContent(format!("{} (malformed chunk list)", digest.to_hex()))
                })?;
            debug_assert_eq!(file, *digest);
            let locs = chunks
                .iter()
                .map(|(h, _)| self.locate(h))
                .collect::<Result<Vec<_>>>()?;
            return Ok(FileSource::Chunks(locs));
        }
        Ok(FileSource::Blob(self.locate(digest)?))
    }

    /// Reads and parses a version's manifest, streaming its blobs (a large manifest is
    /// chunked like a large file).
    pub(crate) fn read_manifest(&self, packs: &Packs, digest: &Digest) -> Result<Manifest> {
        let source = self.file_source(packs, digest)?;
        let mut reader = SourceReader {
            packs,
            locations: source.locations(),
            next: 0,
            blob: Vec::new(),
            pos: 0,
            failure: None,
        };
        let parsed = Manifest::from_reader(&mut reader, digest);
        // A damaged blob is reported as such, not as the parse error it caused.
        match (parsed, reader.failure) {
            (Err(_), Some(failure)) => Err(failure),
            (parsed, _) => Ok(parsed?),
        }
    }
}

/// A file of a version read from the store without a checkout, one blob in memory at a time
/// (each blob checked against its hash as it is read; on a clone or after eviction only the
/// blobs read are fetched). Made by [`Store::open_file`].
pub struct FileReader {
    packs: Packs,
    locations: Vec<BlobLocation>,
    next: usize,
    blob: Vec<u8>,
    pos: usize,
    len: u64,
}

impl FileReader {
    /// The file's length in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("len", &self.len)
            .field("blobs", &self.locations.len())
            .finish_non_exhaustive()
    }
}

impl std::io::Read for FileReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.blob.len() {
            let Some(loc) = self.locations.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            self.blob = self
                .packs
                .read(loc)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            self.pos = 0;
        }
        let n = out.len().min(self.blob.len() - self.pos);
        out[..n].copy_from_slice(&self.blob[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Store {
    /// Opens the regular file `path` of a version for reading, streaming it from the store.
    ///
    /// # Errors
    /// Unknown reference; [`Error::UnknownPath`] when the version has no regular file there;
    /// missing content.
    pub fn open_file(&self, r: &crate::model::Ref, path: &str) -> Result<FileReader> {
        let (packs, entry) = self.file_entry(r, path)?;
        let locations = self
            .file_source(&packs, &entry.digest)?
            .locations()
            .to_vec();
        Ok(FileReader {
            packs,
            locations,
            next: 0,
            blob: Vec::new(),
            pos: 0,
            len: entry.size,
        })
    }
}

impl Store {
    /// The regular file `path` of the version `r` names, with the packs to read it from.
    pub(crate) fn file_entry(
        &self,
        r: &crate::model::Ref,
        path: &str,
    ) -> Result<(Packs, crate::model::ManifestEntry)> {
        let (a, v) = self.resolve(r)?;
        let packs = Packs::new(self)?;
        let manifest = self.read_manifest(&packs, &v.digest)?;
        let entry = manifest
            .get(path)
            .filter(|e| e.kind == crate::model::EntryKind::File)
            .ok_or_else(|| Error::UnknownPath {
                reference: format!("{}:v{}", a.name, v.idx),
                path: path.to_owned(),
            })?
            .clone();
        Ok((packs, entry))
    }
}

/// Reads the blobs of one content in order, one blob in memory at a time.
struct SourceReader<'a> {
    packs: &'a Packs,
    locations: &'a [BlobLocation],
    next: usize,
    blob: Vec<u8>,
    pos: usize,
    /// The error that ended the read, kept whole for the caller.
    failure: Option<Error>,
}

impl std::io::Read for SourceReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.blob.len() {
            let Some(loc) = self.locations.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            match self.packs.read(loc) {
                Ok(blob) => {
                    self.blob = blob;
                    self.pos = 0;
                }
                Err(e) => {
                    let message = e.to_string();
                    self.failure = Some(e);
                    return Err(std::io::Error::other(message));
                }
            }
        }
        let n = out.len().min(self.blob.len() - self.pos);
        out[..n].copy_from_slice(&self.blob[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
