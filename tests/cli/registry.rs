//! The registry: collections (`art link`), protected aliases, tags and TTLs, through an
//! index rebuild and a clone.

use crate::util::{Env, noise};
use std::collections::BTreeMap;

/// Three versions of `model`; returns their trees.
fn three_models(env: &Env) -> Vec<BTreeMap<String, Vec<u8>>> {
    let mut trees = Vec::new();
    for i in 0..3u64 {
        env.write("out/weights.bin", noise(40_000, 100 + i));
        env.write("out/config.json", format!("{{\"epoch\": {i}}}\n"));
        env.ok(&[
            "log",
            "model",
            "out",
            "-t",
            "model",
            "-m",
            &format!("epoch {i}"),
        ]);
        trees.push(env.read_tree("out"));
    }
    trees
}

/// What a user compares before and after a rebuild or in a clone.
fn registry_state(env: &Env) -> Vec<serde_json::Value> {
    vec![
        env.json(&["versions", "classifier", "--all"]),
        env.json(&["versions", "model", "--all"]),
        env.json(&["ls", "--collections"]),
        env.json(&["ls"]),
        env.json(&["show", "classifier:production"]),
    ]
}

#[test]
fn a_model_goes_through_staging_to_production_in_a_collection() {
    let env = Env::init();
    let trees = three_models(&env);
    let bytes_before = env.pack_bytes();

    let out = env.json(&["link", "model:v1", "classifier", "-a", "staging"]);
    assert_eq!(out["reference"], "classifier:v0", "{out}");
    assert_eq!(out["source"], "model:v1");
    assert!(
        env.ok(&["link", "model:v2", "classifier", "-a", "staging"])
            .contains("classifier:v1 -> model:v2 (staging)")
    );
    assert_eq!(env.pack_bytes(), bytes_before, "linking copies no data");
    // Linking again only moves aliases; a link to a link links its source.
    let again = env.json(&[
        "link",
        "classifier:staging",
        "classifier",
        "-a",
        "production",
    ]);
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["reference"], "classifier:v1");
    env.ok(&["alias", "protect", "classifier", "production"]);

    // Every read command takes a collection reference.
    env.ok(&["checkout", "classifier:production", "prod"]);
    assert_eq!(env.read_tree("prod"), trees[2]);
    env.ok(&["verify", "classifier:production"]);
    let diff = env
        .art()
        .args(["diff", "classifier:v0", "classifier:v1"])
        .output()
        .expect("diff");
    assert_eq!(diff.status.code(), Some(1), "the two links differ");
    let versions = env.json(&["versions", "classifier"]);
    assert_eq!(versions[0]["source"], "model:v1");
    assert_eq!(versions[1]["source"], "model:v2");
    assert!(
        env.ok(&["versions", "classifier"])
            .starts_with("VERSION  SOURCE")
    );
    assert_eq!(
        env.json(&["show", "model:v2"])["linked_in"],
        serde_json::json!(["classifier:v1"])
    );
    let collections = env.json(&["ls", "--collections"]);
    assert_eq!(collections[0]["name"], "classifier");
    assert_eq!(
        env.json(&["ls"]).as_array().map(Vec::len),
        Some(1),
        "ls lists artifacts only"
    );
    let lineage = env.json(&["lineage", "classifier:production", "--format", "json"]);
    let edges = lineage["edges"].as_array().expect("edges");
    assert!(
        edges.iter().any(|e| e["relation"] == "linked"
            && e["from"] == "model:v2"
            && e["to"] == "classifier:v1"),
        "{lineage}"
    );
    assert!(
        env.ok(&["lineage", "model:v2", "--format", "mermaid"])
            .contains("-->|linked|")
    );

    // Protection: moving or removing `production` needs --force.
    let err = env.fails(&["link", "model:v1", "classifier", "-a", "production"], 3);
    assert!(
        err.contains("alias `production` of `classifier` is protected"),
        "{err}"
    );
    let err = env.fails(&["alias", "rm", "classifier", "production"], 3);
    assert!(err.contains("--force"), "{err}");
    let err = env.fails(&["unlink", "classifier:v1"], 3);
    assert!(err.contains("protected"), "{err}");
    // The linked version cannot be deleted, and a collection takes no `log`.
    let err = env.fails(&["rm", "model:v2"], 3);
    assert!(
        err.contains("linked into classifier:v1; unlink it first"),
        "{err}"
    );
    let pruned = env.json(&["prune", "model", "--unaliased", "--dry-run"]);
    assert_eq!(
        pruned["deleted"],
        serde_json::json!(["model:v0"]),
        "linked versions are kept"
    );
    let err = env.fails(&["log", "classifier", "out"], 1);
    assert!(err.contains("is a collection"), "{err}");

    // A forced promotion, then unlinking the old one.
    env.ok(&[
        "link",
        "model:v1",
        "classifier",
        "-a",
        "production",
        "--force",
    ]);
    assert_eq!(
        env.json(&["show", "classifier:production"])["source"],
        "model:v1"
    );
    env.ok(&["unlink", "classifier:v1"]);
    env.ok(&["rm", "model:v2"]);
    assert!(env.ok(&["fsck"]).contains(": ok"));
    let state = registry_state(&env);
    env.ok(&["index", "rebuild"]);
    assert_eq!(
        registry_state(&env),
        state,
        "the registry is in the record log"
    );
    let err = env.fails(&["alias", "rm", "classifier", "production"], 3);
    assert!(
        err.contains("protected"),
        "protection survives a rebuild: {err}"
    );

    // A clone sees the collection and checks it out from the remote.
    env.ok(&["remote", "add", "origin", "shared"]);
    env.ok(&["push"]);
    let clone = Env::in_dir(assert_fs::TempDir::new().expect("dir"));
    clone.ok(&["clone", &env.path("shared").to_string_lossy()]);
    assert_eq!(registry_state(&clone), state);
    clone.ok(&["checkout", "classifier:production", "prod"]);
    assert_eq!(clone.read_tree("prod"), trees[1]);
    let err = clone.fails(&["alias", "rm", "classifier", "production"], 3);
    assert!(err.contains("protected"), "protection travels: {err}");
}

