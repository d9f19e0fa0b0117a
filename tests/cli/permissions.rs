//! Permissions (issue 13): a store owned by another user is refused (its content could have
//! been planted); on a read-only mount, read commands work (checkout into a writable DEST
//! too) and commands that change the store fail with one line naming it, leaving it byte
//! for byte as it was. Both need root (chown, mount); elsewhere the tests say they were
//! skipped.

use crate::util::{Env, noise, read_tree};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn chown(uid: u32, path: &Path) {
    let ok = Command::new("chown")
        .args(["-R", &uid.to_string()])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown {uid} {}", path.display());
}

#[test]
fn permissions_store_of_another_user_is_refused() {
    if !is_root() {
        eprintln!("skipped: giving the store to another user needs root");
        return;
    }
    let env = Env::init();
    env.write("d/a.txt", "a\n");
    env.ok(&["log", "m", "d", "-q"]);
    let store = env.path(".artifacts");
    chown(4242, &store);
    let snapshot = env.store_snapshot();
    for args in [
        &["ls"][..],
        &["checkout", "m", "out"],
        &["log", "m", "d"],
        &["gc"],
    ] {
        let err = env.fails(args, 3);
        assert!(
            err.contains("belongs to user 4242, not to you (uid 0)") && err.contains("chown -R 0"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert!(!env.path("out").exists());
    assert_eq!(env.store_snapshot(), snapshot);
    chown(0, &store);
    env.ok(&["checkout", "m", "out", "-q"]);
    assert_eq!(env.read_tree("out"), env.read_tree("d"));
}

/// `dir` bind-mounted read-only over itself while the guard lives (a real `EROFS`, which
/// root cannot write through, unlike file modes). `None`, with a message, where mounting
/// is not possible.
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn over(dir: &Path) -> Option<ReadOnlyMount> {
        let mount = |opts: &[&str]| {
            Command::new("mount")
                .args(opts)
                .arg(dir)
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !mount(&["--bind"]) {
            eprintln!("skipped: cannot bind-mount here (needs root)");
            return None;
        }
        let guard = ReadOnlyMount(dir.to_owned());
        if !mount(&["-o", "remount,ro,bind"]) {
            eprintln!("skipped: cannot remount a bind mount read-only here");
            return None;
        }
        Some(guard)
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Every byte of the store, `index.db` and its WAL included.
fn store_bytes(env: &Env) -> BTreeMap<String, Vec<u8>> {
    read_tree(&env.path(".artifacts"))
}

/// A write refused on a read-only store: exit 1, one line naming the store and the fix.
fn refused(env: &Env, args: &[&str]) {
    let err = env.fails(args, 1);
    assert!(
        err.contains(".artifacts` is read-only (Read-only file system")
            && err.contains("make it writable (remount it read-write, or `chmod -R u+w` it)"),
        "{args:?}: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
}

#[test]
fn permissions_read_only_store_serves_reads_and_refuses_writes() {
    let env = Env::init();
    env.write("d/a.txt", "alpha\n");
    env.write("d/sub/b.bin", noise(300_000, 1));
    env.ok(&["log", "m", "d", "-q"]);
    let v0 = env.read_tree("d");
    env.write("d/a.txt", "beta\n");
    env.ok(&["log", "m", "d", "-q"]);
    let v1 = env.read_tree("d");
    env.ok(&["alias", "set", "m:v0", "best"]);
    env.write("d/a.txt", "gamma\n");
    env.ok(&["log", "m", "d", "-q"]);
    let remote = env.path("remote");
    env.ok(&["remote", "add", "origin", &remote.to_string_lossy()]);
    env.ok(&["push", "-q"]);
    let before = store_bytes(&env);
    let Some(mount) = ReadOnlyMount::over(&env.path(".artifacts")) else {
        return;
    };

    assert!(env.ok(&["ls"]).starts_with("NAME"));
    assert!(env.ok(&["ls"]).contains("\nm "));
    assert!(env.ok(&["versions", "m"]).contains("best"));
    assert!(env.ok(&["show", "m:best"]).contains("v0"));
    assert_eq!(env.ok(&["cat", "m:v0", "a.txt"]), "alpha\n");
    let diff = env
        .art()
        .args(["diff", "m:v0", "m:v1"])
        .output()
        .expect("run art");
    assert_eq!(diff.status.code(), Some(1), "diff exits 1 on differences");
    assert!(String::from_utf8_lossy(&diff.stdout).contains("M a.txt"));
    assert!(env.ok(&["lineage", "m"]).contains("m:v2"));
    assert_eq!(env.json(&["ls", "m:v1"]).as_array().map(Vec::len), Some(2));
    env.ok(&["checkout", "m:v0", "out", "-q"]);
    assert_eq!(env.read_tree("out"), v0);
    // No stat cache is written: the second checkout hashes DEST and finds art's content.
    env.ok(&["checkout", "m:v1", "out", "-q"]);
    assert_eq!(env.read_tree("out"), v1);
    env.ok(&["download", "m:v0", "dl", "-q"]);
    assert_eq!(env.read_tree("dl"), v0);
    env.ok(&["verify", "m:v1", "out"]);
    assert!(env.ok(&["fsck", "--read-data"]).contains(": ok"));
    env.ok(&["du"]);
    assert!(env.ok(&["find", "out/a.txt"]).contains("m:v1"));
    assert!(
        env.ok(&["prune", "m", "--keep-last", "1", "--dry-run"])
            .contains("m:v1")
    );
    assert!(
        env.ok(&["gc", "--dry-run", "--grace", "0s"])
            .starts_with("would free")
    );
    assert_eq!(env.ok(&["config", "get", "gc.grace"]).trim(), "1h");

    for args in [
        &["log", "m", "d"][..],
        &["alias", "set", "m:v1", "best"],
        &["alias", "rm", "m", "best"],
        &["meta", "set", "m:v0", "-m", "x"],
        &["tag", "m:v0", "t"],
        &["rm", "m:v0", "--delete-aliases"],
        &["prune", "m", "--keep-last", "1"],
        &["gc"],
        &["push"],
        &["pull"],
        &["run", "start"],
        &["index", "rebuild"],
        &["fsck", "--repair"],
        &["remote", "rm", "origin"],
        &["config", "set", "gc.grace", "1h"],
        &["patch", "m", "--add", "d/a.txt=new.txt"],
        &["log", "m", "d", "--distributed-id", "x"],
        &["finish", "m", "--distributed-id", "x"],
        &["rm", "m", "--pending", "x"],
    ] {
        refused(&env, args);
    }
    drop(mount);
    assert_eq!(
        store_bytes(&env),
        before,
        "the store is byte for byte as it was"
    );
    let mut report = crate::reliability::Report::new(
        "read-only store (a read-only bind mount): 16 read commands work, 19 write commands refused",
    );
    report.note("store byte for byte unchanged");
    report.trial(false);
    report.finish();
}

#[test]
fn permissions_read_only_store_reads_what_a_killed_command_left() {
    let env = Env::init();
    env.write("d/a.txt", "alpha\n");
    env.ok(&["log", "m", "d", "-q"]);
    // Killed after its log batch, before its index commit: the index lacks the alias.
    let killed = env
        .art()
        .args(["alias", "set", "m:v0", "best"])
        .env("ART_FAILPOINT", "record.after-append:kill")
        .output()
        .expect("run art");
    assert_eq!(killed.status.code(), None, "killed");
    // Killed after its index commit: the version is in the WAL only.
    env.write("d/a.txt", "beta\n");
    let killed = env
        .art()
        .args(["log", "m", "d"])
        .env("ART_FAILPOINT", "log.after-commit:kill")
        .output()
        .expect("run art");
    assert_eq!(killed.status.code(), None, "killed");
    let wal = env.path(".artifacts/index.db-wal");
    assert!(
        std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0),
        "a WAL with changes"
    );
    let before = store_bytes(&env);
    let check = |env: &Env| {
        let versions = env.ok(&["versions", "m"]);
        assert!(
            versions.contains("best") && versions.contains("v1"),
            "{versions}"
        );
        assert_eq!(env.ok(&["cat", "m:best", "a.txt"]), "alpha\n");
        assert_eq!(env.ok(&["cat", "m:v1", "a.txt"]), "beta\n");
    };
    {
        let Some(_mount) = ReadOnlyMount::over(&env.path(".artifacts")) else {
            return;
        };
        check(&env);
    }
    assert_eq!(store_bytes(&env), before);

    // Without the `-shm` file SQLite cannot read the WAL without writing: one clear line.
    let shm = env.path(".artifacts/index.db-shm");
    std::fs::remove_file(&shm).expect("remove shm");
    {
        let _mount = ReadOnlyMount::over(&env.path(".artifacts")).expect("mounted before");
        let err = env.fails(&["versions", "m"], 1);
        assert!(
            err.contains("is read-only (Read-only file system")
                && err.contains("index.db-wal")
                && err.contains("open the store once where it is writable"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }

    // A missing index is replayed from the log in memory.
    env.ok(&["versions", "m"]);
    for f in ["index.db", "index.db-wal", "index.db-shm"] {
        let _ = std::fs::remove_file(env.path(".artifacts").join(f));
    }
    let _mount = ReadOnlyMount::over(&env.path(".artifacts")).expect("mounted before");
    check(&env);
    assert!(!env.path(".artifacts/index.db").exists());
}

/// `art ARGS` in `env` as user `uid` (through `setpriv`), with its output.
fn art_as(env: &Env, uid: u32, args: &[&str]) -> std::process::Output {
    let id = uid.to_string();
    Command::new("setpriv")
        .args(["--reuid", &id, "--regid", &id, "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("art"))
        .args(args)
        .current_dir(env.root())
        .env_remove("ART_STORE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run setpriv")
}

#[test]
fn permissions_store_without_write_permission_is_read_only() {
    let has_setpriv = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !is_root() || !has_setpriv {
        eprintln!("skipped: running art as another user needs root and setpriv");
        return;
    }
    let env = Env::init();
    env.write("d/a.txt", "a\n");
    env.ok(&["log", "m", "d", "-q"]);
    // The store's owner took write permission away from it (root would ignore the modes).
    chown(4242, env.root());
    let ok = Command::new("chmod")
        .args(["-R", "a-w"])
        .arg(env.path(".artifacts"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chmod");
    let before = store_bytes(&env);
    let out = art_as(&env, 4242, &["cat", "m", "a.txt"]);
    assert_eq!(
        out.stdout,
        b"a\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = art_as(&env, 4242, &["checkout", "m", "out", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.read_tree("out"), env.read_tree("d"));
    for args in [&["log", "m", "d"][..], &["alias", "set", "m:v0", "best"]] {
        let out = art_as(&env, 4242, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(".artifacts` is read-only (Permission denied (os error 13))"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert_eq!(store_bytes(&env), before);
}
