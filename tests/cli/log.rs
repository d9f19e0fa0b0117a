//! `art log`: what goes into a version, under which paths, with which aliases and metadata,
//! and how little is stored when little changed.

use crate::util::{Env, noise};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// The paths of a version, from `art ls REF --json`.
fn paths(env: &Env, reference: &str) -> Vec<String> {
    env.json(&["ls", reference])
        .as_array()
        .expect("ls REF --json is an array")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_owned())
        .collect()
}

/// Sets the mtime of every file under `rel` an hour back, so the stat cache (which distrusts
/// files modified just before they were hashed) can vouch for them.
fn age(env: &Env, rel: &str) {
    let past = SystemTime::now() - Duration::from_hours(1);
    for (name, _) in env.read_tree(rel) {
        let name = name.trim_end_matches('*');
        let f = std::fs::File::options()
            .write(true)
            .open(env.path(rel).join(name))
            .expect("open for set_modified");
        f.set_modified(past).expect("set mtime");
    }
}

fn version_count(env: &Env, name: &str) -> usize {
    env.json(&["versions", name])
        .as_array()
        .expect("versions --json is an array")
        .len()
}

#[test]
fn a_directory_becomes_the_root() {
    let env = Env::init();
    env.tree(&[
        ("data/a.txt", b"a\n"),
        ("data/sub/b.txt", b"bb\n"),
        ("data/sub/deeper/c.txt", b"ccc\n"),
    ]);
    env.ok(&["log", "ds", "data"]);
    assert_eq!(
        paths(&env, "ds"),
        ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]
    );
    let show = env.json(&["show", "ds"]);
    assert_eq!(show["source_path"], "data");
    assert_eq!(show["files"], 3);
    assert_eq!(show["size"], 9);
    // A trailing slash or a `./` prefix names the same directory.
    env.write("data/a.txt", "changed\n");
    env.ok(&["log", "ds", "./data/"]);
    assert_eq!(env.json(&["show", "ds"])["source_path"], "data");
}

#[test]
fn files_and_several_paths_are_stored_under_their_base_names() {
    let env = Env::init();
    env.tree(&[
        ("out/deep/model.bin", b"weights"),
        ("conf/params.yaml", b"lr: 0.1\n"),
        ("extra/x.txt", b"x"),
        ("extra/y/z.txt", b"z"),
    ]);
    env.ok(&["log", "single", "out/deep/model.bin"]);
    assert_eq!(paths(&env, "single"), ["model.bin"]);
    assert_eq!(env.json(&["show", "single"])["source_path"], Value::Null);

    env.ok(&[
        "log",
        "several",
        "out/deep/model.bin",
        "conf/params.yaml",
        "extra",
    ]);
    assert_eq!(
        paths(&env, "several"),
        ["extra/x.txt", "extra/y/z.txt", "model.bin", "params.yaml"]
    );
    env.ok(&["checkout", "several", "restored"]);
    let tree = env.read_tree("restored");
    assert_eq!(tree["model.bin"], b"weights");
    assert_eq!(tree["params.yaml"], b"lr: 0.1\n");
    assert_eq!(tree["extra/y/z.txt"], b"z");
    assert_eq!(tree.len(), 4);
}

#[test]
fn paths_given_through_symlinks_keep_the_names_given() {
    let env = Env::init();
    env.tree(&[
        ("ckpt/epoch-0042.pt", b"weights"),
        ("real/data/x.csv", b"x"),
    ]);
    std::os::unix::fs::symlink("epoch-0042.pt", env.path("ckpt/latest.pt")).unwrap();
    std::os::unix::fs::symlink("real/data", env.path("datalink")).unwrap();
    // Like `cp`, a symlink named on the command line is followed, and keeps its own name.
    env.ok(&["log", "model", "ckpt/latest.pt"]);
    assert_eq!(paths(&env, "model"), ["latest.pt"]);
    env.ok(&["checkout", "model", "out"]);
    assert_eq!(env.read_tree("out")["latest.pt"], b"weights");
    env.ok(&["log", "both", "ckpt/latest.pt", "datalink"]);
    assert_eq!(paths(&env, "both"), ["datalink/x.csv", "latest.pt"]);
    // A single symlinked directory is logged as the directory it points to.
    env.ok(&["log", "dir", "datalink"]);
    assert_eq!(paths(&env, "dir"), ["x.csv"]);
    // Two names for one file are two entries.
    env.ok(&["log", "twice", "ckpt/latest.pt", "ckpt/epoch-0042.pt"]);
    assert_eq!(paths(&env, "twice"), ["epoch-0042.pt", "latest.pt"]);
}

