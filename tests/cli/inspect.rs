//! Looking at a store: `ls`, `versions`, `show`, `diff`, aliases, metadata and `verify`.

use crate::util::{Env, insta_settings};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

/// Runs art without asserting the outcome: (exit code, stdout, stderr).
fn run(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = env.art().args(args).output().expect("run art");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

/// `dataset` (type dataset, v0 and v1, logged from `data`) and `model` (type model, one
/// version of a single file with an exec script and a symlink).
fn populated() -> Env {
    let env = Env::init();
    env.tree(&[
        ("data/train.csv", b"x,y\n1,2\n3,4\n"),
        ("data/test.csv", b"x,y\n5,6\n"),
        ("data/notes/README", b"read me\n"),
    ]);
    env.ok(&[
        "log",
        "dataset",
        "data",
        "-t",
        "dataset",
        "-a",
        "raw",
        "-m",
        "first cut",
    ]);
    env.write("data/train.csv", "x,y\n1,2\n3,4\n7,8\n");
    std::fs::remove_file(env.path("data/test.csv")).unwrap();
    env.write("data/valid.csv", "x,y\n9,9\n");
    env.ok(&[
        "log",
        "dataset",
        "data",
        "--metadata",
        r#"{"rows": 3, "source": "lab"}"#,
    ]);

    env.write("m/weights.bin", vec![7u8; 3000]);
    env.write("m/run.sh", "#!/bin/sh\n");
    std::fs::set_permissions(env.path("m/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("weights.bin", env.path("m/current")).unwrap();
    env.ok(&["log", "model", "m", "-t", "model", "-a", "best"]);
    env
}

#[test]
fn ls_lists_artifacts() {
    let env = Env::init();
    assert_eq!(
        env.ok(&["ls"]),
        "no artifacts yet; add one with `art log NAME PATH`\n"
    );
    assert_eq!(env.json(&["ls"]), json!([]));
    let env = populated();
    let out = env.ok(&["ls"]);
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_ls", out));
    assert_eq!(
        env.json(&["ls"]),
        json!([
            {"name": "dataset", "type": "dataset", "versions": 2, "latest": "v1", "size": 32},
            {"name": "model", "type": "model", "versions": 1, "latest": "v0", "size": 3021},
        ])
    );
}

#[test]
fn ls_ref_lists_files() {
    let env = populated();
    let out = env.ok(&["ls", "model"]);
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_ls_model", out));
    let out = env.ok(&["ls", "dataset:v0"]);
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_ls_dataset_v0", out));

    let files = env.json(&["ls", "model"]);
    let files = files.as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0]["path"], "current");
    assert_eq!(files[0]["kind"], "symlink");
    assert_eq!(files[0]["target"], "weights.bin");
    assert_eq!(files[1]["path"], "run.sh");
    assert_eq!(files[1]["exec"], true);
    assert_eq!(files[2]["path"], "weights.bin");
    assert_eq!(files[2]["size"], 3000);
    assert_eq!(files[2]["kind"], "file");
    assert_eq!(files[2]["exec"], false);
    assert_eq!(files[2]["digest"].as_str().unwrap().len(), 64);
}

#[test]
fn versions_lists_versions() {
    let env = populated();
    let out = env.ok(&["versions", "dataset"]);
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_versions", out));
    let list = env.json(&["versions", "dataset"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["reference"], "dataset:v0");
    assert_eq!(list[0]["aliases"], json!(["raw"]));
    assert_eq!(list[0]["description"], "first cut");
    assert_eq!(list[0]["state"], "committed");
    assert_eq!(list[1]["reference"], "dataset:v1");
    assert_eq!(list[1]["aliases"], json!(["latest"]));
    assert_eq!(list[1]["metadata"], json!({"rows": 3, "source": "lab"}));
    assert_ne!(list[0]["digest"], list[1]["digest"]);
}

#[test]
fn show_one_version() {
    let env = populated();
    let out = env.ok(&["show", "dataset"]);
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_show", out));
    let out = env.ok(&["show", "dataset:raw"]);
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_show_raw", out));
    let v = env.json(&["show", "model:best"]);
    assert_eq!(v["reference"], "model:v0");
    assert_eq!(v["type"], "model");
    assert_eq!(v["files"], 3);
    assert_eq!(v["size"], 3021);
    assert_eq!(v["source_path"], "m");
    assert_eq!(v["aliases"], json!(["latest", "best"]));
    assert!(v["created_at"].as_i64().unwrap() > 0);
    assert_eq!(v["created_at"], v["updated_at"]);
}

#[test]
fn diff_two_versions() {
    let env = populated();
    let (code, out, err) = run(&env, &["diff", "dataset:v0", "dataset:v1"]);
    assert_eq!(code, 1, "{err}");
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_diff_versions", out));
    let (code, out, _) = run(&env, &["diff", "dataset:v1", "dataset:v0"]);
    assert_eq!(code, 1);
    assert!(out.contains("+ test.csv  (8 B)"), "{out}");
    assert!(out.contains("- valid.csv  (8 B)"), "{out}");

    let (code, out, _) = run(&env, &["--json", "diff", "dataset:v0", "dataset:v1"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["changes"],
        json!([
            {"change": "removed", "path": "test.csv", "size": 8},
            {"change": "modified", "path": "train.csv", "old_size": 12, "new_size": 16},
            {"change": "added", "path": "valid.csv", "size": 8},
        ])
    );

    let out = env.ok(&["diff", "dataset:v1", "dataset:latest"]);
    assert_eq!(out, "dataset:v1 and dataset:v1 are identical\n");
    // Across artifacts too: the model has none of the dataset's files.
    let (code, out, _) = run(&env, &["diff", "dataset", "model"]);
    assert_eq!(code, 1);
    assert!(out.ends_with("3 added, 3 removed, 0 modified\n"), "{out}");
    // A bad side is an error, exit 2 (1 means "differ").
    let (code, _, err) = run(&env, &["diff", "dataset", "nosuch"]);
    assert_eq!(code, 2);
    assert!(err.contains("no artifact named `nosuch`"), "{err}");
}

#[test]
fn diff_a_version_with_a_directory() {
    let env = populated();
    env.ok(&["checkout", "dataset:v0", "copy"]);
    let out = env.ok(&["diff", "dataset:v0", "copy"]);
    assert!(out.ends_with("copy are identical\n"), "{out}");
    env.write("copy/notes/README", "changed\n");
    env.write("copy/extra.txt", "new\n");
    std::fs::remove_file(env.path("copy/test.csv")).unwrap();
    let (code, out, _) = run(&env, &["diff", "dataset:v0", "copy"]);
    assert_eq!(code, 1);
    insta_settings(&env).bind(|| insta::assert_snapshot!("inspect_diff_dir", out));
    // An exec bit alone is a modification.
    env.ok(&["checkout", "dataset:v0", "copy", "--force"]);
    std::fs::set_permissions(
        env.path("copy/test.csv"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let (code, out, _) = run(&env, &["diff", "dataset:v0", "copy"]);
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "M test.csv  (8 B -> 8 B)\n0 added, 0 removed, 1 modified\n"
        )
    );
}

#[test]
fn diff_against_the_source_directory() {
    let env = populated();
    let out = env.ok(&["diff", "dataset"]);
    let data = env.path("data").canonicalize().unwrap();
    assert_eq!(
        out,
        format!("dataset:v1 and {} are identical\n", data.display())
    );
    // A same-size edit is found: content is what counts.
    env.write("data/valid.csv", "x,y\n0,0\n");
    env.write("data/more.csv", "m\n");
    let (code, out, _) = run(&env, &["diff", "dataset"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "+ more.csv  (2 B)\nM valid.csv  (8 B -> 8 B)\n1 added, 0 removed, 1 modified\n"
    );
    // The old version against today's directory.
    let (code, out, _) = run(&env, &["diff", "dataset:v0"]);
    assert_eq!(code, 1);
    assert!(out.ends_with("2 added, 1 removed, 1 modified\n"), "{out}");
    // A version logged from files has no source directory.
    env.write("one.txt", "1");
    env.ok(&["log", "single", "one.txt"]);
    let (code, _, err) = run(&env, &["diff", "single"]);
    assert_eq!(code, 2);
    assert!(err.contains("was not logged from a directory"), "{err}");
}

#[test]
fn aliases_set_move_and_remove() {
    let env = populated();
    assert_eq!(
        env.ok(&["alias", "set", "dataset:v0", "best"]),
        "dataset:best -> v0\n"
    );
    env.ok(&["checkout", "dataset:best", "best"]);
    assert!(env.path("best/test.csv").exists());
    assert_eq!(
        env.ok(&["alias", "set", "dataset:v1", "best"]),
        "dataset:best -> v1 (was v0)\n"
    );
    assert_eq!(env.json(&["show", "dataset:best"])["version"], 1);
    assert_eq!(env.json(&["show", "dataset:v0"])["aliases"], json!(["raw"]));
    // Setting it where it already is says so without "was".
    assert_eq!(
        env.ok(&["alias", "set", "dataset:latest", "best"]),
        "dataset:best -> v1\n"
    );
    // Same alias name on another artifact is independent.
    env.ok(&["alias", "set", "model", "best"]);
    assert_eq!(env.json(&["show", "dataset:best"])["version"], 1);

    let out = env.json(&["alias", "rm", "dataset", "best"]);
    assert_eq!(
        out,
        json!({"name": "dataset", "alias": "best", "version": null, "previous": 1})
    );
    let err = env.fails(&["checkout", "dataset:best", "x"], 1);
    assert!(err.contains("`dataset:best` does not exist"), "{err}");
    let err = env.fails(&["alias", "rm", "dataset", "best"], 1);
    assert!(
        err.contains("`dataset:best` does not exist; it has raw, latest"),
        "{err}"
    );
    assert_eq!(env.json(&["show", "model:best"])["version"], 0);
    // latest is art's.
    let err = env.fails(&["alias", "rm", "dataset", "latest"], 2);
    assert!(err.contains("managed by art"), "{err}");
}

#[test]
fn meta_set_changes_description_and_metadata() {
    let env = populated();
    let before = env.json(&["show", "dataset:v0"]);
    let out = env.ok(&[
        "meta",
        "set",
        "dataset:v0",
        "--description",
        "x",
        "--set",
        "lr=0.1",
        "--set",
        "name=foo",
        "--set",
        "tags=[1,2]",
    ]);
    assert_eq!(
        out,
        "dataset:v0 updated: {\"lr\":0.1,\"name\":\"foo\",\"tags\":[1,2]}\n"
    );
    let v = env.json(&["show", "dataset:v0"]);
    assert_eq!(v["description"], "x");
    assert_eq!(v["metadata"]["lr"].as_f64(), Some(0.1));
    assert_eq!(v["metadata"]["name"], "foo");
    assert_eq!(v["metadata"]["tags"], json!([1, 2]));
    assert_eq!(v["digest"], before["digest"], "metadata is not content");
    assert!(v["updated_at"].as_i64() >= before["updated_at"].as_i64());

    env.ok(&["meta", "set", "dataset:v0", "--metadata", r#"{"a": 1}"#]);
    let v = env.json(&["show", "dataset:v0"]);
    assert_eq!(v["metadata"], json!({"a": 1}), "--metadata replaces");
    assert_eq!(v["description"], "x", "and leaves the description");

    env.write("m.json", r#"{"from": "file", "b": 2}"#);
    env.ok(&[
        "meta",
        "set",
        "dataset:v0",
        "--metadata",
        "@m.json",
        "--unset",
        "b",
    ]);
    assert_eq!(
        env.json(&["show", "dataset:v0"])["metadata"],
        json!({"from": "file"})
    );
    env.ok(&[
        "meta",
        "set",
        "dataset:v0",
        "--unset",
        "from",
        "--description",
        "",
    ]);
    let v = env.json(&["show", "dataset:v0"]);
    assert_eq!(v["metadata"], json!({}));
    assert_eq!(v["description"], serde_json::Value::Null);
    // The other version is untouched.
    assert_eq!(
        env.json(&["show", "dataset:v1"])["metadata"],
        json!({"rows": 3, "source": "lab"})
    );

    let err = env.fails(&["meta", "set", "dataset:v0"], 1);
    assert!(err.contains("nothing to change"), "{err}");
    let err = env.fails(&["meta", "set", "dataset:v0", "--set", "novalue"], 2);
    assert!(err.contains("expected KEY=VALUE"), "{err}");
}

#[test]
fn verify_the_store_and_a_directory() {
    let env = populated();
    let out = env.ok(&["verify", "dataset:v0"]);
    assert_eq!(out, "dataset:v0 (store): 3 files, 28 B checked: ok\n");
    let v = env.json(&["verify", "model"]);
    assert_eq!(v["problems"], json!([]));
    assert_eq!(v["target"], "store");

    let out = env.ok(&["verify", "dataset", "data"]);
    assert!(out.ends_with(": ok\n"), "{out}");
    env.ok(&["checkout", "dataset:v0", "copy"]);
    env.write("copy/train.csv", "x,y\n1,2\n3,5\n");
    env.write("copy/stray.txt", "?");
    std::fs::remove_file(env.path("copy/test.csv")).unwrap();
    let (code, out, _) = run(&env, &["verify", "dataset:v0", "copy"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "stray.txt: not in the version\ntest.csv: missing\ntrain.csv: content differs\n\
         dataset:v0 (copy): 3 files, 21 B checked: 3 problem(s)\n"
    );
}

#[test]
fn json_of_ls_versions_show_parses() {
    let env = populated();
    for args in [
        &["ls"][..],
        &["ls", "dataset"],
        &["versions", "model"],
        &["show", "model"],
        &["verify", "model"],
    ] {
        let v = env.json(args);
        assert!(v.is_array() || v.is_object(), "{args:?}: {v}");
    }
    // --json goes after the subcommand as well.
    let out = env.ok(&["versions", "model", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["reference"], "model:v0");
}
