//! Errors of `art ui`.

use std::net::SocketAddr;

/// What can stop the web server from starting or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bind address is reachable from other machines and `--allow-remote` was not given.
    #[error(
        "refusing to serve on `{addr}`: it is not a loopback address, so anyone who can reach \
         this machine could read every artifact, file, run and metadata value in the store \
         (there is no login); bind 127.0.0.1, or pass --allow-remote to expose it anyway"
    )]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on `{addr}`: {reason}; pick another port with --bind 127.0.0.1:PORT")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        reason: String,
    },
    /// Accepting a connection failed.
    #[error("cannot receive a request: {0}")]
    Receive(#[source] std::io::Error),
    /// Opening the store failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
}

/// Result of `art ui` operations.
pub type Result<T> = std::result::Result<T, Error>;
