//! Failures: each gives a clear message and a non-zero exit, and leaves the store unchanged.

use crate::util::{Env, insta_settings};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Everything a user could observe of a store: its files (index aside) and what `ls`,
/// `versions` and `ls REF` report for every artifact.
#[derive(Debug, PartialEq)]
struct State {
    files: BTreeMap<String, u64>,
    listings: Vec<String>,
}

fn state(env: &Env) -> State {
    let ls = env.ok(&["--json", "ls"]);
    let mut listings = vec![ls.clone()];
    let list: serde_json::Value = serde_json::from_str(&ls).unwrap();
    for a in list.as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        listings.push(env.ok(&["--json", "versions", name]));
        listings.push(env.ok(&["--json", "ls", name]));
    }
    State {
        files: env.store_snapshot(),
        listings,
    }
}

/// A store with `dataset` (type dataset, v0 and v1, alias `best` on v0) logged from `data`.
fn with_dataset() -> Env {
    let env = Env::init();
    env.tree(&[("data/a.txt", b"a\n"), ("data/sub/b.txt", b"b\n")]);
    env.ok(&["log", "dataset", "data", "-t", "dataset", "-a", "best"]);
    env.write("data/a.txt", "A\n");
    env.ok(&["log", "dataset", "data"]);
    env
}

