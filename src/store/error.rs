//! Errors of the content layer.

use std::path::PathBuf;

/// A failure reading or writing chunks and packs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What art was doing.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A pack whose structure or checksum is wrong.
    #[error("corrupt pack `{}`: {reason}; run `art fsck --read-data` to see what is affected", path.display())]
    CorruptPack {
        /// The pack file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A blob whose bytes do not hash to its name.
    #[error("blob `{hash}` in pack `{}` is corrupt ({reason}); run `art fsck --read-data`", path.display())]
    CorruptBlob {
        /// The blob's expected hash (hex).
        hash: String,
        /// The pack holding it.
        path: PathBuf,
        /// What did not match.
        reason: String,
    },
    /// The user asked art to stop.
    #[error("interrupted")]
    Interrupted,
}

/// Result of the content layer.
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an I/O error with the action and path, for messages a user can act on.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
