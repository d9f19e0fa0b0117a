//! `art`: an embedded, local-first, git-like store for ML artifacts.
//!
//! A **store** is a `.artifacts` directory. It holds **artifacts**: named, typed, versioned
//! directories. Each **version** (`NAME:vN`) is an immutable snapshot whose file list, the
//! **manifest**, is named by its BLAKE3 digest. File content is cut into **blobs** (whole
//! small files, FastCDC chunks of large ones), compressed with zstd and appended to
//! **packs**; an append-only **record log** (`.artifacts/log/`) records versions, **aliases**
//! (`latest`, `best`, …), metadata, deletions, runs and lineage, and a SQLite index, rebuilt
//! from packs and log at will, answers queries.
//!
//! ```
//! # fn main() -> art::Result<()> {
//! let tmp = tempfile::tempdir().unwrap();
//! let data = tmp.path().join("data");
//! std::fs::create_dir(&data).unwrap();
//! std::fs::write(data.join("train.csv"), "x,y\n1,2\n").unwrap();
//!
//! let mut store = art::Store::init(tmp.path())?.store;
//! let outcome = store.log(art::LogOptions::new("dataset".parse()?, vec![data.clone()]))?;
//! assert_eq!(outcome.reference, "dataset:v0");
//!
//! let dest = tmp.path().join("restored");
//! store.checkout(&art::CheckoutOptions::new("dataset:v0".parse()?).dest(dest.clone()))?;
//! assert_eq!(std::fs::read(dest.join("train.csv")).unwrap(), b"x,y\n1,2\n");
//! # Ok(()) }
//! ```
#![deny(missing_docs, unsafe_code)]

mod api;
mod error;
mod failpoint;
pub mod gc;
pub mod index;
pub mod model;
pub mod remote;
pub mod store;
pub mod ui;
pub mod worktree;

pub use api::find_store_dir;
pub use api::{
    AffectedFile, AliasOutcome, ArtifactSummary, CatOutcome, CheckoutMode, CheckoutOptions,
    CheckoutOutcome, Config, DiffOutcome, DiffTarget, FileInfo, FindTarget, FoundFile, FsckOutcome,
    InitOutcome, LogOptions, LogOutcome, MetaOptions, NoProgress, Progress, RebuildOutcome,
    RepairOutcome, Store, VerifyOutcome, VersionInfo,
};
pub use api::{
    BestRunOptions, BestRunOutcome, FinishOptions, LineageOptions, RunInfo, RunOptions,
    RunsOptions, UseOptions, UseOutcome,
};
pub use api::{
    CONFIG_KEYS, DiskUsage, DuOutcome, GcOptions, GcOutcome, PackPlan, PruneOptions, RemoveOutcome,
};
pub use api::{
    DropPendingOutcome, FinishPendingOptions, FinishPendingOutcome, PartOutcome, PatchOptions,
    PatchOutcome, PendingVersion,
};
pub use api::{FetchOutcome, PullOutcome, PushOutcome, RemoteInfo, RemoteRemoved};
pub use api::{FileReader, LinkOutcome, TagOutcome};
pub use error::{Error, ErrorKind, Result};