#[test]
fn tags_select_versions_and_artifacts() {
    let env = Env::init();
    three_models(&env);
    env.write("d/x.csv", "a,b\n");
    env.ok(&["log", "data", "d"]);
    let out = env.json(&["tag", "model:v1", "golden", "reviewed"]);
    assert_eq!(out["tags"], serde_json::json!(["golden", "reviewed"]));
    env.ok(&["tag", "model:v2", "golden"]);
    let golden = env.json(&["versions", "model", "--tag", "golden"]);
    let numbers: Vec<u64> = golden
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v["version"].as_u64().expect("n"))
        .collect();
    assert_eq!(numbers, [1, 2]);
    let listed = env.json(&["ls", "--tag", "reviewed"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["name"], "model");
    env.ok(&["untag", "model:v1", "reviewed"]);
    assert!(
        env.ok(&["ls", "--tag", "reviewed"])
            .contains("no artifact has a version tagged `reviewed`")
    );
    assert!(
        env.ok(&["show", "model:v1"])
            .contains("tags:        golden")
    );
    let err = env.fails(&["tag", "model:v1", "no/slash"], 1);
    assert!(err.contains("invalid tag `no/slash`"), "{err}");
    env.ok(&["index", "rebuild"]);
    assert_eq!(
        env.json(&["show", "model:v2"])["tags"],
        serde_json::json!(["golden"])
    );
}

#[test]
fn gc_deletes_versions_whose_ttl_passed_unless_protected_or_linked() {
    let env = Env::init();
    three_models(&env);
    for v in ["model:v0", "model:v1", "model:v2"] {
        env.ok(&["meta", "set", v, "--ttl", "1d"]);
    }
    let expires = env.json(&["show", "model:v0"])["expires_at"]
        .as_i64()
        .expect("expires_at");
    env.ok(&["meta", "set", "model:v2", "--ttl", "none"]);
    assert!(env.json(&["show", "model:v2"]).get("expires_at").is_none());
    env.ok(&["link", "model:v1", "registry"]);
    // Nothing has expired yet.
    assert_eq!(
        env.json(&["gc", "--dry-run"])["expired"],
        serde_json::json!([])
    );
    let later = (expires + 1).to_string();
    let dry = env
        .art()
        .args(["--json", "gc", "--dry-run"])
        .env("ART_TEST_NOW_MS", &later)
        .output()
        .expect("gc");
    let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).expect("json");
    assert_eq!(dry["expired"], serde_json::json!(["model:v0"]), "{dry}");
    assert_eq!(
        env.json(&["versions", "model"]).as_array().map(Vec::len),
        Some(3),
        "a dry run deletes nothing"
    );
    let out = env
        .art()
        .args(["gc"])
        .env("ART_TEST_NOW_MS", &later)
        .output()
        .expect("gc");
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted (TTL passed): model:v0"));
    let left: Vec<u64> = env
        .json(&["versions", "model"])
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v["version"].as_u64().expect("n"))
        .collect();
    assert_eq!(left, [1, 2]);
    assert!(env.ok(&["fsck"]).contains(": ok"));
}
