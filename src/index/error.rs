//! Errors of the index.

/// A failure of the SQLite index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite reported an error.
    #[error("index database: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    /// A row holds a value art cannot read.
    #[error("index database holds a corrupt value: {0}; run `art fsck`")]
    Corrupt(String),
}

/// Result of index operations.
pub type Result<T> = std::result::Result<T, Error>;
