//! `art ui`.

use super::output::Ctx;
use clap::Args;
use std::net::SocketAddr;

#[derive(Args, Debug)]
pub struct UiArgs {
    /// The address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = art::ui::DEFAULT_BIND)]
    bind: SocketAddr,
    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
    /// Allow a non-loopback --bind address: anyone who reaches it can read the whole store.
    #[arg(long)]
    allow_remote: bool,
}

pub fn run(ctx: &Ctx, args: UiArgs) -> anyhow::Result<u8> {
    // Only to find the store; the server opens it per request and holds no lock meanwhile.
    let dir = ctx.open_store()?.dir().to_path_buf();
    let mut opts = art::ui::UiOptions::new(args.bind);
    opts.allow_remote = args.allow_remote;
    let server = art::ui::Server::bind(&dir, &opts)?;
    let url = server.url();
    if ctx.json {
        ctx.emit(
            &serde_json::json!({ "url": url, "store": dir }),
            String::new,
        )?;
    } else {
        // Printed even with --quiet: the URL is the one thing this command is for.
        println!(
            "art ui: serving {} on {url} (Ctrl-C to stop)",
            dir.display()
        );
    }
    if args.allow_remote && !server.addr().ip().is_loopback() && !ctx.quiet {
        eprintln!(
            "warning: {url} is reachable from other machines and has no login; \
             anyone who can connect can read the whole store"
        );
    }
    if args.open {
        open_browser(&url);
    }
    server.serve(ctx.interrupt())?;
    Ok(0)
}

/// Starts the desktop's URL opener; a failure is only a warning, the URL is printed anyway.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("warning: cannot start `{opener}` ({e}); open {url} yourself");
    }
}
