//! Errors of working-directory operations.

use std::path::PathBuf;

/// A failure scanning or writing a working directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What art was doing.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A path to log does not exist.
    #[error("`{}` does not exist; check the path", .0.display())]
    NotFound(PathBuf),
    /// A file name that is not UTF-8 (manifests hold UTF-8 paths).
    #[error("`{}` is not a UTF-8 file name; rename it or add it to `.artignore`", .0.display())]
    NotUtf8(PathBuf),
    /// A file type art does not version.
    #[error("`{}` is a {kind}, which art cannot version; add it to `.artignore`", path.display())]
    Unsupported {
        /// The path.
        path: PathBuf,
        /// What it is (socket, fifo, device).
        kind: &'static str,
    },
    /// Two paths given to log map to the same name in the version.
    #[error("`{0}` is given twice (paths are stored under their base name)")]
    DuplicateName(String),
    /// A write would pass through a symlink or a file.
    #[error("refusing to write `{}`: `{}` is not a directory (art never writes through symlinks)", path.display(), blocker.display())]
    Blocked {
        /// What art wanted to write.
        path: PathBuf,
        /// The component in the way.
        blocker: PathBuf,
    },
    /// The walk failed.
    #[error("cannot scan `{}`: {message}", path.display())]
    Walk {
        /// Where.
        path: PathBuf,
        /// The walker's message.
        message: String,
    },
    /// The user asked art to stop.
    #[error("interrupted")]
    Interrupted,
}

/// Result of working-directory operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Maps the failure to read a path the user named: a missing path gets its own message.
pub fn read_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound(path.to_owned())
        } else {
            Error::Io {
                action: "read",
                path: path.to_owned(),
                source: e,
            }
        }
    }
}

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
