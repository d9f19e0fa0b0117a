//! `art run start|finish|resume|show|summary|exec`, `art use`, `art runs [best]`.

use super::output::{Ctx, short_time, table};
use anyhow::Context as _;
use art::model::{Ref, RunSort, RunStatus, format_time, parse_config_pair, parse_summary_pair};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum RunCommand {
    /// Start a run and print its id (`export ART_RUN=$(art run start …)`).
    Start(StartArgs),
    /// Finish a run (default: $ART_RUN) as ok or failed, adding summary metrics.
    Finish(FinishArgs),
    /// Reopen a finished run so more versions can be logged to it; prints its id.
    Resume(ResumeArgs),
    /// Show a run: config, summary, status, the versions it logged and used.
    Show(ShowArgs),
    /// Add summary metrics to a run (default: $ART_RUN).
    Summary(SummaryArgs),
    /// Run a command as a run: it gets ART_RUN, ART_STORE and ART_SUMMARY, and the run
    /// finishes with its exit status.
    Exec(ExecArgs),
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// A name for people.
    #[arg(long)]
    name: Option<String>,
    /// The group (sweep) the run belongs to.
    #[arg(long)]
    group: Option<String>,
    /// The kind of work: train, eval, preprocess, …
    #[arg(long)]
    job_type: Option<String>,
    /// Configuration: KEY=VALUE (JSON when it parses, else text) or @file.json (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE|@FILE", value_parser = parse_config)]
    config: Vec<Map<String, Value>>,
}

impl StartArgs {
    fn options(self) -> art::RunOptions {
        let mut opts = art::RunOptions::default();
        opts.name = self.name;
        opts.group = self.group;
        opts.job_type = self.job_type;
        opts.config = self.config.into_iter().flatten().collect();
        opts
    }
}

/// Parses `--config KEY=VALUE` or `--config @file.json` (a JSON object).
fn parse_config(s: &str) -> anyhow::Result<Map<String, Value>> {
    if s.starts_with('@') {
        return super::log::parse_metadata(s).context("bad --config file");
    }
    let (k, v) = parse_config_pair(s)?;
    Ok(Map::from_iter([(k, v)]))
}

/// `ok` or `failed`.
fn parse_final_status(s: &str) -> anyhow::Result<RunStatus> {
    match s.parse()? {
        RunStatus::Running => anyhow::bail!("a finished run is ok or failed"),
        status => Ok(status),
    }
}

#[derive(Args, Debug)]
pub struct FinishArgs {
    /// The run (default: $ART_RUN).
    #[arg(env = "ART_RUN")]
    run: Option<String>,
    /// A summary metric: KEY=VALUE where VALUE is a number or JSON (repeatable).
    #[arg(long = "summary", value_name = "KEY=VALUE", value_parser = parse_summary_pair)]
    summary: Vec<(String, Value)>,
    /// How it ended.
    #[arg(long, default_value = "ok", value_name = "ok|failed", value_parser = parse_final_status)]
    status: RunStatus,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The run.
    run: String,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The run (default: $ART_RUN).
    #[arg(env = "ART_RUN")]
    run: Option<String>,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// Metrics: KEY=VALUE where VALUE is a number or JSON.
    #[arg(required = true, value_name = "KEY=VALUE", value_parser = parse_summary_pair)]
    pairs: Vec<(String, Value)>,
    /// The run (default: $ART_RUN).
    #[arg(long, env = "ART_RUN")]
    run: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[command(flatten)]
    start: StartArgs,
    /// The command and its arguments (put them after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    command: Vec<OsString>,
}

pub fn run(ctx: &Ctx, cmd: RunCommand) -> anyhow::Result<u8> {
    match cmd {
        RunCommand::Start(args) => {
            let mut store = ctx.open_store()?;
            let info = store.start_run(args.options())?;
            ctx.emit(&info, || info.id.clone())?;
        }
        RunCommand::Finish(args) => {
            let run = args.run.ok_or(art::Error::NoRun("finish"))?;
            let mut store = ctx.open_store()?;
            let mut opts = art::FinishOptions::new(run);
            opts.status = args.status;
            opts.summary = args.summary.into_iter().collect();
            let info = store.finish_run(opts)?;
            ctx.emit(&info, || {
                format!(
                    "{}: {}  {}",
                    info.id,
                    info.status,
                    summary_text(&info.summary)
                )
            })?;
        }
        RunCommand::Resume(args) => {
            let mut store = ctx.open_store()?;
            let info = store.resume_run(&args.run)?;
            ctx.emit(&info, || info.id.clone())?;
        }
        RunCommand::Show(args) => {
            let run = args.run.ok_or(art::Error::NoRun("show"))?;
            let store = ctx.open_store()?;
            let info = store.run(&run)?;
            ctx.emit(&info, || show_text(&info))?;
        }
        RunCommand::Summary(args) => {
            let run = args.run.ok_or(art::Error::NoRun("add a summary to"))?;
            let mut store = ctx.open_store()?;
            let info = store.update_summary(&run, args.pairs.into_iter().collect())?;
            ctx.emit(&info, || {
                format!("{}: {}", info.id, summary_text(&info.summary))
            })?;
        }
        RunCommand::Exec(args) => return exec(ctx, args),
    }
    Ok(0)
}

