//! `art lineage`.

use super::output::Ctx;
use art::model::{Direction, LineageFormat};
use clap::Args;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct LineageArgs {
    /// A version (NAME, NAME:ALIAS, NAME:vN, NAME@DIGESTPREFIX) or a run id.
    target: String,
    /// Only inputs: the run that logged it, the versions that run used, and so on.
    #[arg(long, conflicts_with_all = ["down", "both"])]
    up: bool,
    /// Only outputs: the runs that used it, the versions they logged, and so on.
    #[arg(long, conflicts_with = "both")]
    down: bool,
    /// Inputs and outputs (the default).
    #[arg(long)]
    both: bool,
    /// At most N edges from TARGET (a version and the run that logged it are 1 apart).
    #[arg(long, value_name = "N")]
    depth: Option<u32>,
    /// text (a tree), json, dot (Graphviz) or mermaid.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: LineageFormat,
}

pub fn run(ctx: &Ctx, args: LineageArgs) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let mut opts = art::LineageOptions::new(args.target);
    opts.direction = if args.up {
        Direction::Up
    } else if args.down {
        Direction::Down
    } else {
        Direction::Both
    };
    opts.depth = args.depth;
    let lineage = store.lineage(&opts)?;
    if ctx.json || args.format == LineageFormat::Json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &lineage)?;
        writeln!(out)?;
        return Ok(0);
    }
    if ctx.quiet {
        return Ok(0);
    }
    let text = match args.format {
        LineageFormat::Dot => lineage.to_dot(),
        LineageFormat::Mermaid => lineage.to_mermaid(),
        LineageFormat::Text | LineageFormat::Json => lineage.to_text(),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(0)
}
