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
    /// Also read and re-hash every blob (with --remote: download and hash every pack).
    #[arg(long)]
    read_data: bool,
    /// Check what this remote holds of the store instead.
    #[arg(long, value_name = "NAME")]
    remote: Option<String>,
}

pub fn fsck(ctx: &Ctx, args: FsckArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let out = match &args.remote {
        Some(name) => store.fsck_remote(name, args.read_data)?,
        None => store.fsck(args.read_data)?,
    };
    ctx.emit(&out, || {
        let mut lines: Vec<String> = out.problems.iter().map(|p| format!("error: {p}")).collect();
        lines.extend(out.notes.iter().map(|n| format!("note: {n}")));
        let verdict = if out.problems.is_empty() {
            "ok".to_owned()
        } else {
            format!("{} problem(s)", out.problems.len())
        };
        let summary = match (&args.remote, args.read_data) {
            (Some(remote), true) => format!(
                "{} packs on {remote} checked, {} downloaded and hashed",
                out.packs, out.blobs_read
            ),
            (Some(remote), false) => format!("{} packs on {remote} checked", out.packs),
            (None, true) => format!(
                "{} packs, {} versions checked, {} blobs read",
                out.packs, out.versions, out.blobs_read
            ),
            (None, false) => format!("{} packs, {} versions checked", out.packs, out.versions),
        };
        lines.push(format!("{summary}: {verdict}"));
        lines.join("\n")
    })?;
    Ok(u8::from(!out.problems.is_empty()))
}
