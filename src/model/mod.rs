//! Plain data types and the rules about them. Nothing here does I/O, so every rule is
//! unit-testable: names, references, digests, manifests and sizes.

mod compose;
mod digest;
mod duration;
mod error;
mod lineage;
mod manifest;
mod merge;
mod name;
mod record;
mod reference;
mod run;
mod select;
mod size;
mod time;

pub use compose::{PartsUnion, Patched, PathConflict, Prefer, patch, unite};
pub use digest::{Digest, DigestHasher, DigestMap, DigestSet};
pub use duration::Span;
pub use error::{Error, Result};
pub use lineage::{
    Direction, Lineage, LineageEdge, LineageFormat, LineageNode, NodeInfo, Relation, Side, Step,
    Walk, reaches, walk,
};
pub use manifest::{
    CanonicalReader, Change, EntryKind, Listed, MANIFEST_FORMAT, MANIFEST_FORMAT_REFERENCES,
    Manifest, ManifestEntry, ManifestPath, diff_entries, digest_of_entries, format_of,
};
pub use merge::{Dropped, Rebased, Renumbered, rebase};
pub use name::{AliasName, ArtifactName, ArtifactType, closest_names};
pub use record::{
    AliasState, ArtifactState, Batch, CHECKPOINT_FORMAT, Checkpoint, Entry, InputState, LOG_FORMAT,
    PackState, PartRecord, ProtectedAlias, RunRecord, VersionRecord,
    VersionState as RecordedVersion,
};
pub use reference::{Ref, Selector};
pub use run::{
    RunField, RunId, RunSort, RunStatus, best_by_metric, compare_values, lookup, parse_config_pair,
    parse_summary_pair, parse_summary_text, sort_missing_last,
};
pub use select::Selection;
pub use size::{Size, format_size};
pub use time::{format_time, now_ms, now_ns};
