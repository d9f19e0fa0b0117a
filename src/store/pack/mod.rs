//! Packs: append-only files of compressed blobs with a self-describing trailer.
//!
//! Layout (all integers little endian), written down in `docs/FORMAT.md`:
//! `"ARTPACK\0"`, format `u32` = 1, blobs back to back, then one 50-byte entry per blob
//! (hash 32, offset u64, stored length u32, raw length u32, codec u8, kind u8), then the
//! entry count `u32`, then the BLAKE3 of every byte before it (32). That checksum names the pack.

mod format;
mod read;
mod write;

pub use format::{BlobKind, PACK_FORMAT, PackEntry};
pub use read::{PackFile, decode_blob, pack_bytes_error, read_trailer_with};
pub use write::{NewPacks, PackOutcome, Packer};
pub(crate) use write::{publish, sync_dir};

use crate::model::Digest;
use std::path::{Path, PathBuf};

/// Where a pack lives: `packs/xx/<hash>.pack` under the store directory.
#[must_use]
pub fn pack_path(store_dir: &Path, hash: &Digest) -> PathBuf {
    let hex = hash.to_hex();
    store_dir
        .join("packs")
        .join(&hex[..2])
        .join(format!("{hex}.pack"))
}
