//! Working directories: scanning one (ignore rules, stat metadata) and the file operations
//! checkout is made of, each of which refuses to follow a symlink out of the destination.

mod error;
mod fsops;
mod scan;

pub use error::{Error, Result, read_error};
pub use fsops::{
    Destination, hash_file, ignores_case, prune_empty_dirs, remove_entry, symlink_stays_inside,
};
pub use scan::{
    FileStat, Scan, ScanGroup, ScannedEntry, ScannedKind, TEMP_PREFIX, scan_dir, scan_named,
    stat_of,
};
