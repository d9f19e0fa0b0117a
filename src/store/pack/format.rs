//! The byte layout of a pack's header and trailer.

use crate::model::Digest;
use crate::store::Codec;

pub(crate) const MAGIC: &[u8; 8] = b"ARTPACK\0";
/// Version of the pack layout; readers refuse other values.
pub const PACK_FORMAT: u32 = 1;
pub(crate) const HEADER_LEN: u64 = 12;
pub(crate) const ENTRY_LEN: usize = 50;
/// Entry count (4) and checksum (32).
pub(crate) const FOOTER_LEN: u64 = 36;

/// What a blob holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlobKind {
    /// File content: a whole small file or one chunk of a large one.
    Data = 0,
    /// A large file's chunk list (see [`crate::store::chunk_list_encode`]).
    ChunkList = 1,
    /// A version's canonical manifest.
    Manifest = 2,
}

impl BlobKind {
    /// Parses the on-disk byte.
    #[must_use]
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(BlobKind::Data),
            1 => Some(BlobKind::ChunkList),
            2 => Some(BlobKind::Manifest),
            _ => None,
        }
    }
}

/// Where one blob sits in a pack and how it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackEntry {
    /// BLAKE3 of the raw (uncompressed) bytes.
    pub hash: Digest,
    /// Byte offset of the stored bytes in the pack.
    pub offset: u64,
    /// Length of the stored bytes.
    pub stored_len: u32,
    /// Length after decompression.
    pub raw_len: u32,
    /// How the bytes are stored.
    pub codec: Codec,
    /// What the blob holds.
    pub kind: BlobKind,
}

impl PackEntry {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.hash.as_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.stored_len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.push(self.codec.as_u8());
        out.push(self.kind as u8);
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != ENTRY_LEN {
            return None;
        }
        Some(PackEntry {
            hash: Digest::from_slice(&b[..32]).ok()?,
            offset: u64::from_le_bytes(b[32..40].try_into().ok()?),
            stored_len: u32::from_le_bytes(b[40..44].try_into().ok()?),
            raw_len: u32::from_le_bytes(b[44..48].try_into().ok()?),
            codec: Codec::from_u8(b[48])?,
            kind: BlobKind::from_u8(b[49])?,
        })
    }
}
