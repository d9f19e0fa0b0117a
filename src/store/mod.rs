//! The content layer: chunking, compression and packs. It never touches SQLite: writers
//! return what they wrote ([`PackOutcome`]) and the caller records it in the index.

mod chunker;
mod compress;
mod error;
pub mod pack;

pub use chunker::{CHUNK_THRESHOLD, Chunker, MAX_CHUNK, chunk_list_decode, chunk_list_encode};
pub use compress::{Codec, compress, decompress};
pub use error::{Error, Result};
pub use pack::{
    BlobKind, NewPacks, PackEntry, PackFile, PackOutcome, Packer, decode_blob, pack_bytes_error,
    pack_path, read_trailer_with,
};