fn is_root() -> bool {
    let out = std::process::Command::new("id")
        .arg("-u")
        .output()
        .expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs each command expecting `code`, checks the store did not change, and returns a
/// transcript of the commands and their stderr.
fn failures(env: &Env, cases: &[(&[&str], i32)]) -> String {
    let before = state(env);
    let mut transcript = String::new();
    for (args, code) in cases {
        let err = env.fails(args, *code);
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        transcript.push_str(&format!("$ art {} (exit {code})\n{err}\n", shown.join(" ")));
        assert_eq!(state(env), before, "art {args:?} changed the store");
    }
    transcript
}

const NAME_RULE: &str =
    "use 1-128 characters from A-Z a-z 0-9 _ . - starting with a letter or digit";

#[test]
fn invalid_artifact_names_are_usage_errors() {
    let env = with_dataset();
    let t = failures(
        &env,
        &[
            (&["log", "--", "-bad", "data"], 2),
            (&["log", "a b", "data"], 2),
            (&["log", "a/b", "data"], 2),
            (&["log", ".hidden", "data"], 2),
            (&["log", "-t", "a type", "ok", "data"], 2),
            (&["checkout", "a/b", "out"], 2),
            (&["show", "a b"], 2),
            (&["versions", "a:b"], 2),
        ],
    );
    for name in ["-bad", "a b", "a/b", ".hidden"] {
        assert!(
            t.contains(&format!("invalid artifact name `{name}`: {NAME_RULE}")),
            "{t}"
        );
    }
    assert!(t.contains("invalid type `a type`"), "{t}");
    assert!(!env.path("out").exists());
    insta_settings(&env).bind(|| insta::assert_snapshot!("errors_invalid_names", t));
}

#[test]
fn invalid_and_reserved_aliases() {
    let env = with_dataset();
    let t = failures(
        &env,
        &[
            (&["log", "dataset", "data", "-a", "a b"], 2),
            (&["log", "dataset", "data", "-a", "latest"], 2),
            (&["log", "dataset", "data", "-a", "v3"], 2),
            (&["alias", "set", "dataset:v0", "a b"], 2),
            (&["alias", "set", "dataset:v0", "latest"], 2),
            (&["alias", "set", "dataset:v0", "v3"], 2),
            (&["alias", "rm", "dataset", "v1"], 2),
            (&["checkout", "dataset:a b", "out"], 2),
        ],
    );
    assert!(
        t.contains(&format!("invalid alias `a b`: {NAME_RULE}")),
        "{t}"
    );
    assert!(
        t.contains("alias `latest` is managed by art and cannot be set or removed by hand"),
        "{t}"
    );
    assert!(t.contains("alias `v3` is managed by art"), "{t}");
    assert!(t.contains("invalid reference `dataset:a b`"), "{t}");
    // A changed tree with a bad alias makes no version either.
    env.write("data/new.txt", "n");
    let before = state(&env);
    env.fails(&["log", "dataset", "data", "-a", "latest"], 2);
    assert_eq!(state(&env), before);
    insta_settings(&env).bind(|| insta::assert_snapshot!("errors_aliases", t));
}

#[test]
fn unknown_names_suggest_what_exists() {
    let env = with_dataset();
    env.write("m/w", "w");
    env.ok(&["log", "model", "m"]);
    let t = failures(
        &env,
        &[
            (&["checkout", "datset", "out"], 1),
            (&["show", "modle"], 1),
            (&["versions", "Dataset"], 1),
            (&["alias", "set", "zzzzzz:v0", "x"], 1),
            (&["show", "dataset:prod"], 1),
            (&["checkout", "dataset:v7", "out"], 1),
            (&["ls", "dataset:v2"], 1),
            (&["alias", "rm", "dataset", "prod"], 1),
        ],
    );
    assert!(
        t.contains("no artifact named `datset`; did you mean `dataset`?"),
        "{t}"
    );
    assert!(
        t.contains("no artifact named `modle`; did you mean `model`?"),
        "{t}"
    );
    assert!(
        t.contains("no artifact named `zzzzzz`; list artifacts with `art ls`"),
        "{t}"
    );
    assert!(
        t.contains("`dataset:prod` does not exist; it has best, latest, v0..v1"),
        "{t}"
    );
    assert!(
        t.contains("`dataset:v7` does not exist; it has best, latest, v0..v1"),
        "{t}"
    );
    assert!(!env.path("out").exists());
    insta_settings(&env).bind(|| insta::assert_snapshot!("errors_unknown", t));
}

#[test]
fn missing_paths_create_no_version() {
    let env = with_dataset();
    let t = failures(
        &env,
        &[
            (&["log", "dataset", "nope"], 1),
            (&["log", "dataset", "data/a.txt", "nope/x.bin"], 1),
            (&["log", "fresh", "nope"], 1),
            (&["log", "twice", "data/a.txt", "data/../data/a.txt"], 1),
        ],
    );
    assert!(t.contains("`nope` does not exist; check the path"), "{t}");
    assert!(t.contains("`nope/x.bin` does not exist"), "{t}");
    assert!(t.contains("`a.txt` is given twice"), "{t}");
    let err = env.fails(&["show", "fresh"], 1);
    assert!(err.contains("no artifact named `fresh`"), "{err}");
}

#[test]
fn unreadable_files_fail_cleanly() {
    if is_root() {
        eprintln!("skipped: root can read files without permission");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let env = with_dataset();
    env.write("data/secret.bin", vec![1u8; 10_000]);
    env.write("data/zz/more.txt", "more");
    let secret = env.path("data/secret.bin");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let t = failures(&env, &[(&["log", "dataset", "data"], 1)]);
    assert!(t.contains("secret.bin"), "{t}");
    assert!(t.contains("Permission denied"), "{t}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();

    let locked = env.path("data/zz");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let t = failures(&env, &[(&["log", "dataset", "data"], 1)]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(t.contains("zz"), "{t}");
    // Readable again, the same tree logs.
    env.ok(&["log", "dataset", "data"]);
}

#[test]
fn type_mismatch_names_both_types() {
    let env = with_dataset();
    env.write("data/new.txt", "n");
    let t = failures(&env, &[(&["log", "dataset", "data", "-t", "model"], 1)]);
    assert!(
        t.contains(
            "artifact `dataset` has type `dataset`, not `model`; use another name or `-t dataset`"
        ),
        "{t}"
    );
    env.ok(&["log", "dataset", "data", "-t", "dataset"]);
}

#[test]
fn non_utf8_file_names_are_refused() {
    let env = with_dataset();
    let bad = env.path("data").join(OsStr::from_bytes(b"bad\xff.txt"));
    std::fs::write(&bad, "x").unwrap();
    let t = failures(
        &env,
        &[
            (&["log", "dataset", "data"], 1),
            (&["log", "other", "data"], 1),
        ],
    );
    assert!(
        t.contains("data/bad\u{fffd}.txt` is not a UTF-8 file name"),
        "{t}"
    );
    assert!(t.contains("add it to `.artignore`"), "{t}");
    // Given directly, too.
    let before = state(&env);
    let out = env
        .art()
        .arg("log")
        .arg("dataset")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a UTF-8 file name"));
    assert_eq!(state(&env), before);
    // Following the advice works.
    env.write("data/.artignore", "bad*\n");
    env.ok(&["log", "dataset", "data"]);
    let files = env.json(&["ls", "dataset"]);
    assert_eq!(files.as_array().unwrap().len(), 3, "{files}");
}

#[test]
fn no_store_suggests_init() {
    let env = Env::new();
    env.write("data/a.txt", "a");
    for args in [
        &["ls"][..],
        &["log", "ds", "data"],
        &["checkout", "ds", "out"],
    ] {
        let err = env.fails(args, 1);
        assert!(err.contains("no art store found in `"), "{err}");
        assert!(
            err.contains("or any parent; run `art init` or pass --store"),
            "{err}"
        );
    }
    assert!(!env.path(".artifacts").exists());
    assert!(!env.path("out").exists());
    let err = env.fails(&["ls"], 1);
    insta_settings(&env).bind(|| insta::assert_snapshot!("errors_no_store", err));
    // --store pointing at a directory without a store.
    let err = env.fails(&["--store", "data", "ls"], 1);
    assert!(
        err.contains("is not an art store (no config.toml and packs/)"),
        "{err}"
    );
}

#[test]
fn init_inside_a_store_changes_nothing() {
    let env = with_dataset();
    let before = state(&env);
    let out = env.ok(&["init"]);
    let store = env.path(".artifacts").canonicalize().unwrap();
    assert_eq!(
        out,
        format!(
            "store already exists at {}; nothing changed\n",
            store.display()
        )
    );
    // From a subdirectory, or naming one: the enclosing store is found, no nested one made.
    let out = env
        .art()
        .current_dir(env.path("data/sub"))
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("store already exists at"));
    env.ok(&["init", "data"]);
    assert!(!env.path("data/.artifacts").exists());
    assert!(!env.path("data/sub/.artifacts").exists());
    let v = env.json(&["init"]);
    assert_eq!(v["created"], false);
    assert_eq!(state(&env), before);
}

#[test]
fn newer_store_format_asks_for_an_upgrade() {
    let env = with_dataset();
    let config = env.path(".artifacts/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("format = 2\n"), "{text}");
    std::fs::write(&config, text.replace("format = 2\n", "format = 99\n")).unwrap();
    let before = env.store_snapshot();
    env.write("data/new.txt", "n");
    for args in [
        &["ls"][..],
        &["log", "dataset", "data"],
        &["checkout", "dataset", "out"],
        &["init"],
    ] {
        let err = env.fails(args, 1);
        assert!(
            err.contains("has format 99, newer than this art supports (2); upgrade art"),
            "{err}"
        );
    }
    assert_eq!(env.store_snapshot(), before);
    assert!(!env.path("out").exists());
}

#[test]
fn newer_index_schema_asks_for_an_upgrade() {
    let env = with_dataset();
    {
        let conn = rusqlite::Connection::open(env.path(".artifacts/index.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = env.store_snapshot();
    env.write("data/new.txt", "n");
    for args in [
        &["ls"][..],
        &["log", "dataset", "data"],
        &["show", "dataset"],
    ] {
        let err = env.fails(args, 1);
        let want = format!(
            "the index schema is version 99, newer than this art supports ({}); upgrade art",
            art::index::SCHEMA_VERSION
        );
        assert!(err.contains(&want), "{err}");
    }
    assert_eq!(env.store_snapshot(), before);
    let conn = rusqlite::Connection::open(env.path(".artifacts/index.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// Points `dataset:v0` at a manifest listing one file at `path` (content: an existing blob).
fn craft_manifest(env: &Env, path: &str) {
    let store_dir = env.path(".artifacts");
    let content = art::model::Digest::of(b"a\n");
    let manifest = format!(
        r#"{{"format":1,"entries":[{{"path":{},"kind":"file","size":2,"digest":"{}"}}]}}"#,
        serde_json::Value::String(path.to_owned()),
        content.to_hex()
    );
    let digest = art::model::Digest::of(manifest.as_bytes());
    let mut packer = art::store::Packer::new(&store_dir, 1 << 30);
    packer
        .add_raw(
            digest,
            art::store::BlobKind::Manifest,
            manifest.as_bytes(),
            3,
        )
        .unwrap();
    let packs = packer.finish().unwrap();
    let conn = art::index::open(&store_dir.join("index.db")).unwrap();
    art::index::blob_queries::insert_packs(&conn, packs.packs(), 0).unwrap();
    packs.keep();
    let n = conn
        .execute(
            "UPDATE versions SET digest = ?1 WHERE idx = 0",
            [digest.as_bytes().as_slice()],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn crafted_manifest_paths_never_leave_dest() {
    let etc_x_existed = Path::new("/etc/x").exists();
    for path in [
        "../x",
        "/etc/x",
        "a//b",
        ".artifacts/x",
        "a/../../x",
        "./x",
        "a/.artifacts/x",
    ] {
        let env = with_dataset();
        std::fs::create_dir(env.path("work")).unwrap();
        craft_manifest(&env, path);
        let root_before = listing(env.root());
        let store_before = env.store_snapshot();
        for args in [
            &["checkout", "dataset:v0", "work/dest"][..],
            &["checkout", "dataset:best", "work/dest", "--force"],
            &["download", "dataset:v0", "work/dest", "--force"],
            &["checkout", "dataset:v0"],
        ] {
            let err = env.fails(args, 1);
            assert!(
                err.contains(&format!("unsafe path `{path}` in manifest")),
                "{path}: {err}"
            );
            if path == "../x" && args.len() == 3 {
                insta_settings(&env)
                    .bind(|| insta::assert_snapshot!("errors_crafted_manifest", err));
            }
        }
        for args in [&["ls", "dataset:v0"][..], &["verify", "dataset:v0"]] {
            let err = env.fails(args, 1);
            assert!(err.contains("unsafe path"), "{path}: {err}");
        }
        // Nothing was written anywhere: not next to DEST, not in the store, not in /etc.
        let work = listing(&env.path("work"));
        assert!(work.is_empty() || work == ["dest"], "{path}: {work:?}");
        if work == ["dest"] {
            assert!(listing(&env.path("work/dest")).is_empty(), "{path}");
        }
        assert_eq!(listing(env.root()), root_before, "{path}");
        assert_eq!(env.store_snapshot(), store_before, "{path}");
        assert_eq!(env.read_tree("data").len(), 2, "{path}");
        if !etc_x_existed {
            assert!(!Path::new("/etc/x").exists(), "{path}");
        }
        // The other version is still fine.
        env.ok(&["checkout", "dataset:v1", "work/good"]);
        assert_eq!(env.read_tree("work/good"), env.read_tree("data"));
    }
}
