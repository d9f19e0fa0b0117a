//! Writing packs: into `tmp/`, then fsync, rename into `packs/`, fsync the directory.

use super::format::{MAGIC, PACK_FORMAT};
use super::{BlobKind, PackEntry, pack_path};
use crate::model::Digest;
use crate::store::error::io;
use crate::store::{Codec, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A pack made durable under `packs/`: its name, size and contents.
#[derive(Clone, Debug)]
pub struct PackOutcome {
    /// BLAKE3 checksum of the pack, its name.
    pub hash: Digest,
    /// Size of the file in bytes.
    pub size: u64,
    /// The blobs in it.
    pub entries: Vec<PackEntry>,
}

struct OpenPack {
    tmp_path: PathBuf,
    out: BufWriter<File>,
    hasher: blake3::Hasher,
    offset: u64,
    entries: Vec<PackEntry>,
}

impl OpenPack {
    fn create(store_dir: &Path) -> Result<Self> {
        let tmp_dir = store_dir.join("tmp");
        let named = tempfile::Builder::new()
            .prefix("pack-")
            .suffix(".tmp")
            .tempfile_in(&tmp_dir)
            .map_err(io("create a pack in", &tmp_dir))?;
        // Kept on purpose: a crash leaves the file for gc to sweep, never a half pack in packs/.
        let (file, tmp_path) = named.keep().map_err(|e| crate::store::Error::Io {
            action: "keep temporary pack",
            path: tmp_dir.clone(),
            source: e.error,
        })?;
        let mut pack = OpenPack {
            tmp_path,
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: blake3::Hasher::new(),
            offset: 0,
            entries: Vec::new(),
        };
        let mut header = Vec::with_capacity(12);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&PACK_FORMAT.to_le_bytes());
        pack.write(&header)?;
        Ok(pack)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(io("write pack", &self.tmp_path))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn finish(mut self, store_dir: &Path) -> Result<PackOutcome> {
        let mut trailer = Vec::with_capacity(self.entries.len() * 50 + 4);
        for e in &self.entries {
            e.encode(&mut trailer);
        }
        let count =
            u32::try_from(self.entries.len()).expect("a pack holds far fewer than 2^32 blobs");
        trailer.extend_from_slice(&count.to_le_bytes());
        self.write(&trailer)?;
        let hash = Digest::from(self.hasher.finalize());
        self.out
            .write_all(hash.as_bytes())
            .map_err(io("write pack", &self.tmp_path))?;
        let size = self.offset + 32;
        let file = self.out.into_inner().map_err(|e| crate::store::Error::Io {
            action: "flush pack",
            path: self.tmp_path.clone(),
            source: e.into_error(),
        })?;
        drop(file);
        // Renamed now but made durable in `Packer::finish`, so the disk writes back while art
        // keeps working. Until then the pack is unknown to the index: a crash leaves at
        // worst an unreferenced pack, which fsck reports and gc removes.
        let dest = pack_path(store_dir, &hash);
        let dir = dest.parent().expect("pack paths have a parent");
        std::fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        std::fs::rename(&self.tmp_path, &dest).map_err(io("move pack into", &dest))?;
        Ok(PackOutcome {
            hash,
            size,
            entries: self.entries,
        })
    }
}

/// Makes a rename durable by syncing the directory that holds it.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync directory", dir))
}

/// Appends blobs to packs of about `target_size` bytes, closing each when full.
pub struct Packer {
    store_dir: PathBuf,
    target_size: u64,
    current: Option<OpenPack>,
    done: Vec<PackOutcome>,
    keep_entries: bool,
}

impl Packer {
    /// A packer writing under `store_dir` (the `.artifacts` directory).
    #[must_use]
    pub fn new(store_dir: &Path, target_size: u64) -> Self {
        Packer {
            store_dir: store_dir.to_owned(),
            target_size,
            current: None,
            done: Vec::new(),
            keep_entries: true,
        }
    }

    /// Forgets each pack's entries once it is closed (its [`PackOutcome::entries`] is then
    /// empty): a log of a million files would otherwise hold 56 MiB of them, which the
    /// pack trailers on disk already hold.
    #[must_use]
    pub fn without_entries(mut self) -> Self {
        self.keep_entries = false;
        self
    }

    /// Appends one blob whose bytes are already encoded with `codec`.
    ///
    /// # Errors
    /// On I/O failure; the temporary pack stays in `tmp/` for gc.
    pub fn add(
        &mut self,
        hash: Digest,
        kind: BlobKind,
        codec: Codec,
        raw_len: u32,
        stored: &[u8],
    ) -> Result<()> {
        if self.current.is_none() {
            self.current = Some(OpenPack::create(&self.store_dir)?);
        }
        let pack = self.current.as_mut().expect("just created");
        let offset = pack.offset;
        pack.write(stored)?;
        let stored_len = u32::try_from(stored.len()).expect("blobs are far smaller than 4 GiB");
        pack.entries.push(PackEntry {
            hash,
            offset,
            stored_len,
            raw_len,
            codec,
            kind,
        });
        if pack.offset >= self.target_size {
            self.flush()?;
        }
        Ok(())
    }

    /// Compresses (when worthwhile) and appends one blob.
    ///
    /// # Errors
    /// On I/O failure.
    pub fn add_raw(&mut self, hash: Digest, kind: BlobKind, raw: &[u8], level: i32) -> Result<()> {
        let raw_len = u32::try_from(raw.len()).expect("blobs are far smaller than 4 GiB");
        match crate::store::compress(raw, level) {
            Some(z) => self.add(hash, kind, Codec::Zstd, raw_len, &z),
            None => self.add(hash, kind, Codec::Raw, raw_len, raw),
        }
    }

    /// Closes the open pack, if any, making it durable.
    ///
    /// # Errors
    /// On I/O failure.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(pack) = self.current.take() {
            let mut outcome = pack.finish(&self.store_dir)?;
            if !self.keep_entries {
                outcome.entries = Vec::new();
            }
            self.done.push(outcome);
        }
        Ok(())
    }

    /// Closes the open pack, makes every pack written durable (fsync of each file and of
    /// the directories holding them) and returns them; only then may the index refer to them.
    ///
    /// # Errors
    /// On I/O failure.
    pub fn finish(mut self) -> Result<Vec<PackOutcome>> {
        self.flush()?;
        let done = std::mem::take(&mut self.done);
        let mut dirs = std::collections::BTreeSet::new();
        for pack in &done {
            let path = pack_path(&self.store_dir, &pack.hash);
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io("fsync pack", &path))?;
            dirs.insert(
                path.parent()
                    .expect("pack paths have a parent")
                    .to_path_buf(),
            );
        }
        if !done.is_empty() {
            dirs.insert(self.store_dir.join("packs"));
        }
        for dir in dirs {
            sync_dir(&dir)?;
        }
        Ok(done)
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        // An abandoned pack (error or interrupt) is removed now rather than left for gc.
        if let Some(pack) = self.current.take() {
            let _ = std::fs::remove_file(&pack.tmp_path);
        }
    }
}
