//! The `art` binary: parse arguments, run one command, map the outcome to an exit code.
//! Exit codes: 0 success, 1 failure (or `diff` found differences), 2 usage error (or `diff`
//! failed), 3 refused to protect data.

mod cli;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupt);
    // A second Ctrl-C while art is cleaning up kills it the usual way.
    if !args.command.handles_signals() {
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let is_diff = matches!(args.command, cli::Command::Diff(_));
    match cli::run(args, interrupt) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if cli::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", cli::render_error(&err));
            ExitCode::from(cli::exit_code(&err, is_diff))
        }
    }
}
