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

    /// Seals the pack and moves it into `packs/`; returns it and whether this call created
    /// the file there (`false`: a pack with the same bytes, hence name, was already there).
    fn finish(mut self, store_dir: &Path) -> Result<(PackOutcome, bool)> {
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
        crate::failpoint::hit("pack.before-rename").map_err(io("move pack into", &dest))?;
        let created = publish(&self.tmp_path, &dest)?;
        Ok((
            PackOutcome {
                hash,
                size,
                entries: self.entries,
            },
            created,
        ))
    }
}

/// Moves `tmp` to `dest` without replacing a file already there (a hard link, then the
/// temporary name is removed). Returns whether `dest` was created: only a pack this command
/// created may be removed when the command fails, since an existing one may be indexed.
pub(crate) fn publish(tmp: &Path, dest: &Path) -> Result<bool> {
    match std::fs::hard_link(tmp, dest) {
        Ok(()) => {
            std::fs::remove_file(tmp).map_err(io("remove temporary pack", tmp))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(tmp).map_err(io("remove temporary pack", tmp))?;
            Ok(false)
        }
        // File systems without hard links: a rename, which replaces identical bytes at worst.
        Err(_) if !dest.exists() => {
            std::fs::rename(tmp, dest).map_err(io("move pack into", dest))?;
            Ok(true)
        }
        Err(e) => Err(crate::store::Error::Io {
            action: "move pack into",
            path: dest.to_owned(),
            source: e,
        }),
    }
}

/// Packs one command wrote and the index does not reference yet. Dropped without
/// [`NewPacks::keep`] (the command failed or was interrupted before its index commit), it
/// removes the pack files it created, so a failure returns the space it took at once.
#[derive(Debug)]
pub struct NewPacks {
    packs: Vec<PackOutcome>,
    created: Vec<PathBuf>,
}

impl NewPacks {
    /// The packs, durable under `packs/`.
    #[must_use]
    pub fn packs(&self) -> &[PackOutcome] {
        &self.packs
    }

    /// The packs, to fill in their entries.
    pub fn packs_mut(&mut self) -> &mut [PackOutcome] {
        &mut self.packs
    }

    /// Total bytes of the packs.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.packs.iter().map(|p| p.size).sum()
    }

    /// Call once the index references the packs: they stay.
    pub fn keep(mut self) {
        self.created.clear();
    }
}

impl Drop for NewPacks {
    fn drop(&mut self) {
        remove_all(&self.created);
    }
}

fn remove_all(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
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
    /// Pack files this packer created, removed if it is dropped before `finish`.
    created: Vec<PathBuf>,
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
            created: Vec::new(),
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
            let tmp = pack.tmp_path.clone();
            let (mut outcome, created) = pack.finish(&self.store_dir).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
            if !self.keep_entries {
                outcome.entries = Vec::new();
            }
            let path = pack_path(&self.store_dir, &outcome.hash);
            if created {
                self.created.push(path.clone());
            }
            self.done.push(outcome);
            crate::failpoint::hit("pack.after-rename").map_err(io("move pack into", &path))?;
        }
        Ok(())
    }

    /// Closes the open pack, makes every pack written durable (fsync of each file and of
    /// the directories holding them) and returns them; only then may the index refer to them.
    ///
    /// # Errors
    /// On I/O failure; the packs written are removed then.
    pub fn finish(mut self) -> Result<NewPacks> {
        self.flush()?;
        let done = &self.done;
        let mut dirs = std::collections::BTreeSet::new();
        for pack in done {
            let path = pack_path(&self.store_dir, &pack.hash);
            crate::failpoint::hit("pack.before-fsync")
                .and_then(|()| File::open(&path))
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
        crate::failpoint::hit("pack.after-fsync").map_err(io("fsync pack in", &self.store_dir))?;
        Ok(NewPacks {
            packs: std::mem::take(&mut self.done),
            created: std::mem::take(&mut self.created),
        })
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        // Abandoned packs (error or interrupt) are removed now rather than left for gc.
        if let Some(pack) = self.current.take() {
            let _ = std::fs::remove_file(&pack.tmp_path);
        }
        remove_all(&self.created);
    }
}
