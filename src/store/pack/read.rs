//! Reading packs with positioned reads (no mmap: memory stays flat and no `unsafe` is
//! needed); every blob is verified against its hash on the way out.

use super::PackEntry;
use super::format::{ENTRY_LEN, FOOTER_LEN, HEADER_LEN, MAGIC, PACK_FORMAT};
use crate::model::Digest;
use crate::store::error::io;
use crate::store::{Codec, Error, Result, decompress};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An open pack file.
#[derive(Debug)]
pub struct PackFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl PackFile {
    /// Opens the pack at `path`.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn at(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(io("open pack", path))?;
        let len = file.metadata().map_err(io("stat pack", path))?.len();
        Ok(PackFile {
            path: path.to_owned(),
            file,
            len,
        })
    }

    /// The pack's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pack's size in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty (never true of a valid pack).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::CorruptPack {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(self.corrupt(format!(
                "range {offset}+{len} is beyond the end ({} bytes)",
                self.len
            )));
        }
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(io("read pack", &self.path))?;
        Ok(buf)
    }

    /// Reads and checks the header and trailer, returning the entries and the checksum stored
    /// in the footer. Does not hash the whole file (see [`PackFile::verify_checksum`]).
    ///
    /// # Errors
    /// [`Error::CorruptPack`] when magic, format, count or entries are wrong.
    pub fn read_trailer(&self) -> Result<(Vec<PackEntry>, Digest)> {
        read_trailer_with(self.len, &self.path, |offset, len| {
            self.read_at(offset, len)
        })
    }

    /// Hashes the whole file and compares with the footer's checksum and the file name.
    ///
    /// # Errors
    /// [`Error::CorruptPack`] on a mismatch.
    pub fn verify_checksum(&self, expected: &Digest) -> Result<()> {
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0u64;
        let end = self.len - 32;
        while pos < end {
            let n = usize::try_from((end - pos).min(buf.len() as u64)).expect("bounded by buffer");
            self.file
                .read_exact_at(&mut buf[..n], pos)
                .map_err(io("read pack", &self.path))?;
            hasher.update(&buf[..n]);
            pos += n as u64;
        }
        let footer = self.read_at(self.len - 32, 32)?;
        let stored = Digest::from_slice(&footer).expect("32 bytes");
        let actual = Digest::from(hasher.finalize());
        if actual != stored || actual != *expected {
            return Err(self.corrupt(format!(
                "checksum is {}, expected {}",
                actual.short(16),
                expected.short(16)
            )));
        }
        Ok(())
    }

    /// Reads one blob, decompresses it and checks that it hashes to `entry.hash`.
    ///
    /// # Errors
    /// [`Error::CorruptBlob`] when the bytes do not match, I/O errors otherwise.
    pub fn read_blob(&self, entry: &PackEntry) -> Result<Vec<u8>> {
        let stored = self.read_at(entry.offset, entry.stored_len as usize)?;
        decode_blob(entry, stored, &self.path)
    }
}

