//! `art verify`, `art fsck`.

use super::output::Ctx;
use art::model::{Ref, format_size};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The version.
    reference: Ref,
    /// Verify this directory against the version instead of the stored data.
    dir: Option<PathBuf>,
}

pub fn verify(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let out = store.verify(&args.reference, args.dir.as_deref())?;
    ctx.emit(&out, || {
        let mut lines = out.problems.clone();
        let verdict = if out.problems.is_empty() {
            "ok".to_owned()
        } else {
            format!("{} problem(s)", out.problems.len())
        };
        lines.push(format!(
            "{} ({}): {} files, {} checked: {verdict}",
            out.reference,
            out.target,
            out.files,
            format_size(out.bytes)
        ));
        lines.join("\n")
    })?;
    Ok(u8::from(!out.problems.is_empty()))
}

#[derive(Args, Debug)]
pub struct FsckArgs {
    /// Also read and re-hash every blob.
    #[arg(long)]
    read_data: bool,
}

pub fn fsck(ctx: &Ctx, args: FsckArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let out = store.fsck(args.read_data)?;
    ctx.emit(&out, || {
        let mut lines: Vec<String> = out.problems.iter().map(|p| format!("error: {p}")).collect();
        lines.extend(out.notes.iter().map(|n| format!("note: {n}")));
        let verdict = if out.problems.is_empty() {
            "ok".to_owned()
        } else {
            format!("{} problem(s)", out.problems.len())
        };
        let read = if args.read_data {
            format!(", {} blobs read", out.blobs_read)
        } else {
            String::new()
        };
        lines.push(format!(
            "{} packs, {} versions checked{read}: {verdict}",
            out.packs, out.versions
        ));
        lines.join("\n")
    })?;
    Ok(u8::from(!out.problems.is_empty()))
}
