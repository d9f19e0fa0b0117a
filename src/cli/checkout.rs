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
    /// Only paths matching these gitignore-style patterns (`*.png`, `images/train/`); others
    /// in DEST are left alone.
    #[arg(long, num_args = 1.., value_name = "GLOB", value_parser = art::model::Selection::check_pattern)]
    only: Vec<String>,
    /// Do not fetch referenced objects: write only the files the store holds.
    #[arg(long)]
    skip_references: bool,
}

pub fn run(ctx: &Ctx, args: CheckoutArgs, mode: art::CheckoutMode) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let mut opts = art::CheckoutOptions::new(args.reference);
    opts.dest = args.dest;
    opts.force = args.force;
    opts.mode = mode;
    opts.skip_references = args.skip_references;
    if !args.only.is_empty() {
        opts.only = Some(art::model::Selection::new(&args.only)?);
    }
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
        let references = if out.references > 0 {
            format!(" ({} from references)", out.references)
        } else {
            String::new()
        };
        let outside = match out.not_selected {
            Some(n) => format!(", {n} not selected"),
            None => String::new(),
        };
        format!(
            "{} -> {}  {} written{references} ({}), {} unchanged{deleted}{outside}{fetched}",
            out.reference,
            out.dest.display(),
            out.written,
            format_size(out.bytes_written),
            out.unchanged
        )
    })?;
    Ok(0)
}
