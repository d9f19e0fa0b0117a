//! Concurrency (issue 13): four processes at once on one store, for a bounded number of
//! rounds: two log the same artifact from different trees, one logs its own artifact, and
//! one checks out, sets aliases, prunes a scratch artifact and runs `gc --grace 0s`. Then
//! every version any of them reported committed restores as logged, the record log has no
//! gap or duplicate, fsck is clean, and no raw "database is locked" reached a user.

use crate::reliability::{Report, hashes};
use crate::util::{Env, noise, read_tree};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The work tree as the threads see it (the harness's `Env` stays on the test's thread).
#[derive(Clone, Copy)]
struct Tree<'a>(&'a Path);

impl Tree<'_> {
    fn art(self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("art"));
        cmd.current_dir(self.0)
            .env_remove("ART_STORE")
            .env_remove("ART_RUN")
            .env("NO_COLOR", "1");
        cmd
    }

    fn path(self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn write(self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("create parents");
        std::fs::write(&p, content).expect("write");
    }
}

const ROUNDS: u64 = 8;

/// What the workers saw: versions reported committed (reference → tree), and every stderr.
#[derive(Default)]
struct Seen {
    committed: BTreeMap<String, BTreeMap<String, String>>,
    stderr: Vec<(Vec<String>, String)>,
    /// Commands that failed: their first word and the first line of their message.
    failures: BTreeSet<String>,
    failed: u64,
}

fn run(env: Tree<'_>, args: &[&str], seen: &Mutex<Seen>) -> Option<serde_json::Value> {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = env.art().args(&full).output().expect("run art");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut s = seen.lock().expect("lock");
    s.stderr.push((
        args.iter().map(|a| (*a).to_owned()).collect(),
        stderr.clone(),
    ));
    if out.status.success() {
        serde_json::from_slice(&out.stdout).ok()
    } else {
        s.failed += 1;
        let first = stderr.lines().next().unwrap_or_default().to_owned();
        s.failures.insert(format!("{}: {first}", args[0]));
        None
    }
}

/// Writes tree `round` of worker `w` into `dir` and logs it as `name`; records the version.
fn log_tree(env: Tree<'_>, w: u64, round: u64, name: &str, dir: &str, seen: &Mutex<Seen>) {
    let d = env.path(dir);
    if d.exists() {
        std::fs::remove_dir_all(&d).expect("clear");
    }
    env.write(
        &format!("{dir}/big.bin"),
        noise(1_500_000, w * 1000 + round),
    );
    env.write(&format!("{dir}/shared.bin"), noise(300_000, 7));
    for j in 0..10 {
        env.write(
            &format!("{dir}/s/{j}.txt"),
            format!("worker {w} round {round} file {j}\n"),
        );
    }
    let tree = hashes(read_tree(&env.path(dir)));
    let out = run(env, &["log", name, dir], seen).unwrap_or_else(|| {
        panic!(
            "worker {w}: log {name} failed: {:?}",
            seen.lock().expect("lock").stderr.last()
        )
    });
    let reference = out["reference"].as_str().expect("reference").to_owned();
    let mut s = seen.lock().expect("lock");
    assert!(
        s.committed.insert(reference.clone(), tree).is_none(),
        "worker {w}: `{reference}` reported twice"
    );
}

#[test]
fn concurrency_four_processes_on_one_store() {
    let mut report = Report::new(
        "concurrency: 4 processes x 8 rounds (log same/other artifact, checkout, alias, prune, gc)",
    );
    let env = Env::init();
    env.write("scratch/x.txt", "x");
    env.ok(&["log", "scratch", "scratch", "-q"]);
    let seen = Mutex::new(Seen::default());
    let root = env.root().to_path_buf();
    std::thread::scope(|scope| {
        let (env, seen) = (Tree(&root), &seen);
        scope.spawn(move || {
            for r in 0..ROUNDS {
                log_tree(env, 1, r, "shared", "w1", seen);
            }
        });
        scope.spawn(move || {
            for r in 0..ROUNDS {
                log_tree(env, 2, r, "shared", "w2", seen);
            }
        });
        scope.spawn(move || {
            for r in 0..ROUNDS {
                log_tree(env, 3, r, "own", "w3", seen);
                env.write("scratch/x.txt", format!("x {r}"));
                run(env, &["log", "scratch", "scratch"], seen);
            }
        });
        scope.spawn(move || {
            for r in 0..ROUNDS {
                run(env, &["checkout", "scratch", &format!("co/{r}")], seen);
                run(
                    env,
                    &["alias", "set", "shared:latest", &format!("r{r}")],
                    seen,
                );
                run(env, &["prune", "scratch", "--keep-last", "1"], seen);
                run(env, &["gc", "--grace", "0s"], seen);
            }
        });
    });
    let seen = seen.into_inner().expect("lock");

    for (args, stderr) in &seen.stderr {
        assert!(
            !stderr.contains("database is locked") && !stderr.contains("database is busy"),
            "art {args:?} showed SQLite's raw message:\n{stderr}"
        );
    }
    assert_eq!(seen.committed.len() as u64, 3 * ROUNDS);
    for (reference, tree) in &seen.committed {
        env.ok(&["checkout", reference, "check", "-q"]);
        assert!(
            hashes(env.read_tree("check")) == *tree,
            "`{reference}` restores other bytes"
        );
        std::fs::remove_dir_all(env.path("check")).expect("remove");
    }
    // Version numbers: 0..n, each once, per artifact.
    for name in ["shared", "own"] {
        let numbers: Vec<u64> = env
            .json(&["versions", name, "--all"])
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v["version"].as_u64().expect("number"))
            .collect();
        let want: Vec<u64> = (0..numbers.len() as u64).collect();
        assert_eq!(numbers, want, "{name}");
    }
    // The record log: batches 1..n, no gap, no duplicate id.
    let mut seqs = Vec::new();
    let mut ids = BTreeSet::new();
    for e in std::fs::read_dir(env.path(".artifacts/log")).expect("log dir") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        let Some(seq) = name
            .strip_suffix(".json")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        seqs.push(seq);
        let batch: serde_json::Value = serde_json::from_slice(
            &std::fs::read(env.path(&format!(".artifacts/log/{name}"))).expect("read"),
        )
        .expect("batch JSON");
        assert!(
            ids.insert(batch["id"].as_str().expect("id").to_owned()),
            "duplicate batch {name}"
        );
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "gap in the log"
    );
    if std::env::var_os("ART_DEBUG_KEEP").is_some() {
        let _ = std::process::Command::new("cp")
            .arg("-a")
            .arg(env.root())
            .arg("/tmp/conc-debug")
            .status();
    }
    let fsck = env.json(&["fsck", "--read-data"]);
    assert_eq!(fsck["problems"], serde_json::json!([]), "{fsck:#}");

    for _ in 0..seen.stderr.len() {
        report.trial(false);
    }
    report.note(format!(
        "{} versions reported, all restore; {} commands refused cleanly ({:?})",
        seen.committed.len(),
        seen.failed,
        seen.failures
    ));
    report.finish();
}

