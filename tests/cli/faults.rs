//! Failpoints (issue 13): every named failpoint in the write paths, with both actions (the
//! command fails there, or the process is SIGKILLed there). After each trial `art fsck
//! --read-data` is clean, every version committed before restores byte for byte, the index
//! answers as a rebuild from packs and log does, and running the command again completes.
//! The debug binary reads `ART_FAILPOINT=NAME:ACTION[:N]` (src/failpoint.rs).

use crate::records::{assert_same, rebuilt_state, state};
use crate::reliability::{Report, hashes, restored};
use crate::util::{Env, noise};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;

/// What a trial runs under a failpoint, each on its own copy of a base store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// `log m d` of a third tree.
    Log,
    /// `alias set m:v0 best`.
    Alias,
    /// `rm m:v0`.
    Rm,
    /// `checkout m:v1 out` over a checkout of `m:v0`.
    Checkout,
    /// `gc --grace 0s` after `rm m:v0`, which repacks.
    Gc,
    /// `push` to a directory remote.
    Push,
    /// `pull` into a clone, of a version logged after the clone.
    Pull,
    /// `pull` into a clone that logged a version of its own meanwhile: a merge, which
    /// renumbers the clone's version after the remote's and rewrites its log's tail.
    Merge,
    /// `patch m --add …` of a big new file into `m:v1`.
    Patch,
    /// `finish m --distributed-id x` of two parts (tree 2 and one more file).
    Finish,
}

/// Each failpoint, the scenarios that pass it, and which pass triggers it.
const CASES: &[(&str, &[Scenario], u64)] = {
    use Scenario::{Alias, Checkout, Finish, Gc, Log, Merge, Patch, Pull, Push, Rm};
    &[
        ("pack.before-fsync", &[Log, Gc, Patch, Finish], 1),
        ("pack.after-fsync", &[Log, Gc, Patch, Finish], 1),
        ("pack.before-rename", &[Log, Gc, Patch, Finish], 1),
        ("pack.after-rename", &[Log, Gc, Patch, Finish], 1),
        (
            "record.before-append",
            &[Log, Alias, Rm, Gc, Patch, Finish],
            1,
        ),
        (
            "record.after-append",
            &[Log, Alias, Rm, Gc, Patch, Finish],
            1,
        ),
        ("log.after-commit", &[Log, Patch, Finish], 1),
        ("checkout.before-rename", &[Checkout], 5),
        ("checkout.after-rename", &[Checkout], 5),
        ("gc.repack", &[Gc], 1),
        ("gc.after-commit", &[Gc], 1),
        ("gc.before-checkpoint", &[Gc], 1),
        ("push.between-packs", &[Push], 2),
        ("push.after-packs", &[Push], 1),
        ("push.between-batches", &[Push], 1),
        ("pull.after-append", &[Pull], 1),
        ("pull.between-batches", &[Pull], 1),
        ("merge.before-swap", &[Merge], 1),
        ("merge.mid-swap", &[Merge], 1),
        ("merge.before-rebuild", &[Merge], 1),
    ]
};

const BIG: usize = 700_000;

/// Tree `k` of `d/`: three big incompressible files (one unchanged across trees), and small
/// files of which a third change.
fn write_tree(env: &Env, k: u64) {
    let d = env.path("d");
    if d.exists() {
        std::fs::remove_dir_all(&d).expect("clear d");
    }
    env.write("d/big/stable.bin", noise(BIG, 99));
    for i in 0..2u64 {
        env.write(&format!("d/big/{i}.bin"), noise(BIG, k * 10 + i));
    }
    for j in 0..24u64 {
        let text = if j % 3 == 0 {
            format!("tree {k} file {j}\n")
        } else {
            format!("stable {j}\n")
        };
        env.write(&format!("d/small/{j:02}.txt"), text.repeat(20));
    }
}

/// A store with `m:v0` (tree 0) and `m:v1` (tree 1) in 1 MiB packs; returns the trees.
fn base() -> (Env, Vec<BTreeMap<String, String>>) {
    let env = Env::init();
    env.ok(&["config", "set", "store.pack_size", "1MiB"]);
    // gc repacks every pack holding a dead blob.
    env.ok(&["config", "set", "gc.repack_threshold", "1"]);
    let mut trees = Vec::new();
    for k in 0..3 {
        write_tree(&env, k);
        trees.push(hashes(env.read_tree("d")));
        if k < 2 {
            env.ok(&["log", "m", "d", "-q"]);
        }
    }
    (env, trees)
}

