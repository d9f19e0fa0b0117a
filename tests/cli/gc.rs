//! Lifecycle: rm, prune, gc (repack, grace, debris, cap), du, config; gc against concurrent
//! logs and a kill during repack.

use crate::util::{Env, noise, succeeded};
use std::collections::BTreeMap;

/// v0..v4 of `m`: every version shares `common.bin`; each has its own 400 KiB `own.bin`.
fn five_versions(env: &Env) -> Vec<BTreeMap<String, Vec<u8>>> {
    env.write("d/common.bin", noise(300_000, 99));
    let mut trees = Vec::new();
    for i in 0..5u64 {
        env.write("d/own.bin", noise(400_000, i));
        env.ok(&["log", "m", "d"]);
        trees.push(env.read_tree("d"));
    }
    trees
}

#[test]
fn deleting_versions_and_collecting_frees_their_unique_bytes_only() {
    let env = Env::init();
    let trees = five_versions(&env);
    let before = env.pack_bytes();
    env.ok(&["rm", "m:v1", "m:v2", "m:v3"]);
    let out = env.ok(&["gc", "--grace", "0s"]);
    assert!(out.starts_with("freed"), "{out}");
    let after = env.pack_bytes();
    // Three unique, incompressible 400 KiB files went; pack headers and trailers may differ a little.
    let freed = before - after;
    assert!(
        (3 * 400_000..3 * 400_000 + 20_000).contains(&freed),
        "freed {freed}"
    );
    for (v, tree) in [("m:v0", &trees[0]), ("m:v4", &trees[4])] {
        let dest = format!("out-{v}");
        env.ok(&["checkout", v, &dest]);
        assert_eq!(&env.read_tree(&dest), tree, "{v}");
    }
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));
    // The deleted versions are gone for good.
    let err = env.fails(&["checkout", "m:v2", "x"], 1);
    assert!(err.contains("was deleted"), "{err}");
}

#[test]
fn gc_respects_the_grace_period_and_dry_run() {
    let env = Env::init();
    five_versions(&env);
    env.ok(&["rm", "m:v1"]);
    let snapshot = env.store_snapshot();
    // Deleted a moment ago: within the default grace period of an hour, nothing goes.
    let out = env.ok(&["gc"]);
    assert!(out.contains("0 packs deleted, 0 repacked"), "{out}");
    assert_eq!(env.store_snapshot(), snapshot);
    let plan = env.json(&["gc", "--grace", "0s", "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert!(plan["size_after"].as_u64() < plan["size_before"].as_u64());
    assert_eq!(env.store_snapshot(), snapshot, "a dry run changes nothing");
}

#[test]
fn mostly_dead_packs_are_repacked() {
    let env = Env::init();
    env.write("d/big.bin", noise(900_000, 1));
    env.write("d/small.txt", "keep me\n".repeat(100));
    env.ok(&["log", "m", "d", "-a", "first"]);
    std::fs::remove_file(env.path("d/big.bin")).unwrap();
    env.ok(&["log", "m", "d"]);
    env.fails(&["rm", "m:v0"], 3);
    env.ok(&["rm", "m:v0", "--delete-aliases"]);
    let out = env.json(&["gc", "--grace", "0s"]);
    assert_eq!(out["repacked_packs"], 1, "{out}");
    assert!(out["size_after"].as_u64().unwrap() + 800_000 < out["size_before"].as_u64().unwrap());
    env.ok(&["checkout", "m:v1", "o"]);
    assert_eq!(env.read_tree("o"), env.read_tree("d"));
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));
}

