//! `art rm`, `art prune`, `art gc`, `art du`, `art config`.

use super::output::{Ctx, table};
use art::model::{ArtifactName, Ref, Size, Span, format_size};
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Versions to delete.
    #[arg(required = true)]
    references: Vec<Ref>,
    /// Also remove their aliases (otherwise a version with aliases is refused).
    #[arg(long)]
    delete_aliases: bool,
    /// Abandon the PENDING collaborative version ID of the artifact named instead (its
    /// parts are dropped; their content goes with the next gc).
    #[arg(long, value_name = "ID", conflicts_with = "delete_aliases")]
    pending: Option<String>,
}

pub fn rm(ctx: &Ctx, args: RmArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    if let Some(id) = &args.pending {
        let bare = |r: &Ref| matches!(&r.selector, art::model::Selector::Alias(a) if a.as_str() == "latest");
        let [r] = args.references.as_slice() else {
            anyhow::bail!("--pending takes one artifact name: `art rm NAME --pending ID`");
        };
        if !bare(r) {
            anyhow::bail!(
                "--pending takes an artifact name, not a version: `art rm {} --pending {id}`",
                r.name
            );
        }
        let out = store.drop_pending(r.name.as_str(), id)?;
        ctx.emit(&out, || {
            format!(
                "dropped pending {} of {} ({} parts)",
                out.distributed_id, out.name, out.parts
            )
        })?;
        return Ok(0);
    }
    let out = store.remove(&args.references, args.delete_aliases)?;
    print_removed(ctx, &out)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Artifacts to prune.
    #[arg(required = true)]
    names: Vec<ArtifactName>,
    /// Delete every version without an alias.
    #[arg(long)]
    unaliased: bool,
    /// Keep the N newest versions.
    #[arg(long, value_name = "N")]
    keep_last: Option<u64>,
    /// Only versions older than this (30d, 12h, …).
    #[arg(long, value_name = "AGE")]
    older_than: Option<Span>,
    /// Show what would be deleted.
    #[arg(long)]
    dry_run: bool,
}

pub fn prune(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let mut opts = art::PruneOptions::default();
    opts.unaliased = args.unaliased;
    opts.keep_last = args.keep_last;
    opts.older_than = args.older_than;
    opts.dry_run = args.dry_run;
    let out = store.prune(&args.names, &opts)?;
    print_removed(ctx, &out)?;
    Ok(0)
}

fn print_removed(ctx: &Ctx, out: &art::RemoveOutcome) -> anyhow::Result<()> {
    ctx.emit(out, || {
        if out.deleted.is_empty() {
            return "nothing to delete".to_owned();
        }
        let verb = if out.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let mut lines: Vec<String> = out.deleted.iter().map(|v| format!("{verb} {v}")).collect();
        if !out.aliases_removed.is_empty() {
            lines.push(format!(
                "aliases removed: {}",
                out.aliases_removed.join(", ")
            ));
        }
        for (name, latest) in &out.latest {
            lines.push(match latest {
                Some(v) => format!("{name}:latest -> {v}"),
                None => format!("{name} has no versions left"),
            });
        }
        if !out.dry_run {
            lines.push("space returns at the next `art gc`".to_owned());
        }
        lines.join("\n")
    })
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Show the plan without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// Keep everything younger than this (default: gc.grace, 1h).
    #[arg(long, value_name = "AGE")]
    grace: Option<Span>,
    /// Then evict least-recently-used packs a remote holds until the store fits (500MB, 1GiB).
    #[arg(long, value_name = "SIZE")]
    max: Option<Size>,
}

pub fn gc(ctx: &Ctx, args: GcArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let mut opts = art::GcOptions::default();
    opts.dry_run = args.dry_run;
    opts.grace = args.grace;
    opts.max = match args.max {
        Some(m) => Some(m.0),
        None => store.config().gc.max_bytes()?,
    };
    let out = store.gc(&opts)?;
    print_gc(ctx, &out)?;
    Ok(if out.cap_met { 0 } else { 3 })
}

/// Runs gc when `gc.max` is set and the store is over it (after commands that add data).
pub fn auto_gc(ctx: &Ctx, store: &mut art::Store) -> anyhow::Result<()> {
    let Some(max) = store.config().gc.max_bytes()? else {
        return Ok(());
    };
    if store.store_size()? <= max {
        return Ok(());
    }
    let mut opts = art::GcOptions::default();
    opts.max = Some(max);
    // Deleting versions is for an explicit `art gc`, not a side effect of logging.
    opts.keep_expired = true;
    let out = store.gc(&opts)?;
    if !ctx.quiet {
        eprintln!(
            "gc (gc.max = {}): store {} -> {}{}",
            format_size(max),
            format_size(out.size_before),
            format_size(out.size_after),
            if out.cap_met {
                String::new()
            } else {
                format!("; {} pinned (no remote holds it)", format_size(out.pinned))
            }
        );
    }
    Ok(())
}