/// A copy of `base`'s work tree (store included) in a new temporary directory.
fn copy_of(base: &Env) -> Env {
    let env = Env::new();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", base.root().display()))
        .arg(env.root())
        .status()
        .expect("cp");
    assert!(status.success());
    env
}

fn fsck_clean(env: &Env, when: &str) {
    let out = env
        .art()
        .args(["--json", "fsck", "--read-data"])
        .output()
        .expect("run art");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{when}: fsck: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        out.status.success() && report["problems"] == serde_json::json!([]),
        "{when}: fsck: {report:#}"
    );
}

/// What a user can ask the store, against a rebuild: which packs a remote holds is the
/// local cache's knowledge (a rebuild learns it at the next push), so `du` is compared
/// without it.
fn assert_index_is_a_rebuild(env: &Env, when: &str) {
    let strip = |mut v: serde_json::Value| {
        for key in ["pinned", "evictable", "remote_only", "remotes"] {
            v["du"].as_object_mut().expect("du").remove(key);
        }
        v
    };
    assert_same(
        &strip(state(env, &env.path(".artifacts"))),
        &strip(rebuilt_state(env, "rebuilt-copy")),
        when,
    );
}

/// Where the trial's command runs: the base store, or the clone for a pull.
struct Trial {
    main: Env,
    /// The clone that pulls (Pull and Merge).
    clone: Option<Env>,
    /// The tree of the clone's own version (Merge only).
    own: Option<BTreeMap<String, String>>,
}

impl Trial {
    fn target(&self) -> &Env {
        self.clone.as_ref().unwrap_or(&self.main)
    }
}

fn prepare(base: &Env, scenario: Scenario) -> Trial {
    let main = copy_of(base);
    let mut clone = None;
    let mut own = None;
    match scenario {
        Scenario::Log => write_tree(&main, 2),
        Scenario::Alias | Scenario::Rm => {}
        Scenario::Patch => main.write("extra.bin", noise(BIG, 77)),
        Scenario::Finish => {
            write_tree(&main, 2);
            main.ok(&["log", "m", "d", "--distributed-id", "x", "-q"]);
            main.write("w/extra.bin", noise(BIG, 77));
            main.ok(&["log", "m", "w", "--distributed-id", "x", "-q"]);
        }
        Scenario::Checkout => {
            main.ok(&["checkout", "m:v0", "out", "-q"]);
        }
        Scenario::Gc => {
            main.ok(&["rm", "m:v0", "-q"]);
        }
        Scenario::Push => {
            main.ok(&["remote", "add", "origin", "remote"]);
        }
        Scenario::Pull | Scenario::Merge => {
            main.ok(&["remote", "add", "origin", "remote"]);
            main.ok(&["push", "-q"]);
            let other = Env::new();
            let url = main.path("remote").to_string_lossy().into_owned();
            other.ok(&["clone", &url, ".", "-q"]);
            write_tree(&main, 2);
            main.ok(&["log", "m", "d", "-q"]);
            main.ok(&["alias", "set", "m:v2", "best"]);
            main.ok(&["push", "-q"]);
            if scenario == Scenario::Merge {
                write_tree(&other, 3);
                other.ok(&["log", "m", "d", "-q"]);
                own = Some(hashes(other.read_tree("d")));
            }
            clone = Some(other);
        }
    }
    Trial { main, clone, own }
}

fn command(scenario: Scenario) -> &'static [&'static str] {
    match scenario {
        Scenario::Log => &["log", "m", "d"],
        Scenario::Alias => &["alias", "set", "m:v0", "best"],
        Scenario::Rm => &["rm", "m:v0"],
        Scenario::Checkout => &["checkout", "m:v1", "out"],
        Scenario::Gc => &["gc", "--grace", "0s"],
        Scenario::Push => &["push"],
        Scenario::Pull | Scenario::Merge => &["pull"],
        Scenario::Patch => &["patch", "m", "--add", "extra.bin=big/extra.bin"],
        Scenario::Finish => &["finish", "m", "--distributed-id", "x"],
    }
}

