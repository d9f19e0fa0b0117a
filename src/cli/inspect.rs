//! `art ls`, `art versions`, `art show`, `art diff`.

use super::output::{Ctx, short_time, table};
use art::model::{Change, Ref, format_size, format_time};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct LsArgs {
    /// A version whose files to list; without it, list artifacts.
    reference: Option<Ref>,
    /// List collections (`art link`) instead of artifacts.
    #[arg(long, conflicts_with = "reference")]
    collections: bool,
    /// Only artifacts with a live version carrying this tag.
    #[arg(long, value_name = "TAG", conflicts_with = "reference")]
    tag: Option<String>,
    /// Only files matching these gitignore-style patterns (`*.png`, `images/train/`).
    #[arg(requires = "reference", value_parser = art::model::Selection::check_pattern)]
    globs: Vec<String>,
}

pub fn ls(ctx: &Ctx, args: LsArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let only = if args.globs.is_empty() {
        None
    } else {
        Some(art::model::Selection::new(&args.globs)?)
    };
    match args.reference {
        None => {
            let mut list = store.list_artifacts()?;
            list.retain(|a| a.collection == args.collections);
            if let Some(tag) = &args.tag {
                let tagged = store.artifacts_tagged(tag)?;
                list.retain(|a| tagged.contains(&a.name));
            }
            ctx.emit(&list, || {
                if list.is_empty() {
                    return match (&args.tag, args.collections) {
                        (Some(t), _) => format!("no artifact has a version tagged `{t}`"),
                        (None, true) => {
                            "no collections yet; make one with `art link REF COLLECTION`".to_owned()
                        }
                        (None, false) => {
                            "no artifacts yet; add one with `art log NAME PATH`".to_owned()
                        }
                    };
                }
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|a| {
                        vec![
                            a.name.clone(),
                            a.kind.clone(),
                            a.versions.to_string(),
                            a.latest.clone().unwrap_or_else(|| "-".into()),
                            format_size(a.size),
                        ]
                    })
                    .collect();
                table(&["NAME", "TYPE", "VERSIONS", "LATEST", "SIZE"], &rows)
            })?;
        }
        Some(r) => {
            let files = store.files_in(&r, only.as_ref())?;
            ctx.emit(&files, || {
                let rows: Vec<Vec<String>> = files
                    .iter()
                    .map(|f| {
                        let mode = match (f.kind, f.exec) {
                            (art::model::EntryKind::Symlink, _) => "l",
                            (art::model::EntryKind::Reference, _) => "r",
                            (_, true) => "x",
                            _ => "-",
                        };
                        let path = match (&f.target, &f.uri) {
                            (Some(t), _) => format!("{} -> {t}", f.path),
                            (None, Some(uri)) if f.pin.as_deref() == Some("uri") => {
                                format!("{} <- {uri} (URI only)", f.path)
                            }
                            (None, Some(uri))
                                if f.pin.as_deref().is_some_and(|p| !p.contains(" blake3:")) =>
                            {
                                format!("{} <- {uri} (no checksum)", f.path)
                            }
                            (None, Some(uri)) => format!("{} <- {uri}", f.path),
                            (None, None) => f.path.clone(),
                        };
                        vec![mode.into(), format_size(f.size), f.digest.short(12), path]
                    })
                    .collect();
                table(&["MODE", "SIZE", "DIGEST", "PATH"], &rows)
            })?;
        }
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct VersionsArgs {
    /// The artifact.
    name: art::model::ArtifactName,
    /// Include deleted versions.
    #[arg(long)]
    all: bool,
    /// Only versions logged by this run.
    #[arg(long)]
    run: Option<String>,
    /// Only versions carrying this tag.
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// List the PENDING collaborative versions instead: their parts and writers.
    #[arg(long, conflicts_with_all = ["all", "tag"])]
    pending: bool,
}

pub fn versions(ctx: &Ctx, args: VersionsArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    if args.pending {
        return pending(ctx, &store, &args);
    }
    let mut list = store.versions(args.name.as_str(), args.all)?;
    if let Some(run) = &args.run {
        let run = store.run(run)?;
        list.retain(|v| {
            v.logged_by_run.as_deref() == Some(run.id.as_str()) || v.producers.contains(&run.id)
        });
    }
    if let Some(tag) = &args.tag {
        list.retain(|v| v.tags.contains(tag));
    }
    // A collection's versions say which version each links.
    let links = list.iter().any(|v| v.source.is_some());
    ctx.emit(&list, || {
        // The STATE column only appears when it can say something: with --all.
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|v| {
                let mut row = vec![
                    format!("v{}", v.version),
                    v.digest.short(12),
                    v.aliases.join(","),
                    v.files.to_string(),
                    format_size(v.size),
                    short_time(v.created_at),
                    v.description.clone().unwrap_or_default(),
                ];
                if args.all {
                    row.insert(1, state_label(v));
                }
                if links {
                    row.insert(1, v.source.clone().unwrap_or_default());
                }
                row
            })
            .collect();
        let mut headers = vec![
            "VERSION",
            "DIGEST",
            "ALIASES",
            "FILES",
            "SIZE",
            "CREATED",
            "DESCRIPTION",
        ];
        if args.all {
            headers.insert(1, "STATE");
        }
        if links {
            headers.insert(1, "SOURCE");
        }
        table(&headers, &rows)
    })?;
    Ok(0)
}

