//! Failpoints: named places in the write paths where a test makes art fail or die, to prove
//! that a command stopped there leaves the store as before or fully updated (the spirit of
//! SQLite's I/O-error tests). Only debug builds read `ART_FAILPOINT` (the CLI tests run the
//! debug binary); in a release build [`hit`] is an empty inline function.
//!
//! `ART_FAILPOINT=NAME[:ACTION[:N]]`: at the `N`th time (default 1) the process passes the
//! failpoint `NAME`, `error` (the default) makes the operation there fail with an I/O error
//! naming the failpoint; `kill` sends the process SIGKILL, as a crash or `kill -9` would.

/// Passes the failpoint `name`: an error or a SIGKILL when `ART_FAILPOINT` asks for one here.
///
/// # Errors
/// The injected failure, as an I/O error of kind `Other` whose message names the failpoint.
#[cfg(debug_assertions)]
pub(crate) fn hit(name: &str) -> std::io::Result<()> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SPEC: OnceLock<Option<(String, bool, u64)>> = OnceLock::new();
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let spec = SPEC.get_or_init(|| {
        let text = std::env::var("ART_FAILPOINT").ok()?;
        let mut parts = text.split(':');
        let point = parts.next()?.to_owned();
        // A malformed value arms nothing; the tests assert that their failpoint was reached.
        let kill = match parts.next().unwrap_or("error") {
            "kill" => true,
            "error" => false,
            _ => return None,
        };
        let nth = match parts.next() {
            Some(n) => n.parse().ok()?,
            None => 1,
        };
        Some((point, kill, nth))
    });
    let Some((point, kill, nth)) = spec else {
        return Ok(());
    };
    if point != name || PASSED.fetch_add(1, Ordering::SeqCst) + 1 != *nth {
        return Ok(());
    }
    if *kill {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    Err(std::io::Error::other(format!("failpoint `{name}`")))
}

/// Passes the failpoint `name`: a release build has none.
///
/// # Errors
/// Never.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn hit(_name: &str) -> std::io::Result<()> {
    Ok(())
}
