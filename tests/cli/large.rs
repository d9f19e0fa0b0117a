//! Trees whose manifest outgrows one blob (stored chunked, like a large file), and the stat
//! cache rule that lets `log` trust a row without looking its content up.

use crate::util::{Env, noise};

/// Whether the version's manifest is stored as a chunk list rather than one blob.
fn manifest_is_chunked(env: &Env, reference: &str) -> bool {
    let digest = env.json(&["show", reference])["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let conn = rusqlite::Connection::open(env.path(".artifacts/index.db")).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM file_chunks WHERE lower(hex(file_digest)) = ?1",
            [digest],
            |r| r.get(0),
        )
        .unwrap();
    rows == 1
}

#[test]
fn a_manifest_larger_than_one_blob_is_chunked_and_round_trips() {
    let env = Env::init();
    // 12,000 entries of about 125 bytes: a manifest of about 1.5 MiB.
    for d in 0..12 {
        for f in 0..1000 {
            let n = d * 1000 + f;
            env.write(&format!("data/d{d:02}/f{n:05}.txt"), format!("file {n}\n"));
        }
    }
    env.ok(&["log", "ds", "data"]);
    assert!(manifest_is_chunked(&env, "ds:v0"));
    let v0 = env.read_tree("data");
    env.write("data/d11/f11999.txt", "changed\n");
    env.write("data/d11/new.bin", noise(5000, 1));
    env.ok(&["log", "ds", "data"]);
    let v1 = env.read_tree("data");

    let out = env
        .art()
        .args(["--json", "diff", "ds:v0", "ds:v1"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "differences exit 1 as diff(1) does"
    );
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes: Vec<(&str, &str)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap(), c["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [("modified", "d11/f11999.txt"), ("added", "d11/new.bin")]
    );
    // 12,000 files: checkout writes them in more than one batch.
    env.ok(&["checkout", "ds:v0", "out0"]);
    assert_eq!(env.read_tree("out0"), v0);
    // Every batch recorded what it wrote in the stat cache.
    let conn = rusqlite::Connection::open(env.path(".artifacts/index.db")).unwrap();
    let recorded: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM stat_cache WHERE CAST(path AS TEXT) LIKE '%/out0/%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, 12_000);
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));

    // Deleting v0 and collecting keeps every manifest chunk v1 needs.
    env.ok(&["rm", "ds:v0"]);
    env.ok(&["gc", "--grace", "0s"]);
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));
    env.ok(&["checkout", "ds:v1", "out1"]);
    assert_eq!(env.read_tree("out1"), v1);
}

#[test]
fn content_collected_by_gc_is_read_again_by_the_next_log() {
    let env = Env::init();
    env.write("data/a.bin", noise(50_000, 1));
    env.write("data/b.txt", "bee\n");
    env.ok(&["log", "ds", "data"]);
    env.ok(&["rm", "ds:v0", "--delete-aliases"]);
    env.ok(&["gc", "--grace", "0s"]);
    // The stat cache vouched for these files; their content is gone, so they are read and
    // stored again rather than referenced.
    let out = env.json(&["log", "ds", "data"]);
    assert_eq!(out["files_read"], 2, "{out}");
    assert_eq!(out["new_blobs"], 3, "two files and the manifest: {out}");
    env.ok(&["checkout", "ds:latest", "out"]);
    assert_eq!(env.read_tree("out"), env.read_tree("data"));
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));
}
