//! `art init`, `art alias`, `art meta`.

use super::log::parse_metadata;
use super::output::Ctx;
use art::model::{AliasName, ArtifactName, Ref};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Directory to create the store in (default: current directory).
    path: Option<PathBuf>,
}

pub fn init(ctx: &Ctx, args: InitArgs) -> anyhow::Result<u8> {
    let path = match (args.path, ctx.store_arg()) {
        (Some(p), _) => p,
        (None, Some(s)) => s.clone(),
        (None, None) => Ctx::cwd()?,
    };
    let out = art::Store::init(&path)?;
    ctx.emit(&out, || {
        if out.created {
            format!("created store {}", out.store_dir.display())
        } else {
            format!(
                "store already exists at {}; nothing changed",
                out.store_dir.display()
            )
        }
    })?;
    Ok(0)
}

#[derive(Subcommand, Debug)]
pub enum AliasCommand {
    /// Point ALIAS at the version REF names (moving it from another version).
    Set {
        /// The version.
        reference: Ref,
        /// The alias (not `latest` or `vN`, which art manages).
        alias: AliasName,
    },
    /// Remove ALIAS from artifact NAME.
    Rm {
        /// The artifact.
        name: ArtifactName,
        /// The alias.
        alias: AliasName,
    },
}

pub fn alias(ctx: &Ctx, cmd: AliasCommand) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let out = match cmd {
        AliasCommand::Set { reference, alias } => store.set_alias(&reference, &alias)?,
        AliasCommand::Rm { name, alias } => store.remove_alias(&name, &alias)?,
    };
    ctx.emit(&out, || match (out.version, out.previous) {
        (Some(v), Some(p)) if p != v => format!("{}:{} -> v{v} (was v{p})", out.name, out.alias),
        (Some(v), _) => format!("{}:{} -> v{v}", out.name, out.alias),
        (None, Some(p)) => format!("{}:{} removed (was v{p})", out.name, out.alias),
        (None, None) => format!("{}:{} removed", out.name, out.alias),
    })?;
    Ok(0)
}

#[derive(Subcommand, Debug)]
pub enum MetaCommand {
    /// Set the description or metadata of a version.
    Set(MetaSetArgs),
}

#[derive(Args, Debug)]
pub struct MetaSetArgs {
    /// The version.
    reference: Ref,
    /// New description ("" clears it).
    #[arg(short = 'm', long)]
    description: Option<String>,
    /// Replace all metadata with this JSON object (or @file.json).
    #[arg(long, value_parser = parse_metadata)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Set one key; the value is parsed as JSON when it can be, else kept as text (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    set: Vec<(String, serde_json::Value)>,
    /// Remove one key (repeatable).
    #[arg(long = "unset", value_name = "KEY")]
    unset: Vec<String>,
}

/// Parses `key=value`, reading the value as JSON when possible (`lr=0.1` is a number).
pub fn parse_key_value(s: &str) -> anyhow::Result<(String, serde_json::Value)> {
    let Some((k, v)) = s.split_once('=') else {
        anyhow::bail!("expected KEY=VALUE, got `{s}`");
    };
    if k.is_empty() {
        anyhow::bail!("empty key in `{s}`");
    }
    let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
    Ok((k.to_owned(), value))
}

pub fn meta(ctx: &Ctx, cmd: MetaCommand) -> anyhow::Result<u8> {
    let MetaCommand::Set(args) = cmd;
    if args.description.is_none()
        && args.metadata.is_none()
        && args.set.is_empty()
        && args.unset.is_empty()
    {
        anyhow::bail!("nothing to change; give --description, --metadata, --set or --unset");
    }
    let mut store = ctx.open_store()?;
    let mut opts = art::MetaOptions::default();
    opts.description = args.description;
    opts.metadata = args.metadata;
    opts.set = args.set;
    opts.unset = args.unset;
    let out = store.set_meta(&args.reference, opts)?;
    ctx.emit(&out, || {
        format!(
            "{} updated: {}",
            out.reference,
            serde_json::Value::Object(out.metadata.clone())
        )
    })?;
    Ok(0)
}