#[test]
fn rm_refuses_aliased_versions_and_moves_latest() {
    let env = Env::init();
    five_versions(&env);
    env.ok(&["alias", "set", "m:v2", "best"]);
    let snapshot = env.store_snapshot();
    let err = env.fails(&["rm", "m:v1", "m:v2"], 3);
    assert!(
        err.contains("`m:v2` has aliases best") && err.contains("--delete-aliases"),
        "{err}"
    );
    assert_eq!(env.store_snapshot(), snapshot);
    assert_eq!(
        env.json(&["versions", "m"]).as_array().unwrap().len(),
        5,
        "nothing deleted"
    );
    let out = env.ok(&["rm", "m:v4", "m:v2", "--delete-aliases"]);
    assert!(
        out.contains("m:latest -> v3") && out.contains("m:best"),
        "{out}"
    );
    assert_eq!(env.json(&["show", "m"])["version"], 3);
    let versions: Vec<u64> = env
        .json(&["versions", "m"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, vec![0, 1, 3]);
    let all = env.json(&["versions", "m", "--all"]);
    assert_eq!(all[2]["state"], "deleted");
}

#[test]
fn prune_by_rule() {
    let env = Env::init();
    five_versions(&env);
    env.ok(&["alias", "set", "m:v0", "golden"]);
    let err = env.fails(&["prune", "m"], 1);
    assert!(err.contains("needs a rule"), "{err}");
    let dry = env.json(&["prune", "m", "--keep-last", "2", "--dry-run"]);
    assert_eq!(dry["deleted"], serde_json::json!(["m:v1", "m:v2"]));
    assert_eq!(env.json(&["versions", "m"]).as_array().unwrap().len(), 5);
    // Nothing is older than an hour yet.
    assert_eq!(
        env.json(&["prune", "m", "--unaliased", "--older-than", "1h"])["deleted"],
        serde_json::json!([])
    );
    let out = env.json(&["prune", "m", "--unaliased"]);
    assert_eq!(
        out["deleted"],
        serde_json::json!(["m:v1", "m:v2", "m:v3"]),
        "aliased v0 and latest v4 stay"
    );
    env.fails(&["prune", "nope", "--unaliased"], 1);
}

#[test]
fn a_cap_without_a_remote_evicts_nothing_and_says_why() {
    let env = Env::init();
    five_versions(&env);
    let snapshot = env.store_snapshot();
    let err = env.art().args(["gc", "--max", "100KB"]).output().unwrap();
    assert_eq!(err.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&err.stdout);
    assert!(
        stdout.contains("pinned because no remote holds it"),
        "{stdout}"
    );
    assert_eq!(env.store_snapshot(), snapshot);
    for bad in ["1XB", "-1GB", "lots"] {
        let e = env.fails(&["gc", &format!("--max={bad}")], 2);
        assert!(e.contains("invalid size"), "{e}");
    }
    let du = env.json(&["du"]);
    assert_eq!(du["evictable"], 0);
    assert!(du["pinned"].as_u64().unwrap() > 2_000_000);
}

#[test]
fn packs_a_remote_holds_are_evicted_least_recently_used_first() {
    // Remotes arrive in a later issue; mark every pack as held by one, as a push will.
    let env = Env::init();
    five_versions(&env);
    let conn = rusqlite::Connection::open(env.path(".artifacts/index.db")).unwrap();
    conn.execute("UPDATE packs SET remote_state = 'synced'", [])
        .unwrap();
    drop(conn);
    let out = env.json(&["gc", "--max", "0"]);
    assert_eq!(out["cap_met"], true, "{out}");
    assert!(out["evicted_packs"].as_u64().unwrap() >= 5);
    assert_eq!(env.pack_bytes(), 0);
    let fsck = env.ok(&["fsck"]);
    assert!(fsck.contains("evicted") && fsck.contains(": ok"), "{fsck}");
}

#[test]
fn gc_max_in_config_applies_after_each_log() {
    let env = Env::init();
    env.ok(&["config", "set", "gc.max", "50MB"]);
    assert_eq!(env.ok(&["config", "get", "gc.max"]).trim(), "50MB");
    let err = env.fails(&["config", "set", "gc.max", "lots"], 1);
    assert!(err.contains("invalid size"), "{err}");
    let err = env.fails(&["config", "set", "no.such", "1"], 1);
    assert!(err.contains("unknown key"), "{err}");
    env.ok(&["config", "set", "gc.max", "1KB"]);
    env.write("d/a", noise(10_000, 1));
    let out = env.art().args(["log", "m", "d"]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gc (gc.max = 1000 B)") && stderr.contains("pinned"),
        "{stderr}"
    );
    env.ok(&["config", "unset", "gc.max"]);
    assert!(!env.ok(&["config", "list"]).contains("gc.max"));
}

#[test]
fn debris_older_than_the_grace_period_is_swept() {
    let env = Env::init();
    five_versions(&env);
    let stale = env.path(".artifacts/tmp/pack-stale.tmp");
    std::fs::write(&stale, b"half a pack").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_hours(2);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let fresh = env.path(".artifacts/tmp/pack-fresh.tmp");
    std::fs::write(&fresh, b"in progress").unwrap();
    assert!(env.ok(&["fsck"]).contains("note: 2 temporary file(s)"));
    let out = env.json(&["gc"]);
    assert_eq!(out["debris_removed"], 1);
    assert!(!stale.exists() && fresh.exists());
}

#[test]
fn du_splits_unique_and_shared_bytes() {
    let env = Env::init();
    env.write("a/shared.bin", noise(200_000, 5));
    env.write("a/own.bin", noise(100_000, 6));
    env.write("b/shared.bin", noise(200_000, 5));
    env.ok(&["log", "alpha", "a"]);
    env.ok(&["log", "beta", "b"]);
    let du = env.json(&["du"]);
    let alpha = &du["artifacts"][0];
    let beta = &du["artifacts"][1];
    assert_eq!(alpha["name"], "alpha");
    let (unique, shared) = (
        alpha["unique"].as_u64().unwrap(),
        alpha["shared"].as_u64().unwrap(),
    );
    assert!((100_000..100_500).contains(&unique), "{alpha}");
    assert!((200_000..200_500).contains(&shared), "{alpha}");
    assert_eq!(beta["shared"], alpha["shared"]);
    assert!(env.ok(&["du"]).starts_with("ARTIFACT  VERSIONS"));
}

/// A training job logging while the user collects garbage: no committed version may lose data.
#[test]
fn gc_and_log_running_at_once_never_lose_a_committed_version() {
    let env = Env::init();
    env.write("d/base.bin", noise(200_000, 1));
    env.ok(&["log", "m", "d"]);
    let bin = assert_cmd::cargo::cargo_bin("art");
    let root = env.root().to_path_buf();
    let gc_root = root.clone();
    let gc_bin = bin.clone();
    let collector = std::thread::spawn(move || {
        for _ in 0..15 {
            let status = std::process::Command::new(&gc_bin)
                .args(["gc", "--grace", "0s", "-q"])
                .current_dir(&gc_root)
                .status()
                .unwrap();
            assert!(status.success());
        }
    });
    let mut trees = Vec::new();
    for i in 0..15u64 {
        env.write("d/step.bin", noise(150_000, 100 + i));
        if i % 3 == 0 {
            // Delete an older version so gc has something to collect.
            let _ = std::process::Command::new(&bin)
                .args(["rm", "m:v0", "-q"])
                .current_dir(&root)
                .status();
        }
        let out = succeeded(
            std::process::Command::new(&bin)
                .args(["log", "m", "d", "--json"])
                .current_dir(&root)
                .output()
                .unwrap(),
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        trees.push((
            v["reference"].as_str().unwrap().to_owned(),
            env.read_tree("d"),
        ));
    }
    collector.join().unwrap();
    for (reference, tree) in &trees {
        let dest = format!("check-{}", reference.replace(':', "-"));
        env.ok(&["checkout", reference, &dest]);
        assert_eq!(&env.read_tree(&dest), tree, "{reference}");
    }
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));
}

