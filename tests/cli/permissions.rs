//! Permissions (issue 13): a store owned by another user is refused (its content could have
//! been planted), and a store on a read-only mount fails with one clear line, leaving it as
//! it was. Both need root (chown, mount); elsewhere the tests say they were skipped.

use crate::util::Env;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
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

#[test]
fn permissions_read_only_store_fails_with_one_clear_line() {
    let env = Env::init();
    env.write("d/a.txt", "a\n");
    env.ok(&["log", "m", "d", "-q"]);
    let mnt = env.path("ro");
    std::fs::create_dir_all(&mnt).expect("mount point");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let copied = Command::new("cp")
        .arg("-a")
        .arg(env.path(".artifacts"))
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    let ro = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    let store = mnt.join(".artifacts");
    let store_arg = store.to_string_lossy().into_owned();
    let mut errors = Vec::new();
    if copied && ro {
        for args in [
            &["ls"][..],
            &["alias", "set", "m:v0", "best"],
            &["log", "m", "d"],
        ] {
            let mut full = vec!["--store", store_arg.as_str()];
            full.extend_from_slice(args);
            errors.push((args.to_vec(), env.fails(&full, 1)));
        }
    }
    let _ = Command::new("umount").arg("-l").arg(&mnt).status();
    assert!(copied && ro, "could not prepare the read-only mount");
    for (args, err) in errors {
        assert!(
            err.contains("is not writable") && err.contains("Read-only file system"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}
