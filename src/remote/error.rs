//! Errors of the remote layer.

/// A failure talking to a remote.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL names a scheme or form art does not know.
    #[error(
        "cannot use remote URL `{url}`: {reason}; use a directory, file:///PATH or s3://BUCKET/PREFIX"
    )]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint could not be reached (DNS, refused connection, timeout).
    #[error(
        "cannot reach remote `{remote}` ({url}): {message}; check the URL, --endpoint and the network"
    )]
    Unreachable {
        /// Remote name.
        remote: String,
        /// Its URL.
        url: String,
        /// What the transport said.
        message: String,
    },
    /// The server refused the credentials.
    #[error(
        "remote `{remote}` ({url}) refused access: {message}; check the credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE)"
    )]
    AccessDenied {
        /// Remote name.
        remote: String,
        /// Its URL.
        url: String,
        /// The server's reply.
        message: String,
    },
    /// The bucket does not exist.
    #[error("remote `{remote}`: bucket of `{url}` does not exist; create it or fix the URL")]
    NoBucket {
        /// Remote name.
        remote: String,
        /// Its URL.
        url: String,
    },
    /// An object the remote should hold is missing.
    #[error("remote `{remote}` has no `{key}`; run `art push {remote}` from a store that has it")]
    NotFound {
        /// Remote name.
        remote: String,
        /// The object key, relative to the remote's root.
        key: String,
    },
    /// The remote holds data art cannot trust.
    #[error("remote `{remote}`: `{key}` is invalid ({reason}); nothing was taken from it")]
    Corrupt {
        /// Remote name.
        remote: String,
        /// The object key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The remote was written by a newer art.
    #[error(
        "remote `{remote}` has layout format {found}, newer than this art supports ({supported}); upgrade art"
    )]
    NewerFormat {
        /// Remote name.
        remote: String,
        /// Format found.
        found: u32,
        /// Newest this build knows.
        supported: u32,
    },
    /// A request for a single object at a URL (an `http(s)://` reference) failed.
    #[error("cannot read `{url}`: {message}")]
    Url {
        /// The object's URL.
        url: String,
        /// What the transport or server said.
        message: String,
    },
    /// A request for an object or listing in a bucket (an `s3://`, `gs://` or `az://`
    /// reference) failed.
    #[error(
        "cannot read `{url}`: {message}; check the credentials, endpoint and region in the environment (AWS_*, AZURE_STORAGE_*, GOOGLE_*)"
    )]
    Bucket {
        /// The object's or prefix's URL.
        url: String,
        /// What the transport or server said.
        message: String,
    },
    /// Any other failure of the object store.
    #[error("remote `{remote}` ({url}): {message}")]
    Other {
        /// Remote name.
        remote: String,
        /// Its URL.
        url: String,
        /// The object store's message.
        message: String,
    },
    /// A directory remote that is not there (moved, deleted, or a share not mounted).
    #[error(
        "remote `{remote}`: directory `{}` does not exist; mount or restore it, or point the remote elsewhere (`art remote rm {remote}`, then `art remote add`)", path.display()
    )]
    NoDirectory {
        /// The remote.
        remote: String,
        /// The missing directory.
        path: std::path::PathBuf,
    },
    /// Reading a local file to upload failed.
    #[error("cannot read `{}` to upload it: {source}", path.display())]
    Local {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

/// Result of remote operations.
pub type Result<T> = std::result::Result<T, Error>;
