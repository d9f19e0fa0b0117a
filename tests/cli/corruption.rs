//! Corruption (issue 13): a flipped byte in a pack, a truncated pack, a deleted pack and a
//! damaged index. `art fsck --read-data` names the damaged blobs and the versions and files
//! they belong to; checkout of an affected file fails loudly and never writes wrong bytes;
//! `art fsck --repair` fetches the packs again from a remote that has them and rebuilds the
//! index.

use crate::reliability::{Report, hashes};
use crate::util::{Env, files_in, noise};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

const BIG: usize = 700_000;

/// `m:v0` and `m:v1` (which share `d/shared.bin`) in 1 MiB packs; returns their trees.
fn store() -> (Env, Vec<BTreeMap<String, String>>) {
    let env = Env::init();
    env.ok(&["config", "set", "store.pack_size", "1MiB"]);
    env.write("d/shared.bin", noise(BIG, 1));
    env.write("d/small.txt", "small\n".repeat(50));
    let mut trees = Vec::new();
    for k in 0..2u64 {
        env.write("d/own.bin", noise(BIG, 10 + k));
        env.ok(&["log", "m", "d", "-q"]);
        trees.push(hashes(env.read_tree("d")));
    }
    (env, trees)
}

fn packs(env: &Env) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = files_in(&env.path(".artifacts/packs"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect();
    out.sort();
    out
}

/// `art --json fsck ARGS`, whatever its exit code: (exit code, report).
fn fsck(env: &Env, args: &[&str]) -> (i32, Value) {
    let out = env
        .art()
        .args(["--json", "fsck"])
        .args(args)
        .output()
        .expect("run art");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "fsck {args:?}: no JSON\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), report)
}

/// Checks out every version into a fresh directory: each one restores exactly, or (when
/// `affected` names it) fails with exit 1 leaving only files with the right bytes.
fn check_checkouts(env: &Env, trees: &[BTreeMap<String, String>], affected: &[Value], when: &str) {
    for (k, want) in trees.iter().enumerate() {
        let reference = format!("m:v{k}");
        let dir = format!("restore-{k}");
        let out = env
            .art()
            .args(["checkout", &reference, &dir, "-q"])
            .output()
            .expect("run art");
        let hit = affected.iter().any(|a| a["version"] == reference.as_str());
        let got = hashes(env.read_tree(&dir));
        if hit {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{when}: {reference}: {stderr}");
            assert!(
                stderr.contains("corrupt") || stderr.contains("missing") || stderr.contains("pack"),
                "{when}: {reference}: {stderr}"
            );
            for (path, hash) in &got {
                assert!(
                    path.contains(".art-tmp-") || want.get(path) == Some(hash),
                    "{when}: {reference}: `{path}` was written with wrong bytes"
                );
            }
        } else {
            assert!(out.status.success(), "{when}: {reference} should restore");
            assert!(got == *want, "{when}: {reference} restores other bytes");
        }
        let _ = std::fs::remove_dir_all(env.path(&dir));
    }
}

/// Damages a pack with `damage`, then checks what fsck names, checkouts and the repair.
fn damage_and_repair(
    label: &str,
    damage: impl Fn(&PathBuf),
    report: &mut Report,
    named: &mut usize,
) {
    let (env, trees) = store();
    env.ok(&["remote", "add", "origin", "remote"]);
    env.ok(&["push", "-q"]);
    // The pack holding `m:v1`'s own file: v1 is affected, v0 not (unless its manifest or
    // small file shares the pack, which the assertions below allow).
    for pack in packs(&env) {
        let name = pack
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let backup = std::fs::read(&pack).expect("read pack");
        damage(&pack);
        let when = format!("{label} of pack {}", &name[..16]);
        let (code, out) = fsck(&env, &["--read-data"]);
        assert_eq!(code, 1, "{when}: {out:#}");
        let affected = out["affected"].as_array().expect("affected").clone();
        let problems = out["problems"].to_string();
        assert!(
            problems.contains(&name[..16]),
            "{when}: the pack is not named: {out:#}"
        );
        for a in &affected {
            assert_eq!(a["pack"], name.as_str(), "{when}: {a}");
            let v: usize = a["version"].as_str().expect("version")[3..]
                .parse()
                .expect("n");
            let path = a["path"].as_str().expect("path");
            let expected = if path.is_empty() {
                format!("m:v{v}: manifest: damaged")
            } else {
                assert!(trees[v].contains_key(path), "{when}: {a}");
                format!("m:v{v}: `{path}` is damaged")
            };
            assert!(
                problems.contains(&expected),
                "{when}: {a} not in the problems"
            );
        }
        check_checkouts(&env, &trees, &affected, &when);

        let repaired = env.json(&["fsck", "--repair"]);
        assert_eq!(
            repaired["repair"]["fetched"][0][0],
            name.as_str(),
            "{when}: {repaired:#}"
        );
        assert_eq!(
            repaired["fsck"]["problems"],
            serde_json::json!([]),
            "{when}"
        );
        assert_eq!(
            std::fs::read(&pack).expect("read pack"),
            backup,
            "{when}: same bytes"
        );
        check_checkouts(&env, &trees, &[], &format!("{when}, repaired"));
        report.trial(false);
        *named += affected.len();
    }
}

#[test]
fn corruption_flipped_truncated_and_deleted_packs_are_named_and_repaired() {
    let mut report =
        Report::new("corruption: each pack flipped, truncated, deleted; then repaired");
    let mut named = 0;
    damage_and_repair(
        "a flipped byte in the middle",
        |p| {
            let mut bytes = std::fs::read(p).expect("read");
            let at = bytes.len() / 2;
            bytes[at] ^= 0x40;
            std::fs::write(p, bytes).expect("write");
        },
        &mut report,
        &mut named,
    );
    damage_and_repair(
        "truncation",
        |p| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .expect("open");
            let len = f.metadata().expect("stat").len();
            f.set_len(len / 3).expect("truncate");
        },
        &mut report,
        &mut named,
    );
    damage_and_repair(
        "deletion",
        |p| std::fs::remove_file(p).expect("delete"),
        &mut report,
        &mut named,
    );
    report.note(format!(
        "{named} affected files named by fsck; checkouts of them failed without a wrong byte; every pack fetched back"
    ));
    report.finish();
}

