//! Collaborative versions (`log --distributed-id`, `finish`, `versions --pending`,
//! `rm --pending`) and `art patch`, driven through the CLI: concurrent writers, conflicts,
//! gc, a killed writer, remotes, lazy clones and `--onto-latest`.

use crate::util::{Env, noise, path_with_art, read_tree};
use std::collections::BTreeMap;
use std::process::Stdio;

/// The files of every writer directory `w0..wN` as one tree, the way a finish unites them.
fn union_of(env: &Env, writers: usize) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    for w in 0..writers {
        all.extend(env.read_tree(&format!("w{w}")));
    }
    all
}

fn run_ids(env: &Env) -> Vec<String> {
    let runs = env.json(&["runs"]);
    let mut ids: Vec<String> = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// Four `art run exec --group eval` processes write their parts at once; the finish makes
/// the byte-identical union, and every writer is a producer in the lineage.
#[test]
fn four_concurrent_writers_then_finish_make_the_union() {
    let env = Env::init();
    for w in 0..4u64 {
        env.write(&format!("w{w}/preds/shard-{w}.bin"), noise(300_000, w));
        env.write(&format!("w{w}/labels.csv"), "id,label\n1,cat\n");
        env.write(&format!("w{w}/nested/{w}/log.txt"), format!("writer {w}\n"));
    }
    let children: Vec<_> = (0..4)
        .map(|w| {
            env.std_command()
                .env("PATH", path_with_art())
                .args([
                    "run", "exec", "--group", "eval", "--", "art", "log", "preds",
                ])
                .arg(format!("w{w}"))
                .args(["--distributed-id", "-t", "predictions"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("writer");
        assert!(
            out.status.success(),
            "writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Nothing is committed yet: no version, and `latest` does not exist.
    env.fails(&["versions", "preds"], 1);
    let pending = env.json(&["versions", "preds", "--pending"]);
    assert_eq!(pending[0]["distributed_id"], "eval", "{pending}");
    assert_eq!(pending[0]["parts"], 4, "{pending}");
    assert_eq!(pending[0]["writers"].as_array().map(Vec::len), Some(4));

    let done = env.json(&[
        "finish",
        "preds",
        "--distributed-id",
        "eval",
        "-a",
        "evaluated",
        "-m",
        "all shards",
    ]);
    assert_eq!(done["reference"], "preds:v0", "{done}");
    assert_eq!(done["parts"], 4);
    assert_eq!(done["files"], 4 * 2 + 1, "labels.csv is one entry");
    env.ok(&["checkout", "preds:evaluated", "out"]);
    assert_eq!(env.read_tree("out"), union_of(&env, 4));
    let pending = env.json(&["versions", "preds", "--pending"]);
    assert_eq!(pending, serde_json::json!([]), "finished: nothing pending");

    // Every writer's run produced the version; `show` names them.
    let lineage = env.json(&["lineage", "preds:v0", "--up", "--format", "json"]);
    let mut producers: Vec<String> = lineage["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["kind"] == "run")
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect();
    producers.sort();
    assert_eq!(producers, run_ids(&env), "{lineage}");
    let show = env.json(&["show", "preds:v0"]);
    assert_eq!(
        show["producers"].as_array().map(Vec::len),
        Some(4),
        "{show}"
    );
    env.ok(&["fsck"]);
}

/// Two writers with different bytes at one path: the finish names the path and both
/// writers' runs and changes nothing (exit 3); `--prefer` picks explicitly.
#[test]
fn conflicting_parts_are_refused_until_a_writer_is_preferred() {
    let env = Env::init();
    env.write("w0/same.txt", "identical\n");
    env.write("w0/x.txt", "first\n");
    env.write("w1/same.txt", "identical\n");
    env.write("w1/x.txt", "second\n");
    for w in 0..2 {
        let run = env.ok(&["run", "start", "--name", &format!("worker-{w}")]);
        let run = run.trim();
        env.ok(&[
            "log",
            "preds",
            &format!("w{w}"),
            "--distributed-id",
            "d1",
            "--run",
            run,
        ]);
        env.ok(&["run", "finish", run]);
    }
    let before = env.store_snapshot();
    let err = env.fails(&["finish", "preds", "--distributed-id", "d1"], 3);
    assert!(
        err.contains("1 path(s) were written with different content"),
        "{err}"
    );
    assert!(err.contains("x.txt"), "{err}");
    assert!(
        !err.contains("same.txt"),
        "identical content is no conflict: {err}"
    );
    for id in run_ids(&env) {
        assert!(err.contains(&id), "the writers' runs are named: {err}");
    }
    assert!(err.contains("--prefer"), "{err}");
    assert_eq!(
        env.store_snapshot(),
        before,
        "a refused finish writes nothing"
    );

    env.ok(&[
        "finish",
        "preds",
        "--distributed-id",
        "d1",
        "--prefer",
        "first",
    ]);
    assert_eq!(env.ok(&["cat", "preds:v0", "x.txt"]), "first\n");

    // The same writers again under another id; the last writer wins this time.
    for w in 0..2 {
        env.ok(&["log", "preds", &format!("w{w}"), "--distributed-id", "d2"]);
    }
    let out = env.json(&[
        "finish",
        "preds",
        "--distributed-id",
        "d2",
        "--prefer",
        "last",
    ]);
    assert_eq!(out["resolved"], serde_json::json!(["x.txt"]));
    assert_eq!(env.ok(&["cat", "preds:v1", "x.txt"]), "second\n");
}

/// Pending parts are kept by `gc --grace 0s`; the finishing command adds files of its own;
/// an abandoned pending version goes with `rm --pending` and its content with the next gc.
#[test]
fn pending_parts_survive_gc_and_can_be_abandoned() {
    let env = Env::init();
    env.write("w0/a.bin", noise(200_000, 1));
    env.write("w1/b.bin", noise(200_000, 2));
    env.write("extra/summary.json", "{\"acc\": 0.9}\n");
    env.ok(&["log", "preds", "w0", "--distributed-id", "keep"]);
    env.ok(&["log", "preds", "w1", "--distributed-id", "drop"]);
    env.ok(&["gc", "--grace", "0s"]);
    let stored = env.pack_bytes();
    assert!(stored > 400_000, "both parts kept by gc: {stored}");

    let out = env.json(&[
        "finish",
        "preds",
        "extra/summary.json",
        "--distributed-id",
        "keep",
    ]);
    assert_eq!(out["files"], 2, "{out}");
    env.ok(&["checkout", "preds", "out"]);
    let mut expected = env.read_tree("w0");
    expected.extend(env.read_tree("extra"));
    assert_eq!(env.read_tree("out"), expected);

    let err = env.fails(
        &["log", "preds", "w0", "--distributed-id", "x", "-a", "a"],
        2,
    );
    assert!(err.contains("cannot be used with"), "{err}");
    let err = env.fails(&["rm", "preds:v0", "--pending", "drop"], 1);
    assert!(err.contains("not a version"), "{err}");
    let err = env.fails(&["rm", "preds", "--pending", "nope"], 1);
    assert!(
        err.contains("no pending version `nope` of `preds` (pending: drop)"),
        "{err}"
    );
    let out = env.json(&["rm", "preds", "--pending", "drop"]);
    assert_eq!(out["parts"], 1);
    env.ok(&["gc", "--grace", "0s"]);
    let after = env.pack_bytes();
    assert!(
        after < stored - 150_000,
        "the dropped part's content is collected: {stored} -> {after}"
    );
    let err = env.fails(&["finish", "preds", "--distributed-id", "drop"], 1);
    assert!(err.contains("no pending version `drop`"), "{err}");
    env.ok(&["checkout", "preds", "again"]);
    assert_eq!(env.read_tree("again"), expected);
    env.ok(&["fsck"]);
}

/// A writer killed while committing its part leaves the pending version as the others made
/// it: the finish commits theirs, and the store checks clean.
#[test]
fn a_writer_killed_mid_add_leaves_the_pending_version_usable() {
    let env = Env::init();
    env.write("w0/good.bin", noise(100_000, 3));
    env.write("w1/lost.bin", noise(100_000, 4));
    env.ok(&["log", "preds", "w0", "--distributed-id", "k"]);
    let status = env
        .std_command()
        .env("ART_FAILPOINT", "record.before-append:kill")
        .args(["log", "preds", "w1", "--distributed-id", "k"])
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert_eq!(status.code(), None, "killed by the failpoint");
    let pending = env.json(&["versions", "preds", "--pending"]);
    assert_eq!(pending[0]["parts"], 1, "{pending}");
    env.ok(&["finish", "preds", "--distributed-id", "k"]);
    env.ok(&["checkout", "preds", "out"]);
    assert_eq!(env.read_tree("out"), env.read_tree("w0"));
    env.ok(&["fsck"]);
}

/// Writers on two machines add parts through a shared remote; the second push is refused
/// until it pulls (its part merges, nothing is overwritten); a third machine finishes.
#[test]
fn parts_from_two_machines_meet_through_a_remote() {
    let origin = Env::init();
    origin.write("seed/readme.txt", "eval set\n");
    origin.ok(&["log", "preds", "seed", "-t", "predictions"]);
    let remote = origin.path("remote");
    std::fs::create_dir(&remote).expect("remote dir");
    let remote = remote.to_string_lossy().into_owned();
    origin.ok(&["remote", "add", "origin", &remote]);
    origin.ok(&["push"]);

    let machines: Vec<Env> = (0..2).map(|_| Env::new()).collect();
    for (i, m) in machines.iter().enumerate() {
        m.ok(&["clone", &remote, "."]);
        m.write(&format!("w{i}/part-{i}.bin"), noise(50_000, 10 + i as u64));
        m.ok(&[
            "log",
            "preds",
            &format!("w{i}"),
            "--distributed-id",
            "nightly",
        ]);
    }
    machines[0].ok(&["push"]);
    let err = machines[1].fails(&["push"], 3);
    assert!(err.contains("pull"), "{err}");
    machines[1].ok(&["pull"]);
    machines[1].ok(&["push"]);

    // The finisher has not pulled: `--sync` pulls the parts, finishes, and pushes.
    assert_eq!(
        origin.json(&["versions", "preds", "--pending"]),
        serde_json::json!([])
    );
    let done = origin.json(&["finish", "preds", "--distributed-id", "nightly", "--sync"]);
    assert_eq!(done["parts"], 2, "{done}");
    origin.ok(&["checkout", "preds", "out"]);
    let mut expected = read_tree(&machines[0].path("w0"));
    expected.extend(read_tree(&machines[1].path("w1")));
    assert_eq!(origin.read_tree("out"), expected);
    machines[0].ok(&["pull"]);
    assert_eq!(
        machines[0].json(&["versions", "preds", "--pending"]),
        serde_json::json!([]),
        "the finish travels too"
    );

    // The other machine finished the same parts offline: its pull keeps the remote's
    // version (no duplicate), and its alias moves there.
    machines[1].ok(&[
        "finish",
        "preds",
        "--distributed-id",
        "nightly",
        "-a",
        "mine",
    ]);
    machines[1].fails(&["push"], 3);
    let pulled = machines[1].json(&["pull"]);
    assert!(
        pulled.to_string().contains("finished here too"),
        "the local finish is reported as dropped: {pulled}"
    );
    let versions = machines[1].json(&["versions", "preds"]);
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
    assert_eq!(machines[1].json(&["show", "preds:mine"])["version"], 1);
    machines[1].ok(&["push"]);
    machines[1].ok(&["fsck"]);
}

/// Patching a 1,000-file version with two changed files stores those two files and a new
/// manifest, nothing else; the patched version restores byte for byte.
#[test]
fn a_patch_stores_only_the_changed_files_and_a_manifest() {
    let env = Env::init();
    for i in 0..1000u64 {
        env.write(&format!("d/img/{i:04}.bin"), noise(1_000, i));
    }
    env.write("d/labels.csv", "id,label\n");
    env.ok(&["log", "ds", "d"]);
    env.write("new/0007.bin", noise(20_000, 70_000));
    env.write("new/extra.bin", noise(20_000, 70_001));
    let before = env.pack_bytes();
    let out = env.json(&[
        "patch",
        "ds",
        "--add",
        "new/0007.bin=img/0007.bin",
        "--add",
        "new/extra.bin=img/extra.bin",
        "--remove",
        "labels.csv",
        "-a",
        "patched",
    ]);
    assert_eq!(out["reference"], "ds:v1", "{out}");
    assert_eq!(
        (
            out["added"].as_u64(),
            out["replaced"].as_u64(),
            out["removed"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(out["files_read"], 2, "only the added files are read");
    assert_eq!(out["new_blobs"], 3, "two files and the manifest");
    let grown = env.pack_bytes() - before;
    // Both files are incompressible (40,000 bytes); the rest is the manifest of 1,001
    // entries (about 130 KB of JSON, compressed) and the pack's header and trailer.
    assert!(
        grown < 40_000 + 80_000,
        "the patch grew the store by {grown} bytes"
    );
    eprintln!("patch of 2 files in a 1,001-file version stored {grown} bytes");

    let mut expected = env.read_tree("d");
    expected.remove("labels.csv");
    expected.insert("img/0007.bin".into(), noise(20_000, 70_000));
    expected.insert("img/extra.bin".into(), noise(20_000, 70_001));
    env.ok(&["checkout", "ds:patched", "out"]);
    assert_eq!(env.read_tree("out"), expected);
    let diff = env
        .art()
        .args(["--json", "diff", "ds:v0", "ds:v1"])
        .output()
        .expect("diff");
    assert_eq!(diff.status.code(), Some(1), "diff exits 1 on differences");
    let diff: serde_json::Value = serde_json::from_slice(&diff.stdout).expect("json");
    assert_eq!(diff["changes"].as_array().map(Vec::len), Some(3), "{diff}");
}

/// A patch on a lazy clone reads only the base manifest, stores only the added file, and
/// the push sends only that pack.
#[test]
fn a_patch_on_a_lazy_clone_downloads_no_content_and_pushes_only_new_bytes() {
    let a = Env::init();
    for i in 0..4u64 {
        a.write(&format!("d/f{i}.bin"), noise(500_000, i + 20));
    }
    a.ok(&["log", "ds", "d"]);
    let remote = a.path("remote").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    a.ok(&["push"]);

    let b = Env::new();
    b.ok(&["clone", &remote, "."]);
    assert_eq!(b.pack_bytes(), 0, "a clone holds no data");
    b.write("f9.bin", noise(100_000, 99));
    let out = b.json(&["patch", "ds", "--add", "f9.bin", "--remove", "f0.bin"]);
    assert_eq!(out["reference"], "ds:v1", "{out}");
    let local = b.pack_bytes();
    assert!(
        (100_000..150_000).contains(&local),
        "only the added file and a manifest are stored here: {local}"
    );
    let pushed = b.json(&["push"]);
    assert_eq!(pushed["packs_uploaded"], 1, "{pushed}");
    assert_eq!(pushed["bytes_uploaded"].as_u64(), Some(local), "{pushed}");

    a.ok(&["pull"]);
    a.ok(&["checkout", "ds:v1", "out"]);
    let mut expected = a.read_tree("d");
    expected.remove("f0.bin");
    expected.insert("f9.bin".into(), noise(100_000, 99));
    assert_eq!(a.read_tree("out"), expected);
}

/// A patch of a version `latest` moved past is refused (exit 3, nothing written);
/// `--onto-latest` applies the same changes to the newest version.
#[test]
fn a_patch_behind_latest_is_refused_unless_onto_latest() {
    let env = Env::init();
    env.tree(&[("d/a.txt", b"a\n"), ("d/b.txt", b"b\n")]);
    env.ok(&["log", "ds", "d"]);
    env.write("d/c.txt", "c from a concurrent log\n");
    env.ok(&["log", "ds", "d"]);
    env.write("fix.txt", "fixed b\n");
    let before = env.store_snapshot();
    let err = env.fails(&["patch", "ds:v0", "--add", "fix.txt=b.txt"], 3);
    assert!(
        err.contains("`ds:v0` is not the latest version any more (latest is `ds:v1`)"),
        "{err}"
    );
    assert!(err.contains("--onto-latest"), "{err}");
    assert_eq!(
        env.store_snapshot(),
        before,
        "a refused patch writes nothing"
    );

    let out = env.json(&["patch", "ds:v0", "--add", "fix.txt=b.txt", "--onto-latest"]);
    assert_eq!(out["base"], "ds:v1", "{out}");
    env.ok(&["checkout", "ds:v2", "out"]);
    let tree = env.read_tree("out");
    assert_eq!(tree["b.txt"], b"fixed b\n");
    assert_eq!(tree["c.txt"], b"c from a concurrent log\n");

    let err = env.fails(&["patch", "ds", "--remove", "*.png"], 1);
    assert!(
        err.contains("--remove `*.png` matches no file of `ds:v2`"),
        "{err}"
    );
    let err = env.fails(&["patch", "ds", "--add", "fix.txt=a.txt/inner"], 1);
    assert!(err.contains("--remove PATH"), "{err}");
    let err = env.fails(&["patch", "ds"], 2);
    assert!(err.contains("--add"), "{err}");
}