#[test]
fn a_gc_killed_while_repacking_leaves_a_clean_store() {
    let env = Env::init();
    for i in 0..12u64 {
        env.write(&format!("d/f{i}.bin"), noise(600_000, i));
    }
    env.write("d/keep.txt", "kept\n".repeat(1000));
    env.ok(&["log", "m", "d", "-q"]);
    for i in 0..12u64 {
        std::fs::remove_file(env.path(&format!("d/f{i}.bin"))).unwrap();
    }
    env.ok(&["log", "m", "d", "-q"]);
    let kept = env.read_tree("d");
    env.ok(&["rm", "m:v0"]);
    let bin = assert_cmd::cargo::cargo_bin("art");
    for delay_ms in [0u64, 2, 5, 10, 20, 40] {
        let mut child = std::process::Command::new(&bin)
            .args(["gc", "--grace", "0s", "-q"])
            .current_dir(env.root())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let fsck = env.art().args(["fsck", "--read-data"]).output().unwrap();
        assert!(
            fsck.status.success(),
            "after a kill at {delay_ms} ms: {}",
            String::from_utf8_lossy(&fsck.stdout)
        );
        let dest = format!("o{delay_ms}");
        env.ok(&["checkout", "m:v1", &dest]);
        assert_eq!(env.read_tree(&dest), kept);
    }
    env.ok(&["gc", "--grace", "0s"]);
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));
}
