//! Errors of the index.

/// A failure of the SQLite index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite reported an error. Not chained as a source: its Display already holds
    /// SQLite's message, and rusqlite's own source only repeats it with a code.
    #[error("index database: {0}")]
    Sqlite(rusqlite::Error),
    /// The index file is damaged (not a database, or a malformed page).
    #[error(
        "the index `index.db` is damaged ({0}); rebuild it from the packs and the record log with `art index rebuild` (the damaged file is kept beside it)"
    )]
    Damaged(rusqlite::Error),
    /// The disk holding the index is full (SQLite says "disk is full", or cannot grow the
    /// `index.db-shm` it maps, which fails only for lack of space).
    #[error(
        "index database: No space left on device ({0}); free space on the store's disk and run the command again"
    )]
    Full(rusqlite::Error),
    /// The store was written by a newer art.
    #[error(
        "the index schema is version {found}, newer than this art supports ({supported}); upgrade art"
    )]
    NewerSchema {
        /// Schema version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A read-only store whose index has changes SQLite cannot read without writing.
    #[error(
        "its index has changes pending in `{}` that SQLite reads only with the `index.db-shm` file beside it, which is missing; open the store once where it is writable (or work on a copy) so art can fold them in",
        .0.display()
    )]
    PendingWal(std::path::PathBuf),
    /// A row holds a value art cannot read.
    #[error("index database holds a corrupt value: {0}; run `art fsck`")]
    Corrupt(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseCorrupt, DiskFull, NotADatabase};
        match e.sqlite_error() {
            Some(f) if matches!(f.code, DatabaseCorrupt | NotADatabase) => Error::Damaged(e),
            Some(f)
                if f.code == DiskFull || f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE =>
            {
                Error::Full(e)
            }
            _ => Error::Sqlite(e),
        }
    }
}

impl Error {
    /// Whether the index file itself is damaged, so only a rebuild helps.
    #[must_use]
    pub fn is_damaged(&self) -> bool {
        matches!(self, Error::Damaged(_))
    }
}

/// Result of index operations.
pub type Result<T> = std::result::Result<T, Error>;
