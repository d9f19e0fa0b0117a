//! Content-defined chunking of large files with FastCDC (min 256 KiB, avg 1 MiB, max 4 MiB;
//! large manifests min 16 KiB, avg 64 KiB, max 256 KiB), streaming so memory stays flat
//! whatever the file size.

use crate::model::Digest;
use std::io::Read;

/// Files larger than this are chunked; smaller ones are one blob.
pub const CHUNK_THRESHOLD: u64 = 1 << 20;
const MIN_CHUNK: u32 = 256 * 1024;
const AVG_CHUNK: u32 = 1 << 20;
/// The largest chunk FastCDC emits.
pub const MAX_CHUNK: u32 = 4 << 20;
/// Chunk sizes of large manifests (min, avg, max): a version that changes a few entries
/// shares all but a few 64 KiB chunks with the last one. Only storage: the version digest
/// is the hash of the whole manifest, whatever its chunks.
const MANIFEST_CHUNKS: (u32, u32, u32) = (16 * 1024, 64 * 1024, 256 * 1024);

/// Bytes read per window: several maximum-size chunks, so chunks of one window can be hashed
/// and compressed in parallel while memory stays bounded.
const WINDOW: usize = 16 << 20;

/// Cuts a reader into content-defined chunks, a window at a time, reusing one buffer; memory
/// stays flat whatever the file size. Cut points equal those of chunking the whole file at
/// once: a chunk is only emitted when the bytes after its start are all in the window (or
/// the file ends), since FastCDC looks no further than `MAX_CHUNK` ahead.
pub struct Chunker<R: Read> {
    reader: R,
    buf: Vec<u8>,
    filled: usize,
    consumed: usize,
    eof: bool,
    sizes: (u32, u32, u32),
}

impl<R: Read> Chunker<R> {
    /// Chunks `reader` with art's fixed parameters (changing them would defeat dedup).
    pub fn new(reader: R) -> Self {
        Chunker {
            reader,
            buf: vec![0; WINDOW],
            filled: 0,
            consumed: 0,
            eof: false,
            sizes: (MIN_CHUNK, AVG_CHUNK, MAX_CHUNK),
        }
    }

    /// Chunks a large manifest, finer than file content (see `MANIFEST_CHUNKS`).
    pub fn for_manifests(reader: R) -> Self {
        Chunker {
            sizes: MANIFEST_CHUNKS,
            ..Chunker::new(reader)
        }
    }

    /// The next window of bytes and the `(offset, len)` of the complete chunks in it, in
    /// order; `None` at the end of the input.
    ///
    /// # Errors
    /// Read errors of the underlying reader.
    pub fn next_window(&mut self) -> std::io::Result<Option<(&[u8], Vec<(usize, usize)>)>> {
        // Carry the unchunked tail to the front, then fill the rest.
        self.buf.copy_within(self.consumed..self.filled, 0);
        self.filled -= self.consumed;
        self.consumed = 0;
        while !self.eof && self.filled < self.buf.len() {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.filled == 0 {
            return Ok(None);
        }
        let data = &self.buf[..self.filled];
        let mut cuts: Vec<(usize, usize)> =
            fastcdc::v2020::FastCDC::new(data, self.sizes.0, self.sizes.1, self.sizes.2)
                .map(|c| (c.offset, c.length))
                .collect();
        if !self.eof && cuts.len() > 1 {
            // The last chunk may have been cut short by the window's end: chunk it again next time.
            cuts.pop();
        }
        self.consumed = cuts.last().map_or(0, |(o, l)| o + l);
        Ok(Some((&self.buf[..self.consumed], cuts)))
    }
}

/// Encodes a chunk list blob: the file digest, then per chunk its hash and length (u32 LE).
/// Starting with the file digest lets the index be rebuilt from packs alone.
#[must_use]
pub fn chunk_list_encode(file_digest: &Digest, chunks: &[(Digest, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + chunks.len() * 36);
    out.extend_from_slice(file_digest.as_bytes());
    for (h, len) in chunks {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out
}

/// Decodes a chunk list blob into the file digest and its chunks; `None` when malformed.
#[must_use]
pub fn chunk_list_decode(bytes: &[u8]) -> Option<(Digest, Vec<(Digest, u32)>)> {
    if bytes.len() < 32 || !(bytes.len() - 32).is_multiple_of(36) {
        return None;
    }
    let file = Digest::from_slice(&bytes[..32]).ok()?;
    let chunks = bytes[32..]
        .chunks_exact(36)
        .map(|c| {
            let h = Digest::from_slice(&c[..32]).ok()?;
            let len = u32::from_le_bytes(c[32..36].try_into().ok()?);
            Some((h, len))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((file, chunks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24).to_le_bytes()[0]
            })
            .collect()
    }

    struct Chunk {
        hash: Digest,
        data: Vec<u8>,
    }

    fn chunks(data: &[u8]) -> Vec<Chunk> {
        let mut chunker = Chunker::new(data);
        let mut out = Vec::new();
        while let Some((window, cuts)) = chunker.next_window().unwrap() {
            for (o, l) in cuts {
                let bytes = window[o..o + l].to_vec();
                out.push(Chunk {
                    hash: Digest::of(&bytes),
                    data: bytes,
                });
            }
        }
        out
    }

    #[test]
    fn windows_cut_where_one_pass_cuts() {
        let data = pseudo_random(40 << 20, 3);
        let windowed: Vec<usize> = chunks(&data).iter().map(|c| c.data.len()).collect();
        let whole: Vec<usize> =
            fastcdc::v2020::FastCDC::new(&data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
                .map(|c| c.length)
                .collect();
        assert_eq!(windowed, whole);
    }

    #[test]
    fn boundaries_respect_limits_and_reassemble() {
        let data = pseudo_random(12 << 20, 7);
        let cs = chunks(&data);
        assert!(cs.len() >= 4);
        for c in &cs[..cs.len() - 1] {
            assert!(c.data.len() >= MIN_CHUNK as usize && c.data.len() <= MAX_CHUNK as usize);
        }
        let joined: Vec<u8> = cs.iter().flat_map(|c| c.data.iter().copied()).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn an_insertion_changes_only_nearby_chunks() {
        let data = pseudo_random(16 << 20, 11);
        let mut edited = data.clone();
        let at = 8 << 20;
        edited.splice(at..at, pseudo_random(4096, 99));
        let before: HashSet<Digest> = chunks(&data).iter().map(|c| c.hash).collect();
        let after = chunks(&edited);
        let new: Vec<&Chunk> = after.iter().filter(|c| !before.contains(&c.hash)).collect();
        let new_bytes: usize = new.iter().map(|c| c.data.len()).sum();
        assert!(new.len() <= 2, "{} new chunks", new.len());
        assert!(new_bytes <= 2 * MAX_CHUNK as usize);
    }

    #[test]
    fn chunk_list_round_trip() {
        let list = vec![(Digest::of(b"a"), 5), (Digest::of(b"b"), 1 << 20)];
        let enc = chunk_list_encode(&Digest::of(b"file"), &list);
        assert_eq!(chunk_list_decode(&enc), Some((Digest::of(b"file"), list)));
        assert_eq!(chunk_list_decode(&enc[..40]), None);
    }
}
