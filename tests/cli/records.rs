//! Records and the log (issue 11): the index is a cache. Deleting or damaging `index.db`
//! loses nothing (a rebuild from packs and the log answers every query as before), a command
//! killed at any point leaves an index equal to a rebuild, and older stores upgrade in place.

use crate::util::{Env, Rng};
use serde_json::{Value, json};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `art` with `--store` pointing at `store` (any directory) and the harness's environment.
fn art_at(env: &Env, store: &Path, args: &[&str]) -> std::process::Output {
    env.art()
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("run art")
}

fn json_at(env: &Env, store: &Path, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = art_at(env, store, &full);
    assert!(
        out.status.success(),
        "art --store {} {args:?} failed:\n{}",
        store.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Everything a user can ask the store about what was recorded, as one JSON value: every
/// artifact's versions (deleted ones too), every live version shown in full, every run, the
/// lineage of every live version, and `du`. Nothing is masked: every time shown comes from
/// the records (pack access times, the only local-only times, are not shown by any of these).
pub(crate) fn state(env: &Env, store: &Path) -> Value {
    let mut out = serde_json::Map::new();
    let artifacts = json_at(env, store, &["ls"]);
    for a in artifacts.as_array().expect("artifact list") {
        let name = a["name"].as_str().expect("name");
        let versions = json_at(env, store, &["versions", name, "--all"]);
        for v in versions.as_array().expect("versions") {
            let reference = format!("{name}:v{}", v["version"]);
            if v["state"] == "deleted" {
                continue;
            }
            out.insert(
                format!("show {reference}"),
                json_at(env, store, &["show", &reference]),
            );
            out.insert(
                format!("lineage {reference}"),
                json_at(env, store, &["lineage", &reference, "--format", "json"]),
            );
        }
        out.insert(format!("versions {name}"), versions);
    }
    out.insert("ls".into(), artifacts);
    out.insert("runs".into(), json_at(env, store, &["runs"]));
    out.insert("du".into(), json_at(env, store, &["du"]));
    Value::Object(out)
}

/// The same state read from a copy of the store whose index was deleted (so rebuilt).
pub(crate) fn rebuilt_state(env: &Env, name: &str) -> Value {
    let copy = env.path(name);
    let status = Command::new("cp")
        .arg("-a")
        .arg(env.path(".artifacts"))
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    remove_index(&copy);
    let got = state(env, &copy);
    std::fs::remove_dir_all(&copy).expect("remove copy");
    got
}

fn remove_index(store: &Path) {
    for f in ["index.db", "index.db-wal", "index.db-shm"] {
        let _ = std::fs::remove_file(store.join(f));
    }
}

pub(crate) fn assert_same(before: &Value, after: &Value, when: &str) {
    if before != after {
        let (b, a) = (
            before.as_object().expect("map"),
            after.as_object().expect("map"),
        );
        for (k, v) in b {
            assert!(
                a.get(k) == Some(v),
                "{when}: `{k}` differs\nbefore: {v:#}\nafter: {:#}",
                a.get(k).unwrap_or(&Value::Null)
            );
        }
        panic!("{when}: keys differ: {:?} vs {:?}", b.keys(), a.keys());
    }
}

fn assert_fsck_clean(env: &Env, when: &str) {
    let out = env.json(&["fsck"]);
    let problems = out["problems"].as_array().expect("problems");
    assert!(problems.is_empty(), "{when}: fsck problems: {problems:?}");
}

/// A store with 3 artifacts and 21 versions, aliases, edited descriptions and metadata,
/// deleted versions (some collected by gc, some not), and 5 runs with config, summaries,
/// inputs and outputs.
fn rich_store() -> Env {
    let env = Env::init();
    let mut runs = Vec::new();
    for i in 0..5 {
        let lr = format!("lr=0.{i}");
        let group = format!("g{}", i % 2);
        let id = env.ok(&[
            "run",
            "start",
            "--name",
            &format!("r{i}"),
            "--group",
            &group,
            "--config",
            &lr,
        ]);
        runs.push(id.trim().to_owned());
    }
    for v in 0..7 {
        env.write("data/train.csv", format!("row {v}\n").repeat(50));
        env.write("data/fixed.txt", "same in every version\n");
        env.write(&format!("data/extra/{v}.txt"), format!("extra {v}"));
        env.ok(&["log", "dataset", "data", "-t", "dataset"]);
        env.write(
            "model/weights.bin",
            crate::util::noise(3000 + v * 7, v as u64),
        );
        let run = &runs[v % 5];
        env.ok(&["use", &format!("dataset:v{v}"), "--run", run]);
        env.ok(&[
            "log",
            "model",
            "model",
            "-t",
            "model",
            "--run",
            run,
            "-m",
            &format!("epoch {v}"),
            "--metadata",
            &format!("{{\"acc\": 0.{v}}}"),
        ]);
        env.write("eval/report.json", format!("{{\"v\": {v}}}"));
        env.ok(&["log", "eval", "eval", "-a", &format!("e{v}")]);
    }
    env.ok(&["alias", "set", "model:v3", "best"]);
    env.ok(&["alias", "set", "model:v5", "prod"]);
    env.ok(&["alias", "set", "model:v4", "best"]);
    env.ok(&["alias", "rm", "eval", "e2"]);
    env.ok(&[
        "meta",
        "set",
        "model:v4",
        "-m",
        "the best one",
        "--set",
        "note=\"kept\"",
    ]);
    env.ok(&["meta", "set", "dataset:v1", "--metadata", "{\"rows\": 50}"]);
    env.ok(&["run", "finish", &runs[0], "--summary", "acc=0.9"]);
    env.ok(&[
        "run",
        "finish",
        &runs[1],
        "--summary",
        "acc=0.8",
        "--status",
        "failed",
    ]);
    env.ok(&["run", "summary", "loss=0.1", "--run", &runs[2]]);
    env.ok(&["run", "finish", &runs[3]]);
    env.ok(&["run", "resume", &runs[3]]);
    env.ok(&["rm", "model:v1", "model:v0", "eval:v0", "--delete-aliases"]);
    env.ok(&["gc", "--grace", "0s"]);
    env.ok(&["rm", "dataset:v0", "eval:v6", "--delete-aliases"]);
    env
}

#[test]
fn records_index_is_rebuilt_when_deleted_with_the_same_answers() {
    let env = rich_store();
    let before = state(&env, &env.path(".artifacts"));
    assert_eq!(before["versions model"].as_array().map(Vec::len), Some(7));
    assert_fsck_clean(&env, "before");

    // A missing index is rebuilt by the first command that opens the store.
    remove_index(&env.path(".artifacts"));
    let after = state(&env, &env.path(".artifacts"));
    assert_same(&before, &after, "after deleting index.db");
    assert_fsck_clean(&env, "after the rebuild");

    // An explicit rebuild keeps the old file and changes no answer.
    let out = env.json(&["index", "rebuild"]);
    assert_eq!(out["versions"], json!(21));
    assert_eq!(out["runs"], json!(5));
    let kept = out["kept"].as_str().expect("old index kept");
    assert!(Path::new(kept).is_file(), "{kept}");
    assert_same(
        &before,
        &state(&env, &env.path(".artifacts")),
        "after `art index rebuild`",
    );

    // gc compacts the log into a checkpoint; a rebuild from it answers the same.
    env.ok(&["gc", "--grace", "0s"]);
    let log: Vec<String> = std::fs::read_dir(env.path(".artifacts/log"))
        .expect("log dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(log.iter().any(|n| n.starts_with("checkpoint-")), "{log:?}");
    let now = state(&env, &env.path(".artifacts"));
    assert_same(
        &now,
        &rebuilt_state(&env, "copy"),
        "rebuilt from a checkpoint",
    );
}

#[test]
fn records_damaged_index_names_the_repair_command() {
    let env = rich_store();
    let before = state(&env, &env.path(".artifacts"));
    let db = env.path(".artifacts/index.db");
    let mut bytes = std::fs::read(&db).expect("read index");
    assert!(bytes.len() > 12 << 10, "index smaller than 12 KiB");
    bytes[8 << 10..12 << 10].copy_from_slice(&crate::util::noise(4 << 10, 11));
    std::fs::write(&db, &bytes).expect("damage index");

    let fsck = env.art().arg("fsck").output().expect("run art");
    assert_eq!(fsck.status.code(), Some(1));
    let text = String::from_utf8_lossy(&fsck.stdout);
    assert!(
        text.contains("is damaged") && text.contains("art index rebuild"),
        "{text}"
    );
    let mut failed = 0;
    for args in [
        &["versions", "model", "--all"][..],
        &["ls"],
        &["show", "model:best"],
        &["runs"],
        &["du"],
    ] {
        let out = env.art().args(args).output().expect("run art");
        if !out.status.success() {
            failed += 1;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("art index rebuild"), "{args:?}: {stderr}");
        }
    }
    assert!(failed > 0, "no command noticed the damage");

    env.ok(&["index", "rebuild"]);
    let kept: Vec<String> = std::fs::read_dir(env.path(".artifacts"))
        .expect("store dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("index.db.corrupt-"))
        .collect();
    assert!(!kept.is_empty(), "damaged index not kept");
    assert_same(
        &before,
        &state(&env, &env.path(".artifacts")),
        "after the repair",
    );
    assert_fsck_clean(&env, "after the repair");
}

/// Runs `args`, SIGKILLs it after `delay` if still running; true when the kill landed.
fn kill_after(env: &Env, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_art"))
        .args(args)
        .current_dir(env.root())
        .env_remove("ART_STORE")
        .env_remove("ART_RUN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn art");
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().expect("wait");
    status.signal() == Some(9)
}

/// `trials` times: `prepare` (not killed) then `command` killed at a seeded random point of
/// its measured run time; after each, the reopened store answers as a rebuilt copy does and
/// fsck (which compares the index with a replay of the log) is clean.
fn crash_trials(
    seed: u64,
    trials: usize,
    prepare: impl Fn(&Env, usize),
    command: impl Fn(&Env, usize) -> Vec<String>,
) {
    let env = Env::init();
    env.ok(&["run", "start", "--name", "base"]);
    env.write("data/a.txt", "a");
    env.ok(&["log", "m", "data"]);
    prepare(&env, 0);
    let args = command(&env, 0);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    env.ok(&args);
    let full = started.elapsed();
    let mut rng = Rng(seed);
    let mut killed = 0;
    for t in 1..=trials {
        prepare(&env, t);
        let args = command(&env, t);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let micros = u64::try_from(full.as_micros()).unwrap_or(u64::MAX);
        let delay = Duration::from_micros(rng.below(micros + micros / 4));
        killed += usize::from(kill_after(&env, &args, delay));
        let when = format!("{args:?} killed after {delay:?} (trial {t}, seed {seed})");
        let live = state(&env, &env.path(".artifacts"));
        assert_same(&live, &rebuilt_state(&env, "copy"), &when);
        assert_fsck_clean(&env, &when);
    }
    assert!(killed > 0, "no kill landed");
}

const TRIALS: usize = 20;

#[test]
fn records_killed_alias_set_leaves_index_equal_to_a_rebuild() {
    crash_trials(
        1,
        TRIALS,
        |_, _| {},
        |_, t| {
            vec![
                "alias".into(),
                "set".into(),
                "m:v0".into(),
                format!("a{}", t % 4),
            ]
        },
    );
}

#[test]
fn records_killed_meta_set_leaves_index_equal_to_a_rebuild() {
    crash_trials(
        2,
        TRIALS,
        |_, _| {},
        |_, t| {
            vec![
                "meta".into(),
                "set".into(),
                "m".into(),
                "--set".into(),
                format!("k{}={t}", t % 3),
            ]
        },
    );
}

#[test]
fn records_killed_log_and_rm_leave_index_equal_to_a_rebuild() {
    crash_trials(
        3,
        TRIALS,
        |env, t| env.write("data/a.txt", format!("log {t}")),
        |_, _| {
            vec![
                "log".into(),
                "m".into(),
                "data".into(),
                "-a".into(),
                "new".into(),
            ]
        },
    );
    crash_trials(
        4,
        TRIALS,
        |env, t| {
            env.write("data/a.txt", format!("rm {t}"));
            env.ok(&["log", "m", "data"]);
        },
        |_, _| vec!["rm".into(), "m".into()],
    );
}

#[test]
fn records_killed_gc_leaves_index_equal_to_a_rebuild() {
    crash_trials(
        5,
        TRIALS,
        |env, t| {
            env.write("data/a.txt", format!("gc {t}"));
            env.write(
                &format!("data/{t}.bin"),
                crate::util::noise(50_000, t as u64),
            );
            env.ok(&["log", "m", "data"]);
            env.ok(&["rm", "m"]);
        },
        |_, _| vec!["gc".into(), "--grace".into(), "0s".into()],
    );
}

#[test]
fn records_killed_run_finish_leaves_index_equal_to_a_rebuild() {
    crash_trials(
        6,
        TRIALS,
        |env, _| {
            env.ok(&["run", "start", "--name", "r"]);
        },
        |env, t| {
            let runs = env.json(&["runs"]);
            let id = runs
                .as_array()
                .and_then(|r| r.iter().rev().find(|r| r["status"] == "running"))
                .and_then(|r| r["id"].as_str())
                .expect("a running run")
                .to_owned();
            vec![
                "run".into(),
                "finish".into(),
                id,
                "--summary".into(),
                format!("acc={t}"),
            ]
        },
    );
}

#[test]
fn records_store_of_format_1_is_upgraded_in_place() {
    let env = rich_store();
    let before = state(&env, &env.path(".artifacts"));
    // Turn it back into a store of format 1 / schema 3: no log, no record columns.
    let store = env.path(".artifacts");
    std::fs::remove_dir_all(store.join("log")).expect("remove log");
    let config = std::fs::read_to_string(store.join("config.toml")).expect("config");
    std::fs::write(
        store.join("config.toml"),
        config.replace("format = 2", "format = 1"),
    )
    .expect("config");
    let conn = rusqlite::Connection::open(store.join("index.db")).expect("open index");
    conn.execute_batch(
        "DROP TABLE parts; DROP TABLE version_producers;
         DROP TABLE tags; DROP TABLE protected_aliases; DROP INDEX versions_by_link;
         ALTER TABLE versions DROP COLUMN link_of; ALTER TABLE versions DROP COLUMN expires_at;
         ALTER TABLE artifacts DROP COLUMN collection;
         DROP INDEX versions_by_record; ALTER TABLE versions DROP COLUMN record_id;
         ALTER TABLE versions DROP COLUMN record; DROP TABLE log_state;
         ALTER TABLE versions DROP COLUMN collected_at; DROP TABLE remote_packs;
         PRAGMA user_version = 3;",
    )
    .expect("downgrade to schema 3");
    drop(conn);
    assert_same(&before, &state(&env, &store), "after the upgrade");
    let config = std::fs::read_to_string(store.join("config.toml")).expect("config");
    assert!(config.contains("format = 2"), "{config}");
    assert!(
        store
            .join("log/checkpoint-00000000000000000000.json")
            .is_file()
    );
    // The records written for it rebuild the same store.
    assert_same(
        &before,
        &rebuilt_state(&env, "copy"),
        "rebuilt after the upgrade",
    );
    assert_fsck_clean(&env, "after the upgrade");
}

/// One command of a random session; failures (an alias that does not exist, no run to finish)
/// are part of the session too.
#[derive(Clone, Debug)]
enum Op {
    Log {
        artifact: u8,
        content: u8,
    },
    AliasSet {
        artifact: u8,
        version: u8,
        alias: u8,
    },
    AliasRm {
        artifact: u8,
        alias: u8,
    },
    Meta {
        artifact: u8,
        key: u8,
        value: u8,
    },
    Rm {
        artifact: u8,
    },
    Gc,
    RunStart,
    RunFinish {
        run: u8,
        value: u8,
    },
    Use {
        run: u8,
        artifact: u8,
    },
}

fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (0..3u8, 0..4u8).prop_map(|(artifact, content)| Op::Log { artifact, content }),
        1 => (0..3u8, 0..4u8, 0..2u8).prop_map(|(artifact, version, alias)| Op::AliasSet { artifact, version, alias }),
        1 => (0..3u8, 0..2u8).prop_map(|(artifact, alias)| Op::AliasRm { artifact, alias }),
        1 => (0..3u8, 0..2u8, 0..9u8).prop_map(|(artifact, key, value)| Op::Meta { artifact, key, value }),
        1 => (0..3u8).prop_map(|artifact| Op::Rm { artifact }),
        1 => Just(Op::Gc),
        1 => Just(Op::RunStart),
        1 => (0..3u8, 0..9u8).prop_map(|(run, value)| Op::RunFinish { run, value }),
        1 => (0..3u8, 0..3u8).prop_map(|(run, artifact)| Op::Use { run, artifact }),
    ]
}

fn run_op(env: &Env, op: &Op, runs: &mut Vec<String>) {
    let name = |a: &u8| format!("a{a}");
    let run = |r: &u8, runs: &[String]| {
        runs.get(usize::from(*r))
            .cloned()
            .unwrap_or_else(|| "NONE".into())
    };
    let args: Vec<String> = match op {
        Op::Log { artifact, content } => {
            env.write(&format!("d{artifact}/f.txt"), format!("content {content}"));
            vec!["log".into(), name(artifact), format!("d{artifact}")]
        }
        Op::AliasSet {
            artifact,
            version,
            alias,
        } => {
            vec![
                "alias".into(),
                "set".into(),
                format!("{}:v{version}", name(artifact)),
                format!("al{alias}"),
            ]
        }
        Op::AliasRm { artifact, alias } => {
            vec![
                "alias".into(),
                "rm".into(),
                name(artifact),
                format!("al{alias}"),
            ]
        }
        Op::Meta {
            artifact,
            key,
            value,
        } => {
            vec![
                "meta".into(),
                "set".into(),
                name(artifact),
                "--set".into(),
                format!("k{key}={value}"),
            ]
        }
        Op::Rm { artifact } => vec!["rm".into(), name(artifact), "--delete-aliases".into()],
        Op::Gc => vec!["gc".into(), "--grace".into(), "0s".into()],
        Op::RunStart => {
            let out = env.art().args(["run", "start"]).output().expect("run art");
            runs.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
            return;
        }
        Op::RunFinish { run: r, value } => {
            vec![
                "run".into(),
                "finish".into(),
                run(r, runs),
                "--summary".into(),
                format!("m={value}"),
            ]
        }
        Op::Use { run: r, artifact } => {
            vec!["use".into(), name(artifact), "--run".into(), run(r, runs)]
        }
    };
    env.art().args(&args).output().expect("run art");
}

/// 16 cases keep a debug run short; `PROPTEST_CASES=200` digs deeper.
fn session_config() -> proptest::prelude::ProptestConfig {
    proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(16),
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    }
}

