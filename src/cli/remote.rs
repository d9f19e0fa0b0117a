//! `art remote add|ls|rm` and `art push`.

use super::output::{Ctx, table};
use art::model::{Ref, format_size};

use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// Add a remote. Credentials come from the environment (AWS_*, AZURE_STORAGE_*,
    /// GOOGLE_*), never the store.
    Add {
        /// Its name (`origin` is the default of push).
        name: String,
        #[command(flatten)]
        location: Location,
    },
    /// List remotes.
    Ls,
    /// Remove a remote from this store's configuration (its data stays where it is).
    Rm {
        /// The remote.
        name: String,
        /// Even when it holds the only copy of packs evicted from this store.
        #[arg(long)]
        force: bool,
    },
}

pub fn remote(ctx: &Ctx, cmd: RemoteCommand) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    match cmd {
        RemoteCommand::Add { name, location } => {
            let spec = location.spec();
            let out = store.remote_add(&name, spec, &Ctx::cwd()?)?;
            ctx.emit(&out, || {
                format!("added remote {} -> {}", out.name, out.spec.url)
            })?;
        }
        RemoteCommand::Ls => {
            let list = store.remotes()?;
            ctx.emit(&list, || {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            r.spec.url.clone(),
                            r.spec.endpoint.clone().unwrap_or_default(),
                            r.packs.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "URL", "ENDPOINT", "PACKS"], &rows)
            })?;
        }
        RemoteCommand::Rm { name, force } => {
            let out = store.remote_remove(&name, force)?;
            ctx.emit(&out, || {
                let mut text = format!("removed remote {}", out.name);
                if out.packs_forgotten > 0 {
                    text.push_str(&format!(
                        "; {} pack(s) are on no remote now and will not be evicted",
                        out.packs_forgotten
                    ));
                }
                text
            })?;
        }
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The remote (default: `origin`, or the only remote).
    remote: Option<String>,
    /// Push only the content of these versions (default: everything).
    refs: Vec<Ref>,
}

pub fn push(ctx: &Ctx, args: PushArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let out = store.push(args.remote.as_deref(), &args.refs)?;
    ctx.emit(&out, || {
        if out.up_to_date {
            format!(
                "{}: up to date ({} packs already there)",
                out.remote, out.packs_present
            )
        } else {
            format!(
                "{}: uploaded {} packs ({}) and {} log batches, {} packs already there",
                out.remote,
                out.packs_uploaded,
                format_size(out.bytes_uploaded),
                out.batches_uploaded,
                out.packs_present
            )
        }
    })?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// The remote (default: `origin`, or the only remote).
    remote: Option<String>,
    /// Also download the data of live versions (of the artifacts named, or of all), so
    /// checkouts need no network.
    #[arg(long)]
    data: bool,
    /// With --data: only these artifacts' versions.
    #[arg(requires = "data")]
    names: Vec<String>,
}

/// `art pull` in JSON: the records pulled and, with `--data`, the packs fetched.
#[derive(serde::Serialize)]
struct Pulled<'a> {
    #[serde(flatten)]
    records: &'a art::PullOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<art::FetchOutcome>,
}

pub fn pull(ctx: &Ctx, args: PullArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let records = store.pull(args.remote.as_deref())?;
    let data = if args.data {
        Some(store.fetch_data(&args.names)?)
    } else {
        None
    };
    let out = Pulled {
        records: &records,
        data,
    };
    ctx.emit(&out, || {
        let mut text = pull_text(&records);
        if let Some(d) = &out.data {
            text.push_str(&format!(
                "\nfetched {} packs ({})",
                d.packs,
                format_size(d.bytes)
            ));
        }
        text
    })?;
    Ok(0)
}

pub fn pull_text(out: &art::PullOutcome) -> String {
    if out.up_to_date {
        return format!("{}: up to date", out.remote);
    }
    let mut text = format!(
        "{}: {} log batches, {} new versions, {} run updates",
        out.remote,
        out.batches,
        out.versions.len(),
        out.runs
    );
    for v in &out.versions {
        text.push_str(&format!("\n  {v}"));
    }
    if !out.renumbered.is_empty() {
        text.push_str("\nrenumbered this store's unpushed versions after the remote's:");
        for r in &out.renumbered {
            text.push_str(&format!(
                "\n  {a}:v{} -> {a}:v{}",
                r.from,
                r.to,
                a = r.artifact
            ));
        }
    }
    if !out.dropped.is_empty() {
        text.push_str(
            "\nthe remote changed these too; its change stands, this store's was dropped:",
        );
        let width = out
            .dropped
            .iter()
            .map(|d| d.target.len())
            .max()
            .unwrap_or(0);
        for d in &out.dropped {
            text.push_str(&format!("\n  {:width$}  {}", d.target, d.change));
        }
    }
    for n in &out.notes {
        text.push_str(&format!("\nnote: {n}"));
    }
    text
}

fn print_pull(ctx: &Ctx, out: &art::PullOutcome) -> anyhow::Result<()> {
    ctx.emit(out, || pull_text(out))
}

/// Where a remote is and how to reach it (`remote add`, `clone`).
#[derive(Args, Debug)]
pub struct Location {
    /// A directory, file:///PATH, s3://BUCKET/PREFIX, az://CONTAINER/PREFIX or gs://BUCKET/PREFIX.
    url: String,
    /// An S3-compatible endpoint, e.g. http://127.0.0.1:9000 (MinIO, Ceph, R2), or an Azure one.
    #[arg(long)]
    endpoint: Option<String>,
    /// The bucket's region (default: AWS_REGION, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Allow a plain-HTTP endpoint.
    #[arg(long)]
    allow_http: bool,
}

impl Location {
    fn spec(self) -> art::remote::RemoteSpec {
        art::remote::RemoteSpec {
            url: self.url,
            endpoint: self.endpoint,
            region: self.region,
            allow_http: self.allow_http,
        }
    }
}

#[derive(Args, Debug)]
pub struct CloneArgs {
    #[command(flatten)]
    location: Location,
    /// Where to make the store (default: the current directory).
    dir: Option<std::path::PathBuf>,
}

pub fn clone(ctx: &Ctx, args: CloneArgs) -> anyhow::Result<u8> {
    let cwd = Ctx::cwd()?;
    let dir = args.dir.map_or_else(|| cwd.clone(), |d| cwd.join(d));
    let spec = args.location.spec();
    let (store, out) = art::Store::clone_from(&dir, spec, &cwd)?;
    if !ctx.quiet && !ctx.json {
        eprintln!("cloned into {}", store.dir().display());
    }
    print_pull(ctx, &out)?;
    Ok(0)
}
