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

#[derive(clap::Subcommand, Debug)]
pub enum IndexCommand {
    /// Recreate index.db from the packs and the record log (the old file is kept beside it
    /// as index.db.corrupt-TIME).
    Rebuild,
}

pub fn index(ctx: &Ctx, cmd: IndexCommand) -> anyhow::Result<u8> {
    match cmd {
        IndexCommand::Rebuild => {
            let dir = match ctx.store_arg() {
                Some(p) => p.clone(),
                None => art::find_store_dir(&Ctx::cwd()?)
                    .ok_or_else(|| art::Error::NoStore(Ctx::cwd().unwrap_or_default()))?,
            };
            let out = art::Store::rebuild_index(&dir)?;
            ctx.emit(&out, || {
                let mut lines: Vec<String> = out.notes.iter().map(|n| format!("note: {n}")).collect();
                if let Some(kept) = &out.kept {
                    lines.push(format!("kept the old index as `{}`", kept.display()));
                }
                let from = if out.checkpoint > 0 {
                    format!("checkpoint {} and ", out.checkpoint)
                } else {
                    String::new()
                };
                lines.push(format!(
                    "rebuilt the index from {from}log batches up to {}: {} artifacts, {} versions, {} runs, {} packs, {} blobs",
                    out.seq, out.artifacts, out.versions, out.runs, out.packs, out.blobs
                ));
                lines.join("\n")
            })?;
            Ok(0)
        }
    }
}
