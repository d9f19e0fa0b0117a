//! The SQLite index: artifacts, versions, aliases, blob locations, packs and the stat cache.
//! Query functions take the caller's connection or transaction, so one operation can compose
//! many of them in a single commit.

mod blobs;
mod error;
mod parts;
mod records;
mod registry;
mod runs;
mod schema;
mod stat_cache;
mod versions;

pub use blobs::{BlobLocation, PackRow};
pub use error::{Error, Result};
pub use runs::RunRow;
pub use schema::{
    ReadOnlyIndex, ReadPool, SCHEMA_VERSION, copy_to_memory, open, open_in_memory, open_read_only,
};
pub use stat_cache::StatEntry;
pub use versions::{ArtifactRow, VersionRow, VersionState};

/// Blob, pack and chunk-list queries.
pub mod blob_queries {
    pub use super::blobs::*;
}
/// Stat cache queries.
pub mod stat_queries {
    pub use super::stat_cache::*;
}
/// Artifact, version and alias queries.
pub mod version_queries {
    pub use super::versions::*;
}
/// The index as a cache of the record log: applying batches and checkpoints.
pub mod record_queries {
    pub use super::records::*;
}
/// Collections (links), tags, protected aliases and expiry.
pub mod registry_queries {
    pub use super::registry::*;
}
/// Parts of pending collaborative versions.
pub mod part_queries {
    pub use super::parts::*;
}
/// Run and lineage-edge queries.
pub mod run_queries {
    pub use super::runs::*;
}
