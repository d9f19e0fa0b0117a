//! `art log`.

use super::output::Ctx;
use anyhow::{Context as _, bail};
use art::model::{AliasName, ArtifactName, ArtifactType, format_size};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Artifact name (created on first log).
    name: ArtifactName,
    /// A directory (its contents become the version's root) or files.
    #[arg(required_unless_present = "references")]
    paths: Vec<PathBuf>,
    /// Record a file or directory where it is, without copying it: `file:///PATH` or a
    /// path, optionally `=NAME` in the version (repeatable; a directory expands to its files).
    #[arg(long = "ref", value_name = "URI[=NAME]", id = "references")]
    references: Vec<String>,
    /// Pin references by size and mtime instead of hashing their content.
    #[arg(long, requires = "references", conflicts_with = "checksum")]
    no_checksum: bool,
    /// Also download and hash web and bucket references (their fetches then check the bytes,
    /// not only the ETag); files are always hashed unless --no-checksum.
    #[arg(long, requires = "references")]
    checksum: bool,
    /// The most objects one --ref may expand to (more is an error, never a truncation).
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    max_objects: u64,
    /// Artifact type, e.g. dataset, model, code (fixed at the first log; default `artifact`).
    #[arg(short = 't', long = "type")]
    kind: Option<ArtifactType>,
    /// Alias to point at the new version (repeatable).
    #[arg(short, long = "alias")]
    alias: Vec<AliasName>,
    /// Description of the version.
    #[arg(short = 'm', long = "description")]
    description: Option<String>,
    /// Metadata as a JSON object, or @file.json.
    #[arg(long, value_parser = parse_metadata)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The run producing this version (default: $ART_RUN).
    #[arg(long, env = "ART_RUN")]
    run: Option<String>,
    /// Add the files to the PENDING collaborative version ID instead of making a version
    /// (`art finish` commits it). Without ID: $ART_DISTRIBUTED_ID, else the run's group.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "",
          conflicts_with_all = ["alias", "description", "metadata"])]
    distributed_id: Option<String>,
}

/// The distributed id of a collaborative log or finish: the one given, else
/// `$ART_DISTRIBUTED_ID`, else the run's group; `None` when the flag is absent (a variable
/// alone never turns a plain `log` into a part).
pub fn distributed_id(
    store: &art::Store,
    given: Option<String>,
    run: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let from_env = std::env::var("ART_DISTRIBUTED_ID")
        .ok()
        .filter(|v| !v.is_empty());
    match given {
        Some(id) if !id.is_empty() => Ok(Some(id)),
        Some(_) => match from_env.or(store.default_distributed_id(run)?) {
            Some(id) => Ok(Some(id)),
            None => bail!(
                "--distributed-id needs an ID: give one, set ART_DISTRIBUTED_ID, or log from a run with a group (`art run exec --group G`)"
            ),
        },
        None => Ok(None),
    }
}

/// Parses `--metadata JSON` or `--metadata @file.json` into a JSON object.
pub fn parse_metadata(s: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let text = match s.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read metadata file `{path}`"))?,
        None => s.to_owned(),
    };
    match serde_json::from_str(&text).context("metadata is not valid JSON")? {
        serde_json::Value::Object(map) => Ok(map),
        _ => bail!("metadata must be a JSON object, like '{{\"lr\": 0.01}}'"),
    }
}

pub fn run(ctx: &Ctx, args: LogArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let distributed = distributed_id(&store, args.distributed_id, args.run.as_deref())?;
    let mut opts = art::LogOptions::new(args.name, args.paths);
    opts.kind = args.kind;
    opts.aliases = args.alias;
    opts.description = args.description;
    opts.metadata = args.metadata.unwrap_or_default();
    opts.run = args.run;
    opts.references = args.references;
    opts.checksum = !args.no_checksum;
    opts.hash_remote = args.checksum;
    opts.max_objects = args.max_objects;
    if let Some(id) = distributed {
        let out = store.log_part(opts, &id)?;
        ctx.emit(&out, || {
            format!(
                "{} pending {}: {} parts now  this part: {} files  {}  stored {}",
                out.name,
                out.distributed_id,
                out.parts,
                out.files,
                format_size(out.size),
                format_size(out.stored_bytes)
            )
        })?;
        return Ok(0);
    }
    let meta_given = opts.description.is_some() || !opts.metadata.is_empty() || opts.run.is_some();
    let out = store.log(opts)?;
    if out.unchanged && meta_given && !ctx.quiet {
        eprintln!(
            "note: content unchanged, so no new version: description, metadata and run were not applied \
             (change them with `art meta set {}`)",
            out.reference
        );
    }
    ctx.emit(&out, || {
        if out.unchanged {
            let aliases = if out.aliases.is_empty() {
                String::new()
            } else {
                format!(" ({})", out.aliases.join(", "))
            };
            return format!("{}: unchanged, still v{}{aliases}", out.name, out.version);
        }
        #[allow(clippy::cast_precision_loss)]
        let ratio = if out.size == 0 {
            0.0
        } else {
            out.stored_bytes as f64 / out.size as f64
        };
        format!(
            "{}  {} files  {}  stored {} ({ratio:.2}x)  [{}]",
            out.reference,
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