fn print_gc(ctx: &Ctx, out: &art::GcOutcome) -> anyhow::Result<()> {
    ctx.emit(out, || {
        let verb = if out.dry_run { "would free" } else { "freed" };
        let mut lines = vec![format!(
            "{verb} {}: {} packs deleted, {} repacked, {} evicted, {} debris files ({}); store {} -> {}",
            format_size(out.freed),
            out.deleted_packs,
            out.repacked_packs,
            out.evicted_packs,
            out.debris_removed,
            format_size(out.debris_bytes),
            format_size(out.size_before),
            format_size(out.size_after)
        )];
        if !out.expired.is_empty() {
            lines.insert(
                0,
                format!(
                    "{} (TTL passed): {}",
                    if out.dry_run { "would delete" } else { "deleted" },
                    out.expired.join(", ")
                ),
            );
        }
        if let (Some(max), false) = (out.max, out.cap_met) {
            lines.push(format!(
                "cannot fit in {}: {} is pinned because no remote holds it (push to a remote to make it evictable)",
                format_size(max),
                format_size(out.pinned)
            ));
        }
        if out.dry_run {
            let rows: Vec<Vec<String>> = out
                .packs
                .iter()
                .filter(|p| p.fate != art::gc::PackFate::Keep)
                .map(|p| {
                    vec![
                        p.usage.hash.short(12),
                        format_size(p.usage.size),
                        format_size(p.usage.live_bytes),
                        format!("{:?}", p.fate).to_lowercase(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                lines.push(table(&["PACK", "SIZE", "LIVE", "ACTION"], &rows));
            }
        }
        lines.join("\n")
    })
}

#[derive(Args, Debug)]
pub struct DuArgs {}

pub fn du(ctx: &Ctx, _args: DuArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let out = store.disk_usage()?;
    ctx.emit(&out, || {
        let rows: Vec<Vec<String>> = out
            .artifacts
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.versions.to_string(),
                    format_size(a.logical),
                    format_size(a.stored),
                    format_size(a.unique),
                    format_size(a.shared),
                    format_size(a.referenced),
                ]
            })
            .collect();
        let mut text = table(&["ARTIFACT", "VERSIONS", "LOGICAL", "STORED", "UNIQUE", "SHARED", "REFERENCED"], &rows);
        text.push_str(&format!(
            "\nstore {}: garbage {} (`art gc` frees it), evictable {}, pinned {} (no remote holds it)",
            format_size(out.store_size),
            format_size(out.garbage),
            format_size(out.evictable),
            format_size(out.pinned)
        ));
        if out.remote_only > 0 {
            text.push_str(&format!(
                "; {} evicted (on remotes only)",
                format_size(out.remote_only)
            ));
        }
        if !out.remotes.is_empty() {
            let rows: Vec<Vec<String>> = out
                .remotes
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.packs.to_string(),
                        format_size(r.bytes),
                        format_size(r.evicted),
                    ]
                })
                .collect();
            text.push_str("\n\n");
            text.push_str(&table(&["REMOTE", "PACKS", "HOLDS", "EVICTED HERE"], &rows));
        }
        text
    })?;
    Ok(0)
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Set KEY to VALUE (keys: gc.max, gc.grace, gc.repack_threshold, compression.level, store.pack_size).
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Print the value of KEY.
    Get {
        /// The key.
        key: String,
    },
    /// Remove gc.max (the only optional key).
    Unset {
        /// The key.
        key: String,
    },
    /// Print every key and value.
    List,
}

pub fn config(ctx: &Ctx, cmd: ConfigCommand) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let mut config = store.config().clone();
    match cmd {
        ConfigCommand::Set { key, value } => {
            config.set(&key, Some(&value))?;
            store.save_config(config)?;
        }
        ConfigCommand::Unset { key } => {
            config.set(&key, None)?;
            store.save_config(config)?;
        }
        ConfigCommand::Get { key } => {
            let value = config.get(&key)?;
            ctx.emit(&value, || value.clone().unwrap_or_default())?;
            return Ok(u8::from(value.is_none()));
        }
        ConfigCommand::List => {
            let mut all = serde_json::Map::new();
            for key in art::CONFIG_KEYS {
                if let Some(v) = config.get(key)? {
                    all.insert((*key).to_owned(), serde_json::Value::String(v));
                }
            }
            ctx.emit(&all, || {
                all.iter()
                    .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
    }
    Ok(0)
}
