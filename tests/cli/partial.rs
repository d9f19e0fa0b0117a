//! Partial access (issue 15): `checkout`/`download --only`, `ls REF GLOB`, `cat`, `find`, and
//! that on a lazy clone they fetch only the selected files' bytes.

use crate::util::{Env, noise};
use std::collections::BTreeMap;

fn paths(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_owned())
        .collect()
}

fn keys(tree: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    tree.keys().map(String::as_str).collect()
}

#[test]
fn only_materialises_the_selection_and_leaves_the_rest_alone() {
    let env = Env::init();
    env.tree(&[
        ("d/images/a.png", b"a0"),
        ("d/images/b.png", b"b0"),
        ("d/images/sub/c.png", b"c0"),
        ("d/labels/a.txt", b"la0"),
        ("d/labels/b.txt", b"lb0"),
        ("d/top.txt", b"top"),
    ]);
    env.ok(&["log", "ds", "d"]);
    env.write("d/images/a.png", "a1");
    env.write("d/labels/a.txt", "la1");
    env.ok(&["log", "ds", "d"]);
    let v1 = env.read_tree("d");

    let listed = env.json(&["ls", "ds", "*.txt"]);
    assert_eq!(paths(&listed), ["labels/a.txt", "labels/b.txt", "top.txt"]);
    let listed = env.json(&["ls", "ds", "images/", "!sub/"]);
    assert_eq!(paths(&listed), ["images/a.png", "images/b.png"]);

    let out = env.json(&["checkout", "ds:v0", "out", "--only", "images/"]);
    assert_eq!(
        (out["written"].as_u64(), out["not_selected"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        keys(&env.read_tree("out")),
        ["images/a.png", "images/b.png", "images/sub/c.png"]
    );

    // Files outside the selection are art's business only when selected: an unknown file
    // there is neither a conflict nor deleted.
    env.write("out/mine.txt", "mine");
    env.write("out/labels/x.txt", "x");
    env.ok(&["checkout", "ds:v1", "out", "--only", "images/"]);
    let tree = env.read_tree("out");
    assert_eq!(tree["images/a.png"], b"a1");
    assert_eq!(tree["mine.txt"], b"mine");
    assert_eq!(tree["labels/x.txt"], b"x");

    // Inside the selection the usual rules hold: an unknown file is a conflict (exit 3),
    // and the stat cache knows what --only wrote.
    env.write("out/images/extra.png", "mine too");
    env.write("out/images/b.png", "edited");
    let err = env.fails(&["checkout", "ds:v0", "out", "--only", "*.png"], 3);
    assert!(
        err.contains("images/b.png") && err.contains("images/extra.png"),
        "{err}"
    );
    assert!(!err.contains("mine.txt"), "{err}");
    assert_eq!(
        env.read_tree("out")["images/a.png"],
        b"a1",
        "nothing touched"
    );
    std::fs::remove_file(env.path("out/images/extra.png")).expect("rm");
    env.write("out/images/b.png", "b0");

    // A full checkout now: only the unknown files outside the earlier selection conflict;
    // what --only wrote is known.
    let err = env.fails(&["checkout", "ds:v1", "out"], 3);
    assert!(
        err.contains("mine.txt") && err.contains("labels/x.txt"),
        "{err}"
    );
    assert!(!err.contains("images/"), "{err}");
    env.ok(&["checkout", "ds:v1", "out", "--force"]);
    assert_eq!(env.read_tree("out"), v1);

    // download --only writes the selection and keeps everything else.
    env.write("dl/keep.bin", "keep");
    let out = env.json(&[
        "download",
        "ds:v0",
        "dl",
        "--only",
        "labels/a.txt",
        "/top.txt",
    ]);
    assert_eq!(out["written"], 2);
    let tree = env.read_tree("dl");
    assert_eq!(keys(&tree), ["keep.bin", "labels/a.txt", "top.txt"]);
    assert_eq!(tree["labels/a.txt"], b"la0");

    let err = env.fails(&["checkout", "ds", "x", "--only", "a{b"], 2);
    assert!(err.contains("invalid pattern `a{b`"), "{err}");
    assert!(!env.path("x").exists());
}

#[test]
fn cat_and_find() {
    let env = Env::init();
    env.tree(&[("d/a.txt", b"alpha\n"), ("d/sub/b.bin", b"beta")]);
    env.ok(&["log", "ds", "d"]);
    env.write("d/a.txt", "alpha 2\n");
    env.ok(&["log", "ds", "d"]);
    env.tree(&[("m/copy.bin", b"beta")]);
    env.ok(&["log", "model", "m"]);

    assert_eq!(env.ok(&["cat", "ds:v0", "a.txt"]), "alpha\n");
    assert_eq!(env.ok(&["cat", "ds", "a.txt"]), "alpha 2\n");
    let out = env.json(&["cat", "ds:v0", "sub/b.bin", "-o", "got.bin"]);
    assert_eq!(
        (out["bytes"].as_u64(), out["fetched_bytes"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(std::fs::read(env.path("got.bin")).expect("read"), b"beta");
    let err = env.fails(&["cat", "ds", "nope.txt"], 1);
    assert!(
        err.contains("`ds:v1` has no file `nope.txt`; list its files with `art ls ds:v1`"),
        "{err}"
    );
    let err = env.fails(&["--json", "cat", "ds", "a.txt"], 1);
    assert!(err.contains("needs `--output FILE`"), "{err}");

    // By local content: the file is in both versions of ds and in model.
    env.write("probe.bin", "beta");
    let found = env.json(&["find", "probe.bin"]);
    let hits: Vec<(String, String)> = found
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            (
                f["reference"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        hits,
        [
            ("ds:v0".to_owned(), "sub/b.bin".to_owned()),
            ("ds:v1".to_owned(), "sub/b.bin".to_owned()),
            ("model:v0".to_owned(), "copy.bin".to_owned()),
        ]
    );
    // By digest prefix: only the old a.txt.
    let digest = env.json(&["ls", "ds:v0", "a.txt"])[0]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let text = env.ok(&["find", &digest[..10]]);
    assert!(text.contains("ds:v0") && text.contains("a.txt"), "{text}");
    assert!(!text.contains("ds:v1"), "{text}");
    // Deleted versions are not listed; nothing found is exit 1, like grep.
    env.ok(&["rm", "model:v0"]);
    assert_eq!(
        env.json(&["find", "probe.bin"]).as_array().map(Vec::len),
        Some(2)
    );
    env.write("other.bin", "never logged");
    let out = env.art().args(["find", "other.bin"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no live version contains"));
    let err = env.fails(&["find", "zz-not-hex"], 1);
    assert!(err.contains("neither a file nor a digest prefix"), "{err}");
}

/// Four incompressible 1 MB files, pushed to a directory remote and cloned: the clone
/// holds no data, so every byte `cat` and `checkout --only` need is fetched and counted.
#[test]
fn cat_and_only_on_a_lazy_clone_fetch_only_the_selected_bytes() {
    const SIZE: u64 = 1_000_000;
    let a = Env::init();
    for i in 0..4u64 {
        a.write(&format!("d/f{i}.bin"), noise(1_000_000, i + 7));
    }
    a.ok(&["log", "ds", "d"]);
    let remote = a.path("remote").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    a.ok(&["push"]);

    let b = Env::new();
    b.ok(&["clone", &remote, "."]);
    assert_eq!(b.pack_bytes(), 0, "a clone holds no data");

    let out = b.json(&["cat", "ds", "f2.bin", "-o", "f2.bin"]);
    let fetched = out["fetched_bytes"].as_u64().expect("fetched");
    assert!(
        (SIZE..SIZE + 50_000).contains(&fetched),
        "cat fetched {fetched}"
    );
    assert_eq!(
        std::fs::read(b.path("f2.bin")).expect("read"),
        a.read_tree("d")["f2.bin"]
    );
    let piped = b.art().args(["cat", "ds", "f3.bin"]).output().expect("run");
    assert_eq!(piped.stdout, a.read_tree("d")["f3.bin"]);

    let out = b.json(&["checkout", "ds", "out", "--only", "f1.bin"]);
    let fetched = out["fetched_bytes"].as_u64().expect("fetched");
    assert!(
        (SIZE..SIZE + 50_000).contains(&fetched),
        "--only fetched {fetched}"
    );
    assert_eq!(keys(&b.read_tree("out")), ["f1.bin"]);
    assert_eq!(b.pack_bytes(), 0, "ranged reads, no pack brought back");
}

/// A 1 GiB version (256 names of one 4 MiB file, hard links so the test writes 4 MiB) on a
/// lazy clone: reading one small file fetches about that file and the manifest, not the
/// version.
#[test]
fn one_small_file_of_a_gib_class_version_fetches_about_itself() {
    const SMALL: usize = 50_000;
    let a = Env::init();
    a.write("d/shards/000.bin", noise(4 << 20, 41));
    for i in 1..256 {
        std::fs::hard_link(
            a.path("d/shards/000.bin"),
            a.path(&format!("d/shards/{i:03}.bin")),
        )
        .expect("link");
    }
    a.write("d/labels.bin", noise(SMALL, 42));
    let logged = a.json(&["log", "ds", "d"]);
    assert!(logged["size"].as_u64() > Some(1 << 30), "{logged}");
    let remote = a.path("remote").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    a.ok(&["push"]);
    let b = Env::new();
    b.ok(&["clone", &remote, "."]);
    let out = b.json(&["cat", "ds", "labels.bin", "-o", "labels.bin"]);
    let fetched = out["fetched_bytes"].as_u64().expect("fetched");
    // The file (incompressible) and the manifest of 257 entries, read by range.
    assert!(
        fetched <= 2 * SMALL as u64 + 64 * 1024,
        "fetched {fetched} bytes for one {SMALL}-byte file of a 1 GiB version"
    );
    assert_eq!(
        std::fs::read(b.path("labels.bin")).expect("read"),
        noise(SMALL, 42)
    );
}
