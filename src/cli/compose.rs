//! `art patch` and `art finish`: versions made from another version plus changes, or from
//! the parts many writers added.

use super::output::Ctx;
use anyhow::{Context as _, bail};
use art::model::{AliasName, ArtifactName, Prefer, Ref, format_size};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("changes").required(true).multiple(true).args(["add", "remove"]))]
pub struct PatchArgs {
    /// The version to patch (it must be `latest`, unless --onto-latest).
    reference: Ref,
    /// A file or directory to add, at DEST in the version (default: its name at the root);
    /// it replaces the entry already there (repeatable).
    #[arg(long, value_name = "PATH[=DEST]", value_parser = parse_add)]
    add: Vec<(PathBuf, Option<String>)>,
    /// Entries to remove: a path or gitignore-style glob (`old/`, `*.tmp`); applied before
    /// the additions (repeatable). One that matches nothing is an error.
    #[arg(long, value_name = "PATH|GLOB")]
    remove: Vec<String>,
    /// Description of the new version (default: the patched version's).
    #[arg(short = 'm', long = "description")]
    description: Option<String>,
    /// The new version's whole metadata, a JSON object or @file.json (default: the patched
    /// version's).
    #[arg(long, value_parser = super::log::parse_metadata)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Alias to point at the new version (repeatable).
    #[arg(short, long = "alias")]
    alias: Vec<AliasName>,
    /// Apply the changes to `latest` even if it moved past REFERENCE.
    #[arg(long)]
    onto_latest: bool,
    /// The run producing the new version (default: $ART_RUN).
    #[arg(long, env = "ART_RUN")]
    run: Option<String>,
}

/// `PATH=DEST` or `PATH`.
fn parse_add(s: &str) -> anyhow::Result<(PathBuf, Option<String>)> {
    match s.split_once('=') {
        Some((path, dest)) if !path.is_empty() && !dest.is_empty() => {
            Ok((PathBuf::from(path), Some(dest.to_owned())))
        }
        Some(_) => bail!("expected PATH or PATH=DEST, got `{s}`"),
        None => Ok((PathBuf::from(s), None)),
    }
}

pub fn patch(ctx: &Ctx, args: PatchArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let mut opts = art::PatchOptions::new(args.reference);
    opts.add = args.add;
    opts.remove = args.remove;
    opts.description = args.description;
    opts.metadata = args.metadata;
    opts.aliases = args.alias;
    opts.onto_latest = args.onto_latest;
    opts.run = args.run;
    let out = store.patch(&opts)?;
    ctx.emit(&out, || {
        if out.unchanged {
            return format!(
                "{}: unchanged by the patch, still v{}",
                out.name, out.version
            );
        }
        format!(
            "{} from {}  +{} ~{} -{}  {} files  {}  stored {}  [{}]",
            out.reference,
            out.base,
            out.added,
            out.replaced,
            out.removed,
            out.files,
            format_size(out.size),
            format_size(out.stored_bytes),
            out.aliases.join(", ")
        )
    })?;
    if !out.unchanged {
        super::lifecycle::auto_gc(ctx, &mut store)?;
    }
    Ok(0)
}

/// Which writer wins a path written with different content.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum PreferArg {
    /// The writer that wrote it first.
    First,
    /// The writer that wrote it last.
    Last,
}

#[derive(Args, Debug)]
pub struct FinishArgs {
    /// The artifact.
    name: ArtifactName,
    /// Files the finishing command adds itself (as the last writer).
    paths: Vec<PathBuf>,
    /// The pending version (default: $ART_DISTRIBUTED_ID, else the run's group).
    #[arg(long, value_name = "ID")]
    distributed_id: Option<String>,
    /// Alias to point at the version (repeatable).
    #[arg(short, long = "alias")]
    alias: Vec<AliasName>,
    /// Description of the version.
    #[arg(short = 'm', long = "description")]
    description: Option<String>,
    /// Metadata as a JSON object, or @file.json.
    #[arg(long, value_parser = super::log::parse_metadata)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Resolve a path written with different content by taking the first or last writer's.
    #[arg(long, value_enum)]
    prefer: Option<PreferArg>,
    /// The run finishing it (default: $ART_RUN).
    #[arg(long, env = "ART_RUN")]
    run: Option<String>,
    /// Pull first from REMOTE (default: the only or `origin` remote), so parts other
    /// machines pushed are included, and push the version after.
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "")]
    sync: Option<String>,
}

pub fn finish(ctx: &Ctx, args: FinishArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let remote = args.sync.as_deref().map(|r| (!r.is_empty()).then_some(r));
    if let Some(remote) = remote {
        let pulled = store.pull(remote)?;
        if !ctx.quiet && !ctx.json {
            eprintln!("{}", super::remote::pull_text(&pulled));
        }
    }
    let given = Some(args.distributed_id.unwrap_or_default());
    let Some(id) = super::log::distributed_id(&store, given, args.run.as_deref())? else {
        unreachable!("an empty given id resolves or fails")
    };
    let mut opts = art::FinishPendingOptions::new(args.name, id);
    opts.paths = args.paths;
    opts.aliases = args.alias;
    opts.description = args.description;
    opts.metadata = args.metadata.unwrap_or_default();
    opts.run = args.run;
    opts.prefer = args.prefer.map(|p| match p {
        PreferArg::First => Prefer::First,
        PreferArg::Last => Prefer::Last,
    });
    let out = store.finish_pending(opts)?;
    if !out.resolved.is_empty() && !ctx.quiet && !ctx.json {
        eprintln!(
            "note: {} path(s) written with different content, resolved by --prefer: {}",
            out.resolved.len(),
            out.resolved.join(", ")
        );
    }
    ctx.emit(&out, || {
        if out.unchanged {
            return format!(
                "{}: the {} part(s) equal v{}, so no new version",
                out.name, out.parts, out.version
            );
        }
        format!(
            "{}  {} parts from {} writer(s)  {} files  {}  [{}]",
            out.reference,
            out.parts,
            out.writers.len(),
            out.files,
            format_size(out.size),
            out.aliases.join(", ")
        )
    })?;
    // The version is committed (and said) before the push, which may fail on its own.
    if let Some(remote) = remote {
        let pushed = store.push(remote, &[]).with_context(|| {
            format!(
                "{} is committed here but not pushed; run `art pull` then `art push`",
                out.reference
            )
        })?;
        if !ctx.quiet && !ctx.json {
            eprintln!(
                "pushed to {}: {} packs, {} log batches",
                pushed.remote, pushed.packs_uploaded, pushed.batches_uploaded
            );
        }
    }
    if !out.unchanged {
        super::lifecycle::auto_gc(ctx, &mut store)?;
    }
    Ok(0)
}