/// `acc=0.91 loss=0.2`, keys sorted (`-` when empty).
fn summary_text(summary: &Map<String, Value>) -> String {
    if summary.is_empty() {
        return "-".into();
    }
    summary
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn show_text(info: &art::RunInfo) -> String {
    let mut rows: Vec<(&str, String)> = vec![("run", info.id.clone())];
    if let Some(n) = &info.name {
        rows.push(("name", n.clone()));
    }
    if let Some(g) = &info.group {
        rows.push(("group", g.clone()));
    }
    if let Some(j) = &info.job_type {
        rows.push(("job type", j.clone()));
    }
    let status = match info.exit_code {
        Some(code) => format!("{} (exit {code})", info.status),
        None => info.status.to_string(),
    };
    rows.push(("status", status));
    rows.push(("started", format_time(info.started_at)));
    if let Some(f) = info.finished_at {
        let secs = (f - info.started_at).max(0) / 1000;
        rows.push(("finished", format!("{} ({secs}s)", format_time(f))));
    }
    rows.push(("config", summary_text(&info.config)));
    rows.push(("summary", summary_text(&info.summary)));
    rows.push(("used", list_or_dash(&info.used)));
    rows.push(("logged", list_or_dash(&info.logged)));
    rows.iter()
        .map(|(k, v)| format!("{:<10} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// `art run exec`: start a run, run the command with ART_RUN/ART_STORE/ART_SUMMARY, forward
/// SIGINT and SIGTERM to it, record its exit status and summary, finish the run, and exit
/// with the command's code (126/127 when it cannot be started, 128+N when killed by signal N).
fn exec(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<u8> {
    // Before anything else, so every thread art starts inherits the mask (the child gets a
    // clean one from `signals::spawn`).
    let signals = signals::block().context("cannot block signals")?;
    let mut store = ctx.open_store()?;
    let run = store.start_run(args.start.options())?;
    let store_dir = store.dir().to_path_buf();
    // The store stays closed while the command runs: its shared lock would hold off gc.
    drop(store);
    let summary_file = tempfile::Builder::new()
        .prefix("art-summary-")
        .suffix(".json")
        .tempfile()
        .context("cannot create the ART_SUMMARY file")?;
    if !ctx.quiet && !ctx.json {
        eprintln!("art: run {} started", run.id);
    }
    let env = [
        ("ART_RUN", OsString::from(&run.id)),
        ("ART_STORE", store_dir.clone().into_os_string()),
        ("ART_SUMMARY", summary_file.path().as_os_str().to_owned()),
    ];
    let (code, spawn_error) = match signals::spawn(&args.command, &env) {
        Ok(pid) => {
            let forwarding = signals.forward_to(pid);
            let code = signals::wait(pid).context("cannot wait for the command")?;
            forwarding.stop();
            (code, None)
        }
        Err(e) => {
            let (code, why) = match e {
                nix::errno::Errno::ENOENT => (127, "command not found".to_owned()),
                nix::errno::Errno::EACCES => (126, "permission denied".to_owned()),
                other => (126, other.desc().to_lowercase()),
            };
            (code, Some(why))
        }
    };

    let mut store = art::Store::open(&store_dir)?;
    let text = std::fs::read_to_string(summary_file.path()).unwrap_or_default();
    match art::model::parse_summary_text(&text) {
        Ok(summary) if !summary.is_empty() => {
            store.update_summary(&run.id, summary)?;
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: ART_SUMMARY ignored: {e}"),
    }
    let mut opts = art::FinishOptions::new(run.id.clone());
    opts.status = if code == 0 {
        RunStatus::Ok
    } else {
        RunStatus::Failed
    };
    opts.exit_code = Some(code);
    let info = match store.finish_run(opts) {
        Ok(info) => info,
        Err(art::Error::RunFinished { .. }) => {
            if !ctx.quiet {
                eprintln!(
                    "warning: the command finished run `{}` itself; its status is kept",
                    run.id
                );
            }
            store.run(&run.id)?
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(why) = spawn_error {
        eprintln!(
            "error: cannot run `{}`: {why}; run `{}` is marked failed",
            args.command[0].to_string_lossy(),
            run.id
        );
    } else if !ctx.quiet && !ctx.json {
        eprintln!(
            "art: run {} {} (exit {code})  {}",
            info.id,
            info.status,
            summary_text(&info.summary)
        );
    }
    if ctx.json {
        ctx.emit(&info, String::new)?;
    }
    Ok(u8::try_from(code).unwrap_or(1))
}

/// Signals and the child of `run exec`. SIGINT and SIGTERM are blocked in art and picked up
/// by a thread that passes them to the child. A Ctrl-C at the terminal already reaches the
/// child (it shares art's process group), so SIGINT is only forwarded when art is not in the
/// terminal's foreground group, i.e. when it came from `kill`. The child is started with
/// `posix_spawnp` so it gets an empty signal mask and the default SIGPIPE action (std's
/// `Command` would pass on art's blocked mask).
mod signals {
    use nix::errno::Errno;
    use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawnp};
    use nix::sys::signal::{SigSet, Signal, kill};
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::Pid;
    use std::ffi::{CString, OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    pub struct Blocked(SigSet);

    pub struct Forwarding(Arc<AtomicBool>);

    impl Forwarding {
        /// The child is gone: nothing more is forwarded (its pid may be reused).
        pub fn stop(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// Blocks SIGINT and SIGTERM in this thread and the threads it starts later.
    pub fn block() -> nix::Result<Blocked> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.thread_block()?;
        Ok(Blocked(set))
    }

    impl Blocked {
        /// Forwards the blocked signals to `pid` until stopped.
        pub fn forward_to(self, pid: Pid) -> Forwarding {
            let stopped = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stopped);
            let set = self.0;
            std::thread::spawn(move || {
                while let Ok(signal) = set.wait() {
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                    if signal == Signal::SIGINT && in_terminal_foreground() {
                        continue;
                    }
                    let _ = kill(pid, signal);
                }
            });
            Forwarding(stopped)
        }
    }

    /// Whether art belongs to the foreground process group of its controlling terminal.
    fn in_terminal_foreground() -> bool {
        let Ok(tty) = std::fs::File::open("/dev/tty") else {
            return false;
        };
        nix::unistd::tcgetpgrp(&tty).is_ok_and(|fg| fg == nix::unistd::getpgrp())
    }

    fn c_string(s: &OsStr) -> Result<CString, Errno> {
        CString::new(s.as_bytes()).map_err(|_| Errno::EINVAL)
    }

    /// Starts `command` (looked up in PATH) with art's environment plus `env`.
    pub fn spawn(command: &[OsString], env: &[(&str, OsString)]) -> Result<Pid, Errno> {
        let args = command
            .iter()
            .map(|a| c_string(a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(k, _)| !env.iter().any(|(name, _)| k == name))
            .collect();
        vars.extend(env.iter().map(|(k, v)| (OsString::from(k), v.clone())));
        let envp = vars
            .iter()
            .map(|(k, v)| {
                let mut kv = k.clone();
                kv.push("=");
                kv.push(v);
                c_string(&kv)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut attr = PosixSpawnAttr::init()?;
        attr.set_sigmask(&SigSet::empty())?;
        let mut default = SigSet::empty();
        default.add(Signal::SIGPIPE);
        attr.set_sigdefault(&default)?;
        attr.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
        )?;
        let actions = PosixSpawnFileActions::init()?;
        posix_spawnp(&args[0], &actions, &attr, &args, &envp)
    }

    /// Waits for the child; its exit code, or 128+N when signal N killed it.
    pub fn wait(pid: Pid) -> nix::Result<i32> {
        loop {
            match waitpid(pid, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[derive(Args, Debug)]
pub struct UseArgs {
    /// The version used: NAME, NAME:ALIAS, NAME:vN or NAME@DIGESTPREFIX.
    reference: Ref,
    /// The run using it (default: $ART_RUN).
    #[arg(long, env = "ART_RUN")]
    run: Option<String>,
    /// Also check the version out into DEST.
    #[arg(long, value_name = "DEST")]
    checkout: Option<PathBuf>,
    /// Let the checkout overwrite or delete files modified since art last saw them.
    #[arg(long, short, requires = "checkout")]
    force: bool,
}

pub fn use_version(ctx: &Ctx, args: UseArgs) -> anyhow::Result<u8> {
    let run = args.run.ok_or(art::Error::NoRun("record a use in"))?;
    let mut store = ctx.open_store()?;
    let mut opts = art::UseOptions::new(args.reference, run);
    opts.checkout = args.checkout;
    opts.force = args.force;
    let out = store.use_version(opts)?;
    ctx.emit(&out, || {
        let mut line = format!("run {} used {}", out.run, out.reference);
        if !out.recorded {
            line.push_str(" (already recorded)");
        }
        if let Some(c) = &out.checkout {
            let _ = write!(
                line,
                "\n{} -> {}  {} written, {} unchanged, {} deleted",
                c.reference,
                c.dest.display(),
                c.written,
                c.unchanged,
                c.deleted
            );
        }
        line
    })?;
    Ok(0)
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    /// Only runs of this group (sweep).
    #[arg(long)]
    group: Option<String>,
    /// Only runs of this job type.
    #[arg(long)]
    job_type: Option<String>,
    /// Order: [-]started, [-]finished, [-]name, [-]status, [-]summary.KEY or [-]config.KEY
    /// (`-` for largest first); runs without the value come last.
    #[arg(long, value_name = "[-]FIELD", allow_hyphen_values = true)]
    sort: Option<RunSort>,
    /// Show at most N runs.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// The run with the best summary metric, and the versions it logged.
    Best(BestArgs),
}

#[derive(Args, Debug)]
pub struct BestArgs {
    /// Only runs of this group (sweep).
    #[arg(long)]
    group: Option<String>,
    /// Only runs of this job type.
    #[arg(long)]
    job_type: Option<String>,
    /// The summary metric to compare.
    #[arg(long)]
    metric: String,
    /// Smallest wins (e.g. a loss).
    #[arg(long, conflicts_with = "max")]
    min: bool,
    /// Largest wins (the default).
    #[arg(long)]
    max: bool,
}

pub fn runs(ctx: &Ctx, args: RunsArgs) -> anyhow::Result<u8> {
    if let Some(RunsCommand::Best(best)) = args.command {
        return runs_best(ctx, best);
    }
    let store = ctx.open_store()?;
    let mut opts = art::RunsOptions::default();
    opts.group = args.group;
    opts.job_type = args.job_type;
    opts.sort = args.sort;
    opts.limit = args.limit;
    let list = store.runs(&opts)?;
    ctx.emit(&list, || {
        if list.is_empty() {
            return "no runs; start one with `art run start` or `art run exec -- CMD`".into();
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.name.clone().unwrap_or_else(|| "-".into()),
                    r.group.clone().unwrap_or_else(|| "-".into()),
                    r.job_type.clone().unwrap_or_else(|| "-".into()),
                    r.status.to_string(),
                    short_time(r.started_at),
                    summary_text(&r.summary),
                ]
            })
            .collect();
        table(
            &[
                "RUN", "NAME", "GROUP", "JOB", "STATUS", "STARTED", "SUMMARY",
            ],
            &rows,
        )
    })?;
    Ok(0)
}

fn runs_best(ctx: &Ctx, args: BestArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let mut opts = art::BestRunOptions::new(args.metric);
    opts.group = args.group;
    opts.job_type = args.job_type;
    opts.minimize = args.min;
    let out = store.best_run(&opts)?;
    if !out.missing.is_empty() && !ctx.quiet {
        eprintln!(
            "note: {} run(s) without a numeric `{}` ignored: {}",
            out.missing.len(),
            out.metric,
            out.missing.join(", ")
        );
    }
    ctx.emit(&out, || {
        let which = if out.minimize { "smallest" } else { "largest" };
        let name = out
            .run
            .name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let status = if out.run.status == RunStatus::Ok {
            String::new()
        } else {
            format!(", {}", out.run.status)
        };
        format!(
            "best:    {}{name}  {}={} ({which} of {} runs{status})\nlogged:  {}",
            out.run.id,
            out.metric,
            Value::from(out.value),
            out.compared,
            list_or_dash(&out.run.logged)
        )
    })?;
    Ok(0)
}
