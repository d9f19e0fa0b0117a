//! Shared by the reliability suite (faults, kills, corruption, concurrency): per-file hashes
//! and the trial counts each scenario reports. With `ART_RELIABILITY_REPORT=FILE` set (as
//! `scripts/reliability.sh` does), each scenario appends one line to FILE:
//! `scenario<TAB>trials<TAB>kills landed mid-operation<TAB>result<TAB>seconds`.

use std::collections::BTreeMap;
use std::io::Write;

/// Per path (with read_tree's markers), the BLAKE3 of the content: cheap to keep around.
pub fn hashes(tree: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    tree.into_iter()
        .map(|(k, v)| (k, blake3::hash(&v).to_hex().to_string()))
        .collect()
}

/// Counts of one scenario, written when it passed (a failed test panics before).
pub struct Report {
    scenario: String,
    trials: u64,
    landed: u64,
    extra: Vec<String>,
    started: std::time::Instant,
}

impl Report {
    pub fn new(scenario: &str) -> Self {
        Report {
            scenario: scenario.to_owned(),
            trials: 0,
            landed: 0,
            extra: Vec::new(),
            started: std::time::Instant::now(),
        }
    }

    /// One trial, `landed` when a kill ended the command before it finished.
    pub fn trial(&mut self, landed: bool) {
        self.trials += 1;
        self.landed += u64::from(landed);
    }

    /// A note for the result column.
    pub fn note(&mut self, text: impl Into<String>) {
        self.extra.push(text.into());
    }

    pub fn landed(&self) -> u64 {
        self.landed
    }

    /// Prints the counts and appends them to the report file, if one is asked for.
    pub fn finish(self) {
        let mut result = "pass".to_owned();
        for e in &self.extra {
            result.push_str("; ");
            result.push_str(e);
        }
        let line = format!(
            "{}\t{}\t{}\t{}\t{:.0}\n",
            self.scenario,
            self.trials,
            self.landed,
            result,
            self.started.elapsed().as_secs_f64()
        );
        eprint!("reliability: {line}");
        if let Some(path) = std::env::var_os("ART_RELIABILITY_REPORT") {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open the reliability report");
            f.write_all(line.as_bytes()).expect("append to the report");
        }
    }
}

/// Checks out `reference` into a fresh directory of `env` and returns its per-file hashes.
pub fn restored(env: &crate::util::Env, reference: &str) -> BTreeMap<String, String> {
    let dir = "restore-check";
    env.ok(&["checkout", reference, dir, "-q"]);
    let got = hashes(env.read_tree(dir));
    std::fs::remove_dir_all(env.path(dir)).expect("remove checkout");
    got
}
