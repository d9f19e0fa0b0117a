//! Output: the context every command gets (mode, store location, progress) and helpers for
//! aligned tables and JSON.

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

pub struct Ctx {
    pub quiet: bool,
    pub json: bool,
    store: Option<PathBuf>,
    interrupt: Arc<AtomicBool>,
}

impl Ctx {
    pub fn new(
        quiet: bool,
        json: bool,
        store: Option<PathBuf>,
        interrupt: Arc<AtomicBool>,
    ) -> Self {
        Ctx {
            quiet,
            json,
            store,
            interrupt,
        }
    }

    pub fn cwd() -> anyhow::Result<PathBuf> {
        std::env::current_dir().context("cannot read the current directory")
    }

    /// Opens the store named by `--store`/`ART_STORE`, or the nearest one upward.
    pub fn open_store(&self) -> anyhow::Result<art::Store> {
        let mut store = match &self.store {
            Some(p) => art::Store::open(p)?,
            None => art::Store::discover(&Self::cwd()?)?,
        };
        store.set_interrupt(Arc::clone(&self.interrupt));
        if !self.quiet && !self.json && std::io::stderr().is_terminal() {
            store.set_progress(Arc::new(Bars::default()));
        }
        Ok(store)
    }

    /// The flag Ctrl-C sets.
    pub fn interrupt(&self) -> &AtomicBool {
        &self.interrupt
    }

    /// The store path given explicitly, if any.
    pub fn store_arg(&self) -> Option<&PathBuf> {
        self.store.as_ref()
    }

    /// Prints `value` as JSON with `--json`, else the human text (unless `--quiet`).
    pub fn emit<T: serde::Serialize>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, value)?;
            writeln!(out)?;
        } else if !self.quiet {
            let text = human();
            if !text.is_empty() {
                writeln!(out, "{}", text.trim_end_matches('\n'))?;
            }
        }
        Ok(())
    }
}

/// Aligns columns; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len() - 1;
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            if i == last {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

/// A date for tables: `2026-11-23 12:40`.
pub fn short_time(ms: i64) -> String {
    let full = art::model::format_time(ms);
    full[..16].replace('T', " ")
}

/// Progress bars on stderr, one per phase.
#[derive(Default)]
struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl art::Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(phase.to_owned());
        *self.bar.lock().expect("bar lock") = Some(bar);
    }
    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("bar lock").as_ref() {
            b.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("bar lock").take() {
            b.finish_and_clear();
        }
    }
}