/// The tree the patch or finish scenario makes: `base` plus `big/extra.bin`.
fn with_extra(base: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut tree = base.clone();
    tree.insert(
        "big/extra.bin".into(),
        blake3::hash(&noise(BIG, 77)).to_hex().to_string(),
    );
    tree
}

/// The versions that must restore after the trial, whatever happened: those committed
/// before it that the command does not delete.
fn expected_before(scenario: Scenario) -> Vec<(String, usize)> {
    let mut out = vec![("m:v1".to_owned(), 1)];
    if !matches!(scenario, Scenario::Rm | Scenario::Gc) {
        out.push(("m:v0".to_owned(), 0));
    }
    if matches!(scenario, Scenario::Pull | Scenario::Merge) {
        out.push(("m:v2".to_owned(), 2));
    }
    out
}

/// One failpoint with one action on one scenario.
fn trial(
    base: &Env,
    trees: &[BTreeMap<String, String>],
    point: &str,
    nth: u64,
    kill: bool,
    scenario: Scenario,
) {
    let t = prepare(base, scenario);
    let env = t.target();
    let action = if kill { "kill" } else { "error" };
    let spec = format!("{point}:{action}:{nth}");
    let args = command(scenario);
    let when = format!("{args:?} with ART_FAILPOINT={spec}");
    let out = env
        .art()
        .env("ART_FAILPOINT", &spec)
        .args(args)
        .output()
        .expect("run art");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if kill {
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{when}: the failpoint was not reached ({:?})\n{stderr}",
            out.status
        );
    } else {
        assert_eq!(out.status.code(), Some(1), "{when}: not reached\n{stderr}");
        assert!(
            stderr.contains(&format!("failpoint `{point}`")),
            "{when}: the error does not name the failpoint:\n{stderr}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{when}: one line\n{stderr}"
        );
    }

    // The store: sound, every earlier version intact, index equal to a rebuild.
    fsck_clean(env, &when);
    if scenario == Scenario::Pull {
        // Nothing of v2 is local: a clone reads from the remote, which the pull never writes.
        let pulled = env.json(&["versions", "m"]);
        let n = pulled.as_array().expect("versions").len();
        assert!(n == 2 || n == 3, "{when}: {pulled}");
    }
    if let Some(own) = &t.own {
        // Merged or not, the clone's own version is its newest and restores as logged.
        let n = env.json(&["versions", "m"]).as_array().map_or(0, Vec::len);
        assert!(n == 3 || n == 4, "{when}: {n} versions");
        assert!(
            restored(env, "m:latest") == *own,
            "{when}: the clone's own version"
        );
    }
    for (reference, k) in expected_before(scenario) {
        if matches!(scenario, Scenario::Pull | Scenario::Merge) && reference == "m:v2" {
            continue;
        }
        assert!(
            restored(env, &reference) == trees[k],
            "{when}: `{reference}` no longer restores as logged"
        );
    }
    assert_index_is_a_rebuild(env, &when);
    if scenario == Scenario::Checkout {
        // Files under final names hold one version's content or the other.
        for (path, hash) in hashes(env.read_tree("out")) {
            if path
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".art-tmp-"))
            {
                continue;
            }
            assert!(
                trees[0].get(&path) == Some(&hash) || trees[1].get(&path) == Some(&hash),
                "{when}: `out/{path}` holds neither version"
            );
        }
    }

    // Running the command again completes, and its result is there. An `rm` whose batch
    // reached the log before the failure is done: the re-run says so.
    let again = env.art().args(args).output().expect("run art");
    let again_err = String::from_utf8_lossy(&again.stderr);
    // A finish whose batch landed has no pending version left to finish.
    assert!(
        again.status.success()
            || (scenario == Scenario::Rm && again_err.contains("`m:v0` was deleted"))
            || (scenario == Scenario::Finish && again_err.contains("no pending version `x`")),
        "{when}: the re-run failed\n{again_err}"
    );
    fsck_clean(env, &format!("{when}, then again"));
    match scenario {
        Scenario::Log => assert!(restored(env, "m:latest") == trees[2], "{when}: rerun"),
        Scenario::Alias => assert!(restored(env, "m:best") == trees[0], "{when}: rerun"),
        Scenario::Patch => {
            assert!(
                restored(env, "m:latest") == with_extra(&trees[1]),
                "{when}: rerun"
            );
            assert_eq!(
                env.json(&["versions", "m"]).as_array().map(Vec::len),
                Some(3)
            );
        }
        Scenario::Finish => {
            let pending = env.json(&["versions", "m", "--pending"]);
            assert_eq!(pending, serde_json::json!([]), "{when}: finished");
            let d = restored(env, "m:latest");
            let mut expected = trees[2].clone();
            expected.insert(
                "extra.bin".into(),
                with_extra(&BTreeMap::new())["big/extra.bin"].clone(),
            );
            assert!(d == expected, "{when}: rerun");
        }
        Scenario::Rm => {
            env.fails(&["checkout", "m:v0", "gone"], 1);
        }
        Scenario::Checkout => assert!(hashes(env.read_tree("out")) == trees[1], "{when}"),
        Scenario::Gc => assert!(restored(env, "m:v1") == trees[1], "{when}: rerun"),
        Scenario::Push => {
            let other = Env::new();
            let url = env.path("remote").to_string_lossy().into_owned();
            other.ok(&["clone", &url, ".", "-q"]);
            fsck_clean(&other, &format!("{when}: a clone of the remote"));
            for (reference, k) in [("m:v0", 0), ("m:v1", 1)] {
                assert!(
                    restored(&other, reference) == trees[k],
                    "{when}: `{reference}` from the remote"
                );
            }
        }
        Scenario::Pull => {
            assert!(restored(env, "m:best") == trees[2], "{when}: pulled m:v2");
            assert_eq!(
                env.json(&["versions", "m"]),
                t.main.json(&["versions", "m"]),
                "{when}: the clone has the remote's history"
            );
        }
        Scenario::Merge => {
            assert!(restored(env, "m:v2") == trees[2], "{when}: pulled m:v2");
            let own = t.own.as_ref().expect("own tree");
            assert!(restored(env, "m:v3") == *own, "{when}: renumbered to m:v3");
            env.ok(&["push", "-q"]);
            t.main.ok(&["pull", "-q"]);
            assert!(
                restored(&t.main, "m:v3") == *own,
                "{when}: pushed after the merge"
            );
        }
    }
}

