//! References (issue 15): `art log --ref` records files where they live; checkout fetches
//! and verifies them, naming every one that changed or vanished.

use crate::util::Env;

fn uri(env: &Env, rel: &str) -> String {
    format!("file://{}", env.path(rel).display())
}

#[test]
fn file_references_are_pinned_verified_and_restored() {
    let env = Env::init();
    env.tree(&[
        ("ext/imgs/1.png", b"one"),
        ("ext/imgs/2.png", b"two"),
        ("ext/w.bin", b"weights"),
        ("d/local.txt", b"local"),
    ]);
    let w = format!("{}=model/w.bin", uri(&env, "ext/w.bin"));
    let out = env.json(&["log", "ds", "d", "--ref", "ext/imgs", "--ref", &w]);
    assert_eq!(
        (out["files"].as_u64(), out["size"].as_u64()),
        (Some(4), Some(18))
    );
    let stored = env.pack_bytes();
    assert!(
        stored < 2000,
        "references are not copied into the store: {stored}"
    );
    // Re-logging the same objects is a no-op.
    assert!(
        env.ok(&["log", "ds", "d", "--ref", "ext/imgs", "--ref", &w])
            .contains("unchanged")
    );

    let files = env.json(&["ls", "ds"]);
    let listed: Vec<(String, Option<String>)> = files
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["uri"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("imgs/1.png".to_owned(), Some(uri(&env, "ext/imgs/1.png"))),
            ("imgs/2.png".to_owned(), Some(uri(&env, "ext/imgs/2.png"))),
            ("local.txt".to_owned(), None),
            ("model/w.bin".to_owned(), Some(uri(&env, "ext/w.bin"))),
        ]
    );
    assert!(env.ok(&["ls", "ds"]).contains("r     3 B"));
    let du = env.json(&["du"]);
    assert_eq!(du["artifacts"][0]["referenced"], 13, "{du}");

    let out = env.json(&["checkout", "ds", "out"]);
    assert_eq!(
        (out["written"].as_u64(), out["references"].as_u64()),
        (Some(4), Some(3))
    );
    let tree = env.read_tree("out");
    assert_eq!(tree["imgs/2.png"], b"two");
    assert_eq!(tree["model/w.bin"], b"weights");
    // What checkout wrote is known: a second checkout changes nothing and sees no conflict.
    let again = env.json(&["checkout", "ds", "out"]);
    assert_eq!(
        (again["written"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(4))
    );
    env.ok(&["verify", "ds"]);
    // cat reads a reference where it lives; find knows checksummed ones.
    assert_eq!(env.ok(&["cat", "ds", "model/w.bin"]), "weights");
    let found = env.json(&["find", "ext/imgs/1.png"]);
    assert_eq!(found[0]["path"], "imgs/1.png", "{found}");

    // One object changes (same size), one vanishes: checkout names both, writes nothing.
    env.write("ext/imgs/2.png", "TWO");
    std::fs::remove_file(env.path("ext/w.bin")).expect("rm");
    let err = env.fails(&["checkout", "ds:v0", "fresh"], 1);
    assert!(
        err.contains("2 reference(s) changed or vanished")
            && err.contains("`imgs/2.png`")
            && err.contains("changed (its content differs)")
            && err.contains("`model/w.bin`")
            && err.contains("vanished"),
        "{err}"
    );
    assert!(!env.path("fresh").exists(), "nothing written");
    let verified = env.art().args(["verify", "ds:v0"]).output().expect("run");
    let text = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(verified.status.code(), Some(1), "{text}");
    assert!(
        text.contains("reference `imgs/2.png`") && text.contains("reference `model/w.bin`"),
        "{text}"
    );
    let err = env.fails(&["cat", "ds:v0", "imgs/2.png"], 1);
    assert!(err.contains("changed since it was logged"), "{err}");
    let out = env.json(&["checkout", "ds:v0", "fresh", "--skip-references"]);
    assert_eq!(
        (out["written"].as_u64(), out["not_selected"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        env.read_tree("fresh").keys().collect::<Vec<_>>(),
        ["local.txt"]
    );

    // The changed object makes a new version; v0 keeps its pin.
    let out = env.json(&["log", "ds", "d", "--ref", "ext/imgs"]);
    assert_eq!(out["version"], 1);
    env.ok(&["checkout", "ds:v1", "out", "--force"]);
    assert_eq!(env.read_tree("out")["imgs/2.png"], b"TWO");
}

#[test]
fn no_checksum_pins_size_and_mtime() {
    let env = Env::init();
    env.tree(&[("ext/a.bin", b"aaaa"), ("ext/b.bin", b"bbbb")]);
    env.ok(&["log", "raw", "--ref", "ext", "--no-checksum"]);
    assert!(
        env.ok(&["log", "raw", "--ref", "ext", "--no-checksum"])
            .contains("unchanged, still v0"),
        "relog of untouched objects is a no-op"
    );
    assert!(env.ok(&["ls", "raw"]).contains("(no checksum)"));
    let out = env.json(&["checkout", "raw", "o1"]);
    assert_eq!(out["references"], 2);
    assert_eq!(env.read_tree("o1")["ext/a.bin"], b"aaaa");

    // Same size, new mtime: a new version, and v0's checkout refuses the changed object.
    let f = std::fs::File::options()
        .write(true)
        .open(env.path("ext/a.bin"))
        .expect("open");
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .expect("touch");
    drop(f);
    let err = env.fails(&["checkout", "raw:v0", "o2"], 1);
    assert!(
        err.contains("`ext/a.bin`") && err.contains("modified since it was logged"),
        "{err}"
    );
    assert_eq!(
        env.json(&["log", "raw", "--ref", "ext", "--no-checksum"])["version"],
        1
    );
}

#[test]
fn reference_errors_leave_the_store_unchanged() {
    let env = Env::init();
    env.tree(&[
        ("ext/1", b"1"),
        ("ext/2", b"2"),
        ("ext/3", b"3"),
        ("d/ext", b"clash"),
    ]);
    let before = env.store_snapshot();
    let err = env.fails(&["log", "ds", "--ref", "ext", "--max-objects", "2"], 1);
    assert!(
        err.contains("reference `ext` holds 3 objects, more than --max-objects 2"),
        "{err}"
    );
    let err = env.fails(&["log", "ds", "--ref", "hdfs://nn/x"], 1);
    assert!(err.contains("scheme `hdfs` is not supported"), "{err}");
    let err = env.fails(&["log", "ds", "--ref", "missing"], 1);
    assert!(err.contains("reference `missing`: cannot read it"), "{err}");
    let err = env.fails(&["log", "ds", "d", "--ref", "ext/1=ext"], 1);
    assert!(err.contains("--ref URI=NAME"), "{err}");
    assert_eq!(env.store_snapshot(), before);
    assert!(env.ok(&["ls"]).contains("no artifacts yet"));
}

/// References have no blob: index rebuild, gc, fsck, push and clone handle them, and a clone
/// restores them from where they live.
#[test]
fn references_survive_rebuild_gc_push_and_clone() {
    let a = Env::init();
    a.tree(&[("ext/big.bin", b"referenced"), ("d/x.txt", b"stored")]);
    a.ok(&["log", "ds", "d", "--ref", "ext/big.bin"]);
    let listing = a.ok(&["ls", "ds"]);
    a.ok(&["index", "rebuild"]);
    assert_eq!(a.ok(&["ls", "ds"]), listing);
    a.ok(&["gc", "--grace", "0s"]);
    a.ok(&["fsck", "--read-data"]);
    let remote = a.path("remote").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    a.ok(&["push"]);

    let b = Env::new();
    b.ok(&["clone", &remote, "."]);
    assert_eq!(b.ok(&["ls", "ds"]), listing);
    b.ok(&["checkout", "ds", "out"]);
    assert_eq!(b.read_tree("out")["big.bin"], b"referenced");
    b.ok(&["fsck"]);
}

/// `http://` references against a server the test runs: pinned by ETag and size; a changed
/// ETag and a 404 are named at checkout and by verify.
#[test]
fn http_references_are_pinned_by_etag() {
    let server = crate::util::HttpServer::start();
    server.put("/models/w.bin", "v1", b"weights v1");
    server.put("/cfg.json", "c1", b"{}");
    let env = Env::init();
    let w = server.url("/models/w.bin");
    let cfg = format!("{}=conf/cfg.json", server.url("/cfg.json"));
    env.ok(&["log", "m", "--ref", &w, "--ref", &cfg]);
    assert!(
        env.ok(&["log", "m", "--ref", &w, "--ref", &cfg])
            .contains("unchanged")
    );
    let files = env.json(&["ls", "m"]);
    assert_eq!(files[1]["path"], "w.bin");
    assert_eq!(files[1]["pin"], "etag:\"v1\"", "{files}");

    env.ok(&["checkout", "m", "out"]);
    assert_eq!(env.read_tree("out")["w.bin"], b"weights v1");
    assert_eq!(env.read_tree("out")["conf/cfg.json"], b"{}");
    env.ok(&["verify", "m"]);

    // Same bytes, new ETag: changed. Gone: vanished. Both named, nothing written.
    server.put("/models/w.bin", "v2", b"weights v1");
    server.remove("/cfg.json");
    let err = env.fails(&["checkout", "m", "fresh"], 1);
    assert!(
        err.contains("`w.bin`") && err.contains("changed (now etag:\"v2\", logged etag:\"v1\")"),
        "{err}"
    );
    assert!(
        err.contains("`conf/cfg.json`") && err.contains("vanished (404"),
        "{err}"
    );
    assert!(!env.path("fresh").exists());
    let err = env.fails(&["log", "m", "--ref", &cfg], 1);
    assert!(err.contains("404"), "{err}");
    assert_eq!(env.json(&["log", "m", "--ref", &w])["version"], 1);
    env.ok(&["checkout", "m", "fresh"]);
    assert_eq!(env.read_tree("fresh")["w.bin"], b"weights v1");
}

/// `--checksum` downloads a web object at log time and pins its content too: a server that
/// changes the bytes but keeps the ETag (same size) is caught at checkout, nothing written.
#[test]
fn checksum_pins_the_content_of_a_web_object() {
    let server = crate::util::HttpServer::start();
    server.put("/w.bin", "e1", b"weights v1");
    let env = Env::init();
    let w = server.url("/w.bin");
    env.ok(&["log", "m", "--ref", &w, "--checksum"]);
    let files = env.json(&["ls", "m"]);
    let pin = files[0]["pin"].as_str().expect("pin");
    assert!(pin.starts_with("etag:\"e1\" blake3:"), "{pin}");
    assert!(
        env.ok(&["log", "m", "--ref", &w, "--checksum"])
            .contains("unchanged")
    );
    env.ok(&["checkout", "m", "out"]);
    assert_eq!(env.read_tree("out")["w.bin"], b"weights v1");
    env.ok(&["verify", "m"]);

    server.put("/w.bin", "e1", b"weights v2");
    let err = env.fails(&["checkout", "m", "fresh"], 1);
    assert!(
        err.contains("`w.bin`") && err.contains("content hashes differently"),
        "{err}"
    );
    assert!(
        !env.path("fresh/w.bin").exists(),
        "no wrong bytes were written"
    );
    let err = env.fails(&["log", "m", "--ref", &w, "--checksum", "--no-checksum"], 2);
    assert!(err.contains("cannot be used with"), "{err}");
}