proptest::proptest! {
    #![proptest_config(session_config())]

    /// Any session of commands leaves an index that a rebuild from the log reproduces.
    #[test]
    fn records_any_session_rebuilds_to_the_same_index(
        ops in proptest::collection::vec(op_strategy(), 1..14)
    ) {
        let env = Env::init();
        let mut runs = Vec::new();
        for op in &ops {
            run_op(&env, op, &mut runs);
        }
        let live = state(&env, &env.path(".artifacts"));
        assert_same(&live, &rebuilt_state(&env, "copy"), &format!("{ops:?}"));
        assert_fsck_clean(&env, &format!("{ops:?}"));
    }
}

#[test]
fn records_store_of_format_1_without_index_is_not_rebuilt_empty() {
    let env = Env::init();
    env.write("data/a.txt", "a");
    env.ok(&["log", "m", "data"]);
    let store = env.path(".artifacts");
    std::fs::remove_dir_all(store.join("log")).expect("remove log");
    let config = std::fs::read_to_string(store.join("config.toml")).expect("config");
    std::fs::write(
        store.join("config.toml"),
        config.replace("format = 2", "format = 1"),
    )
    .expect("config");
    remove_index(&store);
    for args in [&["ls"][..], &["index", "rebuild"]] {
        let err = env.fails(args, 1);
        assert!(err.contains("has no record log yet"), "{err}");
    }
    assert!(!store.join("index.db").exists(), "an empty index was made");
}