/// Runs every (failpoint, scenario) pair in `scenarios` with both actions.
fn run_cases(label: &str, scenarios: &[Scenario]) {
    let (base, trees) = base();
    let mut report = Report::new(label);
    for (point, on, nth) in CASES {
        for scenario in on.iter().filter(|s| scenarios.contains(s)) {
            for kill in [false, true] {
                trial(&base, &trees, point, *nth, kill, *scenario);
                report.trial(kill);
            }
        }
    }
    report.finish();
}

#[test]
fn faults_every_failpoint_is_in_a_case() {
    let mut names = Vec::new();
    for file in crate::util::files_in(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
    {
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        for part in text.split("failpoint::hit(\"").skip(1) {
            names.push(part.split('"').next().expect("name").to_owned());
        }
    }
    names.sort();
    names.dedup();
    let mut cased: Vec<String> = CASES.iter().map(|c| c.0.to_owned()).collect();
    cased.sort();
    assert_eq!(names, cased, "failpoints in src/ vs the cases here");
}

#[test]
fn faults_in_log_and_records() {
    run_cases(
        "failpoints: log, alias set, rm",
        &[Scenario::Log, Scenario::Alias, Scenario::Rm],
    );
}

#[test]
fn faults_in_checkout_and_gc() {
    run_cases(
        "failpoints: checkout, gc",
        &[Scenario::Checkout, Scenario::Gc],
    );
}

#[test]
fn faults_in_push_and_pull() {
    run_cases("failpoints: push, pull", &[Scenario::Push, Scenario::Pull]);
}

#[test]
fn faults_in_patch_and_finish() {
    run_cases(
        "failpoints: patch, finish of a collaborative version",
        &[Scenario::Patch, Scenario::Finish],
    );
}

#[test]
fn faults_in_a_merging_pull() {
    run_cases("failpoints: pull that merges", &[Scenario::Merge]);
}