#[test]
fn type_aliases_and_description() {
    let env = Env::init();
    env.write("m/w.bin", "w");
    let out = env.ok(&[
        "log",
        "model",
        "m",
        "-t",
        "model",
        "-a",
        "best",
        "-a",
        "prod",
        "-m",
        "first try",
    ]);
    assert!(out.starts_with("model:v0  1 files  1 B  stored "), "{out}");
    assert!(out.ends_with("  [latest, best, prod]\n"), "{out}");
    let show = env.json(&["show", "model:prod"]);
    assert_eq!(show["type"], "model");
    assert_eq!(show["version"], 0);
    assert_eq!(show["description"], "first try");
    let mut aliases: Vec<&str> = show["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    aliases.sort_unstable();
    assert_eq!(aliases, ["best", "latest", "prod"]);

    // Without -t an artifact gets the default type; a later log without -t keeps the type.
    env.ok(&["log", "plain", "m"]);
    assert_eq!(env.json(&["show", "plain"])["type"], "artifact");
    env.write("m/w.bin", "w2");
    env.ok(&["log", "model", "m"]);
    assert_eq!(env.json(&["show", "model"])["type"], "model");
    assert_eq!(env.json(&["show", "model"])["description"], Value::Null);
}

#[test]
fn metadata_inline_and_from_a_file() {
    let env = Env::init();
    env.write("d/a.txt", "a");
    let run = env.ok(&["run", "start"]).trim().to_owned();
    env.ok(&[
        "log",
        "ds",
        "d",
        "--metadata",
        r#"{"lr": 0.01, "tags": ["x", "y"], "nested": {"k": true}}"#,
        "--run",
        &run,
    ]);
    let show = env.json(&["show", "ds:v0"]);
    assert_eq!(
        show["metadata"],
        json!({"lr": 0.01, "tags": ["x", "y"], "nested": {"k": true}})
    );
    assert_eq!(show["logged_by_run"], run.as_str());

    env.write("meta.json", r#"{"epochs": 3, "source": "file"}"#);
    env.write("d/a.txt", "b");
    env.ok(&["log", "ds", "d", "--metadata", "@meta.json"]);
    let show = env.json(&["show", "ds:v1"]);
    assert_eq!(show["metadata"], json!({"epochs": 3, "source": "file"}));
    // The run comes from ART_RUN when not given.
    env.write("d/a.txt", "c");
    let from_env = env.ok(&["run", "start"]).trim().to_owned();
    let out = env
        .art()
        .env("ART_RUN", &from_env)
        .args(["log", "ds", "d"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        env.json(&["show", "ds:v2"])["logged_by_run"],
        from_env.as_str()
    );
    assert_eq!(env.json(&["show", "ds:v2"])["metadata"], json!({}));
}

#[test]
fn metadata_that_is_not_an_object_is_refused() {
    let env = Env::init();
    env.write("d/a.txt", "a");
    let err = env.fails(&["log", "ds", "d", "--metadata", "[1, 2]"], 2);
    assert!(err.contains("metadata must be a JSON object"), "{err}");
    let err = env.fails(&["log", "ds", "d", "--metadata", "{nope"], 2);
    assert!(err.contains("metadata is not valid JSON"), "{err}");
    let err = env.fails(&["log", "ds", "d", "--metadata", "@missing.json"], 2);
    assert!(
        err.contains("cannot read metadata file `missing.json`"),
        "{err}"
    );
    assert_eq!(env.json(&["ls"]), json!([]));
}

#[test]
fn latest_moves_with_each_new_version() {
    let env = Env::init();
    env.write("d/a.txt", "0");
    let first = env.json(&["log", "ds", "d"]);
    assert_eq!(first["reference"], "ds:v0");
    assert_eq!(first["aliases"], json!(["latest"]));
    for n in 1..=3 {
        env.write("d/a.txt", n.to_string());
        let out = env.json(&["log", "ds", "d"]);
        assert_eq!(out["reference"], format!("ds:v{n}"));
        assert_eq!(env.json(&["show", "ds"])["version"], n);
        assert_eq!(env.json(&["show", "ds:latest"])["version"], n);
    }
    let versions = env.json(&["versions", "ds"]);
    let aliases: Vec<&Value> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["aliases"])
        .collect();
    assert_eq!(
        aliases,
        [&json!([]), &json!([]), &json!([]), &json!(["latest"])]
    );
    assert_eq!(env.json(&["ls"])[0]["latest"], "v3");
    env.ok(&["checkout", "ds:v1", "one"]);
    assert_eq!(env.read_tree("one")["a.txt"], b"1");
}

#[test]
fn identical_content_creates_no_version() {
    let env = Env::init();
    env.tree(&[("d/a.txt", b"a"), ("d/b/c.txt", b"c")]);
    env.write("d/big.bin", noise(2 << 20, 7));
    env.ok(&["log", "ds", "d"]);
    let store = env.store_snapshot();
    let out = env.ok(&["log", "ds", "d"]);
    assert_eq!(out, "ds: unchanged, still v0 (latest)\n");
    assert_eq!(version_count(&env, "ds"), 1);
    assert_eq!(
        env.store_snapshot(),
        store,
        "an unchanged log writes no pack"
    );

    let out = env.json(&["log", "ds", "d"]);
    assert_eq!(out["unchanged"], true);
    assert_eq!(out["reference"], "ds:v0");
    assert_eq!(out["stored_bytes"], 0);
    assert_eq!(out["new_blobs"], 0);

    // Same content again after a real change and back: a version is made each time content
    // differs from latest, even when it equals an older version.
    env.write("d/a.txt", "A");
    env.ok(&["log", "ds", "d"]);
    env.write("d/a.txt", "a");
    let out = env.json(&["log", "ds", "d"]);
    assert_eq!(out["reference"], "ds:v2");
    assert_eq!(out["unchanged"], false);
    assert_eq!(
        out["new_blobs"], 0,
        "content and manifest are both already stored"
    );
    assert_eq!(
        env.json(&["show", "ds:v0"])["digest"],
        env.json(&["show", "ds:v2"])["digest"]
    );
}

#[test]
fn alias_on_unchanged_content_moves_the_alias() {
    let env = Env::init();
    env.write("d/a.txt", "0");
    env.ok(&["log", "ds", "d", "-a", "best"]);
    env.write("d/a.txt", "1");
    env.ok(&["log", "ds", "d"]);
    assert_eq!(env.json(&["show", "ds:best"])["version"], 0);

    let out = env.ok(&["log", "ds", "d", "-a", "best", "-a", "prod"]);
    assert_eq!(out, "ds: unchanged, still v1 (latest, best, prod)\n");
    assert_eq!(version_count(&env, "ds"), 2);
    assert_eq!(env.json(&["show", "ds:best"])["version"], 1);
    assert_eq!(env.json(&["show", "ds:prod"])["version"], 1);
    assert_eq!(env.json(&["show", "ds:v0"])["aliases"], json!([]));
}

#[test]
fn only_new_content_is_stored() {
    let env = Env::init();
    env.tree(&[
        ("d/small.txt", b"one\n"),
        ("d/other.txt", b"two\n"),
        ("d/sub/third.txt", b"three\n"),
    ]);
    env.write("d/big.bin", noise(3 << 20, 11));
    let first = env.json(&["log", "ds", "d"]);
    let first_stored = first["stored_bytes"].as_u64().unwrap();
    assert!(first_stored > 3 << 20, "noise does not compress: {first}");
    assert_eq!(first["size"], (3 << 20) + 4 + 4 + 6);

    env.write("d/small.txt", "ONE\n");
    let second = env.json(&["log", "ds", "d"]);
    let stored = second["stored_bytes"].as_u64().unwrap();
    assert!(
        stored < 16 << 10,
        "only the changed file and the manifest: {second}"
    );
    assert_eq!(second["new_blobs"], 2, "{second}");
    assert_eq!(second["reference"], "ds:v1");

    // Both versions restore in full.
    env.ok(&["checkout", "ds:v0", "v0"]);
    env.ok(&["checkout", "ds:v1", "v1"]);
    assert_eq!(env.read_tree("v1"), env.read_tree("d"));
    assert_eq!(env.read_tree("v0")["small.txt"], b"one\n");
    assert_eq!(env.read_tree("v0")["big.bin"], noise(3 << 20, 11));
}

#[test]
fn an_insertion_in_a_large_file_stores_only_nearby_chunks() {
    let env = Env::init();
    let size = 16 << 20;
    let original = noise(size, 3);
    env.write("m/weights.bin", &original);
    let first = env.json(&["log", "model", "m"]);
    assert!(
        first["stored_bytes"].as_u64().unwrap() >= size as u64,
        "{first}"
    );

    let mut edited = original[..size / 2].to_vec();
    edited.extend_from_slice(&noise(4096, 99));
    edited.extend_from_slice(&original[size / 2..]);
    env.write("m/weights.bin", &edited);
    let second = env.json(&["log", "model", "m"]);
    let stored = second["stored_bytes"].as_u64().unwrap();
    // Content-defined chunks re-align after the insertion: at most two chunks (4 MiB max each)
    // are new, far less than the 16 MiB file.
    assert!(stored < 2 * (4 << 20), "stored {stored} bytes: {second}");
    let new_blobs = second["new_blobs"].as_u64().unwrap();
    assert!(
        new_blobs <= 4,
        "two chunks, the chunk list, the manifest: {second}"
    );
    assert_eq!(second["size"], (size + 4096) as u64);

    env.ok(&["checkout", "model:v1", "v1"]);
    env.ok(&["checkout", "model:v0", "v0"]);
    assert!(env.read_tree("v1")["weights.bin"] == edited);
    assert!(env.read_tree("v0")["weights.bin"] == original);
}

#[test]
fn artignore_is_honoured_and_gitignore_is_not() {
    let env = Env::init();
    env.tree(&[
        ("d/.artignore", b"*.tmp\ncache/\n"),
        ("d/keep.txt", b"k"),
        ("d/scratch.tmp", b"t"),
        ("d/sub/also.tmp", b"t"),
        ("d/cache/blob.bin", b"c"),
        ("d/sub/.artignore", b"local.txt\n"),
        ("d/sub/local.txt", b"l"),
        ("d/sub/kept.txt", b"k"),
        ("d/.gitignore", b"*.log\nbuild/\n"),
        ("d/train.log", b"log"),
        ("d/build/out.o", b"o"),
        ("d/.hidden", b"h"),
    ]);
    env.ok(&["log", "ds", "d"]);
    assert_eq!(
        paths(&env, "ds"),
        [
            ".artignore",
            ".gitignore",
            ".hidden",
            "build/out.o",
            "keep.txt",
            "sub/.artignore",
            "sub/kept.txt",
            "train.log",
        ]
    );
    // A checkout into the logged directory leaves ignored files alone.
    env.ok(&["checkout", "ds"]);
    assert!(env.path("d/scratch.tmp").exists());
    assert!(env.path("d/cache/blob.bin").exists());
}

#[test]
fn the_store_is_never_included() {
    let env = Env::init();
    env.tree(&[
        ("a.txt", b"a"),
        ("sub/b.txt", b"b"),
        ("sub/.artifacts/inner.txt", b"nested store"),
    ]);
    env.ok(&["log", "everything", "."]);
    assert_eq!(paths(&env, "everything"), ["a.txt", "sub/b.txt"]);
    assert_eq!(env.json(&["show", "everything"])["source_path"], ".");
    // Also when the directory holding the store is given among several paths.
    env.ok(&["log", "several", "sub", "a.txt"]);
    assert_eq!(paths(&env, "several"), ["a.txt", "sub/b.txt"]);
    // Naming the store, or a file in it, is refused.
    for path in [".artifacts", ".artifacts/config.toml", "sub/.artifacts"] {
        let err = env.fails(&["log", "store", path], 1);
        assert!(err.contains("inside an art store (`.artifacts`)"), "{err}");
    }
    assert!(
        env.fails(&["show", "store"], 1)
            .contains("no artifact named `store`")
    );
    // Nor touched by a checkout into the directory that holds it.
    let store = env.store_snapshot();
    env.write("new.txt", "n");
    env.ok(&["checkout", "everything", "--force"]);
    assert!(!env.path("new.txt").exists());
    assert_eq!(
        env.read_tree("sub/.artifacts")["inner.txt"],
        b"nested store"
    );
    let after = env.store_snapshot();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        store.keys().collect::<Vec<_>>()
    );
    assert_eq!(env.json(&["ls"]).as_array().unwrap().len(), 2);
}

#[test]
fn the_stat_cache_spares_rereading_unchanged_files() {
    let env = Env::init();
    env.tree(&[("d/a.txt", b"a"), ("d/b.txt", b"b"), ("d/s/c.txt", b"c")]);
    env.write("d/big.bin", noise(2 << 20, 5));
    age(&env, "d");
    let first = env.json(&["log", "ds", "d"]);
    assert_eq!(first["files_read"], 4);
    let second = env.json(&["log", "ds", "d"]);
    assert_eq!(second["files_read"], 0, "{second}");
    assert_eq!(second["unchanged"], true);

    // A changed file is read again, even with the same size; the others are still vouched for.
    env.write("d/b.txt", "B");
    let third = env.json(&["log", "ds", "d"]);
    assert_eq!(third["files_read"], 1, "{third}");
    assert_eq!(third["unchanged"], false);
    env.ok(&["checkout", "ds:v1", "out"]);
    assert_eq!(env.read_tree("out")["b.txt"], b"B");
}

#[test]
fn quiet_prints_nothing() {
    let env = Env::init();
    env.write("d/a.txt", "a");
    let out = env.art().args(["-q", "log", "ds", "d"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // After the subcommand too (the flag is global), and for an unchanged log.
    let out = env
        .art()
        .args(["log", "ds", "d", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(version_count(&env, "ds"), 1);
}

#[test]
fn json_output() {
    let env = Env::init();
    env.tree(&[("d/a.txt", b"hello"), ("d/b.txt", b"!")]);
    let out = env.json(&["log", "ds", "d", "-t", "dataset", "-a", "raw"]);
    assert_eq!(out["reference"], "ds:v0");
    assert_eq!(out["name"], "ds");
    assert_eq!(out["type"], "dataset");
    assert_eq!(out["version"], 0);
    assert_eq!(out["unchanged"], false);
    assert_eq!(out["files"], 2);
    assert_eq!(out["size"], 6);
    assert_eq!(out["aliases"], json!(["latest", "raw"]));
    let digest = out["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    assert!(
        digest
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(env.json(&["show", "ds"])["digest"], digest);
    assert!(out["stored_bytes"].as_u64().unwrap() > 0);
    assert_eq!(out["new_blobs"], 3, "two files and the manifest");
}

#[test]
fn unchanged_content_says_that_metadata_was_not_applied() {
    let env = Env::init();
    env.write("data/a.txt", "a");
    env.ok(&["log", "ds", "data"]);
    let out = env
        .art()
        .args(["log", "ds", "data", "-m", "again"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not applied") && stderr.contains("art meta set ds:v0"),
        "{stderr}"
    );
    assert!(env.json(&["show", "ds"])["description"].is_null());
}