#[test]
fn records_rebuild_reads_evicted_packs_from_the_remote() {
    let env = Env::init();
    env.write("data/a.bin", crate::util::noise(200_000, 1));
    env.ok(&["log", "m", "data"]);
    env.write("data/b.bin", crate::util::noise(200_000, 2));
    env.ok(&["log", "m", "data"]);
    let remote = env.path("remote");
    env.ok(&[
        "remote",
        "add",
        "origin",
        remote.to_str().expect("utf-8 path"),
    ]);
    env.ok(&["push"]);
    env.ok(&["gc", "--max", "0"]);
    let before = state(&env, &env.path(".artifacts"));
    assert!(
        before["du"]["remote_only"].as_u64() > Some(0),
        "{:#}",
        before["du"]
    );
    assert_fsck_clean(&env, "after eviction");
    assert_same(
        &before,
        &rebuilt_state(&env, "copy"),
        "rebuilt with evicted packs",
    );
    remove_index(&env.path(".artifacts"));
    env.ok(&["checkout", "m:v0", "out"]);
    assert_eq!(
        std::fs::read(env.path("out/a.bin")).expect("read"),
        crate::util::noise(200_000, 1)
    );
    assert_fsck_clean(&env, "after the rebuild");
}

#[test]
fn records_concurrent_commands_take_distinct_batch_numbers() {
    let env = Env::init();
    env.write("data/a.txt", "a");
    env.ok(&["log", "m", "data"]);
    let before = std::fs::read_dir(env.path(".artifacts/log"))
        .expect("log dir")
        .count();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let root = env.root().to_owned();
            std::thread::spawn(move || {
                for i in 0..8 {
                    let args: Vec<String> = if i % 2 == 0 {
                        vec![
                            "run".into(),
                            "start".into(),
                            "--name".into(),
                            format!("w{w}-{i}"),
                        ]
                    } else {
                        vec![
                            "meta".into(),
                            "set".into(),
                            "m".into(),
                            "--set".into(),
                            format!("w{w}={i}"),
                        ]
                    };
                    let out = Command::new(env!("CARGO_BIN_EXE_art"))
                        .args(&args)
                        .current_dir(&root)
                        .env_remove("ART_STORE")
                        .env_remove("ART_RUN")
                        .output()
                        .expect("run art");
                    assert!(
                        out.status.success(),
                        "{args:?}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let after = std::fs::read_dir(env.path(".artifacts/log"))
        .expect("log dir")
        .count();
    assert_eq!(after - before, 32, "one batch per command");
    let live = state(&env, &env.path(".artifacts"));
    assert_eq!(live["runs"].as_array().map(Vec::len), Some(16));
    assert_eq!(
        live["show m:v0"]["metadata"]
            .as_object()
            .map(serde_json::Map::len),
        Some(4)
    );
    assert_same(
        &live,
        &rebuilt_state(&env, "copy"),
        "after concurrent commands",
    );
    assert_fsck_clean(&env, "after concurrent commands");
}