/// `versions NAME --pending`.
fn pending(ctx: &Ctx, store: &art::Store, args: &VersionsArgs) -> anyhow::Result<u8> {
    let mut list = store.pending(Some(args.name.as_str()))?;
    if let Some(run) = &args.run {
        let run = store.run(run)?;
        list.retain(|p| p.writers.contains(&run.id));
    }
    ctx.emit(&list, || {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|p| {
                vec![
                    p.distributed_id.clone(),
                    p.parts.to_string(),
                    p.files.to_string(),
                    format_size(p.size),
                    short_time(p.updated),
                    p.writers.join(","),
                ]
            })
            .collect();
        if rows.is_empty() {
            return format!("{}: no pending versions", args.name);
        }
        table(
            &[
                "DISTRIBUTED ID",
                "PARTS",
                "FILES",
                "SIZE",
                "UPDATED",
                "WRITERS",
            ],
            &rows,
        )
    })?;
    Ok(0)
}

/// `committed`, `deleted`, or `deleted, data collected` once gc removed its content.
fn state_label(v: &art::VersionInfo) -> String {
    match (v.state, v.collected) {
        (art::index::VersionState::Deleted, Some(true)) => "deleted, data collected".to_owned(),
        (state, _) => serde_json::to_value(state)
            .ok()
            .and_then(|s| s.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The version.
    reference: Ref,
}

pub fn show(ctx: &Ctx, args: ShowArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let v = store.show(&args.reference)?;
    ctx.emit(&v, || {
        let mut rows = vec![
            ("version", v.reference.clone()),
            ("state", state_label(&v)),
            ("type", v.kind.clone()),
            ("digest", v.digest.to_hex()),
            ("aliases", v.aliases.join(", ")),
            ("files", v.files.to_string()),
            (
                "size",
                format!("{} ({} bytes)", format_size(v.size), v.size),
            ),
            ("created", format_time(v.created_at)),
        ];
        if let Some(s) = &v.source_path {
            rows.push(("source", s.clone()));
        }
        if let Some(s) = &v.source {
            rows.push(("links", s.clone()));
        }
        if !v.linked_in.is_empty() {
            rows.push(("linked in", v.linked_in.join(", ")));
        }
        if !v.tags.is_empty() {
            rows.push(("tags", v.tags.join(", ")));
        }
        if let Some(t) = v.expires_at {
            rows.push(("expires", format_time(t)));
        }
        if let Some(r) = &v.logged_by_run {
            rows.push(("run", r.clone()));
        }
        if !v.producers.is_empty() {
            rows.push(("parts by", v.producers.join(", ")));
        }
        if let Some(d) = &v.description {
            rows.push(("description", d.clone()));
        }
        if !v.metadata.is_empty() {
            rows.push((
                "metadata",
                serde_json::Value::Object(v.metadata.clone()).to_string(),
            ));
        }
        rows.iter()
            .map(|(k, val)| format!("{:<12} {val}", format!("{k}:")))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The old side.
    from: Ref,
    /// The new side: another version, or a directory (default: the directory FROM was logged from).
    to: Option<String>,
}

pub fn diff(ctx: &Ctx, args: DiffArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let target = match args.to {
        None => art::DiffTarget::Source,
        Some(t) if std::path::Path::new(&t).exists() => art::DiffTarget::Dir(PathBuf::from(t)),
        Some(t) => art::DiffTarget::Version(t.parse()?),
    };
    let out = store.diff(&args.from, &target)?;
    ctx.emit(&out, || {
        let (mut added, mut removed, mut modified) = (0, 0, 0);
        let mut lines: Vec<String> = out
            .changes
            .iter()
            .map(|c| match c {
                Change::Added { path, size } => {
                    added += 1;
                    format!("+ {path}  ({})", format_size(*size))
                }
                Change::Removed { path, size } => {
                    removed += 1;
                    format!("- {path}  ({})", format_size(*size))
                }
                Change::Modified {
                    path,
                    old_size,
                    new_size,
                } => {
                    modified += 1;
                    format!(
                        "M {path}  ({} -> {})",
                        format_size(*old_size),
                        format_size(*new_size)
                    )
                }
            })
            .collect();
        if lines.is_empty() {
            return format!("{} and {} are identical", out.from, out.to);
        }
        lines.push(format!(
            "{added} added, {removed} removed, {modified} modified"
        ));
        lines.join("\n")
    })?;
    Ok(u8::from(!out.changes.is_empty()))
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// The version.
    reference: Ref,
    /// The file's path in the version.
    path: String,
    /// Write the file here (atomically) instead of to stdout; then `--json` reports what was read.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub fn cat(ctx: &Ctx, args: CatArgs) -> anyhow::Result<u8> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let store = ctx.open_store()?;
    let Some(dest) = args.output else {
        anyhow::ensure!(
            !ctx.json,
            "`art cat --json` needs `--output FILE`: stdout carries the file's bytes"
        );
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        store.cat(&args.reference, &args.path, &mut out)?;
        out.flush()?;
        return Ok(0);
    };
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".art-cat-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in `{}`", dir.display()))?;
    let done = {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        let done = store.cat(&args.reference, &args.path, &mut out)?;
        out.flush()
            .with_context(|| format!("cannot write `{}`", dest.display()))?;
        done
    };
    tmp.persist(&dest)
        .with_context(|| format!("cannot write `{}`", dest.display()))?;
    ctx.emit(&done, || {
        let fetched = if done.fetched_bytes > 0 {
            format!(", {} fetched from remotes", format_size(done.fetched_bytes))
        } else {
            String::new()
        };
        format!(
            "{} {} -> {}  {}{fetched}",
            done.reference,
            done.path,
            dest.display(),
            format_size(done.bytes)
        )
    })?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct FindArgs {
    /// A local file (its content is hashed) or a file digest prefix (8 to 64 hex characters).
    target: String,
}

pub fn find(ctx: &Ctx, args: FindArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let path = PathBuf::from(&args.target);
    let target = if path.is_file() {
        art::FindTarget::File(path)
    } else {
        art::FindTarget::DigestPrefix(args.target.clone())
    };
    let found = store.find(&target)?;
    ctx.emit(&found, || {
        if found.is_empty() {
            return format!("no live version contains `{}`", args.target);
        }
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|f| {
                vec![
                    f.reference.clone(),
                    f.digest.short(12),
                    format_size(f.size),
                    f.path.clone(),
                ]
            })
            .collect();
        table(&["VERSION", "DIGEST", "SIZE", "PATH"], &rows)
    })?;
    // Like grep: nothing found is exit 1.
    Ok(u8::from(found.is_empty()))
}
