//! The command line: one file per subcommand, each an argument struct and a `run`. Only this
//! module prints.

mod checkout;
mod compose;
mod inspect;
mod integrity;
mod lifecycle;
mod lineage;
mod log;
mod manage;
mod output;
mod registry;
mod remote;
mod run;
mod shell;
mod ui;

use clap::{Parser, Subcommand};
use output::Ctx;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// art: a local-first, git-like store for ML artifacts (datasets, models, code).
#[derive(Parser, Debug)]
#[command(name = "art", version, about, max_term_width = 100)]
pub struct Cli {
    /// The store to use (a `.artifacts` directory or its parent); default: nearest `.artifacts` upward.
    #[arg(long, global = true, env = "ART_STORE", value_name = "PATH")]
    store: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a store (`.artifacts`) in PATH (default: the current directory).
    Init(manage::InitArgs),
    /// Record a directory or files as the next version of an artifact.
    Log(log::LogArgs),
    /// Make the next version of REF's artifact from REF plus a few added or removed files;
    /// only the added files are read and stored.
    Patch(compose::PatchArgs),
    /// Commit a pending collaborative version (the parts `log --distributed-id` added) as
    /// the artifact's next version.
    Finish(compose::FinishArgs),
    /// Make DEST exactly a version: write what differs, delete what it lacks.
    Checkout(checkout::CheckoutArgs),
    /// Write a version's files into DEST, keeping other files.
    Download(checkout::CheckoutArgs),
    /// List artifacts, or the files of one version.
    Ls(inspect::LsArgs),
    /// Print one file of a version (fetching only its blobs on a clone).
    Cat(inspect::CatArgs),
    /// Which versions of which artifacts contain a file (by content or digest prefix).
    Find(inspect::FindArgs),
    /// List the versions of an artifact.
    Versions(inspect::VersionsArgs),
    /// Show one version: digest, aliases, size, metadata.
    Show(inspect::ShowArgs),
    /// Compare a version with another version or a directory (exit 1 when they differ).
    Diff(inspect::DiffArgs),
    /// Set or remove aliases such as `best` or `prod`.
    #[command(subcommand)]
    Alias(manage::AliasCommand),
    /// Change a version's description, metadata and TTL.
    #[command(subcommand)]
    Meta(manage::MetaCommand),
    /// Link a version into a collection (a registry entry such as `classifier:production`).
    Link(registry::LinkArgs),
    /// Remove a link from its collection (the linked version stays).
    Unlink(registry::UnlinkArgs),
    /// Add tags to a version.
    Tag(registry::TagArgs),
    /// Remove tags from a version.
    Untag(registry::TagArgs),
    /// Re-hash a version's stored data, or a directory against it.
    Verify(integrity::VerifyArgs),
    /// Check the whole store: packs, index, and every live version's content.
    Fsck(integrity::FsckArgs),
    /// Rebuild the index (index.db) from the packs and the record log.
    #[command(subcommand)]
    Index(integrity::IndexCommand),
    /// Delete versions (their space returns at the next gc).
    Rm(lifecycle::RmArgs),
    /// Delete many versions by rule (unaliased, keep the last N, older than).
    Prune(lifecycle::PruneArgs),
    /// Remove data no live version needs; with --max, bound the store's size.
    Gc(lifecycle::GcArgs),
    /// Show where the space goes, per artifact.
    Du(lifecycle::DuArgs),
    /// Read or change the store's settings (gc.max, gc.grace, compression.level, …).
    #[command(subcommand)]
    Config(lifecycle::ConfigCommand),
    /// Runs: start, finish, resume, show, add summary metrics, or wrap a command (exec).
    #[command(subcommand)]
    Run(run::RunCommand),
    /// Record that a run used a version (an input), optionally checking it out.
    Use(run::UseArgs),
    /// List runs (filter by group or job type, sort by a metric), or find the best one.
    Runs(run::RunsArgs),
    /// Show the DAG of versions and runs around a version or run (text, JSON, DOT, Mermaid).
    Lineage(lineage::LineageArgs),
    /// Add, list or remove remotes (directories, S3 buckets).
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
    /// Upload to a remote the packs it lacks (then `art gc --max` may evict them locally).
    Push(remote::PushArgs),
    /// Bring in what a remote recorded (versions, aliases, runs, lineage); no blob data.
    Pull(remote::PullArgs),
    /// Make a new store from a remote (init + `remote add origin` + pull); it holds no data.
    Clone(remote::CloneArgs),
    /// Browse the store in a web browser: a read-only page served on 127.0.0.1.
    Ui(ui::UiArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(shell::CompletionsArgs),
    /// Print the man page `art.1`, or write every page into a directory (--dir).
    Man(shell::ManArgs),
}

impl Command {
    /// Whether the command handles SIGINT and SIGTERM itself (`run exec` forwards them to
    /// its child), so `main` must not install its Ctrl-C handler.
    pub fn handles_signals(&self) -> bool {
        matches!(self, Command::Run(run::RunCommand::Exec(_)))
    }
}

/// Runs the parsed command; returns the exit code.
pub fn run(cli: Cli, interrupt: Arc<AtomicBool>) -> anyhow::Result<u8> {
    let ctx = Ctx::new(cli.quiet, cli.json, cli.store, interrupt);
    match cli.command {
        Command::Init(a) => manage::init(&ctx, a),
        Command::Log(a) => log::run(&ctx, a),
        Command::Patch(a) => compose::patch(&ctx, a),
        Command::Finish(a) => compose::finish(&ctx, a),
        Command::Checkout(a) => checkout::run(&ctx, a, art::CheckoutMode::Exact),
        Command::Download(a) => checkout::run(&ctx, a, art::CheckoutMode::Download),
        Command::Ls(a) => inspect::ls(&ctx, a),
        Command::Cat(a) => inspect::cat(&ctx, a),
        Command::Find(a) => inspect::find(&ctx, a),
        Command::Versions(a) => inspect::versions(&ctx, a),
        Command::Show(a) => inspect::show(&ctx, a),
        Command::Diff(a) => inspect::diff(&ctx, a),
        Command::Alias(c) => manage::alias(&ctx, c),
        Command::Meta(c) => manage::meta(&ctx, c),
        Command::Verify(a) => integrity::verify(&ctx, a),
        Command::Fsck(a) => integrity::fsck(&ctx, a),
        Command::Index(c) => integrity::index(&ctx, c),
        Command::Rm(a) => lifecycle::rm(&ctx, a),
        Command::Prune(a) => lifecycle::prune(&ctx, a),
        Command::Gc(a) => lifecycle::gc(&ctx, a),
        Command::Du(a) => lifecycle::du(&ctx, a),
        Command::Config(c) => lifecycle::config(&ctx, c),
        Command::Run(c) => run::run(&ctx, c),
        Command::Use(a) => run::use_version(&ctx, a),
        Command::Runs(a) => run::runs(&ctx, a),
        Command::Lineage(a) => lineage::run(&ctx, a),
        Command::Remote(c) => remote::remote(&ctx, c),
        Command::Push(a) => remote::push(&ctx, a),
        Command::Pull(a) => remote::pull(&ctx, a),
        Command::Link(a) => registry::link(&ctx, a),
        Command::Unlink(a) => registry::unlink(&ctx, a),
        Command::Tag(a) => registry::tag(&ctx, a, true),
        Command::Untag(a) => registry::tag(&ctx, a, false),
        Command::Clone(a) => remote::clone(&ctx, a),
        Command::Ui(a) => ui::run(&ctx, a),
        Command::Completions(a) => shell::completions(a),
        Command::Man(a) => shell::man(&ctx, a),
    }
}

/// Whether the failure is only stdout being closed early (`art ls | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // serde_json hides the io::Error it wraps from the chain.
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// The error and its causes on one line, each cause once: messages that already quote their
/// cause (`cannot write `x`: No space left on device`) are not followed by it again.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Maps a failure to the documented exit codes.
pub fn exit_code(err: &anyhow::Error, is_diff: bool) -> u8 {
    let refused = err.chain().any(|e| {
        e.downcast_ref::<art::Error>()
            .is_some_and(|a| a.kind() == art::ErrorKind::Refused)
    });
    if refused {
        3
    } else if is_diff {
        2
    } else {
        1
    }
}