/// Two stores cloned from one remote log different versions and push at the same moment:
/// the log entry numbers are create-only, so exactly one push lands, the other is refused
/// with "pull first" (exit 3), the remote stays sound, and both stores keep their versions;
/// the loser's pull merges (its version becomes m:v2) and its next push lands.
#[test]
fn concurrency_two_stores_push_to_one_remote() {
    const ROUNDS: u64 = 10;
    let mut report = Report::new("concurrency: 2 stores pushing to one remote at once");
    let mut wins = [0u64; 2];
    for round in 0..ROUNDS {
        let origin = Env::init();
        origin.write("d/base.txt", "base\n");
        origin.ok(&["remote", "add", "origin", "remote"]);
        origin.ok(&["log", "m", "d", "-q"]);
        origin.ok(&["push", "-q"]);
        let url = origin.path("remote").to_string_lossy().into_owned();
        let stores: Vec<Env> = (0..2)
            .map(|i| {
                let s = Env::new();
                s.ok(&["clone", &url, ".", "-q"]);
                s.write("d/base.txt", "base\n");
                s.write("d/own.bin", noise(600_000, round * 10 + i));
                s.ok(&["log", "m", "d", "-q"]);
                s
            })
            .collect();
        let roots: Vec<PathBuf> = stores.iter().map(|s| s.root().to_path_buf()).collect();
        let outs: Vec<std::process::Output> = std::thread::scope(|scope| {
            let handles: Vec<_> = roots
                .iter()
                .map(|r| {
                    let t = Tree(r);
                    scope.spawn(move || t.art().args(["push"]).output().expect("push"))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("join"))
                .collect()
        });
        let ok: Vec<bool> = outs.iter().map(|o| o.status.success()).collect();
        assert!(
            ok[0] ^ ok[1],
            "round {round}: exactly one push lands: {outs:?}"
        );
        let (winner, loser) = if ok[0] { (0, 1) } else { (1, 0) };
        wins[winner] += 1;
        let err = String::from_utf8_lossy(&outs[loser].stderr);
        assert_eq!(outs[loser].status.code(), Some(3), "round {round}: {err}");
        assert!(err.contains("pull"), "round {round}: {err}");
        assert!(!err.contains("database is locked"), "{err}");
        let remote = stores[winner].json(&["fsck", "--remote", "origin", "--read-data"]);
        assert_eq!(
            remote["problems"],
            serde_json::json!([]),
            "round {round}: {remote}"
        );
        let fresh = Env::new();
        fresh.ok(&["clone", &url, ".", "-q"]);
        fresh.ok(&["checkout", "m:v1", "check", "-q"]);
        assert_eq!(fresh.read_tree("check"), stores[winner].read_tree("d"));
        for s in &stores {
            s.ok(&["checkout", "m:v1", "check", "-q"]);
            assert_eq!(s.read_tree("check"), s.read_tree("d"), "round {round}");
            assert_eq!(s.json(&["fsck"])["problems"], serde_json::json!([]));
        }
        // The loser pulls, which renumbers its version after the winner's, and pushes.
        let pulled = stores[loser].json(&["pull"]);
        assert_eq!(
            pulled["renumbered"],
            serde_json::json!([{"artifact": "m", "from": 1, "to": 2}]),
            "round {round}: {pulled}"
        );
        stores[loser].ok(&["push", "-q"]);
        let fresh = Env::new();
        fresh.ok(&["clone", &url, ".", "-q"]);
        fresh.ok(&["checkout", "m:v2", "check", "-q"]);
        assert_eq!(fresh.read_tree("check"), stores[loser].read_tree("d"));
        report.trial(false);
    }
    report.note(format!(
        "one push landed each round (store 1 won {}, store 2 won {}), the other was refused with `pull` first, then pulled (renumbered to m:v2) and pushed",
        wins[0], wins[1]
    ));
    report.finish();
}
