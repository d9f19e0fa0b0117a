//! `art checkout` and `art download`.

use super::output::Ctx;
use art::model::{Ref, format_size};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckoutArgs {
    /// The version: NAME, NAME:ALIAS, NAME:vN or NAME@DIGESTPREFIX.
    reference: Ref,
    /// Destination directory (default: where the version was logged from).
    dest: Option<PathBuf>,
    /// Overwrite or delete files modified since art last wrote or read them.
    #[arg(long, short)]
    force: bool,
}

pub fn run(ctx: &Ctx, args: CheckoutArgs, mode: art::CheckoutMode) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let mut opts = art::CheckoutOptions::new(args.reference);
    opts.dest = args.dest;
    opts.force = args.force;
    opts.mode = mode;
    let out = store.checkout(&opts)?;
    for link in &out.skipped_symlinks {
        eprintln!("warning: symlink `{link}` not restored: its target leaves the destination");
    }
    ctx.emit(&out, || {
        let deleted = if mode == art::CheckoutMode::Exact {
            format!(", {} deleted", out.deleted)
        } else {
            String::new()
        };
        let fetched = if out.fetched_bytes > 0 {
            format!(", {} fetched from remotes", format_size(out.fetched_bytes))
        } else {
            String::new()
        };
        format!(
            "{} -> {}  {} written ({}), {} unchanged{deleted}{fetched}",
            out.reference,
            out.dest.display(),
            out.written,
            format_size(out.bytes_written),
            out.unchanged
        )
    })?;
    Ok(0)
}
