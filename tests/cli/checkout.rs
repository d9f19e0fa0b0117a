//! `art checkout` and `art download`: byte-identical restores, the default destination, and
//! the refusals that protect files art has not seen.

use crate::util::{Env, noise, succeeded};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn set_exec(env: &Env, rel: &str) {
    std::fs::set_permissions(env.path(rel), std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn symlink(env: &Env, target: &str, rel: &str) {
    let p = env.path(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).expect("symlink");
}

/// A store with `ds:v0` = {a.txt, b.txt, sub/c.txt} and `ds:v1` = {a.txt changed, sub/c.txt,
/// d.txt}, logged from `data`, which holds v1 afterwards.
fn two_versions() -> Env {
    let env = Env::init();
    env.tree(&[
        ("data/a.txt", b"alpha\n"),
        ("data/b.txt", b"beta\n"),
        ("data/sub/c.txt", b"gamma\n"),
    ]);
    env.ok(&["log", "ds", "data"]);
    env.write("data/a.txt", "ALPHA, longer\n");
    std::fs::remove_file(env.path("data/b.txt")).unwrap();
    env.write("data/d.txt", "delta\n");
    env.ok(&["log", "ds", "data"]);
    env
}

#[test]
fn checkout_into_an_empty_directory_is_byte_identical() {
    let env = Env::init();
    env.tree(&[
        ("data/a.txt", b"hello\n"),
        ("data/empty", b""),
        ("data/sub/deeper/b.csv", b"x,y\n1,2\n"),
        ("data/dir with space/ünicode.txt", b"u"),
        ("data/bin/run.sh", b"#!/bin/sh\necho hi\n"),
    ]);
    env.write("data/big.bin", noise((5 << 20) + 123, 21));
    set_exec(&env, "data/bin/run.sh");
    symlink(&env, "a.txt", "data/link");
    symlink(&env, "../a.txt", "data/sub/up");
    symlink(&env, "deeper", "data/sub/dirlink");
    env.ok(&["log", "ds", "data"]);

    let out = env.json(&["checkout", "ds", "restored"]);
    assert_eq!(out["written"], 9);
    assert_eq!(out["unchanged"], 0);
    assert_eq!(out["deleted"], 0);
    let tree = env.read_tree("restored");
    assert_eq!(tree, env.read_tree("data"));
    assert!(
        tree.contains_key("bin/run.sh*"),
        "exec bit restored: {:?}",
        tree.keys()
    );
    assert_eq!(tree["link"], b"-> a.txt");
    assert_eq!(tree["sub/up"], b"-> ../a.txt");
    assert!(
        std::fs::symlink_metadata(env.path("restored/sub/dirlink"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Non-exec files get 0644, whatever the umask of the test runner did to the originals.
    let mode = std::fs::metadata(env.path("restored/a.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);

    // A destination whose parents do not exist yet is created.
    env.ok(&["checkout", "ds", "deep/new/dest"]);
    assert_eq!(env.read_tree("deep/new/dest"), env.read_tree("data"));
    // No temporary files are left behind.
    assert!(
        env.read_tree("restored")
            .keys()
            .all(|k| !k.contains(".art-tmp"))
    );
}

#[test]
fn symlinks_leaving_the_destination_are_not_restored() {
    let env = Env::init();
    env.write("data/a.txt", "a");
    symlink(&env, "../../outside", "data/sub/esc");
    symlink(&env, "/etc/passwd", "data/abs");
    symlink(&env, "a.txt", "data/ok");
    env.ok(&["log", "ds", "data"]);
    let out = env.art().args(["checkout", "ds", "out"]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("symlink `sub/esc` not restored"),
        "{stderr}"
    );
    assert!(stderr.contains("symlink `abs` not restored"), "{stderr}");
    let tree = env.read_tree("out");
    assert_eq!(tree.keys().collect::<Vec<_>>(), ["a.txt", "ok"]);
}

#[test]
fn default_destination_is_the_logged_directory() {
    let env = two_versions();
    let v1 = env.read_tree("data");
    let out = env.ok(&["checkout", "ds:v0"]);
    assert!(out.starts_with("ds:v0 -> "), "{out}");
    assert!(out.contains("2 written"), "{out}");
    assert!(out.contains("1 unchanged, 1 deleted"), "{out}");
    let tree = env.read_tree("data");
    assert_eq!(tree.len(), 3);
    assert_eq!(tree["a.txt"], b"alpha\n");
    assert_eq!(tree["b.txt"], b"beta\n");
    assert_eq!(tree["sub/c.txt"], b"gamma\n");
    assert!(!env.path("data/d.txt").exists());

    // And back to latest, without --force: art wrote every file that changes.
    env.ok(&["checkout", "ds"]);
    assert_eq!(env.read_tree("data"), v1);
    // The default destination is relative to the store, not to the current directory.
    succeeded(
        env.art()
            .current_dir(env.path("data/sub"))
            .args(["checkout", "ds:v0"])
            .output()
            .unwrap(),
    );
    assert_eq!(env.read_tree("data")["b.txt"], b"beta\n");
    assert!(!env.path("data/sub/data").exists());
}

#[test]
fn checkout_deletes_what_the_version_lacks_and_download_keeps_it() {
    let env = two_versions();
    env.ok(&["checkout", "ds:v0", "exact"]);
    let out = env.json(&["checkout", "ds:v1", "exact"]);
    assert_eq!(out["deleted"], 1);
    assert_eq!(out["mode"], "exact");
    assert_eq!(env.read_tree("exact"), env.read_tree("data"));

    env.ok(&["download", "ds:v0", "dl"]);
    let out = env.json(&["download", "ds:v1", "dl"]);
    assert_eq!(out["deleted"], 0);
    assert_eq!(out["mode"], "download");
    let tree = env.read_tree("dl");
    assert_eq!(tree["b.txt"], b"beta\n", "download keeps b.txt");
    assert_eq!(tree["a.txt"], b"ALPHA, longer\n");
    assert_eq!(tree["d.txt"], b"delta\n");
    assert_eq!(tree.len(), 4);
    let text = env.ok(&["download", "ds:v1", "dl"]);
    assert!(!text.contains("deleted"), "{text}");

    // download never refuses because of files the version does not have.
    env.write("dl/mine.txt", "my notes");
    env.ok(&["download", "ds:v0", "dl"]);
    assert_eq!(env.read_tree("dl")["mine.txt"], b"my notes");
}

#[test]
fn unchanged_files_are_skipped() {
    let env = two_versions();
    let out = env.json(&["checkout", "ds:v0", "out"]);
    assert_eq!(
        (out["written"].as_u64(), out["unchanged"].as_u64()),
        (Some(3), Some(0))
    );
    let out = env.json(&["checkout", "ds:v0", "out"]);
    assert_eq!(
        (out["written"].as_u64(), out["unchanged"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(out["bytes_written"], 0);
    let out = env.json(&["checkout", "ds:v1", "out"]);
    // a.txt changes, d.txt is new, sub/c.txt stays, b.txt goes.
    assert_eq!(out["written"], 2);
    assert_eq!(out["unchanged"], 1);
    assert_eq!(out["deleted"], 1);
    assert_eq!(out["bytes_written"], 14 + 6);

    // A mode change alone is rewritten, without a conflict: the content is art's.
    set_exec(&env, "out/a.txt");
    let out = env.json(&["checkout", "ds:v1", "out"]);
    assert_eq!(
        (out["written"].as_u64(), out["unchanged"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(
        env.read_tree("out").contains_key("a.txt"),
        "exec bit removed"
    );

    // Files already identical that art never saw are not conflicts, just unchanged.
    env.tree(&[("fresh/a.txt", b"alpha\n"), ("fresh/b.txt", b"beta\n")]);
    let out = env.json(&["checkout", "ds:v0", "fresh"]);
    assert_eq!(out["unchanged"], 2);
    assert_eq!(out["written"], 1);
}

#[test]
fn refuses_to_overwrite_a_modified_file() {
    let env = two_versions();
    env.ok(&["checkout", "ds:v0", "out"]);
    env.write("out/a.txt", "my precious edit\n");
    let before = env.read_tree("out");
    let err = env.fails(&["checkout", "ds:v1", "out"], 3);
    assert!(err.contains("1 file in `"), "{err}");
    assert!(err.contains("\n  a.txt\n"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(env.read_tree("out"), before, "nothing in DEST changed");
    // The same refusal for the version already there, and for download.
    env.fails(&["checkout", "ds:v0", "out"], 3);
    env.fails(&["download", "ds:v1", "out"], 3);
    assert_eq!(env.read_tree("out"), before);

    env.ok(&["checkout", "ds:v1", "out", "--force"]);
    assert_eq!(env.read_tree("out"), env.read_tree("data"));
}

#[test]
fn files_art_never_saw_count_as_modified() {
    let env = two_versions();
    // A directory with a same-named file of other content, never logged nor written by art.
    env.write("other/a.txt", "someone else's\n");
    let err = env.fails(&["checkout", "ds:v0", "other"], 3);
    assert!(err.contains("  a.txt"), "{err}");
    assert_eq!(env.read_tree("other")["a.txt"], b"someone else's\n");
    assert_eq!(env.read_tree("other").len(), 1);
    // In the logged directory: edits made after the log are protected too.
    env.write("data/a.txt", "edited after log\n");
    env.write("data/new.txt", "never logged\n");
    let err = env.fails(&["checkout", "ds:v0"], 3);
    assert!(err.contains("2 files in `"), "{err}");
    assert!(err.contains("  a.txt\n  new.txt\n"), "{err}");
    assert_eq!(env.read_tree("data")["a.txt"], b"edited after log\n");
    assert!(env.path("data/d.txt").exists());
}

#[test]
fn refuses_to_delete_an_untracked_file() {
    let env = two_versions();
    env.ok(&["checkout", "ds:v1", "out"]);
    env.write("out/notes.txt", "mine\n");
    env.write("out/sub/extra.bin", "mine too\n");
    let before = env.read_tree("out");
    let err = env.fails(&["checkout", "ds:v0", "out"], 3);
    assert!(err.contains("2 files in `"), "{err}");
    assert!(err.contains("  notes.txt\n  sub/extra.bin\n"), "{err}");
    assert_eq!(env.read_tree("out"), before);

    let out = env.json(&["checkout", "ds:v0", "out", "--force"]);
    assert_eq!(out["deleted"], 3, "notes.txt, sub/extra.bin and d.txt");
    assert!(!env.path("out/notes.txt").exists());
    let tree = env.read_tree("out");
    assert_eq!(
        tree.keys().collect::<Vec<_>>(),
        ["a.txt", "b.txt", "sub/c.txt"]
    );
}

#[test]
fn dest_that_is_a_file() {
    let env = two_versions();
    env.write("file.txt", "not a dir");
    let err = env.fails(&["checkout", "ds", "file.txt"], 1);
    assert!(err.contains("not a directory"), "{err}");
    assert!(err.contains("file.txt"), "{err}");
    assert_eq!(std::fs::read(env.path("file.txt")).unwrap(), b"not a dir");
}

#[test]
fn every_reference_form() {
    let env = two_versions();
    env.ok(&["alias", "set", "ds:v0", "best"]);
    let digest = env.json(&["show", "ds:v0"])["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    for (reference, dest) in [
        ("ds:v0", "by-index"),
        ("ds:best", "by-alias"),
        (&format!("ds@{}", &digest[..8]) as &str, "by-prefix8"),
        (
            &format!("ds@{}", digest[..16].to_uppercase()),
            "by-prefix16",
        ),
        (&format!("ds@{digest}"), "by-digest"),
    ] {
        let out = env.json(&["checkout", reference, dest]);
        assert_eq!(out["reference"], "ds:v0", "{reference}");
        assert_eq!(env.read_tree(dest)["b.txt"], b"beta\n", "{reference}");
    }
    for (reference, dest) in [("ds", "bare"), ("ds:latest", "latest"), ("ds:v1", "v1")] {
        let out = env.json(&["checkout", reference, dest]);
        assert_eq!(out["reference"], "ds:v1", "{reference}");
        assert_eq!(env.read_tree(dest), env.read_tree("data"));
    }
    // Too short a prefix is a usage error; an unknown one names the reference.
    let err = env.fails(&["checkout", &format!("ds@{}", &digest[..7]), "x"], 2);
    assert!(err.contains("8+ hex"), "{err}");
    let wrong = if digest.starts_with("0000") {
        "ffffffff"
    } else {
        "00000000"
    };
    let err = env.fails(&["checkout", &format!("ds@{wrong}"), "x"], 1);
    assert!(
        err.contains(&format!("`ds@{wrong}` does not exist")),
        "{err}"
    );
    assert!(!env.path("x").exists());
}

#[test]
fn version_logged_from_files_needs_a_dest() {
    let env = Env::init();
    env.tree(&[("a.txt", b"a"), ("b.txt", b"b")]);
    env.ok(&["log", "files", "a.txt", "b.txt"]);
    let err = env.fails(&["checkout", "files"], 1);
    assert!(
        err.contains("`files:v0` was not logged from a directory, so it has no default destination; give DEST"),
        "{err}"
    );
    env.ok(&["checkout", "files", "out"]);
    assert_eq!(env.read_tree("out").len(), 2);
}

#[test]
fn a_file_and_a_directory_swap_places() {
    let env = Env::init();
    env.write("src/a/b", "inside a directory");
    env.write("src/keep", "k");
    env.ok(&["log", "swap", "src"]);
    std::fs::remove_dir_all(env.path("src/a")).unwrap();
    env.write("src/a", "now a file");
    env.ok(&["log", "swap", "src"]);

    env.ok(&["checkout", "swap:v0", "out"]);
    assert_eq!(env.read_tree("out")["a/b"], b"inside a directory");
    env.ok(&["checkout", "swap:v1", "out"]);
    assert_eq!(env.read_tree("out")["a"], b"now a file");
    assert_eq!(env.read_tree("out").len(), 2);
    env.ok(&["checkout", "swap:v0", "out"]);
    assert_eq!(env.read_tree("out")["a/b"], b"inside a directory");
    assert_eq!(env.read_tree("out").len(), 2);

    // download makes the same swaps, removing what is in the way.
    env.ok(&["download", "swap:v1", "out"]);
    assert_eq!(env.read_tree("out")["a"], b"now a file");
    env.ok(&["download", "swap:v0", "out"]);
    assert_eq!(env.read_tree("out")["a/b"], b"inside a directory");

    // A file art did not write in the way of a directory is a conflict.
    env.write("other/a", "mine");
    let err = env.fails(&["checkout", "swap:v0", "other"], 3);
    assert!(err.contains("  a\n"), "{err}");
    assert_eq!(env.read_tree("other")["a"], b"mine");
    // So is a directory of files art did not write where the version has a file.
    env.write("other2/a/mine.txt", "mine");
    let err = env.fails(&["checkout", "swap:v1", "other2"], 3);
    assert!(err.contains("  a/mine.txt"), "{err}");
    let err = env.fails(&["download", "swap:v1", "other2"], 3);
    assert!(err.contains("  a/mine.txt"), "{err}");
    assert_eq!(env.read_tree("other2")["a/mine.txt"], b"mine");
}

#[test]
fn never_writes_through_a_symlink_in_dest() {
    let env = Env::init();
    env.write("src/sub/x.txt", "x");
    env.ok(&["log", "ds", "src"]);
    std::fs::create_dir(env.path("elsewhere")).unwrap();
    symlink(&env, "../elsewhere", "dest/sub");
    let err = env.fails(&["checkout", "ds", "dest"], 3);
    assert!(err.contains("  sub\n"), "{err}");
    env.ok(&["checkout", "ds", "dest", "--force"]);
    assert_eq!(
        env.read_tree("elsewhere").len(),
        0,
        "nothing written through the link"
    );
    let meta = std::fs::symlink_metadata(env.path("dest/sub")).unwrap();
    assert!(meta.is_dir(), "the link was replaced by a real directory");
    assert_eq!(env.read_tree("dest")["sub/x.txt"], b"x");
}

#[test]
fn human_output() {
    let env = two_versions();
    let out = env.ok(&["checkout", "ds:v0", "out"]);
    let dest = env.path("out").canonicalize().unwrap();
    assert_eq!(
        out,
        format!(
            "ds:v0 -> {}  3 written (17 B), 0 unchanged, 0 deleted\n",
            dest.display()
        )
    );
    let out = env.ok(&["download", "ds:v1", "out"]);
    assert_eq!(
        out,
        format!(
            "ds:v1 -> {}  2 written (20 B), 1 unchanged\n",
            dest.display()
        )
    );
    let json: Value = env.json(&["checkout", "ds:v1", "out"]);
    assert_eq!(json["dest"], dest.to_str().unwrap());
}

#[test]
fn refuses_a_destination_inside_the_store() {
    let env = two_versions();
    let before = env.store_snapshot();
    for dest in [".artifacts", ".artifacts/packs", ".artifacts/new/dir"] {
        let err = env.fails(&["checkout", "ds:v0", dest], 1);
        assert!(err.contains("inside the store"), "{dest}: {err}");
    }
    assert_eq!(env.store_snapshot(), before);
    assert!(!env.path(".artifacts/new").exists());
}

/// Files art never wrote at a path, but whose content is in a live version (what a killed
/// checkout leaves), can be replaced: nothing is lost. Content in no version still refuses.
#[test]
fn content_of_a_live_version_is_not_a_conflict() {
    let env = two_versions();
    env.ok(&["checkout", "ds:v1", "copy-source"]);
    // Put v1's files where art has never written them, as a copy by hand would.
    for (rel, content) in env.read_tree("copy-source") {
        env.write(&format!("elsewhere/{rel}"), content);
    }
    env.ok(&["checkout", "ds:v0", "elsewhere"]);
    let expected: std::collections::BTreeMap<String, Vec<u8>> = [
        ("a.txt", "alpha\n"),
        ("b.txt", "beta\n"),
        ("sub/c.txt", "gamma\n"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_owned(), c.as_bytes().to_vec()))
    .collect();
    assert_eq!(env.read_tree("elsewhere"), expected);
    env.write("other/a.txt", "my own edit\n");
    let err = env.fails(&["checkout", "ds:v0", "other"], 3);
    assert!(err.contains("a.txt"), "{err}");
    assert_eq!(
        std::fs::read(env.path("other/a.txt")).unwrap(),
        b"my own edit\n"
    );
}