/// Reads and checks the header and trailer of a pack of `len` bytes through `read_at(offset,
/// len)`, which may read a local file or a remote object (`origin` names it in errors).
///
/// # Errors
/// [`Error::CorruptPack`] when magic, format, count or entries are wrong; `read_at`'s errors.
pub fn read_trailer_with(
    len: u64,
    origin: &Path,
    mut read_at: impl FnMut(u64, usize) -> Result<Vec<u8>>,
) -> Result<(Vec<PackEntry>, Digest)> {
    let corrupt = |reason: String| Error::CorruptPack {
        path: origin.to_owned(),
        reason,
    };
    if len < HEADER_LEN + FOOTER_LEN {
        return Err(corrupt("too short to be a pack".into()));
    }
    let header = read_at(0, usize::try_from(HEADER_LEN).expect("12 bytes"))?;
    if &header[..8] != MAGIC {
        return Err(corrupt("bad magic".into()));
    }
    let format = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if format != PACK_FORMAT {
        return Err(corrupt(format!(
            "pack format {format} is not supported (this art reads {PACK_FORMAT}); upgrade art"
        )));
    }
    let footer = read_at(
        len - FOOTER_LEN,
        usize::try_from(FOOTER_LEN).expect("36 bytes"),
    )?;
    let count = u64::from(u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")));
    let checksum = Digest::from_slice(&footer[4..]).expect("32 bytes");
    let trailer_len = count * ENTRY_LEN as u64;
    let Some(trailer_start) = (len - FOOTER_LEN)
        .checked_sub(trailer_len)
        .filter(|s| *s >= HEADER_LEN)
    else {
        return Err(corrupt(format!("trailer of {count} entries does not fit")));
    };
    let raw = read_at(
        trailer_start,
        usize::try_from(trailer_len).map_err(|_| corrupt("huge trailer".into()))?,
    )?;
    let mut entries = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for chunk in raw.chunks_exact(ENTRY_LEN) {
        let e = PackEntry::decode(chunk)
            .ok_or_else(|| corrupt("unknown codec or kind in trailer".into()))?;
        if e.offset < HEADER_LEN || e.offset + u64::from(e.stored_len) > trailer_start {
            return Err(corrupt(format!(
                "entry `{}` points outside the blob area",
                e.hash
            )));
        }
        entries.push(e);
    }
    Ok((entries, checksum))
}

/// Why `bytes` are not the pack named `name` (their BLAKE3 without the last 32 bytes, which
/// is also what the footer holds), or `None` when they are.
#[must_use]
pub fn pack_bytes_error(bytes: &[u8], name: &Digest) -> Option<String> {
    let Some(body_len) = bytes.len().checked_sub(32) else {
        return Some("too short to be a pack".into());
    };
    let actual = Digest::of(&bytes[..body_len]);
    if actual != *name || bytes[body_len..] != *name.as_bytes() {
        return Some(format!("its bytes hash to {}", actual.short(16)));
    }
    None
}

/// Turns a blob's stored bytes (read from a pack here or fetched from a remote) into its raw
/// bytes: decompressed without ever exceeding the declared length, then checked against the
/// entry's hash. `origin` names where the bytes came from in errors.
///
/// # Errors
/// [`Error::CorruptBlob`] when the bytes do not match.
pub fn decode_blob(entry: &PackEntry, stored: Vec<u8>, origin: &Path) -> Result<Vec<u8>> {
    let bad = |reason: String| Error::CorruptBlob {
        hash: entry.hash.to_hex(),
        path: origin.to_owned(),
        reason,
    };
    let raw = match entry.codec {
        Codec::Raw => stored,
        Codec::Zstd => {
            decompress(&stored, entry.raw_len as usize).map_err(|e| bad(e.to_string()))?
        }
    };
    if raw.len() != entry.raw_len as usize {
        return Err(bad(format!(
            "{} bytes, expected {}",
            raw.len(),
            entry.raw_len
        )));
    }
    let actual = Digest::of(&raw);
    if actual != entry.hash {
        return Err(bad(format!("content hashes to {}", actual.short(16))));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use crate::model::Digest;
    use crate::store::{BlobKind, PackFile, Packer};

    #[test]
    fn trailer_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let mut packer = Packer::new(dir.path(), 1 << 30);
        let blobs: Vec<Vec<u8>> = vec![b"hello".to_vec(), b"abc".repeat(5000), vec![7u8; 100]];
        for b in &blobs {
            packer.add_raw(Digest::of(b), BlobKind::Data, b, 3).unwrap();
        }
        let packs = packer.finish().unwrap();
        assert_eq!(packs.packs().len(), 1);
        let out = &packs.packs()[0].clone();
        packs.keep();
        let path = crate::store::pack_path(dir.path(), &out.hash);
        let pack = PackFile::at(&path).unwrap();
        let (entries, checksum) = pack.read_trailer().unwrap();
        assert_eq!(entries, out.entries);
        assert_eq!(checksum, out.hash);
        pack.verify_checksum(&out.hash).unwrap();
        for (e, b) in entries.iter().zip(&blobs) {
            assert_eq!(&pack.read_blob(e).unwrap(), b);
        }
        assert!(
            std::fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );

        // Flip one byte inside the second blob: the blob and the checksum both fail.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[usize::try_from(entries[1].offset).unwrap() + 3] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let pack = PackFile::at(&path).unwrap();
        assert!(pack.read_blob(&entries[1]).is_err());
        assert!(pack.verify_checksum(&out.hash).is_err());
        // Truncating the trailer makes the pack unreadable.
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(PackFile::at(&path).unwrap().read_trailer().is_err());
    }

    fn pack_of(dir: &std::path::Path, blob: &[u8]) -> crate::store::NewPacks {
        let mut packer = Packer::new(dir, 1 << 30);
        packer
            .add_raw(Digest::of(blob), BlobKind::Data, blob, 3)
            .unwrap();
        packer.finish().unwrap()
    }

    #[test]
    fn unkept_packs_are_removed_but_never_one_that_was_there_before() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let dropped = pack_of(dir.path(), b"a failed command's blob");
        let path = crate::store::pack_path(dir.path(), &dropped.packs()[0].hash);
        assert!(path.is_file());
        drop(dropped);
        assert!(!path.exists(), "a pack the index never took is removed");

        let kept = pack_of(dir.path(), b"committed");
        let path = crate::store::pack_path(dir.path(), &kept.packs()[0].hash);
        kept.keep();
        // The same bytes again (another command storing the same blobs): the pack already
        // there may be indexed, so failing this command must not remove it.
        let again = pack_of(dir.path(), b"committed");
        assert_eq!(
            crate::store::pack_path(dir.path(), &again.packs()[0].hash),
            path
        );
        drop(again);
        assert!(path.is_file());
        assert!(
            std::fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );
    }
}
