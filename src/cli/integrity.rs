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
    #[arg(long, value_name = "NAME", conflicts_with = "repair")]
    remote: Option<String>,
    /// Fetch damaged or missing packs again from the remotes that hold them and rebuild a
    /// damaged index from the packs and the record log; then check everything (--read-data).
    #[arg(long)]
    repair: bool,
}

/// The store's directory, as `--store` or the search from the cwd finds it.
fn store_dir(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    Ok(match ctx.store_arg() {
        Some(p) => p.clone(),
        None => art::find_store_dir(&Ctx::cwd()?)
            .ok_or_else(|| art::Error::NoStore(Ctx::cwd().unwrap_or_default()))?,
    })
}

/// `art fsck --repair`: packs first (a rebuild cannot index a pack it cannot read), then
/// the index when it needs it, then a full check.
fn repair(ctx: &Ctx) -> anyhow::Result<u8> {
    let dir = store_dir(ctx)?;
    let mut rebuilt = false;
    let store = if let Ok(s) = ctx.open_store() {
        s
    } else {
        art::Store::rebuild_index(&dir)?;
        rebuilt = true;
        ctx.open_store()?
    };
    let repaired = store.repair_packs()?;
    let store = if store.index_needs_rebuild()? {
        drop(store);
        art::Store::rebuild_index(&dir)?;
        rebuilt = true;
        ctx.open_store()?
    } else {
        store
    };
    let out = store.fsck(true)?;
    let json = serde_json::json!({"repair": repaired, "index_rebuilt": rebuilt, "fsck": out});
    ctx.emit(&json, || {
        let mut lines: Vec<String> = repaired
            .fetched
            .iter()
            .map(|(pack, remote)| format!("fetched pack `{}` again from {remote}", &pack[..16]))
            .collect();
        lines.extend(repaired.unrepaired.iter().map(|u| format!("error: {u}")));
        if rebuilt {
            lines.push("rebuilt the index from the packs and the record log".into());
        }
        lines.extend(out.problems.iter().map(|p| format!("error: {p}")));
        let verdict = if out.problems.is_empty() {
            "ok".to_owned()
        } else {
            format!("{} problem(s) left", out.problems.len())
        };
        lines.push(format!(
            "{} damaged pack(s), {} fetched again; {} packs, {} versions checked: {verdict}",
            repaired.damaged,
            repaired.fetched.len(),
            out.packs,
            out.versions
        ));
        lines.join("\n")
    })?;
    Ok(u8::from(!out.problems.is_empty()))
}

pub fn fsck(ctx: &Ctx, args: FsckArgs) -> anyhow::Result<u8> {
    if args.repair {
        return repair(ctx);
    }
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
            let dir = store_dir(ctx)?;
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
