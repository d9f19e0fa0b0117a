//! `art completions SHELL` and `art man`: generated from the same clap definition as the
//! parser, so they never drift from the commands.

use anyhow::Context as _;
use clap::{Args, CommandFactory};
use std::io::Write;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    shell: clap_complete::Shell,
}

/// Prints a completion script for the shell on stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = super::Cli::command();
    // Generated into memory first: clap_complete panics when its writer fails, and a
    // closed stdout must end art quietly instead.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "art", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write `art.1` and one page per subcommand (`art-log.1`, `art-run-exec.1`, …) into DIR
    /// instead of printing `art.1` on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

/// Prints the `art.1` man page (roff), or writes every page into a directory.
pub fn man(ctx: &super::Ctx, args: ManArgs) -> anyhow::Result<u8> {
    let cmd = super::Cli::command();
    let Some(dir) = args.dir else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        out.flush()?;
        return Ok(0);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    clap_mangen::generate_to(cmd, &dir)
        .with_context(|| format!("cannot write man pages into `{}`", dir.display()))?;
    let mut written: Vec<String> = std::fs::read_dir(&dir)?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("art") && n.ends_with(".1"))
        .collect();
    written.sort();
    ctx.emit(&written, || {
        format!("wrote {} man pages to {}", written.len(), dir.display())
    })?;
    Ok(0)
}