#[test]
fn corruption_without_a_remote_copy_is_reported_not_hidden() {
    let (env, trees) = store();
    let pack = packs(&env).pop().expect("a pack");
    std::fs::remove_file(&pack).expect("delete");
    let out = env
        .art()
        .args(["fsck", "--repair"])
        .output()
        .expect("run art");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no remote holds an intact copy"), "{text}");
    let (_, report) = fsck(&env, &["--read-data"]);
    let affected = report["affected"].as_array().expect("affected").clone();
    assert!(!affected.is_empty(), "{report:#}");
    check_checkouts(&env, &trees, &affected, "a deleted pack, no remote");
}

#[test]
fn corruption_of_the_index_is_repaired_by_a_rebuild() {
    let (env, trees) = store();
    env.ok(&["alias", "set", "m:v0", "best"]);
    let before = env.json(&["versions", "m"]);
    let db = env.path(".artifacts/index.db");
    let mut bytes = std::fs::read(&db).expect("read index");
    // Pages past the header: damage SQLite notices, not a bad header it refuses outright.
    for b in bytes.iter_mut().skip(4096).step_by(97).take(400) {
        *b ^= 0xff;
    }
    std::fs::write(&db, bytes).expect("write index");
    let repaired = env.json(&["fsck", "--repair"]);
    assert_eq!(repaired["index_rebuilt"], true, "{repaired:#}");
    assert_eq!(
        repaired["fsck"]["problems"],
        serde_json::json!([]),
        "{repaired:#}"
    );
    assert_eq!(env.json(&["versions", "m"]), before);
    check_checkouts(&env, &trees, &[], "after the index was rebuilt");
}
