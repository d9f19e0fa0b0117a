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
        /// Move it even when it is protected.
        #[arg(long)]
        force: bool,
    },
    /// Remove ALIAS from artifact NAME.
    Rm {
        /// The artifact.
        name: ArtifactName,
        /// The alias.
        alias: AliasName,
        /// Remove it even when it is protected.
        #[arg(long)]
        force: bool,
    },
    /// Protect ALIAS of NAME (e.g. `production`): moving or removing it then needs --force,
    /// and no version carrying it is deleted by `rm`, `prune` or a TTL.
    Protect {
        /// The artifact or collection.
        name: ArtifactName,
        /// The alias (it need not be set yet).
        alias: AliasName,
    },
    /// Lift the protection of ALIAS of NAME.
    Unprotect {
        /// The artifact or collection.
        name: ArtifactName,
        /// The alias.
        alias: AliasName,
    },
}

/// `art alias protect|unprotect` in JSON.
#[derive(serde::Serialize)]
struct Protection<'a> {
    name: &'a str,
    alias: &'a str,
    protected: bool,
}

pub fn alias(ctx: &Ctx, cmd: AliasCommand) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let out = match cmd {
        AliasCommand::Set {
            reference,
            alias,
            force,
        } => store.set_alias_forced(&reference, &alias, force)?,
        AliasCommand::Rm { name, alias, force } => {
            store.remove_alias_forced(&name, &alias, force)?
        }
        AliasCommand::Protect { name, alias } => {
            return protect(ctx, &mut store, &name, &alias, true);
        }
        AliasCommand::Unprotect { name, alias } => {
            return protect(ctx, &mut store, &name, &alias, false);
        }
    };
    ctx.emit(&out, || match (out.version, out.previous) {
        (Some(v), Some(p)) if p != v => format!("{}:{} -> v{v} (was v{p})", out.name, out.alias),
        (Some(v), _) => format!("{}:{} -> v{v}", out.name, out.alias),
        (None, Some(p)) => format!("{}:{} removed (was v{p})", out.name, out.alias),
        (None, None) => format!("{}:{} removed", out.name, out.alias),
    })?;
    Ok(0)
}

fn protect(
    ctx: &Ctx,
    store: &mut art::Store,
    name: &ArtifactName,
    alias: &AliasName,
    on: bool,
) -> anyhow::Result<u8> {
    store.protect_alias(name, alias, on)?;
    let out = Protection {
        name: name.as_str(),
        alias: alias.as_str(),
        protected: on,
    };
    ctx.emit(&out, || {
        format!(
            "{name}:{alias} is {}",
            if on {
                "protected"
            } else {
                "no longer protected"
            }
        )
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
    /// Time to live from now (e.g. 30d), after which `art gc` deletes the version; `none`
    /// removes it.
    #[arg(long, value_name = "AGE|none")]
    ttl: Option<String>,
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
        && args.ttl.is_none()
    {
        anyhow::bail!("nothing to change; give --description, --metadata, --set, --unset or --ttl");
    }
    let ttl = match args.ttl.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(t) => Some(Some(t.parse::<art::model::Span>()?)),
    };
    let mut store = ctx.open_store()?;
    if let Some(ttl) = ttl {
        store.set_ttl(&args.reference, ttl)?;
    }
    if args.description.is_none()
        && args.metadata.is_none()
        && args.set.is_empty()
        && args.unset.is_empty()
    {
        let out = store.show(&args.reference)?;
        ctx.emit(&out, || match out.expires_at {
            Some(t) => format!("{} expires {}", out.reference, art::model::format_time(t)),
            None => format!("{} never expires", out.reference),
        })?;
        return Ok(0);
    }
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
