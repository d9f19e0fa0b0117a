//! `art link`, `art unlink`, `art tag`, `art untag`: the registry.

use super::output::Ctx;
use art::model::{AliasName, ArtifactName, Ref};
use clap::Args;

#[derive(Args, Debug)]
pub struct LinkArgs {
    /// The version to link.
    reference: Ref,
    /// The collection (made on the first link; its versions are numbered on their own).
    collection: ArtifactName,
    /// Point these aliases of the collection at the link (repeatable).
    #[arg(short = 'a', long = "alias")]
    aliases: Vec<AliasName>,
    /// Move aliases even when they are protected.
    #[arg(long)]
    force: bool,
}

pub fn link(ctx: &Ctx, args: LinkArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let out = store.link(&args.reference, &args.collection, &args.aliases, args.force)?;
    ctx.emit(&out, || {
        let mut text = if out.created {
            format!("{} -> {}", out.reference, out.source)
        } else {
            format!("{} already links {}", out.reference, out.source)
        };
        let shown: Vec<&String> = out.aliases.iter().filter(|a| *a != "latest").collect();
        if !shown.is_empty() {
            text.push_str(&format!(
                " ({})",
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        text
    })?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct UnlinkArgs {
    /// The link, `COLLECTION:vN` (or an alias of the collection).
    reference: Ref,
    /// Unlink even when it carries a protected alias.
    #[arg(long)]
    force: bool,
}

/// `art unlink` in JSON.
#[derive(serde::Serialize)]
struct Unlinked {
    unlinked: String,
}

pub fn unlink(ctx: &Ctx, args: UnlinkArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let unlinked = store.unlink(&args.reference, args.force)?;
    let out = Unlinked { unlinked };
    ctx.emit(&out, || format!("unlinked {}", out.unlinked))?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// The version.
    reference: Ref,
    /// Tags (A-Z a-z 0-9 _ . -).
    #[arg(required = true)]
    tags: Vec<String>,
}

/// `art tag` (`on`) and `art untag`.
pub fn tag(ctx: &Ctx, args: TagArgs, on: bool) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let out = store.tag(&args.reference, &args.tags, on)?;
    ctx.emit(&out, || {
        if out.tags.is_empty() {
            format!("{}: no tags", out.reference)
        } else {
            format!("{}: {}", out.reference, out.tags.join(", "))
        }
    })?;
    Ok(0)
}
